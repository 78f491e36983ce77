"""Record the golden APDU transcripts in ``vectors/apdu/`` from the emulated test cards.

Run from the repository root::

    python tests/emulated/record_transcripts.py [--out vectors/apdu] [--only NAME ...]

Each transcript is one session operation run against a synthetic test card from
``vectors/cards/`` (all keys, certificates, PINs and personal data are synthetic test
material, so nothing is redacted).  ``test_card_transcripts.py`` replays them against a
scripted card that fails on any divergence, so a change in what the library sends shows up
as a failing test; re-record on purpose with this script and review the diff.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jukicard.card import (
    JpkiCert,
    JpkiKey,
    JpkiPin,
    JpkiSession,
    JukiJpkiCert,
    JukiJpkiSession,
    TextPin,
    TextSession,
    open_card,
)
from jukicard.emulator.cardos import CardOS
from jukicard.emulator.profile import load_profile
from jukicard.transport.base import Transport
from jukicard.transport.loopback import LoopbackTransport

FORMAT = "jukicard-apdu-transcript/1"
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "vectors" / "apdu"

#: synthetic test PINs (vectors/cards/README.md)
AUTH_PIN = "1234"
SIGN_PASSWORD = "ABC123"
JUKI_SIGN_PASSWORD = "JK12"
GOLDEN_DIGEST = hashlib.sha256(b"jukicard golden transcript").digest()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def card_info(t: Transport) -> dict[str, Any]:
    card = open_card(t)
    token = card.jpki().token_info()
    return {"card_type": card.card_type.value,
            "applications": sorted(a.name for a in card.applications),
            "token": token.token}


def pin_status(t: Transport) -> dict[str, Any]:
    jpki = JpkiSession(t, select=False)
    text = TextSession(t, select=False)
    return {"auth": jpki.pin_status(JpkiPin.AUTH).retries_left,
            "sign": jpki.pin_status(JpkiPin.SIGN).retries_left,
            "text": text.pin_status(TextPin.PIN).retries_left,
            "text_match_a": text.pin_status(TextPin.MATCH_A).retries_left}


def read_certificates(t: Transport) -> dict[str, Any]:
    jpki = JpkiSession(t, select=False)
    return {"auth": _sha(jpki.read_certificate(JpkiCert.AUTH)),
            "auth_ca": _sha(jpki.read_certificate(JpkiCert.AUTH_CA)),
            "sign": _sha(jpki.read_certificate(JpkiCert.SIGN, pin=SIGN_PASSWORD))}


def sign(t: Transport) -> dict[str, Any]:
    jpki = JpkiSession(t, select=False)
    auth = jpki.sign(JpkiKey.AUTH, AUTH_PIN, digest=GOLDEN_DIGEST)
    signed = jpki.sign(JpkiKey.SIGN, SIGN_PASSWORD, message=b"jukicard golden transcript",
                       hash_alg="sha512")
    return {"auth_signature": auth.hex(), "sign_signature": signed.hex()}


def card_authenticate(t: Transport) -> dict[str, Any]:
    from jukicard.card.cardauth import CardAuthPolicy, CvCaKey
    from jukicard.card.cvc import CvCertificate

    root = CvCertificate.parse((ROOT / "vectors/pki/cv/jlis-root.cvc").read_bytes())
    policy = CardAuthPolicy((CvCaKey.from_cv_certificate(root, production=False),),
                            production=False)
    text = TextSession(t, select=False)
    result = text.authenticate_card(pin=AUTH_PIN, policy=policy,
                                    rng=lambda n: GOLDEN_DIGEST[:n])
    return result.to_dict()


def juki_sign_certificate(t: Transport) -> dict[str, Any]:
    jpki = JukiJpkiSession(t, select=False)
    return {"sign": _sha(jpki.read_certificate(JukiJpkiCert.SIGN, pin=JUKI_SIGN_PASSWORD))}


@dataclass(frozen=True)
class Operation:
    name: str
    profile: str
    description: str
    run: Callable[[Transport], dict[str, Any]]


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("card-info", "mynumber-01",
                  "open_card (SELECT every application, read the JPKI token) + token_info",
                  card_info),
        Operation("pin-status", "mynumber-01",
                  "data-less VERIFY on JPKI 0018/001B and text 0011/0014", pin_status),
        Operation("read-certificate", "mynumber-01",
                  "auth cert, auth CA cert (extended reads), sign cert after the sign password",
                  read_certificates),
        Operation("read-certificate-short", "mynumber-short",
                  "same as read-certificate on a short-APDU-only card (256-byte chunks)",
                  read_certificates),
        Operation("sign", "mynumber-01",
                  "sign a SHA-256 digest with the auth key and a message (SHA-512) with the "
                  "sign key; each PIN is sent right after a SELECT of the AP, and the auth "
                  "certificate (readable without a PIN) is checked before the auth PIN is "
                  "sent", sign),
        Operation("card-authenticate", "mynumber-01",
                  "text-AP card authentication: PIN, EF 0004, EF 0007, GET CHALLENGE (16), "
                  "80 2A 00 00 over challenge ‖ a fixed host nonce, checked to the pkigen "
                  "test CV CA", card_authenticate),
        Operation("juki-sign-certificate", "juki-01",
                  "住基カード JPKI (unverified layout): sign certificate after the password",
                  juki_sign_certificate),
    )
}


def record(op: Operation) -> dict[str, Any]:
    """Run ``op`` against a fresh emulated card and return the transcript document."""
    card = CardOS(load_profile(op.profile))
    t = LoopbackTransport(card, record=True)
    result = op.run(t)
    return {
        "format": FORMAT,
        "name": op.name,
        "description": f"{op.description}. Recorded from the jukicard emulator with the "
                       f"synthetic test card {op.profile!r}: keys, certificates, PINs and "
                       "data are synthetic test material (nothing redacted).",
        "profile": op.profile,
        "generator": "python tests/emulated/record_transcripts.py",
        "atr": card.atr.hex().upper(),
        "result": result,
        "exchanges": [{"command": c.hex().upper(), "response": r.hex().upper()}
                      for c, r in t.transcript],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--only", nargs="*", choices=sorted(OPERATIONS))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or sorted(OPERATIONS):
        doc = record(OPERATIONS[name])
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path} ({len(doc['exchanges'])} exchanges)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
