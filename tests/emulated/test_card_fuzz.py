"""Hostile card data: a seeded mutation loop over the emulated cards' EFs, run through EVERY
public session and service operation (issue 8).

For each operation, the EFs it reads on a pristine card are found from a recorded
transcript; then each of those EFs is replaced by a series of mutations — a certificate
with a bad version (``vectors/malformed/cert-version-10.der``), a certificate with an
unknown key algorithm, a certificate with a negative serial number, bit flips, truncations,
a damaged header, an empty EF, trailing garbage — and the operation is run again on a fresh
card, with every warning turned into an error.  Whatever the card holds:

* only jukicard's typed errors (:class:`~jukicard.errors.JukiError`) escape — never
  ``InvalidVersion``, ``UnsupportedAlgorithm``, ``ValueError``..., and no warning (such as
  ``CryptographyDeprecationWarning``) reaches the caller;
* VERIFY with data reaches the card at most once per PIN the operation was given.

Old code: ``InvalidVersion`` escaped ``read_certificate``, ``sign`` and ``card_info``, and
``UnsupportedAlgorithm`` escaped ``card_info``; a negative serial number (review of issue 8)
let a ``CryptographyDeprecationWarning`` escape ``read_certificate``, ``card_info`` and every
operation that reads a certificate (an untyped exception under ``-W error``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from emulated_support import PINS, PinLedger, find_file, profile_json

from jukicard.apdu.apps import TextEf
from jukicard.card import (
    DETECTION,
    ApplicationSession,
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
    TextPin,
    TextSession,
    VisualPin,
    VisualSession,
    open_card,
)
from jukicard.emulator.cardos import CardOS
from jukicard.emulator.filespecs import BinaryFileSpec
from jukicard.emulator.profile import CardProfile, load_profile
from jukicard.errors import JukiError
from jukicard.services import (
    ScriptedInteraction,
    card_info,
    change_pin,
    export_certificate,
    pin_status_all,
    read_basic_info,
    read_my_number,
    read_verified,
    sign_data,
    sign_digest,
    sign_file,
)
from jukicard.services import data as data_service
from jukicard.services import info as info_service
from jukicard.services import pins as pins_service
from jukicard.services import readers as readers_service
from jukicard.services import signing as signing_service
from jukicard.services.readers import identify_card
from jukicard.transport.loopback import LoopbackTransport

ROOT = Path(__file__).resolve().parents[2]
VERSION_10 = (ROOT / "vectors" / "malformed" / "cert-version-10.der").read_bytes()
DIGEST = hashlib.sha256(b"fuzz").digest()
SEED = 20260601


def _value(profile: str, app: str, fid: str) -> str:
    return str(find_file(profile_json(profile), app, fid)["value"])


MATCH_A = _value("mynumber-01", "text", "0014")
MATCH_B = _value("mynumber-01", "text", "0015")
VISUAL_B = _value("mynumber-01", "visual", "0012")
BIRTH_PIN = _value("mynumber-01", "visual", "0011")


@dataclass(frozen=True)
class Op:
    """One public operation: ``run(transport, tmp)`` with ``pins`` PINs given to it."""

    name: str
    profile: str
    run: Callable[[LoopbackTransport, Path], object]
    pins: int = 0


def _jpki(t: LoopbackTransport) -> JpkiSession:
    return JpkiSession(t, select=False)


def _juki_jpki(t: LoopbackTransport) -> JukiJpkiSession:
    return JukiJpkiSession(t, select=False)


def _doc(tmp: Path) -> Path:
    path = tmp / "doc.txt"
    path.write_bytes(b"fuzz")
    return path



def _sm_block(text: TextSession) -> None:
    """issue 11 part A: one SM session: SELECT + READ under SM."""
    with text.secure_messaging(PINS["text"]) as sm:
        sm.read_ef(TextEf.MY_NUMBER, 0xFF10)

MN, JK = "mynumber-01", "juki-01"
OPS: list[Op] = [
    # detection
    Op("open_card", MN, lambda t, _: open_card(t)),
    Op("open_card[juki]", JK, lambda t, _: open_card(t)),
    # JpkiSession (and the base class)
    Op("JpkiSession.token_info", MN, lambda t, _: _jpki(t).token_info()),
    Op("JpkiSession.token_info_full", MN, lambda t, _: _jpki(t).token_info_full()),
    Op("JpkiSession.certificate_availability", MN,
       lambda t, _: _jpki(t).certificate_availability()),
    Op("JpkiSession.pin_status", MN, lambda t, _: _jpki(t).pin_status(JpkiPin.SIGN)),
    Op("JpkiSession.verify", MN, lambda t, _: _jpki(t).verify(JpkiPin.AUTH, PINS["auth"]), 1),
    Op("JpkiSession.reselect", MN, lambda t, _: _jpki(t).reselect()),
    Op("JpkiSession.change_pin", MN,
       lambda t, _: _jpki(t).change_pin(JpkiPin.AUTH, PINS["auth"], "4321"), 1),
    *[Op(f"JpkiSession.read_certificate[{c.name}]", MN,
         lambda t, _, c=c: _jpki(t).read_certificate(c)) for c in JpkiCert if c.value.pin is None],
    Op("JpkiSession.read_certificate[SIGN]", MN,
       lambda t, _: _jpki(t).read_certificate(JpkiCert.SIGN, PINS["sign"]), 1),
    Op("JpkiSession.sign[AUTH]", MN,
       lambda t, _: _jpki(t).sign(JpkiKey.AUTH, PINS["auth"], digest=DIGEST), 1),
    Op("JpkiSession.sign[SIGN]", MN,
       lambda t, _: _jpki(t).sign(JpkiKey.SIGN, PINS["sign"], message=b"m"), 1),
    Op("JpkiSession.sign_with_certificate", MN,
       lambda t, _: _jpki(t).sign_with_certificate(JpkiKey.AUTH, PINS["auth"], digest=DIGEST), 1),
    # the 住基カード JPKI variant
    Op("JukiJpkiSession.read_certificate", JK,
       lambda t, _: _juki_jpki(t).read_certificate(JukiJpkiCert.SIGN, PINS["juki_sign"]), 1),
    Op("JukiJpkiSession.sign", JK,
       lambda t, _: _juki_jpki(t).sign(JukiJpkiKey.SIGN, PINS["juki_sign"], digest=DIGEST), 1),
    Op("JukiJpkiSession.change_pin", JK,
       lambda t, _: _juki_jpki(t).change_pin(JukiJpkiPin.SIGN, PINS["juki_sign"], "JK34"), 1),
    # TextSession
    Op("TextSession.pin_status", MN, lambda t, _: TextSession(t).pin_status(TextPin.MATCH_B)),
    Op("TextSession.verify", MN, lambda t, _: TextSession(t).verify(TextPin.PIN, PINS["text"]), 1),
    Op("TextSession.read_my_number", MN,
       lambda t, _: TextSession(t).read_my_number(pin=PINS["text"]), 1),
    Op("TextSession.read_my_number[match_a]", MN,
       lambda t, _: TextSession(t).read_my_number(match_a=MATCH_A), 1),
    Op("TextSession.read_basic_info", MN,
       lambda t, _: TextSession(t).read_basic_info(match_b=MATCH_B), 1),
    Op("TextSession.read_verified", MN, lambda t, _: TextSession(t).read_verified(PINS["text"]), 1),
    Op("TextSession.authenticate_card", MN,
       lambda t, _: TextSession(t).authenticate_card(pin=PINS["text"]), 1),
    Op("TextSession.read_my_number_sm", MN,
       lambda t, _: TextSession(t).read_my_number_sm(PINS["text"]), 1),
    Op("TextSession.read_basic_info_sm", MN,
       lambda t, _: TextSession(t).read_basic_info_sm(PINS["text"]), 1),
    Op("TextSession.read_verified_sm", MN,
       lambda t, _: TextSession(t).read_verified_sm(PINS["text"]), 1),
    Op("TextSession.secure_messaging", MN,
       lambda t, _: _sm_block(TextSession(t)), 1),
    Op("TextSession.read_cv_certificate", MN, lambda t, _: TextSession(t).read_cv_certificate()),
    Op("TextSession.read_ap_basic_info", MN, lambda t, _: TextSession(t).read_ap_basic_info()),
    # VisualSession
    Op("VisualSession.pin_status", MN, lambda t, _: VisualSession(t).pin_status(VisualPin.BIRTH)),
    Op("VisualSession.verify", MN,
       lambda t, _: VisualSession(t).verify(VisualPin.MATCH_A, MATCH_A), 1),
    Op("VisualSession.read_cv_certificate", MN,
       lambda t, _: VisualSession(t).read_cv_certificate()),
    Op("VisualSession.read_entries", MN,
       lambda t, _: VisualSession(t).read_entries(match_a=MATCH_A), 1),
    Op("VisualSession.read_entries[match_b]", MN,
       lambda t, _: VisualSession(t).read_entries(match_b=VISUAL_B), 1),
    Op("VisualSession.read_birth", MN, lambda t, _: VisualSession(t).read_birth(BIRTH_PIN), 1),
    Op("VisualSession.authenticate_card", MN,
       lambda t, _: VisualSession(t).authenticate_card(match_a=MATCH_A), 1),
    # JukiSession
    Op("JukiSession.pin_status", JK, lambda t, _: JukiSession(t).pin_status()),
    Op("JukiSession.verify", JK, lambda t, _: JukiSession(t).verify(JukiPin.PIN, PINS["juki"]), 1),
    Op("JukiSession.read_resident_code", JK,
       lambda t, _: JukiSession(t).read_resident_code(PINS["juki"]), 1),
    # services
    Op("info.card_info", MN, lambda t, _: card_info(t)),
    Op("info.card_info[juki]", JK, lambda t, _: card_info(t)),
    Op("pins.pin_status_all", MN, lambda t, _: pin_status_all(t)),
    Op("pins.change_pin", MN,
       lambda t, _: change_pin(t, "auth", ScriptedInteraction([PINS["auth"], "4321"])), 1),
    Op("pins.change_pin[juki]", JK,
       lambda t, _: change_pin(t, "sign", ScriptedInteraction([PINS["juki_sign"], "JK34"])), 1),
    Op("pins.ask_pin", MN, lambda t, _: pins_service.ask_pin(
        open_card(t).jpki(), JpkiPin.AUTH, ScriptedInteraction(["1234"]))),
    Op("pins.verify_pin", MN,
       lambda t, _: pins_service.verify_pin(t, "text", ScriptedInteraction([PINS["text"]])), 1),
    Op("pins.pin_ref", MN, lambda t, _: pins_service.pin_ref(open_card(t), "visual-birth")),
    Op("signing.sign_digest", MN, lambda t, _: sign_digest(
        t, ScriptedInteraction([PINS["sign"]]), DIGEST, include_certificate=True), 1),
    Op("signing.sign_digest[auth]", MN, lambda t, _: sign_digest(
        t, ScriptedInteraction([PINS["auth"]]), DIGEST, key="auth"), 1),
    Op("signing.sign_data", MN, lambda t, _: sign_data(
        t, ScriptedInteraction([PINS["auth"]]), b"x", key="auth", hash_alg="sha512"), 1),
    Op("signing.sign_file", JK, lambda t, tmp: sign_file(
        t, ScriptedInteraction([PINS["juki_sign"]]), _doc(tmp)), 1),
    Op("data.read_verified", MN,
       lambda t, _: read_verified(t, ScriptedInteraction([PINS["text"]])), 1),
    Op("data.read_my_number", MN,
       lambda t, _: read_my_number(t, ScriptedInteraction([PINS["text"]])), 1),
    Op("data.read_basic_info", MN, lambda t, _: read_basic_info(
        t, ScriptedInteraction([MATCH_B]), match_b=True), 1),
    *[Op(f"data.export_certificate[{cid}]", MN, lambda t, _, cid=cid: export_certificate(
        t, cid, ScriptedInteraction([PINS["sign"]])), 1 if cid == "sign" else 0)
      for cid in ("auth", "auth-ca", "sign", "sign-ca")],
    Op("data.to_pem", MN, lambda t, _: data_service.to_pem(
        _jpki(t).read_certificate(JpkiCert.AUTH_CA))),
    Op("readers.identify_card", MN, lambda t, _: identify_card(t)),
]

#: Public functions of the service modules that read no card data (or need a PC/SC reader):
#: everything else in those modules must have an op above named ``<module>.<function>``.
NOT_CARD_OPERATIONS = {
    "cert_id",  # pure
    "summarize_certificate",  # card_info runs it on what the card holds
    "hash_stream",  # pure
    "identify_card_in",  # identify_card over PC/SC
    "reader_infos",  # PC/SC reader list
    "watch_cards",  # PC/SC events; identify_card for each card
    "pin_ids",  # the detection table's PIN ids: no card
    "changeable_pin_ids",  # the same, for pin change
    "trust_fields",  # pure: the JSON of a checked read
}
SERVICE_MODULES = (info_service, pins_service, signing_service, data_service, readers_service)
#: Session members that send nothing (or are called by ``open_card``: ``probe``).
NO_CARD_IO = {"forget", "is_verified", "probe"}


def test_every_public_operation_is_fuzzed() -> None:
    """Every public method of every session class of the detection table, and every public
    function of the service modules, has an op here (or reads no card data)."""
    names = {op.name.split("[")[0] for op in OPS}
    classes = {cls.__name__: cls for row in DETECTION for cls in row.session_classes()}
    fuzzed = {  # (class whose implementation ran, method)
        (inspect.getattr_static(classes[c], m), m)
        for c, _, m in (n.partition(".") for n in names) if c in classes
    }
    for cls in classes.values():
        assert issubclass(cls, ApplicationSession)
        for name, member in inspect.getmembers(cls):
            if name.startswith("_") or name in NO_CARD_IO or not callable(member):
                continue
            assert (inspect.getattr_static(cls, name), name) in fuzzed, f"{cls.__name__}.{name}"
    for module in SERVICE_MODULES:
        short = module.__name__.rsplit(".", 1)[1]
        for name in module.__all__:
            obj = getattr(module, name)
            if not inspect.isfunction(obj) or name in NOT_CARD_OPERATIONS:
                continue
            assert f"{short}.{name}" in names, f"{module.__name__}.{name} is not fuzzed"


# --------------------------------------------------------------------------- mutations
def _unknown_key_algorithm(der: bytes) -> bytes | None:
    try:
        cert = asn1_x509.Certificate.load(der)
        cert["tbs_certificate"]["subject_public_key_info"]["algorithm"]["algorithm"] = "1.2.3.4"
        out: bytes = cert.dump(force=True)
    except Exception:  # not a certificate: this mutation does not apply
        return None
    return out


def _negative_serial(der: bytes) -> bytes | None:
    try:
        cert = asn1_x509.Certificate.load(der)
        cert["tbs_certificate"]["serial_number"] = -5
        out: bytes = cert.dump(force=True)
    except Exception:  # not a certificate: this mutation does not apply
        return None
    return out


def _mutations(data: bytes, rng: random.Random) -> list[tuple[str, bytes]]:
    out = [("version-10-certificate", VERSION_10), ("empty", b"")]
    for what, mutate in (("unknown-key-algorithm", _unknown_key_algorithm),
                         ("negative-serial", _negative_serial)):
        mutated = mutate(data)
        if mutated is not None:
            out.append((what, mutated))
    if data:
        for i in range(3):
            pos = rng.randrange(len(data))
            out.append((f"bit-flip-{i}", data[:pos] + bytes([data[pos] ^ (1 << rng.randrange(8))])
                        + data[pos + 1:]))
        out.append(("truncated", data[: rng.randrange(len(data))]))
        head = bytes(rng.randrange(256) for _ in range(min(4, len(data))))
        out.append(("header", head + data[len(head):]))
        out.append(("length-ff", data[:1] + b"\xff" * min(3, len(data) - 1) + data[4:]))
        out.append(("garbage-after", data + bytes(rng.randrange(256) for _ in range(64))))
    return out


_PROFILES: dict[str, CardProfile] = {}


def _profile(name: str) -> CardProfile:
    if name not in _PROFILES:
        _PROFILES[name] = load_profile(name)
    return _PROFILES[name]


def _with_ef(profile: CardProfile, aid: bytes, fid: int, data: bytes) -> CardProfile:
    apps = []
    for app in profile.applications:
        if app.aid == aid:
            files = tuple(
                dataclasses.replace(f, data=data)
                if isinstance(f, BinaryFileSpec) and f.fid == fid else f
                for f in app.files
            )
            app = dataclasses.replace(app, files=files)
        apps.append(app)
    return profile.replace(applications=tuple(apps))


def _touched(op: Op, tmp: Path) -> tuple[list[tuple[bytes, int]], int]:
    """The binary EFs ``op`` selects on a pristine card, as ``(AID, FID)``, and the PINs it
    sent there."""
    card = CardOS(_profile(op.profile))
    t = LoopbackTransport(card, record=True)
    op.run(t, tmp)
    seen: list[tuple[bytes, int]] = []
    aid = b""
    for cmd, resp in t.transcript:
        if cmd[1] == 0xA4 and cmd[2] == 0x04 and resp[-2:] == b"\x90\x00":
            aid = cmd[5 : 5 + cmd[4]]
        elif cmd[1] == 0xA4 and cmd[2] == 0x02 and resp[-2:] == b"\x90\x00":
            fid = int.from_bytes(cmd[5:7], "big")
            spec = _profile(op.profile).application(aid).file(fid)
            if isinstance(spec, BinaryFileSpec) and (aid, fid) not in seen:
                seen.append((aid, fid))
    return seen, card.stats.verify_with_data


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.name)
def test_hostile_card_data_gives_typed_errors_only(
    op: Op, pins: PinLedger, tmp_path: Path
) -> None:
    rng = random.Random(f"{SEED}-{op.name}")
    targets, sent = _touched(op, tmp_path)
    assert sent == op.pins, op.name  # the op is given (and uses) exactly op.pins PINs
    pins.submitted += sent
    base = _profile(op.profile)
    for aid, fid in targets:
        original = base.application(aid).file(fid).data  # type: ignore[union-attr]
        for what, data in _mutations(original, rng):
            card = CardOS(_with_ef(base, aid, fid, data))
            t = LoopbackTransport(card)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("error")  # a warning escaping is a failure too
                    op.run(t, tmp_path)
            except JukiError:
                pass
            except Exception as exc:  # the failure this test is for (a Warning included)
                pytest.fail(f"{op.name} on {aid.hex()}/{fid:04X} {what}: untyped "
                            f"{type(exc).__module__}.{type(exc).__name__}")
            assert card.stats.verify_with_data <= op.pins, (op.name, fid, what)
            pins.submitted += card.stats.verify_with_data


def test_the_fuzz_reaches_every_data_ef(pins: PinLedger, tmp_path: Path) -> None:
    """The ops together read every binary EF of both test cards except the ones no
    operation reads (visual 0003/0004: AP info and CV certificate; common 0001: a record
    EF; juki 0030: the jukicard protocol's key information, fuzzed by
    tests/unit/test_jukicard_protocol_vectors.py, as reading it needs a key token)."""
    touched: set[tuple[str, bytes, int]] = set()
    for op in OPS:
        targets, sent = _touched(op, tmp_path)
        pins.submitted += sent
        touched |= {(op.profile, aid, fid) for aid, fid in targets}
    for name in (MN, JK):
        for app in _profile(name).applications:
            for f in app.files:
                if isinstance(f, BinaryFileSpec) and (app.name, f.fid) not in (
                    ("visual", 0x0003), ("visual", 0x0004), ("juki", 0x0030)
                ):
                    assert (name, app.aid, f.fid) in touched, (name, app.name, hex(f.fid))
