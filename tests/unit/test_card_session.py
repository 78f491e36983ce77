"""Session logic with a scripted card (no emulator): status-word translation, reading
loops, DigestInfo, header parsing."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jukicard.card.crypto import HashAlg, build_digest_info, digest_message, verify_digest_signature
from jukicard.card.jpki import JpkiSession
from jukicard.card.layout import JpkiCert, JpkiPin, PinFormatError
from jukicard.card.session import MAX_OFFSET, der_certificate_total, tlv_header_total
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


def test_impossible_counter_from_verify_is_clamped(caplog: pytest.LogCaptureFixture) -> None:
    """Old code: a wrong auth PIN answered ``63CF`` was reported as 15 tries left (the PIN
    allows 3); the error now carries the clamped counter and a flag, and the line logged
    (at INFO since the second review) carries no value."""
    caplog.set_level(logging.INFO)
    s, t = jpki([(SELECT_JPKI.hex(), "9000"), (SEL_AUTH_PIN, "9000"),
                 ("002000800431323334", "63CF")])
    with pytest.raises(PinError) as info:
        s.verify(JpkiPin.AUTH, "1234")
    assert info.value.retries_left == 3 and info.value.counter_implausible
    assert "3 tries left" in str(info.value) and "15" not in str(info.value)
    assert "impossible" in caplog.text and "1234" not in caplog.text and not t.script


@pytest.mark.parametrize(("n", "text"), [(1, "1 try left"), (2, "2 tries left"),
                                          (0, "0 tries left")])
def test_tries_wording(n: int, text: str) -> None:
    from jukicard.errors import tries_left_text

    assert tries_left_text(n) == text
    if n:
        assert str(PinError(n)) == f"wrong PIN, {text}"
        s, _t = jpki([(SELECT_JPKI.hex(), "9000"), (SEL_AUTH_PIN, "9000"),
                      ("002000800431323334", f"63C{n}")])
        with pytest.raises(PinError) as info:
            s.verify(JpkiPin.AUTH, "1234")
        assert str(info.value) == f"利用者証明用電子証明書暗証番号 (user-authentication PIN): " \
                                  f"wrong PIN, {text}"


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


# --------------------------------------------------------------------------- detection
def test_open_card_reads_a_token_ef_shorter_than_le() -> None:
    """A token EF shorter than the 32 bytes asked may answer 6282 with the data (as
    ``token_info`` accepts); detection must still see the token."""
    from jukicard.card.detect import CardType, applications, open_card

    first, *others = applications()  # the detection table: JPKI first, then the others
    assert SELECT_JPKI.endswith(first.aid)
    t = Scripted([
        (SELECT_JPKI, h("9000")),
        (h("00A4020C020006"), h("9000")),
        (h("00B0000020"), b"JPKIAPGPSETOKEN" + h("6282")),
        *((h("00A4040C") + bytes((len(app.aid),)) + app.aid, h("6A82")) for app in others),
    ])
    card = open_card(t)
    assert card.token is not None and card.token.token == "JPKIAPGPSETOKEN"
    assert card.card_type is CardType.SMARTPHONE
    assert not t.script


# --------------------------------------------------------------------------- hostile card
class Hostile:
    """A transport whose card answers every APDU with arbitrary data and status words,
    and counts the VERIFY-with-data APDUs it receives."""

    def __init__(self, answers: list[tuple[bytes, int]]) -> None:
        self.answers = answers
        self.position = 0
        self.generation = 1
        self.atr = b";"
        self.verify_with_data = 0
        self.sent = 0

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        self.sent += 1
        if apdu[1] == 0x20 and len(apdu) > 5:
            self.verify_with_data += 1
        # A generous bound: reads stop at the first short chunk, so no operation comes near
        # it; past it the library would be looping.
        if self.sent > MAX_OFFSET + 64:
            raise AssertionError("the library does not stop talking to a hostile card")
        data, sw = self.answers[self.position % len(self.answers)]
        self.position += 1
        return data, sw

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    def close(self) -> None:
        pass


def _hostile_ops() -> list[tuple[str, int, object]]:
    """(name, PINs the operation is given, callable(transport))."""
    from jukicard.card import (
        JpkiKey,
        JukiSession,
        TextSession,
        VisualSession,
        open_card,
    )

    def j(t: Hostile) -> JpkiSession:
        return JpkiSession(t, select=False)  # type: ignore[arg-type]

    return [
        ("open_card", 0, lambda t: open_card(t)),
        ("token_info", 0, lambda t: j(t).token_info()),
        ("pin_status", 0, lambda t: j(t).pin_status(JpkiPin.SIGN)),
        ("verify", 1, lambda t: j(t).verify(JpkiPin.AUTH, "1234")),
        ("change_pin", 1, lambda t: j(t).change_pin(JpkiPin.SIGN, "ABC123", "ABC124")),
        ("read_certificate", 0, lambda t: j(t).read_certificate(JpkiCert.AUTH)),
        ("read_sign_certificate", 1, lambda t: j(t).read_certificate(JpkiCert.SIGN, "ABC123")),
        ("sign", 1, lambda t: j(t).sign(JpkiKey.AUTH, "1234", message=b"m")),
        ("text.read_my_number", 1, lambda t: TextSession(t, select=False).read_my_number(
            pin="1234")),
        ("text.read_basic_info", 1, lambda t: TextSession(t, select=False).read_basic_info(
            pin="1234")),
        ("text.read_verified", 1, lambda t: TextSession(t, select=False).read_verified("1234")),
        ("text.read_cv_certificate", 0,
         lambda t: TextSession(t, select=False).read_cv_certificate()),
        ("visual.read_entries", 1, lambda t: VisualSession(t, select=False).read_entries(
            match_a="123456789018")),
        ("visual.read_birth", 1, lambda t: VisualSession(t, select=False).read_birth("123456")),
        ("juki.read_resident_code", 1,
         lambda t: JukiSession(t, select=False).read_resident_code("1234")),
    ]


HOSTILE_OPS = _hostile_ops()
_SWS = [0x9000, 0x6282, 0x6B00, 0x6A82, 0x6982, 0x6700, 0x6983, 0x6984, 0x63C0, 0x63C3,
        0x6100, 0x6110, 0x6C00, 0x6C04, 0x6D00, 0x6F00]
_DATA = st.one_of(
    st.binary(max_size=12),
    st.binary(max_size=400).map(lambda b: b"\x30\x82" + b),
    st.binary(max_size=40).map(lambda b: b"\xff\x20\x82" + b),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.sampled_from(HOSTILE_OPS),
    st.lists(st.tuples(_DATA, st.one_of(st.sampled_from(_SWS), st.integers(0, 0xFFFF))),
             min_size=1, max_size=12),
)
def test_hostile_card_gets_typed_errors_and_no_extra_pin(
    op: tuple[str, int, object], answers: list[tuple[bytes, int]]
) -> None:
    """Whatever a card answers, an operation returns or raises a typed jukicard error, and
    sends VERIFY with data at most once per PIN it was given (never re-sent)."""
    from jukicard.errors import JukiError

    _name, pins_given, run = op
    t = Hostile(answers)
    try:
        run(t)  # type: ignore[operator]
    except JukiError:
        pass
    assert t.verify_with_data <= pins_given


class _Dribbler(Hostile):
    """Announces an 8 KiB certificate, then answers every READ BINARY with 4 bytes + 9000."""

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        self.sent += 1
        if apdu[1] == 0xB0:
            offset = (apdu[2] << 8) | apdu[3]
            return (b"\x30\x82\x20\x00" if offset == 0 else b"\xaa" * 4), 0x9000
        return b"", 0x9000


def test_short_chunk_is_end_of_file_so_a_dribbling_card_costs_few_apdus() -> None:
    t = _Dribbler([])
    jpki = JpkiSession(t)  # type: ignore[arg-type]
    sent_before = t.sent
    with pytest.raises(BadResponse, match="declared length"):
        jpki.read_certificate(JpkiCert.AUTH)
    # SELECT AP? (already selected) + SELECT EF + header read + one short body read
    assert t.sent - sent_before <= 4
