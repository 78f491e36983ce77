"""CMS SignedData (RFC 5652) *building*, CAdES-BES shaped, with a caller-supplied signer.

The private key never comes here: the caller gives a :class:`CmsSigner`-like callable
(``sign(block) -> signature``) and declares its :class:`SigningScheme`.  The card session
plugs in later by passing a function that sends the block to the card; the tests pass a
software key.  This module imports no card code.

What is built (one SignerInfo, ``issuerAndSerialNumber``, version 1):

* ``encapContentInfo`` of type ``data``, the content inside (attached) or absent (detached);
* signed attributes ``contentType``, ``messageDigest``, ``signingTime`` and ESS
  ``signingCertificateV2`` (RFC 5035: SHA-256 of the signer certificate + issuerSerial),
  which CAdES-BES (ETSI EN 319 122-1) requires;
* the signature over the DER ``SET OF`` those attributes (RFC 5652 §5.4): RSA PKCS#1 v1.5
  (``signatureAlgorithm`` rsaEncryption) or RSASSA-PSS (``id-RSASSA-PSS`` with explicit
  parameters: SHA-256, MGF1-SHA-256, the salt length the signature was made with, trailer 1;
  :mod:`jukicard.pki.cmspss`), as the :class:`SigningScheme` says;
* the signer certificate and its CA certificates in ``certificates``.

Before any byte is returned the signature is checked against the signer certificate, and the
finished structure is read back by :class:`jukicard.pki.cms.SignedData` and verified: a
signer that returns a wrong signature raises :class:`CmsSignerOutputError`, nothing is
returned.
"""

from __future__ import annotations

import datetime as _dt
import enum
import hashlib
from collections.abc import Callable, Iterable

from asn1crypto import algos as _algos
from asn1crypto import cms as _cms
from asn1crypto import core as _core
from asn1crypto import tsp as _tsp  # registers signing_certificate_v2 (RFC 5035) in cms
from asn1crypto import x509 as _ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from jukicard.errors import JukiError, UsageError
from jukicard.pki.cms import MAX_CMS_CERTIFICATES, SignedData
from jukicard.pki.cmspss import PssParameters, find_salt_length
from jukicard.pki.cmssigner import RSA_SIG_ALGS
from jukicard.pki.errors import PkiError
from jukicard.pki.signatures import (
    SIGNING_HASHES,
    SignatureInvalidError,
    build_digest_info,
    hash_algorithm,
    load_certificate,
    rsa_public_key,
)

__all__ = [
    "CmsSignerFailedError",
    "CmsSignerOutputError",
    "RawSigner",
    "SigningScheme",
    "build_signed_data",
    "sign_signed_attributes",
]

#: The callable that makes the signature: ``sign(block) -> signature``.  What ``block`` is
#: depends on the declared :class:`SigningScheme`.
RawSigner = Callable[[bytes], bytes]

#: signatureAlgorithm written in the SignerInfo for PKCS#1 v1.5: rsaEncryption, as RFC 3370
#: §3.2 recommends (the digest is named in digestAlgorithm); one the verifier accepts.
_PKCS1V15_SIG_ALG = "rsassa_pkcs1v15"
assert _PKCS1V15_SIG_ALG in RSA_SIG_ALGS


class SigningScheme(enum.Enum):
    """What the caller's signer receives and returns.

    ``PKCS1V15_DIGEST_INFO``: the signer receives the DER ``DigestInfo`` (RFC 8017 §9.2)
    the host built over the signed attributes, and returns the RSA PKCS#1 v1.5 (type 01)
    signature of exactly that block: what the JPKI card does with host hashing (P1 ``00``).

    ``PSS_SHA256_DIGEST``: the signer receives the 32-byte SHA-256 hash of the DER signed
    attributes and returns an RSASSA-PSS signature of it (SHA-256, MGF1-SHA-256): what the
    card's P1 ``04`` (``PSS_DIGEST``) does.  SHA-256 only.  The salt length is not declared
    by the signer (a real card's is unknown: SIGN-1); it is found from the signature
    (:func:`~jukicard.pki.cmspss.find_salt_length`) and written in the SignerInfo, and a
    signature no salt length verifies is refused.
    """

    PKCS1V15_DIGEST_INFO = "pkcs1v15-digest-info"
    PSS_SHA256_DIGEST = "pss-sha256-digest"

    @property
    def pss(self) -> bool:
        """True for RSASSA-PSS."""
        return self is SigningScheme.PSS_SHA256_DIGEST


class CmsSignerFailedError(PkiError):
    """The caller's signer raised something other than a jukicard error."""


class CmsSignerOutputError(SignatureInvalidError):
    """The signature the caller's signer returned does not verify with the signer
    certificate (wrong key, wrong card, damaged answer); no CMS was produced."""


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _signing_time_value(when: _dt.datetime) -> _cms.Time:
    if when.tzinfo is None:
        raise UsageError("signing_time must be timezone-aware")
    when = when.astimezone(_dt.UTC).replace(microsecond=0)
    # RFC 5652 §11.3: UTCTime for 1950-2049, GeneralizedTime otherwise
    if 1950 <= when.year < 2050:
        return _cms.Time({"utc_time": when})
    return _cms.Time({"generalized_time": when})


def _ess_signing_certificate_v2(cert: _ax509.Certificate) -> _tsp.SigningCertificateV2:
    """ESS signingCertificateV2 (RFC 5035 §3): SHA-256 (the default, so not written) of the
    signer certificate and its issuer + serial."""
    issuer_serial = _tsp.IssuerSerial({
        "issuer": _ax509.GeneralNames([_ax509.GeneralName(name="directory_name",
                                                          value=cert.issuer)]),
        "serial_number": cert.serial_number,
    })
    cert_id = _tsp.ESSCertIDv2({
        "cert_hash": hashlib.sha256(cert.dump()).digest(),
        "issuer_serial": issuer_serial,
    })
    return _tsp.SigningCertificateV2({"certs": [cert_id]})


def _signed_attributes(content_digest: bytes, cert: _ax509.Certificate,
                       signing_time: _dt.datetime) -> _cms.CMSAttributes:
    attrs = [
        _cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
        _cms.CMSAttribute({"type": "message_digest", "values": [content_digest]}),
        _cms.CMSAttribute({"type": "signing_time",
                           "values": [_signing_time_value(signing_time)]}),
        _cms.CMSAttribute({"type": "signing_certificate_v2",
                           "values": [_ess_signing_certificate_v2(cert)]}),
    ]
    # DER SET OF: elements in ascending order of their encodings (X.690 §11.6); verifiers
    # that re-encode the attributes (OpenSSL) would otherwise hash other bytes
    return _cms.CMSAttributes(sorted(attrs, key=lambda a: a.dump()))


def _call_signer(signer: RawSigner, block: bytes) -> bytes:
    try:
        signature = signer(block)
    except JukiError:
        raise  # the card's own typed errors (PIN, security status...) pass unchanged
    except Exception as exc:  # a caller's callable: anything may come out
        raise CmsSignerFailedError(
            f"the signer failed ({type(exc).__name__})") from exc
    if not isinstance(signature, (bytes, bytearray, memoryview)):
        raise CmsSignerOutputError(
            f"the signer returned {type(signature).__name__}, not bytes")
    return bytes(signature)


def sign_signed_attributes(attrs: _cms.CMSAttributes, hash_name: str, signer: RawSigner,
                           scheme: SigningScheme, cert: x509.Certificate
                           ) -> tuple[bytes, _algos.SignedDigestAlgorithm]:
    """Have the caller sign the DER SET OF ``attrs``, check the result with ``cert``;
    returns the signature and the SignerInfo's ``signatureAlgorithm``."""
    key = rsa_public_key(certificate=cert)
    algo = hash_algorithm(hash_name)
    signed_bytes = attrs.dump()  # universal SET OF tag: what RFC 5652 §5.4 signs
    digest = hashlib.new(hash_name, signed_bytes).digest()
    block = digest if scheme.pss else build_digest_info(hash_name, digest)
    signature = _call_signer(signer, block)
    if len(signature) != (key.key_size + 7) // 8:
        raise CmsSignerOutputError(
            "the signer's signature length does not match the certificate's key")
    if scheme.pss:
        salt = find_salt_length(key, signature, digest, hash_name)
        if salt is None:
            raise CmsSignerOutputError("the signer's RSASSA-PSS signature does not verify "
                                       "with the signer certificate (no salt length fits)")
        return signature, PssParameters(hash_name, salt).algorithm_identifier()
    try:
        key.verify(signature, signed_bytes, padding.PKCS1v15(), algo)
    except InvalidSignature as exc:
        raise CmsSignerOutputError(
            "the signer's signature does not verify with the signer certificate") from exc
    return signature, _algos.SignedDigestAlgorithm({"algorithm": _PKCS1V15_SIG_ALG})


def build_signed_data(
    content: bytes,
    *,
    signer: RawSigner,
    certificate: bytes | x509.Certificate,
    ca_certificates: Iterable[bytes | x509.Certificate] = (),
    scheme: SigningScheme = SigningScheme.PKCS1V15_DIGEST_INFO,
    hash_name: str = "sha256",
    attached: bool = False,
    signing_time: _dt.datetime | None = None,
) -> bytes:
    """Build a DER ContentInfo(SignedData) over ``content``, signed by the caller's signer.

    :param content: the document (or challenge) to sign.
    :param signer: ``sign(block) -> signature``; ``block`` as ``scheme`` says.  It is
        called exactly once (a card signer may ask for the PIN: never twice per document).
    :param certificate: the signer certificate (parsed, DER or PEM); its key must be RSA.
    :param ca_certificates: the signer's CA certificates, carried in the CMS after it.
    :param scheme: what the signer receives and returns.
    :param hash_name: ``"sha256"``, ``"sha384"`` or ``"sha512"`` (``"sha256"`` only with
        a PSS scheme).
    :param attached: put the content inside the CMS (default: detached).
    :param signing_time: the signingTime attribute (aware); default now (UTC).
    :returns: DER bytes, already verified with :class:`jukicard.pki.cms.SignedData`.
    :raises UsageError: bad arguments (unknown or SHA-224 hash, a PSS scheme with another
        hash than SHA-256, naive time, too many certificates, not bytes).
    :raises WeakHashError: SHA-1.
    :raises MalformedCertificateError: a certificate that cannot be parsed.
    :raises UnsupportedKeyError: the signer certificate's key is not RSA or its keyUsage
        forbids signatures.
    :raises CmsSignerOutputError: the signature does not verify with the certificate.
    :raises CmsSignerFailedError: the signer raised a non-jukicard exception (jukicard
        errors, e.g. a card's PIN error, pass unchanged).
    """
    if not isinstance(content, (bytes, bytearray, memoryview)):
        raise UsageError(f"content must be bytes, not {type(content).__name__}")
    content = bytes(content)
    if not isinstance(scheme, SigningScheme):
        raise UsageError(f"scheme must be a SigningScheme, not {type(scheme).__name__}")
    name = hash_algorithm(hash_name).name  # normalised, UsageError when unknown
    if name not in SIGNING_HASHES:
        raise UsageError(f"hash {hash_name!r} is not allowed for new signatures "
                         f"(use one of {sorted(SIGNING_HASHES)})")
    if scheme.pss and name != "sha256":
        raise UsageError(f"{scheme.value} signs SHA-256 hashes only, not {name}")
    cert = load_certificate(certificate)
    cas = [load_certificate(c) for c in ca_certificates]
    if 1 + len(cas) > MAX_CMS_CERTIFICATES:
        raise UsageError(f"at most {MAX_CMS_CERTIFICATES} certificates fit in a CMS")
    when = signing_time if signing_time is not None else _dt.datetime.now(_dt.UTC)
    asn_cert = _ax509.Certificate.load(_der(cert))

    attrs = _signed_attributes(hashlib.new(name, content).digest(), asn_cert, when)
    signature, signature_algorithm = sign_signed_attributes(attrs, name, signer, scheme, cert)

    bag: list[bytes] = []
    for c in [cert, *cas]:
        der = _der(c)
        if der not in bag:
            bag.append(der)
    digest_alg = _algos.DigestAlgorithm({"algorithm": name})
    signer_info = _cms.SignerInfo({
        "version": "v1",
        "sid": _cms.SignerIdentifier(name="issuer_and_serial_number", value={
            "issuer": asn_cert.issuer, "serial_number": asn_cert.serial_number}),
        "digest_algorithm": digest_alg,
        "signed_attrs": attrs,
        "signature_algorithm": signature_algorithm,
        "signature": signature,
    })
    encap: dict[str, object] = {"content_type": "data"}
    if attached:
        encap["content"] = _core.OctetString(content)
    signed_data = _cms.SignedData({
        "version": "v1",
        "digest_algorithms": [digest_alg],
        "encap_content_info": encap,
        "certificates": [_ax509.Certificate.load(d) for d in bag],
        "signer_infos": [signer_info],
    })
    der = bytes(_cms.ContentInfo({"content_type": "signed_data",
                                  "content": signed_data}).dump())
    # read back with the verifier: what we return is what jukicard itself accepts
    SignedData.parse(der).verify_document(content, pinned=cert)
    return der
