"""TextSession (券面事項入力補助AP) against the emulated My Number card."""

from __future__ import annotations

from pathlib import Path

import pytest
from emulated_support import PINS, Emulated, MakeCard, PinLedger, find_file, profile_json

from jukicard.card import BasicInfo, DataIntegrityError, MyNumber, TextPin, TextSession
from jukicard.card.dataobjects import CvCertificate, Sex
from jukicard.card.layout import PinFormatError
from jukicard.errors import (
    BadResponse,
    PinBlockedError,
    PinError,
    SecurityStatusError,
    UsageError,
)

ROOT = Path(__file__).resolve().parents[2]


def expected(profile: str = "mynumber-01") -> tuple[MyNumber, BasicInfo, str]:
    prof = profile_json(profile)
    mn = MyNumber.parse(bytes.fromhex(find_file(prof, "text", "0001")["data"]))
    bi = BasicInfo.parse(bytes.fromhex(find_file(prof, "text", "0002")["data"]))
    match_b = find_file(prof, "text", "0015")["value"]
    return mn, bi, match_b


def test_pin_status_three_pins(mynumber: Emulated) -> None:
    text = TextSession(mynumber.transport)
    assert text.pin_status(TextPin.PIN).retries_left == 3
    assert text.pin_status(TextPin.MATCH_A).retries_left == 10
    assert text.pin_status(TextPin.MATCH_B).retries_left == 10
    assert mynumber.card.stats.verify_with_data == 0


def test_read_my_number_with_pin(mynumber: Emulated, pins: PinLedger) -> None:
    mn, _bi, _b = expected()
    got = TextSession(mynumber.transport).read_my_number(pin=pins.submit(PINS["text"]))
    assert got == mn and got.is_valid
    assert mn.digits not in repr(got)


def test_read_my_number_with_match_a(mynumber: Emulated, pins: PinLedger) -> None:
    mn, _bi, _b = expected()
    text = TextSession(mynumber.transport)
    assert text.read_my_number(match_a=pins.submit(mn.digits)) == mn
    assert text.read_my_number(match_a=MyNumber(pins.submit(mn.digits))) == mn
    # 照合番号A unlocks the My Number only
    with pytest.raises(SecurityStatusError):
        text.read_basic_info()


def test_read_basic_info_with_pin_and_match_b(mynumber: Emulated, pins: PinLedger) -> None:
    _mn, bi, match_b = expected()
    text = TextSession(mynumber.transport)
    got = text.read_basic_info(pin=pins.submit(PINS["text"]))
    assert (got.name, got.address, got.birth, got.sex) == (bi.name, bi.address, bi.birth, bi.sex)
    assert isinstance(got.sex, Sex)
    got_b = text.read_basic_info(match_b=pins.submit(match_b))
    assert got_b == bi
    # 照合番号B unlocks the 4 items only
    with pytest.raises(SecurityStatusError):
        text.read_my_number()


def test_reading_without_pin_is_security_status_error(mynumber: Emulated) -> None:
    text = TextSession(mynumber.transport)
    with pytest.raises(SecurityStatusError):
        text.read_my_number()
    with pytest.raises(SecurityStatusError):
        text.read_basic_info()


def test_verify_then_read(mynumber: Emulated, pins: PinLedger) -> None:
    mn, bi, _b = expected()
    text = TextSession(mynumber.transport)
    text.verify(TextPin.PIN, pins.submit(PINS["text"]))
    assert text.read_my_number() == mn
    assert text.read_basic_info() == bi


def test_two_unlock_arguments_is_usage_error(mynumber: Emulated) -> None:
    text = TextSession(mynumber.transport)
    with pytest.raises(UsageError):
        text.read_my_number(pin="1234", match_a="123456789018")
    with pytest.raises(UsageError):
        text.read_basic_info(pin="1234", match_b="1" * 14)


@pytest.mark.parametrize(
    ("call", "value"),
    [("pin", "123"), ("match_a", "12345678901"), ("match_b", "1" * 13), ("pin", "12345")],
)
def test_wrong_format_sends_nothing(mynumber: Emulated, call: str, value: str) -> None:
    text = TextSession(mynumber.transport)
    apdus = mynumber.card.stats.apdus
    with pytest.raises(PinFormatError):
        if call == "match_b":
            text.read_basic_info(match_b=value)
        else:
            text.read_my_number(**{call: value})
    assert mynumber.card.stats.apdus == apdus


def test_wrong_match_a_counts_down(mynumber: Emulated, pins: PinLedger) -> None:
    mn, _bi, _b = expected()
    wrong = "0" * 12 if mn.digits != "0" * 12 else "1" * 12
    text = TextSession(mynumber.transport)
    with pytest.raises(PinError) as info:
        text.read_my_number(match_a=pins.submit(wrong))
    assert info.value.retries_left == 9
    assert text.pin_status(TextPin.MATCH_A).retries_left == 9
    assert text.pin_status(TextPin.PIN).retries_left == 3


def test_text_pin_blocks(mynumber: Emulated, pins: PinLedger) -> None:
    text = TextSession(mynumber.transport)
    for _ in range(2):
        with pytest.raises(PinError):
            text.verify(TextPin.PIN, pins.submit("0000"))
    with pytest.raises(PinBlockedError):
        text.read_my_number(pin=pins.submit("0000"))
    assert text.pin_status(TextPin.PIN).blocked


def test_read_verified(mynumber: Emulated, pins: PinLedger) -> None:
    mn, bi, _b = expected()
    got_mn, got_bi = TextSession(mynumber.transport).read_verified(pins.submit(PINS["text"]))
    assert got_mn == mn and got_bi == bi
    assert mynumber.transport.apdus_outside_transaction == 0


def test_read_verified_with_issuer_key(mynumber: Emulated, pins: PinLedger) -> None:
    root = CvCertificate.parse((ROOT / "vectors/pki/cv/jlis-root.cvc").read_bytes())
    text = TextSession(mynumber.transport)
    text.read_verified(pins.submit(PINS["text"]), issuer_key=root.public_key())
    # a different issuer key: the CV certificate does not verify
    other = CvCertificate.parse((ROOT / "vectors/pki/cv/visual-ap.cvc").read_bytes())
    with pytest.raises(DataIntegrityError):
        text.read_verified(pins.submit(PINS["text"]), issuer_key=other.public_key())


def _tamper_name(ef: bytes) -> bytes:
    """Change one byte of the name, keeping the structure valid."""
    pos = ef.index(b"\xdf\x22") + 3
    return ef[:pos] + bytes([ef[pos] ^ 0x01]) + ef[pos + 1 :]


def test_tampered_basic_info_is_reported(make_card: MakeCard, pins: PinLedger) -> None:
    prof = profile_json("mynumber-01")
    entry = find_file(prof, "text", "0002")
    entry["data"] = _tamper_name(bytes.fromhex(entry["data"])).hex()
    emu = make_card(data=prof)
    with pytest.raises(DataIntegrityError) as info:
        TextSession(emu.transport).read_verified(pins.submit(PINS["text"]))
    assert isinstance(info.value, BadResponse)
    assert "basic info" in str(info.value)


def test_tampered_my_number_is_reported(make_card: MakeCard, pins: PinLedger) -> None:
    from jukicard.card.dataobjects import my_number_check_digit

    prof = profile_json("mynumber-01")
    entry = find_file(prof, "text", "0001")
    mn = MyNumber.parse(bytes.fromhex(entry["data"]))
    first = "9" + mn.digits[1:11] if mn.digits[0] != "9" else "8" + mn.digits[1:11]
    forged = MyNumber(first + str(my_number_check_digit(first)))  # valid check digit
    entry["data"] = bytes(forged).hex()
    emu = make_card(data=prof)
    with pytest.raises(DataIntegrityError) as info:
        TextSession(emu.transport).read_verified(pins.submit(PINS["text"]))
    assert "My Number" in str(info.value)
    assert forged.digits not in str(info.value)


def test_tampered_signature_is_reported(make_card: MakeCard, pins: PinLedger) -> None:
    prof = profile_json("mynumber-01")
    entry = find_file(prof, "text", "0003")
    raw = bytearray.fromhex(entry["data"])
    raw[-10] ^= 0xFF
    entry["data"] = raw.hex()
    emu = make_card(data=prof)
    with pytest.raises(DataIntegrityError):
        TextSession(emu.transport).read_verified(pins.submit(PINS["text"]))


def test_bad_check_digit_is_bad_response(make_card: MakeCard, pins: PinLedger) -> None:
    prof = profile_json("mynumber-01")
    entry = find_file(prof, "text", "0001")
    mn = MyNumber.parse(bytes.fromhex(entry["data"]))
    bad = mn.digits[:11] + str((int(mn.digits[11]) + 1) % 10)
    entry["data"] = bytes(MyNumber(bad)).hex()
    emu = make_card(data=prof)
    with pytest.raises(BadResponse):
        TextSession(emu.transport).read_my_number(pin=pins.submit(PINS["text"]))


def test_ap_basic_info_and_cv_certificate_need_no_pin(mynumber: Emulated) -> None:
    text = TextSession(mynumber.transport)
    info = text.read_ap_basic_info()
    cv = text.read_cv_certificate()
    assert info.key_id == cv.chr
    assert mynumber.card.stats.verify_with_data == 0


def test_short_apdu_card(make_card: MakeCard, pins: PinLedger) -> None:
    emu = make_card("mynumber-short")
    mn, bi, _b = expected("mynumber-short")
    result = TextSession(emu.transport).read_verified(pins.submit(PINS["text"]))
    assert (result.my_number, result.basic_info) == (mn, bi) == tuple(result)
