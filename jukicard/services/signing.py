"""Signing with a card key: a file, bytes or a ready digest, with the auth or sign key.

The card makes an RSA PKCS#1 v1.5 signature over the DER ``DigestInfo`` the library builds
(:meth:`jukicard.card.jpki.JpkiSession.sign`), and the session checks the signature against
the key's certificate before it is returned.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from cryptography.hazmat.primitives import hashes

from jukicard.card.crypto import HashAlg
from jukicard.card.detect import open_card
from jukicard.card.jpki import JpkiSession
from jukicard.card.signscheme import SignScheme
from jukicard.errors import DataIntegrityError, UsageError
from jukicard.pki.signatures import parse_digest_info
from jukicard.services.inputs import open_input
from jukicard.services.interaction import UserInteraction
from jukicard.services.pins import ask_pin
from jukicard.transport.base import Transport

__all__ = ["KEY_IDS", "SignResult", "hash_stream", "sign_digest", "sign_data", "sign_file"]

log = logging.getLogger(__name__)

#: Key ids ``sign --key`` accepts.
KEY_IDS: tuple[str, ...] = ("sign", "auth")
_CHUNK = 1 << 16


@dataclass(frozen=True)
class SignResult:
    """A signature made by the card.

    :ivar key: ``"sign"`` or ``"auth"``.
    :ivar hash_alg: ``"sha256"``...
    :ivar digest: the digest that was signed (inside a DigestInfo).
    :ivar signature: the raw RSA PKCS#1 v1.5 signature (modulus-size bytes).
    :ivar certificate: the key's certificate (DER) if asked for.  NOTE: the sign
        certificate holds personal data (name, address, birth date): it is never shown in
        ``repr()``.
    """

    key: str
    hash_alg: str
    digest: bytes
    signature: bytes
    certificate: bytes | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        import base64

        return {
            "key": self.key,
            "hash": self.hash_alg,
            "digest": self.digest.hex(),
            "signature": base64.b64encode(self.signature).decode("ascii"),
            "signature_bytes": len(self.signature),
        }


def hash_stream(stream: BinaryIO, hash_alg: HashAlg | str = HashAlg.SHA256) -> bytes:
    """Hash everything readable from ``stream``.

    :raises UsageError: unsupported hash.
    """
    alg = HashAlg.coerce(hash_alg)
    h = hashes.Hash(alg.algorithm)
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            break
        h.update(chunk)
    return h.finalize()


def _as_bytes(value: object, name: str) -> bytes:
    """``value`` as bytes; :raises UsageError: not bytes-like (a ``str``, ``None``...)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise UsageError(f"{name} must be bytes, got a {type(value).__name__}")


def _key_ref(jpki: JpkiSession, key: str) -> Any:
    for ref in jpki.KEYS:
        if ref.name.lower() == key:
            return ref
    raise UsageError(f"this card has no {key!r} key")


@dataclass(frozen=True)
class CardKey:
    """A JPKI key and what goes with it on this card (session enum members, no data read).

    :ivar key: the key (``jpki.KEYS`` member).
    :ivar certificate: its certificate (``jpki.CERTS``); the sign certificate needs the PIN.
    :ivar ca_certificate: its CA certificate (readable without a PIN).
    :ivar pin: the PIN that unlocks the key (``jpki.PINS``).
    """

    key: Any
    certificate: Any
    ca_certificate: Any
    pin: Any


def card_key(jpki: JpkiSession, key: str) -> CardKey:
    """The :class:`CardKey` of ``"sign"`` or ``"auth"`` on the card of ``jpki``.

    :raises UsageError: the card has no such key or certificate.
    """
    ref = _key_ref(jpki, key)
    spec = ref.value
    ca_name = f"{ref.name}_CA"
    ca_ref = next((c for c in jpki.CERTS if c.name == ca_name), None)
    if ca_ref is None:
        raise UsageError(f"this card has no {ca_name.lower().replace('_', ' ')} certificate")
    return CardKey(ref, next(c for c in jpki.CERTS if c.value == spec.cert), ca_ref,
                   next(p for p in jpki.PINS if p.value == spec.pin))


def digest_info_signer(jpki: JpkiSession, key: Any, pin: str | None, alg: HashAlg,
                       certificate: bytes, what: str) -> Callable[[bytes], bytes]:
    """The card as the raw signer of a document builder that hands it a DER DigestInfo
    (card P1 ``00``): the hash must be ``alg``'s, and the card's signature is checked
    against ``certificate`` (the one already read and put in the document: a card swapped
    since then signs with another key, :class:`DataIntegrityError`).

    :param what: the builder's name in the error (``"the CMS builder"``).
    """
    def sign(block: bytes) -> bytes:
        hash_of_block, digest = parse_digest_info(block)
        if hash_of_block != alg.value:
            raise DataIntegrityError(f"{what} asked for another hash")
        signature, _cert = jpki.sign_with_certificate(
            key, pin, digest=digest, hash_alg=alg, scheme=SignScheme.DIGEST_INFO,
            certificate=certificate)
        return bytes(signature)
    return sign


def sign_digest(
    transport: Transport,
    interaction: UserInteraction,
    digest: bytes,
    *,
    key: str = "sign",
    hash_alg: HashAlg | str = HashAlg.SHA256,
    include_certificate: bool = False,
) -> SignResult:
    """Sign a digest with a card key; asks the key's PIN through ``interaction``.

    The PIN's counter is checked first without touching it (a blocked PIN raises before
    anyone is asked); the digest length is checked before the PIN is spent.

    :param digest: the hash of the data, made with ``hash_alg``.
    :param key: ``"sign"`` (署名用, default) or ``"auth"`` (利用者証明用).
    :param hash_alg: ``sha256`` (default), ``sha384`` or ``sha512``.
    :param include_certificate: also return the key's certificate (the one the signature
        was checked against).
    :raises UsageError: unknown key/hash, wrong digest length.
    :raises PinError: / :raises PinBlockedError: wrong or blocked PIN.
    :raises BadResponse: the key's certificate is unusable (for the auth key: found before
        the PIN is sent).
    :raises DataIntegrityError: the card's signature does not verify against its
        certificate.
    :raises TransportError: (or a subclass) the card went away.
    """
    alg = HashAlg.coerce(hash_alg)
    digest = _as_bytes(digest, "digest")
    if len(digest) != alg.digest_size:
        raise UsageError(f"a {alg.value} digest is {alg.digest_size} bytes, got {len(digest)}")
    if not isinstance(key, str) or key not in KEY_IDS:
        # not echoed: a PIN may have been typed where the key id belongs
        raise UsageError(f"unknown key; use one of {', '.join(KEY_IDS)}")
    jpki = open_card(transport).jpki()
    ref = _key_ref(jpki, key)
    pin_ref = next(p for p in jpki.PINS if p.value == ref.value.pin)
    pin = ask_pin(jpki, pin_ref, interaction)
    # one card operation: the certificate is checked before the PIN is sent wherever it
    # can be read without it (the auth key), and the signature against it
    signature, certificate = jpki.sign_with_certificate(ref, pin, digest=digest, hash_alg=alg)
    log.info("signed a %s digest with the %s key", alg.value, key)
    return SignResult(key, alg.value, digest, signature,
                      certificate if include_certificate else None)


def sign_data(
    transport: Transport,
    interaction: UserInteraction,
    data: bytes,
    *,
    key: str = "sign",
    hash_alg: HashAlg | str = HashAlg.SHA256,
    include_certificate: bool = False,
) -> SignResult:
    """Hash ``data`` and sign the digest (see :func:`sign_digest`).

    :raises UsageError: ``data`` is not bytes (a ``str`` must be encoded by the caller, who
        knows which encoding the signature is to cover); as :func:`sign_digest`.
    """
    alg = HashAlg.coerce(hash_alg)
    h = hashes.Hash(alg.algorithm)
    h.update(_as_bytes(data, "data"))
    return sign_digest(transport, interaction, h.finalize(), key=key, hash_alg=alg,
                       include_certificate=include_certificate)


def sign_file(
    transport: Transport,
    interaction: UserInteraction,
    path: str | os.PathLike[str],
    *,
    key: str = "sign",
    hash_alg: HashAlg | str = HashAlg.SHA256,
    include_certificate: bool = False,
) -> SignResult:
    """Hash the file at ``path`` (streamed) and sign the digest (see :func:`sign_digest`).

    The file is opened like every input (:func:`jukicard.services.inputs.open_input`):
    without blocking, and only a regular file.

    :raises UsageError: ``path`` is not a path, or the file cannot be read or is not a
        regular file (a FIFO, a device: refused without waiting; ``option`` ``path``).
    """
    alg = HashAlg.coerce(hash_alg)
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise UsageError(f"path must be a file path, got a {type(path).__name__}")
    try:
        with open_input(path, option="path") as fh:
            digest = hash_stream(fh, alg)
    except OSError as exc:
        raise UsageError(f"cannot read {os.fspath(path)!r}: {exc.strerror}") from exc
    return sign_digest(transport, interaction, digest, key=key, hash_alg=alg,
                       include_certificate=include_certificate)
