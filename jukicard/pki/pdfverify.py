"""The signatures of a PDF, read through pyHanko's strict reader: fields, byte ranges,
revisions, coverage and what later revisions changed — structure only, no validator policy
(:mod:`jukicard.services.pdfverify` adds the certificate paths).

For every filled signature field (``/FT /Sig`` with a ``/V``) :func:`read_pdf_signatures`
records, without trusting pyHanko's own verdicts:

* the ``/SubFilter``: ``ETSI.CAdES.detached`` and ``adbe.pkcs7.detached`` are verified;
  ``adbe.x509.rsa_sha1``, ``ETSI.RFC3161`` document time stamps and anything else are
  refused (``pdf-unsupported-subfilter``);
* the ``/ByteRange``: exactly four non-negative integers ``[0 a b c]``; the gap
  ``[a, b)`` must be exactly the ``/Contents`` hex string (``<`` hex digits ``>``, decoding
  to the ``/Contents`` value), the second range must end inside the file
  (``pdf-byte-range-invalid``), and it must end at the end of the signature's own revision
  (its ``startxref``/``%%EOF``, every earlier xref section inside:
  ``pdf-revision-not-covered``);
* the coverage: whole file, or the signature's revision followed by ``unsigned_bytes_after``
  bytes of later revisions; those are reviewed by pyHanko's difference analysis and only
  other signatures being added (``"signatures"``), DSS / document time-stamp updates
  (``"lta-updates"``) or nothing (``"none"``) keep the signature valid; form filling of
  other fields, annotations or other changes give ``pdf-modified-after-signing``, and so
  do a certification signature's DocMDP permission exceeded (P=1: no signature or form
  filling after it) and non-white-space bytes after the last revision's ``%%EOF`` (an
  "incremental saving" without a cross-reference section: bytes nothing reviews).

:meth:`PdfSignature.verify` then checks the ``/Contents`` CMS with jukicard's own verifier
(:class:`jukicard.pki.cms.SignedData`) over the ByteRange bytes, its ESS
signing-certificate attribute and its signature time-stamp token
(:mod:`jukicard.pki.tstoken`).

Bounds (checked before the work they bound): :data:`MAX_PDF_SIZE`,
:data:`MAX_PDF_REVISIONS`, :data:`MAX_PDF_SIGNATURES`, :data:`MAX_SIGNATURE_CONTENTS`,
:data:`MAX_REVIEW_WORK` (the difference analysis, estimated by
:mod:`jukicard.pki.pdfbudget` for every signature that has later revisions, before any is
reviewed).
pyHanko decodes streams under its default decode limits (meant for untrusted documents).
Every failure is a typed :mod:`jukicard.pki` error; pyHanko's and asn1crypto's exceptions
never escape.  pyHanko is imported at the top of this module, which only the PDF paths
import (:mod:`jukicard.services.pdfverify` imports it inside its functions), so
``import jukicard`` and the other commands do not load pyHanko.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import io
import logging
import re
from dataclasses import dataclass
from typing import Any

from asn1crypto import parser
from cryptography import x509
from pyhanko.pdf_utils.generic import (
    ArrayObject,
    DictionaryObject,
    IndirectObject,
    NameObject,
    NumberObject,
    parse_pdf_date,
)
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, DiffResult
from pyhanko.sign.fields import FieldMDPSpec, MDPPerm, enumerate_sig_fields

from jukicard.errors import ValidationError
from jukicard.pki.cms import CmsSigner, MalformedCmsError, SignedData
from jukicard.pki.errors import PkiError
from jukicard.pki.pdfbase import MalformedPdfError, looks_like_pdf
from jukicard.pki.pdfbudget import MAX_FORM_FIELDS, check_form_tree, review_work
from jukicard.pki.reasons import Reason
from jukicard.pki.tstoken import TimestampCheck, verify_signature_timestamp

__all__ = [
    "MAX_PDF_SIZE",
    "MAX_PDF_REVISIONS",
    "MAX_PDF_SIGNATURES",
    "MAX_SIGNATURE_CONTENTS",
    "MAX_REVIEW_WORK",
    "SUPPORTED_SUBFILTERS",
    "ACCEPTED_MODIFICATIONS",
    "MalformedPdfError",
    "PdfEncryptedError",
    "PdfLimitError",
    "PdfCoverage",
    "PdfSignature",
    "PdfSignatureCheck",
    "PdfSignedDocument",
    "looks_like_pdf",
    "read_pdf_signatures",
]

#: Largest PDF read (the service checks the file size before reading it).
MAX_PDF_SIZE = 256 * 1024 * 1024
#: Most revisions (incremental updates) reviewed: each signature's difference analysis
#: walks every later revision.
MAX_PDF_REVISIONS = 128
#: Most signature fields verified in one PDF.
MAX_PDF_SIGNATURES = 32
#: Largest decoded ``/Contents`` (the CMS): signers reserve 8–64 KiB.
MAX_SIGNATURE_CONTENTS = 1024 * 1024
#: Most work pyHanko's difference analysis of the later revisions may take, in units
#: (:func:`jukicard.pki.pdfbudget.review_work`: per signature and later revision, the form
#: fields of both revisions — a field added since the signature counts 4 — their page-tree
#: nodes and annotations and the objects the later one writes; per signature, every path
#: from the trailer to an object of its revision).  Counted before the analysis starts, by
#: walks that stop at the budget; above it the PDF is refused (``pdf-limit``).  Measured on
#: the 2-core CI machine a unit of analysis costs 6-17 µs, so the budget bounds the
#: analysis to about 4-10 s.  Honest documents pass: 32 signatures one after the other
#: ~107,000 units (0.8 s); a 500-field form signed by 5 people ~78,000; a 100-field form
#: signed by 32 people ~392,000 (3.7 s); a 5,000-page document signed twice ~105,000.
#: Refused: the reviewer's 4 signatures then 60 updates of 50 empty signature fields
#: (1,860,000; 18.5 s before), 32 signatures then 95 updates of an empty field (1,470,000;
#: 13 s), a 300-field form signed by 32 people (963,000; 8 s), and a chain of shared
#: objects (``A → [B C]``, ``B → D``, ``C → D``…) whose paths double at each level (16
#: levels 524,000 units and 5.3 s; 40 levels in 3 KB would take years).
MAX_REVIEW_WORK = 600_000
#: The /SubFilter values whose CMS is verified.
SUPPORTED_SUBFILTERS = ("/ETSI.CAdES.detached", "/adbe.pkcs7.detached")
#: Modification levels of later revisions that keep a signature valid.
ACCEPTED_MODIFICATIONS = frozenset({"none", "signatures", "lta-updates"})

_EOF_TAIL = re.compile(rb"startxref[\x00\t\n\x0c\r ]+(\d{1,20})[\x00\t\n\x0c\r ]+%%EOF"
                       rb"(?:\r\n|\r|\n)?\Z")
_HEX = re.compile(rb"\A<[0-9A-Fa-f]*>\Z")


class PdfEncryptedError(PkiError):
    """The PDF is encrypted: its signatures are not verified."""

    reason = Reason.PDF_ENCRYPTED


class PdfLimitError(PkiError):
    """The PDF exceeds a work limit (size, revisions, signatures, /Contents size, the
    work of reviewing its later revisions)."""

    reason = Reason.PDF_LIMIT


@dataclass(frozen=True)
class PdfCoverage:
    """What one signature's ByteRange covers.

    :ivar byte_range: the four ByteRange numbers.
    :ivar covers_revision: the ranges end exactly at the end of the signature's revision.
    :ivar whole_file: ... and that end is the end of the file.
    :ivar unsigned_bytes_after: bytes of the file after the signed ranges.
    :ivar modification: what later revisions change: ``"none"``, ``"signatures"`` (only
        signature fields signed), ``"lta-updates"`` (DSS, document time stamps),
        ``"form-filling"``, ``"annotations"``, ``"other"``, ``"suspicious"`` (pyHanko's
        analysis refused the update), ``"unreviewed-bytes"`` (bytes after the last
        revision that belong to no revision) or ``"not-reviewed"`` (the revision is not
        covered).
    :ivar changed_fields: form fields the later revisions filled or changed.
    """

    byte_range: tuple[int, int, int, int]
    covers_revision: bool
    whole_file: bool
    unsigned_bytes_after: int
    modification: str
    changed_fields: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The ``coverage`` object of ``signature verify --json``."""
        return {"byte_range": list(self.byte_range), "covers_revision": self.covers_revision,
                "whole_file": self.whole_file,
                "unsigned_bytes_after": self.unsigned_bytes_after,
                "modification": self.modification, "changed_fields": list(self.changed_fields)}


@dataclass(frozen=True)
class PdfSignatureCheck:
    """A PDF signature whose CMS verified (:meth:`PdfSignature.verify`).

    :ivar signer: the verified SignerInfo.
    :ivar certificates: every certificate in the CMS (path-building candidates).
    :ivar cades_bes: the ESS signing-certificate(-v2) attribute is present (and matches).
    :ivar timestamp: the verified signature time stamp, ``None`` without one (or when it
        failed: see :attr:`timestamp_error`).
    :ivar timestamp_error: why the time-stamp token failed, ``None`` otherwise.
    """

    signer: CmsSigner
    certificates: tuple[x509.Certificate, ...]
    cades_bes: bool
    timestamp: TimestampCheck | None
    timestamp_error: ValidationError | None = dataclasses.field(default=None, compare=False)


@dataclass(frozen=True)
class PdfSignature:
    """One filled signature field.

    :ivar index: 1-based position, in the order of the revisions that signed.
    :ivar field: the field's fully qualified name.
    :ivar revision: the revision the signature belongs to (1 = the original file).
    :ivar sub_filter: the ``/SubFilter`` name (``"/ETSI.CAdES.detached"``) or ``None``.
    :ivar contents: the ``/Contents`` CMS, DER, without its zero padding.
    :ivar coverage: what the ByteRange covers, ``None`` when it is unusable.
    :ivar reason: the structural problem (subfilter, byte range, coverage, modification),
        ``None`` when the structure is sound.
    :ivar message: words for :attr:`reason`.
    :ivar signing_time: the signature dictionary's ``/M`` (a claim by the signer; PAdES
        puts the signing time there, not in the CMS), ``None`` when absent or unreadable.
    """

    index: int
    field: str
    revision: int
    sub_filter: str | None
    contents: bytes = dataclasses.field(repr=False)
    coverage: PdfCoverage | None
    reason: Reason | None = None
    message: str = ""
    signing_time: _dt.datetime | None = None
    _data: bytes = dataclasses.field(default=b"", repr=False, compare=False)

    def signed_content(self) -> bytes:
        """The bytes the ByteRange covers (the two ranges, concatenated).

        :raises PkiError: the ByteRange is unusable (its :attr:`reason`).
        """
        if self.coverage is None:
            raise PkiError(self.message or "the ByteRange is unusable",
                           self.reason or Reason.PDF_BYTE_RANGE)
        _, len1, start2, len2 = self.coverage.byte_range
        return self._data[:len1] + self._data[start2:start2 + len2]

    def verify(self, *, min_key_size: int | None = None,
               allow_sha1: bool = False) -> PdfSignatureCheck:
        """Verify the ``/Contents`` CMS over the ByteRange bytes (jukicard's verifier), its
        ESS signing-certificate attribute and its signature time stamp.  The structural
        problem, if any, is raised first.

        :raises PkiError: the structural :attr:`reason`.
        :raises MalformedCmsError: not a detached SignedData with exactly one SignerInfo.
        :raises SignatureInvalidError: the bytes or the signature do not match.
        :raises SignerCertificateMismatchError: the ESS attribute names another certificate.
        :raises ValidationError: the other errors of :meth:`SignedData.verify`.
        """
        if self.reason is not None:
            raise PkiError(self.message, self.reason)
        signed = SignedData.parse(self.contents)
        if not signed.detached:
            raise MalformedCmsError("a PDF signature's CMS must be detached")
        if signed.signer_count != 1:
            raise MalformedCmsError(f"a PDF signature's CMS must have exactly one SignerInfo, "
                                    f"not {signed.signer_count}")
        res = signed.verify(detached_content=self.signed_content(),
                            min_key_size=min_key_size, allow_sha1=allow_sha1)
        signer = res.signers[0]
        timestamp: TimestampCheck | None = None
        ts_error: ValidationError | None = None
        try:
            timestamp = verify_signature_timestamp(signer.timestamp_tokens, signer.signature,
                                                   min_key_size=min_key_size,
                                                   allow_sha1=allow_sha1)
        except ValidationError as exc:
            ts_error = exc
        return PdfSignatureCheck(signer, res.certificates, signer.cades_bes, timestamp, ts_error)


@dataclass(frozen=True)
class PdfSignedDocument:
    """The signatures of a PDF.

    :ivar size: file size in bytes.
    :ivar revisions: number of revisions (the original file and its incremental updates).
    :ivar signatures: every filled signature field, in revision order.
    """

    size: int
    revisions: int
    signatures: tuple[PdfSignature, ...]

    @property
    def unsigned_bytes_after(self) -> int:
        """Bytes after the end of the last signed revision (the whole file without a usable
        signature)."""
        ends = [c.byte_range[2] + c.byte_range[3] for s in self.signatures
                if (c := s.coverage) is not None]
        return self.size - max(ends, default=0)


# --------------------------------------------------------------------------- reading
def read_pdf_signatures(data: bytes) -> PdfSignedDocument:
    """Read every filled signature field of the PDF ``data`` and check its structure.

    :raises PdfLimitError: larger than :data:`MAX_PDF_SIZE`, more than
        :data:`MAX_PDF_REVISIONS` revisions or :data:`MAX_PDF_SIGNATURES` signatures, or
        reviewing the later revisions would take more than :data:`MAX_REVIEW_WORK`.
    :raises PdfEncryptedError: an encrypted PDF.
    :raises MalformedPdfError: not a PDF the strict reader accepts (header, xref, trailer,
        a form tree that loops…).
    """
    if len(data) > MAX_PDF_SIZE:
        raise PdfLimitError(f"PDF of {len(data)} bytes, above the {MAX_PDF_SIZE}-byte limit")
    if not looks_like_pdf(data):
        raise MalformedPdfError("no %PDF- header in the first 1024 bytes")
    try:
        return _read(data)
    except ValidationError:
        raise
    except Exception as exc:  # pyHanko: PdfReadError, PdfStrictReadError, RecursionError...
        raise MalformedPdfError(f"the PDF could not be read ({type(exc).__name__})") from exc


def _read(data: bytes) -> PdfSignedDocument:
    reader = PdfFileReader(io.BytesIO(data), strict=True)
    if reader.encrypted:
        raise PdfEncryptedError("the PDF is encrypted: its signatures are not verified")
    revisions = reader.xrefs.total_revisions
    if revisions > MAX_PDF_REVISIONS:
        raise PdfLimitError(f"PDF with {revisions} revisions, above the limit of "
                            f"{MAX_PDF_REVISIONS}")
    check_form_tree(reader, MAX_FORM_FIELDS, PdfLimitError)  # before pyHanko's 2^n walk
    found: list[tuple[int, str, Any]] = []
    for name, _value, ref in enumerate_sig_fields(reader, filled_status=True):
        if len(found) >= MAX_PDF_SIGNATURES:
            raise PdfLimitError(f"PDF with more than {MAX_PDF_SIGNATURES} signatures")
        found.append((_signed_revision(reader, ref), str(name), ref))
    found.sort(key=lambda item: item[0])
    work = review_work(reader, [rev for rev, _, _ in found], MAX_REVIEW_WORK)
    if work > MAX_REVIEW_WORK:
        raise PdfLimitError(f"reviewing the later revisions of this PDF would take more "
                            f"than the work budget of {MAX_REVIEW_WORK} units (form fields, "
                            "page-tree nodes and object paths per signature and revision)")
    later_fields = [{n for r, n, _ in found if r > rev} for rev, _, _ in found]
    tail = _bytes_after_last_revision(reader, data)
    sigs = tuple(_read_signature(reader, data, i + 1, rev, name, ref, later_fields[i], tail)
                 for i, (rev, name, ref) in enumerate(found))
    return PdfSignedDocument(len(data), revisions, sigs)


def _signed_revision(reader: Any, ref: Any) -> int:
    """The revision that last wrote the signature dictionary (the field's, when /V is a
    direct object); pyHanko numbers from 0."""
    value = ref.get_object().raw_get("/V")
    target = value if isinstance(value, IndirectObject) else ref
    return int(reader.xrefs.get_last_change(target.reference))


def _bytes_after_last_revision(reader: Any, data: bytes) -> int:
    """How many bytes follow the last revision's ``%%EOF`` (the first one after its
    cross-reference section) that are not white space: bytes no revision holds, which no
    difference analysis reviews (an incremental update without its own xref section, as
    in the "incremental saving" attacks, is such bytes)."""
    last = reader.xrefs.total_revisions - 1
    eof = data.find(b"%%EOF", reader.xrefs.get_startxref_for_revision(last))
    if eof < 0:
        return 0  # the strict reader found none: nothing after it to judge
    return len(data[eof + 5:].strip(_WHITE_SPACE))


def _read_signature(reader: Any, data: bytes, index: int, rev: int, name: str, ref: Any,
                    later_fields: set[str], tail: int) -> PdfSignature:
    base: dict[str, Any] = {"index": index, "field": name, "revision": rev + 1,
                            "sub_filter": None, "contents": b"", "coverage": None,
                            "signing_time": None, "_data": data}
    try:
        return _check_signature(reader, data, rev, ref, later_fields, tail, base)
    except ValidationError as exc:
        return PdfSignature(**base, reason=Reason(exc.reason), message=str(exc))
    except Exception as exc:  # noqa: BLE001 - pyHanko on a broken field: this one fails
        return PdfSignature(**base, reason=Reason.MALFORMED_PDF,
                            message=f"signature field {name!r} could not be read "
                            f"({type(exc).__name__})")


def _number(value: Any) -> int | None:
    return int(value) if type(value) is NumberObject else None


def _check_signature(reader: Any, data: bytes, rev: int, ref: Any, later_fields: set[str],
                     tail: int, base: dict[str, Any]) -> PdfSignature:
    sig = ref.get_object().raw_get("/V").get_object()
    if not isinstance(sig, DictionaryObject):
        raise MalformedPdfError("the signature value /V is not a dictionary")
    sub = sig.get("/SubFilter")
    base["sub_filter"] = str(sub) if isinstance(sub, NameObject) else None
    base["signing_time"] = _claimed_time(sig)
    if base["sub_filter"] not in SUPPORTED_SUBFILTERS:
        raise PkiError(f"signature /SubFilter {base['sub_filter'] or 'missing'} is not "
                       "supported (only ETSI.CAdES.detached and adbe.pkcs7.detached)",
                       Reason.PDF_UNSUPPORTED_SUBFILTER)
    contents = sig.get("/Contents") if "/Contents" in sig else None
    raw = getattr(contents, "original_bytes", None)
    if not isinstance(raw, bytes):
        raise PkiError("the signature has no /Contents string", Reason.PDF_BYTE_RANGE)
    if len(raw) > MAX_SIGNATURE_CONTENTS:
        raise PdfLimitError(f"/Contents of {len(raw)} bytes, above the "
                            f"{MAX_SIGNATURE_CONTENTS}-byte limit")
    base["contents"] = _strip_padding(raw)
    br = sig.raw_get("/ByteRange") if "/ByteRange" in sig else None
    nums = [_number(v) for v in br] if isinstance(br, ArrayObject) and len(br) == 4 else []
    if len(nums) != 4 or any(n is None or n < 0 for n in nums) or nums[0] != 0:
        raise PkiError("/ByteRange is not four non-negative integers starting at 0",
                       Reason.PDF_BYTE_RANGE)
    start1, len1, start2, len2 = (int(n or 0) for n in nums)
    end = start2 + len2
    if end > len(data):
        raise PkiError("/ByteRange runs past the end of the file", Reason.PDF_BYTE_RANGE)
    gap = data[len1:start2] if len1 < start2 else b""
    if not _HEX.match(gap) or len(gap) % 2 or bytes.fromhex(gap[1:-1].decode()) != raw:
        raise PkiError("the /ByteRange gap is not exactly the /Contents hex string",
                       Reason.PDF_BYTE_RANGE)
    covers = _ends_revision(reader, data, end, rev)
    coverage = PdfCoverage((start1, len1, start2, len2), covers, covers and end == len(data),
                           len(data) - end, "not-reviewed")
    base["coverage"] = coverage
    if not covers:
        raise PkiError(f"the signed bytes do not end at the end of revision {rev + 1}",
                       Reason.PDF_NOT_COVERED)
    if coverage.whole_file:
        base["coverage"] = PdfCoverage(coverage.byte_range, True, True, 0, "none")
        return PdfSignature(**base)
    if tail:
        base["coverage"] = dataclasses.replace(coverage, modification="unreviewed-bytes")
        raise PkiError(f"{tail} bytes after the last revision belong to no revision (not "
                       "reviewed)", Reason.PDF_MODIFIED)
    modification, changed, docmdp = _review_later_revisions(reader, sig, ref, rev,
                                                            later_fields)
    base["coverage"] = coverage = dataclasses.replace(coverage, modification=modification,
                                                      changed_fields=changed)
    if modification not in ACCEPTED_MODIFICATIONS:
        raise PkiError(f"a later revision changed the document ({modification}"
                       + (f": {', '.join(changed)}" if changed else "") + ")",
                       Reason.PDF_MODIFIED)
    if docmdp is not None and modification not in _DOCMDP_ALLOWS[docmdp]:
        raise PkiError(f"a later revision changed the document ({modification}) and the "
                       f"certification signature allows {_DOCMDP_WORDS[docmdp]} (DocMDP "
                       f"P={docmdp.value})", Reason.PDF_MODIFIED)
    return PdfSignature(**base)


def _claimed_time(sig: Any) -> _dt.datetime | None:
    try:
        when = parse_pdf_date(sig["/M"], strict=True) if "/M" in sig else None
        return None if when is None else when.astimezone(_dt.UTC)
    except Exception:  # noqa: BLE001 - an unreadable claim is no claim
        return None


def _strip_padding(raw: bytes) -> bytes:
    """The DER value at the start of ``/Contents``; the rest must be zero padding (anything
    else is left in place for the CMS parser to refuse)."""
    try:
        size = parser.peek(raw)
    except Exception:  # noqa: BLE001 - not DER: the CMS parser says so
        return raw
    return raw[:size] if raw[size:].count(0) == len(raw) - size else raw


def _ends_revision(reader: Any, data: bytes, end: int, rev: int) -> bool:
    """The signed bytes end with revision ``rev``'s own ``startxref N %%EOF`` (an optional
    end of line after it) and every xref section up to ``rev`` lies inside them."""
    xrefs = reader.xrefs
    match = _EOF_TAIL.search(data[max(0, end - 1024):end])
    if match is None or int(match.group(1)) != xrefs.get_startxref_for_revision(rev):
        return False
    return all(xrefs.get_xref_container_info(r).end_location <= end for r in range(rev + 1))


#: What a certification signature's DocMDP permission lets later revisions do (ISO
#: 32000-1 §12.8.2.2.2, as pyHanko's validator reads it): P=1 only DSS and document time
#: stamps, P=2 also form filling and signing, P=3 also annotations (which jukicard refuses
#: anyway).
_DOCMDP_ALLOWS = {
    MDPPerm.NO_CHANGES: frozenset({"none", "lta-updates"}),
    MDPPerm.FILL_FORMS: frozenset({"none", "lta-updates", "form-filling", "signatures"}),
    MDPPerm.ANNOTATE: frozenset({"none", "lta-updates", "form-filling", "signatures",
                                 "annotations"}),
}
_DOCMDP_WORDS = {MDPPerm.NO_CHANGES: "no changes",
                 MDPPerm.FILL_FORMS: "only form filling and signing",
                 MDPPerm.ANNOTATE: "only form filling, signing and annotations"}
_WHITE_SPACE = b"\x00\t\n\x0c\r "

_LEVELS = {"NONE": "none", "LTA_UPDATES": "lta-updates", "FORM_FILLING": "form-filling",
           "ANNOTATIONS": "annotations", "OTHER": "other"}


def _review_later_revisions(reader: Any, sig: Any, ref: Any, rev: int,
                            later_fields: set[str]) -> tuple[str, tuple[str, ...], Any]:
    """pyHanko's difference analysis of the revisions after ``rev`` (with the signature's
    DocMDP / FieldMDP), as a modification name, the changed fields and the signature's
    DocMDP permission (``None`` for an approval signature); form filling limited to
    signature fields signed later is ``"signatures"``."""
    docmdp, fieldmdp = _mdp(sig, ref)
    quiet = logging.getLogger("pyhanko.sign.diff_analysis")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # it logs a traceback per refused update: we report it
    try:
        result = DEFAULT_DIFF_POLICY.review_file(reader, rev, field_mdp_spec=fieldmdp,
                                                 doc_mdp=docmdp)
    except Exception:  # noqa: BLE001 - an update pyHanko cannot even analyse
        return "suspicious", (), docmdp
    finally:
        quiet.setLevel(level)
    if not isinstance(result, DiffResult):
        return "suspicious", (), docmdp
    changed = tuple(sorted(str(f) for f in result.changed_form_fields))
    name = _LEVELS.get(result.modification_level.name, "other")
    if name == "form-filling" and set(changed) <= later_fields:
        name = "signatures"
    return name, changed, docmdp


def _mdp(sig: Any, ref: Any) -> tuple[Any, Any]:
    """The DocMDP permission and FieldMDP spec of a signature, ``None`` when absent (then
    the standard policy applies); a field's ``/Lock`` without ``/P`` (how pyHanko and
    Acrobat lock fields) sets no DocMDP and keeps the FieldMDP.

    :raises PkiError: (``malformed-pdf``) a ``/Reference`` or ``/Lock`` that cannot be
        read: the signer restricted later changes in a way we cannot enforce (pyHanko's
        validator fails too), so the signature is not called valid.
    """
    docmdp = fieldmdp = None
    try:
        for entry in sig.get("/Reference", ()):
            entry = entry.get_object()
            params = entry["/TransformParams"]
            if entry["/TransformMethod"] == "/DocMDP":
                docmdp = MDPPerm(params.raw_get("/P"))
            elif entry["/TransformMethod"] == "/FieldMDP":
                fieldmdp = FieldMDPSpec.from_pdf_object(params)
        lock = ref.get_object().get("/Lock")
        if docmdp is None and lock is not None and "/P" in lock.get_object():
            docmdp = MDPPerm(lock.get_object().raw_get("/P"))
    except Exception as exc:  # noqa: BLE001 - pyHanko's or our reading of hostile data
        raise PkiError("the signature's DocMDP/FieldMDP restrictions cannot be read "
                       f"({type(exc).__name__}): later changes cannot be checked against "
                       "them", Reason.MALFORMED_PDF) from exc
    return docmdp, fieldmdp
