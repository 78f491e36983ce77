"""Card removed / card reset before EACH APDU of EACH session operation.

For every operation the number of APDUs it sends (N) and the position of its VERIFY (if
any) are measured first, on a fresh emulated card; then the operation is run once per
``before_apdu`` in 1..N with the fault injected there.  Each run must raise
CardRemovedError / CardResetError, leave the session believing no PIN is verified, send
VERIFY at most once (never re-sent), leave the PIN counter untouched, and leave the card
usable by a fresh operation.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from emulated_support import PINS, MakeCard, PinLedger, profile_json

from jukicard.apdu.apps import TextEf
from jukicard.card import (
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
    MyNumber,
    TextPin,
    TextSession,
    VisualPin,
    VisualSession,
    open_card,
)
from jukicard.card.session import ApplicationSession
from jukicard.emulator.cardos import CardOS
from jukicard.emulator.profile import load_profile
from jukicard.errors import CardRemovedError, CardResetError
from jukicard.services.data import read_verified
from jukicard.services.info import card_info
from jukicard.services.interaction import ScriptedInteraction
from jukicard.services.pins import change_pin, pin_status_all
from jukicard.services.signing import sign_digest
from jukicard.transport.loopback import LoopbackTransport


def _pin_value(profile: str, app: str, fid: str) -> str:
    for a in profile_json(profile)["applications"]:
        if a["name"] == app:
            return next(f["value"] for f in a["files"] if f["fid"] == fid)
    raise KeyError((profile, app, fid))


def _match_a(profile: str) -> str:
    for a in profile_json(profile)["applications"]:
        if a["name"] == "visual":
            return next(f["value"] for f in a["files"] if f["fid"] == "0013")
    raise KeyError(profile)


def _match_b(profile: str) -> str:
    for a in profile_json(profile)["applications"]:
        if a["name"] == "text":
            return next(f["value"] for f in a["files"] if f["fid"] == "0015")
    raise KeyError(profile)


@dataclass(frozen=True)
class Op:
    """One session operation under test."""

    name: str
    profile: str
    session: Callable[[LoopbackTransport], ApplicationSession | None]
    run: Callable[[LoopbackTransport, Any, str | None], object]
    pin: str | None = None
    #: (session factory, PIN) whose retry counter must be at max afterwards
    status: Callable[[LoopbackTransport], int] | None = None
    max_tries: int | None = None


def _jpki(t: LoopbackTransport) -> JpkiSession:
    return JpkiSession(t, select=False)


def _status(cls: type, pin: Any) -> Callable[[LoopbackTransport], int]:
    return lambda t: cls(t, select=False).pin_status(pin).retries_left


def _sm_block(s: TextSession, pin: str) -> None:
    """issue 11 part A: one SM session, 照合番号-less: SELECT + READ under SM."""
    with s.secure_messaging(pin) as sm:
        sm.read_ef(TextEf.MY_NUMBER, 0xFF10)

DIGEST = hashlib.sha256(b"fault").digest()

OPS: list[Op] = [
    Op("open_card", "mynumber-01", lambda t: None, lambda t, s, p: open_card(t)),
    Op("open_card-juki", "juki-01", lambda t: None, lambda t, s, p: open_card(t)),
    Op("token_info", "mynumber-01", _jpki, lambda t, s, p: s.token_info()),
    Op("pin_status", "mynumber-01", _jpki, lambda t, s, p: s.pin_status(JpkiPin.AUTH)),
    Op("verify-sign", "mynumber-01", _jpki, lambda t, s, p: s.verify(JpkiPin.SIGN, p),
       PINS["sign"], _status(JpkiSession, JpkiPin.SIGN), 5),
    Op("change_pin-auth", "mynumber-01", _jpki,
       lambda t, s, p: s.change_pin(JpkiPin.AUTH, p, "4321"),
       PINS["auth"], _status(JpkiSession, JpkiPin.AUTH), 3),
    Op("read_certificate-auth", "mynumber-01", _jpki,
       lambda t, s, p: s.read_certificate(JpkiCert.AUTH)),
    Op("read_certificate-auth-short", "mynumber-short", _jpki,
       lambda t, s, p: s.read_certificate(JpkiCert.AUTH)),
    Op("read_certificate-sign", "mynumber-01", _jpki,
       lambda t, s, p: s.read_certificate(JpkiCert.SIGN, pin=p),
       PINS["sign"], _status(JpkiSession, JpkiPin.SIGN), 5),
    Op("sign-auth", "mynumber-01", _jpki,
       lambda t, s, p: s.sign(JpkiKey.AUTH, p, digest=DIGEST),
       PINS["auth"], _status(JpkiSession, JpkiPin.AUTH), 3),
    Op("sign_with_certificate-sign", "mynumber-01", _jpki,
       lambda t, s, p: s.sign_with_certificate(JpkiKey.SIGN, p, digest=DIGEST),
       PINS["sign"], _status(JpkiSession, JpkiPin.SIGN), 5),
    Op("sign-sign-short", "mynumber-short", _jpki,
       lambda t, s, p: s.sign(JpkiKey.SIGN, p, message=b"fault", hash_alg="sha384"),
       PINS["sign"], _status(JpkiSession, JpkiPin.SIGN), 5),
    Op("text-read_my_number", "mynumber-01", lambda t: TextSession(t, select=False),
       lambda t, s, p: s.read_my_number(pin=p),
       PINS["text"], _status(TextSession, TextPin.PIN), 3),
    Op("text-read_basic_info-match_b", "mynumber-01", lambda t: TextSession(t, select=False),
       lambda t, s, p: s.read_basic_info(match_b=p),
       _match_b("mynumber-01"), _status(TextSession, TextPin.MATCH_B), 10),
    Op("text-read_verified", "mynumber-01", lambda t: TextSession(t, select=False),
       lambda t, s, p: s.read_verified(p),
       PINS["text"], _status(TextSession, TextPin.PIN), 3),
    Op("text-read_my_number_sm", "mynumber-01", lambda t: TextSession(t, select=False),
       lambda t, s, p: s.read_my_number_sm(p),
       PINS["text"], _status(TextSession, TextPin.PIN), 3),
    Op("text-read_basic_info_sm", "mynumber-01", lambda t: TextSession(t, select=False),
       lambda t, s, p: s.read_basic_info_sm(p),
       PINS["text"], _status(TextSession, TextPin.PIN), 3),
    Op("text-read_verified_sm", "mynumber-01", lambda t: TextSession(t, select=False),
       lambda t, s, p: s.read_verified_sm(p),
       PINS["text"], _status(TextSession, TextPin.PIN), 3),
    Op("text-secure_messaging", "mynumber-01", lambda t: TextSession(t, select=False),
       lambda t, s, p: _sm_block(s, str(p)),
       PINS["text"], _status(TextSession, TextPin.PIN), 3),
    Op("text-authenticate_card", "mynumber-01", lambda t: TextSession(t, select=False),
       lambda t, s, p: s.authenticate_card(pin=p),
       PINS["text"], _status(TextSession, TextPin.PIN), 3),
    Op("token_info_full", "mynumber-01", _jpki, lambda t, s, p: s.token_info_full()),
    Op("certificate_availability", "mynumber-01", _jpki,
       lambda t, s, p: s.certificate_availability()),
    Op("visual-authenticate_card", "mynumber-01", lambda t: VisualSession(t, select=False),
       lambda t, s, p: s.authenticate_card(match_a=p),
       _match_a("mynumber-01"), _status(VisualSession, VisualPin.MATCH_A), 10),
    Op("visual-read_entries", "mynumber-01", lambda t: VisualSession(t, select=False),
       lambda t, s, p: s.read_entries(match_a=MyNumber(str(p))),
       _match_a("mynumber-01"), _status(VisualSession, VisualPin.MATCH_A), 10),
    Op("visual-read_entries-short", "mynumber-short", lambda t: VisualSession(t, select=False),
       lambda t, s, p: s.read_entries(match_a=p),
       _match_a("mynumber-short"), _status(VisualSession, VisualPin.MATCH_A), 10),
    Op("juki-jpki-sign", "juki-01", lambda t: JukiJpkiSession(t, select=False),
       lambda t, s, p: s.sign(JukiJpkiKey.SIGN, p, message=b"fault"),
       PINS["juki_sign"], _status(JukiJpkiSession, JukiJpkiPin.SIGN), 5),
    Op("juki-jpki-read-sign-cert", "juki-01", lambda t: JukiJpkiSession(t, select=False),
       lambda t, s, p: s.read_certificate(JukiJpkiCert.SIGN, pin=p),
       PINS["juki_sign"], _status(JukiJpkiSession, JukiJpkiPin.SIGN), 5),
    Op("juki-read_resident_code", "juki-01", lambda t: JukiSession(t, select=False),
       lambda t, s, p: s.read_resident_code(p),
       PINS["juki"], lambda t: JukiSession(t, select=False).pin_status().retries_left, 3),
    # the remaining session operations
    Op("verify-auth", "mynumber-01", _jpki, lambda t, s, p: s.verify(JpkiPin.AUTH, p),
       PINS["auth"], _status(JpkiSession, JpkiPin.AUTH), 3),
    Op("change_pin-sign", "mynumber-01", _jpki,
       lambda t, s, p: s.change_pin(JpkiPin.SIGN, p, "XYZ789"),
       PINS["sign"], _status(JpkiSession, JpkiPin.SIGN), 5),
    Op("read_certificate-sign_ca", "mynumber-01", _jpki,
       lambda t, s, p: s.read_certificate(JpkiCert.SIGN_CA)),
    Op("text-pin_status", "mynumber-01", lambda t: TextSession(t, select=False),
       lambda t, s, p: s.pin_status(TextPin.MATCH_A)),
    Op("text-verify", "mynumber-01", lambda t: TextSession(t, select=False),
       lambda t, s, p: s.verify(TextPin.PIN, p),
       PINS["text"], _status(TextSession, TextPin.PIN), 3),
    Op("text-read_my_number-match_a", "mynumber-01", lambda t: TextSession(t, select=False),
       lambda t, s, p: s.read_my_number(match_a=p),
       _match_a("mynumber-01"), _status(TextSession, TextPin.MATCH_A), 10),
    Op("text-read_cv_certificate", "mynumber-01", lambda t: TextSession(t, select=False),
       lambda t, s, p: s.read_cv_certificate()),
    Op("text-read_ap_basic_info", "mynumber-01", lambda t: TextSession(t, select=False),
       lambda t, s, p: s.read_ap_basic_info()),
    Op("visual-read_cv_certificate", "mynumber-01", lambda t: VisualSession(t, select=False),
       lambda t, s, p: s.read_cv_certificate()),
    Op("visual-pin_status", "mynumber-01", lambda t: VisualSession(t, select=False),
       lambda t, s, p: s.pin_status(VisualPin.BIRTH)),
    Op("visual-read_entries-match_b", "mynumber-01", lambda t: VisualSession(t, select=False),
       lambda t, s, p: s.read_entries(match_b=p),
       _pin_value("mynumber-01", "visual", "0012"), _status(VisualSession, VisualPin.MATCH_B),
       10),
    Op("visual-read_birth", "mynumber-01", lambda t: VisualSession(t, select=False),
       lambda t, s, p: s.read_birth(p),
       _pin_value("mynumber-01", "visual", "0011"), _status(VisualSession, VisualPin.BIRTH), 3),
    Op("juki-jpki-token_info", "juki-01", lambda t: JukiJpkiSession(t, select=False),
       lambda t, s, p: s.token_info()),
    Op("juki-jpki-change_pin", "juki-01", lambda t: JukiJpkiSession(t, select=False),
       lambda t, s, p: s.change_pin(JukiJpkiPin.SIGN, p, "JK34"),
       PINS["juki_sign"], _status(JukiJpkiSession, JukiJpkiPin.SIGN), 5),
    Op("juki-pin_status", "juki-01", lambda t: JukiSession(t, select=False),
       lambda t, s, p: s.pin_status()),
    Op("juki-verify", "juki-01", lambda t: JukiSession(t, select=False),
       lambda t, s, p: s.verify(JukiPin.PIN, p),
       PINS["juki"], lambda t: JukiSession(t, select=False).pin_status().retries_left, 3),
    Op("visual-verify", "mynumber-01", lambda t: VisualSession(t, select=False),
       lambda t, s, p: s.verify(VisualPin.MATCH_A, p),
       _match_a("mynumber-01"), _status(VisualSession, VisualPin.MATCH_A), 10),
    Op("reselect", "mynumber-01", _jpki, lambda t, s, p: s.reselect()),
    Op("text-reselect", "mynumber-01", lambda t: TextSession(t, select=False),
       lambda t, s, p: s.reselect()),
    Op("visual-reselect", "mynumber-01", lambda t: VisualSession(t, select=False),
       lambda t, s, p: s.reselect()),
    Op("juki-reselect", "juki-01", lambda t: JukiSession(t, select=False),
       lambda t, s, p: s.reselect()),
    # the services the CLI runs (several session operations in one transaction)
    Op("service-card_info", "mynumber-01", lambda t: None, lambda t, s, p: card_info(t)),
    Op("service-pin_status_all", "mynumber-01", lambda t: None,
       lambda t, s, p: pin_status_all(t)),
    Op("service-sign_digest", "mynumber-01", lambda t: None,
       lambda t, s, p: sign_digest(t, ScriptedInteraction([str(p)]), DIGEST, key="auth",
                                   include_certificate=True),
       PINS["auth"], _status(JpkiSession, JpkiPin.AUTH), 3),
    Op("service-read_verified", "mynumber-01", lambda t: None,
       lambda t, s, p: read_verified(t, ScriptedInteraction([str(p)])),
       PINS["text"], _status(TextSession, TextPin.PIN), 3),
    Op("service-change_pin", "juki-01", lambda t: None,
       lambda t, s, p: change_pin(t, "sign", ScriptedInteraction([str(p), "JK34"])),
       PINS["juki_sign"], _status(JukiJpkiSession, JukiJpkiPin.SIGN), 5),
]


#: op-name prefix of each session class: every public method of the class must have an Op
#: named ``<prefix><method>...``.
SESSION_PREFIXES: dict[type, str] = {
    JpkiSession: "", TextSession: "text-", VisualSession: "visual-", JukiSession: "juki-",
}


#: Session members that send no APDU of their own (``probe`` is run by ``open_card``).
NO_CARD_IO = {"forget", "is_verified", "probe"}


def _session_operations() -> set[str]:
    """Every public method, inherited ones (``pin_status``, ``verify``...) included."""
    names = set()
    for cls, prefix in SESSION_PREFIXES.items():
        for name, member in inspect.getmembers(cls):
            if callable(member) and not name.startswith("_") and name not in NO_CARD_IO:
                names.add(prefix + name)
    return names


@dataclass(frozen=True)
class Measured:
    apdus: int
    verify_at: int | None  # 1-based position of the VERIFY-with-data APDU


def _measure(op: Op) -> Measured:
    card = CardOS(load_profile(op.profile))
    t = LoopbackTransport(card, record=True)
    session = op.session(t)
    op.run(t, session, op.pin)
    cmds = [c for c, _ in t.transcript]
    verifies = [i + 1 for i, c in enumerate(cmds) if c[1] == 0x20 and len(c) > 4]
    assert len(verifies) == (1 if op.pin else 0), op.name
    assert t.apdus_outside_transaction == 0, op.name
    return Measured(len(cmds), verifies[0] if verifies else None)


MEASURED = {op.name: _measure(op) for op in OPS}

CASES = [
    pytest.param(op, fault, k, id=f"{op.name}-{fault}-{k}")
    for op in OPS
    for fault in ("removed", "reset")
    for k in range(1, MEASURED[op.name].apdus + 1)
]


def test_measurements_are_plausible() -> None:
    assert MEASURED["pin_status"].apdus == 3  # SELECT AP, SELECT IEF, VERIFY (no data)
    assert MEASURED["sign-auth"].apdus >= 7
    assert MEASURED["read_certificate-auth-short"].apdus > MEASURED["read_certificate-auth"].apdus
    assert len(CASES) > 200



def test_every_session_operation_is_faulted() -> None:
    """Each public operation of each session class is in OPS (so faults hit all of them)."""
    missing = {
        name for name in _session_operations()
        if not any(op.name.startswith(name) for op in OPS)
    }
    assert not missing


@pytest.mark.parametrize(("op", "fault", "before_apdu"), CASES)
def test_fault_at_each_apdu(
    make_card: MakeCard, pins: PinLedger, op: Op, fault: str, before_apdu: int
) -> None:
    measured = MEASURED[op.name]
    emu = make_card(op.profile)
    t = emu.transport
    session = op.session(t)
    pin = op.pin
    delivered = measured.verify_at is not None and before_apdu > measured.verify_at
    if delivered:
        assert pin is not None
        pins.submit(pin)
    t.inject(fault, before_apdu=before_apdu)  # type: ignore[arg-type]
    expected = CardRemovedError if fault == "removed" else CardResetError
    with pytest.raises(expected):
        op.run(t, session, pin)

    assert t.transaction_depth == 0
    if session is not None:
        assert session.verified == frozenset()
    # VERIFY was sent at most once, and only if the fault came after it
    assert emu.card.stats.verify_with_data == (1 if delivered else 0)
    assert emu.card.stats.apdus == before_apdu - 1

    if fault == "removed":
        t.insert()
    # the card is usable again, and no PIN try was lost
    if op.status is not None:
        assert op.status(t) == op.max_tries
    if session is not None:
        assert session.verified == frozenset()
