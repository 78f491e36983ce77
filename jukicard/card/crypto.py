"""Small crypto helpers for the card sessions (DigestInfo, hashing, signature checks).

The card layer may not import :mod:`jukicard.pki` (it sits beside ``card``), so the few
operations sessions need are here, done with ``cryptography`` and ``asn1crypto`` only:
nothing is hand-rolled.

Certificates read from a card go to ``cryptography`` only through
:func:`load_der_certificate` and :func:`certificate_rsa_key`, under
:func:`~jukicard.deprecations.contained_deprecations`: a card certificate ``cryptography``
still accepts with a ``CryptographyDeprecationWarning`` (a serial number that is not
positive...) passes no warning on to library callers (and none escapes as an untyped
exception under ``-W error``).
"""

from __future__ import annotations

import enum
import logging

from asn1crypto import algos as _algos
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from jukicard.deprecations import contained_deprecations
from jukicard.errors import BadResponse, UsageError

__all__ = [
    "HashAlg",
    "build_digest_info",
    "digest_message",
    "CERTIFICATE_ERRORS",
    "load_der_certificate",
    "certificate_rsa_key",
    "verify_digest_signature",
]

log = logging.getLogger(__name__)


class HashAlg(enum.Enum):
    """Hash algorithms the library signs with (SHA-1 is not offered for new signatures)."""

    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"

    @classmethod
    def coerce(cls, value: HashAlg | str) -> HashAlg:
        """Accept a member or a name such as ``"sha256"`` / ``"SHA-256"``.

        :raises UsageError: unknown or unsupported algorithm.
        """
        if isinstance(value, HashAlg):
            return value
        if isinstance(value, str):
            name = value.lower().replace("-", "").replace("_", "")
            for member in cls:
                if member.value == name:
                    return member
        # the value is not repeated: a PIN may have been passed in its place
        raise UsageError("unsupported hash algorithm (not repeated); use sha256, sha384 or "
                         "sha512")

    @property
    def algorithm(self) -> hashes.HashAlgorithm:
        if self is HashAlg.SHA384:
            return hashes.SHA384()
        if self is HashAlg.SHA512:
            return hashes.SHA512()
        return hashes.SHA256()

    @property
    def digest_size(self) -> int:
        return self.algorithm.digest_size


def digest_message(alg: HashAlg, message: bytes) -> bytes:
    """Hash ``message`` with ``alg``."""
    h = hashes.Hash(alg.algorithm)
    h.update(bytes(message))
    digest: bytes = h.finalize()
    return digest


def build_digest_info(alg: HashAlg, digest: bytes) -> bytes:
    """DER ``DigestInfo`` (RFC 8017 §9.2) for ``digest``, as the JPKI card expects it.

    :raises UsageError: the digest length does not match the algorithm.
    """
    digest = bytes(digest)
    if len(digest) != alg.digest_size:
        raise UsageError(
            f"{alg.value} digest must be {alg.digest_size} bytes, got {len(digest)}"
        )
    info = _algos.DigestInfo(
        {
            # parameters omitted → asn1crypto writes the NULL RFC 8017 requires
            "digest_algorithm": {"algorithm": alg.value},
            "digest": digest,
        }
    )
    encoded: bytes = info.dump()
    return encoded


#: What ``cryptography`` raises for certificates it cannot load or read a field of: a
#: malformed encoding (``ValueError``), an unknown version (``InvalidVersion``, which is not
#: a ValueError), an unknown key or signature algorithm (``UnsupportedAlgorithm``).
CERTIFICATE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    x509.InvalidVersion,
    UnsupportedAlgorithm,
)


def load_der_certificate(der: bytes, what: str = "certificate") -> x509.Certificate:
    """Parse a DER certificate read from the card (``cryptography``'s deprecation warnings
    contained).

    NOTE: fields of the result are decoded lazily and may warn again: read them under
    :func:`~jukicard.deprecations.contained_deprecations` (as :func:`certificate_rsa_key`
    does).

    :raises BadResponse: not a DER X.509 certificate (any of :data:`CERTIFICATE_ERRORS`).
    """
    try:
        with contained_deprecations():
            return x509.load_der_x509_certificate(bytes(der))
    except CERTIFICATE_ERRORS as exc:
        raise BadResponse(f"{what}: not a usable X.509 certificate") from exc


def certificate_rsa_key(cert: x509.Certificate, what: str = "certificate") -> rsa.RSAPublicKey:
    """The RSA public key of ``cert``.

    :raises BadResponse: the key is not RSA (JPKI keys always are) or cannot be loaded.
    """
    try:
        with contained_deprecations():
            key = cert.public_key()
    except CERTIFICATE_ERRORS as exc:
        raise BadResponse(f"{what}: unusable public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadResponse(f"{what}: public key is not RSA")
    return key


def verify_digest_signature(
    key: rsa.RSAPublicKey, signature: bytes, alg: HashAlg, digest: bytes
) -> bool:
    """True if ``signature`` is a valid PKCS#1 v1.5 signature of ``digest``."""
    try:
        key.verify(bytes(signature), bytes(digest), padding.PKCS1v15(), Prehashed(alg.algorithm))
    except (InvalidSignature, ValueError):
        return False
    return True
