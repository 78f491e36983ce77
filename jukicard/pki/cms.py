"""CMS SignedData (RFC 5652) verification for signatures made with a JPKI sign certificate.

Parsing is done with ``asn1crypto``; RSA with ``cryptography``.  Both attached and detached
content, with or without signed attributes:

* with signed attributes, ``contentType`` must equal the encapsulated content type,
  ``messageDigest`` must equal the hash of the content, ``signingTime`` is optional, and the
  signature covers the DER ``SET OF`` the attributes (the ``[0] IMPLICIT`` tag replaced by
  the universal SET tag, as RFC 5652 §5.4 says);
* without signed attributes the signature covers the content itself.

:func:`verify_cms` checks every SignerInfo and, when given a validator, validates each signer
certificate (the caller's ``Validator``) at the time ``at``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import cms as _cms
from asn1crypto import pem as _pem
from asn1crypto import x509 as _ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from jukicard.errors import UsageError, ValidationError
from jukicard.pki.backend import (
    certificate_extensions,
    certificate_serial,
    load_x509_certificate,
)
from jukicard.pki.certs import Certificate
from jukicard.pki.der import count_values
from jukicard.pki.errors import MalformedError, PkiError, UnsupportedAlgorithmError
from jukicard.pki.reasons import Reason
from jukicard.pki.signatures import (
    HASHES,
    SignatureInvalidError,
    UnsupportedKeyError,
    WeakKeyError,
    hash_algorithm,
    load_certificate,
    rsa_public_key,
)
from jukicard.pki.validate import Validator

__all__ = [
    "MAX_CMS_CERTIFICATES",
    "MAX_SIGNER_INFOS",
    "MalformedCmsError",
    "SignerNotFoundError",
    "UnsupportedCmsAlgorithmError",
    "CmsSigner",
    "CmsVerification",
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

#: signatureAlgorithm values accepted in a SignerInfo (PKCS#1 v1.5 only: what the card does).
_RSA_SIG_ALGS: dict[str, str | None] = {
    "rsassa_pkcs1v15": None,
    "sha1_rsa": "sha1",
    "sha224_rsa": "sha224",
    "sha256_rsa": "sha256",
    "sha384_rsa": "sha384",
    "sha512_rsa": "sha512",
}


class MalformedCmsError(MalformedError):
    """The bytes are not a well-formed CMS SignedData (or a required attribute is missing)."""

    reason = Reason.MALFORMED_CMS


class SignerNotFoundError(PkiError):
    """No certificate in the CMS (or given by the caller) matches a SignerInfo."""

    reason = Reason.SIGNER_NOT_FOUND


class UnsupportedCmsAlgorithmError(UnsupportedAlgorithmError):
    """The SignerInfo uses an algorithm other than RSA PKCS#1 v1.5 with SHA-2 (or SHA-1)."""

    reason = Reason.UNSUPPORTED_ALGORITHM


@dataclass(frozen=True)
class CmsSigner:
    """One verified SignerInfo.

    :ivar certificate: the signer certificate.
    :ivar digest_algorithm: hash name (``"sha256"``...).
    :ivar signing_time: the signingTime attribute, if any (a claim by the signer, not a proof).
    :ivar signed_attributes: whether the signature covered signed attributes.
    :ivar weak_hash: SHA-1 was used (accepted only with ``allow_sha1``).
    """

    certificate: x509.Certificate
    digest_algorithm: str
    signing_time: _dt.datetime | None
    signed_attributes: bool
    key_size: int
    weak_hash: bool = False


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
                if si["signed_attrs"].native is not None:
                    for attr in si["signed_attrs"]:
                        attr["type"].native  # noqa: B018
        except MalformedCmsError:
            raise
        except Exception as exc:  # asn1crypto: ValueError, TypeError, KeyError...
            raise MalformedCmsError("CMS SignedData could not be parsed") from exc
        return cls(der, str(ctype), content, tuple(certs), sd)

    def __bytes__(self) -> bytes:
        return self.der

    @property
    def detached(self) -> bool:
        """True when the content is not inside the CMS."""
        return self.content is None

    def verify(
        self,
        *,
        detached_content: bytes | None = None,
        extra_certificates: Iterable[bytes | x509.Certificate] = (),
        min_key_size: int | None = None,
        allow_sha1: bool = False,
    ) -> CmsVerification:
        """Check every SignerInfo's signature (no certificate path validation).

        :param detached_content: the content, when the CMS is detached.
        :param extra_certificates: candidates for the signer certificate besides the CMS's.
        :param min_key_size: smallest accepted RSA modulus (bits), caller's policy.
        :param allow_sha1: accept SHA-1 digests (old data).
        :raises UsageError: content missing for a detached CMS, or given twice.
        :raises MalformedCmsError: required attribute missing or repeated, no SignerInfo.
        :raises SignerNotFoundError: no matching certificate for a SignerInfo.
        :raises SignatureInvalidError: a digest or signature does not match.
        :raises UnsupportedCmsAlgorithmError: not RSA PKCS#1 v1.5.
        """
        if self.content is None and detached_content is None:
            raise UsageError("the CMS is detached: give the signed content")
        if self.content is not None and detached_content is not None:
            raise UsageError("the CMS already contains its content; do not give it twice")
        content = bytes(self.content if self.content is not None else detached_content or b"")
        candidates = list(self.certificates) + [load_certificate(c) for c in extra_certificates]
        signer_infos = self._signed_data["signer_infos"]
        if len(signer_infos) == 0:
            raise MalformedCmsError("CMS SignedData has no SignerInfo")
        digests: dict[str, bytes] = {}  # the content is hashed once per digest algorithm
        signers = tuple(
            self._verify_signer(si, content, candidates, min_key_size, allow_sha1, digests)
            for si in signer_infos
        )
        return CmsVerification(content, self.content_type, signers, self.certificates)

    def verify_document(
        self,
        content: bytes,
        *,
        pinned: x509.Certificate | None = None,
        min_key_size: int | None = None,
        allow_sha1: bool = False,
        what: str = "the document",
    ) -> tuple[CmsVerification, list[x509.Certificate]]:
        """:meth:`verify` against the document ``content`` (the detached content, or what an
        attached CMS must contain), optionally pinned to one signer certificate: what
        ``signature verify`` and the bulk path both do with a CMS.

        :param pinned: every SignerInfo must be signed by this certificate.
        :param what: the document's name in the message when it differs from the content.
        :returns: the verification and the distinct signer certificates, in order.
        :raises SignatureInvalidError: the content differs, or a signature fails.
        :raises SignerNotFoundError: a SignerInfo signed by another certificate than
            ``pinned``; the errors of :meth:`verify`.
        """
        extra = [] if pinned is None else [pinned]
        if self.detached:
            res = self.verify(detached_content=content, extra_certificates=extra,
                              min_key_size=min_key_size, allow_sha1=allow_sha1)
        else:
            if not hmac.compare_digest(self.content or b"", content):
                raise SignatureInvalidError(f"{what} differs from the content in the CMS")
            res = self.verify(extra_certificates=extra, min_key_size=min_key_size,
                              allow_sha1=allow_sha1)
        signers: list[x509.Certificate] = []
        for i, s in enumerate(res.signers):
            if pinned is not None and s.certificate != pinned:
                raise SignerNotFoundError(f"SignerInfo #{i + 1} is not signed by the given "
                                          "certificate (another certificate signed it)")
            if s.certificate not in signers:
                signers.append(s.certificate)
        return res, signers

    # ----------------------------------------------------------------- internals
    def _verify_signer(
        self, si: Any, content: bytes, candidates: Sequence[x509.Certificate],
        min_key_size: int | None, allow_sha1: bool, digests: dict[str, bytes],
    ) -> CmsSigner:
        try:
            return self._verify_signer_inner(si, content, candidates, min_key_size, allow_sha1,
                                             digests)
        except ValidationError:
            raise
        except UsageError:
            raise
        except Exception as exc:  # asn1crypto lazily parses; a late parse error is malformed
            raise MalformedCmsError("SignerInfo could not be parsed") from exc

    def _verify_signer_inner(
        self, si: Any, content: bytes, candidates: Sequence[x509.Certificate],
        min_key_size: int | None, allow_sha1: bool, digests: dict[str, bytes],
    ) -> CmsSigner:
        digest_name = str(si["digest_algorithm"]["algorithm"].native)
        if digest_name not in HASHES:
            raise UnsupportedCmsAlgorithmError(f"digest algorithm {digest_name!r} not supported")
        sig_alg = str(si["signature_algorithm"]["algorithm"].native)
        if sig_alg not in _RSA_SIG_ALGS:
            raise UnsupportedCmsAlgorithmError(f"signature algorithm {sig_alg!r} not supported")
        implied = _RSA_SIG_ALGS[sig_alg]
        if implied is not None and implied != digest_name:
            raise MalformedCmsError(
                f"signature algorithm {sig_alg} does not match digest algorithm {digest_name}"
            )
        algo = hash_algorithm(digest_name, allow_sha1=allow_sha1)
        cert = _find_signer(si["sid"], candidates)
        try:
            key = rsa_public_key(certificate=cert)
        except UnsupportedKeyError as exc:
            raise UnsupportedCmsAlgorithmError(str(exc)) from exc
        if min_key_size is not None and key.key_size < min_key_size:
            raise WeakKeyError(
                f"signer RSA key of {key.key_size} bits is below the {min_key_size}-bit minimum"
            )

        content_digest = digests.get(digest_name)
        if content_digest is None:
            content_digest = digests[digest_name] = hashlib.new(digest_name, content).digest()
        signed_attrs = si["signed_attrs"]
        signing_time: _dt.datetime | None = None
        if signed_attrs.native is not None and len(signed_attrs) > 0:
            values: dict[str, list[Any]] = {}
            for attr in signed_attrs:
                values.setdefault(str(attr["type"].native), []).extend(attr["values"])
            for required in ("content_type", "message_digest"):
                if len(values.get(required, [])) != 1:
                    raise MalformedCmsError(
                        f"signed attribute {required} must be present exactly once"
                    )
            if str(values["content_type"][0].native) != self.content_type:
                raise SignatureInvalidError(
                    "signed contentType attribute does not match the content type"
                )
            md = values["message_digest"][0].native
            if not isinstance(md, bytes) or not hmac.compare_digest(md, content_digest):
                raise SignatureInvalidError("messageDigest does not match the content")
            if "signing_time" in values:
                if len(values["signing_time"]) != 1:
                    raise MalformedCmsError("signingTime must have exactly one value")
                signing_time = values["signing_time"][0].native
            signed_bytes = signed_attrs.untag().dump()
            has_attrs = True
        else:
            if self.content_type != "data":
                raise MalformedCmsError("signed attributes are required for non-data content")
            signed_bytes = content
            has_attrs = False

        signature = si["signature"].native
        if len(signature) != (key.key_size + 7) // 8:
            raise SignatureInvalidError("signature length does not match the signer key")
        try:
            key.verify(signature, signed_bytes, padding.PKCS1v15(), algo)
        except InvalidSignature as exc:
            raise SignatureInvalidError("CMS signature does not verify") from exc
        if digest_name == "sha1":
            log.warning("CMS signature with SHA-1 accepted (old data)")
        return CmsSigner(cert, digest_name, signing_time, has_attrs, key.key_size,
                         weak_hash=digest_name == "sha1")


def _find_signer(sid: Any, candidates: Sequence[x509.Certificate]) -> x509.Certificate:
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"]
        serial = sid.chosen["serial_number"].native
        for cert in candidates:
            if certificate_serial(cert) != serial:
                continue
            try:
                asn_cert = _ax509.Certificate.load(cert.public_bytes(Encoding.DER))
                if asn_cert.issuer == issuer:
                    return cert
            except Exception:  # noqa: BLE001 - unusable candidate, try the next
                continue
    elif sid.name == "subject_key_identifier":
        ski = sid.chosen.native
        for cert in candidates:
            try:
                ext = certificate_extensions(cert).get_extension_for_class(
                    x509.SubjectKeyIdentifier)
            except (x509.ExtensionNotFound, ValueError):
                continue
            if ext.value.digest == ski:
                return cert
    raise SignerNotFoundError("no certificate matches the SignerInfo")


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
