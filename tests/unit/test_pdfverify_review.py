"""Issue 13 review (verification side): PDFs the first version of ``signature verify
signed.pdf`` called valid although they should not be, and a wrong JSON field.

The signatures are made by pyHanko's signer with a SOFTWARE key of the test PKI that stands
in for the card (every test using it says so in its name), as in test_pki_pdfverify.py.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from jukicard.pki.pdfverify import read_pdf_signatures
from jukicard.pki.reasons import Reason
from jukicard.services.pdfverify import verify_pdf
from jukicard.services.verify import VerifyOptions
from jukicard.testing.hostilepdf import minimal_pdf, sign_pdf, software_signer

_PAGE = b"BT /F1 24 Tf 72 720 Td (Pay 1,000,000 yen) Tj ET"
_SHADOW_OBJECT = b"4 0 obj\n<< /Length %d >>\nstream\n" % len(_PAGE) + _PAGE + \
    b"\nendstream\nendobj\n"


@pytest.fixture(scope="module")
def signed() -> bytes:
    return sign_pdf(minimal_pdf())


def _write(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    return str(path)


def _certified(permission: int) -> bytes:
    """A PDF certified (DocMDP ``permission``) by the SOFTWARE key standing in for the card."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter

    meta = signers.PdfSignatureMetadata(field_name="Cert", subfilter=SigSeedSubFilter.PADES,
                                        certify=True, docmdp_permissions=MDPPerm(permission))
    writer = IncrementalPdfFileWriter(io.BytesIO(minimal_pdf()))
    return bytes(signers.sign_pdf(writer, meta, signer=software_signer()).getvalue())


# --------------------------------------------------------------------------- ISA
@pytest.mark.parametrize("tail", [
    # an object redefined after the signed revision, and the old startxref/%%EOF replayed
    # (so a strict reader sees no new revision): the "incremental saving" variant
    # without a cross-reference section
    "replayed_startxref",
    # the same object, nothing after it
    "object_only",
    # a comment: still bytes no revision holds
    "comment",
])
def test_software_signer_stands_in_for_card_bytes_after_last_revision_are_not_valid(
        signed, tmp_path, tail):
    """Fails on the old code: bytes after the signed revision that are no revision (no
    xref section) were only counted in ``unsigned_bytes_after`` and the signature stayed
    valid; pyHanko's difference analysis never saw them."""
    extra = {"replayed_startxref": _SHADOW_OBJECT + b"startxref"
             + signed.rsplit(b"startxref", 1)[1],
             "object_only": _SHADOW_OBJECT,
             "comment": b"%garbage\n"}[tail]
    data = signed + extra
    (sig,) = read_pdf_signatures(data).signatures
    assert sig.reason is Reason.PDF_MODIFIED
    assert sig.coverage is not None and sig.coverage.modification == "unreviewed-bytes"
    out = verify_pdf(_write(tmp_path, data), VerifyOptions()).to_json()
    assert out["valid"] is False and out["reason"] == "pdf-modified-after-signing"


def test_software_signer_stands_in_for_card_white_space_after_eof_is_still_valid(signed):
    """The ISA check above must not refuse a file a transfer padded with line ends/NULs."""
    for pad in (b"\r\n", b"\n\n\n", b"\x00" * 16):
        (sig,) = read_pdf_signatures(signed + pad).signatures
        assert sig.reason is None, sig.message


def test_software_signer_stands_in_for_card_later_update_still_reviewed_not_tail(signed):
    """A real (second-signature) update after a signature is not 'unreviewed bytes'."""
    twice = sign_pdf(signed, field="Sig2")
    first, second = read_pdf_signatures(twice).signatures
    assert first.reason is None and first.coverage is not None
    assert first.coverage.modification == "signatures"
    assert second.reason is None


# --------------------------------------------------------------------------- DocMDP
def test_software_signer_stands_in_for_card_docmdp_no_changes_then_a_signature(
        tmp_path, monkeypatch):
    """Fails on the old code: a certification signature with DocMDP P=1 ("no changes")
    stayed valid after another signature was added in a later revision (the permission
    was handed to pyHanko's difference analysis but its level never compared; pyHanko's
    own validator says docmdp_ok=False)."""
    from pyhanko.sign.signers import pdf_signer

    certified = _certified(1)
    # pyHanko's signer refuses to sign after P=1: an attacker's tool does not
    monkeypatch.setattr(pdf_signer.PdfSigner, "_enforce_certification_constraints",
                        lambda self, reader: None)
    data = sign_pdf(certified, field="Sig2", signer=software_signer("r2"))
    first, second = read_pdf_signatures(data).signatures
    assert first.reason is Reason.PDF_MODIFIED and "DocMDP P=1" in first.message
    assert first.coverage is not None and first.coverage.modification == "signatures"
    assert second.reason is None
    out = verify_pdf(_write(tmp_path, data), VerifyOptions()).to_json()
    assert out["valid"] is False and out["reason"] == "pdf-modified-after-signing"


def test_software_signer_stands_in_for_card_docmdp_fill_forms_allows_a_signature():
    """DocMDP P=2 lets later signatures in: the fix above keeps that valid."""
    data = sign_pdf(_certified(2), field="Sig2")
    first, second = read_pdf_signatures(data).signatures
    assert first.reason is None, first.message
    assert second.reason is None


def test_software_signer_stands_in_for_card_docmdp_no_changes_alone_is_valid():
    (sig,) = read_pdf_signatures(_certified(1)).signatures
    assert sig.reason is None and sig.verify().signer.scheme == "pkcs1v15"


# --------------------------------------------------------------------------- JSON
def test_software_signer_stands_in_for_card_pss_pdf_signature_reports_pss(tmp_path):
    """Fails on the old code: every PDF signature was reported ``"scheme": "pkcs1v15"``,
    an RSASSA-PSS one too (the CMS path reported the scheme the SignerInfo used)."""
    from asn1crypto import algos
    from pyhanko.sign import signers

    base = software_signer()
    pss = algos.SignedDigestAlgorithm({"algorithm": "rsassa_pss", "parameters": {
        "hash_algorithm": {"algorithm": "sha256"},
        "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
        "salt_length": 32}})
    signer = signers.SimpleSigner(signing_cert=base.signing_cert,
                                  signing_key=base.signing_key,
                                  cert_registry=base.cert_registry, signature_mechanism=pss)
    data = sign_pdf(minimal_pdf(), signer=signer)
    out = verify_pdf(_write(tmp_path, data), VerifyOptions()).to_json()
    assert out["valid"] is True
    assert out["signatures"][0]["scheme"] == "pss"
