"""Card sessions through the real stack: pyscard → pcscd → vpcd → emulator bridge.

The same operations as ``tests/emulated/test_card_*.py``, through :class:`PcscTransport` on
the virtual reader.  Every test that touches a card is under the PIN ledger (``pins`` in
``conftest.py``): the PINs a test submits must equal the VERIFY-with-data APDUs the
emulator counted (its ``--stats-file``), so no PIN is ever sent twice or behind the caller's
back.  Tests that spend, block or change PINs run on a fresh copy of the profile
(``fresh_card``), so the session card keeps its counters for the other tests.
"""

from __future__ import annotations

import hashlib
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

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
    JukiSession,
    MyNumber,
    PinFormatError,
    TextPin,
    TextSession,
    TokenKind,
    VisualEntries,
    VisualPin,
    VisualSession,
    open_card,
)
from jukicard.card.dataobjects import ApBasicInfo, BasicInfo, CvCertificate, VisualBirth
from jukicard.errors import (
    ApplicationNotFound,
    CardError,
    CardRemovedError,
    CardResetError,
    PinBlockedError,
    PinError,
    SecurityStatusError,
    TransportError,
    UsageError,
)
from jukicard.transport import pcsc
from jukicard.transport.base import DelegatingTransport

pytestmark = pytest.mark.integration

stack = sys.modules["jukicard_it_stack"]  # loaded by conftest.py
PinLedger = Any  # conftest.PinLedger (the ``pins`` fixture); not imported: see conftest.py

ROOT = Path(__file__).resolve().parents[2]
PROFILE = "mynumber-01"
#: Test PINs of the synthetic cards (vectors/cards/README.md).  Test data only.
PINS = {"auth": "1234", "sign": "ABC123", "text": "1234", "juki_sign": "JK12", "juki": "1234"}
MY_NUMBER = "201867807611"  # mynumber-01 (vectors/cards/README.md), synthetic


# --------------------------------------------------------------------------- helpers
def load_profile_json(name: str = PROFILE) -> dict[str, Any]:
    path = stack.PROFILE_DIR / f"{name}.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


def profile_entry(app: str, fid: str, profile: str = PROFILE) -> dict[str, Any]:
    """The file entry *fid* of application *app* in card profile *profile*."""
    for application in load_profile_json(profile)["applications"]:
        if application["name"] == app:
            for f in application["files"]:
                if f["fid"].upper() == fid.upper():
                    return dict(f)
    raise KeyError((profile, app, fid))


def ef(app: str, fid: str, profile: str = PROFILE) -> bytes:
    return bytes.fromhex(profile_entry(app, fid, profile)["data"])


def pin_entry(app: str, fid: str, profile: str = PROFILE) -> dict[str, Any]:
    return profile_entry(app, fid, profile)


def der_of(ef_data: bytes) -> bytes:
    """The DER certificate at the start of an EF (without any padding after it)."""
    assert ef_data[:2] == b"\x30\x82"
    return ef_data[: 4 + int.from_bytes(ef_data[2:4], "big")]


def rsa_key(cert_der: bytes) -> rsa.RSAPublicKey:
    key = x509.load_der_x509_certificate(cert_der).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def my_number_check_digit(first11: str) -> int:
    """The check digit of a My Number (test oracle, 行政手続番号法施行令 第8条)."""
    total = 0
    for n, q in enumerate(reversed(first11), start=1):
        p = n + 1 if n <= 6 else n - 5
        total += p * int(q)
    rem = total % 11
    return 0 if rem <= 1 else 11 - rem


class HookedTransport(DelegatingTransport):
    """Delegates to a transport and records every command; once armed, runs ``hook`` just
    before the first command that follows a command matching ``after``."""

    def __init__(self, inner: pcsc.PcscTransport) -> None:
        super().__init__(inner)
        self.sent: list[bytes] = []
        self._after: Callable[[bytes], bool] | None = None
        self._hook: Callable[[], None] | None = None
        self._due = False

    def arm(self, after: Callable[[bytes], bool], hook: Callable[[], None]) -> None:
        self._after, self._hook, self._due = after, hook, False

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if self._due and self._hook is not None:
            hook, self._hook, self._due = self._hook, None, False
            hook()
        self.sent.append(bytes(apdu))
        if self._hook is not None and self._after is not None and self._after(bytes(apdu)):
            self._due = True
        return self.inner.transmit(apdu)


def is_verify_with_data(apdu: bytes) -> bool:
    return len(apdu) > 5 and apdu[1] == 0x20


def close_quietly(t: pcsc.PcscTransport) -> None:
    try:
        t.close()
    except TransportError:
        pass


# --------------------------------------------------------------------------- fixtures
@pytest.fixture
def mn(card: Any, pins: PinLedger) -> Any:
    """The session card (mynumber-01), watched by the PIN ledger.  Only tests that leave
    every PIN counter as they found it use it."""
    pins.watch(card)
    return card


@pytest.fixture
def transport(mn: Any) -> Iterator[pcsc.PcscTransport]:
    t = pcsc.PcscTransport(mn.reader, share="exclusive")
    try:
        yield t
    finally:
        close_quietly(t)


@pytest.fixture
def fresh(fresh_card: Callable[..., Any]) -> Iterator[tuple[Any, pcsc.PcscTransport]]:
    """A fresh copy of mynumber-01 in the slot, and a transport to it."""
    b = fresh_card(PROFILE)
    t = pcsc.PcscTransport(b.reader, share="exclusive")
    try:
        yield b, t
    finally:
        close_quietly(t)


# --------------------------------------------------------------------------- the harness
def test_stats_file_follows_every_apdu(transport: pcsc.PcscTransport, mn: Any) -> None:
    """The emulator's --stats-file, which the PIN ledger relies on, is current after each
    response: a SELECT and a data-less VERIFY are counted, and no VERIFY with data."""
    before = mn.stats()
    assert transport.transmit(bytes.fromhex("00A4040C0AD392F000260100000001"))[1] == 0x9000
    assert transport.transmit(bytes.fromhex("00A4020C020018"))[1] == 0x9000
    assert transport.transmit(bytes.fromhex("00200080"))[1] & 0xFFF0 == 0x63C0
    after = mn.stats()
    assert after["apdus"] == before["apdus"] + 3
    assert after["verify_status_queries"] == before["verify_status_queries"] + 1
    assert after["verify_with_data"] == before["verify_with_data"]


def test_stats_file_that_cannot_be_written_is_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from jukicard.emulator.__main__ import main as emulator_main

    target = tmp_path / "missing-dir" / "stats.json"
    assert emulator_main(["--profile", PROFILE, "--stats-file", str(target)]) == 1
    assert "--stats-file" in capsys.readouterr().err
    assert not target.exists()


# --------------------------------------------------------------------------- detection
def test_open_card_detects_my_number_card(transport: pcsc.PcscTransport) -> None:
    card = open_card(transport)
    assert card.card_type is CardType.MYNUMBER
    assert card.applications == frozenset(a.application for a in (App.JPKI, App.TEXT, App.VISUAL))
    assert card.token is not None and card.token.token == "JPKIAPICCTOKEN2"
    assert card.atr == bytes.fromhex(load_profile_json()["atr"]) == transport.atr
    assert type(card.jpki()) is JpkiSession
    assert isinstance(card.text(), TextSession) and isinstance(card.visual(), VisualSession)


def test_token_info(transport: pcsc.PcscTransport) -> None:
    token = JpkiSession(transport).token_info()
    assert token.token == "JPKIAPICCTOKEN2"
    assert token.kind is TokenKind.MYNUMBER_CARD


# --------------------------------------------------------------------------- certificates
def test_read_auth_certificate_and_its_ca(transport: pcsc.PcscTransport) -> None:
    jpki = JpkiSession(transport)
    auth = jpki.read_certificate(JpkiCert.AUTH)
    ca = jpki.read_certificate(JpkiCert.AUTH_CA)
    assert auth == der_of(ef("jpki", "000A"))
    assert ca == der_of(ef("jpki", "000B"))
    x509.load_der_x509_certificate(auth).verify_directly_issued_by(
        x509.load_der_x509_certificate(ca))
    assert rsa_key(auth).key_size == 2048


def test_read_sign_certificate_with_password(
    transport: pcsc.PcscTransport, pins: PinLedger
) -> None:
    jpki = JpkiSession(transport)
    with pytest.raises(SecurityStatusError) as info:
        jpki.read_certificate(JpkiCert.SIGN)
    assert info.value.sw == 0x6982
    sign = jpki.read_certificate(JpkiCert.SIGN, pin=pins.submit(PINS["sign"]))
    assert sign == der_of(ef("jpki", "0001"))
    assert jpki.is_verified(JpkiPin.SIGN)
    assert jpki.read_certificate(JpkiCert.SIGN) == sign  # still verified: no PIN sent again
    ca = jpki.read_certificate(JpkiCert.SIGN_CA)
    assert ca == der_of(ef("jpki", "0002"))
    x509.load_der_x509_certificate(sign).verify_directly_issued_by(
        x509.load_der_x509_certificate(ca))


# --------------------------------------------------------------------------- PIN status
def test_pin_status_of_every_pin_is_data_less(transport: pcsc.PcscTransport, mn: Any) -> None:
    expected = {
        (JpkiSession, JpkiPin.AUTH): pin_entry("jpki", "0018")["tries_left"],
        (JpkiSession, JpkiPin.SIGN): pin_entry("jpki", "001B")["tries_left"],
        (TextSession, TextPin.PIN): pin_entry("text", "0011")["tries_left"],
        (TextSession, TextPin.MATCH_A): pin_entry("text", "0014")["tries_left"],
        (TextSession, TextPin.MATCH_B): pin_entry("text", "0015")["tries_left"],
        (VisualSession, VisualPin.BIRTH): pin_entry("visual", "0011")["tries_left"],
        (VisualSession, VisualPin.MATCH_B): pin_entry("visual", "0012")["tries_left"],
        (VisualSession, VisualPin.MATCH_A): pin_entry("visual", "0013")["tries_left"],
    }
    assert set(expected.values()) == {3, 5, 10}
    before = mn.stats()
    sessions: dict[type, Any] = {}
    for _round in range(2):  # the second read sees the counters unchanged by the first
        for (cls, pin), tries in expected.items():
            session = sessions.setdefault(cls, cls(transport))
            status = session.pin_status(pin)
            assert (status.retries_left, status.blocked) == (tries, False), pin
    after = mn.stats()
    assert after["verify_with_data"] == before["verify_with_data"]
    assert after["verify_status_queries"] == before["verify_status_queries"] + 2 * len(expected)


# --------------------------------------------------------------------------- VERIFY
@pytest.mark.parametrize(
    ("pin", "right", "wrong"),
    [(JpkiPin.AUTH, PINS["auth"], "9999"), (JpkiPin.SIGN, PINS["sign"], "WRONG1")],
)
def test_wrong_pin_costs_exactly_one_try_and_right_pin_resets(
    fresh: tuple[Any, pcsc.PcscTransport], pins: PinLedger, pin: JpkiPin, right: str,
    wrong: str,
) -> None:
    bridge, t = fresh
    jpki = JpkiSession(t)
    start = jpki.pin_status(pin).retries_left
    with pytest.raises(PinError) as info:
        jpki.verify(pin, pins.submit(wrong))
    assert not isinstance(info.value, PinBlockedError)
    assert info.value.retries_left == start - 1
    assert wrong not in str(info.value)
    assert bridge.stats()["verify_with_data"] == 1  # sent once, never retried
    assert not jpki.is_verified(pin)
    # the counter really went down by one, and reading it twice does not change it
    assert jpki.pin_status(pin).retries_left == start - 1
    assert jpki.pin_status(pin).retries_left == start - 1
    # a correct VERIFY resets the counter
    jpki.verify(pin, pins.submit(right))
    assert jpki.is_verified(pin)
    assert jpki.pin_status(pin).retries_left == start


def test_wrong_text_pin_and_match_a(
    fresh: tuple[Any, pcsc.PcscTransport], pins: PinLedger
) -> None:
    _bridge, t = fresh
    text = TextSession(t)
    with pytest.raises(PinError) as info:
        text.read_my_number(pin=pins.submit("0000"))
    assert info.value.retries_left == 2
    with pytest.raises(PinError) as info:
        text.read_my_number(match_a=pins.submit("0" * 12))
    assert info.value.retries_left == 9
    assert text.pin_status(TextPin.PIN).retries_left == 2
    assert text.pin_status(TextPin.MATCH_A).retries_left == 9
    assert text.pin_status(TextPin.MATCH_B).retries_left == 10
    assert text.read_my_number(pin=pins.submit(PINS["text"])).digits == MY_NUMBER
    assert text.pin_status(TextPin.PIN).retries_left == 3


def test_blocked_pin(fresh: tuple[Any, pcsc.PcscTransport], pins: PinLedger) -> None:
    bridge, t = fresh
    jpki = JpkiSession(t)
    for expected in (2, 1):
        with pytest.raises(PinError) as info:
            jpki.verify(JpkiPin.AUTH, pins.submit("0000"))
        assert not isinstance(info.value, PinBlockedError)
        assert info.value.retries_left == expected
    with pytest.raises(PinBlockedError) as blocked:
        jpki.verify(JpkiPin.AUTH, pins.submit("0000"))
    assert blocked.value.retries_left == 0
    status = jpki.pin_status(JpkiPin.AUTH)
    assert status.retries_left == 0 and status.blocked
    # even the right PIN is refused now, and nothing comes back
    with pytest.raises(PinBlockedError) as again:
        jpki.verify(JpkiPin.AUTH, pins.submit(PINS["auth"]))
    assert again.value.sw == 0x6984
    with pytest.raises(PinBlockedError):
        jpki.sign(JpkiKey.AUTH, pins.submit(PINS["auth"]), message=b"x")
    assert jpki.pin_status(JpkiPin.AUTH).retries_left == 0
    assert bridge.stats()["signatures"] == 0
    # the sign password is unaffected
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
def test_wrong_pin_format_sends_nothing(
    transport: pcsc.PcscTransport, mn: Any, pin: JpkiPin, value: str
) -> None:
    jpki = JpkiSession(transport)
    before = mn.stats()
    with pytest.raises(UsageError) as info:
        jpki.verify(pin, value)
    assert isinstance(info.value, PinFormatError)
    assert value not in str(info.value)
    key = JpkiKey.AUTH if pin is JpkiPin.AUTH else JpkiKey.SIGN
    with pytest.raises(PinFormatError):
        jpki.sign(key, value, message=b"x")
    if pin is JpkiPin.SIGN:
        with pytest.raises(PinFormatError):
            jpki.read_certificate(JpkiCert.SIGN, pin=value)
    assert mn.stats() == before  # not one APDU reached the card


def test_wrong_format_on_text_and_visual_sends_nothing(
    transport: pcsc.PcscTransport, mn: Any
) -> None:
    text, visual = TextSession(transport), VisualSession(transport)
    before = mn.stats()
    with pytest.raises(PinFormatError):
        text.read_my_number(pin="123")
    with pytest.raises(PinFormatError):
        text.read_my_number(match_a="12345678901")
    with pytest.raises(PinFormatError):
        text.read_basic_info(match_b="1" * 13)
    with pytest.raises(PinFormatError):
        visual.read_entries(match_b="1" * 12)
    assert mn.stats() == before


# --------------------------------------------------------------------------- protected EFs
def test_protected_efs_without_pin(transport: pcsc.PcscTransport, mn: Any) -> None:
    before = mn.stats()
    text = TextSession(transport)
    with pytest.raises(SecurityStatusError):
        text.read_my_number()
    with pytest.raises(SecurityStatusError):
        text.read_basic_info()
    with pytest.raises(SecurityStatusError):
        VisualSession(transport).read_entries()
    jpki = JpkiSession(transport)
    with pytest.raises(SecurityStatusError):
        jpki.read_certificate(JpkiCert.SIGN)
    with pytest.raises(SecurityStatusError):
        jpki.sign(JpkiKey.AUTH, None, message=b"x")
    after = mn.stats()
    assert after["verify_with_data"] == before["verify_with_data"]
    assert after["signatures"] == before["signatures"]


# --------------------------------------------------------------------------- signing
@pytest.mark.parametrize("form", ["digest", "message"])
@pytest.mark.parametrize(
    ("key", "pin", "cert_fid"),
    [(JpkiKey.AUTH, PINS["auth"], "000A"), (JpkiKey.SIGN, PINS["sign"], "0001")],
)
def test_sign_and_verify_with_certificate(
    transport: pcsc.PcscTransport, mn: Any, pins: PinLedger, key: JpkiKey, pin: str,
    cert_fid: str, form: str,
) -> None:
    message = f"integration {key.name} {form}".encode()
    before = mn.stats()["signatures"]
    jpki = JpkiSession(transport)
    if form == "digest":
        digest = hashlib.sha384(message).digest()
        sig = jpki.sign(key, pins.submit(pin), digest=digest, hash_alg="sha384")
    else:
        sig = jpki.sign(key, pins.submit(pin), message=message)
    assert len(sig) == 256
    public = rsa_key(der_of(ef("jpki", cert_fid)))
    if form == "digest":
        public.verify(sig, digest, padding.PKCS1v15(), Prehashed(hashes.SHA384()))
    else:
        public.verify(sig, message, padding.PKCS1v15(), hashes.SHA256())
    assert mn.stats()["signatures"] == before + 1
    # once verified, the key signs again without a PIN in the same selection
    sig2 = jpki.sign(key, None, message=message)
    public.verify(sig2, message, padding.PKCS1v15(), hashes.SHA256())


# --------------------------------------------------------------------------- change PIN
@pytest.mark.parametrize(
    ("pin", "old", "new"),
    [(JpkiPin.AUTH, PINS["auth"], "4321"), (JpkiPin.SIGN, PINS["sign"], "NEW456")],
)
def test_change_pin_then_back(
    fresh: tuple[Any, pcsc.PcscTransport], pins: PinLedger, pin: JpkiPin, old: str, new: str
) -> None:
    bridge, t = fresh
    jpki = JpkiSession(t)
    jpki.change_pin(pin, pins.submit(old), new)
    assert bridge.stats()["change_reference_data"] == 1
    with pytest.raises(PinError):
        jpki.verify(pin, pins.submit(old))  # the old value no longer works
    jpki.change_pin(pin, pins.submit(new), old)
    assert bridge.stats()["change_reference_data"] == 2
    jpki.verify(pin, pins.submit(old))
    assert jpki.pin_status(pin).retries_left == (3 if pin is JpkiPin.AUTH else 5)


# --------------------------------------------------------------------------- text AP
def test_my_number_with_check_digit(transport: pcsc.PcscTransport, pins: PinLedger) -> None:
    expected = MyNumber.parse(ef("text", "0001"))
    text = TextSession(transport)
    got = text.read_my_number(pin=pins.submit(PINS["text"]))
    assert got == expected and got.digits == MY_NUMBER
    assert got.is_valid
    assert int(got.digits[11]) == my_number_check_digit(got.digits[:11])
    assert MY_NUMBER not in repr(got)
    # 照合番号A (the My Number itself) unlocks it too, and only it
    assert text.read_my_number(match_a=MyNumber(pins.submit(got.digits))) == expected
    with pytest.raises(SecurityStatusError):
        text.read_basic_info()


def test_basic_info_with_signature_check(transport: pcsc.PcscTransport, pins: PinLedger) -> None:
    expected = BasicInfo.parse(ef("text", "0002"))
    root = CvCertificate.parse((ROOT / "vectors/pki/cv/jlis-root.cvc").read_bytes())
    text = TextSession(transport)
    number, basic = text.read_verified(pins.submit(PINS["text"]), issuer_key=root.public_key())
    assert number.digits == MY_NUMBER
    assert basic == expected
    # 照合番号B unlocks the 4 items only
    match_b = pin_entry("text", "0015")["value"]
    assert text.read_basic_info(match_b=pins.submit(match_b)) == expected
    with pytest.raises(SecurityStatusError):
        text.read_my_number()


# --------------------------------------------------------------------------- visual AP
def test_visual_entries_with_match_a_and_b(transport: pcsc.PcscTransport, pins: PinLedger) -> None:
    expected = VisualEntries.parse(ef("visual", "0002"))
    visual = VisualSession(transport)
    got = visual.read_entries(match_a=MyNumber(pins.submit(MY_NUMBER)))
    assert got == expected
    assert got.name_png.startswith(b"\x89PNG") and got.photo
    match_b = pin_entry("visual", "0012")["value"]
    assert visual.read_entries(match_b=pins.submit(match_b)) == expected


def test_visual_birth_and_public_text_efs(
    transport: pcsc.PcscTransport, pins: PinLedger
) -> None:
    visual = VisualSession(transport)
    birth_pin = pin_entry("visual", "0011")["value"]
    assert visual.read_birth(pins.submit(birth_pin)) == VisualBirth.parse(ef("visual", "0001"))
    text = TextSession(transport)
    assert text.read_cv_certificate() == CvCertificate.parse(ef("text", "0004"))
    assert text.read_ap_basic_info() == ApBasicInfo.parse(ef("text", "0005"))


# --------------------------------------------------------------------------- 住基カード
def test_juki_card(fresh_card: Callable[..., Any], pins: PinLedger) -> None:
    bridge = fresh_card("juki-01")
    t = pcsc.PcscTransport(bridge.reader, share="exclusive")
    try:
        card = open_card(t)
        assert card.card_type is CardType.JUKI
        assert card.applications == frozenset({App.JPKI.application, App.JUKI.application})
        assert card.token is not None and card.token.kind is TokenKind.JUKI_CARD
        jpki = card.jpki()
        assert type(jpki) is JukiJpkiSession
        assert jpki.pin_status(JukiJpkiPin.SIGN).retries_left == 5
        with pytest.raises(SecurityStatusError):
            jpki.read_certificate(JukiJpkiCert.SIGN)
        der = jpki.read_certificate(JukiJpkiCert.SIGN, pin=pins.submit(PINS["juki_sign"]))
        assert der == der_of(ef("jpki", "0001", "juki-01"))
        assert rsa_key(der).key_size == 1024
        digest = hashlib.sha256(b"juki").digest()
        sig = jpki.sign(JukiJpkiKey.SIGN, None, digest=digest)  # still verified
        assert len(sig) == 128
        rsa_key(der).verify(sig, digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        assert jpki.read_certificate(JukiJpkiCert.SIGN_CA) == der_of(ef("jpki", "0002", "juki-01"))

        juki = card.juki()
        assert isinstance(juki, JukiSession)
        assert juki.pin_status().retries_left == 3
        with pytest.raises(SecurityStatusError):
            juki.read_resident_code()
        code = juki.read_resident_code(pins.submit(PINS["juki"]))
        assert code.digits == ef("juki", "0001", "juki-01").decode("ascii")
        assert code.digits not in repr(code)
        with pytest.raises(ApplicationNotFound):
            card.text()
    finally:
        close_quietly(t)


# --------------------------------------------------------------------------- removal / reset
def test_card_removed_during_an_operation(mn: Any, pins: PinLedger) -> None:
    """The card leaves between the VERIFY and the signature of one ``sign`` call."""
    inner = pcsc.PcscTransport(mn.reader, share="exclusive")
    t = HookedTransport(inner)
    try:
        jpki = JpkiSession(t)
        before = mn.stats()
        generation = t.generation
        # pull the card right after the VERIFY, before the signature
        t.arm(is_verify_with_data, mn.remove)
        with pytest.raises(CardRemovedError):
            jpki.sign(JpkiKey.AUTH, pins.submit(PINS["auth"]), message=b"removed")
        assert mn.removed
        assert sum(map(is_verify_with_data, t.sent)) == 1  # the PIN went out once, not again
        assert mn.stats()["verify_with_data"] == before["verify_with_data"] + 1
        assert jpki.verified == frozenset()  # the session forgot the PIN with the card
        with pytest.raises(CardRemovedError):
            jpki.token_info()  # and the card stays gone
        assert mn.stats()["signatures"] == before["signatures"]

        mn.insert()
        inner.reconnect()
        assert t.generation > generation
        # a new card generation: nothing is verified, the session re-selects and asks again
        with pytest.raises(SecurityStatusError):
            jpki.sign(JpkiKey.AUTH, None, message=b"again")
        sig = jpki.sign(JpkiKey.AUTH, pins.submit(PINS["auth"]), message=b"again")
        rsa_key(der_of(ef("jpki", "000A"))).verify(sig, b"again", padding.PKCS1v15(),
                                                   hashes.SHA256())
    finally:
        close_quietly(inner)
        if mn.removed:
            mn.insert()


def test_reset_by_another_pcsc_client(mn: Any, pins: PinLedger) -> None:
    """Another process resets the card: our next operation gets CardResetError, the session
    forgets its PINs, and the card really forgot them too."""
    ours = pcsc.PcscTransport(mn.reader, share="shared")
    other: pcsc.PcscTransport | None = None
    try:
        jpki = JpkiSession(ours)
        # a shared connection trusts its selection (and the PINs verified in it) only
        # within the transaction that made it (second review of issue 8, finding 6)
        with ours.transaction():
            jpki.verify(JpkiPin.SIGN, pins.submit(PINS["sign"]))
            assert jpki.is_verified(JpkiPin.SIGN)
        assert not ours.sees_all_traffic and not jpki.is_verified(JpkiPin.SIGN)
        generation = ours.generation
        resets = mn.stats()["resets"]

        other = pcsc.PcscTransport(mn.reader, share="shared", reset_on_close=False)
        other.reconnect(reset=True)
        other.close()
        # the bridge counted the reset vpcd passed on (stats are written after each APDU:
        # the SELECT below makes them current)
        with pytest.raises(CardResetError):
            jpki.read_certificate(JpkiCert.SIGN)
        assert ours.generation > generation
        assert jpki.verified == frozenset()
        # the transport reconnected: the next operation works, and the card wants the PIN
        with pytest.raises(SecurityStatusError):
            jpki.read_certificate(JpkiCert.SIGN)
        assert mn.stats()["resets"] > resets
        der = jpki.read_certificate(JpkiCert.SIGN, pin=pins.submit(PINS["sign"]))
        assert der == der_of(ef("jpki", "0001"))
    finally:
        if other is not None:
            close_quietly(other)
        close_quietly(ours)


def test_a_shared_connection_never_trusts_a_selection_another_one_changed(
        mn: Any, pins: PinLedger) -> None:
    """Second review of issue 8, finding 6, on real PC/SC: two connections to one card in
    shared mode.  Old code: after the other connection selected the visual AP, the text
    session (holding a verified PIN) trusted its selection and read the visual AP's CV
    certificate as the text AP's."""
    ours = pcsc.PcscTransport(mn.reader, share="shared")
    other: pcsc.PcscTransport | None = None
    try:
        text = TextSession(ours)
        text.verify(TextPin.PIN, pins.submit(PINS["text"]))
        other = pcsc.PcscTransport(mn.reader, share="shared", reset_on_close=False)
        VisualSession(other)
        assert bytes(text.read_cv_certificate()) == ef("text", "0004")
        assert not ours.sees_all_traffic
    finally:
        if other is not None:
            close_quietly(other)
        close_quietly(ours)


def _events(bridge: Any, event: str) -> int:
    """How many times the bridge printed ``jukicard-emulator: <event>`` to its log."""
    text = bridge.log_path.read_text(errors="replace")
    return text.splitlines().count(f"jukicard-emulator: {event}")


def _silent_reset(bridge: Any) -> None:
    """SIGUSR2: the emulator resets its card without telling pcscd; wait (bounded) until the
    bridge reports it done."""
    resets = _events(bridge, "reset")
    bridge.proc.send_signal(signal.SIGUSR2)
    deadline = time.monotonic() + 10.0  # a bound on the wait, not a timed assertion
    while _events(bridge, "reset") == resets and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _events(bridge, "reset") == resets + 1, bridge.log_tail()


def test_silent_reset_never_passes_for_verified(mn: Any, pins: PinLedger) -> None:
    """The card loses its state without any PC/SC event (SIGUSR2): the session still
    believes the password verified, but the card refuses, no PIN is re-sent, and after a
    re-select the card wants the password again."""
    t = pcsc.PcscTransport(mn.reader, share="exclusive")
    try:
        jpki = JpkiSession(t)
        jpki.read_certificate(JpkiCert.SIGN, pin=pins.submit(PINS["sign"]))
        assert jpki.is_verified(JpkiPin.SIGN)
        signatures = mn.stats()["signatures"]
        _silent_reset(mn)
        assert jpki.is_verified(JpkiPin.SIGN)  # nobody told the session
        with pytest.raises(CardError):  # 6A82 (no DF selected after the reset) or 6982
            jpki.read_certificate(JpkiCert.SIGN)
        with pytest.raises(CardError):
            jpki.sign(JpkiKey.SIGN, None, message=b"x")
        assert mn.stats()["signatures"] == signatures
        jpki.reselect()
        assert jpki.verified == frozenset()
        with pytest.raises(SecurityStatusError):
            jpki.read_certificate(JpkiCert.SIGN)
    finally:
        close_quietly(t)


def test_silent_reset_session_recovers_by_itself(mn: Any, pins: PinLedger) -> None:
    t = pcsc.PcscTransport(mn.reader, share="exclusive")
    try:
        jpki = JpkiSession(t)
        jpki.verify(JpkiPin.SIGN, pins.submit(PINS["sign"]))
        _silent_reset(mn)
        with pytest.raises(CardError):
            jpki.read_certificate(JpkiCert.SIGN)
        # the card answered "no": the next operation should re-select, and the card then
        # asks for the password (SecurityStatusError), not 6A82 again
        with pytest.raises(SecurityStatusError):
            jpki.read_certificate(JpkiCert.SIGN)
    finally:
        close_quietly(t)
