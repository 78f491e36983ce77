"""Issue 13 verification round: ``signature verify signed.pdf`` and a field an earlier
signature locks (FieldMDP).

The signatures are made by pyHanko's signer with SOFTWARE keys of the test PKI that stand
in for the card (every test using them says so in its name), as in test_pki_pdfverify.py.
"""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from jukicard.pki import pdfverify
from jukicard.pki.errors import PkiError
from jukicard.pki.pdfverify import read_pdf_signatures
from jukicard.pki.reasons import Reason
from jukicard.testing.hostilepdf import minimal_pdf, sign_pdf, software_signer


def _approval_with_lock(lock: fields.FieldMDPSpec) -> bytes:
    """An empty signature field ``Later``, then an APPROVAL signature in ``First`` whose
    field locks ``lock`` (pyHanko writes the FieldMDP reference and a ``/Lock`` without
    ``/P`` on the field, as Acrobat does), by the SOFTWARE key standing in for the card."""
    writer = IncrementalPdfFileWriter(io.BytesIO(minimal_pdf()))
    fields.append_signature_field(writer, fields.SigFieldSpec("Later"))
    meta = signers.PdfSignatureMetadata(field_name="First",
                                        subfilter=fields.SigSeedSubFilter.PADES)
    spec = fields.SigFieldSpec("First", field_mdp_spec=lock)
    out = signers.PdfSigner(meta, software_signer(), new_field_spec=spec).sign_pdf(writer)
    return bytes(out.getvalue())


@pytest.mark.parametrize("lock", [
    fields.FieldMDPSpec(fields.FieldMDPAction.ALL),
    fields.FieldMDPSpec(fields.FieldMDPAction.INCLUDE, ["Later"]),
    fields.FieldMDPSpec(fields.FieldMDPAction.EXCLUDE, ["Other"]),
])
def test_software_signer_stands_in_for_card_signing_a_locked_field_breaks_the_approval(
        lock: fields.FieldMDPSpec) -> None:
    """Fails on the old code: the field's ``/Lock`` has no ``/P`` (it is optional, PDF
    2.0), reading it raised KeyError and the whole DocMDP/FieldMDP reading was dropped, so
    the lock was never handed to the difference analysis: another signer's signature in
    the locked field ``Later`` left ``First`` valid ("signatures"), where pyHanko's own
    validator says docmdp_ok=False.  ``sign --pdf`` already refused to sign such a field;
    another tool does not."""
    data = sign_pdf(_approval_with_lock(lock), field="Later", signer=software_signer("r2"))
    first, later = read_pdf_signatures(data).signatures
    assert first.field == "First" and first.reason is Reason.PDF_MODIFIED, first.message
    assert later.reason is None


def test_software_signer_stands_in_for_card_a_lock_on_another_field_still_allows_signing(
        ) -> None:
    """The fix is not a blanket refusal: a lock that does not cover ``Later`` keeps
    ``First`` valid after ``Later`` is signed."""
    pdf = _approval_with_lock(fields.FieldMDPSpec(fields.FieldMDPAction.INCLUDE, ["Other"]))
    first, later = read_pdf_signatures(
        sign_pdf(pdf, field="Later", signer=software_signer("r2"))).signatures
    assert first.reason is None, first.message
    assert first.coverage is not None and first.coverage.modification == "signatures"
    assert later.reason is None


def test_unreadable_docmdp_permission_is_not_ignored() -> None:
    """Fails on the old code: a DocMDP ``/P`` that cannot be read (here 7; an indirect
    object too) made the restrictions ``None``: the signature was reviewed as an approval
    signature and a later signature accepted.  pyHanko's validator fails on it; now it is
    ``malformed-pdf``."""
    params = generic.DictionaryObject({generic.NameObject("/P"): generic.NumberObject(7)})
    reference = generic.DictionaryObject({
        generic.NameObject("/TransformMethod"): generic.NameObject("/DocMDP"),
        generic.NameObject("/TransformParams"): params})
    sig = generic.DictionaryObject({
        generic.NameObject("/Reference"): generic.ArrayObject([reference])})
    field = generic.DictionaryObject()
    with pytest.raises(PkiError) as caught:
        pdfverify._mdp(sig, field)
    assert caught.value.reason == Reason.MALFORMED_PDF
    params[generic.NameObject("/P")] = generic.NumberObject(1)
    assert pdfverify._mdp(sig, field) == (fields.MDPPerm.NO_CHANGES, None)
