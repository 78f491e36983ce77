"""CMS SignedData (RFC 5652) verification for signatures made with a JPKI sign certificate.

Parsing is done with ``asn1crypto``; RSA with ``cryptography``.  Both attached and detached
content, with or without signed attributes:

* with signed attributes, ``contentType`` must equal the encapsulated content type,
  ``messageDigest`` must equal the hash of the content, ``signingTime`` is optional, and the
  signature covers the DER ``SET OF`` the attributes (the ``[0] IMPLICIT`` tag replaced by
  the universal SET tag, as RFC 5652 §5.4 says);
* without signed attributes the signature covers the content itself;
* the signed attributes are read strictly (:mod:`jukicard.pki.cmsattrs`: DER only, each type
  once, an ESS signing-certificate(-v2) attribute must name the signer certificate, which
  makes the SignerInfo CAdES-BES);
* the signature is RSA PKCS#1 v1.5 or RSASSA-PSS with strict parameters
  (:mod:`jukicard.pki.cmspss`); :attr:`CmsSigner.scheme` says which.

Unsigned attributes (counter-signatures, time-stamp tokens) are not needed to verify a
signature: their values are ignored (they must only be a well-formed SET OF Attribute),
except that the values of ``id-aa-signatureTimeStampToken`` are handed out raw
(:attr:`CmsSigner.timestamp_tokens`) for a caller that checks them.

:meth:`SignedData.verify_signers` judges every SignerInfo on its own (one result each: which
one is bad); :meth:`SignedData.verify` and :func:`verify_cms` raise the first failure.
:func:`verify_cms` checks every SignerInfo and, when given a validator, validates each signer
certificate (the caller's ``Validator``) at the time ``at``.
"""

from __future__ import annotations

import datetime as _dt
import hmac
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import cms as _cms
from asn1crypto import core as _core
from asn1crypto import pem as _pem
from cryptography import x509

from jukicard.errors import UsageError, ValidationError
from jukicard.pki.backend import load_x509_certificate
from jukicard.pki.certs import Certificate
from jukicard.pki.cmsattrs import MAX_SIGNED_ATTRIBUTES
from jukicard.pki.cmserrors import (
    MalformedCmsError,
    SignerCertificateMismatchError,
    SignerNotFoundError,
    UnsupportedCmsAlgorithmError,
)
from jukicard.pki.cmssigner import (
    CmsSigner,
    SignerOutcome,
    signers_or_raise,
    verify_signer_info,
)
from jukicard.pki.der import count_values
from jukicard.pki.signatures import (
    SignatureInvalidError,
    load_certificate,
)
from jukicard.pki.validate import Validator

__all__ = [
    "MAX_CMS_CERTIFICATES",
    "MAX_SIGNER_INFOS",
    "MalformedCmsError",
    "SignerNotFoundError",
    "SignerCertificateMismatchError",
    "UnsupportedCmsAlgorithmError",
    "CmsSigner",
    "CmsVerification",
    "SignerOutcome",
    "SignedData",
    "looks_like_cms",
    "verify_cms",
]

log = logging.getLogger(__name__)

#: The most SignerInfos a SignedData may carry (each costs a signature check and a path
#: validation; JPKI documents carry one, counter-signed forms a few).
MAX_SIGNER_INFOS = 16
#: The most certificates a SignedData may carry (they join the path-building pool).
MAX_CMS_CERTIFICATES = 256

@dataclass(frozen=True)
class CmsVerification:
    """Result of :func:`verify_cms`.

    :ivar content: the signed content (attached, or the detached content given).
    :ivar content_type: dotted OID or asn1crypto name of the encapsulated content type.
    :ivar signers: every SignerInfo, verified.
    :ivar certificates: all certificates carried in the CMS.
    :ivar validations: one validation result per signer when a validator was given.
    """

    content: bytes
    content_type: str
    signers: tuple[CmsSigner, ...]
    certificates: tuple[x509.Certificate, ...]
    validations: tuple[Any, ...] = field(default=())


def _unarmor(data: bytes) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise UsageError(f"CMS data must be bytes, not {type(data).__name__}")
    raw = bytes(data)
    if raw.lstrip().startswith(b"-----BEGIN"):
        try:
            _name, _headers, der = _pem.unarmor(raw.strip())
        except Exception as exc:  # asn1crypto raises ValueError on bad armor
            raise MalformedCmsError("PEM armor of the CMS is malformed") from exc
        return bytes(der)
    return raw


#: DER of the id-signedData OID (1.2.840.113549.1.7.2), the first field of its ContentInfo.
_SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")


def looks_like_cms(data: bytes) -> bool:
    """True when ``data`` (DER or PEM) is framed as a CMS ContentInfo of SignedData: a
    SEQUENCE whose first field is the id-signedData OID, or PEM armour labelled ``PKCS7`` or
    ``CMS``.  Whether the rest is well formed is
    :meth:`SignedData.parse`'s to say (a damaged or over-limit CMS is a malformed CMS, not a
    raw signature)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise UsageError(f"CMS data must be bytes, not {type(data).__name__}")
    head = bytes(data[:64]).lstrip()
    if head.startswith((b"-----BEGIN PKCS7", b"-----BEGIN CMS")):
        return True  # CMS armour: damaged base64 is a malformed CMS, not a raw signature
    try:
        der = _unarmor(data)
    except ValidationError:
        return False
    if der[:1] != b"\x30" or len(der) < 2:
        return False
    header = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)  # SEQUENCE tag + length octets
    return der[header:header + len(_SIGNED_DATA_OID)] == _SIGNED_DATA_OID


@dataclass(frozen=True)
class SignedData:
    """A parsed CMS SignedData.

    :ivar der: the whole ContentInfo, DER.
    :ivar content_type: encapsulated content type (asn1crypto name or dotted OID).
    :ivar content: encapsulated content, ``None`` when detached.
    :ivar certificates: parseable certificates from the ``certificates`` field.
    """

    der: bytes
    content_type: str
    content: bytes | None
    certificates: tuple[x509.Certificate, ...]
    _signed_data: Any = field(repr=False, compare=False)

    @classmethod
    def parse(cls, data: bytes) -> SignedData:
        """Parse a DER or PEM ContentInfo(SignedData).

        :raises MalformedCmsError: anything that is not a well-formed SignedData, or one
            with more than :data:`MAX_SIGNER_INFOS` SignerInfos or
            :data:`MAX_CMS_CERTIFICATES` certificates.
        """
        der = _unarmor(data)
        try:
            info = _cms.ContentInfo.load(der, strict=True)
            if info["content_type"].native != "signed_data":
                raise MalformedCmsError(
                    f"CMS content type is {info['content_type'].native!r}, not signed_data"
                )
            sd = info["content"]
            encap = sd["encap_content_info"]
            ctype = encap["content_type"].native
            econtent = encap["content"]
            content: bytes | None
            if econtent.native is None:
                content = None
            else:
                value = econtent.native
                content = value if isinstance(value, bytes) else econtent.contents
            certs: list[x509.Certificate] = []
            # counted on the raw bytes before asn1crypto builds an object per element
            certificates = sd["certificates"]
            if certificates.contents is not None and \
                    count_values(certificates.contents, MAX_CMS_CERTIFICATES) > \
                    MAX_CMS_CERTIFICATES:
                raise MalformedCmsError(f"CMS SignedData carries more than "
                                        f"{MAX_CMS_CERTIFICATES} certificates")
            if count_values(sd["signer_infos"].contents or b"", MAX_SIGNER_INFOS) > \
                    MAX_SIGNER_INFOS:
                raise MalformedCmsError(f"CMS SignedData has more than {MAX_SIGNER_INFOS} "
                                        "SignerInfos")
            for choice in sd["certificates"] or ():
                if choice.name != "certificate":
                    continue
                try:
                    certs.append(load_x509_certificate(choice.chosen.dump()))
                except ValueError:
                    log.debug("skipping an unparseable certificate in the CMS")
            # touch the signer infos so structural errors surface here, not later
            for si in sd["signer_infos"]:
                si["sid"].chosen.native  # noqa: B018
                si["digest_algorithm"]["algorithm"].native  # noqa: B018
                si["signature_algorithm"]["algorithm"].native  # noqa: B018
                si["signature"].native  # noqa: B018
                attrs = si["signed_attrs"]
                if not isinstance(attrs, _core.Void):
                    if count_values(attrs.contents or b"", MAX_SIGNED_ATTRIBUTES) > \
                            MAX_SIGNED_ATTRIBUTES:
                        raise MalformedCmsError(f"a SignerInfo has more than "
                                                f"{MAX_SIGNED_ATTRIBUTES} signed attributes")
                    for attr in attrs:
                        attr["type"].native  # noqa: B018
        except MalformedCmsError:
            raise
        except Exception as exc:  # asn1crypto: ValueError, TypeError, KeyError...
            raise MalformedCmsError("CMS SignedData could not be parsed") from exc
        return cls(der, str(ctype), content, tuple(certs), sd)

    def __bytes__(self) -> bytes:
        return self.der

    @property
    def signer_count(self) -> int:
        """How many SignerInfos the SignedData carries (counted, bounded, at parse time)."""
        return len(self._signed_data["signer_infos"])

    @property
    def detached(self) -> bool:
        """True when the content is not inside the CMS."""
        return self.content is None

    def verify_signers(
        self,
        *,
        detached_content: bytes | None = None,
        extra_certificates: Iterable[bytes | x509.Certificate] = (),
        min_key_size: int | None = None,
        allow_sha1: bool = False,
    ) -> tuple[SignerOutcome, ...]:
        """Judge every SignerInfo on its own: one :class:`SignerOutcome` each, in order
        (a bad one does not hide the others).  Arguments as :meth:`verify`.

        :raises UsageError: content missing for a detached CMS, or given twice.
        :raises MalformedCmsError: no SignerInfo.
        """
        if self.content is None and detached_content is None:
            raise UsageError("the CMS is detached: give the signed content")
        if self.content is not None and detached_content is not None:
            raise UsageError("the CMS already contains its content; do not give it twice")
        content = bytes(self.content if self.content is not None else detached_content or b"")
        candidates = list(self.certificates)
        for c in extra_certificates:
            cert = load_certificate(c)
            if cert not in candidates:
                candidates.append(cert)
        signer_infos = self._signed_data["signer_infos"]
        if len(signer_infos) == 0:
            raise MalformedCmsError("CMS SignedData has no SignerInfo")
        digests: dict[str, bytes] = {}  # the content is hashed once per digest algorithm
        outcomes = []
        for index, si in enumerate(signer_infos, 1):
            found: list[x509.Certificate] = []
            try:
                signer = verify_signer_info(si, self.content_type, content, candidates,
                                            min_key_size, allow_sha1, digests, found)
            except ValidationError as exc:
                outcomes.append(SignerOutcome(index, None, exc, found[0] if found else None))
            else:
                outcomes.append(SignerOutcome(index, signer, None, signer.certificate))
        return tuple(outcomes)

    def verify(
        self,
        *,
        detached_content: bytes | None = None,
        extra_certificates: Iterable[bytes | x509.Certificate] = (),
        min_key_size: int | None = None,
        allow_sha1: bool = False,
    ) -> CmsVerification:
        """Check every SignerInfo's signature (no certificate path validation); raise the
        first failure (:meth:`verify_signers` reports each).

        :param detached_content: the content, when the CMS is detached.
        :param extra_certificates: candidates for the signer certificate besides the CMS's.
        :param min_key_size: smallest accepted RSA modulus (bits), caller's policy.
        :param allow_sha1: accept SHA-1 digests (old data; PKCS#1 v1.5 only).
        :raises UsageError: content missing for a detached CMS, or given twice.
        :raises MalformedCmsError: required attribute missing or repeated, signed
            attributes not DER, no SignerInfo, odd RSASSA-PSS parameters.
        :raises SignerNotFoundError: no matching certificate for a SignerInfo.
        :raises SignerCertificateMismatchError: the ESS signing-certificate attribute names
            another certificate, or the signer certificate is ambiguous.
        :raises SignatureInvalidError: a digest or signature does not match.
        :raises UnsupportedCmsAlgorithmError: not RSA PKCS#1 v1.5 or RSASSA-PSS (SHA-2).
        """
        outcomes = self.verify_signers(detached_content=detached_content,
                                       extra_certificates=extra_certificates,
                                       min_key_size=min_key_size, allow_sha1=allow_sha1)
        return CmsVerification(bytes(self.content if self.content is not None
                                     else detached_content or b""),
                               self.content_type, signers_or_raise(outcomes),
                               self.certificates)

    def check_document(
        self,
        content: bytes,
        *,
        pinned: x509.Certificate | None = None,
        min_key_size: int | None = None,
        allow_sha1: bool = False,
        what: str = "the document",
        pinned_what: str = "the given certificate",
    ) -> tuple[SignerOutcome, ...]:
        """:meth:`verify_signers` against the document ``content`` (the detached content,
        or what an attached CMS must contain), optionally pinned to one signer certificate:
        one outcome per SignerInfo (one signed by another certificate than ``pinned`` fails
        with :class:`SignerNotFoundError`).

        :param what: the document's name in the message when it differs from the content.
        :param pinned_what: the pinned certificate's name in the message.
        :raises SignatureInvalidError: an attached CMS whose content differs from
            ``content`` (every SignerInfo is then beside the point).
        """
        extra = [] if pinned is None else [pinned]
        if self.detached:
            outcomes = self.verify_signers(detached_content=content, extra_certificates=extra,
                                           min_key_size=min_key_size, allow_sha1=allow_sha1)
        else:
            if not hmac.compare_digest(self.content or b"", content):
                raise SignatureInvalidError(f"{what} differs from the content in the CMS")
            outcomes = self.verify_signers(extra_certificates=extra,
                                           min_key_size=min_key_size, allow_sha1=allow_sha1)
        if pinned is None:
            return outcomes
        return tuple(
            o if o.signer is None or o.signer.certificate == pinned else
            SignerOutcome(o.index, None, SignerNotFoundError(
                f"SignerInfo #{o.index} is not signed by {pinned_what} (another "
                "certificate signed it)"), o.certificate)
            for o in outcomes)

    def verify_document(
        self,
        content: bytes,
        *,
        pinned: x509.Certificate | None = None,
        min_key_size: int | None = None,
        allow_sha1: bool = False,
        what: str = "the document",
    ) -> tuple[CmsVerification, list[x509.Certificate]]:
        """:meth:`check_document`, raising the first failure: what ``signature verify``
        did and the bulk path does with a CMS.

        :param pinned: every SignerInfo must be signed by this certificate.
        :param what: the document's name in the message when it differs from the content.
        :returns: the verification and the distinct signer certificates, in order.
        :raises SignatureInvalidError: the content differs, or a signature fails.
        :raises SignerNotFoundError: a SignerInfo signed by another certificate than
            ``pinned``; the errors of :meth:`verify`.
        """
        outcomes = self.check_document(content, pinned=pinned, min_key_size=min_key_size,
                                       allow_sha1=allow_sha1, what=what)
        found = signers_or_raise(outcomes)
        signers: list[x509.Certificate] = []
        for s in found:
            if s.certificate not in signers:
                signers.append(s.certificate)
        return CmsVerification(bytes(content), self.content_type, found,
                               self.certificates), signers

    # ----------------------------------------------------------------- internals
def _with_cms_intermediates(validator: Any, certs: Sequence[x509.Certificate]) -> Any:
    """A validator that also knows the certificates carried in the CMS as intermediates.

    Only for :class:`jukicard.pki.validate.Validator` (others are used as given); the
    caller's validator and its pool are not modified.
    """
    if not certs or type(validator) is not Validator:
        return validator
    extra = [Certificate.from_cryptography(c) for c in certs]
    pool = list(validator.pool)
    if all(c in validator.pool for c in extra):
        return validator
    return Validator(validator.policy, intermediates=pool + extra,
                     revocation=validator.revocation)


def verify_cms(
    data: bytes,
    *,
    detached_content: bytes | None = None,
    validator: Any = None,
    at: _dt.datetime | None = None,
    extra_certificates: Iterable[bytes | x509.Certificate] = (),
    min_key_size: int | None = None,
    allow_sha1: bool = False,
    raise_on_invalid: bool = True,
) -> CmsVerification:
    """Verify a CMS SignedData and, with a validator, each signer's certificate path.

    :param data: DER or PEM ContentInfo.
    :param detached_content: the signed content when the CMS is detached.
    :param validator: a :class:`jukicard.pki.validate.Validator` (or anything with
        ``validate(cert, at)`` returning a result with ``valid`` and ``raise_for_status()``);
        ``None`` = signatures only.  The certificates carried in the CMS are added as
        intermediates (to a copy of a jukicard ``Validator``).  The signer certificate is
        passed as a :class:`jukicard.pki.certs.Certificate`.
    :param at: validation time (aware UTC); default now.
    :param extra_certificates: more candidates for the signer certificate.
    :param min_key_size: smallest accepted RSA modulus (bits).
    :param allow_sha1: accept SHA-1 (old data).
    :param raise_on_invalid: raise the validation error of the first invalid signer path
        (default); with ``False`` the results are only returned in ``validations``.
    :raises MalformedCmsError: not a SignedData.
    :raises SignatureInvalidError: a signature or digest does not match.
    :raises ValidationError: (with a validator) a signer path is not valid.
    """
    signed = SignedData.parse(data)
    result = signed.verify(detached_content=detached_content,
                           extra_certificates=extra_certificates,
                           min_key_size=min_key_size, allow_sha1=allow_sha1)
    if validator is None:
        return result
    when = at or _dt.datetime.now(_dt.UTC)
    validator = _with_cms_intermediates(validator, signed.certificates)
    validations = []
    for signer in result.signers:
        vres = validator.validate(Certificate.from_cryptography(signer.certificate), when)
        validations.append(vres)
        if raise_on_invalid and not getattr(vres, "valid", False):
            vres.raise_for_status()
            raise ValidationError("signer certificate is not valid")  # pragma: no cover
    return CmsVerification(result.content, result.content_type, result.signers,
                           result.certificates, tuple(validations))
