"""The card-layer defects of issue 8, one test (or one parametrized test) each.

Every test here fails on the code before the fix (commit e5516cd); each docstring says how.
The fuzz test over every public operation is ``test_card_fuzz.py``; the secrets-in-reprs
sweep is ``test_card_reprs.py``.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from emulated_support import (
    PINS,
    Emulated,
    ForeignTransport,
    MakeCard,
    PinLedger,
    PlainForeignTransport,
    find_file,
    profile_json,
)

from jukicard.card import (
    JpkiCert,
    JpkiKey,
    JpkiPin,
    JpkiSession,
    JukiPin,
    JukiSession,
    TextPin,
    TextSession,
    VisualPin,
    VisualSession,
)
from jukicard.cli.main import exit_code_for
from jukicard.emulator.cardos import CardOS
from jukicard.emulator.profile import load_profile
from jukicard.errors import BadResponse, DataIntegrityError, JukiError, UsageError
from jukicard.services import ScriptedInteraction, card_info, read_verified, sign_digest

ROOT = Path(__file__).resolve().parents[2]
MALFORMED = ROOT / "vectors" / "malformed"
DIGEST = hashlib.sha256(b"defect").digest()


def _replace_ef(profile: str, app: str, fid: str, data: bytes) -> dict[str, Any]:
    prof = profile_json(profile)
    find_file(prof, app, fid)["data"] = data.hex()
    return prof


def _unknown_key_algorithm(der: bytes) -> bytes:
    """The certificate with its public-key algorithm OID replaced by an unknown one."""
    cert = asn1_x509.Certificate.load(der)
    cert["tbs_certificate"]["subject_public_key_info"]["algorithm"]["algorithm"] = "1.2.3.4.5.6"
    out: bytes = cert.dump(force=True)
    return out


def _ef(profile: str, app: str, fid: str) -> bytes:
    return bytes.fromhex(find_file(profile_json(profile), app, fid)["data"])


# --------------------------------------------------------------------------- untyped errors
VERSION_10 = (MALFORMED / "cert-version-10.der").read_bytes()


def test_bad_version_certificate_is_a_typed_error(make_card: MakeCard) -> None:
    """Old code: ``cryptography.x509.InvalidVersion`` escaped ``read_certificate``."""
    emu = make_card(data=_replace_ef("mynumber-01", "jpki", "000A", VERSION_10))
    with pytest.raises(BadResponse):
        JpkiSession(emu.transport).read_certificate(JpkiCert.AUTH)


def test_sign_with_an_unusable_certificate_fails_before_the_pin(make_card: MakeCard) -> None:
    """Old code: the auth PIN was sent, then ``InvalidVersion`` escaped ``sign`` (and the
    ledger saw a VERIFY nobody submitted).  Now the auth certificate (readable without a
    PIN) is checked first: a typed error, and no PIN reaches the card."""
    emu = make_card(data=_replace_ef("mynumber-01", "jpki", "000A", VERSION_10))
    with pytest.raises(BadResponse):
        JpkiSession(emu.transport).sign(JpkiKey.AUTH, PINS["auth"], digest=DIGEST)
    with pytest.raises(BadResponse):
        sign_digest(emu.transport, ScriptedInteraction([PINS["auth"]]), DIGEST, key="auth")
    assert emu.card.stats.verify_with_data == 0
    assert emu.card.stats.signatures == 0


@pytest.mark.parametrize(
    ("fid", "data"),
    [
        ("000A", VERSION_10),  # InvalidVersion
        ("000B", _unknown_key_algorithm(_ef("mynumber-01", "jpki", "000B"))),  # UnsupportedAlg.
    ],
    ids=["version-10-auth-cert", "unknown-key-algorithm-ca-cert"],
)
def test_card_info_reports_unusable_certificates(make_card: MakeCard, fid: str,
                                                 data: bytes) -> None:
    """Old code: ``InvalidVersion`` / ``UnsupportedAlgorithm`` escaped ``card_info``."""
    emu = make_card(data=_replace_ef("mynumber-01", "jpki", fid, data))
    info = card_info(emu.transport)
    cert = next(c for c in info.certificates if c.ef == int(fid, 16))
    assert not cert.read and "unreadable" in cert.note


# --------------------------------------------------------------------------- secrets
def test_swapped_verify_arguments_never_print_the_value(mynumber: Emulated) -> None:
    """Old code: ``JukiSession.verify`` took ``(value, pin)`` (so the swapped call went
    through), and the other sessions put ``repr`` of the wrong argument — the PIN or the My
    Number — into the ``UsageError`` text."""
    my_number = find_file(profile_json("mynumber-01"), "text", "0014")["value"]
    calls = [
        (JpkiSession(mynumber.transport), "1234", JpkiPin.AUTH),
        (TextSession(mynumber.transport), my_number, TextPin.MATCH_A),
        (VisualSession(mynumber.transport), my_number, VisualPin.MATCH_A),
    ]
    for session, value, pin in calls:
        with pytest.raises(UsageError) as info:
            session.verify(value, pin)  # type: ignore[arg-type]
        assert value not in str(info.value) and value not in repr(info.value)
    assert mynumber.card.stats.verify_with_data == 0


def test_juki_verify_takes_pin_then_value(juki: Emulated, pins: PinLedger) -> None:
    """Old code: ``JukiSession.verify(value, pin)``; the swapped call must be refused."""
    session = JukiSession(juki.transport)
    with pytest.raises(UsageError) as info:
        session.verify(PINS["juki"], JukiPin.PIN)  # type: ignore[arg-type]
    assert PINS["juki"] not in str(info.value)
    session.verify(JukiPin.PIN, pins.submit(PINS["juki"]))
    assert session.is_verified(JukiPin.PIN)


def test_sign_result_repr_hides_the_certificate(mynumber: Emulated, pins: PinLedger) -> None:
    """Old code: ``repr(SignResult)`` printed the sign certificate (name, address, birth)."""
    res = sign_digest(mynumber.transport, ScriptedInteraction([pins.submit(PINS["sign"])]),
                      DIGEST, key="sign", include_certificate=True)
    assert res.certificate is not None
    text = repr(res)
    assert repr(res.certificate)[2:40] not in text and "certificate" not in text
    assert res.certificate == _ef("mynumber-01", "jpki", "0001")


# --------------------------------------------------------------------------- bare transports
@pytest.mark.parametrize("wrapper", [ForeignTransport, PlainForeignTransport],
                         ids=["not-weak-referenceable", "weak-referenceable"])
def test_bare_transport_sessions_never_send_a_pin_to_another_application(
    mynumber: Emulated, pins: PinLedger, wrapper: type[ForeignTransport]
) -> None:
    """Old code (not weak-referenceable transport): the text session believed its AP was
    still selected after the visual session selected its own, skipped SELECT and sent the
    text PIN to the visual AP's PIN file ``0011`` (the birth-date PIN)."""
    with pytest.raises(TypeError):
        import weakref

        weakref.ref(ForeignTransport(mynumber.transport))
    t = wrapper(mynumber.transport)
    text = TextSession(t)  # type: ignore[arg-type]
    visual = VisualSession(t)  # type: ignore[arg-type]
    card = mynumber.card
    verified_in: list[str] = []
    card.command_log = lambda cmd, _resp: (
        verified_in.append(card.current_df.name if card.current_df else "-")
        if cmd[1] == 0x20 and len(cmd) > 5 else None
    )
    text.verify(TextPin.PIN, pins.submit(PINS["text"]))
    visual.pin_status(VisualPin.BIRTH)  # the visual AP is selected now
    with contextlib.suppress(JukiError):
        text.verify(TextPin.PIN, pins.submit(PINS["text"]))
    assert verified_in == ["text", "text"]
    assert card.pin("visual", 0x0011).tries_left == 3


# --------------------------------------------------------------------------- extended length
@pytest.mark.parametrize("change", ["card-swapped", "card-reset"])
def test_extended_length_learning_is_forgotten_with_the_card(
    mynumber: Emulated, change: str
) -> None:
    """Old code: after a card that takes extended APDUs was replaced by one that does not
    (or reset into a mode that does not), the processor still sent extended READ BINARY
    and the read failed with ``6700`` (CardError)."""
    t = mynumber.transport
    jpki = JpkiSession(t)
    jpki.read_certificate(JpkiCert.AUTH)  # learns: extended length works
    if change == "card-swapped":
        t.remove()
        t.card = CardOS(load_profile("mynumber-short"))
        t.insert()
        expected = _ef("mynumber-short", "jpki", "000A")
    else:
        t.reset()
        mynumber.card.extended_length = False
        expected = _ef("mynumber-01", "jpki", "000A")
    assert jpki.read_certificate(JpkiCert.AUTH) == expected
    assert jpki.channel.extended_supported is False


# --------------------------------------------------------------------------- read_verified
def test_read_verified_says_what_was_checked(mynumber: Emulated, pins: PinLedger) -> None:
    """Old code: a bare tuple; callers reported ``signature_checked: true`` although only
    the card's own key had been used."""
    from jukicard.card.dataobjects import CvCertificate

    result = read_verified(mynumber.transport, ScriptedInteraction([pins.submit(PINS["text"])]))
    assert result.signature_check == "card-key-only" and not result.trusted

    from jukicard.card import SignatureCheck

    assert result.signature_check is SignatureCheck.CARD_KEY_ONLY
    root = CvCertificate.parse((ROOT / "vectors/pki/cv/jlis-root.cvc").read_bytes())
    trusted = read_verified(mynumber.transport, ScriptedInteraction([pins.submit(PINS["text"])]),
                            issuer_key=root.public_key())
    assert trusted.signature_check == "trusted-issuer" and trusted.trusted
    my_number, basic = trusted
    assert (my_number, basic) == (trusted.my_number, trusted.basic_info)
    assert my_number.digits not in repr(trusted) and basic.name not in repr(trusted)


# --------------------------------------------------------------------------- tampering
def _flip(data: bytes, pos: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1 :]


def _tampered() -> Iterator[Any]:
    basic = _ef("mynumber-01", "text", "0002")
    sig = _ef("mynumber-01", "text", "0003")
    cv = _ef("mynumber-01", "text", "0004")
    offsets = basic.index(b"\xdf\x21") + 3
    yield pytest.param("0002", _flip(basic, offsets + 1), id="basic-info-offset-table")
    yield pytest.param("0002", basic[:20], id="basic-info-truncated")
    yield pytest.param("0003", _flip(sig, sig.index(b"\xdf\x31")), id="signature-ef-structure")
    exponent = cv.index(b"\x90\x03") + 4  # last byte of e = 01 00 01
    yield pytest.param("0004", _flip(cv, exponent), id="cv-certificate-exponent")
    yield pytest.param("0004", cv[:-40], id="cv-certificate-truncated")


@pytest.mark.parametrize(("fid", "data"), list(_tampered()))
def test_tampered_text_ap_data_is_exit_5(
    make_card: MakeCard, pins: PinLedger, fid: str, data: bytes
) -> None:
    """Old code: these raised a plain ``BadResponse`` ("card refused the operation", exit 4)
    because the content was parsed before the signature was checked."""
    emu = make_card(data=_replace_ef("mynumber-01", "text", fid, data))
    with pytest.raises(DataIntegrityError) as info:
        read_verified(emu.transport, ScriptedInteraction([pins.submit(PINS["text"])]))
    assert exit_code_for(info.value)[0] == 5


def test_card_signature_that_does_not_verify_is_exit_5(
    make_card: MakeCard, pins: PinLedger
) -> None:
    """Old code: a card signature that does not verify against the key's certificate was
    a plain ``BadResponse`` (exit 4).  The auth certificate is replaced by another
    certificate (the sign CA's), so the card's signature cannot verify."""
    emu = make_card(data=_replace_ef("mynumber-01", "jpki", "000A",
                                     _ef("mynumber-01", "jpki", "0002")))
    with pytest.raises(DataIntegrityError) as info:
        sign_digest(emu.transport, ScriptedInteraction([pins.submit(PINS["auth"])]), DIGEST,
                    key="auth")
    assert exit_code_for(info.value)[0] == 5


# --------------------------------------------------------------------------- 63CF
def test_impossible_counter_is_clamped_and_flagged(
    make_card: MakeCard, caplog: pytest.LogCaptureFixture
) -> None:
    """Old code: ``63CF`` from a 3-try PIN was reported as 15 tries left.  (The emulated
    card is told its 3-try auth PIN has 15 tries left.)"""
    prof = profile_json("mynumber-01")
    entry = find_file(prof, "jpki", "0018")
    emu = make_card(data=prof)
    emu.card.pin("jpki", 0x0018).tries_left = 15
    caplog.set_level(logging.INFO)  # INFO since the second review (the CLI says it itself)
    status = JpkiSession(emu.transport).pin_status(JpkiPin.AUTH)
    assert status.retries_left == 3 and status.counter_implausible
    assert "impossible retry counter" in caplog.text and "15" not in caplog.text
    assert entry["max_tries"] == 3
