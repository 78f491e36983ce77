"""PAdES signatures (ETSI EN 319 142-1 B-B and B-T) through pyHanko, with a caller's signer.

The private key never comes here: as in :mod:`jukicard.pki.cmsbuild`, the caller gives a
:data:`~jukicard.pki.cmsbuild.RawSigner` (``sign(DigestInfo) -> PKCS#1 v1.5 signature``,
what the JPKI card does with host hashing).  This module imports no card code.

What :func:`build_pades` makes:

* an incremental update of the caller's PDF (earlier revisions and signatures untouched),
  with a signature dictionary ``/SubFilter /ETSI.CAdES.detached`` whose CMS is made by
  pyHanko: signed attributes content type, message digest, ESS signing-certificate-v2 (no
  signingTime: PAdES puts the time in the dictionary's ``/M``), the signer certificate and
  its CA certificates in the bag;
* B-T when a TSA URL is given: an RFC 3161 signature time-stamp over the signature value
  (:mod:`jukicard.pki.tsaclient`), checked before it is embedded;
* a new signature field (invisible, or visible: a text stamp in a box on a page the caller
  names, with no personal data unless the caller writes some) or an existing empty field.

The caller's signer is called exactly once.  pyHanko first estimates the size of the CMS
with a *dry run*: :class:`_CallerSigner` answers it with a placeholder of the key's size and
never calls the signer (a card would ask for a PIN).  The signature is checked against the
certificate when it comes back, and the finished PDF is read back and its new signature
checked (covers the whole file, the CMS verifies, the time-stamp answers the signature)
before any byte is returned.

Hostile input: the PDF is capped at :data:`MAX_PDF_SIZE` and read by pyHanko with its
limits for untrusted input; any failure of pyHanko, asn1crypto or cryptography on it is a
:class:`MalformedPdfError` (reason ``malformed-pdf``), never their exception.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import hashlib
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import algos as _algos
from asn1crypto import cms as _cms
from asn1crypto import x509 as _ax509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields as _fields
from pyhanko.sign import signers as _signers
from pyhanko.sign.general import SigningError, find_unique_cms_attribute
from pyhanko.sign.signers.pdf_cms import Signer
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter, validate_sig_integrity
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko.stamp.text import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from jukicard.errors import JukiError, UsageError
from jukicard.pki.cms import MAX_CMS_CERTIFICATES
from jukicard.pki.cmsbuild import RawSigner, SigningScheme, sign_signed_attributes
from jukicard.pki.errors import PkiError
from jukicard.pki.pdfbase import MalformedPdfError, looks_like_pdf
from jukicard.pki.pdfbudget import MAX_FORM_FIELDS, check_form_tree
from jukicard.pki.signatures import (
    SIGNING_HASHES,
    SignatureInvalidError,
    hash_algorithm,
    load_certificate,
    rsa_public_key,
)
from jukicard.pki.tsaclient import TimestampError, TsaClient, check_timestamp_token

__all__ = [
    "MAX_PDF_SIZE",
    "DEFAULT_STAMP_TEXT",
    "MalformedPdfError",
    "PdfSigningError",
    "PdfSignatureCheckError",
    "PdfStamp",
    "SignedPdf",
    "build_pades",
    "check_pdf",
    "preflight",
]

log = logging.getLogger(__name__)

#: Largest PDF accepted for signing (the whole file is held in memory).
MAX_PDF_SIZE = 64 * 1024 * 1024
#: Text of a visible stamp: no name, no certificate subject (``%(ts)s`` = signing time).
DEFAULT_STAMP_TEXT = "Digitally signed (JPKI)\n%(ts)s"
_MAX_FIELD_NAME = 127
_FIELD_PREFIX = "Signature"


class PdfSigningError(PkiError):
    """pyHanko could not add the signature to a PDF it could read (an unusual form
    structure, a signature larger than the space reserved...); nothing was returned."""


class PdfSignatureCheckError(SignatureInvalidError):
    """The signed PDF, read back, does not hold a signature that verifies with the signer
    certificate over the whole file; nothing was returned."""


@dataclass(frozen=True)
class PdfStamp:
    """A visible signature: a text stamp in ``box`` on page ``page``.

    :ivar page: 0-based page index (``-1``: the last page).
    :ivar box: ``(x1, y1, x2, y2)`` in PDF points from the page's lower-left corner.
    :ivar text: the stamp text; ``%(ts)s`` is the signing time.  The default holds no
        personal data: put none here unless the resident wants it shown.
    """

    page: int
    box: tuple[int, int, int, int]
    text: str = DEFAULT_STAMP_TEXT

    def __post_init__(self) -> None:
        if not isinstance(self.page, int) or isinstance(self.page, bool):
            raise UsageError("the stamp page must be an integer")
        box = self.box
        if (not isinstance(box, tuple) or len(box) != 4
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in box)):
            raise UsageError("the stamp box must be four integers x1,y1,x2,y2")
        x1, y1, x2, y2 = box
        if not (0 <= x1 < x2 <= 14400 and 0 <= y1 < y2 <= 14400):
            raise UsageError("the stamp box must have x1 < x2 and y1 < y2, within 0..14400")
        if not isinstance(self.text, str) or len(self.text) > 1000:
            raise UsageError("the stamp text must be a string of at most 1000 characters")


@dataclass(frozen=True)
class SignedPdf:
    """A PDF with one more signature.

    :ivar pdf: the whole signed file (the input + one incremental update).
    :ivar field_name: the signature field signed.
    :ivar level: ``"B-B"`` or ``"B-T"``.
    :ivar hash_name: the digest algorithm.
    :ivar signing_time: the claimed signing time (``/M``; not a trusted time).
    :ivar timestamp_time: the TSA's time (B-T), else ``None``.
    :ivar visible: a visible stamp was drawn.
    """

    pdf: bytes = field(repr=False)
    field_name: str
    level: str
    hash_name: str
    signing_time: _dt.datetime
    timestamp_time: _dt.datetime | None
    visible: bool


class _CallerSigner(Signer):
    """pyHanko signer whose one real signature is the caller's; dry runs never reach it.
    With ``signer=None`` it is a rehearsal: every signature is a placeholder."""

    def __init__(self, signer: RawSigner | None, cert: x509.Certificate,
                 cas: list[x509.Certificate]) -> None:
        asn_cert = _ax509.Certificate.load(cert.public_bytes(Encoding.DER))
        untyped_store: Any = SimpleCertificateStore  # from_certs carries no annotations
        store = untyped_store.from_certs(
            [_ax509.Certificate.load(c.public_bytes(Encoding.DER)) for c in cas])
        super().__init__(signing_cert=asn_cert, cert_registry=store,
                         signature_mechanism=_algos.SignedDigestAlgorithm(
                             {"algorithm": "rsassa_pkcs1v15"}))
        self._signer = signer
        self._cert = cert
        # the real signer's certificate must allow signatures; a rehearsal's (a CA
        # certificate) need only be RSA
        key = cert.public_key() if signer is None else rsa_public_key(certificate=cert)
        if not isinstance(key, rsa.RSAPublicKey):
            raise UsageError("the rehearsal certificate's key must be RSA")
        self._size = (key.key_size + 7) // 8
        #: real (not dry-run) signatures asked for; must end at 1
        self.calls = 0
        self.signature: bytes | None = None

    async def async_sign_raw(self, data: bytes, digest_algorithm: str,
                             dry_run: bool = False) -> bytes:
        if dry_run:  # pyHanko's size estimate: a placeholder, the signer is not called
            return bytes(self._size)
        self.calls += 1
        if self._signer is None:  # rehearsal (preflight): nothing is signed
            return bytes(self._size)
        if self.calls > 1:  # pragma: no cover - pyHanko signs once; a card never twice
            raise PdfSigningError("pyHanko asked for a second signature")
        attrs = _cms.CMSAttributes.load(data)  # the DER SET OF the signed attributes
        self.signature, _algorithm = sign_signed_attributes(
            attrs, digest_algorithm, self._signer, SigningScheme.PKCS1V15_DIGEST_INFO,
            self._cert)
        return self.signature


def check_pdf(pdf: bytes) -> bytes:
    """Cheap checks before anything else (and before a PIN is asked): bytes, size cap,
    ``%PDF-`` header near the start, an ``%%EOF`` near the end.

    :returns: ``pdf`` as ``bytes``.
    :raises UsageError: not bytes.
    :raises MalformedPdfError: empty, too large, no header or trailer marker.
    """
    if not isinstance(pdf, (bytes, bytearray, memoryview)):
        raise UsageError(f"the PDF must be bytes, not {type(pdf).__name__}")
    data = bytes(pdf)
    if len(data) > MAX_PDF_SIZE:
        raise MalformedPdfError(f"the PDF is larger than {MAX_PDF_SIZE} bytes")
    if not looks_like_pdf(data):
        raise MalformedPdfError("not a PDF (no %PDF- header)")
    if b"%%EOF" not in data[-1024:]:
        raise MalformedPdfError("the PDF is truncated (no %%EOF at its end)")
    return data


def _check_form_size(reader: Any) -> None:
    """:func:`jukicard.pki.pdfbudget.check_form_tree` before pyHanko walks the form.

    :raises MalformedPdfError: more visits than :data:`MAX_FORM_FIELDS`.
    """
    check_form_tree(reader, MAX_FORM_FIELDS, MalformedPdfError)


def _open(data: bytes) -> tuple[IncrementalPdfFileWriter, int]:
    """The incremental writer over ``data`` and its page count."""
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(data))
        if writer.prev.encrypted:
            raise MalformedPdfError("the PDF is encrypted: decrypt it before signing")
        _check_form_size(writer.prev)
        root = writer.root
        pages = int(root["/Pages"]["/Count"])
        list(_fields.enumerate_sig_fields(writer.prev))  # walks the form: fails now, not later
    except JukiError:
        raise
    except Exception as exc:  # pyHanko/asn1crypto on hostile bytes: anything may come out
        raise MalformedPdfError(
            f"the PDF cannot be read ({type(exc).__name__})") from None
    if pages < 1:
        raise MalformedPdfError("the PDF has no pages")
    return writer, pages


def _pick_field(writer: IncrementalPdfFileWriter, name: str | None,
                stamp: PdfStamp | None) -> tuple[str, bool]:
    """``(field name, existing empty field?)``; refuses a filled field, a stamp for an
    existing field (its widget already has a place) and a field an earlier signature locks.
    """
    found = list(_fields.enumerate_sig_fields(writer.prev))
    chosen = _choose_field({fq: value is not None for fq, value, _ref in found}, name, stamp)
    _check_not_locked([value for _fq, value, _ref in found if value is not None], chosen[0])
    return chosen


#: ``/Reference`` entries (DocMDP, FieldMDP...) read per earlier signature dictionary.
_MAX_SIG_REFERENCES = 8


def _check_not_locked(signatures: list[Any], name: str) -> None:
    """Refuse to sign field ``name`` when an earlier signature's FieldMDP transform (ISO
    32000-1 §12.8.2.4) locks it: pyHanko would sign, and its difference analysis (and
    ``signature verify``) would then call the earlier signature invalid.

    :raises PdfSigningError: ``name`` is locked.
    :raises MalformedPdfError: an earlier signature's ``/Reference`` cannot be read.
    """
    seen: set[int] = set()
    for value in signatures:
        if id(value) in seen:  # many fields may share one signature dictionary
            continue
        seen.add(id(value))
        try:
            refs = value.get_object().get("/Reference")
            entries = list(refs)[:_MAX_SIG_REFERENCES] if refs is not None else []
            for entry in entries:
                ref = entry.get_object()
                if ref.get("/TransformMethod") != "/FieldMDP":
                    continue
                locked = _fields.FieldMDPSpec.from_pdf_object(
                    ref["/TransformParams"]).is_locked(name)
                if locked:
                    raise PdfSigningError(
                        f"an earlier signature locks the field {name!r} (FieldMDP): "
                        "signing it would make that signature invalid")
        except JukiError:
            raise
        except Exception as exc:
            raise MalformedPdfError(f"an earlier signature's /Reference cannot be read "
                                    f"({type(exc).__name__})") from None


def _choose_field(existing: dict[str, bool], name: str | None,
                  stamp: PdfStamp | None) -> tuple[str, bool]:
    if name is None:
        n = 1
        while f"{_FIELD_PREFIX}{n}" in existing:
            n += 1
        return f"{_FIELD_PREFIX}{n}", False
    if (not isinstance(name, str) or not name or len(name) > _MAX_FIELD_NAME
            or "." in name or not name.isprintable()):
        raise UsageError(f"a field name is 1-{_MAX_FIELD_NAME} printable characters, no '.'")
    if name not in existing:
        return name, False
    if existing[name]:
        raise UsageError(f"the signature field {name!r} is already signed")
    if stamp is not None:
        raise UsageError(f"the field {name!r} exists: its place is fixed in the PDF "
                         "(no --visible/--box for it)")
    return name, True


def _field_spec(pages: int, name: str, stamp: PdfStamp | None) -> _fields.SigFieldSpec:
    if stamp is None:
        return _fields.SigFieldSpec(sig_field_name=name)
    page = stamp.page if stamp.page >= 0 else pages + stamp.page
    if not 0 <= page < pages:
        raise UsageError(f"the PDF has {pages} page(s): no page {stamp.page + 1}")
    return _fields.SigFieldSpec(sig_field_name=name, on_page=page, box=stamp.box)


def preflight(pdf: bytes, *, field_name: str | None = None, stamp: PdfStamp | None = None,
              rehearse_with: bytes | x509.Certificate | None = None,
              hash_name: str = "sha256") -> str:
    """What :func:`build_pades` checks about the PDF and the field, without a signer:
    call it before asking for a PIN, so that a PDF that cannot be signed costs none.

    :param rehearse_with: an RSA certificate (any: the card's CA certificate, readable
        without a PIN): then the whole pyHanko signing is run once with placeholder
        signatures and thrown away, so that a PDF pyHanko reads but cannot sign fails
        here too.  Without it only the reading and the field are checked.
    :returns: the field name that will be signed.
    :raises UsageError: / :raises MalformedPdfError: / :raises PdfSigningError: as
        :func:`build_pades`.
    """
    data = check_pdf(pdf)
    writer, pages = _open(data)
    name, existing = _pick_field(writer, field_name, stamp)
    spec = None if existing else _field_spec(pages, name, stamp)
    if rehearse_with is not None:
        rehearsal = _CallerSigner(None, load_certificate(rehearse_with), [])
        _run(writer, rehearsal, name, existing, spec, _signing_hash(hash_name), stamp, None,
             None, None)
    return name


def _signing_hash(hash_name: str) -> str:
    name = hash_algorithm(hash_name).name  # normalised; UsageError when unknown
    if name not in SIGNING_HASHES:
        raise UsageError(f"hash {hash_name!r} is not allowed for new signatures "
                         f"(use one of {sorted(SIGNING_HASHES)})")
    return name


#: What pyHanko raises on a PDF whose structure it read but cannot follow when signing.
_STRUCTURE_ERRORS = (PdfError, KeyError, IndexError, TypeError, AttributeError,
                     RecursionError)


def _run(writer: IncrementalPdfFileWriter, signer: _CallerSigner, field_name: str,
         existing: bool, spec: _fields.SigFieldSpec | None, hash_name: str,
         stamp: PdfStamp | None, timestamper: TsaClient | None, reason: str | None,
         location: str | None) -> bytes:
    """pyHanko's signing of ``writer`` (one incremental update); its errors typed."""
    meta = _signers.PdfSignatureMetadata(
        field_name=field_name, md_algorithm=hash_name, reason=reason, location=location,
        subfilter=_fields.SigSeedSubFilter.PADES)
    style = TextStampStyle(stamp_text=stamp.text if stamp is not None else DEFAULT_STAMP_TEXT)
    pdf_signer = _signers.PdfSigner(meta, signer, timestamper=timestamper,
                                    stamp_style=style, new_field_spec=spec)
    try:
        output: Any = asyncio.run(pdf_signer.async_sign_pdf(writer,
                                                            existing_fields_only=existing))
        return bytes(output.getvalue())
    except JukiError:
        raise  # a card's own errors, TimestampError, the signer's typed errors
    except SigningError as exc:
        raise PdfSigningError(
            f"the PDF could not be signed ({type(exc).__name__})") from None
    except _STRUCTURE_ERRORS as exc:
        raise MalformedPdfError(
            f"the PDF's structure is damaged ({type(exc).__name__})") from None
    except Exception as exc:  # pyHanko on a PDF it read but cannot sign
        raise PdfSigningError(
            f"the PDF could not be signed ({type(exc).__name__})") from None


def _check_result(out: bytes, name: str, cert_der: bytes, signature: bytes,
                  tsa: TsaClient | None) -> tuple[_dt.datetime, _dt.datetime | None]:
    """Read the signed PDF back: its last signature is ours, covers the whole file, its
    CMS verifies with our certificate and carries the ESS signing-certificate-v2; with a
    TSA, one signature time-stamp over our signature value."""
    try:
        reader = PdfFileReader(io.BytesIO(out))
        sigs = reader.embedded_signatures
        emb: EmbeddedPdfSignature = sigs[-1]
        untyped: Any = emb  # compute_integrity_info carries no annotations
        untyped.compute_integrity_info(skip_diff=True)
        intact, valid = validate_sig_integrity(emb.signer_info, emb.signer_cert, "data",
                                               emb.compute_digest())
        find_unique_cms_attribute(emb.signer_info["signed_attrs"], "signing_certificate_v2")
        ours = (emb.field_name == name and emb.signer_cert.dump() == cert_der
                and emb.signer_info["signature"].native == signature
                and emb.sig_object["/SubFilter"] == "/ETSI.CAdES.detached")
        when = emb.self_reported_timestamp
        tokens = list(extract_tst_data_iter(emb.signer_info, signed=False))
    except JukiError:
        raise
    except Exception as exc:
        raise PdfSignatureCheckError(
            f"the signed PDF does not read back ({type(exc).__name__})") from None
    if not ours:
        raise PdfSignatureCheckError("the signed PDF's last signature is not the one made")
    if emb.coverage is not SignatureCoverageLevel.ENTIRE_FILE or not (intact and valid):
        raise PdfSignatureCheckError("the PDF signature does not verify over the whole file")
    if when is None:
        raise PdfSignatureCheckError("the PDF signature has no signing time")
    if tsa is None:
        if tokens:
            raise PdfSignatureCheckError("unexpected time-stamp in a B-B signature")
        return when, None
    if len(tokens) != 1:
        raise TimestampError("the signature does not carry exactly one time-stamp")
    md = emb.md_algorithm
    token = _cms.ContentInfo({"content_type": "signed_data", "content": tokens[0]})
    info = check_timestamp_token(token, hash_name=md,
                                 digest=hashlib.new(md, signature).digest())
    ts_time: _dt.datetime = info["gen_time"].native
    return when, ts_time


def build_pades(
    pdf: bytes,
    *,
    signer: RawSigner,
    certificate: bytes | x509.Certificate,
    ca_certificates: Iterable[bytes | x509.Certificate] = (),
    hash_name: str = "sha256",
    field_name: str | None = None,
    stamp: PdfStamp | None = None,
    timestamper: TsaClient | None = None,
    reason: str | None = None,
    location: str | None = None,
) -> SignedPdf:
    """Sign ``pdf`` (PAdES B-B, or B-T with ``timestamper``) with the caller's signer.

    :param pdf: the PDF (at most :data:`MAX_PDF_SIZE` bytes).
    :param signer: ``sign(DigestInfo) -> signature`` (PKCS#1 v1.5); called exactly once,
        never for pyHanko's size estimate.
    :param certificate: the signer certificate (parsed, DER or PEM); RSA.
    :param ca_certificates: its CA certificates, carried in the CMS.
    :param hash_name: ``"sha256"``, ``"sha384"`` or ``"sha512"``.
    :param field_name: sign this field: an existing empty signature field, or a new one of
        that name; default a new field ``SignatureN``.
    :param stamp: draw a visible stamp (new field only); default invisible.
    :param timestamper: a :class:`~jukicard.pki.tsaclient.TsaClient` for B-T.
    :param reason: / :param location: optional ``/Reason`` and ``/Location`` texts.
    :returns: the signed PDF, read back and checked.
    :raises UsageError: bad arguments, a field already signed, a page the PDF lacks.
    :raises WeakHashError: SHA-1.
    :raises MalformedPdfError: the PDF cannot be read (nothing was signed).
    :raises TimestampError: the TSA gave no usable token.
    :raises CmsSignerOutputError: / :raises CmsSignerFailedError: the signer's signature
        does not verify with the certificate, or the signer failed (jukicard errors of a
        card pass unchanged).
    :raises PdfSigningError: pyHanko could not sign a PDF it read.
    :raises PdfSignatureCheckError: the result does not verify when read back.
    """
    data = check_pdf(pdf)
    name = _signing_hash(hash_name)
    if stamp is not None and not isinstance(stamp, PdfStamp):
        raise UsageError("stamp must be a PdfStamp")
    if timestamper is not None and not isinstance(timestamper, TsaClient):
        raise UsageError("timestamper must be a TsaClient")
    for text in (reason, location):
        if text is not None and (not isinstance(text, str) or len(text) > 1000):
            raise UsageError("reason and location are strings of at most 1000 characters")
    cert = load_certificate(certificate)
    cas = [load_certificate(c) for c in ca_certificates]
    if 1 + len(cas) > MAX_CMS_CERTIFICATES:
        raise UsageError(f"at most {MAX_CMS_CERTIFICATES} certificates fit in a CMS")
    raw_signer = _CallerSigner(signer, cert, cas)

    writer, pages = _open(data)
    field_name, existing = _pick_field(writer, field_name, stamp)
    spec = None if existing else _field_spec(pages, field_name, stamp)
    out = _run(writer, raw_signer, field_name, existing, spec, name, stamp, timestamper,
               reason, location)
    if raw_signer.calls != 1 or raw_signer.signature is None:
        raise PdfSigningError("the signer was not called exactly once")
    if not out.startswith(data):
        raise PdfSignatureCheckError("the signed PDF is not an incremental update")
    der = cert.public_bytes(Encoding.DER)
    when, ts_time = _check_result(out, field_name, der, raw_signer.signature, timestamper)
    log.info("signed a PDF (PAdES %s, %s, %s field, %s)",
             "B-T" if timestamper else "B-B", name, "existing" if existing else "new",
             "visible" if stamp is not None else "invisible")
    return SignedPdf(out, field_name, "B-T" if timestamper is not None else "B-B", name,
                     when, ts_time, stamp is not None)
