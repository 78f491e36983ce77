"""Session logic with a scripted card (no emulator): status-word translation, reading
loops, DigestInfo, header parsing."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from jukicard.card.crypto import HashAlg, build_digest_info, digest_message, verify_digest_signature
from jukicard.card.jpki import JpkiSession
from jukicard.card.layout import JpkiCert, JpkiPin, PinFormatError
from jukicard.card.session import der_certificate_total, tlv_header_total
from jukicard.errors import (
    ApplicationNotFound,
    BadResponse,
    CardError,
    FileNotFoundOnCard,
    PinBlockedError,
    PinError,
    UsageError,
)

SELECT_JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")


class Scripted:
    """A transport answering from a list of (expected command, response); fails on any
    divergence."""

    def __init__(self, script: list[tuple[bytes, bytes]]) -> None:
        self.script = list(script)
        self.generation = 1
        self.atr = b";"
        self.depth = 0

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        assert self.script, f"unexpected extra APDU {apdu.hex()}"
        expected, response = self.script.pop(0)
        assert apdu == expected, f"sent {apdu.hex()}, expected {expected.hex()}"
        return response[:-2], int.from_bytes(response[-2:], "big")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def close(self) -> None:
        pass

    def __enter__(self) -> Scripted:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def h(s: str) -> bytes:
    return bytes.fromhex(s.replace(" ", ""))


def jpki(script: list[tuple[str, str]]) -> tuple[JpkiSession, Scripted]:
    t = Scripted([(h(c), h(r)) for c, r in script])
    return JpkiSession(t, select=False), t


SEL_AUTH_PIN = "00A4020C020018"


@pytest.mark.parametrize(
    ("sw", "error", "retries"),
    [
        ("63C2", PinError, 2),
        ("63C1", PinError, 1),
        ("63C0", PinBlockedError, 0),
        ("6984", PinBlockedError, 0),
        ("6983", PinBlockedError, 0),
    ],
)
def test_verify_translation(sw: str, error: type, retries: int) -> None:
    s, t = jpki([(SELECT_JPKI.hex(), "9000"), (SEL_AUTH_PIN, "9000"),
                 ("002000800431323334", sw)])
    with pytest.raises(PinError) as info:
        s.verify(JpkiPin.AUTH, "1234")
    assert type(info.value) is error
    assert info.value.retries_left == retries
    assert info.value.sw == int(sw, 16)
    assert not t.script and s.verified == frozenset()
    if error is PinError:
        assert not isinstance(info.value, PinBlockedError)


def test_verify_6700_is_pin_format_error() -> None:
    s, t = jpki([(SELECT_JPKI.hex(), "9000"), (SEL_AUTH_PIN, "9000"),
                 ("002000800431323334", "6700")])
    with pytest.raises(PinFormatError):
        s.verify(JpkiPin.AUTH, "1234")
    assert not t.script


@pytest.mark.parametrize(("sw", "left"), [("63C3", 3), ("63C0", 0), ("6984", 0), ("9000", 3)])
def test_pin_status_translation(sw: str, left: int) -> None:
    s, t = jpki([(SELECT_JPKI.hex(), "9000"), (SEL_AUTH_PIN, "9000"), ("00200080", sw)])
    assert s.pin_status(JpkiPin.AUTH).retries_left == left
    assert not t.script


def test_pin_status_other_sw_is_card_error() -> None:
    s, _t = jpki([(SELECT_JPKI.hex(), "9000"), (SEL_AUTH_PIN, "9000"), ("00200080", "6A88")])
    with pytest.raises(CardError) as info:
        s.pin_status(JpkiPin.AUTH)
    assert info.value.sw == 0x6A88 and not isinstance(info.value, PinError)


def test_select_aid_6a82_is_application_not_found() -> None:
    s, _t = jpki([(SELECT_JPKI.hex(), "6A82")])
    with pytest.raises(ApplicationNotFound):
        s.pin_status(JpkiPin.AUTH)


def test_select_ef_6a82_is_file_not_found() -> None:
    s, _t = jpki([(SELECT_JPKI.hex(), "9000"), ("00A4020C02000B", "6A82")])
    with pytest.raises(FileNotFoundOnCard) as info:
        s.read_certificate(JpkiCert.AUTH_CA)
    assert not isinstance(info.value, ApplicationNotFound)


def test_certificate_read_stops_at_6b00_and_reports_truncation() -> None:
    s, _t = jpki([
        (SELECT_JPKI.hex(), "9000"), ("00A4020C02000B", "9000"),
        ("00B0000004", "30820400" "9000"),
        ("00B00004000400", "AA" * 100 + "9000"),
        ("00B0006800039C", "6B00"),
    ])
    with pytest.raises(BadResponse):
        s.read_certificate(JpkiCert.AUTH_CA)


def test_certificate_read_not_der() -> None:
    s, _t = jpki([(SELECT_JPKI.hex(), "9000"), ("00A4020C02000B", "9000"),
                  ("00B0000004", "FFFFFFFF9000")])
    with pytest.raises(BadResponse):
        s.read_certificate(JpkiCert.AUTH_CA)


def test_extra_apdu_would_fail_the_script() -> None:
    s, _t = jpki([(SELECT_JPKI.hex(), "9000")])
    with pytest.raises(AssertionError):
        s.pin_status(JpkiPin.AUTH)


def test_wrong_enum_is_usage_error() -> None:
    s, _t = jpki([])
    with pytest.raises(UsageError):
        s.pin_status("AUTH")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- crypto
#: RFC 8017 §9.2 note 1: DER prefixes of DigestInfo.
RFC8017_PREFIX = {
    HashAlg.SHA256: "3031300d060960864801650304020105000420",
    HashAlg.SHA384: "3041300d060960864801650304020205000430",
    HashAlg.SHA512: "3051300d060960864801650304020305000440",
}


@pytest.mark.parametrize("alg", list(HashAlg))
def test_digest_info_matches_rfc8017(alg: HashAlg) -> None:
    digest = digest_message(alg, b"abc")
    assert digest == hashlib.new(alg.value, b"abc").digest()
    assert build_digest_info(alg, digest) == h(RFC8017_PREFIX[alg]) + digest


@pytest.mark.parametrize("name", ["sha256", "SHA-256", "sha_256", HashAlg.SHA256])
def test_hash_alg_coerce(name: object) -> None:
    assert HashAlg.coerce(name) is HashAlg.SHA256  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["sha1", "md5", "", 256])
def test_hash_alg_coerce_rejects(name: object) -> None:
    with pytest.raises(UsageError):
        HashAlg.coerce(name)  # type: ignore[arg-type]


def test_digest_info_wrong_length() -> None:
    with pytest.raises(UsageError):
        build_digest_info(HashAlg.SHA384, b"\x00" * 32)


def test_verify_digest_signature() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    digest = hashlib.sha256(b"x").digest()
    sig = key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    assert verify_digest_signature(key.public_key(), sig, HashAlg.SHA256, digest)
    assert not verify_digest_signature(key.public_key(), sig, HashAlg.SHA256, b"\x01" * 32)
    assert not verify_digest_signature(key.public_key(), sig[:-1] + b"\x00", HashAlg.SHA256,
                                       digest)


# --------------------------------------------------------------------------- headers
@pytest.mark.parametrize(
    ("head", "total"),
    [("3082061F", 0x61F + 4), ("30820100", 0x104), ("308105", 8), ("3005", 7)],
)
def test_der_certificate_total(head: str, total: int) -> None:
    assert der_certificate_total(h(head)) == total


@pytest.mark.parametrize("head", ["", "31820100", "FF", "3080", "3085", "3082"])
def test_der_certificate_total_rejects(head: str) -> None:
    with pytest.raises(BadResponse):
        der_certificate_total(h(head))


@pytest.mark.parametrize(
    ("head", "total"),
    [("FF100C3132", 15), ("FF2082009FDF21", 164), ("7F21820233", 0x233 + 5), ("FF2062", 0x65)],
)
def test_tlv_header_total(head: str, total: int) -> None:
    assert tlv_header_total(h(head), "x") == total
