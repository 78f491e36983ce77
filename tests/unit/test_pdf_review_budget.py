"""The work of PDF difference analysis is bounded before it starts (issue 13 review):
pyHanko reviews every signature against every later revision, and a step's cost grows with
the form fields, the page tree and the paths to the objects of the signed revision.  A
budget (:data:`jukicard.pki.pdfverify.MAX_REVIEW_WORK`), estimated by
:mod:`jukicard.pki.pdfbudget`, refuses the documents whose review would take minutes with
``pdf-limit``; honest documents stay valid.  Assertions are on reasons and counts, never
on time.

The signatures are made by pyHanko's signer with a SOFTWARE key of the test PKI that stands
in for the card (every test using it says so in its name).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from jukicard.pki import pdfverify
from jukicard.pki.pdfbudget import review_work
from jukicard.services.pdfverify import verify_pdf
from jukicard.services.verify import VerifyOptions
from jukicard.testing.hostilepdf import _page_objects, _pdf_from_objects, minimal_pdf, sign_pdf


# --------------------------------------------------------------------------- documents
def _signed(pdf: bytes, count: int) -> bytes:
    for i in range(count):
        pdf = sign_pdf(pdf, field=f"Sig{i + 1}")
    return pdf


def _empty_signature_fields(pdf: bytes, updates: int, per_update: int) -> bytes:
    """The reviewer's shape: ``updates`` incremental updates (written byte by byte, each
    with its own classic xref section), each adding ``per_update`` empty signature fields
    to the AcroForm that pyHanko's signer made."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=True)
    acroform = reader.root.raw_get("/AcroForm").reference.idnum
    fields = [ref.idnum for ref in reader.root["/AcroForm"].raw_get("/Fields")]
    size = int(reader.trailer["/Size"])
    prev = reader.xrefs.get_startxref_for_revision(reader.xrefs.total_revisions - 1)
    out = bytearray(pdf)
    for update in range(updates):
        offsets = {}
        for j in range(per_update):
            offsets[size] = len(out)
            out += (b"%d 0 obj\n<< /FT /Sig /T (E%d_%d) /Type /Annot /Subtype /Widget /F 132 "
                    b"/Rect [0 0 0 0] /P 3 0 R >>\nendobj\n" % (size, update, j))
            fields.append(size)
            size += 1
        offsets[acroform] = len(out)
        out += (b"%d 0 obj\n<< /Fields [" % acroform
                + b" ".join(b"%d 0 R" % n for n in fields) + b"] /SigFlags 3 >>\nendobj\n")
        xref = len(out)
        out += b"xref\n" + b"".join(b"%d 1\n%010d 00000 n \n" % (n, offsets[n])
                                    for n in sorted(offsets))
        out += b"trailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
            size, prev, xref)
        prev = xref
    return bytes(out)


def _shared_object_chain(levels: int) -> bytes:
    """A one-page PDF whose catalog's ``/X`` starts a chain of shared objects: each level
    is an array of two arrays that both point at the next level, so the paths from the
    trailer double at each level (2 ** ``levels`` for a file of a few KB)."""
    objs = _page_objects("chain", b" /X 6 0 R")
    for level in range(levels):
        first = 6 + 3 * level
        objs += [b"[%d 0 R %d 0 R]" % (first + 1, first + 2),
                 b"[%d 0 R]" % (first + 3), b"[%d 0 R]" % (first + 3)]
    objs.append(b"[]")
    return _pdf_from_objects(objs)


def _form(fields: int) -> bytes:
    """A one-page PDF with ``fields`` filled text fields, each its own widget on the page."""
    first = 7
    refs = b" ".join(b"%d 0 R" % (first + i) for i in range(fields))
    objs = _page_objects("form", b" /AcroForm 6 0 R")
    objs[2] = objs[2].replace(b"/Contents 4 0 R", b"/Contents 4 0 R /Annots [" + refs + b"]")
    objs.append(b"<< /Fields [" + refs + b"] >>")
    objs += [b"<< /FT /Tx /T (field%d) /V (value %d) /Type /Annot /Subtype /Widget "
             b"/Rect [72 %d 300 %d] /P 3 0 R /F 4 >>" % (i, i, 100 + i % 60 * 10,
                                                         108 + i % 60 * 10)
             for i in range(fields)]
    return _pdf_from_objects(objs)


def _cross_linked(pages: int) -> bytes:
    """``pages`` pages, each with a link annotation to every page (the page tree is reached
    from everywhere: pyHanko walks it only along its own /Kids, and so does the count)."""
    kids = [3 + 2 * i for i in range(pages)]
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
            + b"] /Count %d >>" % pages]
    for page in kids:
        links = b" ".join(b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /Dest [%d 0 R "
                          b"/Fit] >>" % k for k in kids)
        objs += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Annots %d 0 R >>"
                 % (page + 1), b"[" + links + b"]"]
    return _pdf_from_objects(objs)


def _tagged(elements: int) -> bytes:
    """A one-page tagged PDF: a structure tree of ``elements`` spans under one paragraph,
    each pointing back (/P) at its parent and at the page (/Pg), and a /ParentTree that
    refers to every span (pyHanko walks the structure tree only from /StructTreeRoot /K)."""
    spans = [9 + i for i in range(elements)]
    refs = b" ".join(b"%d 0 R" % n for n in spans)
    objs = _page_objects("tagged", b" /StructTreeRoot 6 0 R /MarkInfo << /Marked true >>")
    objs += [b"<< /Type /StructTreeRoot /K [7 0 R] /ParentTree 8 0 R >>",
             b"<< /Type /StructElem /S /P /P 6 0 R /Pg 3 0 R /K [" + refs + b"] >>",
             b"<< /Nums [0 [" + refs + b"]] >>"]
    objs += [b"<< /Type /StructElem /S /Span /P 7 0 R /Pg 3 0 R /K %d >>" % i
             for i in range(elements)]
    return _pdf_from_objects(objs)


def _work(pdf: bytes, cap: int = 10 ** 9) -> int:
    reader = PdfFileReader(io.BytesIO(pdf), strict=True)
    revisions = [s.revision - 1 for s in pdfverify.read_pdf_signatures(pdf).signatures]
    return review_work(reader, revisions, cap)


def _verify(tmp_path: Path, pdf: bytes) -> dict:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    return verify_pdf(str(path), VerifyOptions()).to_json()


@pytest.fixture(scope="module")
def small_dos() -> bytes:
    return _empty_signature_fields(_signed(minimal_pdf(), 2), updates=4, per_update=5)


# --------------------------------------------------------------------------- refused
def test_software_signer_stands_in_for_card_budget_refuses_reviewer_shape(small_dos,
                                                                          monkeypatch):
    """Fails on the old code (no budget: the review ran whatever it cost).  The reviewer's
    shape made small, the budget lowered to just below its work: refused before any
    review, with a message naming the budget; at exactly its work it is valid again."""
    work = _work(small_dos)
    monkeypatch.setattr(pdfverify, "MAX_REVIEW_WORK", work - 1)
    with pytest.raises(pdfverify.PdfLimitError, match=f"budget of {work - 1} units"):
        pdfverify.read_pdf_signatures(small_dos)
    monkeypatch.setattr(pdfverify, "MAX_REVIEW_WORK", work)
    doc = pdfverify.read_pdf_signatures(small_dos)
    assert [s.reason for s in doc.signatures] == [None, None]
    assert {s.coverage.modification for s in doc.signatures if s.coverage} <= \
        pdfverify.ACCEPTED_MODIFICATIONS


def test_software_signer_stands_in_for_card_reviewer_shape_real_size_is_pdf_limit(tmp_path):
    """Fails on the old code (valid after ~19 s of analysis).  The reviewer's file: 4
    signatures, then 60 updates of 50 empty signature fields each, under the real budget:
    the command's reason is ``pdf-limit``."""
    pdf = _empty_signature_fields(_signed(minimal_pdf(), 4), updates=60, per_update=50)
    out = _verify(tmp_path, pdf)
    assert out["valid"] is False
    assert out["reason"] == "pdf-limit"
    assert str(pdfverify.MAX_REVIEW_WORK) in out["message"]


def test_software_signer_stands_in_for_card_shared_object_chain_is_pdf_limit(tmp_path):
    """Fails on the old code (it never returns: pyHanko's reverse cross-reference walk
    visits every path, 2 ** 40 here, in a 3 KB file; pytest's hang guard stops it).  The
    count stops at the budget and the PDF is refused."""
    pdf = _signed(_shared_object_chain(40), 2)
    assert len(pdf) < 40_000
    out = _verify(tmp_path, pdf)
    assert (out["valid"], out["reason"]) == (False, "pdf-limit")


def test_software_signer_stands_in_for_card_count_stops_at_the_cap():
    pdf = _signed(_shared_object_chain(40), 2)
    reader = PdfFileReader(io.BytesIO(pdf), strict=True)
    assert review_work(reader, [1, 2], 1000) == 1001


# --------------------------------------------------------------------------- the count
def test_software_signer_stands_in_for_card_counts_at_least_pyhankos_paths():
    """The path count is an upper bound of what pyHanko's reverse cross-reference cache
    visits (its private ``_load_reverse_xref_cache``, read here only to compare), and not
    wildly above it, on shared chains, a cross-linked page tree and a form."""
    for pdf in (_signed(_shared_object_chain(8), 2), _signed(_cross_linked(12), 2),
                _signed(_form(40), 2), _signed(_tagged(50), 2)):
        reader = PdfFileReader(io.BytesIO(pdf), strict=True)
        old = reader.get_historical_resolver(1)
        old._load_reverse_xref_cache()
        paths = sum(len(p) for p in old._indirect_object_access_cache.values())
        ours = review_work(reader, [1], 10 ** 9)
        assert paths <= ours <= 20 * paths + 5_000


def test_software_signer_stands_in_for_card_chain_count_doubles_per_level():
    small, large = (_work(_signed(_shared_object_chain(n), 2)) for n in (8, 10))
    assert 3.5 * small < large < 4.5 * small


# --------------------------------------------------------------------------- honest
def test_software_signer_stands_in_for_card_32_signatures_one_after_the_other_valid():
    pdf = _signed(minimal_pdf(), pdfverify.MAX_PDF_SIGNATURES)
    assert _work(pdf) < pdfverify.MAX_REVIEW_WORK // 4
    doc = pdfverify.read_pdf_signatures(pdf)
    assert len(doc.signatures) == 32
    assert all(s.reason is None for s in doc.signatures)


def test_software_signer_stands_in_for_card_many_field_form_signed_by_several_valid():
    pdf = _signed(_form(500), 5)
    assert _work(pdf) < pdfverify.MAX_REVIEW_WORK // 4
    doc = pdfverify.read_pdf_signatures(pdf)
    assert [s.reason for s in doc.signatures] == [None] * 5


def test_software_signer_stands_in_for_card_cross_linked_pages_not_counted_per_link():
    """Links from every page to every page do not multiply the count (pyHanko enters the
    page tree only along /Kids)."""
    assert _work(_signed(_cross_linked(40), 2)) < 40 * 40 * 20
