"""Make ``vectors/pdf/form.pdf``: the small test PDF of the PAdES tests (issue 13).

Run from the repository root: ``python3 vectors/pdf/make_test_pdf.py``.  It is written with
pyHanko's own PDF writer (classic cross-reference table, no object streams): two A4 pages of
plain text (Helvetica, no embedded font, no personal data) and one empty signature field
``Applicant`` on page 2 (box 360,80,560,160).  The output is not byte-reproducible (pyHanko
writes a random document /ID); the tests depend only on its structure.
"""

from __future__ import annotations

import io
from pathlib import Path

from pyhanko.pdf_utils import generic, writer
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields

OUT = Path(__file__).resolve().parent / "form.pdf"
A4 = (0, 0, 595, 842)


def _page(w: writer.PdfFileWriter, font: generic.IndirectObject,
          lines: list[str]) -> writer.PageObject:
    text = "BT /F1 14 Tf 72 760 Td 18 TL " + " ".join(
        f"({line}) '" for line in lines) + " ET"
    contents = w.add_object(generic.StreamObject(stream_data=text.encode("ascii")))
    resources = generic.DictionaryObject({
        generic.pdf_name("/Font"): generic.DictionaryObject({generic.pdf_name("/F1"): font})})
    return writer.PageObject(contents=contents, media_box=list(A4), resources=resources)


def make() -> bytes:
    w = writer.PdfFileWriter(stream_xrefs=False)
    font = w.add_object(generic.DictionaryObject({
        generic.pdf_name("/Type"): generic.pdf_name("/Font"),
        generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
        generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
    }))
    w.insert_page(_page(w, font, ["jukicard TEST application form", "",
                                  "This synthetic document is signed by the tests.",
                                  "It holds no personal data."]))
    w.insert_page(_page(w, font, ["Page 2: signature of the applicant below."]))
    first = io.BytesIO()
    w.write(first)
    inc = IncrementalPdfFileWriter(io.BytesIO(first.getvalue()))
    fields.append_signature_field(inc, fields.SigFieldSpec(
        sig_field_name="Applicant", on_page=1, box=(360, 80, 560, 160)))
    out = io.BytesIO()
    inc.write(out)
    return out.getvalue()


if __name__ == "__main__":
    OUT.write_bytes(make())
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
