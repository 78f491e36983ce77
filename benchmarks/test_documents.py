"""Signed documents (issue 13), in-process on the emulated card (loopback transport →
CardOS) and the verifier, each against a baseline of the same run:

* signing: a raw card signature (``services.signing.sign_digest``: status check, one VERIFY,
  one ``80 2A``, the signature checked against the certificate) is the baseline of a detached
  CMS (``sign_cms``, PKCS#1 v1.5 and PSS) and of a PAdES B-B PDF (``sign_pdf``: pyHanko's
  rehearsal before the PIN, its dry run, the incremental update);
* verification: checking the raw signature against the certificate
  (``pki.signatures.verify_pkcs1v15``) is the baseline of checking the CMS
  (``SignedData.verify``) and every signature of the PDF (``pki.pdfverify``: structure,
  ByteRange, difference analysis of later revisions, the CMS) — no path validation in either.

``python3 -m pytest benchmarks/test_documents.py --benchmark-only``.  Nothing asserts on time;
the ratio (median / baseline median) is the figure to compare across machines.  Each signing
VERIFYs the right sign password (the counter is not spent).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PDF = (ROOT / "vectors" / "pdf" / "form.pdf").read_bytes()
DOC = b"application form\n" * 200
SIGN_PASSWORD = "ABC123"  # mynumber-01 (vectors/cards/README.md)


def _it() -> Any:
    from jukicard.services.interaction import ScriptedInteraction

    return ScriptedInteraction([SIGN_PASSWORD])


@pytest.fixture()
def transport(cardos: Any) -> Any:
    from jukicard.transport.loopback import LoopbackTransport

    return LoopbackTransport(cardos)


SIGNING = ["raw signature (baseline)", "CMS detached pkcs1v15", "CMS detached pss",
           "PDF PAdES B-B"]


@pytest.mark.parametrize("kind", SIGNING)
def test_signing(measure: Callable[..., Any], transport: Any, kind: str) -> None:
    from jukicard.services.cmssign import sign_cms
    from jukicard.services.pdfsign import sign_pdf
    from jukicard.services.signing import sign_digest

    digest = hashlib.sha256(DOC).digest()
    runs: dict[str, Callable[[], Any]] = {
        SIGNING[0]: lambda: sign_digest(transport, _it(), digest),
        SIGNING[1]: lambda: sign_cms(transport, _it(), DOC),
        SIGNING[2]: lambda: sign_cms(transport, _it(), DOC, scheme="pss"),
        SIGNING[3]: lambda: sign_pdf(transport, _it(), PDF),
    }
    measure(f"in-process: sign, {kind}", "document signing", runs[kind])


VERIFYING = ["raw PKCS#1 v1.5 (baseline)", "CMS detached", "PDF, 1 signature",
             "PDF, 2 signatures"]


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from jukicard.emulator.cardos import CardOS
    from jukicard.services.cmssign import sign_cms
    from jukicard.services.pdfsign import sign_pdf
    from jukicard.services.signing import sign_digest
    from jukicard.transport.loopback import LoopbackTransport

    card = CardOS(ROOT / "vectors" / "cards" / "mynumber-01.json")
    card.power_on()
    t = LoopbackTransport(card)
    raw = sign_digest(t, _it(), hashlib.sha256(DOC).digest(), include_certificate=True)
    one = sign_pdf(t, _it(), PDF)
    two = sign_pdf(t, _it(), one.pdf, field_name="Applicant")
    return {"raw": raw, "cms": sign_cms(t, _it(), DOC).cms, "pdf1": one.pdf, "pdf2": two.pdf}


@pytest.mark.parametrize("kind", VERIFYING)
def test_verifying(measure: Callable[..., Any], signed: dict[str, Any], kind: str) -> None:
    from jukicard.pki.cms import SignedData
    from jukicard.pki.pdfverify import read_pdf_signatures
    from jukicard.pki.signatures import load_certificate, verify_pkcs1v15

    raw = signed["raw"]
    cert = load_certificate(raw.certificate)
    digest = hashlib.sha256(DOC).digest()

    def pdf(data: bytes) -> Callable[[], Any]:
        def run() -> Any:
            doc = read_pdf_signatures(data)
            return [s.verify() for s in doc.signatures]
        return run

    runs: dict[str, Callable[[], Any]] = {
        VERIFYING[0]: lambda: verify_pkcs1v15(raw.signature, digest=digest, hash_alg="sha256",
                                              certificate=cert),
        VERIFYING[1]: lambda: SignedData.parse(signed["cms"]).verify(detached_content=DOC),
        VERIFYING[2]: pdf(signed["pdf1"]),
        VERIFYING[3]: pdf(signed["pdf2"]),
    }
    measure(f"in-process: verify, {kind}", "document verification", runs[kind])
