"""The transport seam: input/response validation, transactions, generation, close."""

from __future__ import annotations

import threading

import pytest

from jukicard.errors import MalformedApduError, TransportError
from jukicard.transport.base import (
    MAX_COMMAND_LEN,
    BaseTransport,
    Transport,
    check_command,
    split_response,
)


class Scripted(BaseTransport):
    """Answers every command with a scripted raw response; records hook calls."""

    def __init__(self, response: object = b"\x90\x00") -> None:
        super().__init__()
        self.response = response
        self.sent: list[bytes] = []
        self.calls: list[str] = []
        self.fail_end = False

    @property
    def atr(self) -> bytes:
        return b"\x3b\x00"

    def _transmit_raw(self, apdu: bytes) -> bytes:
        self.sent.append(apdu)
        return self.response  # type: ignore[return-value]

    def _begin_transaction(self) -> None:
        self.calls.append("begin")

    def _end_transaction(self) -> None:
        self.calls.append("end")
        if self.fail_end:
            raise TransportError("end failed")

    def _close(self) -> None:
        self.calls.append("close")


def test_base_transport_satisfies_protocol() -> None:
    assert isinstance(Scripted(), Transport)


@pytest.mark.parametrize("bad", [b"", b"\x00", b"\x00\xa4\x04", "00A40400", [0, 0xA4, 4, 0], None])
def test_check_command_rejects(bad: object) -> None:
    with pytest.raises(MalformedApduError):
        check_command(bad)


def test_check_command_length_bounds() -> None:
    assert check_command(bytearray(b"\x00\xb0\x00\x00")) == b"\x00\xb0\x00\x00"
    assert len(check_command(b"\x00" * MAX_COMMAND_LEN)) == MAX_COMMAND_LEN
    with pytest.raises(MalformedApduError):
        check_command(b"\x00" * (MAX_COMMAND_LEN + 1))


def test_split_response() -> None:
    assert split_response(b"\x90\x00") == (b"", 0x9000)
    assert split_response([0x01, 0x02, 0x63, 0xC2]) == (b"\x01\x02", 0x63C2)
    for bad in (b"", b"\x90", [300, 0], None, "9000"):
        with pytest.raises(MalformedApduError):
            split_response(bad)


def test_transmit_validates_both_directions() -> None:
    t = Scripted()
    assert t.transmit(b"\x00\xa4\x04\x0c") == (b"", 0x9000)
    with pytest.raises(MalformedApduError):
        t.transmit(b"\x00\xa4")
    assert t.sent == [b"\x00\xa4\x04\x0c"]  # the short one never reached the reader
    t.response = b"\x90"
    with pytest.raises(MalformedApduError):
        t.transmit(b"\x00\xa4\x04\x0c")


def test_transaction_is_reentrant_and_calls_hooks_once() -> None:
    t = Scripted()
    assert t.transaction_depth == 0
    with t.transaction():
        with t.transaction():
            assert t.transaction_depth == 2
            t.transmit(b"\x00\x00\x00\x00")
        assert t.transaction_depth == 1
        assert t.calls == ["begin"]
    assert t.transaction_depth == 0
    assert t.calls == ["begin", "end"]


def test_transaction_end_error_does_not_hide_body_error() -> None:
    t = Scripted()
    t.fail_end = True
    with pytest.raises(KeyError):
        with t.transaction():
            raise KeyError("body")
    assert t.transaction_depth == 0
    with pytest.raises(TransportError, match="end failed"):
        with t.transaction():
            pass


def test_transaction_blocks_other_threads() -> None:
    t = Scripted()
    entered = threading.Event()
    order: list[str] = []

    def other() -> None:
        entered.wait()
        t.transmit(b"\x00\x01\x00\x00")
        order.append("other")

    worker = threading.Thread(target=other)
    worker.start()
    with t.transaction():
        entered.set()
        worker.join(0.2)  # the other thread must be waiting on the transaction lock
        order.append("inside")
    worker.join()
    assert order == ["inside", "other"]


def test_close_is_idempotent_and_final() -> None:
    t = Scripted()
    with t as same:
        assert same is t
    assert t.closed
    t.close()
    assert t.calls == ["close"]
    with pytest.raises(TransportError, match="closed"):
        t.transmit(b"\x00\x00\x00\x00")
    with pytest.raises(TransportError):
        with t.transaction():
            pass


def test_generation_starts_at_zero_and_bumps() -> None:
    t = Scripted()
    assert t.generation == 0
    t._bump_generation()
    assert t.generation == 1


def test_delegating_transport_forwards_all_but_what_it_overrides() -> None:
    from jukicard.transport.base import DelegatingTransport

    class Inner:
        atr = b"\x3b\x00"
        generation = 7
        closed = False
        extra = "forwarded"

        def transmit(self, apdu: bytes) -> tuple[bytes, int]:
            return b"inner", 0x9000

        def transaction(self):  # type: ignore[no-untyped-def]
            import contextlib

            return contextlib.nullcontext()

        def close(self) -> None:
            self.closed = True

    class Upper(DelegatingTransport):
        def transmit(self, apdu: bytes) -> tuple[bytes, int]:
            data, sw = self.inner.transmit(apdu)
            return data.upper(), sw

    inner = Inner()
    with Upper(inner) as t:  # type: ignore[arg-type]
        assert t.transmit(b"\x00\xa4\x04\x00") == (b"INNER", 0x9000)
        assert (t.atr, t.generation, t.extra) == (b"\x3b\x00", 7, "forwarded")
        with t.transaction():
            pass
    assert inner.closed
