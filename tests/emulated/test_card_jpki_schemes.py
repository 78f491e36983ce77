"""The card's signing schemes (``80 2A P1 P2``, P1 ``00``-``05``, ``card-security.md`` §5) in
:class:`JpkiSession` and the emulator.  Every signature is checked here with ``cryptography``
against the certificate on the card, independently of the session's own check."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from emulated_support import PINS, Emulated, MakeCard, PinLedger, find_file, profile_json

from jukicard.card import (
    JpkiKey,
    JpkiPin,
    JpkiSession,
    JukiJpkiKey,
    JukiJpkiSession,
    SignScheme,
)
from jukicard.emulator import securitycmds
from jukicard.errors import CardError, DataIntegrityError, SecurityStatusError, UsageError

MESSAGE = b"application form"
SHA = hashlib.sha256(MESSAGE).digest()
#: The P2 naming each key by SFI (80|SFI) and the certificate that goes with it.
KEYS = {JpkiKey.AUTH: (0x97, "000A", "auth"), JpkiKey.SIGN: (0x9A, "0001", "sign")}
CARD_HASHES = (SignScheme.CARD_SHA256_BARE, SignScheme.CARD_SHA256, SignScheme.PSS_SHA256)


def cert_key(profile: str, app: str, fid: str) -> rsa.RSAPublicKey:
    der = bytes.fromhex(find_file(profile_json(profile), app, fid)["data"])
    key = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def check_independently(key: rsa.RSAPublicKey, scheme: SignScheme, sig: bytes) -> None:
    """Raise unless ``sig`` is ``scheme``'s signature of :data:`MESSAGE` under ``key``."""
    if scheme is SignScheme.CARD_SHA256_BARE:
        assert key.recover_data_from_signature(sig, padding.PKCS1v15(), None) == SHA
        with pytest.raises(InvalidSignature):  # no DigestInfo inside
            key.verify(sig, SHA, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    elif scheme.pss:  # SIGN-1: the emulator's salt is 32 bytes
        key.verify(sig, MESSAGE, padding.PSS(padding.MGF1(hashes.SHA256()), 32),
                   hashes.SHA256())
    else:
        key.verify(sig, MESSAGE, padding.PKCS1v15(), hashes.SHA256())


def raw(emu: Emulated, hex_apdu: str, data: bytes = b"") -> tuple[bytes, int]:
    head = bytes.fromhex(hex_apdu)
    apdu = head + (bytes((len(data),)) + data if data else b"") + b"\x00"
    return emu.transport.transmit(apdu)


def sign_commands(emu: Emulated) -> list[bytes]:
    return [c for c in emu.sent if c[:2] == bytes.fromhex("802A")]


# --------------------------------------------------------------------------- session
@pytest.mark.parametrize("scheme", list(SignScheme))
@pytest.mark.parametrize("key", [JpkiKey.AUTH, JpkiKey.SIGN])
def test_every_scheme_verifies_against_the_card_certificate(
    mynumber: Emulated, pins: PinLedger, scheme: SignScheme, key: JpkiKey
) -> None:
    _p2, cert_fid, pin = KEYS[key]
    kwargs = {"message": MESSAGE} if scheme.card_hashes else {"digest": SHA}
    sig = JpkiSession(mynumber.transport).sign(key, pins.submit(PINS[pin]), scheme=scheme,
                                               **kwargs)
    assert len(sig) == 256
    check_independently(cert_key("mynumber-01", "jpki", cert_fid), scheme, sig)
    (cmd,) = sign_commands(mynumber)
    assert cmd[2:4] == bytes((scheme.p1, 0x80))
    payload = cmd[5:-1]
    if scheme.card_hashes:
        assert payload == MESSAGE
    elif scheme is SignScheme.DIGEST_INFO:
        assert payload.endswith(SHA) and len(payload) == 51
    else:
        assert payload == SHA
    assert mynumber.card.stats.verify_with_data == 1  # one VERIFY per call


def test_pkcs1_schemes_are_one_padded_block(mynumber: Emulated, pins: PinLedger) -> None:
    """P1 00 (host DigestInfo), 02 (card wraps) and 03 (card hashes and wraps) pad the same
    block, so PKCS#1 v1.5 makes the same signature; a message given for 02 is hashed here."""
    jpki = JpkiSession(mynumber.transport)
    jpki.verify(JpkiPin.AUTH, pins.submit(PINS["auth"]))
    sigs = {
        jpki.sign(JpkiKey.AUTH, None, message=MESSAGE),
        jpki.sign(JpkiKey.AUTH, None, digest=SHA, scheme=SignScheme.CARD_DIGEST_INFO),
        jpki.sign(JpkiKey.AUTH, None, message=MESSAGE, scheme=SignScheme.CARD_DIGEST_INFO),
        jpki.sign(JpkiKey.AUTH, None, message=MESSAGE, scheme=SignScheme.CARD_SHA256),
    }
    assert len(sigs) == 1


def test_pss_on_the_juki_card_rsa_1024(juki: Emulated, pins: PinLedger) -> None:
    sig = JukiJpkiSession(juki.transport).sign(
        JukiJpkiKey.SIGN, pins.submit(PINS["juki_sign"]), message=MESSAGE,
        scheme=SignScheme.PSS_SHA256)
    assert len(sig) == 128
    check_independently(cert_key("juki-01", "jpki", "0001"), SignScheme.PSS_SHA256, sig)


@pytest.mark.parametrize(
    ("scheme", "kwargs"),
    [
        (0x04, {"digest": SHA}),                                  # a bare P1 is not a scheme
        ("pss", {"digest": SHA}),
        (SignScheme.PSS_SHA256, {"digest": SHA}),                 # the card hashes
        (SignScheme.CARD_SHA256_BARE, {"digest": SHA}),
        (SignScheme.CARD_SHA256, {"message": b""}),               # 1..255 bytes
        (SignScheme.CARD_SHA256, {"message": b"x" * 256}),
        (SignScheme.PSS_DIGEST, {"digest": SHA[:31]}),
        (SignScheme.CARD_DIGEST_INFO, {"digest": SHA + b"\x00"}),
        (SignScheme.PSS_DIGEST, {"digest": hashlib.sha384(MESSAGE).digest(),
                                 "hash_alg": "sha384"}),          # SHA-256 only
        (SignScheme.CARD_SHA256, {"message": MESSAGE, "hash_alg": "sha512"}),
        (SignScheme.PSS_DIGEST, {"digest": SHA, "message": MESSAGE}),
        (SignScheme.PSS_SHA256, {"message": "text"}),
    ],
)
def test_bad_scheme_or_input_is_usage_error_and_sends_nothing(
    mynumber: Emulated, scheme: object, kwargs: dict
) -> None:
    jpki = JpkiSession(mynumber.transport)
    apdus = mynumber.card.stats.apdus
    with pytest.raises(UsageError):
        jpki.sign(JpkiKey.AUTH, PINS["auth"], scheme=scheme, **kwargs)  # type: ignore[arg-type]
    assert mynumber.card.stats.apdus == apdus


def test_card_message_of_255_bytes_is_signed(mynumber: Emulated, pins: PinLedger) -> None:
    msg = bytes(range(255))
    sig = JpkiSession(mynumber.transport).sign(
        JpkiKey.AUTH, pins.submit(PINS["auth"]), message=msg, scheme=SignScheme.CARD_SHA256)
    cert_key("mynumber-01", "jpki", "000A").verify(sig, msg, padding.PKCS1v15(),
                                                   hashes.SHA256())


@pytest.mark.parametrize("scheme", list(SignScheme))
def test_signature_of_another_key_is_data_integrity_error(
    make_card: MakeCard, pins: PinLedger, scheme: SignScheme
) -> None:
    """The session checks every scheme's signature against the certificate."""
    prof = profile_json("mynumber-01")
    # the auth key slot holds the sign key: valid signatures, wrong certificate
    find_file(prof, "jpki", "0017")["private_key_pem"] = find_file(
        prof, "jpki", "001A")["private_key_pem"]
    emu = make_card(data=prof)
    kwargs = {"message": MESSAGE} if scheme.card_hashes else {"digest": SHA}
    with pytest.raises(DataIntegrityError):
        JpkiSession(emu.transport).sign(JpkiKey.AUTH, pins.submit(PINS["auth"]),
                                        scheme=scheme, **kwargs)
    assert emu.card.stats.signatures == 1


@pytest.mark.parametrize(
    ("asked", "answered"),
    [(SignScheme.PSS_DIGEST, 0x02), (SignScheme.CARD_DIGEST_INFO, 0x04),
     (SignScheme.CARD_SHA256_BARE, 0x03), (SignScheme.CARD_SHA256, 0x01)],
)
def test_card_signing_under_another_scheme_is_data_integrity_error(
    mynumber: Emulated, pins: PinLedger, monkeypatch: pytest.MonkeyPatch,
    asked: SignScheme, answered: int,
) -> None:
    """Stand-in for a faulty card: the emulator signs with another scheme than P1 asks;
    the signature is valid for the key but not for the scheme, and is refused."""
    original = securitycmds._scheme_signature

    def wrong_scheme(p1: int, key: object, data: bytes) -> bytes:
        if p1 == asked.p1:
            data = SHA if answered in (0x02, 0x04) else MESSAGE
            return original(answered, key, data)  # type: ignore[arg-type]
        return original(p1, key, data)  # type: ignore[arg-type]

    monkeypatch.setattr(securitycmds, "_scheme_signature", wrong_scheme)
    kwargs = {"message": MESSAGE} if asked.card_hashes else {"digest": SHA}
    with pytest.raises(DataIntegrityError):
        JpkiSession(mynumber.transport).sign(JpkiKey.AUTH, pins.submit(PINS["auth"]),
                                             scheme=asked, **kwargs)


def test_card_without_pss_stand_in_answers_6a86_typed(
    mynumber: Emulated, pins: PinLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stand-in for a card that knows only P1 00-03: its ``6A86`` is a typed CardError, after
    exactly the one VERIFY the caller's PIN was for."""
    monkeypatch.setattr(securitycmds, "_LAST_SCHEME", 0x03)
    with pytest.raises(CardError) as info:
        JpkiSession(mynumber.transport).sign(JpkiKey.AUTH, pins.submit(PINS["auth"]),
                                             message=MESSAGE, scheme=SignScheme.PSS_SHA256)
    assert info.value.sw == 0x6A86
    assert mynumber.card.stats.signatures == 0


def test_no_pin_and_locked_key_is_security_status_for_every_scheme(
    mynumber: Emulated,
) -> None:
    jpki = JpkiSession(mynumber.transport)
    for scheme in SignScheme:
        kwargs = {"message": MESSAGE} if scheme.card_hashes else {"digest": SHA}
        with pytest.raises(SecurityStatusError):
            jpki.sign(JpkiKey.SIGN, None, scheme=scheme, **kwargs)
    assert mynumber.card.stats.verify_with_data == 0


# --------------------------------------------------------------------------- emulator APDUs
def unlock(emu: Emulated, pins: PinLedger, pin: JpkiPin, value: str) -> None:
    JpkiSession(emu.transport).verify(pin, pins.submit(value))


@pytest.mark.parametrize("p1", [0x06, 0x10, 0x80, 0xFF])
def test_unknown_p1_is_6a86(mynumber: Emulated, pins: PinLedger, p1: int) -> None:
    unlock(mynumber, pins, JpkiPin.AUTH, PINS["auth"])
    _data, sw = raw(mynumber, f"802A{p1:02X}97", SHA)
    assert sw == 0x6A86
    assert mynumber.card.stats.signatures == 0


@pytest.mark.parametrize("p1", [0x00, 0x01, 0x02, 0x03])
@pytest.mark.parametrize("key", [JpkiKey.AUTH, JpkiKey.SIGN])
def test_p2_sfi_equals_select_then_80(
    mynumber: Emulated, pins: PinLedger, p1: int, key: JpkiKey
) -> None:
    p2, _cert, pin = KEYS[key]
    unlock(mynumber, pins, JpkiPin.AUTH if key is JpkiKey.AUTH else JpkiPin.SIGN, PINS[pin])
    data = MESSAGE if p1 in (0x01, 0x03) else SHA
    if p1 == 0x00:
        data = bytes.fromhex("3031300d060960864801650304020105000420") + SHA
    by_sfi, sw1 = raw(mynumber, f"802A{p1:02X}{p2:02X}", data)
    _d, sw_sel = raw(mynumber, "00A4020C02" + f"{key.spec.ef:04X}")
    by_select, sw2 = raw(mynumber, f"802A{p1:02X}80", data)
    assert (sw1, sw_sel, sw2) == (0x9000, 0x9000, 0x9000)
    assert by_sfi == by_select and len(by_sfi) == 256


def test_p2_sfi_needs_the_key_pin_and_an_existing_key(
    mynumber: Emulated, pins: PinLedger
) -> None:
    unlock(mynumber, pins, JpkiPin.AUTH, PINS["auth"])
    assert raw(mynumber, "802A009A", SHA)[1] == 0x6982  # sign key: sign password not given
    assert raw(mynumber, "802A0081", SHA)[1] == 0x6981  # EF 0001 is a certificate
    assert raw(mynumber, "802A009E", SHA)[1] == 0x6A88  # no EF 001E
    assert raw(mynumber, "802A009F", SHA)[1] == 0x6A86
    assert mynumber.card.stats.signatures == 0


@pytest.mark.parametrize(
    ("p1", "length", "sw"),
    [(p1, 0, 0x6700) for p1 in range(6)]
    + [(0x00, 246, 0x6700), (0x02, 31, 0x6985), (0x02, 33, 0x6985),
       (0x04, 31, 0x6985), (0x04, 64, 0x6985)],
)
def test_bad_input_length_sw(
    mynumber: Emulated, pins: PinLedger, p1: int, length: int, sw: int
) -> None:
    """SIGN-2: no data or too much for P1 00 is 6700; not a 32-byte hash for 02/04 is 6985."""
    unlock(mynumber, pins, JpkiPin.AUTH, PINS["auth"])
    assert raw(mynumber, f"802A{p1:02X}97", b"\x01" * length)[1] == sw
    assert mynumber.card.stats.signatures == 0


def test_p1_00_at_the_length_limit_still_signs(mynumber: Emulated, pins: PinLedger) -> None:
    unlock(mynumber, pins, JpkiPin.AUTH, PINS["auth"])
    data, sw = raw(mynumber, "802A0097", b"\x01" * 245)
    assert sw == 0x9000 and len(data) == 256
