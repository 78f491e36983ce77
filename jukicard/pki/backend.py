"""The seam to ``cryptography``: public keys, signature verification, X.509 loading.

Every place where :mod:`jukicard.pki` hands bytes to a ``cryptography`` loader, and every
use of DSA, is here.  ``cryptography`` warns (``CryptographyDeprecationWarning``) about
inputs it still accepts: a certificate whose serial number is not positive ("Parsed a
serial number which wasn't positive", NIST PKITS 4.4.15), a DSA or ECDSA signature algorithm
with NULL parameters ("contains a NULL parameter value in its signature algorithm
parameters"), UTF-8 in a VisibleString of a policy notice, and, from cryptography 51 on, any
use of DSA (the names of its ``dsa`` module, loading a DSA key; PKITS 4.1.4–4.1.6).
The validator accepts or rejects such inputs on its own terms, so the warning tells its
callers nothing: each of these calls runs under :func:`contained_deprecations` (from
:mod:`jukicard.deprecations`, shared with the card layer), which ignores that one warning
category for that one call.  No filter is installed globally.
Without it, a caller running with warnings as errors would even see such a certificate
rejected.

NOTE: before Python 3.14, :func:`warnings.catch_warnings` swaps the process-wide filter
list while it is active; another thread warning at that moment may have its warning hidden.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any, TypeAlias

from asn1crypto import keys as _keys
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from jukicard.deprecations import contained_deprecations
from jukicard.pki.errors import UnsupportedAlgorithmError

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

__all__ = [
    "PublicKey",
    "HASH_ALGORITHMS",
    "load_public_key",
    "dsa_params_of",
    "verify_signature",
    "spki_of",
    "load_x509_certificate",
    "load_x509_crl",
    "certificate_public_key",
    "certificate_serial",
    "certificate_extensions",
    "recognised_extension_oids",
    "directory_names",
    "contained_deprecations",
]


#: A public key this package can verify with (annotation only: DSA names are not evaluated).
PublicKey: TypeAlias = (
    "rsa.RSAPublicKey | dsa.DSAPublicKey | ec.EllipticCurvePublicKey"
    " | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey"
)

with contained_deprecations():  # naming DSA classes warns from cryptography 51 on
    _DSA_PUBLIC_KEY = dsa.DSAPublicKey
_PUBLIC_KEY_TYPES = (rsa.RSAPublicKey, _DSA_PUBLIC_KEY, ec.EllipticCurvePublicKey,
                     ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)

HASH_ALGORITHMS: Mapping[str, type[hashes.HashAlgorithm]] = MappingProxyType({
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha3_256": hashes.SHA3_256,
    "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
})


# ---------------------------------------------------------------------- keys
def _dsa_key(y: int, params: bytes) -> PublicKey:
    p = _keys.DSAParams.load(params).native
    with contained_deprecations():
        numbers = dsa.DSAPublicNumbers(y, dsa.DSAParameterNumbers(p["p"], p["q"], p["g"]))
        return numbers.public_key()


def load_public_key(spki: bytes, inherited_params: bytes | None = None) -> PublicKey:
    """Load a SubjectPublicKeyInfo with ``cryptography``.

    :param spki: DER SubjectPublicKeyInfo.
    :param inherited_params: DER DSA ``Dss-Parms`` of the issuer's key, used when this DSA
        key omits its parameters (RFC 5280 §6.1.4 (f)).
    :raises UnsupportedAlgorithmError: if the key type is unsupported or cannot be loaded.
    """
    try:
        info = _keys.PublicKeyInfo.load(spki)
        alg = info["algorithm"]["algorithm"].native
        if alg == "dsa" and info["algorithm"]["parameters"].native is None:
            if inherited_params is None:
                raise UnsupportedAlgorithmError("DSA key without parameters and nothing to inherit")
            return _dsa_key(info["public_key"].parsed.native, inherited_params)
        with contained_deprecations():
            key = serialization.load_der_public_key(spki)
    except UnsupportedAlgorithmError:
        raise
    except (UnsupportedAlgorithm, ValueError, TypeError, KeyError) as exc:
        raise UnsupportedAlgorithmError(
            f"public key cannot be loaded ({type(exc).__name__})") from exc
    if not isinstance(key, _PUBLIC_KEY_TYPES):
        raise UnsupportedAlgorithmError(f"unsupported public key type {type(key).__name__}")
    return key


def dsa_params_of(spki: bytes) -> bytes | None:
    """DER DSA parameters of a key, or ``None`` (absent or not DSA)."""
    try:
        info = _keys.PublicKeyInfo.load(spki)
        params = info["algorithm"]["parameters"]
        if info["algorithm"]["algorithm"].native != "dsa" or params.native is None:
            return None
        return bytes(params.dump())
    except Exception:
        return None


def spki_of(key: PublicKey) -> bytes:
    """The DER SubjectPublicKeyInfo of a loaded key (a cache key for verifications)."""
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


#: From this size on, :func:`verify_signature` hashes the data with :mod:`hashlib` (no copy
#: of a memoryview) and verifies the digest (``Prehashed``): a large CRL is hashed once.
PREHASH_FROM = 64 * 1024


def verify_signature(
    key: PublicKey,
    signature_algorithm: Any,
    signature: bytes,
    data: bytes | memoryview,
) -> bool:
    """Verify ``signature`` over ``data`` with ``key``.

    :param key: the issuer's public key.
    :param signature_algorithm: asn1crypto ``SignedDigestAlgorithm`` of the signed object.
    :param signature: the signature bytes.
    :param data: the signed bytes (TBSCertificate / TBSCertList DER); from
        :data:`PREHASH_FROM` bytes on, hashed here and verified as a digest.
    :returns: True if valid, False if the signature does not verify.
    :raises UnsupportedAlgorithmError: for algorithms we cannot verify, or key/algorithm
        mismatch.
    """
    try:
        sig_algo = signature_algorithm.signature_algo
        hash_name = None if sig_algo in ("ed25519", "ed448") else signature_algorithm.hash_algo
    except Exception as exc:
        raise UnsupportedAlgorithmError(
            f"unsupported signature algorithm "
            f"{signature_algorithm['algorithm'].dotted}") from exc
    hash_cls = HASH_ALGORITHMS.get(hash_name) if hash_name else None
    if hash_name and hash_cls is None:
        raise UnsupportedAlgorithmError(f"unsupported hash algorithm {hash_name}")
    if hash_cls is None or len(data) < PREHASH_FROM:
        return _verify(key, signature_algorithm, sig_algo, hash_cls, signature, bytes(data))
    assert hash_name is not None
    digest = hashlib.new(hash_name, data).digest()
    return _verify(key, signature_algorithm, sig_algo, hash_cls, signature, digest,
                   prehashed=True)


def _verify(key: PublicKey, signature_algorithm: Any, sig_algo: str,
            hash_cls: type[hashes.HashAlgorithm] | None, signature: bytes, data: bytes,
            prehashed: bool = False) -> bool:
    def algo() -> Any:
        assert hash_cls is not None
        return Prehashed(hash_cls()) if prehashed else hash_cls()

    try:
        if sig_algo == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), algo())
        elif sig_algo == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
            params = signature_algorithm["parameters"]
            mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
            mgf_cls = HASH_ALGORITHMS.get(mgf_hash)
            if hash_cls is None or mgf_cls is None:
                raise UnsupportedAlgorithmError("unsupported RSASSA-PSS hash")
            salt = params["salt_length"].native
            key.verify(signature, data, padding.PSS(padding.MGF1(mgf_cls()), salt), algo())
        elif sig_algo == "dsa" and isinstance(key, _DSA_PUBLIC_KEY):
            with contained_deprecations():
                key.verify(signature, data, algo())
        elif sig_algo == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(algo()))
        elif sig_algo == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        elif sig_algo == "ed448" and isinstance(key, ed448.Ed448PublicKey):
            key.verify(signature, data)
        else:
            raise UnsupportedAlgorithmError(
                f"signature algorithm {sig_algo} does not fit a {type(key).__name__}")
    except InvalidSignature:
        return False
    except UnsupportedAlgorithmError:
        raise
    except (UnsupportedAlgorithm, ValueError, TypeError, KeyError) as exc:
        raise UnsupportedAlgorithmError(
            f"signature cannot be verified ({type(exc).__name__})") from exc
    return True


# ---------------------------------------------------------------------- X.509 objects
def _x509() -> ModuleType:
    import cryptography.x509  # start-up: ~20 ms that only these loaders need (no cycle)

    return cryptography.x509


def load_x509_certificate(data: bytes) -> x509.Certificate:
    """``cryptography``'s certificate object for DER (or PEM, when armored) bytes.

    NOTE: ``cryptography`` warns again whenever ``serial_number`` of a certificate with a
    non-positive serial is read; read it with :func:`certificate_serial`.

    :raises ValueError: if ``cryptography`` cannot parse it (a v2 certificate included,
        which ``cryptography`` refuses with an ``InvalidVersion`` that is no ValueError).
    """
    x509_module = _x509()
    try:
        with contained_deprecations():  # e.g. a serial number that is not positive
            if data.lstrip().startswith(b"-----BEGIN"):
                pem: x509.Certificate = x509_module.load_pem_x509_certificate(data)
                return pem
            der: x509.Certificate = x509_module.load_der_x509_certificate(data)
            return der
    except x509_module.InvalidVersion as exc:
        raise ValueError("certificate version not supported by cryptography") from exc


def load_x509_crl(der: bytes) -> x509.CertificateRevocationList:
    """``cryptography``'s CRL object for DER bytes.

    :raises ValueError: if ``cryptography`` cannot parse it.
    """
    with contained_deprecations():
        crl: x509.CertificateRevocationList = _x509().load_der_x509_crl(der)
        return crl


def certificate_public_key(cert: x509.Certificate) -> CertificatePublicKeyTypes:
    """The public key of a ``cryptography`` certificate (a DSA key warns from cryptography 51).

    :raises ValueError: / :raises UnsupportedAlgorithm: as ``Certificate.public_key()``.
    """
    with contained_deprecations():
        return cert.public_key()


def certificate_serial(cert: x509.Certificate) -> int:
    """The serial number of a ``cryptography`` certificate (reading a non-positive one warns
    again, not only at load time)."""
    with contained_deprecations():
        return cert.serial_number


def certificate_extensions(cert: x509.Certificate) -> x509.Extensions:
    """The extensions of a ``cryptography`` certificate, decoded now (``cryptography``
    decodes them lazily, and warns about some encodings it tolerates, e.g. UTF-8 in a
    VisibleString of a policy notice).

    :raises ValueError: / :raises x509.DuplicateExtension: as ``Certificate.extensions``.
    """
    with contained_deprecations():
        return cert.extensions


def recognised_extension_oids(extensions: x509.Extensions) -> frozenset[str]:
    """The OIDs of the extensions ``cryptography`` decodes (not ``UnrecognizedExtension``)."""
    unrecognised = _x509().UnrecognizedExtension
    return frozenset(e.oid.dotted_string for e in extensions
                     if not isinstance(e.value, unrecognised))


def directory_names(general_names: Iterable[Any]) -> list[x509.Name]:
    """The directoryName entries of ``cryptography`` GeneralNames."""
    directory_name = _x509().DirectoryName
    return [gn.value for gn in general_names if isinstance(gn, directory_name)]
