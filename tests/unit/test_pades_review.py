"""Issue 13 review of PAdES signing (jukicard.pki.pades, jukicard.pki.tsaclient): hostile
PDFs and time-stamp authorities.  Each test names the defect it pins down and fails on the
code before the fix.

A SOFTWARE signer holding the test key ``vectors/pki/keys/ee-r1-sign.pem`` stands in for
the card (tests using it say ``software_signer`` in their names).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from drip_server import dripping_server
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from test_pki_cmsbuild import CERT, KEY, ROOT, SoftwareCardSigner

from jukicard.errors import UsageError
from jukicard.pki.pades import (
    MAX_FORM_FIELDS,
    MalformedPdfError,
    PdfSigningError,
    build_pades,
    preflight,
)
from jukicard.pki.pdfverify import read_pdf_signatures
from jukicard.pki.tsaclient import TimestampError, TsaClient
from jukicard.testing.hostilepdf import (
    _page_objects,
    _pdf_from_objects,
    minimal_pdf,
    software_signer,
)

ROOT_DER = ROOT.public_bytes(Encoding.DER)


def _sign(pdf: bytes, signer: SoftwareCardSigner, **kw: Any) -> Any:
    return build_pades(pdf, signer=signer, certificate=CERT, ca_certificates=[ROOT], **kw)


# ------------------------------------------------------------------- form field tree
def _shared_kids_form(depth: int) -> bytes:
    """A form whose fields each list their only child twice: 2 KB, 2^depth paths."""
    objs = _page_objects("form", b" /AcroForm << /Fields [6 0 R] >>")
    for i in range(depth):
        n = 6 + i
        objs.append(b"<< /T (k%d) /Kids [%d 0 R %d 0 R] >>" % (i, n + 1, n + 1))
    objs.append(b"<< /FT /Sig /T (leaf) >>")
    return _pdf_from_objects(objs)


def test_shared_kids_form_is_refused_before_pyhanko_walks_it_software_signer() -> None:
    """Old code: pyHanko's field walk remembers only its path, so fields sharing their
    /Kids cost 2^depth visits: this 2 KB PDF was signed after 65536 visits, one a few
    levels deeper kept ``sign --pdf`` (and the rehearsal before the PIN) busy for hours.
    Now the tree is counted first, iteratively, up to MAX_FORM_FIELDS visits."""
    pdf = _shared_kids_form(16)
    assert len(pdf) < 4096 and 2 ** 16 > MAX_FORM_FIELDS
    signer = SoftwareCardSigner(KEY)
    with pytest.raises(MalformedPdfError, match="form field tree"):
        preflight(pdf, rehearse_with=ROOT_DER)
    with pytest.raises(MalformedPdfError, match="form field tree"):
        _sign(pdf, signer)
    with pytest.raises(MalformedPdfError):  # deeper: the same answer, no 2^60 walk
        preflight(_shared_kids_form(60))
    assert signer.blocks == []


def test_a_form_with_many_honest_fields_still_signs_software_signer() -> None:
    """The cap leaves room for real forms: 2,000 text fields and a signature field."""
    count = 2000
    objs = _page_objects("form", b" /AcroForm << /Fields [" + b" ".join(
        b"%d 0 R" % (6 + i) for i in range(count + 1)) + b"] >>")
    objs += [b"<< /FT /Tx /T (f%d) >>" % i for i in range(count)]
    objs.append(b"<< /FT /Sig /T (Applicant) >>")
    signed = _sign(_pdf_from_objects(objs), SoftwareCardSigner(KEY), field_name="Applicant")
    assert signed.field_name == "Applicant"


# ------------------------------------------------------------------- FieldMDP locks
def _certified(lock: fields.FieldMDPSpec) -> bytes:
    """A PDF certified (DocMDP: form filling and signing allowed) by the SOFTWARE key that
    stands in for the card, whose certification field carries the FieldMDP ``lock``."""
    writer = IncrementalPdfFileWriter(io.BytesIO(minimal_pdf()))
    meta = signers.PdfSignatureMetadata(field_name="Cert", certify=True,
                                        docmdp_permissions=fields.MDPPerm.FILL_FORMS,
                                        subfilter=fields.SigSeedSubFilter.PADES)
    spec = fields.SigFieldSpec("Cert", field_mdp_spec=lock)
    out = signers.PdfSigner(meta, software_signer(), new_field_spec=spec).sign_pdf(writer)
    return bytes(out.getvalue())


def _earlier_signature_stays_valid(pdf: bytes) -> bool:
    """jukicard's PDF reader: the certification signature still verifies and what came
    after it only added signatures."""
    first = read_pdf_signatures(pdf).signatures[0]
    if first.reason is not None:
        return False
    first.verify()
    return (first.reason is None and first.coverage is not None
            and first.coverage.modification == "signatures")


def test_field_locked_by_an_earlier_signature_is_refused_software_signer() -> None:
    """Old code: an earlier signature locking every field (FieldMDP /All) did not stop
    pyHanko: the new signature was added and the earlier one became invalid (pyHanko's
    own validator: "the form field Signature1 is locked"; ``signature verify``:
    pdf-modified-after-signing).  Now that is refused before anything is signed."""
    pdf = _certified(fields.FieldMDPSpec(fields.FieldMDPAction.ALL))
    signer = SoftwareCardSigner(KEY)
    with pytest.raises(PdfSigningError, match="locks the field"):
        preflight(pdf, rehearse_with=ROOT_DER)
    with pytest.raises(PdfSigningError, match="locks the field"):
        _sign(pdf, signer)
    with pytest.raises(PdfSigningError, match="locks the field 'Mine'"):
        _sign(_certified(fields.FieldMDPSpec(fields.FieldMDPAction.INCLUDE, ["Mine"])),
              signer, field_name="Mine")
    assert signer.blocks == []


@pytest.mark.parametrize("lock", [
    fields.FieldMDPSpec(fields.FieldMDPAction.INCLUDE, ["Other"]),
    fields.FieldMDPSpec(fields.FieldMDPAction.EXCLUDE, ["Signature1"]),
])
def test_field_an_earlier_lock_leaves_free_signs_software_signer(
        lock: fields.FieldMDPSpec) -> None:
    """A lock that does not cover the new field does not refuse it."""
    signed = _sign(_certified(lock), SoftwareCardSigner(KEY))
    assert signed.field_name == "Signature1" and _earlier_signature_stays_valid(signed.pdf)


def test_all_lock_check_is_not_vacuous_software_signer() -> None:
    """What the refusal prevents: the same update (made by pyHanko directly) breaks the
    earlier signature in jukicard's own verifier."""
    pdf = _certified(fields.FieldMDPSpec(fields.FieldMDPAction.ALL))
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(field_name="Signature1",
                                        subfilter=fields.SigSeedSubFilter.PADES)
    out = bytes(signers.sign_pdf(writer, meta, signer=software_signer()).getvalue())
    assert not _earlier_signature_stays_valid(out)


# ------------------------------------------------------------------- a dripping TSA
@pytest.fixture
def dripping_tsa() -> Iterator[str]:
    """A TEST server that answers a time-stamp request with a status line and then one
    header byte every 0.1 s (30 bytes, each well inside the client's socket timeout), then
    hangs up."""
    with dripping_server(b"HTTP/1.1 200 OK\r\n") as server:
        yield f"{server.url}/tsa"


def test_tsa_deadline_bounds_a_dripping_reply(dripping_tsa: str) -> None:
    """Old code: the deadline was checked only between 16 KiB body chunks, so a TSA that
    sent a byte just inside each socket timeout (headers, or a body chunk) held the signer
    as long as it liked (hours at 10 s per byte); here it ended only when the server hung
    up, with another error.  Now a timer shuts the connection down at the deadline."""
    client = TsaClient(dripping_tsa, timeout=5.0, deadline=0.5)
    with pytest.raises(TimestampError, match=r"exceeded 0\.5s"):
        client.probe("sha256")


def test_tsa_url_with_credentials_is_refused_before_anything() -> None:
    """Old code: ``http://user:secret@tsa.example/`` was accepted (urllib cannot send those
    credentials) and the URL, password included, went into the INFO log line of every
    exchange.  Now it is a usage error, before the PIN."""
    for url in ("http://user:secret@tsa.example/tsa", "https://user@tsa.example/"):
        with pytest.raises(UsageError, match="user name or password"):
            TsaClient(url)


def test_shared_kids_form_is_refused_before_verification_walks_it() -> None:
    """The same 2 KB PDF under ``signature verify``: pyHanko's field enumeration walked its
    2^depth paths before any budget (depth 22 took 49 s, 40 never returned).  Fails on the
    code before: depth 16 was enumerated (no signature found) instead of refused."""
    from jukicard.pki.pdfverify import PdfLimitError, read_pdf_signatures

    for depth in (16, 60):
        with pytest.raises(PdfLimitError, match="form field tree"):
            read_pdf_signatures(_shared_kids_form(depth))
