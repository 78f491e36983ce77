"""Review of the jukicard protocol (issue 11; our own protocol, NOT 住基ネット's): attacks a
man in the middle can run on the emulated card, and the new-user path to a token.

Each test here failed on the code before the review's fix (its docstring says how)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from emulated_support import PINS, Emulated, PinLedger

from jukicard.apdu.apps.juki import JukiEf, JukiPin
from jukicard.card.mutual import KEY_INFO_EF, JukicardProtocolSession
from jukicard.emulator.cardos import CardOS
from jukicard.errors import JukicardSecureMessagingError
from jukicard.keys import KeySession, TokenKey
from softhsm_support import PROTOCOL_MASTER_LABEL

RESIDENT_CODE = b"10565175097"
_SELECT_CODE = bytes.fromhex("00A4020C02") + int(JukiEf.RESIDENT_CODE).to_bytes(2, "big")
_READ = bytes.fromhex("00B0000000")


@pytest.fixture
def master(softhsm_keys: KeySession) -> TokenKey:
    return softhsm_keys.key(PROTOCOL_MASTER_LABEL)


def _garbage_protected(card: CardOS) -> bytes:
    """A protected command the attacker cannot MAC: the card destroys its channel."""
    return card.execute(bytes.fromhex("0CB000000D9701208E080000000000000000"))


def _plain_get_challenge(card: CardOS) -> bytes:
    return card.execute(bytes.fromhex("0084000010"))


def _plain_select(card: CardOS) -> bytes:
    return card.execute(_SELECT_CODE)


@pytest.mark.parametrize("end_channel", [_plain_select, _plain_get_challenge,
                                         _garbage_protected],
                         ids=["plain-command", "plain-get-challenge", "broken-channel"])
def test_security_status_gained_under_sm_does_not_survive_the_channel(
        juki: Emulated, softhsm_keys: KeySession, master: TokenKey, pins: PinLedger,
        end_channel: Callable[[CardOS], bytes]) -> None:
    """A man in the middle waits until the host has VERIFYed the 住基 PIN under secure
    messaging, then ends the channel (a plain command, a plain GET CHALLENGE, or a protected
    command it cannot MAC) and reads the 住民票コード IN CLEAR with plain SELECT + READ
    BINARY.  Failed before the fix: the card let plain commands through beside an open
    jukicard secure channel and kept the PIN status gained under it (``31303536...9000``).
    Now a plain command ends the channel and the channel's end clears the security status:
    the plain READ gets ``69 82`` and the host's next protected command fails."""
    card = juki.card
    s = JukicardProtocolSession(juki.transport)
    s.authenticate(softhsm_keys, master)
    s.verify(JukiPin.PIN, pins.submit(PINS["juki"]))
    end_channel(card)
    assert card.execute(_SELECT_CODE)[-2:] == b"\x90\x00"
    answer = card.execute(_READ)
    assert RESIDENT_CODE not in answer and answer == b"\x69\x82"
    assert card.secure_channel is None or type(card.secure_channel).__name__ != \
        "JukicardSecureChannel"
    with pytest.raises(JukicardSecureMessagingError):
        s.read_ef(KEY_INFO_EF)
    assert s.state == "closed"
