"""One SignerInfo of a CMS SignedData, verified (RFC 5652 §5.3–5.6): the work behind
:meth:`jukicard.pki.cms.SignedData.verify_signers`.

For each SignerInfo: the digest and signature algorithms (RSA PKCS#1 v1.5, or RSASSA-PSS
with the strict parameters of :mod:`jukicard.pki.cmspss`), the signed attributes
(:mod:`jukicard.pki.cmsattrs`: DER, each once, ``contentType`` and ``messageDigest``
checked), the signer certificate (by identifier, and by the ESS signing-certificate
attribute when there is one), the key size, the signature.  Import the classes from
:mod:`jukicard.pki.cms`.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import core as _core
from asn1crypto import x509 as _ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from jukicard.errors import UsageError, ValidationError
from jukicard.pki.backend import certificate_extensions, certificate_serial
from jukicard.pki.cmsattrs import (
    MAX_SIGNED_ATTRIBUTES,
    names_equal,
    signed_attribute_values,
    signed_attributes_der,
    signing_certificate_match,
)
from jukicard.pki.cmserrors import (
    MalformedCmsError,
    SignerCertificateMismatchError,
    SignerNotFoundError,
    UnsupportedCmsAlgorithmError,
)
from jukicard.pki.cmspss import PssParameters
from jukicard.pki.der import count_values
from jukicard.pki.signatures import (
    HASHES,
    SignatureInvalidError,
    UnsupportedKeyError,
    WeakKeyError,
    hash_algorithm,
    rsa_public_key,
)

__all__ = ["CmsSigner", "SignerOutcome", "RSA_SIG_ALGS", "verify_signer_info",
           "signers_or_raise"]

log = logging.getLogger(__name__)

#: PKCS#1 v1.5 signatureAlgorithm values accepted in a SignerInfo, and the hash each
#: implies (RSASSA-PSS, ``rsassa_pss``, is read by :class:`~jukicard.pki.cmspss.PssParameters`).
RSA_SIG_ALGS: dict[str, str | None] = {
    "rsassa_pkcs1v15": None,
    "sha1_rsa": "sha1",
    "sha224_rsa": "sha224",
    "sha256_rsa": "sha256",
    "sha384_rsa": "sha384",
    "sha512_rsa": "sha512",
}


@dataclass(frozen=True)
class CmsSigner:
    """One verified SignerInfo.

    :ivar certificate: the signer certificate.
    :ivar digest_algorithm: hash name (``"sha256"``...).
    :ivar signing_time: the signingTime attribute, if any (a claim by the signer, not a proof).
    :ivar signed_attributes: whether the signature covered signed attributes.
    :ivar weak_hash: SHA-1 was used (accepted only with ``allow_sha1``).
    :ivar scheme: ``"pkcs1v15"`` or ``"pss"`` (RSASSA-PSS).
    :ivar salt_length: the declared (and checked) PSS salt length; ``None`` for PKCS#1 v1.5.
    :ivar cades_bes: an ESS signing-certificate(-v2) signed attribute names the signer
        certificate (and matched it).
    :ivar signature: the signature value (what a signature time-stamp covers).
    :ivar timestamp_tokens: DER of each ``id-aa-signatureTimeStampToken`` value in the
        unsigned attributes, unchecked (``()`` when none).
    """

    certificate: x509.Certificate
    digest_algorithm: str
    signing_time: _dt.datetime | None
    signed_attributes: bool
    key_size: int
    weak_hash: bool = False
    scheme: str = "pkcs1v15"
    salt_length: int | None = None
    cades_bes: bool = False
    signature: bytes = field(default=b"", repr=False)
    timestamp_tokens: tuple[bytes, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class SignerOutcome:
    """The verdict on one SignerInfo (:meth:`SignedData.verify_signers`).

    :ivar index: 1-based position of the SignerInfo.
    :ivar signer: the verified signer, ``None`` when the SignerInfo failed.
    :ivar error: why it failed (a typed jukicard error), ``None`` when it verified.
    :ivar certificate: the signer certificate when one was found (also on failure).
    """

    index: int
    signer: CmsSigner | None
    error: ValidationError | None
    certificate: x509.Certificate | None

    @property
    def valid(self) -> bool:
        """True when the SignerInfo verified."""
        return self.error is None


def verify_signer_info(
    si: Any, content_type: str, content: bytes, candidates: Sequence[x509.Certificate],
    min_key_size: int | None, allow_sha1: bool, digests: dict[str, bytes],
    found: list[x509.Certificate],
) -> CmsSigner:
    try:
        return _verify_signer_inner(si, content_type, content, candidates, min_key_size, allow_sha1,
                                         digests, found)
    except ValidationError:
        raise
    except UsageError:
        raise
    except Exception as exc:  # asn1crypto lazily parses; a late parse error is malformed
        raise MalformedCmsError("SignerInfo could not be parsed") from exc

def _verify_signer_inner(
    si: Any, content_type: str, content: bytes, candidates: Sequence[x509.Certificate],
    min_key_size: int | None, allow_sha1: bool, digests: dict[str, bytes],
    found: list[x509.Certificate],
) -> CmsSigner:
    # RFC 5652 §5.3: version 1 with issuerAndSerialNumber, 3 with subjectKeyIdentifier
    expected = "v1" if si["sid"].name == "issuer_and_serial_number" else "v3"
    if si["version"].native != expected:
        raise MalformedCmsError(f"SignerInfo version {si['version'].native} does not match "
                                "its signer identifier")
    digest_name = str(si["digest_algorithm"]["algorithm"].native)
    if digest_name not in HASHES:
        raise UnsupportedCmsAlgorithmError(f"digest algorithm {digest_name!r} not supported")
    sig_alg = str(si["signature_algorithm"]["algorithm"].native)
    pss = sig_alg == "rsassa_pss"
    if not pss and sig_alg not in RSA_SIG_ALGS:
        raise UnsupportedCmsAlgorithmError(f"signature algorithm {sig_alg!r} not supported")
    implied = None if pss else RSA_SIG_ALGS[sig_alg]
    if implied is not None and implied != digest_name:
        raise MalformedCmsError(
            f"signature algorithm {sig_alg} does not match digest algorithm {digest_name}"
        )
    algo = hash_algorithm(digest_name, allow_sha1=allow_sha1 and not pss)

    content_digest = digests.get(digest_name)
    if content_digest is None:
        content_digest = digests[digest_name] = hashlib.new(digest_name, content).digest()
    signed_attrs = si["signed_attrs"]
    signing_time: _dt.datetime | None = None
    values: dict[str, list[Any]] | None = None
    if not isinstance(signed_attrs, _core.Void):
        values = signed_attribute_values(signed_attrs)  # counted, then parsed
        signed_bytes = signed_attributes_der(signed_attrs)
        if str(values["content_type"][0].native) != content_type:
            raise SignatureInvalidError(
                "signed contentType attribute does not match the content type"
            )
        md = values["message_digest"][0].native
        if not isinstance(md, bytes) or not hmac.compare_digest(md, content_digest):
            raise SignatureInvalidError("messageDigest does not match the content")
        if "signing_time" in values:
            signing_time = values["signing_time"][0].native
    else:
        if content_type != "data":
            raise MalformedCmsError("signed attributes are required for non-data content")
        signed_bytes = content

    cert, cades_bes = _select_signer(si["sid"], candidates, values)
    found.append(cert)
    try:
        key = rsa_public_key(certificate=cert)
    except UnsupportedKeyError as exc:
        raise UnsupportedCmsAlgorithmError(str(exc)) from exc
    if min_key_size is not None and key.key_size < min_key_size:
        raise WeakKeyError(
            f"signer RSA key of {key.key_size} bits is below the {min_key_size}-bit minimum"
        )
    params = PssParameters.parse(si["signature_algorithm"], digest_name, key.key_size) \
        if pss else None
    signature = si["signature"].native
    if len(signature) != (key.key_size + 7) // 8:
        raise SignatureInvalidError("signature length does not match the signer key")
    try:
        key.verify(signature, signed_bytes,
                   padding.PKCS1v15() if params is None else params.padding(), algo)
    except InvalidSignature as exc:
        raise SignatureInvalidError("CMS signature does not verify") from exc
    if digest_name == "sha1":
        log.warning("CMS signature with SHA-1 accepted (old data)")
    return CmsSigner(cert, digest_name, signing_time, values is not None, key.key_size,
                     weak_hash=digest_name == "sha1", scheme="pss" if pss else "pkcs1v15",
                     salt_length=None if params is None else params.salt_length,
                     cades_bes=cades_bes,
                     signature=bytes(signature), timestamp_tokens=_timestamp_tokens(si))


#: id-aa-signatureTimeStampToken (RFC 3161 Appendix A), an unsigned attribute.
_SIGNATURE_TIMESTAMP = "1.2.840.113549.1.9.16.2.14"


def _timestamp_tokens(si: Any) -> tuple[bytes, ...]:
    """DER of each signature time-stamp token in the unsigned attributes (unchecked).

    The unsigned attributes must be a well-formed SET OF Attribute (at most
    :data:`~jukicard.pki.cmsattrs.MAX_SIGNED_ATTRIBUTES`); their values are not interpreted.

    :raises MalformedCmsError: they are not.
    """
    unsigned = si["unsigned_attrs"]
    if isinstance(unsigned, _core.Void):
        return ()
    if count_values(unsigned.contents or b"", MAX_SIGNED_ATTRIBUTES) > MAX_SIGNED_ATTRIBUTES:
        raise MalformedCmsError(f"more than {MAX_SIGNED_ATTRIBUTES} unsigned attributes")
    tokens: list[bytes] = []
    for attr in unsigned:
        count_values(attr["values"].contents or b"", 1)  # a well-formed SET of values
        if attr["type"].dotted == _SIGNATURE_TIMESTAMP:
            tokens.extend(value.dump() for value in attr["values"])
    return tuple(tokens)


def signers_or_raise(outcomes: Sequence[SignerOutcome]) -> tuple[CmsSigner, ...]:
    """The signers of ``outcomes``, or the error of the first one that failed."""
    for o in outcomes:
        if o.error is not None:
            raise o.error
    return tuple(o.signer for o in outcomes if o.signer is not None)


def _select_signer(sid: Any, candidates: Sequence[x509.Certificate],
                   values: dict[str, list[Any]] | None) -> tuple[x509.Certificate, bool]:
    """The signer certificate of a SignerInfo, and whether an ESS signing-certificate
    attribute named it (CAdES-BES).

    Among the candidates the identifier matches, the one the ESS attribute names; without
    that attribute, the only one.

    :raises SignerNotFoundError: no candidate matches the identifier.
    :raises SignerCertificateMismatchError: the attribute names none of them; several
        different ones match and no attribute says which.
    """
    matches = _find_signers(sid, candidates)
    if not matches:
        raise SignerNotFoundError("no certificate matches the SignerInfo")
    if values is not None and ("signing_certificate_v2" in values
                               or "signing_certificate" in values):
        mismatch: SignerCertificateMismatchError | None = None
        for cert in matches:
            try:
                signing_certificate_match(values, cert.public_bytes(Encoding.DER))
            except SignerCertificateMismatchError as exc:
                mismatch = exc
                continue
            return cert, True
        assert mismatch is not None
        raise mismatch
    if len(matches) > 1:
        raise SignerCertificateMismatchError(
            f"{len(matches)} different certificates match the SignerInfo's identifier and "
            "no signing-certificate attribute says which one signed")
    return matches[0], False


def _find_signers(sid: Any, candidates: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """Every candidate the SignerInfo's identifier matches (issuer and serial, or SKI)."""
    out: list[x509.Certificate] = []
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"]
        serial = sid.chosen["serial_number"].native
        for cert in candidates:
            if certificate_serial(cert) != serial:
                continue
            try:
                asn_cert = _ax509.Certificate.load(cert.public_bytes(Encoding.DER))
                if names_equal(asn_cert.issuer, issuer):
                    out.append(cert)
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
                out.append(cert)
    return out
