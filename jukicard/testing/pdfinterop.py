"""Check signed PDFs with tools nobody here wrote: pyHanko's validator and poppler's
``pdfsig`` (issue 13 interop tests: unit, emulated card and pcscd + vpcd).

* :func:`fresh_crl`: a CRL of a test root (``vectors/pki``) valid *now* (the vectors' CRLs
  are made for 2026-06-01 and go stale), signed with that root's TEST key;
* :func:`pyhanko_statuses`: every signature of a PDF validated by
  ``pyhanko.sign.validation.validate_pdf_signature`` with a ValidationContext trusting the
  given roots, with the given CRLs, hard-fail revocation, no fetching;
* :func:`pdfsig`: poppler's report per signature (``pdfsig`` has no trust store here:
  ``certutil`` of libnss3-tools is not installed, so the tests read its "Signature is
  Valid" and "Total document signed" lines; its certificate verdict is "issuer isn't
  Trusted" by design);
* :func:`flip_signed_byte`: the PDF with one byte changed inside the first signed range.
"""

from __future__ import annotations

import datetime as _dt
import io
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["PKI", "PDFSIG", "PdfsigSignature", "fresh_crl", "pyhanko_statuses", "pdfsig",
           "flip_signed_byte"]

PKI = Path(__file__).resolve().parents[2] / "vectors" / "pki"
PDFSIG = shutil.which("pdfsig")


def fresh_crl(root: str = "sign-2023", *, revoked: tuple[int, ...] = ()) -> bytes:
    """A DER CRL of test root ``root`` valid from a day ago for a week (no IDP: full scope).

    :param revoked: serial numbers to list as revoked.
    """
    cert = x509.load_der_x509_certificate((PKI / "ca" / f"{root}.cer").read_bytes())
    key = serialization.load_pem_private_key((PKI / "keys" / f"ca-{root}.pem").read_bytes(),
                                             None)
    assert isinstance(key, rsa.RSAPrivateKey)
    now = _dt.datetime.now(_dt.UTC)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(cert.subject)
               .last_update(now - _dt.timedelta(days=1))
               .next_update(now + _dt.timedelta(days=7))
               .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   key.public_key()), critical=False))
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial)
            .revocation_date(now - _dt.timedelta(hours=1)).build())
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def pyhanko_statuses(pdf: bytes, roots: list[bytes], crls: list[bytes]) -> list[Any]:
    """pyHanko's ``PdfSignatureStatus`` of every signature, in file order."""
    from asn1crypto import x509 as ax509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    def context() -> ValidationContext:
        return ValidationContext(trust_roots=[ax509.Certificate.load(r) for r in roots],
                                 crls=list(crls), allow_fetching=False,
                                 revocation_mode="hard-fail")

    reader = PdfFileReader(io.BytesIO(pdf))
    return [validate_pdf_signature(sig, context(), ts_validation_context=context())
            for sig in reader.embedded_signatures]


@dataclass(frozen=True)
class PdfsigSignature:
    """One signature as ``pdfsig`` reports it."""

    field: str
    valid: bool
    whole_document: bool
    text: str


def pdfsig(pdf: bytes) -> list[PdfsigSignature]:
    """Run poppler's ``pdfsig`` on ``pdf``; one entry per signed signature field.

    :raises RuntimeError: pdfsig is not installed.
    """
    if PDFSIG is None:
        raise RuntimeError("pdfsig (poppler-utils) is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(pdf)
        done = subprocess.run([PDFSIG, str(path)], capture_output=True, text=True,
                              check=False, timeout=120)
    found = []
    for block in re.split(r"^Signature #\d+:\n", done.stdout, flags=re.M)[1:]:
        if "is not signed" in block:
            continue
        name = re.search(r"Signature Field Name: (.*)", block)
        found.append(PdfsigSignature(
            field=name.group(1).strip() if name else "",
            valid="Signature Validation: Signature is Valid." in block,
            whole_document="Total document signed" in block,
            text=block))
    return found


def flip_signed_byte(pdf: bytes, *, nth: int = 0) -> bytes:
    """``pdf`` (made from ``vectors/pdf/form.pdf``) with the case of one letter of the
    first page's text changed (``nth`` letters after the start of the title): same
    length, still a valid PDF, inside every signature's first signed range."""
    at = pdf.index(b"(jukicard TEST") + 1 + nth
    out = bytearray(pdf)
    out[at] ^= 0x20
    return bytes(out)
