"""Signed documents from the card: a CMS SignedData (RFC 5652, CAdES-BES attributes) made
with the JPKI sign key (a document) or auth key (a login challenge).

The CMS is built by :func:`jukicard.pki.cmsbuild.build_signed_data`; its one signature is
made by the card, in the card scheme the CMS signature algorithm needs:

* ``scheme="pkcs1v15"`` (default): ``80 2A 00 80``, :attr:`SignScheme.DIGEST_INFO` — the
  card pads the DigestInfo the host built over the signed attributes (SHA-256/384/512);
* ``scheme="pss"``: ``80 2A 04 80``, :attr:`SignScheme.PSS_DIGEST` — the card makes an
  RSASSA-PSS signature of the SHA-256 hash of the signed attributes (SHA-256 only; the
  salt length the card used is found from the signature and declared in the SignerInfo).

No private key leaves the card.

PIN: asked once per call through the caller's interaction, after a data-less status check
(a blocked PIN is never asked), and sent in exactly one VERIFY:

* auth key: the auth certificate and its CA are read first (no PIN needed), then VERIFY +
  COMPUTE DIGITAL SIGNATURE in one transaction;
* sign key: the sign CA is read first; the sign certificate needs the password, so it is
  read right after the one VERIFY, and the signature follows without a second VERIFY in
  the same card operation (one PC/SC transaction: on a shared connection a new one would
  select the AP again and log the password out).

The signature is checked twice before anything is returned: by the session against the
certificate it reads, and by the builder against the certificate in the CMS (the two must
be the same certificate).
"""

from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from jukicard.card.crypto import HashAlg
from jukicard.card.detect import open_card
from jukicard.card.signscheme import SignScheme
from jukicard.errors import UsageError
from jukicard.pki.cmsbuild import SigningScheme, build_signed_data
from jukicard.services.interaction import UserInteraction
from jukicard.services.pins import ask_pin
from jukicard.services.signing import KEY_IDS, _as_bytes, card_key, digest_info_signer
from jukicard.services.sigresult import signer_json
from jukicard.transport.base import Transport

__all__ = ["CMS_SCHEMES", "CmsSignResult", "sign_cms"]

#: ``scheme=`` of :func:`sign_cms`: the CMS signature algorithm, the builder's scheme and
#: the card's (P1 of COMPUTE DIGITAL SIGNATURE).
CMS_SCHEMES: dict[str, tuple[SigningScheme, SignScheme]] = {
    "pkcs1v15": (SigningScheme.PKCS1V15_DIGEST_INFO, SignScheme.DIGEST_INFO),
    "pss": (SigningScheme.PSS_SHA256_DIGEST, SignScheme.PSS_DIGEST),
}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CmsSignResult:
    """A CMS SignedData made with a card key.

    :ivar key: ``"sign"`` or ``"auth"``.
    :ivar hash_alg: ``"sha256"``...
    :ivar attached: the content is inside the CMS.
    :ivar scheme: ``"pkcs1v15"`` or ``"pss"``.
    :ivar cms: the DER ContentInfo (already verified).
    :ivar certificate: the signer certificate (DER).  NOTE: the sign certificate (and so
        the subject and the CMS itself) holds personal data: none is shown in ``repr()``.
    :ivar signer_subject: the signer certificate's subject (RFC 4514 string; for the sign
        certificate it names the holder's municipality: :meth:`to_json` describes the
        certificate instead, as ``signature verify --json`` does).
    """

    key: str
    hash_alg: str
    attached: bool
    cms: bytes = field(repr=False)
    certificate: bytes = field(repr=False)
    signer_subject: str = field(repr=False)
    scheme: str = "pkcs1v15"

    def to_json(self) -> dict[str, Any]:
        """The summary ``jukicard sign --cms --json`` prints (not the CMS itself)."""
        return {
            "key": self.key,
            "hash": self.hash_alg,
            "attached": self.attached,
            "scheme": self.scheme,
            "size": len(self.cms),
            # the same "signer" object as ``signature verify --json``: a JPKI sign
            # certificate is described (serial, fingerprint), its subject (the holder's
            # municipality) is not printed
            "signer": signer_json(x509.load_der_x509_certificate(self.certificate)),
        }


def sign_cms(
    transport: Transport,
    interaction: UserInteraction,
    content: bytes,
    *,
    key: str = "sign",
    attached: bool = False,
    hash_name: str = "sha256",
    signing_time: _dt.datetime | None = None,
    scheme: str = "pkcs1v15",
) -> CmsSignResult:
    """Sign ``content`` into a CMS SignedData with a card key; asks the key's PIN once.

    :param content: the document, or the caller's challenge (nonce) for the auth key.
    :param key: ``"sign"`` (署名用, documents; default) or ``"auth"`` (利用者証明用, a
        login challenge).
    :param attached: put the content inside the CMS (default: detached).
    :param hash_name: ``sha256`` (default), ``sha384`` or ``sha512``.
    :param signing_time: the signingTime attribute (aware); default now.
    :param scheme: ``"pkcs1v15"`` (default; card P1 ``00``) or ``"pss"`` (RSASSA-PSS;
        card P1 ``04``; SHA-256 only).
    :returns: the CMS and a summary.
    :raises UsageError: unknown key/hash/scheme, ``pss`` with another hash than SHA-256,
        ``content`` not bytes (nothing sent, nobody asked).
    :raises PinError: / :raises PinBlockedError: wrong or blocked PIN (no CMS).
    :raises BadResponse: a certificate on the card is unusable.
    :raises DataIntegrityError: the card's signature does not verify, or the card gave a
        different certificate for the signature than the one in the CMS.
    :raises CmsSignerOutputError: the signature does not verify inside the CMS.
    :raises TransportError: (or a subclass) the card went away.
    """
    content = _as_bytes(content, "content")
    if not isinstance(key, str) or key not in KEY_IDS:
        raise UsageError(f"unknown key; use one of {', '.join(KEY_IDS)}")
    alg = HashAlg.coerce(hash_name)
    if not isinstance(attached, bool):
        raise UsageError("attached must be True or False")
    if not isinstance(scheme, str) or scheme not in CMS_SCHEMES:
        raise UsageError(f"unknown CMS scheme; use one of {', '.join(CMS_SCHEMES)}")
    build_scheme, card_scheme = CMS_SCHEMES[scheme]
    if build_scheme.pss and alg is not HashAlg.SHA256:
        raise UsageError(f"the card's PSS signs SHA-256 hashes only, not {alg.value}")
    jpki = open_card(transport).jpki()
    refs = card_key(jpki, key)
    ca_der = jpki.read_certificate(refs.ca_certificate)
    cert_needs_pin = refs.key.value.cert.pin is not None
    cert_der = None if cert_needs_pin else jpki.read_certificate(refs.certificate)
    pin: str | None = ask_pin(jpki, refs.pin, interaction)
    # the VERIFY, the sign certificate and the signature in ONE card operation: between
    # two operations a connection that does not see all the card's traffic (PC/SC shared
    # mode, a caller's own transport) selects the AP again, which logs the password out
    with jpki.channel.operation():
        if cert_der is None:  # the sign certificate: read after the one VERIFY
            cert_der = jpki.read_certificate(refs.certificate, pin)
            pin = None  # verified in this selection; never sent twice

        card_signer = digest_info_signer(jpki, refs.key, pin, alg, cert_der,
                                         "the CMS builder")
        if build_scheme.pss:
            def pss_signer(block: bytes) -> bytes:  # the SHA-256 hash of the attributes
                # checked against the certificate already read (and put in the CMS): a
                # card swapped since then signs with another key: DataIntegrityError
                signature, _cert = jpki.sign_with_certificate(
                    refs.key, pin, digest=block, hash_alg=alg, scheme=card_scheme,
                    certificate=cert_der)
                return bytes(signature)
            card_signer = pss_signer

        cms = build_signed_data(content, signer=card_signer, certificate=cert_der,
                                ca_certificates=[ca_der],
                                scheme=build_scheme, hash_name=alg.value,
                                attached=attached, signing_time=signing_time)
    subject = x509.load_der_x509_certificate(cert_der).subject.rfc4514_string()
    log.info("made a CMS (%s, %s, %s key, %s)", scheme, alg.value, key,
             "attached" if attached else "detached")
    return CmsSignResult(key, alg.value, attached, cms, cert_der, subject, scheme)
