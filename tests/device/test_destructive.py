"""PIN tests that may LOCK a PIN on a real card: ``--destructive`` (plus ``--reader``,
``--card-id``), and the card's auth PIN in env ``JUKICARD_DEVICE_AUTH_PIN``.

The test only runs when the auth PIN has all its tries left, spends one try with a wrong
value, then restores the counter with the right PIN.  If the right PIN in the environment is
wrong too, the card is left with one try: hence the guard flags.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

pytestmark = [pytest.mark.device, pytest.mark.destructive]

AUTH_PIN_FID = 0x0018
AUTH_MAX_TRIES = 3


def _status(t: Any) -> int:
    t.transmit(bytes.fromhex("00A4020C020018"))
    _data, sw = t.transmit(bytes.fromhex("00200080"))
    assert sw & 0xFFF0 == 0x63C0, f"PIN status -> {sw:04X}"
    return sw & 0x0F


def _verify(t: Any, pin: str) -> int:
    value = pin.encode("ascii")
    _data, sw = t.transmit(bytes([0x00, 0x20, 0x00, 0x80, len(value)]) + value)
    return int(sw)


def test_wrong_auth_pin_costs_one_try_and_right_pin_restores(jpki: Any) -> None:
    pin = os.environ.get("JUKICARD_DEVICE_AUTH_PIN", "")
    if not (pin.isdigit() and len(pin) == 4):
        pytest.skip("set JUKICARD_DEVICE_AUTH_PIN to the card's 4-digit auth PIN")
    if _status(jpki) != AUTH_MAX_TRIES:
        pytest.skip("auth PIN has already lost tries: not risking a lock")
    wrong = f"{(int(pin) + 1) % 10000:04d}"
    assert _verify(jpki, wrong) == 0x63C0 | (AUTH_MAX_TRIES - 1)
    assert _status(jpki) == AUTH_MAX_TRIES - 1
    assert _verify(jpki, pin) == 0x9000, "the PIN in JUKICARD_DEVICE_AUTH_PIN was refused"
    assert _status(jpki) == AUTH_MAX_TRIES
