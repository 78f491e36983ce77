"""``services.pins.verify_pin`` (issue 8: ``jukicard pin verify``): the PIN is asked once,
after a data-less status check, and sent in ONE VERIFY; a blocked PIN is never asked."""

from __future__ import annotations

import pytest
from emulated_support import PINS, MakeCard, PinLedger, find_file, profile_json

from jukicard.errors import PinBlockedError, PinError, PinFormatError, UsageError
from jukicard.services.interaction import ScriptedInteraction
from jukicard.services.pins import verify_pin


@pytest.mark.parametrize(("pin_id", "value", "tries"),
                         [("auth", "auth", 3), ("sign", "sign", 5), ("text", "text", 3)])
def test_correct_pin(make_card: MakeCard, pins: PinLedger, pin_id: str, value: str,
                     tries: int) -> None:
    em = make_card()
    asked = ScriptedInteraction([pins.submit(PINS[value])])
    state = verify_pin(em.transport, pin_id, asked)
    assert state.id == pin_id and state.retries_left == state.max_tries == tries
    assert len(asked.requests) == 1 and asked.requests[0].retries_left == tries
    assert em.card.stats.verify_with_data == 1


def test_wrong_pin_is_sent_once(make_card: MakeCard, pins: PinLedger) -> None:
    em = make_card()
    with pytest.raises(PinError) as info:
        verify_pin(em.transport, "auth", ScriptedInteraction([pins.submit("9999")]))
    assert info.value.retries_left == 2
    assert em.card.stats.verify_with_data == 1


def test_blocked_pin_is_never_asked(make_card: MakeCard) -> None:
    prof = profile_json("mynumber-01")
    find_file(prof, "text", "0011")["tries_left"] = 0
    em = make_card(data=prof)
    asked = ScriptedInteraction(["1234"])
    with pytest.raises(PinBlockedError):
        verify_pin(em.transport, "text", asked)
    assert asked.requests == [] and em.card.stats.verify_with_data == 0


def test_bad_format_and_unknown_ids_send_nothing(make_card: MakeCard) -> None:
    em = make_card()
    with pytest.raises(PinFormatError):
        verify_pin(em.transport, "auth", ScriptedInteraction(["12345"]))
    with pytest.raises(UsageError):
        verify_pin(em.transport, "juki", ScriptedInteraction(["1234"]))
    with pytest.raises(UsageError):
        verify_pin(em.transport, "nope", ScriptedInteraction(["1234"]))
    assert em.card.stats.verify_with_data == 0


def test_juki_card_pin(make_card: MakeCard, pins: PinLedger) -> None:
    em = make_card("juki-01")
    state = verify_pin(em.transport, "juki", ScriptedInteraction([pins.submit(PINS["juki"])]))
    assert state.app == "juki" and state.retries_left == 3
