"""Card-layer findings of the independent review of issue 8, one test (or a few) each.

Every test here fails on the code before the fix (``main`` at ac0397e); each docstring says
how.  The odd-argument sweep over the public operations is ``test_card_odd_arguments.py``;
the hostile-data fuzz (with the negative-serial mutation and warnings as errors) is
``test_card_fuzz.py``.
"""

from __future__ import annotations

import contextlib
import logging
import warnings

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from emulated_support import (
    PINS,
    Emulated,
    ForeignTransport,
    MakeCard,
    PinLedger,
    find_file,
    profile_json,
)

from jukicard.apdu.apps import Charset, all_applications
from jukicard.card import (
    CardChannel,
    CvCertificate,
    JpkiCert,
    JpkiPin,
    JpkiSession,
    TextPin,
    TextSession,
    VisualPin,
    VisualSession,
    open_card,
)
from jukicard.card.detect import DETECTION
from jukicard.emulator.cardos import CardOS
from jukicard.emulator.profile import load_profile
from jukicard.errors import CardError, PinBlockedError, PinFormatError, UsageError
from jukicard.services import (
    ScriptedInteraction,
    card_info,
    pin_status_all,
    read_my_number,
    read_verified,
)
from jukicard.transport.base import DelegatingTransport
from jukicard.transport.loopback import LoopbackTransport
from jukicard.transport.tracing import TracingTransport

MY_NUMBER = find_file(profile_json("mynumber-01"), "text", "0014")["value"]
BIRTH_PIN = find_file(profile_json("mynumber-01"), "visual", "0011")["value"]


def _ef(profile: str, app: str, fid: str) -> bytes:
    return bytes.fromhex(find_file(profile_json(profile), app, fid)["data"])


def _spend_birth_pin_tries(t: object, n: int, pins: PinLedger) -> None:
    """Make the visual AP's birth-date PIN counter differ from the text PIN's."""
    visual = VisualSession(t)  # type: ignore[arg-type]
    for _ in range(n):
        with contextlib.suppress(CardError):
            visual.verify(VisualPin.BIRTH, pins.submit("000000"))  # wrong on purpose


def _selected_aids(transcript: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [cmd[5 : 5 + cmd[4]] for cmd, _ in transcript if cmd[1:3] == b"\xa4\x04"]


# =========================================================================== finding 1
def test_bare_sessions_on_one_transport_share_the_selection(
    make_card: MakeCard, pins: PinLedger
) -> None:
    """Old code (``/tmp/ra/twosess.py``): each bare session had its own channel, so after
    ``VisualSession(t)`` the text session still believed its AP was selected:
    ``text.pin_status(TextPin.PIN)`` reported the visual birth-date PIN's counter (1) under
    the text PIN's name, and ``read_cv_certificate()`` returned the visual AP's CV
    certificate."""
    emu = make_card("mynumber-01")
    t = emu.transport
    _spend_birth_pin_tries(t, 2, pins)  # birth PIN: 1 try left; text PIN: 3
    text = TextSession(t)
    text.verify(TextPin.PIN, pins.submit(PINS["text"]))
    VisualSession(t)  # selects the visual AP
    status = text.pin_status(TextPin.PIN)
    assert status.pin is TextPin.PIN.spec and status.retries_left == 3
    assert emu.card.pin("text", 0x0011).tries_left == 3
    text.verify(TextPin.PIN, pins.submit(PINS["text"]))
    VisualSession(t)
    assert bytes(text.read_cv_certificate()) == _ef("mynumber-01", "text", "0004")
    # one channel for every session and service on the transport
    assert TextSession(t).channel is VisualSession(t).channel is open_card(t).channel
    assert CardChannel.of(t) is text.channel


def test_services_and_sessions_on_one_transport_see_each_others_selects(
    make_card: MakeCard, pins: PinLedger
) -> None:
    """Old code: every service call made a fresh channel, so a session verified before a
    service call kept believing its selection (and its verified PIN) after the service had
    selected every application of the card."""
    emu = make_card("mynumber-01")
    t = emu.transport
    jpki = JpkiSession(t)
    jpki.verify(JpkiPin.AUTH, pins.submit(PINS["auth"]))
    assert jpki.is_verified(JpkiPin.AUTH)
    pin_status_all(t)  # detection: SELECTs every application
    assert not jpki.is_verified(JpkiPin.AUTH)
    before = len(t.transcript)
    jpki.read_certificate(JpkiCert.AUTH_CA)
    assert _selected_aids(t.transcript[before:]) == [JpkiSession.APPLICATION.aid]


@pytest.mark.parametrize("how", ["raw-transmit", "second-channel", "tracer-and-inner"])
def test_someone_elses_select_is_never_trusted(
    make_card: MakeCard, pins: PinLedger, how: str
) -> None:
    """Old code: a SELECT that did not go through the session's own channel (a raw
    ``transmit``, a channel built directly, a session on a ``TracingTransport`` over the
    same transport) went unnoticed, and the text session sent its data-less VERIFY — and
    would have sent a PIN — to the visual AP's PIN file ``0011``."""
    emu = make_card("mynumber-01")
    t = emu.transport
    _spend_birth_pin_tries(t, 1, pins)
    text = TextSession(t)
    text.verify(TextPin.PIN, pins.submit(PINS["text"]))
    visual_aid = VisualSession.APPLICATION.aid
    if how == "raw-transmit":
        assert t.transmit(b"\x00\xa4\x04\x0c" + bytes((len(visual_aid),)) + visual_aid)[1] == \
            0x9000
    elif how == "second-channel":
        VisualSession(CardChannel(t))
    else:
        VisualSession(TracingTransport(t))
    assert text.pin_status(TextPin.PIN).retries_left == 3
    assert not text.is_verified(TextPin.PIN)  # the card logged the PIN out


def test_a_session_on_a_tracer_notices_the_inner_transport(
    make_card: MakeCard, pins: PinLedger
) -> None:
    """The wrapper has a channel of its own (its traffic must be traced), yet it sees the
    commands sent on the transport it wraps.  Old code: the text session on the tracer
    reported the birth-date PIN's counter after a visual session on the inner transport."""
    emu = make_card("mynumber-01")
    _spend_birth_pin_tries(emu.transport, 2, pins)
    traced = TracingTransport(emu.transport)
    text = TextSession(traced)
    text.verify(TextPin.PIN, pins.submit(PINS["text"]))
    VisualSession(emu.transport)
    assert text.channel is not CardChannel.of(emu.transport)
    assert text.pin_status(TextPin.PIN).retries_left == 3


def test_a_foreign_transport_selects_before_every_operation(
    make_card: MakeCard, pins: PinLedger
) -> None:
    """A transport that cannot carry a channel nor count its commands: every operation
    selects its application again, so no stale selection is ever used.  Old code: the
    sessions' separate channels trusted their own record, and the text session's status
    query went to the visual AP's birth-date PIN."""
    emu = make_card("mynumber-01")
    _spend_birth_pin_tries(emu.transport, 2, pins)
    foreign = ForeignTransport(emu.transport)
    text = TextSession(foreign)  # type: ignore[arg-type]
    text.verify(TextPin.PIN, pins.submit(PINS["text"]))
    VisualSession(foreign)  # type: ignore[arg-type]
    before = len(emu.transport.transcript)
    assert text.pin_status(TextPin.PIN).retries_left == 3
    assert _selected_aids(emu.transport.transcript[before:]) == [TextSession.APPLICATION.aid]
    before = len(emu.transport.transcript)
    text.read_ap_basic_info()  # nothing happened in between: it still selects
    assert _selected_aids(emu.transport.transcript[before:]) == [TextSession.APPLICATION.aid]
    assert not text.channel.tracks_traffic and CardChannel.of(foreign) is not text.channel  # type: ignore[arg-type]


def test_extended_length_learning_is_shared_and_forgotten_with_the_card(
    make_card: MakeCard,
) -> None:
    """What one session learnt about extended length serves the others on the transport,
    and goes with the card (the guarantee of issue 8, kept with the shared channel)."""
    emu = make_card("mynumber-01")
    t = emu.transport
    JpkiSession(t).read_certificate(JpkiCert.AUTH)
    assert TextSession(t).channel.extended_supported is True
    t.remove()
    t.card = CardOS(load_profile("mynumber-short"))
    t.insert()
    jpki = open_card(t).jpki()
    assert jpki.read_certificate(JpkiCert.AUTH) == _ef("mynumber-short", "jpki", "000A")
    assert CardChannel.of(t).extended_supported is False


def test_extended_setting_on_a_bare_transport_is_kept(make_card: MakeCard) -> None:
    """``extended=False`` for a session on a bare transport makes (and keeps) a channel of
    short APDUs; a later session without the argument uses it."""
    emu = make_card("mynumber-01")
    short = JpkiSession(emu.transport, extended=False)
    assert short.channel.extended is False
    assert TextSession(emu.transport).channel is short.channel
    assert JpkiSession(emu.transport, extended=None).channel is short.channel
    assert JpkiSession(emu.transport, extended=True).channel.extended is True
    with pytest.raises(UsageError):
        JpkiSession(short.channel, extended=True)


# =========================================================================== finding 2
def _issuer_cv() -> CvCertificate:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    return CvCertificate.parse((root / "vectors/pki/cv/jlis-root.cvc").read_bytes())


@pytest.mark.parametrize(
    "wrong",
    [
        pytest.param(lambda: rsa.generate_private_key(65537, 2048), id="rsa-private-key"),
        pytest.param(lambda: ec.generate_private_key(ec.SECP256R1()).public_key(),
                     id="ec-public-key"),
        pytest.param(lambda: b"\x30\x82", id="bytes"),
        pytest.param(lambda: "jlis-root.cvc", id="str"),
    ],
)
def test_read_verified_checks_the_issuer_key_before_the_pin(
    mynumber: Emulated, wrong: object
) -> None:
    """Old code: the PIN was sent (and spent), then ``AttributeError``/``TypeError``."""
    key = wrong()  # type: ignore[operator]
    with pytest.raises(UsageError, match="issuer_key"):
        TextSession(mynumber.transport).read_verified(PINS["text"], issuer_key=key)
    with pytest.raises(UsageError, match="issuer_key"):
        read_verified(mynumber.transport, ScriptedInteraction([PINS["text"]]), issuer_key=key)
    assert mynumber.card.stats.verify_with_data == 0


def test_read_verified_takes_the_issuers_cv_certificate(
    mynumber: Emulated, pins: PinLedger
) -> None:
    """The natural mistake, now the API: the issuer's CV certificate stands for its key.
    Old code: the PIN was sent, then ``AttributeError`` (no ``verify`` on it)."""
    result = TextSession(mynumber.transport).read_verified(
        pins.submit(PINS["text"]), issuer_key=_issuer_cv())
    assert result.trusted and result.signature_check == "trusted-issuer"


# =========================================================================== finding 4
def _negative_serial(der: bytes) -> bytes:
    cert = asn1_x509.Certificate.load(der)
    cert["tbs_certificate"]["serial_number"] = -5
    out: bytes = cert.dump(force=True)
    return out


@pytest.fixture
def negative_serial_card(make_card: MakeCard) -> Emulated:
    """mynumber-01 with a negative serial number in the JPKI auth CA certificate (000B)."""
    prof = profile_json("mynumber-01")
    entry = find_file(prof, "jpki", "000B")
    entry["data"] = _negative_serial(bytes.fromhex(entry["data"])).hex()
    return make_card(data=prof)


def test_negative_serial_certificate_passes_no_warning_on(
    negative_serial_card: Emulated,
) -> None:
    """Old code (``/tmp/ra/negtest.py``): three ``CryptographyDeprecationWarning`` lines
    reached the caller, and under ``-W error`` an untyped warning escaped
    ``read_certificate`` and ``card_info``."""
    t = negative_serial_card.transport
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        der = JpkiSession(t).read_certificate(JpkiCert.AUTH_CA)
        info = card_info(t)
    assert der == _negative_serial(_ef("mynumber-01", "jpki", "000B"))
    assert next(c for c in info.certificates if c.id == "auth-ca").serial == "-5"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        JpkiSession(t).read_certificate(JpkiCert.AUTH_CA)
        card_info(t)
    assert seen == []


# =========================================================================== finding 5
class _AnswersReadsWith6281(DelegatingTransport):
    """Every READ BINARY answered ``9000`` with data comes back as ``6281`` (part of the
    data may be corrupted) with the same data: a card that warns while handing out the
    EF."""

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        data, sw = self.inner.transmit(apdu)
        if apdu[1] == 0xB0 and sw == 0x9000 and data:
            return data, 0x6281
        return data, sw


def test_errors_from_personal_data_reads_keep_no_data(
    mynumber: Emulated, pins: PinLedger
) -> None:
    """Old code: the ``CardError`` of a My Number read answered ``6281`` with data kept the
    EF — the My Number — in ``CardError.data``."""
    t = _AnswersReadsWith6281(mynumber.transport)
    with pytest.raises(CardError) as info:
        TextSession(t).read_my_number(pin=pins.submit(PINS["text"]))
    assert info.value.sw == 0x6281 and info.value.data == b""
    assert MY_NUMBER not in repr(vars(info.value))
    with pytest.raises(CardError) as info:
        read_my_number(t, ScriptedInteraction([pins.submit(PINS["text"])]))
    assert info.value.data == b""


@pytest.mark.parametrize(
    ("pin", "value"),
    [(JpkiPin.SIGN, "A1" * 10), (JpkiPin.SIGN, "AB1"), (JpkiPin.AUTH, "1234567"),
     (TextPin.MATCH_A, MY_NUMBER + "12345")],
)
def test_pin_format_errors_do_not_tell_the_typed_length(pin: JpkiPin, value: str) -> None:
    """Old code: "must be 6-16 characters, got 20" — the length of what was typed."""
    with pytest.raises(PinFormatError) as info:
        pin.spec.encode(value)
    text = str(info.value)
    assert f"must be {pin.spec.length_text} characters" in text
    assert "got" not in text and str(len(value)) not in text.replace(pin.spec.length_text, "")


def test_emulator_debug_line_hides_the_size_of_pin_commands(
    mynumber: Emulated, pins: PinLedger, caplog: pytest.LogCaptureFixture
) -> None:
    """Old code: ``APDU 0020 0080 (11 bytes)`` — the command size gives the PIN's length."""
    caplog.set_level(logging.DEBUG, logger="jukicard.emulator.cardos")
    JpkiSession(mynumber.transport).verify(JpkiPin.SIGN, pins.submit(PINS["sign"]))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("APDU")]
    verify = [line for line in lines if line.startswith("APDU 00200080")]
    assert verify and all("bytes)" not in line for line in verify)
    assert any("(7 bytes)" in line for line in lines)  # other commands keep their size


# =========================================================================== finding 6
def test_a_pin_blocked_now_is_logged_at_info(
    make_card: MakeCard, pins: PinLedger, caplog: pytest.LogCaptureFixture
) -> None:
    """Old code: a WARNING "text rejected; now blocked", which the CLI printed as a raw log
    line at its default level; the error carries it."""
    emu = make_card("mynumber-01")
    emu.card.pin("text", 0x0011).tries_left = 1
    caplog.set_level(logging.INFO, logger="jukicard")
    with pytest.raises(PinBlockedError):
        TextSession(emu.transport).verify(TextPin.PIN, pins.submit("9999"))  # wrong
    blocked = [r for r in caplog.records if "now blocked" in r.getMessage()]
    assert blocked and all(r.levelno == logging.INFO for r in blocked)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_pin_labels_have_no_nested_brackets() -> None:
    """Old code: "照合番号A (collation number A (My Number))"."""
    specs = {p for app in all_applications() for p in app.pins} | {
        p.spec for row in DETECTION for cls in row.session_classes() for p in cls.PINS}
    assert len(specs) >= 9
    for spec in specs:
        assert not set("()（）") & set(spec.label_en), spec.id
        assert spec.label.count("(") == 1 and spec.label.endswith(")")
    assert TextPin.MATCH_A.spec.label == "照合番号A (collation number A, the My Number)"
    with pytest.raises(UsageError):
        type(TextPin.PIN.spec)("x", 1, 4, 4, 3, Charset.DIGITS, "ラベル", "bad (label)")


@pytest.mark.parametrize(
    ("pin", "value", "hint"),
    [(JpkiPin.AUTH, "１２３４", "half-width (半角) digits"),
     (JpkiPin.SIGN, "ＡＢＣ１２３", "half-width (半角) letters A-Z and digits"),
     (TextPin.PIN, "12 4", "half-width (半角) digits")],
)
def test_full_width_input_is_refused_with_a_hint(
    mynumber: Emulated, pin: JpkiPin, value: str, hint: str
) -> None:
    """Old code: "contains characters outside digits" — staff could not tell why ``１２３４``
    was wrong.  Still refused, and nothing is sent."""
    session = TextSession(mynumber.transport) if pin is TextPin.PIN else \
        JpkiSession(mynumber.transport)
    with pytest.raises(PinFormatError) as info:
        session.verify(pin, value)  # type: ignore[arg-type]
    assert f"use {hint} only" in str(info.value) and value not in str(info.value)
    assert mynumber.card.stats.verify_with_data == 0


def test_service_read_verified_checks_the_issuer_key_before_asking() -> None:
    """Review: ``services.data.read_verified`` asked the resident for the PIN (and checked the
    counter) before the card layer refused a wrong ``issuer_key``; now nobody is asked."""
    from jukicard.services.data import read_verified
    from jukicard.services.interaction import ScriptedInteraction

    card = CardOS(load_profile("mynumber-01"))
    asker = ScriptedInteraction(["1234"])
    with pytest.raises(UsageError):
        read_verified(LoopbackTransport(card), asker, issuer_key=b"not a key")  # type: ignore[arg-type]
    assert asker.requests == [] and card.stats.verify_with_data == 0
