"""JpkiSession against the emulated My Number card."""

from __future__ import annotations

import hashlib

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from emulated_support import PINS, Emulated, MakeCard, PinLedger, find_file, profile_json

from jukicard.card import HashAlg, JpkiCert, JpkiKey, JpkiPin, JpkiSession, TokenKind
from jukicard.card.layout import PinFormatError
from jukicard.errors import (
    BadResponse,
    FileNotFoundOnCard,
    PinBlockedError,
    PinError,
    SecurityStatusError,
    UsageError,
)


def verifies(cert_der: bytes, signature: bytes, digest: bytes, alg: hashes.HashAlgorithm) -> bool:
    key = x509.load_der_x509_certificate(cert_der).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    try:
        key.verify(signature, digest, padding.PKCS1v15(), Prehashed(alg))
    except Exception:
        return False
    return True


def ef_data(profile: str, app: str, fid: str) -> bytes:
    return bytes.fromhex(find_file(profile_json(profile), app, fid)["data"])


def verify_apdus(emu: Emulated) -> list[bytes]:
    return [c for c in emu.sent if c[1] == 0x20 and len(c) > 4]


# --------------------------------------------------------------------------- token / status
def test_token_info_my_number_card(mynumber: Emulated) -> None:
    token = JpkiSession(mynumber.transport).token_info()
    assert token.token == "JPKIAPICCTOKEN2"
    assert token.kind is TokenKind.MYNUMBER_CARD


def test_pin_status_both_pins_never_decrements(mynumber: Emulated) -> None:
    jpki = JpkiSession(mynumber.transport)
    for _ in range(3):
        assert jpki.pin_status(JpkiPin.AUTH).retries_left == 3
        assert jpki.pin_status(JpkiPin.SIGN).retries_left == 5
    assert mynumber.card.stats.verify_with_data == 0
    assert mynumber.card.stats.verify_status_queries == 6
    status = jpki.pin_status(JpkiPin.AUTH)
    assert not status.blocked and status.max_tries == 3


def test_every_operation_runs_in_a_transaction(mynumber: Emulated, pins: PinLedger) -> None:
    jpki = JpkiSession(mynumber.transport)
    jpki.token_info()
    jpki.pin_status(JpkiPin.SIGN)
    jpki.read_certificate(JpkiCert.SIGN, pin=pins.submit(PINS["sign"]))
    jpki.sign(JpkiKey.AUTH, pins.submit(PINS["auth"]), message=b"m")
    assert mynumber.transport.apdu_count > 10
    assert mynumber.transport.apdus_outside_transaction == 0
    assert mynumber.transport.transaction_depth == 0


# --------------------------------------------------------------------------- VERIFY
def test_verify_success_tracks_state(mynumber: Emulated, pins: PinLedger) -> None:
    jpki = JpkiSession(mynumber.transport)
    assert jpki.verified == frozenset()
    jpki.verify(JpkiPin.AUTH, pins.submit(PINS["auth"]))
    assert jpki.is_verified(JpkiPin.AUTH)
    assert not jpki.is_verified(JpkiPin.SIGN)
    # a status query does not log the PIN out, and keeps the counter at max
    assert jpki.pin_status(JpkiPin.AUTH).retries_left == 3
    assert jpki.is_verified(JpkiPin.AUTH)


def test_wrong_pin_decrements_by_exactly_one(mynumber: Emulated, pins: PinLedger) -> None:
    jpki = JpkiSession(mynumber.transport)
    before = jpki.pin_status(JpkiPin.SIGN).retries_left
    with pytest.raises(PinError) as info:
        jpki.verify(JpkiPin.SIGN, pins.submit("WRONG1"))
    assert not isinstance(info.value, PinBlockedError)
    assert info.value.retries_left == before - 1
    assert jpki.pin_status(JpkiPin.SIGN).retries_left == before - 1
    assert not jpki.is_verified(JpkiPin.SIGN)
    assert "WRONG1" not in str(info.value)
    # a correct PIN resets the counter
    jpki.verify(JpkiPin.SIGN, pins.submit(PINS["sign"]))
    assert jpki.pin_status(JpkiPin.SIGN).retries_left == 5


def test_sign_password_is_upper_cased(mynumber: Emulated, pins: PinLedger) -> None:
    jpki = JpkiSession(mynumber.transport)
    jpki.verify(JpkiPin.SIGN, pins.submit(PINS["sign"].lower()))
    assert jpki.is_verified(JpkiPin.SIGN)


def test_blocked_pin(mynumber: Emulated, pins: PinLedger) -> None:
    jpki = JpkiSession(mynumber.transport)
    for expected in (2, 1):
        with pytest.raises(PinError) as info:
            jpki.verify(JpkiPin.AUTH, pins.submit("0000"))
        assert info.value.retries_left == expected
    with pytest.raises(PinBlockedError) as blocked:
        jpki.verify(JpkiPin.AUTH, pins.submit("0000"))
    assert blocked.value.retries_left == 0
    status = jpki.pin_status(JpkiPin.AUTH)
    assert status.retries_left == 0 and status.blocked
    # even the right PIN is refused now (6984), and the counter stays at 0
    with pytest.raises(PinBlockedError) as again:
        jpki.verify(JpkiPin.AUTH, pins.submit(PINS["auth"]))
    assert again.value.sw == 0x6984
    assert jpki.pin_status(JpkiPin.AUTH).retries_left == 0
    # the other PIN is unaffected
    assert jpki.pin_status(JpkiPin.SIGN).retries_left == 5


@pytest.mark.parametrize(
    ("pin", "value"),
    [
        (JpkiPin.AUTH, "123"),
        (JpkiPin.AUTH, "12345"),
        (JpkiPin.AUTH, "12a4"),
        (JpkiPin.AUTH, "１２３４"),  # full-width digits
        (JpkiPin.SIGN, "AB12"),
        (JpkiPin.SIGN, "A" * 17),
        (JpkiPin.SIGN, "ABC-123"),
    ],
)
def test_wrong_pin_format_sends_nothing(mynumber: Emulated, pin: JpkiPin, value: str) -> None:
    jpki = JpkiSession(mynumber.transport)
    apdus = mynumber.card.stats.apdus
    with pytest.raises(UsageError) as info:
        jpki.verify(pin, value)
    assert isinstance(info.value, PinFormatError)
    assert value not in str(info.value)
    with pytest.raises(UsageError):
        jpki.sign(JpkiKey.AUTH if pin is JpkiPin.AUTH else JpkiKey.SIGN, value, message=b"x")
    assert mynumber.card.stats.apdus == apdus  # nothing was sent
    assert mynumber.card.stats.verify_with_data == 0


def test_pin_must_be_str(mynumber: Emulated) -> None:
    jpki = JpkiSession(mynumber.transport)
    with pytest.raises(UsageError):
        jpki.verify(JpkiPin.AUTH, 1234)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- certificates
@pytest.mark.parametrize(
    ("cert", "fid"),
    [(JpkiCert.AUTH, "000A"), (JpkiCert.AUTH_CA, "000B"), (JpkiCert.SIGN_CA, "0002")],
)
def test_read_public_certificates(mynumber: Emulated, cert: JpkiCert, fid: str) -> None:
    der = JpkiSession(mynumber.transport).read_certificate(cert)
    assert der == ef_data("mynumber-01", "jpki", fid)
    x509.load_der_x509_certificate(der)


def test_read_sign_certificate_needs_password(mynumber: Emulated, pins: PinLedger) -> None:
    jpki = JpkiSession(mynumber.transport)
    with pytest.raises(SecurityStatusError) as info:
        jpki.read_certificate(JpkiCert.SIGN)
    assert info.value.sw == 0x6982
    der = jpki.read_certificate(JpkiCert.SIGN, pin=pins.submit(PINS["sign"]))
    assert der == ef_data("mynumber-01", "jpki", "0001")
    # verified in this selection: readable again without the PIN
    assert jpki.read_certificate(JpkiCert.SIGN) == der
    assert len(verify_apdus(mynumber)) == 1


def test_silent_reset_is_recovered_without_resending_the_pin(
    mynumber: Emulated, pins: PinLedger
) -> None:
    """The card loses its state with no transport event (no generation change): the next
    operation fails once, the session forgets, and the one after asks for the PIN again."""
    jpki = JpkiSession(mynumber.transport)
    jpki.verify(JpkiPin.SIGN, pins.submit(PINS["sign"]))
    mynumber.card.reset()  # behind the transport's back
    with pytest.raises(FileNotFoundOnCard):
        jpki.read_certificate(JpkiCert.SIGN)
    assert not jpki.verified
    with pytest.raises(SecurityStatusError):
        jpki.read_certificate(JpkiCert.SIGN)
    assert len(verify_apdus(mynumber)) == 1


def test_read_certificate_with_pin_for_unprotected_cert_is_usage_error(
    mynumber: Emulated,
) -> None:
    with pytest.raises(UsageError):
        JpkiSession(mynumber.transport).read_certificate(JpkiCert.AUTH_CA, pin="1234")


def test_certificate_extended_read_is_header_then_one_read(mynumber: Emulated) -> None:
    JpkiSession(mynumber.transport).read_certificate(JpkiCert.AUTH)
    reads = [c for c in mynumber.sent if c[1] == 0xB0]
    assert reads[0] == bytes.fromhex("00B0000004")
    assert len(reads) == 2 and reads[1][4] == 0x00 and len(reads[1]) == 7  # extended Le


def test_certificate_short_card_reads_256_byte_chunks(make_card: MakeCard) -> None:
    emu = make_card("mynumber-short")
    der = JpkiSession(emu.transport).read_certificate(JpkiCert.AUTH)
    assert der == ef_data("mynumber-short", "jpki", "000A")
    reads = [c for c in emu.sent if c[1] == 0xB0]
    short = [c for c in reads if len(c) == 5]
    assert len(short) >= (len(der) - 4) // 256 + 1
    assert all(c[4] in (0x00, 0x04) or c is short[-1] for c in short)


def test_certificate_short_only_session(mynumber: Emulated) -> None:
    jpki = JpkiSession(mynumber.transport, extended=False)
    der = jpki.read_certificate(JpkiCert.AUTH_CA)
    assert der == ef_data("mynumber-01", "jpki", "000B")
    assert all(len(c) == 5 for c in mynumber.sent if c[1] == 0xB0)


@pytest.mark.parametrize("profile", ["mynumber-01", "mynumber-short"])
@pytest.mark.parametrize("pad", [1, 200, 3000])
def test_padded_certificate_ef(make_card: MakeCard, profile: str, pad: int) -> None:
    prof = profile_json(profile)
    entry = find_file(prof, "jpki", "000A")
    der = bytes.fromhex(entry["data"])
    entry["data"] = (der + b"\xff" * pad).hex()
    emu = make_card(data=prof)
    assert JpkiSession(emu.transport).read_certificate(JpkiCert.AUTH) == der


def test_truncated_certificate_ef_is_bad_response(make_card: MakeCard) -> None:
    prof = profile_json("mynumber-01")
    entry = find_file(prof, "jpki", "000A")
    entry["data"] = entry["data"][: len(entry["data"]) // 2]
    emu = make_card(data=prof)
    with pytest.raises(BadResponse):
        JpkiSession(emu.transport).read_certificate(JpkiCert.AUTH)


def test_non_der_certificate_ef_is_bad_response(make_card: MakeCard) -> None:
    prof = profile_json("mynumber-01")
    find_file(prof, "jpki", "000B")["data"] = "3082000401020304"
    emu = make_card(data=prof)
    with pytest.raises(BadResponse):
        JpkiSession(emu.transport).read_certificate(JpkiCert.AUTH_CA)
    find_file(prof, "jpki", "000B")["data"] = "0401020304"
    emu = make_card(data=prof)
    with pytest.raises(BadResponse):
        JpkiSession(emu.transport).read_certificate(JpkiCert.AUTH_CA)


# --------------------------------------------------------------------------- signing
@pytest.mark.parametrize("key", [JpkiKey.AUTH, JpkiKey.SIGN])
@pytest.mark.parametrize(
    ("alg", "hashcls"),
    [("sha256", hashes.SHA256), ("sha384", hashes.SHA384), ("sha512", hashes.SHA512)],
)
def test_sign_digest(
    mynumber: Emulated, pins: PinLedger, key: JpkiKey, alg: str, hashcls: type
) -> None:
    pin = PINS["auth"] if key is JpkiKey.AUTH else PINS["sign"]
    digest = hashlib.new(alg, b"document").digest()
    sig = JpkiSession(mynumber.transport).sign(key, pins.submit(pin), digest=digest,
                                               hash_alg=alg)
    cert_fid = "000A" if key is JpkiKey.AUTH else "0001"
    assert len(sig) == 256
    assert verifies(ef_data("mynumber-01", "jpki", cert_fid), sig, digest, hashcls())
    assert mynumber.card.stats.signatures == 1
    sign_cmd = [c for c in mynumber.sent if c[:4] == bytes.fromhex("802A0080")]
    assert len(sign_cmd) == 1 and sign_cmd[0][-1] == 0x00  # Le = 00


def test_sign_message_equals_sign_digest(mynumber: Emulated, pins: PinLedger) -> None:
    jpki = JpkiSession(mynumber.transport)
    a = jpki.sign(JpkiKey.AUTH, pins.submit(PINS["auth"]), message=b"hello")
    b = jpki.sign(JpkiKey.AUTH, pins.submit(PINS["auth"]),
                  digest=hashlib.sha256(b"hello").digest(), hash_alg=HashAlg.SHA256)
    assert a == b


def test_sign_after_verify_without_pin(mynumber: Emulated, pins: PinLedger) -> None:
    jpki = JpkiSession(mynumber.transport)
    with pytest.raises(SecurityStatusError):
        jpki.sign(JpkiKey.SIGN, None, message=b"x")
    jpki.verify(JpkiPin.SIGN, pins.submit(PINS["sign"]))
    sig = jpki.sign(JpkiKey.SIGN, None, message=b"x")
    assert len(sig) == 256
    # the auth key is still locked
    with pytest.raises(SecurityStatusError):
        jpki.sign(JpkiKey.AUTH, None, message=b"x")


def test_sign_wrong_pin(mynumber: Emulated, pins: PinLedger) -> None:
    jpki = JpkiSession(mynumber.transport)
    with pytest.raises(PinError) as info:
        jpki.sign(JpkiKey.AUTH, pins.submit("9999"), message=b"x")
    assert info.value.retries_left == 2
    assert mynumber.card.stats.signatures == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"digest": b"\x00" * 32, "message": b"x"},
        {"digest": b"\x00" * 31},
        {"digest": b"\x00" * 32, "hash_alg": "sha512"},
        {"digest": b"\x00" * 20, "hash_alg": "sha1"},
        {"message": "text"},
    ],
)
def test_sign_usage_errors_send_nothing(mynumber: Emulated, kwargs: dict) -> None:
    jpki = JpkiSession(mynumber.transport)
    apdus = mynumber.card.stats.apdus
    with pytest.raises(UsageError):
        jpki.sign(JpkiKey.AUTH, PINS["auth"], **kwargs)
    assert mynumber.card.stats.apdus == apdus


def test_signature_not_matching_certificate_is_bad_response(
    make_card: MakeCard, pins: PinLedger
) -> None:
    # the card's auth key does not belong to its auth certificate
    prof = profile_json("mynumber-01")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    find_file(prof, "jpki", "0017")["private_key_pem"] = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    emu = make_card(data=prof)
    with pytest.raises(BadResponse) as info:
        JpkiSession(emu.transport).sign(JpkiKey.AUTH, pins.submit(PINS["auth"]), message=b"x")
    assert "does not verify" in str(info.value)


# --------------------------------------------------------------------------- change PIN
def test_change_pin(mynumber: Emulated, pins: PinLedger) -> None:
    jpki = JpkiSession(mynumber.transport)
    jpki.change_pin(JpkiPin.AUTH, pins.submit(PINS["auth"]), "4321")
    assert mynumber.card.stats.change_reference_data == 1
    change = [c for c in mynumber.sent if c[1] == 0x24]
    assert change == [bytes.fromhex("0024018004") + b"4321"]
    with pytest.raises(PinError):
        jpki.verify(JpkiPin.AUTH, pins.submit(PINS["auth"]))
    jpki.verify(JpkiPin.AUTH, pins.submit("4321"))


def test_change_pin_wrong_old(mynumber: Emulated, pins: PinLedger) -> None:
    jpki = JpkiSession(mynumber.transport)
    with pytest.raises(PinError) as info:
        jpki.change_pin(JpkiPin.SIGN, pins.submit("WRONG1"), "NEW123")
    assert info.value.retries_left == 4
    assert mynumber.card.stats.change_reference_data == 0


@pytest.mark.parametrize("new", ["ABCDEF", "123456", "AB1", "ab-123"])
def test_change_pin_bad_new_value_sends_nothing(mynumber: Emulated, new: str) -> None:
    jpki = JpkiSession(mynumber.transport)
    apdus = mynumber.card.stats.apdus
    with pytest.raises(PinFormatError):
        jpki.change_pin(JpkiPin.SIGN, PINS["sign"], new)
    assert mynumber.card.stats.apdus == apdus


# --------------------------------------------------------------------------- PIN state
def test_reset_forgets_verified_pins(mynumber: Emulated, pins: PinLedger) -> None:
    jpki = JpkiSession(mynumber.transport)
    jpki.verify(JpkiPin.SIGN, pins.submit(PINS["sign"]))
    assert jpki.is_verified(JpkiPin.SIGN)
    mynumber.transport.reset()
    assert jpki.verified == frozenset()
    with pytest.raises(SecurityStatusError):
        jpki.read_certificate(JpkiCert.SIGN)


def test_reconnect_forgets_verified_pins(mynumber: Emulated, pins: PinLedger) -> None:
    jpki = JpkiSession(mynumber.transport)
    jpki.verify(JpkiPin.AUTH, pins.submit(PINS["auth"]))
    mynumber.transport.remove()
    mynumber.transport.insert()
    assert jpki.verified == frozenset()
    with pytest.raises(SecurityStatusError):
        jpki.sign(JpkiKey.AUTH, None, message=b"x")


def test_other_application_selected_forgets_verified_pins(
    mynumber: Emulated, pins: PinLedger
) -> None:
    """Sessions on one channel (as a Card hands them out) see each other's SELECTs."""
    from jukicard.card import CardChannel, TextSession

    channel = CardChannel(mynumber.transport)
    jpki = JpkiSession(channel)
    jpki.verify(JpkiPin.SIGN, pins.submit(PINS["sign"]))
    TextSession(channel).read_ap_basic_info()
    assert jpki.verified == frozenset()
    # and the JPKI session re-selects its AP before its next operation
    assert jpki.read_certificate(JpkiCert.SIGN_CA) == ef_data("mynumber-01", "jpki", "0002")
    with pytest.raises(SecurityStatusError):
        jpki.read_certificate(JpkiCert.SIGN)


def test_reselect_logs_out(mynumber: Emulated, pins: PinLedger) -> None:
    jpki = JpkiSession(mynumber.transport)
    jpki.verify(JpkiPin.SIGN, pins.submit(PINS["sign"]))
    jpki.reselect()
    assert jpki.verified == frozenset()
    with pytest.raises(SecurityStatusError):
        jpki.read_certificate(JpkiCert.SIGN)


def test_card_state_lost_behind_our_back(mynumber: Emulated, pins: PinLedger) -> None:
    """The card forgets (e.g. another process re-selected); 6982 clears our belief."""
    jpki = JpkiSession(mynumber.transport)
    jpki.verify(JpkiPin.SIGN, pins.submit(PINS["sign"]))
    mynumber.card.execute(bytes.fromhex("00A4040C0A") + bytes.fromhex("D392F000260100000001"))
    with pytest.raises(SecurityStatusError):
        jpki.read_certificate(JpkiCert.SIGN)
    assert jpki.verified == frozenset()
