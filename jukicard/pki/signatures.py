"""RSA PKCS#1 v1.5 signatures as the JPKI card makes them: DigestInfo building and verification.

The JPKI AP's COMPUTE DIGITAL SIGNATURE (``80 2A 00 80``) takes whatever bytes it is given
(normally a DER ``DigestInfo``), adds PKCS#1 v1.5 type-01 padding and does the RSA private
operation (card-interface.md §5.5).  So a card signature can be checked three ways:

* ``message=``: the card was given ``DigestInfo(hash(message))`` — hash and compare;
* ``digest=``: the caller already has the hash — the ``DigestInfo`` is rebuilt and compared;
* ``raw=``: the card was given arbitrary bytes and signed them as they are — the padded
  block is recovered with the public key and compared to those bytes.

Key-size rules are the caller's policy (``min_key_size=``): :data:`MIN_RSA_BITS_JUKI`
(1024, 住基カード era) or :data:`MIN_RSA_BITS_MYNUMBER` (2048).  SHA-1 is accepted only for
verifying old data and only when the caller says so (``allow_sha1=True``); the result flags it.

NOTE: nothing here hand-rolls RSA or ASN.1: ``cryptography`` does the RSA operations and
``asn1crypto`` encodes and decodes ``DigestInfo``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from dataclasses import dataclass

from asn1crypto import algos as _algos
from asn1crypto import x509 as _ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding

from jukicard.errors import UsageError
from jukicard.pki.backend import (
    certificate_extensions,
    certificate_public_key,
    load_x509_certificate,
)
from jukicard.pki.errors import MalformedCertificateError, PkiError, UnsupportedAlgorithmError
from jukicard.pki.reasons import Reason

__all__ = [
    "HASHES",
    "SIGNING_HASHES",
    "MIN_RSA_BITS_JUKI",
    "MIN_RSA_BITS_MYNUMBER",
    "SignatureInvalidError",
    "WeakKeyError",
    "WeakHashError",
    "UnsupportedKeyError",
    "MalformedCertificateError",
    "VerifiedSignature",
    "hash_algorithm",
    "digest_size",
    "build_digest_info",
    "parse_digest_info",
    "load_certificate",
    "rsa_public_key",
    "verify_pkcs1v15",
    "recover_digest_info",
    "MAX_SIGNATURE_JSON",
    "decode_signature",
]

log = logging.getLogger(__name__)

#: Hash names accepted for verification (SHA-1 only with ``allow_sha1=True``).
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
#: Hash names allowed when building a DigestInfo to be signed.
SIGNING_HASHES: frozenset[str] = frozenset({"sha256", "sha384", "sha512"})

#: Smallest RSA modulus accepted for 住基カード-era JPKI certificates (one RSA-1024 cert).
MIN_RSA_BITS_JUKI = 1024
#: Smallest RSA modulus accepted for My Number card JPKI certificates (RSA-2048).
MIN_RSA_BITS_MYNUMBER = 2048

_ALIASES = {"sha-1": "sha1", "sha-224": "sha224", "sha-256": "sha256", "sha-384": "sha384",
            "sha-512": "sha512"}

KeyOrCert = rsa.RSAPublicKey | x509.Certificate


class SignatureInvalidError(PkiError):
    """The signature does not match the data, digest or key."""

    reason = Reason.SIGNATURE_INVALID


class WeakKeyError(PkiError):
    """The signer's RSA key is smaller than the caller's policy allows."""

    reason = Reason.WEAK_KEY


class WeakHashError(UnsupportedAlgorithmError):
    """SHA-1 (or another hash the caller did not allow) was used."""

    reason = Reason.WEAK_HASH


class UnsupportedKeyError(UnsupportedAlgorithmError):
    """The key is not an RSA key, or the signer certificate forbids signing."""

    reason = Reason.UNSUPPORTED_KEY


@dataclass(frozen=True)
class VerifiedSignature:
    """What a successful verification established.

    :ivar mode: ``"message"``, ``"digest"`` or ``"raw"``.
    :ivar hash_alg: hash name (``None`` in raw mode).
    :ivar key_size: RSA modulus size in bits.
    :ivar weak_hash: ``True`` when SHA-1 was used (old data only).
    """

    mode: str
    hash_alg: str | None
    key_size: int
    weak_hash: bool = False


def _norm_hash_name(name: str) -> str:
    key = name.strip().lower()
    return _ALIASES.get(key, key)


def hash_algorithm(name: str, *, allow_sha1: bool = False) -> hashes.HashAlgorithm:
    """Return the ``cryptography`` hash object for ``name`` (``"sha256"``...).

    :param name: hash name, case-insensitive (``sha-256`` also accepted).
    :param allow_sha1: accept SHA-1 (verification of old data only).
    :raises UsageError: unknown hash name.
    :raises WeakHashError: SHA-1 without ``allow_sha1``.
    """
    key = _norm_hash_name(name)
    cls = HASHES.get(key)
    if cls is None:
        raise UsageError(f"unsupported hash algorithm {name!r} (use one of {sorted(HASHES)})")
    if key == "sha1" and not allow_sha1:
        raise WeakHashError("SHA-1 is accepted only for verifying old data (allow_sha1)")
    return cls()


def digest_size(name: str) -> int:
    """Digest length in bytes for a hash name.

    :raises UsageError: unknown hash name.
    """
    return hash_algorithm(name, allow_sha1=True).digest_size


def build_digest_info(hash_name: str, digest: bytes, *, allow_sha1: bool = False) -> bytes:
    """DER ``DigestInfo`` (RFC 8017 §9.2) for a digest — what the JPKI card is asked to sign.

    :param hash_name: ``"sha256"``, ``"sha384"`` or ``"sha512"`` (``"sha1"`` only with
        ``allow_sha1=True``, for checking old signatures; never for new ones).
    :param digest: the hash value, of the hash's exact length.
    :param allow_sha1: permit SHA-1 (verification of old 住基カード-era data only).
    :raises UsageError: unknown hash or a digest of the wrong length.
    :raises WeakHashError: SHA-1 without ``allow_sha1``.
    """
    algo = hash_algorithm(hash_name, allow_sha1=allow_sha1)
    digest = bytes(digest)
    if len(digest) != algo.digest_size:
        raise UsageError(
            f"{algo.name} digest must be {algo.digest_size} bytes, got {len(digest)}"
        )
    info = _algos.DigestInfo(
        {"digest_algorithm": {"algorithm": _norm_hash_name(hash_name)}, "digest": digest}
    )
    return bytes(info.dump())


def parse_digest_info(data: bytes) -> tuple[str, bytes]:
    """Decode a DER ``DigestInfo`` into ``(hash name, digest)``.

    Strict: the re-encoding must give the same bytes back (no BER, no trailing bytes) and
    the digest must have the hash's length.

    :raises SignatureInvalidError: not a (DER) DigestInfo of a known hash.
    """
    try:
        info = _algos.DigestInfo.load(bytes(data), strict=True)
        name = info["digest_algorithm"]["algorithm"].native
        digest = info["digest"].native
        reencoded = _algos.DigestInfo(
            {"digest_algorithm": {"algorithm": name}, "digest": digest}
        ).dump()
    except Exception as exc:  # asn1crypto raises ValueError/TypeError/KeyError variants
        raise SignatureInvalidError("signed block is not a DER DigestInfo") from exc
    name = _norm_hash_name(str(name))
    if name not in HASHES or not isinstance(digest, bytes):
        raise SignatureInvalidError("DigestInfo names an unsupported hash algorithm")
    if len(digest) != HASHES[name]().digest_size or reencoded != bytes(data):
        raise SignatureInvalidError("DigestInfo is not in canonical DER form")
    return name, digest


def load_certificate(data: bytes | x509.Certificate) -> x509.Certificate:
    """Parse a DER or PEM certificate (a parsed one is returned as is).

    Strict: ``cryptography`` enforces DER; the extensions are decoded at once (duplicate or
    undecodable extensions fail here, not later) and an empty serial INTEGER is refused.

    :raises MalformedCertificateError: the bytes are not a well-formed certificate.
    """
    if isinstance(data, x509.Certificate):
        return data
    raw = bytes(data)
    try:
        cert = load_x509_certificate(raw)
        certificate_extensions(cert)  # decoded lazily by cryptography: force it now
        der = cert.public_bytes(Encoding.DER)
        serial = _ax509.Certificate.load(der)["tbs_certificate"]["serial_number"]
        if not serial.contents:
            raise ValueError("empty serial number")
    except Exception as exc:  # ValueError, DuplicateExtension, UnsupportedGeneralNameType...
        raise MalformedCertificateError(
            f"certificate could not be parsed ({type(exc).__name__})") from exc
    return cert


def rsa_public_key(
    *, certificate: bytes | x509.Certificate | None = None,
    public_key: rsa.RSAPublicKey | None = None,
    check_key_usage: bool = True,
) -> rsa.RSAPublicKey:
    """The RSA public key of a certificate (or the key given).

    :param certificate: signer certificate (parsed, DER or PEM).
    :param public_key: the key itself (exclusive with ``certificate``).
    :param check_key_usage: refuse a certificate whose keyUsage has neither
        digitalSignature nor nonRepudiation.
    :raises UsageError: neither or both given.
    :raises MalformedCertificateError: unparsable certificate.
    :raises UnsupportedKeyError: not RSA, or keyUsage forbids signatures.
    """
    if (certificate is None) == (public_key is None):
        raise UsageError("give exactly one of certificate= or public_key=")
    if certificate is not None:
        cert = load_certificate(certificate)
        try:
            key = certificate_public_key(cert)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise MalformedCertificateError("certificate public key cannot be loaded") from exc
        if check_key_usage:
            try:
                ku = certificate_extensions(cert).get_extension_for_class(x509.KeyUsage).value
            except x509.ExtensionNotFound:
                ku = None
            except Exception as exc:  # cryptography's lazy extension decoding errors
                raise MalformedCertificateError("certificate extensions are malformed") from exc
            if ku is not None and not (ku.digital_signature or ku.content_commitment):
                raise UnsupportedKeyError(
                    "certificate keyUsage allows neither digitalSignature nor nonRepudiation"
                )
    else:
        key = public_key  # type: ignore[assignment]
    if not isinstance(key, rsa.RSAPublicKey):
        raise UnsupportedKeyError(f"signer key is not RSA ({type(key).__name__})")
    return key


def _check_key_size(key: rsa.RSAPublicKey, min_key_size: int | None) -> None:
    if min_key_size is not None and key.key_size < min_key_size:
        raise WeakKeyError(
            f"RSA key of {key.key_size} bits is below the {min_key_size}-bit minimum")


def recover_digest_info(
    signature: bytes, *, certificate: bytes | x509.Certificate | None = None,
    public_key: rsa.RSAPublicKey | None = None, min_key_size: int | None = None,
) -> bytes:
    """Recover the block the card signed (the bytes inside the PKCS#1 v1.5 type-01 padding).

    :raises SignatureInvalidError: wrong length or padding (not made with this key).
    """
    key = rsa_public_key(certificate=certificate, public_key=public_key, check_key_usage=False)
    _check_key_size(key, min_key_size)
    sig = bytes(signature)
    if len(sig) != (key.key_size + 7) // 8:
        raise SignatureInvalidError("signature length does not match the key size")
    try:
        return key.recover_data_from_signature(sig, padding.PKCS1v15(), None)
    except (InvalidSignature, ValueError) as exc:
        raise SignatureInvalidError("signature does not verify with this key") from exc


def verify_pkcs1v15(
    signature: bytes,
    *,
    certificate: bytes | x509.Certificate | None = None,
    public_key: rsa.RSAPublicKey | None = None,
    message: bytes | None = None,
    digest: bytes | None = None,
    raw: bytes | None = None,
    hash_alg: str = "sha256",
    min_key_size: int | None = None,
    allow_sha1: bool = False,
    check_key_usage: bool = True,
) -> VerifiedSignature:
    """Verify an RSA PKCS#1 v1.5 signature made by a JPKI card.

    Exactly one of ``message`` / ``digest`` / ``raw`` and one of ``certificate`` /
    ``public_key`` must be given.

    :param signature: the signature bytes (as long as the modulus).
    :param certificate: signer certificate (parsed, DER or PEM).
    :param public_key: signer RSA public key.
    :param message: the signed data; it is hashed with ``hash_alg``.
    :param digest: the hash of the signed data; its ``DigestInfo`` is checked.
    :param raw: the exact bytes handed to the card (no DigestInfo: signed as is).
    :param hash_alg: hash for ``message``/``digest`` mode.
    :param min_key_size: smallest accepted modulus in bits (the caller's policy, e.g.
        :data:`MIN_RSA_BITS_MYNUMBER`); ``None`` = no rule.
    :param allow_sha1: accept SHA-1 (old data; the result has ``weak_hash=True``).
    :param check_key_usage: with a certificate, require digitalSignature or nonRepudiation.
    :returns: :class:`VerifiedSignature`.
    :raises SignatureInvalidError: the signature does not verify.
    :raises WeakKeyError: the key is below ``min_key_size``.
    :raises WeakHashError: SHA-1 without ``allow_sha1``.
    :raises UnsupportedKeyError: not an RSA key / keyUsage forbids signatures.
    :raises MalformedCertificateError: unparsable certificate.
    :raises UsageError: wrong combination of arguments, unknown hash, bad digest length.
    """
    given = [n for n, v in (("message", message), ("digest", digest), ("raw", raw))
             if v is not None]
    if len(given) != 1:
        raise UsageError("give exactly one of message=, digest= or raw=")
    mode = given[0]
    key = rsa_public_key(certificate=certificate, public_key=public_key,
                         check_key_usage=check_key_usage)
    _check_key_size(key, min_key_size)
    sig = bytes(signature)
    if len(sig) != (key.key_size + 7) // 8:
        raise SignatureInvalidError(
            f"signature is {len(sig)} bytes, a {key.key_size}-bit key gives "
            f"{(key.key_size + 7) // 8}"
        )

    if mode == "raw":
        recovered = recover_digest_info(sig, public_key=key)
        if not hmac.compare_digest(recovered, bytes(raw or b"")):
            raise SignatureInvalidError("signature is over different data")
        log.debug("raw PKCS#1 v1.5 signature verified (%d-bit key)", key.key_size)
        return VerifiedSignature("raw", None, key.key_size)

    algo = hash_algorithm(hash_alg, allow_sha1=allow_sha1)
    name = _norm_hash_name(hash_alg)
    try:
        if mode == "message":
            key.verify(sig, bytes(message or b""), padding.PKCS1v15(), algo)
        else:
            dg = bytes(digest or b"")
            if len(dg) != algo.digest_size:
                raise UsageError(
                    f"{name} digest must be {algo.digest_size} bytes, got {len(dg)}"
                )
            key.verify(sig, dg, padding.PKCS1v15(), Prehashed(algo))
    except InvalidSignature as exc:
        raise SignatureInvalidError("signature does not verify") from exc
    if name == "sha1":
        log.warning("SHA-1 signature accepted for old data (weak hash)")
    log.debug("PKCS#1 v1.5 %s signature verified (%s, %d-bit key)", mode, name, key.key_size)
    return VerifiedSignature(mode, name, key.key_size, weak_hash=name == "sha1")


#: Largest ``jukicard sign --json`` object read as JSON (it is about 1 KiB).
MAX_SIGNATURE_JSON = 64 * 1024


def decode_signature(blob: bytes, size: int) -> tuple[bytes, str]:
    """The raw signature in what ``jukicard sign`` wrote, and its encoding.

    :param blob: the signature file: raw bytes (``sign -o``), base64 text (``sign``'s
        default output) or ``sign --json``'s object.
    :param size: the signer key's modulus size in bytes (a raw signature has this length).
    :returns: ``(signature, "raw" | "base64" | "json")``; bytes that are none of the text
        forms come back as they are (``"raw"``).  JSON is tried only up to
        :data:`MAX_SIGNATURE_JSON` bytes, and nesting too deep for the parser is "not JSON"
        (a hostile file of 200,000 ``[`` is a bad signature, not a crash).
    """
    if len(blob) == size:
        return blob, "raw"
    text = blob.strip()
    if text.startswith(b"{") and len(text) <= MAX_SIGNATURE_JSON:
        try:
            obj = json.loads(text.decode("utf-8"))
            value = obj["signature"] if isinstance(obj, dict) else None
            if isinstance(value, str):
                return base64.b64decode(value, validate=True), "json"
        except (ValueError, KeyError, binascii.Error, RecursionError):
            pass
    try:
        decoded = base64.b64decode(b"".join(text.split()), validate=True)
    except (ValueError, binascii.Error):
        return blob, "raw"
    return (decoded, "base64") if decoded and len(decoded) == size else (blob, "raw")
