"""CMS signing and verification end to end through the real stack (issue 13): ``python -m
jukicard sign --cms`` on the virtual reader (pyscard → pcscd → vpcd → emulator bridge), then
``jukicard signature verify`` of what it wrote, with the test roots and CRLs.

Every PIN fed on stdin goes through the PIN ledger (``pins``): one VERIFY with data per
signing, with the PIN the test gave.  The card's COMPUTE DIGITAL SIGNATURE count comes from
the emulator's own stats.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from test_cli import (  # noqa: F401 - mn: the watched session card fixture
    AUTH_PIN,
    SIGN_PASSWORD,
    PinLedger,
    assert_not_logged,
    assert_traffic_logged,
    cert_of,
    jukicard,
    mn,
)

pytestmark = pytest.mark.integration

PKI = Path(__file__).resolve().parents[2] / "vectors" / "pki"
#: a time inside the test CRLs' validity (the path is checked at it; not a timed assertion)
AT = "2026-06-01T00:00:00Z"
DOC = b"application form\n" * 64


def _chain(kind: str, usage: str) -> list[str]:
    return ["--anchor", str(PKI / "ca" / f"{kind}-2023.cer"),
            "--crl", str(PKI / "crl" / f"{kind}-2023.crl"), "--at", AT,
            "--allow-test-anchors", "--usage", usage]


def _sign(card: Any, pins: PinLedger, *argv: str, pin: str) -> dict[str, Any]:
    before = card.stats()
    res = jukicard("sign", *argv, "--cms", "--reader", card.reader, "--pin-stdin", "--json",
                   stdin=pins.submit(pin) + "\n")
    assert res.rc == 0, res.err
    after = card.stats()
    assert after["verify_with_data"] - before["verify_with_data"] == 1  # one VERIFY, one PIN
    assert after["signatures"] - before["signatures"] == 1  # the card signed once
    assert_traffic_logged(res.err)
    assert_not_logged(res.err, pin)
    summary: dict[str, Any] = res.json()
    return summary


def _verify(*argv: str) -> dict[str, Any]:
    res = jukicard("signature", "verify", *argv, "--json")
    assert res.rc == 0, res.out + res.err
    data: dict[str, Any] = json.loads(res.out)
    assert data["valid"] is True and data["format"] == "cms"
    return data


@pytest.mark.parametrize(("scheme", "attached"), [("pkcs1v15", False), ("pss", False),
                                                   ("pss", True)])
def test_sign_document_cms_then_verify(mn: Any, pins: PinLedger, tmp_path: Path,  # noqa: F811
                                       scheme: str, attached: bool) -> None:
    doc, p7s = tmp_path / "form.txt", tmp_path / "form.p7s"
    doc.write_bytes(DOC)
    summary = _sign(mn, pins, str(doc), "-o", str(p7s), "--scheme", scheme,
                    *(["--attached"] if attached else []), pin=SIGN_PASSWORD)
    assert summary["scheme"] == scheme and summary["attached"] is attached
    argv = [str(p7s)] if attached else [str(doc), str(p7s)]  # attached: the CMS alone
    data = _verify(*argv, *_chain("sign", "sign"))
    (sig,) = data["signatures"]
    assert sig["scheme"] == scheme and sig["cades_bes"] is True and sig["path"]["valid"]
    assert sig["signer"]["certificate_sha256"] == data["certificate"]["path_sha256"][-1]
    # one flipped byte of the document: invalid (exit 5)
    flipped = bytearray(DOC)
    flipped[3] ^= 1
    doc.write_bytes(bytes(flipped))
    if not attached:
        bad = jukicard("signature", "verify", str(doc), str(p7s), "--json")
        assert bad.rc == 5 and json.loads(bad.out)["reason"] == "bad-signature"


def test_sign_challenge_with_auth_key_cms_then_verify(mn: Any, pins: PinLedger,  # noqa: F811
                                                      tmp_path: Path) -> None:
    nonce = bytes(range(7, 39))
    out = tmp_path / "login.p7s"
    summary = _sign(mn, pins, "--challenge", nonce.hex(), "--key", "auth", "-o", str(out),
                    pin=AUTH_PIN)
    assert summary["key"] == "auth"
    (tmp_path / "nonce.bin").write_bytes(nonce)
    data = _verify(str(tmp_path / "nonce.bin"), str(out), *_chain("auth", "auth"))
    (sig,) = data["signatures"]
    assert sig["path"]["valid"] and sig["scheme"] == "pkcs1v15"
    # the signer is the card's auth certificate
    assert sig["signer"]["certificate_sha256"] == data["certificate"]["path_sha256"][-1] == \
        cert_of("000A").fingerprint(hashes.SHA256()).hex()
    # the auth key's CMS is not a document signature: refused under the sign usage
    res = jukicard("signature", "verify", str(tmp_path / "nonce.bin"), str(out),
                   *_chain("auth", "sign"), "--json")
    assert res.rc == 5 and json.loads(res.out)["reason"] == "jpki-profile-violation"
