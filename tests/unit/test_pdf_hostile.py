"""Hostile PDFs (jukicard.testing.hostilepdf): each ends in a typed rejection — an invalid
result with a ``jukicard`` reason, never an exception from pyHanko/asn1crypto, never a hang —
and jukicard rejects at least every signature poppler's ``pdfsig`` rejects.

The signatures in them are made with a SOFTWARE key of the test PKI that stands in for the
card (pyHanko's signer, or jukicard's ``build_signed_data`` for a crafted ByteRange).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from jukicard.errors import UsageError
from jukicard.pki import pdfverify
from jukicard.pki.reasons import Reason
from jukicard.services.pdfverify import verify_pdf
from jukicard.services.verify import VerifyOptions
from jukicard.testing.hostilepdf import hostile_pdfs, minimal_pdf, sign_pdf

#: The reason each case must give (top level: the first invalid signature's, or the
#: document's when it cannot be read).
EXPECTED = {
    "gap_larger_than_contents": "pdf-byte-range-invalid",
    "range_ends_early": "pdf-revision-not-covered",
    "unsigned_revision_changes_page": "pdf-modified-after-signing",
    "byte_range_overlapping": "pdf-byte-range-invalid",
    "byte_range_out_of_file": "pdf-byte-range-invalid",
    "byte_range_negative": "pdf-byte-range-invalid",
    "byte_range_huge": "pdf-byte-range-invalid",
    "byte_range_not_starting_at_zero": "pdf-byte-range-invalid",
    "byte_range_three_numbers": "pdf-byte-range-invalid",
    "contents_not_hex": "malformed-pdf",
    "contents_truncated": "malformed-cms",
    "contents_over_another_document": "bad-signature",
    "signer_certificate_swapped": "signer-certificate-mismatch",
    "two_signer_infos": "malformed-cms",
    "two_signatures_one_bad": "bad-signature",
    "subfilter_x509_rsa_sha1": "pdf-unsupported-subfilter",
    "subfilter_unknown": "pdf-unsupported-subfilter",
    "truncated_file": "malformed-pdf",
    "truncated_after_contents": "malformed-pdf",
    "broken_xref": "malformed-pdf",
    "xref_prev_loop": "malformed-pdf",
    "many_signatures": "pdf-limit",
    "form_field_kids_loop": "pdf-limit",  # the bounded field-tree count stops it first
    "timestamp_over_another_signature": "timestamp-invalid",
    "timestamp_tsa_without_time_stamping_usage": "timestamp-invalid",
    "not_a_pdf": "malformed-pdf",
    "encrypted": "pdf-encrypted",
}


@pytest.fixture(scope="module")
def cases() -> dict[str, bytes]:
    return hostile_pdfs()


@pytest.fixture(scope="module")
def files(cases, tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("hostile")
    out = {}
    for name, data in cases.items():
        path = root / f"{name}.pdf"
        path.write_bytes(data)
        out[name] = str(path)
    return out


def test_every_case_has_an_expectation(cases):
    assert set(cases) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_software_signer_stands_in_for_card_hostile_pdf_typed_rejection(name, files):
    out = verify_pdf(files[name], VerifyOptions()).to_json()
    assert out["valid"] is False
    assert out["reason"] == EXPECTED[name], out["message"]
    assert out["reason"] in {r.value for r in Reason}
    for sig in out["signatures"]:
        assert sig["reason"] in {r.value for r in Reason} | {"no-signature"}
    assert "Traceback" not in out["message"]


def test_software_signer_stands_in_for_card_two_signatures_one_bad_keeps_the_good_one(files):
    out = verify_pdf(files["two_signatures_one_bad"], VerifyOptions()).to_json()
    assert [(s["field"], s["valid"]) for s in out["signatures"]] == [("Sig1", True),
                                                                     ("Sig2", False)]


def _pdfsig(path: str) -> tuple[int, list[str]]:
    res = subprocess.run(["pdfsig", "-nocert", path], capture_output=True, text=True,
                         timeout=120)
    return res.returncode, [line.split(":", 1)[1].strip() for line in res.stdout.splitlines()
                            if "Signature Validation:" in line]


@pytest.mark.skipif(shutil.which("pdfsig") is None, reason="pdfsig (poppler-utils) missing")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_software_signer_stands_in_for_card_rejects_whatever_pdfsig_rejects(name, files):
    rc, verdicts = _pdfsig(files[name])
    out = verify_pdf(files[name], VerifyOptions()).to_json()
    pdfsig_rejects = rc != 0 or not verdicts or any(v != "Signature is Valid." for v in verdicts)
    if pdfsig_rejects:
        assert out["valid"] is False
    if verdicts and len(verdicts) == len(out["signatures"]):
        for verdict, sig in zip(verdicts, out["signatures"], strict=True):
            if verdict != "Signature is Valid.":
                assert sig["valid"] is False, (name, sig["field"], verdict)


# --------------------------------------------------------------------------- caps
def test_huge_file_refused_before_reading(tmp_path):
    path = tmp_path / "huge.pdf"
    with open(path, "wb") as f:  # sparse: nothing is written, nothing must be read
        f.truncate(pdfverify.MAX_PDF_SIZE + 1)
    with pytest.raises(UsageError, match="limit"):
        verify_pdf(str(path), VerifyOptions())
    assert os.stat(path).st_size == pdfverify.MAX_PDF_SIZE + 1


def test_size_cap_in_the_pki_reader(monkeypatch):
    data = minimal_pdf()
    monkeypatch.setattr(pdfverify, "MAX_PDF_SIZE", len(data) - 1)
    with pytest.raises(pdfverify.PdfLimitError):
        pdfverify.read_pdf_signatures(data)


def test_software_signer_stands_in_for_card_revision_cap(monkeypatch):
    data = sign_pdf(sign_pdf(minimal_pdf()), field="Sig2")
    monkeypatch.setattr(pdfverify, "MAX_PDF_REVISIONS", 2)
    with pytest.raises(pdfverify.PdfLimitError, match="revisions"):
        pdfverify.read_pdf_signatures(data)


def test_software_signer_stands_in_for_card_contents_cap(monkeypatch):
    data = sign_pdf(minimal_pdf())
    monkeypatch.setattr(pdfverify, "MAX_SIGNATURE_CONTENTS", 100)
    (sig,) = pdfverify.read_pdf_signatures(data).signatures
    assert sig.reason == Reason.PDF_LIMIT


def test_signature_count_cap_counts_before_reading_the_signatures(cases):
    with pytest.raises(pdfverify.PdfLimitError, match=str(pdfverify.MAX_PDF_SIGNATURES)):
        pdfverify.read_pdf_signatures(cases["many_signatures"])


def test_not_a_regular_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError):
        verify_pdf(str(tmp_path), VerifyOptions())


def test_pdf_detection_reads_only_the_head(tmp_path):
    from jukicard.services.pdfverify import is_pdf_file

    path = tmp_path / "x.pdf"
    path.write_bytes(b"junk\n" * 10 + b"%PDF-1.7\n")
    assert is_pdf_file(str(path))
    path.write_bytes(b"\x00" * 1024 + b"%PDF-1.7\n")
    assert not is_pdf_file(str(path))


