"""住基カード sessions and card detection."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from emulated_support import PINS, Emulated, MakeCard, PinLedger, find_file, profile_json

from jukicard.card import (
    App,
    CardType,
    JpkiCert,
    JpkiKey,
    JpkiPin,
    JpkiSession,
    JukiJpkiCert,
    JukiJpkiKey,
    JukiJpkiPin,
    JukiJpkiSession,
    JukiPin,
    JukiSession,
    TokenKind,
    open_card,
)
from jukicard.card.layout import PinFormatError
from jukicard.errors import ApplicationNotFound, PinError, SecurityStatusError, UsageError


# --------------------------------------------------------------------------- 住基カード
def test_juki_jpki_sign_certificate_and_rsa1024_signature(juki: Emulated, pins: PinLedger) -> None:
    jpki = JukiJpkiSession(juki.transport)
    assert jpki.token_info().kind is TokenKind.JUKI_CARD
    assert jpki.pin_status(JukiJpkiPin.SIGN).retries_left == 5
    with pytest.raises(SecurityStatusError):
        jpki.read_certificate(JukiJpkiCert.SIGN)
    der = jpki.read_certificate(JukiJpkiCert.SIGN, pin=pins.submit(PINS["juki_sign"]))
    assert der == bytes.fromhex(find_file(profile_json("juki-01"), "jpki", "0001")["data"])
    digest = hashlib.sha256(b"juki").digest()
    sig = jpki.sign(JukiJpkiKey.SIGN, pins.submit(PINS["juki_sign"]), digest=digest)
    key = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 1024
    assert len(sig) == 128
    key.verify(sig, digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    assert jpki.read_certificate(JukiJpkiCert.SIGN_CA)


def test_juki_jpki_refuses_my_number_layout(juki: Emulated) -> None:
    jpki = JukiJpkiSession(juki.transport)
    with pytest.raises(UsageError):
        jpki.pin_status(JpkiPin.AUTH)
    with pytest.raises(UsageError):
        jpki.read_certificate(JpkiCert.AUTH)
    with pytest.raises(UsageError):
        jpki.sign(JpkiKey.AUTH, "1234", message=b"x")


@pytest.mark.parametrize("value", ["JK1", "A" * 17, "JK-2"])
def test_juki_password_format(juki: Emulated, value: str) -> None:
    apdus = juki.card.stats.apdus
    with pytest.raises(PinFormatError):
        JukiJpkiSession(juki.transport).verify(JukiJpkiPin.SIGN, value)
    assert juki.card.stats.apdus == apdus + 1  # only the constructor's SELECT


def test_juki_ap_resident_code(juki: Emulated, pins: PinLedger) -> None:
    ja = JukiSession(juki.transport)
    assert ja.pin_status().retries_left == 3
    with pytest.raises(SecurityStatusError):
        ja.read_resident_code()
    code = ja.read_resident_code(pins.submit(PINS["juki"]))
    raw = bytes.fromhex(find_file(profile_json("juki-01"), "juki", "0001")["data"])
    assert code.digits == raw.decode("ascii")
    assert code.digits not in repr(code)
    with pytest.raises(PinError) as info:
        ja.verify(JukiPin.PIN, pins.submit("0000"))
    assert info.value.retries_left == 2
    assert ja.pin_status(JukiPin.PIN).retries_left == 2


def test_juki_card_has_no_text_ap(juki: Emulated) -> None:
    from jukicard.card import TextSession

    with pytest.raises(ApplicationNotFound) as info:
        TextSession(juki.transport)
    assert info.value.sw == 0x6A82


# --------------------------------------------------------------------------- detection
@pytest.mark.parametrize(
    ("profile", "card_type", "apps", "session"),
    [
        ("mynumber-01", CardType.MYNUMBER, {App.JPKI, App.TEXT, App.VISUAL}, JpkiSession),
        ("mynumber-short", CardType.MYNUMBER, {App.JPKI, App.TEXT, App.VISUAL}, JpkiSession),
        ("juki-01", CardType.JUKI, {App.JPKI, App.JUKI}, JukiJpkiSession),
    ],
)
def test_open_card(
    make_card: MakeCard, profile: str, card_type: CardType, apps: set, session: type
) -> None:
    emu = make_card(profile)
    card = open_card(emu.transport)
    assert card.card_type is card_type
    assert card.applications == frozenset(a.application for a in apps)
    assert all(card.has(a) and card.has(a.application) for a in apps)
    assert type(card.jpki()) is session
    assert emu.transport.apdus_outside_transaction == 0
    for app in App:
        if card.has(app) or app is App.COMMON:
            continue
        with pytest.raises(ApplicationNotFound):
            {App.TEXT: card.text, App.VISUAL: card.visual, App.JUKI: card.juki,
             App.JPKI: card.jpki}[app]()


@pytest.mark.parametrize("atr", ["3BDA13FF8131FB468012392F31C173C601C03B",
                                 "3BC5FF8131FB458073C6010000", "3B8880010000000000000000"])
def test_detection_ignores_atr(make_card: MakeCard, atr: str) -> None:
    emu = make_card("mynumber-01", atr=bytes.fromhex(atr))
    assert open_card(emu.transport).card_type is CardType.MYNUMBER
    emu = make_card("juki-01", atr=bytes.fromhex("3BE000FF8131FE4514"))
    assert open_card(emu.transport).card_type is CardType.JUKI


def test_smartphone_token(make_card: MakeCard, pins: PinLedger) -> None:
    prof = profile_json("mynumber-01")
    prof["applications"] = [a for a in prof["applications"] if a["name"] == "jpki"]
    token = find_file(prof, "jpki", "0006")
    token["data"] = b"JPKIAPGPSETOKEN".ljust(32, b" ").hex()
    find_file(prof, "jpki", "000A")["read"] = {"any_of": ["0018"]}
    emu = make_card(data=prof)
    card = open_card(emu.transport)
    assert card.card_type is CardType.SMARTPHONE
    jpki = card.jpki()
    with pytest.raises(SecurityStatusError):
        jpki.read_certificate(JpkiCert.AUTH)
    assert jpki.read_certificate(JpkiCert.AUTH, pin=pins.submit(PINS["auth"]))


def test_not_our_card(make_card: MakeCard) -> None:
    prof = profile_json("mynumber-01")
    prof["applications"] = []
    emu = make_card(data=prof)
    with pytest.raises(ApplicationNotFound):
        open_card(emu.transport)


def test_card_without_token_is_classified_by_applications(make_card: MakeCard) -> None:
    prof = profile_json("mynumber-01")
    jpki = next(a for a in prof["applications"] if a["name"] == "jpki")
    jpki["files"] = [f for f in jpki["files"] if f["fid"] != "0006"]
    emu = make_card(data=prof)
    card = open_card(emu.transport)
    assert card.token is None and card.card_type is CardType.MYNUMBER


def test_open_card_invalidates_earlier_sessions(mynumber: Emulated, pins: PinLedger) -> None:
    """Detection on a card's channel logs out the sessions of that channel."""
    card = open_card(mynumber.transport)
    jpki = card.jpki()
    jpki.verify(JpkiPin.SIGN, pins.submit(PINS["sign"]))
    assert jpki.is_verified(JpkiPin.SIGN)
    open_card(card.channel)
    assert jpki.verified == frozenset()


def test_sessions_of_a_card_share_its_channel(mynumber: Emulated) -> None:
    card = open_card(mynumber.transport)
    assert card.jpki().channel is card.channel is card.text().channel
    assert card.transport is mynumber.transport
