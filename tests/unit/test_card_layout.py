"""The card layout (jukicard.card.layout) against the emulator's card profiles, and the
PIN-format rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jukicard.apdu.apps import Application, all_applications
from jukicard.card.detect import DETECTION
from jukicard.card.layout import (
    App,
    Charset,
    JpkiCert,
    JpkiKey,
    JpkiPin,
    JukiEf,
    JukiJpkiCert,
    JukiJpkiKey,
    JukiJpkiPin,
    JukiPin,
    PinFormatError,
    PinSpec,
    TextEf,
    TextPin,
    VisualEf,
    VisualPin,
    make_match_b,
)
from jukicard.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
PROFILES = sorted((ROOT / "vectors" / "cards").glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _files(app: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(f["fid"], 16): f for f in app["files"]}


def _pin_refs(read: Any) -> set[int] | str:
    if isinstance(read, str):
        return read
    return {int(x, 16) for x in read["any_of"]}


#: per card type: application name -> (pins, certs, keys, data EFs) the layout promises
def _expected(card_type: str) -> dict[str, tuple[list[PinSpec], list[Any], list[Any], list[int]]]:
    if card_type == "juki":
        return {
            "jpki": ([p.value for p in JukiJpkiPin], [c.value for c in JukiJpkiCert],
                     [k.value for k in JukiJpkiKey], []),
            "juki": ([p.value for p in JukiPin], [], [], [int(e) for e in JukiEf]),
        }
    return {
        "jpki": ([p.value for p in JpkiPin], [c.value for c in JpkiCert],
                 [k.value for k in JpkiKey], []),
        "text": ([p.value for p in TextPin], [], [], [int(e) for e in TextEf]),
        "visual": ([p.value for p in VisualPin], [], [],
                   [int(VisualEf.ENTRIES)]),
    }


def test_profiles_exist() -> None:
    names = {p.stem for p in PROFILES}
    assert {"mynumber-01", "juki-01", "mynumber-short"} <= names


def _known_applications() -> dict[bytes, list[Application]]:
    """AID -> the facts jukicard knows for it: the built-in catalogue and variants, and every
    application (and variant) of the detection table, read now — so a new application added
    with its row (README "Extending") needs no edit here."""
    known: dict[bytes, list[Application]] = {}
    apps = (*all_applications(), *(a for row in DETECTION for a in row.applications()))
    for app in dict.fromkeys(apps):
        known.setdefault(app.aid, []).append(app)
    return known


def _pin_files_match(files: dict[int, dict[str, Any]], app: Application) -> bool:
    """True if every PIN of ``app``'s facts is a PIN file of the profile with its format."""
    for pin in app.pins:
        f = files.get(pin.ef)
        if f is None or f["kind"] != "pin" or (f["min_len"], f["max_len"], f["max_tries"]) != (
                pin.min_len, pin.max_len, pin.max_tries):
            return False
    return True


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.stem)
def test_layout_matches_profile(path: Path) -> None:
    """Old code required every profile AID to be an ``App`` member: a profile holding an
    application added by one detection row (the README's "Extending" recipe, e.g. the
    review's loyalty AP) failed although ``App`` need not be touched."""
    prof = _load(path)
    by_aid = {bytes.fromhex(a["aid"]): a for a in prof["applications"]}
    # every application in the profile is one jukicard knows, with the same name, and its
    # PIN files have the formats of its facts (of one of its variants)
    known = _known_applications()
    for aid, app in by_aid.items():
        assert aid in known, f"unknown AID {aid.hex()}"
        assert app["name"] in {facts.name for facts in known[aid]}
        assert any(_pin_files_match(_files(app), facts) for facts in known[aid]), app["name"]

    for app_name, (pins, certs, keys, efs) in _expected(prof["card_type"]).items():
        app = next(a for a in prof["applications"] if a["name"] == app_name)
        files = _files(app)
        for pin in pins:
            f = files.get(pin.ef)
            assert f is not None and f["kind"] == "pin", f"{app_name}: PIN {pin.ef:04X} missing"
            assert (f["min_len"], f["max_len"]) == (pin.min_len, pin.max_len), pin.name
            assert f["max_tries"] == pin.max_tries, pin.name
            # the profile's value is acceptable to the client-side format check
            assert pin.encode(f["value"]) == f["value"].encode("ascii"), pin.name
        for cert in certs:
            f = files[cert.ef]
            assert f["kind"] == "binary"
            expected = "always" if cert.pin is None else {cert.pin.ef}
            assert _pin_refs(f.get("read", "always")) == expected, cert.name
            assert bytes.fromhex(f["data"])[:2] == b"\x30\x82"
        for key in keys:
            f = files[key.ef]
            assert f["kind"] == "rsa_key"
            assert _pin_refs(f["use"]) == {key.pin.ef}, key.name
            from cryptography.hazmat.primitives.serialization import load_pem_private_key

            pk = load_pem_private_key(f["private_key_pem"].encode(), None)
            assert pk.key_size == key.bits, key.name  # type: ignore[union-attr]
        for ef in efs:
            assert ef in files and files[ef]["kind"] in ("binary", "record"), f"{ef:04X}"


def test_aids_are_national_rid() -> None:
    assert all(app.aid[:2] == b"\xd3\x92" and len(app.aid) == 10 for app in App)
    assert len({app.aid for app in App}) == len(App)
    assert not App.JUKI.value.verified_layout and App.JPKI.value.verified_layout


# --------------------------------------------------------------------------- PIN formats
@pytest.mark.parametrize(
    ("spec", "value", "sent"),
    [
        (JpkiPin.AUTH.value, "0000", b"0000"),
        (JpkiPin.SIGN.value, "abc123", b"ABC123"),
        (JpkiPin.SIGN.value, "A" * 15 + "1", b"A" * 15 + b"1"),
        (JukiJpkiPin.SIGN.value, "jk12", b"jk12"),
        (TextPin.MATCH_B.value, "01020320321234", b"01020320321234"),
    ],
)
def test_pin_encode(spec: PinSpec, value: str, sent: bytes) -> None:
    assert spec.encode(value) == sent


@pytest.mark.parametrize(
    ("spec", "value"),
    [
        (JpkiPin.AUTH.value, ""),
        (JpkiPin.AUTH.value, "123"),
        (JpkiPin.AUTH.value, "12345"),
        (JpkiPin.AUTH.value, "12 4"),
        (JpkiPin.AUTH.value, "١٢٣٤"),  # Arabic-Indic digits are not ASCII digits
        (JpkiPin.SIGN.value, "ÄBC123"),
        # str.upper() maps these to ASCII ("ı" → "I", "ſ" → "S", "ﬀ" → "FF"): the PIN
        # sent would not be the one typed, so they are refused as typed
        (JpkiPin.SIGN.value, "abcıı1"),
        (JpkiPin.SIGN.value, "ſtest1"),
        (JpkiPin.SIGN.value, "ﬀ1234"),
        (JpkiPin.SIGN.value, "ABC12"),
        (JukiJpkiPin.SIGN.value, "JK1"),
        (TextPin.MATCH_A.value, "12345678901X"),
    ],
)
def test_pin_encode_rejects(spec: PinSpec, value: str) -> None:
    with pytest.raises(PinFormatError) as info:
        spec.encode(value)
    assert isinstance(info.value, UsageError)
    if value:
        assert value not in str(info.value)


def test_new_sign_password_needs_letter_and_digit() -> None:
    spec = JpkiPin.SIGN.value
    assert spec.encode("ABCDEF") == b"ABCDEF"  # an old value can still be verified
    for bad in ("ABCDEF", "123456"):
        with pytest.raises(PinFormatError):
            spec.encode_new(bad)
    assert spec.encode_new("abc123") == b"ABC123"
    assert JpkiPin.AUTH.value.encode_new("1234") == b"1234"


def test_charsets() -> None:
    assert Charset.DIGITS.allowed() == frozenset("0123456789")
    assert "a" not in Charset.ALNUM_UPPER.allowed() and "a" in Charset.ALNUM.allowed()


def test_make_match_b() -> None:
    assert make_match_b("070415", 2034, "5678") == "07041520345678"
    assert len(make_match_b("070415", "2034", "5678")) == TextPin.MATCH_B.value.max_len
    for args in (("07041", 2034, "5678"), ("070415", 34, "5678"), ("070415", 2034, "56a8"),
                 ("０７０４１５", 2034, "5678")):
        with pytest.raises(PinFormatError):
            make_match_b(*args)
