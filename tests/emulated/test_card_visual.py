"""VisualSession (券面AP) against the emulated My Number card."""

from __future__ import annotations

import pytest
from emulated_support import Emulated, MakeCard, PinLedger, find_file, profile_json

from jukicard.card import MyNumber, VisualEntries, VisualPin, VisualSession, make_match_b
from jukicard.card.dataobjects import VisualBirth
from jukicard.card.layout import PinFormatError
from jukicard.errors import PinError, SecurityStatusError, UsageError


def facts(profile: str = "mynumber-01") -> tuple[VisualEntries, str, str]:
    prof = profile_json(profile)
    ve = VisualEntries.parse(bytes.fromhex(find_file(prof, "visual", "0002")["data"]))
    match_a = find_file(prof, "visual", "0013")["value"]
    return ve, match_a, find_file(prof, "visual", "0012")["value"]


def test_pin_status(mynumber: Emulated) -> None:
    visual = VisualSession(mynumber.transport)
    assert visual.pin_status(VisualPin.MATCH_A).retries_left == 10
    assert visual.pin_status(VisualPin.MATCH_B).retries_left == 10
    assert visual.pin_status(VisualPin.BIRTH).retries_left == 3


def test_read_entries_with_match_a(mynumber: Emulated, pins: PinLedger) -> None:
    ve, match_a, _b = facts()
    got = VisualSession(mynumber.transport).read_entries(match_a=MyNumber(pins.submit(match_a)))
    assert got == ve
    assert got.name_png.startswith(b"\x89PNG") and got.address_png.startswith(b"\x89PNG")
    assert got.photo and got.expiry.isdigit()
    # one header read + one extended read on an extended-length card
    reads = [c for c in mynumber.sent if c[1] == 0xB0]
    assert len(reads) == 2


def test_read_entries_with_match_b(mynumber: Emulated, pins: PinLedger) -> None:
    ve, _a, match_b = facts()
    # 照合番号B is built from the card face: birth YYMMDD + expiry year + security code
    rebuilt = make_match_b(match_b[:6], match_b[6:10], match_b[10:])
    assert rebuilt == match_b
    assert VisualSession(mynumber.transport).read_entries(match_b=pins.submit(rebuilt)) == ve


def test_read_entries_short_card(make_card: MakeCard, pins: PinLedger) -> None:
    emu = make_card("mynumber-short")
    ve, match_a, _b = facts("mynumber-short")
    assert VisualSession(emu.transport).read_entries(match_a=pins.submit(match_a)) == ve


def test_read_entries_without_pin(mynumber: Emulated) -> None:
    with pytest.raises(SecurityStatusError):
        VisualSession(mynumber.transport).read_entries()


def test_wrong_match_b(mynumber: Emulated, pins: PinLedger) -> None:
    visual = VisualSession(mynumber.transport)
    with pytest.raises(PinError) as info:
        visual.read_entries(match_b=pins.submit("0" * 14))
    assert info.value.retries_left == 9
    assert visual.pin_status(VisualPin.MATCH_B).retries_left == 9
    assert visual.pin_status(VisualPin.MATCH_A).retries_left == 10


def test_argument_errors_send_nothing(mynumber: Emulated) -> None:
    visual = VisualSession(mynumber.transport)
    apdus = mynumber.card.stats.apdus
    with pytest.raises(UsageError):
        visual.read_entries(match_a="1" * 12, match_b="1" * 14)
    with pytest.raises(PinFormatError):
        visual.read_entries(match_b="1" * 12)
    with pytest.raises(PinFormatError):
        make_match_b("1234", "2030", "1234")
    assert mynumber.card.stats.apdus == apdus


def test_read_birth_with_birth_pin(mynumber: Emulated, pins: PinLedger) -> None:
    prof = profile_json("mynumber-01")
    birth_pin = find_file(prof, "visual", "0011")["value"]
    expected = VisualBirth.parse(bytes.fromhex(find_file(prof, "visual", "0001")["data"]))
    visual = VisualSession(mynumber.transport)
    with pytest.raises(SecurityStatusError):
        visual.read_birth()
    # 照合番号A does not unlock the birth EF
    visual.verify(VisualPin.MATCH_A, pins.submit(find_file(prof, "visual", "0013")["value"]))
    with pytest.raises(SecurityStatusError):
        visual.read_birth()
    assert visual.read_birth(pins.submit(birth_pin)) == expected
