"""PDF signature verification (jukicard.pki.pdfverify, services.pdfverify, and
``jukicard signature verify signed.pdf``) on PDFs signed by pyHanko's own signer with a
SOFTWARE key of the test PKI, which stands in for the card (every test using it says so in
its name).  poppler's ``pdfsig`` (a tool nobody here wrote) is the interop witness.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from jukicard.cli.main import main
from jukicard.pki.pdfverify import read_pdf_signatures
from jukicard.services.pdfverify import verify_pdf
from jukicard.services.verify import VerifyOptions
from jukicard.testing.hostilepdf import (
    AT,
    PKI,
    append_update,
    local_tsa,
    minimal_pdf,
    sign_pdf,
    software_signer,
)

CHAIN = VerifyOptions(anchors=(str(PKI / "ca" / "sign-2023.cer"),),
                      crls=(str(PKI / "crl" / "sign-2023.crl"),), at=AT)


@pytest.fixture(scope="module")
def signed() -> bytes:
    return sign_pdf(minimal_pdf())


@pytest.fixture(scope="module")
def twice(signed: bytes) -> bytes:
    return sign_pdf(signed, field="Sig2", subfilter="adbe")


def write(tmp_path: Path, data: bytes, name: str = "doc.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def run_json(*argv: object) -> tuple[int, dict]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = main([str(a) for a in argv] + ["--json"])
    return rc, json.loads(buf.getvalue())


def pdfsig_verdicts(path: str) -> list[str]:
    """pdfsig's "Signature Validation" line of each signature (no certificate check)."""
    if shutil.which("pdfsig") is None:
        pytest.skip("pdfsig (poppler-utils) is not installed")
    res = subprocess.run(["pdfsig", "-nocert", path], capture_output=True, text=True,
                         timeout=120)
    return [line.split(":", 1)[1].strip() for line in res.stdout.splitlines()
            if "Signature Validation:" in line]


# --------------------------------------------------------------------------- structure
def test_software_signer_stands_in_for_card_one_signature_covers_the_whole_file(signed):
    doc = read_pdf_signatures(signed)
    assert doc.revisions == 2 and doc.unsigned_bytes_after == 0
    (sig,) = doc.signatures
    assert (sig.index, sig.field, sig.revision) == (1, "Sig1", 2)
    assert sig.sub_filter == "/ETSI.CAdES.detached" and sig.reason is None
    cov = sig.coverage
    assert cov is not None and cov.covers_revision and cov.whole_file
    assert cov.modification == "none" and cov.unsigned_bytes_after == 0
    assert cov.byte_range[0] == 0 and cov.byte_range[2] + cov.byte_range[3] == len(signed)
    check = sig.verify()
    assert check.signer.digest_algorithm == "sha256" and check.cades_bes is True
    assert check.timestamp is None and check.timestamp_error is None


def test_software_signer_stands_in_for_card_earlier_signature_stays_valid_after_second(twice):
    doc = read_pdf_signatures(twice)
    first, second = doc.signatures
    assert first.reason is None and second.reason is None
    assert first.coverage is not None and not first.coverage.whole_file
    assert first.coverage.covers_revision and first.coverage.modification == "signatures"
    assert first.coverage.changed_fields == ("Sig2",)
    assert first.coverage.unsigned_bytes_after == len(twice) - (
        first.coverage.byte_range[2] + first.coverage.byte_range[3])
    assert second.coverage is not None and second.coverage.whole_file
    assert second.sub_filter == "/adbe.pkcs7.detached"
    first.verify()
    second.verify()


def test_software_signer_stands_in_for_card_unsigned_update_after_last_signature(signed):
    # a later revision that only adds an unsigned signature field and then nothing else is
    # reported (bytes after), and a content change is refused
    from pyhanko.sign.fields import SigFieldSpec, append_signature_field

    later = append_update(signed, lambda w: append_signature_field(w, SigFieldSpec("Empty")))
    doc = read_pdf_signatures(later)
    assert doc.unsigned_bytes_after == len(later) - len(signed) > 0
    (sig,) = doc.signatures
    assert sig.coverage is not None and sig.coverage.unsigned_bytes_after > 0
    assert sig.reason is None, sig.message  # an empty signature field: not a content change


# --------------------------------------------------------------------------- service / JSON
def test_software_signer_stands_in_for_card_json_shape_with_path(tmp_path, twice):
    rep = verify_pdf(write(tmp_path, twice), CHAIN)
    out = rep.to_json()
    assert rep.valid and out["valid"] is True and out["reason"] == "ok"
    assert out["format"] == "pdf" and out["at"] == "2026-06-01T00:00:00Z"
    assert out["revisions"] == 3 and out["unsigned_bytes_after"] == 0
    assert [s["field"] for s in out["signatures"]] == ["Sig1", "Sig2"]
    first = out["signatures"][0]
    for key in ("index", "valid", "reason", "message", "signer", "hash", "scheme",
                "signing_time", "cades_bes", "timestamp", "path", "field", "revision",
                "coverage"):
        assert key in first
    assert first["path"]["valid"] is True and first["scheme"] == "pkcs1v15"
    assert first["signing_time"] is not None  # PAdES: from the signature dictionary's /M
    assert set(first["coverage"]) >= {"byte_range", "covers_revision", "whole_file",
                                      "unsigned_bytes_after", "modification"}
    assert first["coverage"]["modification"] == "signatures"
    # the sign certificate's subject names the holder: described, never printed
    assert "Chiyoda" not in json.dumps(out) and "Tokyo" not in json.dumps(out)


def test_software_signer_stands_in_for_card_revoked_signer_is_invalid(tmp_path):
    data = sign_pdf(minimal_pdf(), signer=software_signer("r2"))
    out = verify_pdf(write(tmp_path, data), CHAIN).to_json()
    assert out["valid"] is False and out["reason"] == "revoked"
    assert out["signatures"][0]["path"]["reason"] == "revoked"


def test_software_signer_stands_in_for_card_auth_key_refused_for_documents_under_jpki(
        tmp_path):
    data = sign_pdf(minimal_pdf(), signer=software_signer("r1", "auth"))
    options = VerifyOptions(anchors=(str(PKI / "ca" / "auth-2023.cer"),),
                            crls=(str(PKI / "crl" / "auth-2023.crl"),), at=AT, preset="jpki",
                            allow_test_anchors=True)
    out = verify_pdf(write(tmp_path, data), options).to_json()
    assert out["valid"] is False and out["reason"] == "jpki-profile-violation"
    # the auth usage, asked for explicitly, is accepted
    auth = VerifyOptions(**{**options.__dict__, "usage": "auth"})
    assert verify_pdf(write(tmp_path, data), auth).valid


def test_software_signer_stands_in_for_card_timestamp_reported_and_tsa_path(tmp_path):
    data = sign_pdf(minimal_pdf(), timestamper=local_tsa())
    path = write(tmp_path, data)
    ts = verify_pdf(path, VerifyOptions()).to_json()["signatures"][0]["timestamp"]
    assert ts["valid"] is True and ts["time"] == "2026-05-20T09:00:00Z"
    assert ts["hash"] == "sha256" and ts["path"] is None and ts["tsa"]
    assert "not validated" in ts["message"]
    ts = verify_pdf(path, CHAIN).to_json()["signatures"][0]["timestamp"]
    assert ts["valid"] is True and ts["path"]["valid"] is True
    # anchors the TSA does not chain to: reported as not validated, not as invalid
    other = VerifyOptions(anchors=(str(PKI / "ca" / "sign-2023.cer"),
                                   str(PKI / "ca" / "auth-2019.cer")),
                          crls=(str(PKI / "crl" / "sign-2023.crl"),), at=AT)
    assert verify_pdf(path, other).valid


def test_no_signature_is_invalid(tmp_path):
    out = verify_pdf(write(tmp_path, minimal_pdf()), VerifyOptions()).to_json()
    assert out["valid"] is False and out["reason"] == "no-signature"
    assert out["signatures"] == []


# --------------------------------------------------------------------------- tampering
def test_software_signer_stands_in_for_card_one_byte_tampered_all_reject(tmp_path, signed):
    assert pdfsig_verdicts(write(tmp_path, signed, "ok.pdf")) == ["Signature is Valid."]
    at = signed.index(b"(Hello)") + 1
    bad = signed[:at] + b"J" + signed[at + 1:]
    path = write(tmp_path, bad)
    out = verify_pdf(path, VerifyOptions()).to_json()
    assert out["valid"] is False and out["signatures"][0]["reason"] == "bad-signature"
    assert pdfsig_verdicts(path) != ["Signature is Valid."]


# --------------------------------------------------------------------------- CLI
def test_software_signer_stands_in_for_card_cli_exit_codes(tmp_path, signed):
    path = write(tmp_path, signed)
    rc, out = run_json("signature", "verify", path)
    assert rc == 0 and out["format"] == "pdf" and out["valid"] is True
    rc, out = run_json("signature", "verify", path, "--anchor", PKI / "ca/sign-2023.cer",
                       "--crl", PKI / "crl/sign-2023.crl", "--at", "2026-06-01T00:00:00Z")
    assert rc == 0 and out["signatures"][0]["path"]["valid"] is True
    rc, out = run_json("signature", "verify", write(tmp_path, minimal_pdf(), "none.pdf"))
    assert rc == 5 and out["reason"] == "no-signature"
    rc, _ = run_json("signature", "verify", path, "--cert", PKI / "ee/r1-sign.cer")
    assert rc == 2
    rc, _ = run_json("signature", "verify", path, "--crl", PKI / "crl/sign-2023.crl")
    assert rc == 2  # a path option without anchors would be silently ignored
    text = tmp_path / "note.txt"
    text.write_bytes(b"not a pdf\n")
    rc, _ = run_json("signature", "verify", text)
    assert rc == 2  # SIG is required for anything but a PDF


def test_software_signer_stands_in_for_card_detached_cms_over_a_pdf_file_still_works(
        tmp_path, signed):
    # `signature verify doc.pdf doc.p7s` (SIG given) stays the CMS path
    from cryptography.hazmat.primitives import serialization

    from jukicard.pki.cmsbuild import build_signed_data
    from jukicard.testing.hostilepdf import software_card_signer

    key = serialization.load_pem_private_key((PKI / "keys/ee-r1-sign.pem").read_bytes(), None)
    cms = build_signed_data(signed, signer=software_card_signer(key),  # type: ignore[arg-type]
                            certificate=(PKI / "ee/r1-sign.cer").read_bytes())
    rc, out = run_json("signature", "verify", write(tmp_path, signed),
                       write(tmp_path, cms, "doc.p7s"))
    assert rc == 0 and out["signature"]["format"] == "cms"


def test_pdf_paths_do_not_import_pyhanko_until_used():
    code = ("import sys, jukicard.cli.main, jukicard.cli.signature, "
            "jukicard.services.pdfverify, jukicard.services.signatures; "
            "print(any(m.split('.')[0] in ('pyhanko', 'pyhanko_certvalidator') "
            "for m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"
