"""Second review of issue 8, finding 6: a selection trusted across connections.

Two :class:`LoopbackTransport` objects on one :class:`CardOS` stand in for two PC/SC
connections to one card in shared mode (``PcscTransport(share="auto")`` falls back to
shared when another process holds the card): each connection counts only its own commands,
so a channel cannot see the other connection's SELECT.  A transport now says whether it sees
all the card's traffic (``sees_all_traffic``); when it does not, the channel trusts a
selection only inside the transaction that made it, and every operation selects again.

Every test here fails on ``main`` before the fix (each docstring says how).
"""

from __future__ import annotations

import pytest
from emulated_support import PINS, MakeCard, PinLedger, find_file, profile_json

from jukicard.card import CardChannel, TextPin, TextSession, VisualPin, VisualSession
from jukicard.errors import CardError, SecurityStatusError
from jukicard.services import ScriptedInteraction, verify_pin
from jukicard.transport.loopback import LoopbackTransport
from jukicard.transport.tracing import TracingTransport

TEXT_CV = bytes.fromhex(find_file(profile_json("mynumber-01"), "text", "0004")["data"])


def _select_aids(transcript: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [cmd[5 : 5 + cmd[4]] for cmd, _ in transcript if cmd[1:3] == b"\xa4\x04"]


def test_two_connections_to_one_card_never_trust_a_stale_selection(
    make_card: MakeCard, pins: PinLedger
) -> None:
    """The reviewer's ``/tmp/r2/twoconn.py``.  Old code: after ``VisualSession(t2)`` the
    text session on ``t1`` still trusted its selection: ``read_cv_certificate()`` returned
    the visual AP's CV certificate, and ``verified`` still listed the text PIN."""
    emu = make_card("mynumber-01")
    t1 = emu.transport
    t2 = LoopbackTransport(emu.card, record=True)  # another connection to the same card
    assert not t1.sees_all_traffic and not t2.sees_all_traffic
    text = TextSession(t1)
    text.verify(TextPin.PIN, pins.submit(PINS["text"]))
    VisualSession(t2)  # someone else selects the visual AP
    assert text.verified == frozenset()
    assert bytes(text.read_cv_certificate()) == TEXT_CV
    with pytest.raises(SecurityStatusError):  # the card logged the PIN out: said so
        text.read_my_number()


def test_a_status_query_after_another_connection_selects_goes_to_the_right_pin(
    make_card: MakeCard, pins: PinLedger
) -> None:
    """Old code: the text session, holding a verified PIN, trusted its selection and sent
    its data-less VERIFY to the visual AP's birth-date PIN file (same id ``0011``): it
    reported that counter (1) as the text PIN's (3)."""
    emu = make_card("mynumber-01")
    t1 = emu.transport
    t2 = LoopbackTransport(emu.card)
    visual = VisualSession(t2)
    for _ in range(2):
        with pytest.raises(CardError):
            visual.verify(VisualPin.BIRTH, pins.submit("000000"))  # wrong on purpose
    text = TextSession(t1)
    text.verify(TextPin.PIN, pins.submit(PINS["text"]))
    VisualSession(t2)
    assert text.pin_status(TextPin.PIN).retries_left == 3


def test_a_shared_connection_selects_in_every_transaction_and_trusts_it_within_one(
    make_card: MakeCard, pins: PinLedger
) -> None:
    """``shared=True`` makes a single loopback behave as a PC/SC connection in shared mode
    (old code: no such parameter, and the selection was trusted from one operation to the
    next).  Inside one transaction (PC/SC keeps the others out) the selection holds, so
    ``verify_pin``'s VERIFY and status query need one SELECT."""
    emu = make_card("mynumber-01")
    t = LoopbackTransport(emu.card, record=True, shared=True)
    emu.transport.close()  # the fixture's own connection: closed, no longer a client
    assert not t.sees_all_traffic and not CardChannel.of(t).tracks_traffic
    text = TextSession(t)
    text.verify(TextPin.PIN, pins.submit(PINS["text"]))
    before = len(t.transcript)
    text.read_ap_basic_info()
    assert _select_aids(t.transcript[before:]) == [TextSession.APPLICATION.aid]
    assert not text.is_verified(TextPin.PIN)
    asker = ScriptedInteraction([pins.submit(PINS["text"])])
    state = verify_pin(t, "text", asker)
    assert state.retries_left == 3
    with t.transaction():
        text.verify(TextPin.PIN, pins.submit(PINS["text"]))
        assert text.is_verified(TextPin.PIN)
        text.read_my_number()  # no PIN given: the verified one is still valid here
    assert not text.is_verified(TextPin.PIN)


def test_a_card_with_one_connection_keeps_its_selection(make_card: MakeCard,
                                                        pins: PinLedger) -> None:
    """The single client of a card sees all its traffic: a verified PIN stays usable from
    one operation to the next, with no extra SELECT (unchanged); once the second connection
    is closed the first one is alone again (old code: no ``sees_all_traffic``)."""
    emu = make_card("mynumber-01")
    t1 = emu.transport
    assert t1.sees_all_traffic and CardChannel.of(t1).tracks_traffic
    t2 = LoopbackTransport(emu.card)
    assert not t1.sees_all_traffic
    t2.close()
    assert t1.sees_all_traffic
    text = TextSession(t1)
    text.verify(TextPin.PIN, pins.submit(PINS["text"]))
    before = len(t1.transcript)
    text.read_ap_basic_info()
    text.read_my_number()
    assert _select_aids(t1.transcript[before:]) == []
    assert text.is_verified(TextPin.PIN)


def test_a_wrapper_says_what_the_connection_it_wraps_says(make_card: MakeCard) -> None:
    """A tracer over a shared connection is shared too (old code: no such property)."""
    emu = make_card("mynumber-01")
    assert TracingTransport(emu.transport).sees_all_traffic is True
    shared = LoopbackTransport(emu.card, shared=True)
    assert TracingTransport(shared).sees_all_traffic is False
    assert CardChannel.of(TracingTransport(shared)).tracks_traffic is False
