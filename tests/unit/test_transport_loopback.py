"""LoopbackTransport against a tiny fake card (not the emulator)."""

from __future__ import annotations

import pytest

from jukicard.apdu.command import CommandApdu
from jukicard.apdu.processor import TransmitProcessor
from jukicard.errors import CardRemovedError, CardResetError, MalformedApduError, UsageError
from jukicard.transport import LoopbackTransport, Transport

ATR = bytes.fromhex("3BE000FF8131FE4514")


class FakeCard:
    """Echoes the command header back with 9000; counts power events."""

    def __init__(self) -> None:
        self.atr = ATR
        self.log: list[str] = []
        self.received: list[bytes] = []
        self.answer: bytes | None = None

    def execute(self, apdu: bytes) -> bytes:
        self.received.append(apdu)
        return self.answer if self.answer is not None else apdu[:4] + b"\x90\x00"

    def power_on(self) -> None:
        self.log.append("on")

    def power_off(self) -> None:
        self.log.append("off")

    def reset(self) -> None:
        self.log.append("reset")


APDU = bytes.fromhex("00A4040C0AD392F000260100000001")


def apdu(n: int) -> bytes:
    return bytes((0x80, n, 0, 0))


def test_powers_on_and_transmits() -> None:
    card = FakeCard()
    t = LoopbackTransport(card)
    assert isinstance(t, Transport)
    assert card.log == ["on"]
    assert t.generation == 1
    assert t.atr == ATR
    assert t.transmit(APDU) == (APDU[:4], 0x9000)
    assert card.received == [APDU]
    assert t.apdu_count == 1


def test_works_under_transmit_processor() -> None:
    t = LoopbackTransport(FakeCard())
    resp = TransmitProcessor(t.transmit).send(CommandApdu(0x00, 0xB0, 0, 0, le=4))
    assert resp.ok and resp.data == bytes.fromhex("00B00000")


def test_counts_apdus_outside_transaction() -> None:
    t = LoopbackTransport(FakeCard())
    t.transmit(apdu(1))
    with t.transaction():
        assert t.transaction_depth == 1
        with t.transaction():
            assert t.transaction_depth == 2
            t.transmit(apdu(2))
        t.transmit(apdu(3))
    assert t.transaction_depth == 0
    assert t.apdus_outside_transaction == 1
    assert t.transactions_begun == 1


def test_record_transcript() -> None:
    card = FakeCard()
    t = LoopbackTransport(card, record=True)
    t.transmit(apdu(1))
    card.answer = b"\x01\x02\x6a\x82"
    t.transmit(apdu(2))
    assert t.transcript == [
        (apdu(1), apdu(1) + b"\x90\x00"),
        (apdu(2), b"\x01\x02\x6a\x82"),
    ]
    off = LoopbackTransport(FakeCard())
    off.transmit(apdu(1))
    assert off.transcript == []


def test_short_response_from_card_is_typed_error() -> None:
    card = FakeCard()
    t = LoopbackTransport(card)
    card.answer = b"\x90"
    with pytest.raises(MalformedApduError):
        t.transmit(apdu(1))


def test_inject_reset_before_nth_apdu() -> None:
    card = FakeCard()
    t = LoopbackTransport(card, record=True)
    t.inject("reset", before_apdu=2)
    t.transmit(apdu(1))
    with pytest.raises(CardResetError):
        t.transmit(apdu(2))
    assert card.received == [apdu(1)]  # the APDU was not delivered
    assert card.log == ["on", "reset"]
    assert t.generation == 2
    t.transmit(apdu(3))  # next one goes through: nothing is re-sent by itself
    assert card.received == [apdu(1), apdu(3)]
    assert [c for c, _ in t.transcript] == [apdu(1), apdu(3)]


def test_inject_removed_until_insert() -> None:
    card = FakeCard()
    t = LoopbackTransport(card)
    t.inject("removed", before_apdu=1)
    with pytest.raises(CardRemovedError):
        t.transmit(apdu(1))
    assert not t.present and t.atr == b""
    with pytest.raises(CardRemovedError):
        t.transmit(apdu(2))
    with pytest.raises(CardRemovedError):
        with t.transaction():
            pass
    assert card.received == []
    gen = t.generation
    t.insert()
    assert t.generation == gen + 1
    assert card.log == ["on", "off", "on"]
    assert t.transmit(apdu(3))[1] == 0x9000


def test_fault_inside_transaction_leaves_depth_clean() -> None:
    t = LoopbackTransport(FakeCard())
    t.inject("reset", before_apdu=2)
    with pytest.raises(CardResetError):
        with t.transaction():
            t.transmit(apdu(1))
            t.transmit(apdu(2))
    assert t.transaction_depth == 0


def test_multiple_faults_and_clear() -> None:
    t = LoopbackTransport(FakeCard())
    t.inject("reset", 1)
    t.inject("reset", 3)
    with pytest.raises(CardResetError):
        t.transmit(apdu(1))
    t.transmit(apdu(2))
    with pytest.raises(CardResetError):
        t.transmit(apdu(3))
    t.inject("removed", 1)
    t.clear_faults()
    t.transmit(apdu(4))


@pytest.mark.parametrize("fault,n", [("boom", 1), ("reset", 0), ("removed", -1)])
def test_inject_validates(fault: str, n: int) -> None:
    with pytest.raises(UsageError):
        LoopbackTransport(FakeCard()).inject(fault, n)  # type: ignore[arg-type]


def test_remove_reset_methods() -> None:
    card = FakeCard()
    t = LoopbackTransport(card)
    t.reset()
    assert t.generation == 2 and card.log[-1] == "reset"
    t.remove()
    t.remove()  # idempotent
    assert card.log.count("off") == 1
    with pytest.raises(CardRemovedError):
        t.reset()
    t.insert()
    t.insert()  # idempotent
    assert t.generation == 3


def test_close_powers_off() -> None:
    card = FakeCard()
    with LoopbackTransport(card) as t:
        t.transmit(apdu(1))
    assert card.log == ["on", "off"]
