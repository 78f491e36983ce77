"""The JPKI card's signing schemes (``80 2A P1 P2``, ``card-security.md`` §5) on the host side:
what to send for each P1, and how the card's signature is checked before anyone gets it.

=====  ==========================  ==============================================================
P1     :class:`SignScheme`         the card ...
=====  ==========================  ==============================================================
``00`` ``DIGEST_INFO`` (default)   pads the host's DER DigestInfo (PKCS#1 v1.5); any hash here
``01`` ``CARD_SHA256_BARE``        hashes the message with SHA-256, signs the bare 32-byte hash
                                   (PKCS#1 v1.5 without AlgorithmIdentifier)
``02`` ``CARD_DIGEST_INFO``        wraps the host's 32-byte SHA-256 hash in a DigestInfo
``03`` ``CARD_SHA256``             hashes the message with SHA-256 and wraps it
``04`` ``PSS_DIGEST``              RSASSA-PSS over the host's 32-byte SHA-256 hash
``05`` ``PSS_SHA256``              hashes the message with SHA-256, RSASSA-PSS
=====  ==========================  ==============================================================

Decisions:

- **SIGN-1** (PSS salt).  The reference states SHA-256 and MGF1-SHA-256 but not the salt
  length the card uses.  The host checks PSS signatures with ``PSS.AUTO`` (the salt length
  is recovered from the signature), so a real card's choice never makes a good signature
  look bad; PSS stays sound with any salt length.  The emulator signs with a 32-byte salt
  (= the hash length, RFC 8017 §9.1's usual choice and the ``rsa`` crate's ``Pss`` default).
- **SIGN-3** (card-hashed messages).  The command goes as a short APDU (as every JPKI client
  sends it), so a message the card hashes is 1..255 bytes; anything else is refused before
  anything is sent (:class:`~jukicard.errors.UsageError`).  Schemes other than ``00`` are
  SHA-256 only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from jukicard.card import crypto
from jukicard.errors import UsageError

__all__ = ["SignScheme", "SignInput", "prepare_sign_input", "signature_valid",
           "MAX_CARD_MESSAGE"]

#: Largest message the card hashes itself (short APDU, SIGN-3).
MAX_CARD_MESSAGE = 255


class SignScheme(enum.Enum):
    """P1 of COMPUTE DIGITAL SIGNATURE (``80 2A P1 P2``); the value is the P1 byte."""

    DIGEST_INFO = 0x00
    CARD_SHA256_BARE = 0x01
    CARD_DIGEST_INFO = 0x02
    CARD_SHA256 = 0x03
    PSS_DIGEST = 0x04
    PSS_SHA256 = 0x05

    @property
    def p1(self) -> int:
        """The P1 byte."""
        return int(self.value)

    @property
    def card_hashes(self) -> bool:
        """True if the card hashes the message itself (P1 ``01``, ``03``, ``05``)."""
        return self in (SignScheme.CARD_SHA256_BARE, SignScheme.CARD_SHA256,
                        SignScheme.PSS_SHA256)

    @property
    def pss(self) -> bool:
        """True for RSASSA-PSS (P1 ``04``, ``05``)."""
        return self in (SignScheme.PSS_DIGEST, SignScheme.PSS_SHA256)

    @classmethod
    def coerce(cls, value: object) -> SignScheme:
        """Accept a member only (a bare P1 number is refused: the enum is the API).

        :raises UsageError: not a :class:`SignScheme`.
        """
        if isinstance(value, SignScheme):
            return value
        raise UsageError(f"scheme must be a SignScheme, got a {type(value).__name__}")


@dataclass(frozen=True)
class SignInput:
    """What goes to the card and what the signature is checked against.

    :ivar scheme: the scheme.
    :ivar alg: the hash algorithm (SHA-256 for every scheme but ``DIGEST_INFO``).
    :ivar payload: the command data (DigestInfo, hash or message).
    :ivar digest: the hash the signature must cover.
    """

    scheme: SignScheme
    alg: crypto.HashAlg
    payload: bytes
    digest: bytes

    def __repr__(self) -> str:  # the payload may be a personal document: never shown
        return f"SignInput({self.scheme.name}, {self.alg.value}, {len(self.payload)} bytes)"


def _bytes(value: object, name: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise UsageError(f"{name} must be bytes")
    return bytes(value)


def prepare_sign_input(
    scheme: SignScheme,
    alg: crypto.HashAlg,
    digest: bytes | None,
    message: bytes | None,
) -> SignInput:
    """Check the caller's input for ``scheme`` and build the command data.

    :param digest: a hash made with ``alg`` (not for the card-hashing schemes).
    :param message: data to hash (here, or on the card for ``01``/``03``/``05``).
    :raises UsageError: both or neither of ``digest``/``message``; a digest for a scheme
        that hashes on the card; a wrong digest size; a hash other than SHA-256 for a scheme
        other than ``DIGEST_INFO``; a card-hashed message of 0 or more than
        :data:`MAX_CARD_MESSAGE` bytes.
    """
    if (digest is None) == (message is None):
        raise UsageError("give exactly one of digest= or message=")
    if scheme is not SignScheme.DIGEST_INFO and alg is not crypto.HashAlg.SHA256:
        raise UsageError(f"{scheme.name} signs SHA-256 hashes only")
    if message is not None:
        msg = _bytes(message, "message")
        if scheme.card_hashes and not 1 <= len(msg) <= MAX_CARD_MESSAGE:
            raise UsageError(f"{scheme.name}: the card hashes 1..{MAX_CARD_MESSAGE} bytes, "
                             f"got {len(msg)}")
        hashed = crypto.digest_message(alg, msg)
    else:
        if scheme.card_hashes:
            raise UsageError(f"{scheme.name} hashes on the card: give message=")
        hashed = _bytes(digest, "digest")
        if len(hashed) != alg.digest_size:
            raise UsageError(f"{alg.value} digest must be {alg.digest_size} bytes, "
                             f"got {len(hashed)}")
    if scheme is SignScheme.DIGEST_INFO:
        payload = crypto.build_digest_info(alg, hashed)
    elif scheme.card_hashes:
        assert message is not None
        payload = bytes(message)
    else:
        payload = hashed
    return SignInput(scheme, alg, payload, hashed)


_PSS_VERIFY = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)


def signature_valid(key: rsa.RSAPublicKey, signature: bytes, sign_input: SignInput) -> bool:
    """True if ``signature`` is the card's signature of ``sign_input`` under ``key``.

    ``CARD_SHA256_BARE``: the recovered PKCS#1 v1.5 block content is the bare hash;
    PSS: SHA-256, MGF1-SHA-256, any salt length (SIGN-1); otherwise a PKCS#1 v1.5 DigestInfo
    signature of the digest.
    """
    scheme, digest = sign_input.scheme, sign_input.digest
    if len(signature) != (key.key_size + 7) // 8:
        return False
    try:
        if scheme is SignScheme.CARD_SHA256_BARE:
            recovered = key.recover_data_from_signature(bytes(signature), padding.PKCS1v15(),
                                                        None)
            return recovered == digest
        if scheme.pss:
            key.verify(bytes(signature), digest, _PSS_VERIFY, Prehashed(hashes.SHA256()))
            return True
    except (InvalidSignature, ValueError):
        return False
    return crypto.verify_digest_signature(key, signature, sign_input.alg, digest)
