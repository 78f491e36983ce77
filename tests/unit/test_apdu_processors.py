"""Processor stack: each quirk processor against a scripted inner processor that asserts
exactly which APDUs are sent (and that nothing more is sent)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jukicard.apdu import (
    PIN_INS,
    CommandApdu,
    CommandChainingProcessor,
    ExtendedLengthFallbackProcessor,
    GetResponseProcessor,
    ResponseApdu,
    TransmitProcessor,
    WrongLengthReissueProcessor,
    build_stack,
    is_pin_command,
    is_secure_messaging,
    never_resent,
)
from jukicard.errors import (
    BadResponse,
    CardError,
    CardRemovedError,
    JukiError,
    MalformedApduError,
    PinBlockedError,
    SecurityStatusError,
    UsageError,
)

H = bytes.fromhex


class Scripted:
    """A fake processor: a list of (expected command hex, response hex) pairs.

    Each ``send`` must match the next expected command byte for byte; the test ends with
    :meth:`done` asserting that the whole script was used.
    """

    def __init__(self, script: Sequence[tuple[str | bytes, str | bytes]]) -> None:
        self.script = [(_b(c), _b(r)) for c, r in script]
        self.sent: list[bytes] = []

    def send(self, cmd: CommandApdu) -> ResponseApdu:
        raw = cmd.encode()
        self.sent.append(raw)
        assert self.script, f"unexpected extra command {raw.hex().upper()}"
        expected, response = self.script.pop(0)
        assert raw.hex().upper() == expected.hex().upper()
        return ResponseApdu.decode(response)

    def done(self) -> None:
        assert not self.script, f"{len(self.script)} scripted commands never sent"


def _b(x: str | bytes) -> bytes:
    return x if isinstance(x, bytes) else H(x.replace(" ", ""))


def test_scripted_fake_catches_wrong_and_extra_commands() -> None:
    fake = Scripted([("00A40000", "9000")])
    with pytest.raises(AssertionError):
        fake.send(CommandApdu(0, 0xA4, 0, 1))
    fake = Scripted([])
    with pytest.raises(AssertionError):
        fake.send(CommandApdu(0, 0xA4))
    with pytest.raises(AssertionError):
        Scripted([("00A40000", "9000")]).done()


# --------------------------------------------------------------------------- TransmitProcessor


def test_transmit_processor_encodes_and_wraps() -> None:
    seen: list[bytes] = []

    def transmit(apdu: bytes) -> tuple[bytes, int]:
        seen.append(apdu)
        return b"\x01\x02", 0x9000

    resp = TransmitProcessor(transmit).send(CommandApdu(0, 0xB0, le=2))
    assert seen == [H("00B0000002")]
    assert resp == ResponseApdu(b"\x01\x02", 0x9000)


# --------------------------------------------------------------------------- GET RESPONSE


def test_get_response_passthrough() -> None:
    fake = Scripted([("00B0000004", "3082061F9000")])
    resp = GetResponseProcessor(fake).send(CommandApdu(0, 0xB0, le=4))
    assert resp == ResponseApdu(H("3082061F"), 0x9000)
    fake.done()


def test_get_response_loop_concatenates() -> None:
    fake = Scripted(
        [
            ("802A008003 AABBCC 00", "0102 6104"),
            ("00C0000004", "03040506 6100"),
            ("00C0000000", b"\x07" * 256 + H("6102")),
            ("00C0000002", "0809 9000"),
        ]
    )
    resp = GetResponseProcessor(fake).send(CommandApdu(0x80, 0x2A, 0, 0x80, H("AABBCC"), le=256))
    assert resp.sw == 0x9000
    assert resp.data == H("0102 03040506".replace(" ", "")) + b"\x07" * 256 + H("0809")
    fake.done()


@pytest.mark.parametrize(("cla", "gr_cla"), [(0x00, 0x00), (0x01, 0x01), (0x0C, 0x00),
                                             (0x13, 0x03), (0x80, 0x00), (0x45, 0x45),
                                             (0x7F, 0x4F)])
def test_get_response_class_byte(cla: int, gr_cla: int) -> None:
    fake = Scripted([(f"{cla:02X}CA0000 00", "6101"), (f"{gr_cla:02X}C0000001", "AA9000")])
    assert GetResponseProcessor(fake).send(CommandApdu(cla, 0xCA, le=256)).data == H("AA")
    fake.done()


def test_get_response_error_is_returned_with_data() -> None:
    fake = Scripted([("00B0000000", "0102 6102"), ("00C0000002", "6F00")])
    resp = GetResponseProcessor(fake).send(CommandApdu(0, 0xB0, le=256))
    assert resp == ResponseApdu(H("0102"), 0x6F00)
    fake.done()


def test_get_response_rounds_bounded() -> None:
    fake = Scripted([("00B0000000", "6101")] + [("00C0000001", "AA6101")] * 3)
    with pytest.raises(BadResponse) as info:
        GetResponseProcessor(fake, max_rounds=3).send(CommandApdu(0, 0xB0, le=256))
    assert info.value.sw == 0x6101
    fake.done()  # exactly max_rounds GET RESPONSEs, no more


def test_get_response_size_bounded() -> None:
    fake = Scripted(
        [("00B0000000", b"\x00" * 8 + H("6100")), ("00C0000000", b"\x00" * 256 + H("6100"))]
    )
    with pytest.raises(BadResponse):
        GetResponseProcessor(fake, max_size=200).send(CommandApdu(0, 0xB0, le=256))
    fake.done()


def test_get_response_after_verify_is_not_a_resend() -> None:
    fake = Scripted([("0020008004 31323334", "6100"), ("00C0000000", "9000")])
    assert GetResponseProcessor(fake).send(CommandApdu(0, 0x20, 0, 0x80, b"1234")).ok
    fake.done()


@pytest.mark.parametrize("kwargs", [{"max_rounds": 0}, {"max_size": 0}])
def test_get_response_config(kwargs: dict) -> None:
    with pytest.raises(UsageError):
        GetResponseProcessor(Scripted([]), **kwargs)


# --------------------------------------------------------------------------- 6Cxx


def test_wrong_le_reissued_once() -> None:
    fake = Scripted([("00B0000000", "6C11"), ("00B0000011", b"\x31" * 17 + H("9000"))])
    resp = WrongLengthReissueProcessor(fake).send(CommandApdu(0, 0xB0, le=256))
    assert resp == ResponseApdu(b"\x31" * 17, 0x9000)
    fake.done()


def test_wrong_le_6c00_means_256_and_case_1_gains_le() -> None:
    fake = Scripted([("00CA0042", "6C00"), ("00CA004200", "AA9000")])
    assert WrongLengthReissueProcessor(fake).send(CommandApdu(0, 0xCA, 0, 0x42)).data == H("AA")
    fake.done()


def test_wrong_le_second_6c_returned() -> None:
    fake = Scripted([("00B0000005", "6C10"), ("00B0000010", "6C08")])
    assert WrongLengthReissueProcessor(fake).send(CommandApdu(0, 0xB0, le=5)).sw == 0x6C08
    fake.done()


def test_wrong_le_same_le_not_resent() -> None:
    fake = Scripted([("00B0000010", "6C10")])
    assert WrongLengthReissueProcessor(fake).send(CommandApdu(0, 0xB0, le=16)).sw == 0x6C10
    fake.done()


@pytest.mark.parametrize("ins", sorted(PIN_INS))
def test_wrong_le_never_resends_pin_commands(ins: int) -> None:
    cmd = CommandApdu(0, ins, 0, 0x80, b"1234", le=256)
    fake = Scripted([(cmd.encode(), "6C02")])
    assert WrongLengthReissueProcessor(fake).send(cmd).sw == 0x6C02
    fake.done()  # the scripted fake would fail on any second command


def test_wrong_le_not_for_chain_blocks() -> None:
    fake = Scripted([("10DB3FFF02 0102", "6C05")])
    resp = WrongLengthReissueProcessor(fake).send(CommandApdu(0x10, 0xDB, 0x3F, 0xFF, H("0102")))
    assert resp.sw == 0x6C05
    fake.done()


def test_wrong_le_passthrough() -> None:
    fake = Scripted([("00A4020C02000A", "6A82")])
    resp = WrongLengthReissueProcessor(fake).send(CommandApdu(0, 0xA4, 2, 0x0C, H("000A")))
    assert resp.sw == 0x6A82
    fake.done()


def test_is_pin_command() -> None:
    assert is_pin_command(CommandApdu(0, 0x20, 0, 0x80))
    assert is_pin_command(CommandApdu(0, 0x24, 1, 0x80, b"5678"))
    assert not is_pin_command(CommandApdu(0x80, 0x2A, 0, 0x80, b"x", le=256))
    assert not is_pin_command(CommandApdu(0, 0xB0, le=4))


# --------------------------------------------------------------------------- chaining


def test_chaining_splits_into_255_byte_blocks() -> None:
    data = bytes(i & 0xFF for i in range(600))
    fake = Scripted(
        [
            (H("10DB3FFFFF") + data[:255], "9000"),
            (H("10DB3FFFFF") + data[255:510], "9000"),
            (H("00DB3FFF5A") + data[510:] + H("00"), "AABB9000"),
        ]
    )
    resp = CommandChainingProcessor(fake).send(CommandApdu(0, 0xDB, 0x3F, 0xFF, data, le=65536))
    assert resp == ResponseApdu(H("AABB"), 0x9000)
    fake.done()


def test_chaining_exact_multiple_and_no_le() -> None:
    data = b"\x11" * 510
    fake = Scripted(
        [(H("10DA0000FF") + data[:255], "9000"), (H("00DA0000FF") + data[255:], "9000")]
    )
    assert CommandChainingProcessor(fake).send(CommandApdu(0, 0xDA, data=data)).ok
    fake.done()


def test_chaining_proprietary_class_and_block_size() -> None:
    data = b"\x22" * 10
    fake = Scripted(
        [
            (H("902A008004") + data[:4], "9000"),
            (H("902A008004") + data[4:8], "9000"),
            (H("802A008002") + data[8:] + H("00"), "9000"),
        ]
    )
    proc = CommandChainingProcessor(fake, block_size=4)
    assert proc.send(CommandApdu(0x80, 0x2A, 0, 0x80, data, le=256)).ok
    fake.done()


def test_chaining_passthrough_when_short() -> None:
    data = b"\x33" * 255
    fake = Scripted([(H("00DA0000FF") + data, "9000")])
    assert CommandChainingProcessor(fake).send(CommandApdu(0, 0xDA, data=data)).ok
    fake.done()


def test_chaining_intermediate_error_raises_and_stops() -> None:
    data = b"\x44" * 600
    fake = Scripted([(H("10DA0000FF") + data[:255], "6982")])
    with pytest.raises(SecurityStatusError) as info:
        CommandChainingProcessor(fake).send(CommandApdu(0, 0xDA, data=data))
    assert info.value.sw == 0x6982
    fake.done()


def test_chaining_intermediate_6984_typed() -> None:
    data = b"\x44" * 300
    fake = Scripted([(H("10DA0000FF") + data[:255], "6984")])
    with pytest.raises(PinBlockedError):
        CommandChainingProcessor(fake).send(CommandApdu(0, 0xDA, data=data))


def test_chaining_final_error_returned_not_raised() -> None:
    data = b"\x44" * 300
    fake = Scripted(
        [(H("10DA0000FF") + data[:255], "9000"), (H("00DA00002D") + data[255:], "6A80")]
    )
    assert CommandChainingProcessor(fake).send(CommandApdu(0, 0xDA, data=data)).sw == 0x6A80
    fake.done()


def test_chaining_refuses_already_chained() -> None:
    with pytest.raises(MalformedApduError):
        CommandChainingProcessor(Scripted([])).send(CommandApdu(0x10, 0xDA, data=bytes(300)))


@pytest.mark.parametrize("size", [0, 256, -1])
def test_chaining_config(size: int) -> None:
    with pytest.raises(UsageError):
        CommandChainingProcessor(Scripted([]), block_size=size)


# --------------------------------------------------------------------------- extended fallback

CERT = bytes((i * 7) & 0xFF for i in range(0x0623))  # synthetic 1571-byte "certificate"


def _short_reads(data: bytes, start: int, total: int) -> list[tuple[bytes, bytes]]:
    """Script of short READ BINARYs (256-byte chunks) from offset ``start``."""
    out = []
    got = 0
    while got < total:
        n = min(256, total - got)
        off = start + got
        cmd = H("00B0") + bytes((off >> 8, off & 0xFF, n & 0xFF))
        out.append((cmd, data[off : off + n] + H("9000")))
        got += n
    return out


def test_extended_supported_passthrough() -> None:
    fake = Scripted([("00B0000400061F", CERT[4:] + H("9000"))])
    proc = ExtendedLengthFallbackProcessor(fake, extended_supported=True)
    assert proc.send(CommandApdu(0, 0xB0, 0, 4, le=0x061F)).data == CERT[4:]
    fake.done()


def test_short_commands_never_touched() -> None:
    fake = Scripted([("00B0000004", CERT[:4] + H("9000"))])
    proc = ExtendedLengthFallbackProcessor(fake, extended_supported=False)
    assert proc.send(CommandApdu(0, 0xB0, le=4)).data == CERT[:4]
    assert proc.extended_supported is False
    fake.done()


def test_unsupported_read_binary_becomes_short_reads() -> None:
    # card-interface.md §9: "00 B0 00 04 00, 00 B0 01 04 00, ... until 0x0623 bytes"
    script = _short_reads(CERT, 4, 0x061F)
    assert [c[:4] for c, _ in script[:3]] == [H("00B00004"), H("00B00104"), H("00B00204")]
    assert script[0][0][4] == 0x00 and script[-1][0][4] == 0x061F % 256
    fake = Scripted(script)
    proc = ExtendedLengthFallbackProcessor(fake, extended_supported=False)
    resp = proc.send(CommandApdu(0, 0xB0, 0, 4, le=0x061F))
    assert resp == ResponseApdu(CERT[4:], 0x9000)
    fake.done()


def test_chunked_read_stops_at_short_chunk() -> None:
    # Le 65536 on a 300-byte EF: 256 bytes, then 44 bytes (< 256 asked): done
    ef = bytes(range(256)) + b"\x01" * 44
    fake = Scripted([("00B0000000", ef[:256] + H("9000")), ("00B0010000", ef[256:] + H("9000"))])
    resp = ExtendedLengthFallbackProcessor(fake, extended_supported=False).send(
        CommandApdu(0, 0xB0, le=65536)
    )
    assert resp == ResponseApdu(ef, 0x9000)
    fake.done()


def test_chunked_read_6b00_after_exact_end_is_success() -> None:
    ef = b"\x02" * 512
    fake = Scripted(
        [("00B0000000", ef[:256] + H("9000")), ("00B0010000", ef[256:] + H("9000")),
         ("00B0020000", "6B00")]
    )
    resp = ExtendedLengthFallbackProcessor(fake, extended_supported=False).send(
        CommandApdu(0, 0xB0, le=65536)
    )
    assert resp == ResponseApdu(ef, 0x9000)
    fake.done()


def test_chunked_read_6282_kept() -> None:
    fake = Scripted([("00B0000000", b"\x03" * 256 + H("9000")), ("00B0010000", "0405 6282")])
    resp = ExtendedLengthFallbackProcessor(fake, extended_supported=False).send(
        CommandApdu(0, 0xB0, le=1000)
    )
    assert resp == ResponseApdu(b"\x03" * 256 + H("0405"), 0x6282)
    fake.done()


def test_chunked_read_first_error_returned() -> None:
    fake = Scripted([("00B0000000", "6982")])
    resp = ExtendedLengthFallbackProcessor(fake, extended_supported=False).send(
        CommandApdu(0, 0xB0, le=2000)
    )
    assert resp == ResponseApdu(b"", 0x6982)
    fake.done()


def test_chunked_read_later_error_drops_partial_data() -> None:
    fake = Scripted([("00B0000000", b"\x05" * 256 + H("9000")), ("00B0010000", "6F00")])
    resp = ExtendedLengthFallbackProcessor(fake, extended_supported=False).send(
        CommandApdu(0, 0xB0, le=2000)
    )
    assert resp == ResponseApdu(b"", 0x6F00)
    fake.done()


def test_chunked_read_sfi_form_then_offsets() -> None:
    # 00 B0 82 00 00 00 00: whole text-AP EF 0002 by SFI 2 (AOKI)
    ef = b"\x06" * 300
    fake = Scripted([("00B0820000", ef[:256] + H("9000")), ("00B0010000", ef[256:] + H("9000"))])
    resp = ExtendedLengthFallbackProcessor(fake, extended_supported=False).send(
        CommandApdu.decode(H("00B08200000000"))
    )
    assert resp.data == ef
    fake.done()


def test_chunked_read_offset_overflow_refused() -> None:
    fake = Scripted([("00B07F0000", b"\x07" * 256 + H("9000"))])
    proc = ExtendedLengthFallbackProcessor(fake, extended_supported=False)
    with pytest.raises(MalformedApduError):
        proc.send(CommandApdu(0, 0xB0, 0x7F, 0x00, le=600))
    fake.done()


def test_unsupported_data_uses_chaining() -> None:
    data = b"\x08" * 300
    fake = Scripted(
        [
            (H("10DA0000FF") + data[:255], "9000"),
            (H("00DA00002D") + data[255:] + H("00"), "AA9000"),
        ]
    )
    proc = ExtendedLengthFallbackProcessor(fake, extended_supported=False)
    assert proc.send(CommandApdu(0, 0xDA, data=data, le=1000)).data == H("AA")
    fake.done()


def test_unsupported_big_le_capped() -> None:
    fake = Scripted([("00CA0066 00", "AA9000")])
    proc = ExtendedLengthFallbackProcessor(fake, extended_supported=False)
    assert proc.send(CommandApdu(0, 0xCA, 0, 0x66, le=1000)).data == H("AA")
    fake = Scripted([("00880080 02 0102 00", "BB9000")])
    proc = ExtendedLengthFallbackProcessor(fake, extended_supported=False)
    assert proc.send(CommandApdu(0, 0x88, 0, 0x80, H("0102"), le=4096)).data == H("BB")
    fake.done()


def test_unsupported_forced_extended_sent_short() -> None:
    fake = Scripted([("00B0000004", "01020304 9000")])
    proc = ExtendedLengthFallbackProcessor(fake, extended_supported=False)
    assert proc.send(CommandApdu(0, 0xB0, le=4, extended=True)).ok
    fake.done()


def test_unknown_learns_supported() -> None:
    fake = Scripted([("00B0000400061F", CERT[4:] + H("9000")), ("00B000000000FF", "9000")])
    proc = ExtendedLengthFallbackProcessor(fake)
    assert proc.extended_supported is None
    assert proc.send(CommandApdu(0, 0xB0, 0, 4, le=0x061F)).data == CERT[4:]
    assert proc.extended_supported is True
    proc.send(CommandApdu(0, 0xB0, le=0xFF, extended=True))
    fake.done()


def test_unknown_learns_unsupported_on_6700_and_retries_short_once() -> None:
    script = [(H("00B0000400061F"), H("6700"))] + _short_reads(CERT, 4, 0x061F)
    script += [
        (H("00B0000000"), CERT[:256] + H("9000")),
        (H("00B0010000"), CERT[256:512] + H("9000")),
    ]
    fake = Scripted(script)
    proc = ExtendedLengthFallbackProcessor(fake)
    assert proc.send(CommandApdu(0, 0xB0, 0, 4, le=0x061F)).data == CERT[4:]
    assert proc.extended_supported is False
    # the next extended read goes straight to short reads: no extended attempt
    assert proc.send(CommandApdu(0, 0xB0, le=512)).data == CERT[:512]
    fake.done()


def test_unknown_other_errors_do_not_fall_back() -> None:
    fake = Scripted([("00B0000400061F", "6982")])
    proc = ExtendedLengthFallbackProcessor(fake)
    assert proc.send(CommandApdu(0, 0xB0, 0, 4, le=0x061F)).sw == 0x6982
    assert proc.extended_supported is True
    fake.done()


@pytest.mark.parametrize("ins", sorted(PIN_INS))
def test_unknown_never_resends_pin_command_on_6700(ins: int) -> None:
    cmd = CommandApdu(0, ins, 0, 0x80, b"1234", extended=True)
    fake = Scripted([(cmd.encode(), "6700")])
    proc = ExtendedLengthFallbackProcessor(fake)
    assert proc.send(cmd).sw == 0x6700
    fake.done()  # a re-send would hit the scripted fake's "unexpected extra command"


def test_transport_error_propagates_and_teaches_nothing() -> None:
    class Broken:
        def send(self, cmd: CommandApdu) -> ResponseApdu:
            raise CardRemovedError("card removed")

    proc = ExtendedLengthFallbackProcessor(Broken())
    with pytest.raises(CardRemovedError):
        proc.send(CommandApdu(0, 0xB0, le=1000))
    assert proc.extended_supported is None


# --------------------------------------------------------------------------- build_stack


def test_build_stack_order() -> None:
    base = Scripted([])
    stack = build_stack(base, extended=False)
    assert isinstance(stack, ExtendedLengthFallbackProcessor)
    assert stack.extended_supported is False
    assert isinstance(stack.inner, GetResponseProcessor)
    assert isinstance(stack.inner.inner, WrongLengthReissueProcessor)
    assert stack.inner.inner.inner is base


def test_build_stack_end_to_end() -> None:
    # extended read refused → short reads; one chunk comes via 61xx GET RESPONSE, a
    # GET RESPONSE answered 6Cxx is re-issued with the exact Le
    ef = bytes(range(256)) + b"\x09" * 100
    fake = Scripted(
        [
            ("00B00000 0001FF", "6700"),
            ("00B0000000", ef[:100] + H("6100")),
            ("00C0000000", "6C9C"),
            ("00C000009C", ef[100:256] + H("9000")),
            ("00B00100FF", ef[256:] + H("9000")),
        ]
    )
    stack = build_stack(fake)
    resp = stack.send(CommandApdu(0, 0xB0, le=511))
    assert resp == ResponseApdu(ef, 0x9000)
    fake.done()


def test_build_stack_verify_passes_once() -> None:
    fake = Scripted([("0020008004 31323334", "63C2")])
    stack = build_stack(fake, extended=None)
    assert stack.send(CommandApdu(0, 0x20, 0, 0x80, b"1234")).sw == 0x63C2
    fake.done()


def test_build_stack_sign_with_get_response() -> None:
    digest_info = b"\x30" * 51
    sig = bytes(range(256))
    fake = Scripted(
        [(H("802A008033") + digest_info + H("00"), "6100"), ("00C0000000", sig + H("9000"))]
    )
    cmd = CommandApdu(0x80, 0x2A, 0, 0x80, digest_info, le=256)
    resp = build_stack(fake, extended=True).send(cmd)
    assert resp == ResponseApdu(sig, 0x9000)
    fake.done()


def test_card_errors_are_not_raised_by_stack() -> None:
    # the stack returns responses; turning SWs into errors is sw.check()'s / the session's job
    fake = Scripted([("00A4040C0AD392F000260100000001", "6A82")])
    resp = build_stack(fake).send(CommandApdu(0, 0xA4, 4, 0x0C, H("D392F000260100000001")))
    assert resp.sw == 0x6A82
    assert not isinstance(resp, CardError)
    fake.done()


# --------------------------------------------------------------------------- properties

SWS = st.one_of(
    st.sampled_from([0x9000, 0x6700, 0x6100, 0x6110, 0x6C00, 0x6C10, 0x63C2, 0x63C0, 0x6984,
                     0x6982, 0x6A82, 0x6B00, 0x6282, 0x6D00, 0x6F00]),
    st.integers(0, 0xFFFF),
)
RESPONSES = st.lists(st.tuples(st.binary(max_size=300), SWS), max_size=40)


class RandomCard:
    """Answers from a list of responses, then 9000 forever; records what it got."""

    def __init__(self, responses: list[tuple[bytes, int]]) -> None:
        self.responses = list(responses)
        self.sent: list[CommandApdu] = []

    def send(self, cmd: CommandApdu) -> ResponseApdu:
        self.sent.append(cmd)
        assert len(self.sent) < 2000, "processor stack does not terminate"
        data, sw = self.responses.pop(0) if self.responses else (b"", 0x9000)
        return ResponseApdu(data, sw)


@given(
    RESPONSES,
    st.sampled_from([None, True, False]),
    st.sampled_from(sorted(PIN_INS)),
    st.binary(min_size=1, max_size=300),
    st.sampled_from([None, True]),
)
@example([(b"", 0x6700)], False, 0x20, b"1" * 300, None)  # chain refused at block 1
@example([(b"", 0x9000), (b"", 0x6A80)], False, 0x24, b"2" * 600, None)  # refused at block 2
@settings(max_examples=300)
def test_pin_commands_reach_the_card_exactly_once(
    responses: list[tuple[bytes, int]], extended: bool | None, ins: int, pin: bytes,
    force_ext: bool | None,
) -> None:
    card = RandomCard(responses)
    cmd = CommandApdu(0, ins, 0, 0x80, pin, extended=force_ext)
    failed = False
    try:
        build_stack(card, extended=extended).send(cmd)
    except JukiError:
        failed = True
    pin_cmds = [c for c in card.sent if c.ins == ins]
    assert pin_cmds, "the PIN command never reached the card"
    if not pin_cmds[0].cla & 0x10:  # sent whole (short or extended): exactly once
        assert len(pin_cmds) == 1 and pin_cmds[0].data == pin
    else:
        # sent as a command chain: each block at most once, in order; a block refused by
        # the card ends the chain (the rest is never sent, nothing is sent again)
        assert len(pin) > 255
        sent = b"".join(c.data for c in pin_cmds)
        assert pin.startswith(sent) and sent
        if not failed:
            assert sent == pin
        assert all(c.cla & 0x10 for c in pin_cmds[:-1])
    assert all(c.ins in (ins, 0xC0) for c in card.sent)


@given(
    RESPONSES,
    st.sampled_from([None, True, False]),
    st.sampled_from([0xB0, 0xCA, 0x2A, 0xDA]),
    st.binary(max_size=700),
    st.one_of(st.none(), st.integers(1, 65536)),
)
@settings(max_examples=300)
def test_stack_terminates_and_raises_only_typed_errors(
    responses: list[tuple[bytes, int]], extended: bool | None, ins: int, data: bytes,
    le: int | None,
) -> None:
    card = RandomCard(responses)
    cmd = CommandApdu(0, ins, 0, 0, data, le=le)
    try:
        resp = build_stack(card, extended=extended).send(cmd)
    except JukiError:
        return
    assert isinstance(resp, ResponseApdu)
    assert 1 <= len(card.sent)
    if extended is True or not cmd.is_extended:
        # nothing but the command itself, its 6Cxx re-issue and GET RESPONSEs
        assert all(c.ins in (ins, 0xC0) for c in card.sent)


# --------------------------------------------------------------------------- secure messaging
@pytest.mark.parametrize(("cla", "sm"), [
    (0x00, False), (0x80, False), (0x10, False), (0x01, False), (0xFF, False), (0x40, False),
    (0x08, True), (0x0C, True), (0x04, True), (0x88, True), (0x8C, True), (0x0B, True),
    (0x60, True), (0x1C, True),
])
def test_is_secure_messaging(cla: int, sm: bool) -> None:
    cmd = CommandApdu(cla, 0xB0, 0, 0, le=4)
    assert is_secure_messaging(cmd) is sm and never_resent(cmd) is sm


def _sm_read() -> CommandApdu:
    return CommandApdu(0x08, 0xB0, 0, 0, H("9603000000"), le=65536, extended=True)


@pytest.mark.parametrize("cmd", [
    CommandApdu(0x08, 0xA4, 2, 0x0C, H("8611") + bytes(17)),
    CommandApdu(0x08, 0xB0, 0, 0, H("9603000000"), le=256),
    CommandApdu(0x0C, 0xB0, 0, 0, H("9603000000"), le=16),
], ids=["select", "read", "cla-0c"])
def test_wrong_le_never_resends_secure_messaging(cmd: CommandApdu) -> None:
    """Fails on the old code, which re-issued an SM command answered 6Cxx (a second command
    under the same SM counter value: the card and the host fall out of step)."""
    fake = Scripted([(cmd.encode(), "6C10")])
    assert WrongLengthReissueProcessor(fake).send(cmd).sw == 0x6C10
    fake.done()


def test_unknown_never_resends_secure_messaging_on_6700() -> None:
    """Fails on the old code, which re-sent the SM READ in short form after 6700."""
    cmd = _sm_read()
    fake = Scripted([(cmd.encode(), "6700")])
    proc = ExtendedLengthFallbackProcessor(fake)
    assert proc.send(cmd).sw == 0x6700
    fake.done()


@given(
    RESPONSES,
    st.sampled_from([None, True, False]),
    st.sampled_from([0x08, 0x0C]),
    st.sampled_from([0x20, 0xA4, 0xB0, 0xB2, 0xCA]),
    st.binary(min_size=1, max_size=200),
    st.sampled_from([None, 256, 65536]),
)
@example([(b"", 0x6C10)], True, 0x08, 0xA4, b"\x86" * 19, None)
@example([(b"", 0x6700)], None, 0x08, 0xB0, b"\x96\x03\x00\x00\x00", 65536)
@settings(max_examples=300)
def test_secure_messaging_commands_reach_the_card_exactly_once(
    responses: list[tuple[bytes, int]], extended: bool | None, cla: int, ins: int,
    data: bytes, le: int | None,
) -> None:
    """Whatever the card answers, an SM command is sent once (GET RESPONSE may follow: it
    is not a re-send).  Fails on the old code (6Cxx re-issue, 6700 short re-send)."""
    card = RandomCard(responses)
    cmd = CommandApdu(cla, ins, 0, 0, data, le=le)
    try:
        build_stack(card, extended=extended).send(cmd)
    except JukiError:
        pass
    sm_cmds = [c for c in card.sent if c.cla == cla]
    assert len(sm_cmds) == 1 and sm_cmds[0].data == data
    assert all(c.cla == cla or c.ins == 0xC0 for c in card.sent)


@pytest.mark.parametrize("cmd", [
    CommandApdu(0x00, 0x82, 0, 0, bytes(64), le=64),
    CommandApdu(0x00, 0x88, 0, 0x99, bytes(16), le=256),
    CommandApdu(0x80, 0xAE, 0, 0, bytes(256), extended=True),
], ids=["mutual-authenticate", "internal-authenticate", "set-session-key"])
def test_authentication_commands_are_never_resent(cmd: CommandApdu) -> None:
    """Fails on the code before the issue-11 verification review's follow-up: MUTUAL /
    INTERNAL AUTHENTICATE and SET SESSION KEY answered 6Cxx were re-issued (or re-sent short
    after 6700), a second authentication against a used challenge that the card may count as
    a failure."""
    assert never_resent(cmd)
    fake = Scripted([(cmd.encode(), "6C10")])
    assert WrongLengthReissueProcessor(fake).send(cmd).sw == 0x6C10
    fake.done()
    fake = Scripted([(cmd.encode(), "6700")])
    assert ExtendedLengthFallbackProcessor(fake).send(cmd).sw == 0x6700
    fake.done()


def test_other_proprietary_instructions_may_be_resent() -> None:
    """The authentication rule is narrow: a proprietary 80 82 / 80 88 is not one of them."""
    assert not never_resent(CommandApdu(0x80, 0x82, 0, 0, le=4))
    assert not never_resent(CommandApdu(0x00, 0xB0, 0, 0, le=4))
