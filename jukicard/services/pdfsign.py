"""Signed PDFs from the card: PAdES B-B (or B-T with a time-stamp authority) made with the
JPKI sign key (署名用電子証明書), through :func:`jukicard.pki.pades.build_pades`.

The one signature is made by the card (``80 2A 00 80``, :attr:`SignScheme.DIGEST_INFO`:
the card pads the DigestInfo the host built over the CMS signed attributes); no private
key leaves the card, and pyHanko's size-estimating dry run never reaches it.

Order (nothing costs a PIN that can fail without the card):

1. the arguments, the PDF and the field are checked (:func:`~jukicard.pki.pades.preflight`:
   a PDF that cannot be read, a field already signed, a page the PDF lacks);
2. with a TSA, one time-stamp is fetched for a dummy digest (a TSA that is down or
   answers nonsense fails here);
3. the sign CA certificate is read and the whole signing rehearsed with it and placeholder
   signatures (a PDF pyHanko reads but cannot sign fails here);
4. the sign password is asked once after a data-less status check and sent in exactly
   one VERIFY (it also opens the sign certificate, read next);
5. the card signs once, in the same card operation (one PC/SC transaction from the VERIFY
   to the signature, so that a shared connection keeps the password verified); the
   signature is checked against the certificate by the session and by the builder, and
   the signed PDF is read back and checked before it is returned.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from jukicard.card.crypto import HashAlg
from jukicard.card.detect import open_card
from jukicard.pki.pades import PdfStamp, build_pades, check_pdf, preflight
from jukicard.pki.tsaclient import DEFAULT_TSA_TIMEOUT, TsaClient
from jukicard.services.interaction import UserInteraction
from jukicard.services.pins import ask_pin
from jukicard.services.signing import card_key, digest_info_signer
from jukicard.services.sigresult import signer_json
from jukicard.services.verify import iso_time
from jukicard.transport.base import Transport

__all__ = ["PdfSignResult", "sign_pdf"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PdfSignResult:
    """A PDF signed with the card's sign key.

    :ivar pdf: the signed PDF (the input + one incremental update).
    :ivar field_name: the signature field signed.
    :ivar level: ``"B-B"`` or ``"B-T"``.
    :ivar hash_alg: ``"sha256"``...
    :ivar visible: a visible stamp was drawn.
    :ivar signing_time: the claimed signing time (not a trusted time).
    :ivar timestamp_time: the TSA's time (B-T), else ``None``.
    :ivar certificate: the sign certificate (DER).  NOTE: it holds name, address and birth
        date (and so does the signed PDF): none of it is shown in ``repr()``.
    :ivar signer_subject: the certificate's subject (RFC 4514 string; it names the
        holder's municipality: :meth:`to_json` describes the certificate instead, as
        ``signature verify --json`` does).
    """

    pdf: bytes = field(repr=False)
    field_name: str
    level: str
    hash_alg: str
    visible: bool
    signing_time: _dt.datetime
    timestamp_time: _dt.datetime | None
    certificate: bytes = field(repr=False)
    signer_subject: str = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """The summary ``jukicard sign --pdf --json`` prints (not the PDF itself)."""
        return {
            "key": "sign",
            "format": "pdf",
            "level": self.level,
            "hash": self.hash_alg,
            "field": self.field_name,
            "visible": self.visible,
            "signing_time": iso_time(self.signing_time),
            "timestamp_time": iso_time(self.timestamp_time),
            "size": len(self.pdf),
            # the same "signer" object as ``signature verify --json``: a JPKI sign
            # certificate is described (serial, fingerprint), its subject (the holder's
            # municipality) is not printed
            "signer": signer_json(x509.load_der_x509_certificate(self.certificate)),
        }


def sign_pdf(
    transport: Transport,
    interaction: UserInteraction,
    pdf_bytes: bytes,
    *,
    field_name: str | None = None,
    stamp: PdfStamp | None = None,
    tsa_url: str | None = None,
    tsa_timeout: float = DEFAULT_TSA_TIMEOUT,
    hash_name: str = "sha256",
    reason: str | None = None,
    location: str | None = None,
) -> PdfSignResult:
    """Sign a PDF with the card's sign key (PAdES); asks the sign password once.

    :param pdf_bytes: the PDF (at most :data:`jukicard.pki.pades.MAX_PDF_SIZE` bytes).
    :param field_name: an existing empty signature field, or the name of a new one;
        default a new field ``SignatureN``.
    :param stamp: a visible stamp (page, box, text); default an invisible signature.
    :param tsa_url: an ``http(s)://`` RFC 3161 time-stamp authority: PAdES B-T.
    :param tsa_timeout: socket timeout of each TSA exchange (seconds).
    :param hash_name: ``"sha256"`` (default), ``"sha384"`` or ``"sha512"``.
    :param reason: / :param location: optional texts put in the signature dictionary.
    :returns: the signed PDF and a summary.
    :raises UsageError: bad arguments, a field already signed, a page the PDF lacks
        (nothing sent, nobody asked).
    :raises MalformedPdfError: the PDF cannot be read or signed (nobody asked).
    :raises TimestampError: the TSA gave no usable token (before the PIN when it fails
        the probe; otherwise after the signature: nothing is returned).
    :raises PinError: / :raises PinBlockedError: wrong or blocked password (no PDF).
    :raises DataIntegrityError: the card's signature does not verify with the certificate
        it gave.
    :raises PdfSignatureCheckError: the signed PDF does not verify when read back.
    :raises TransportError: (or a subclass) the card went away.
    """
    data = check_pdf(pdf_bytes)
    alg = HashAlg.coerce(hash_name)
    # a TsaClient checks its URL and limits (UsageError) before anything is sent
    tsa = None if tsa_url is None else TsaClient(tsa_url, timeout=tsa_timeout)
    field_name = preflight(data, field_name=field_name, stamp=stamp)
    if tsa is not None:
        tsa.probe(alg.value)
    jpki = open_card(transport).jpki()
    refs = card_key(jpki, "sign")
    ca_der = jpki.read_certificate(refs.ca_certificate)
    # the whole pyHanko signing rehearsed with placeholder signatures (the CA certificate
    # stands in for the sign certificate, unreadable without the PIN): a PDF that pyHanko
    # reads but cannot sign fails here, before the PIN
    preflight(data, field_name=field_name, stamp=stamp, rehearse_with=ca_der,
              hash_name=alg.value)
    pin = ask_pin(jpki, refs.pin, interaction)
    # the VERIFY, the sign certificate and the signature in ONE card operation (between two
    # operations a connection that does not see all the card's traffic — PC/SC shared mode,
    # a caller's own transport — selects the AP again, which logs the password out); the
    # operation ends as soon as the card has signed: pyHanko's time-stamp request and the
    # read-back check run after it, with the card free
    with contextlib.ExitStack() as held:
        held.enter_context(jpki.channel.operation())
        cert_der = jpki.read_certificate(refs.certificate, pin)  # the one VERIFY
        card_sign = digest_info_signer(jpki, refs.key, None, alg, cert_der,
                                       "the PDF signer")

        def card_signer(block: bytes) -> bytes:
            signature = card_sign(block)
            held.close()  # the card's part is over
            return signature

        signed = build_pades(data, signer=card_signer, certificate=cert_der,
                             ca_certificates=[ca_der], hash_name=alg.value,
                             field_name=field_name, stamp=stamp, timestamper=tsa,
                             reason=reason, location=location)
    subject = x509.load_der_x509_certificate(cert_der).subject.rfc4514_string()
    log.info("signed a PDF with the sign key (PAdES %s, %s)", signed.level, alg.value)
    return PdfSignResult(signed.pdf, signed.field_name, signed.level, signed.hash_name,
                         signed.visible, signed.signing_time, signed.timestamp_time,
                         cert_der, subject)
