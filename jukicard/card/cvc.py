"""The card-verifiable (CV) certificate of a text/visual-AP data-signing key (EF ``0004``).

``7F 21 { 5F 4E { CAR(16) CHR(16) 90 <e> 91 <n> } 5F 37 <signature> }``; the signature is RSA
PKCS#1 v1.5 SHA-256 over the ``5F 4E`` value (``card-interface.md`` §8.4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.card.codec import (
    container,
    rsa_key_tlvs,
    rsa_numbers,
    rsa_public_key,
    rsa_sign,
    rsa_verify,
    tlv,
)
from jukicard.errors import BadResponse, IssuerKeyMismatchError, UsageError

__all__ = ["CvCertificate", "CV_ID_LEN"]

CV_ID_LEN = 16
_WHAT = "CV certificate"


@dataclass(frozen=True)
class CvCertificate:
    """Card-verifiable certificate of a text/visual-AP data-signing key (EF ``0004``).

    :ivar car: certification authority reference (issuer key id, 16 bytes).
    :ivar chr: certificate holder reference (this key's id, 16 bytes).
    """

    car: bytes
    chr: bytes
    exponent: int
    modulus: int
    signature: bytes
    tbs: bytes = field(default=b"", repr=False, compare=False)

    @classmethod
    def parse(cls, data: bytes) -> CvCertificate:
        """Parse a CV certificate EF (trailing padding allowed).

        :raises BadResponse: malformed structure or key numbers.
        """
        _outer, kids = container(data, 0x7F21, _WHAT, (0x5F4E, 0x5F37))
        body = kids[0][1].value
        if len(body) < 2 * CV_ID_LEN + 4:
            raise BadResponse(f"{_WHAT}: body too short")
        e, n = rsa_numbers(body[2 * CV_ID_LEN :], _WHAT)
        return cls(
            car=body[:CV_ID_LEN],
            chr=body[CV_ID_LEN : 2 * CV_ID_LEN],
            exponent=e,
            modulus=n,
            signature=kids[1][1].value,
            tbs=body,
        )

    @classmethod
    def create(
        cls,
        car: bytes,
        chr: bytes,
        public_key: rsa.RSAPublicKey,
        issuer_key: rsa.RSAPrivateKey,
    ) -> CvCertificate:
        """Build and sign a CV certificate (test vectors).

        :param car: issuer id (16 bytes).
        :param chr: holder id (16 bytes).
        :param public_key: the certified key.
        :param issuer_key: the issuer's private key.
        :raises UsageError: ids not 16 bytes.
        """
        if len(car) != CV_ID_LEN or len(chr) != CV_ID_LEN:
            raise UsageError("CAR and CHR must be 16 bytes")
        nums = public_key.public_numbers()
        body = cls(car, chr, nums.e, nums.n, b"").body
        return cls(car, chr, nums.e, nums.n, rsa_sign(issuer_key, body), body)

    @property
    def body(self) -> bytes:
        """The signed ``5F 4E`` value (as read if parsed)."""
        if self.tbs:
            return self.tbs
        return self.car + self.chr + rsa_key_tlvs(self.exponent, self.modulus)

    @property
    def is_self_issued(self) -> bool:
        """True if CAR == CHR."""
        return self.car == self.chr

    def public_key(self) -> rsa.RSAPublicKey:
        """The certified RSA public key.

        :raises BadResponse: numbers that do not form an RSA key.
        """
        return rsa_public_key(self.exponent, self.modulus, _WHAT)

    def verify_issuer(self, issuer_public_key: rsa.RSAPublicKey) -> None:
        """Check this certificate's signature with the issuer's key.

        :raises UsageError: ``issuer_public_key`` is not an RSA public key.
        :raises IssuerKeyMismatchError: (a :class:`DataIntegrityError`) the signature does
            not verify under that key: the key is not the issuer's, or the certificate was
            altered.
        """
        if not isinstance(issuer_public_key, rsa.RSAPublicKey):
            raise UsageError(f"the issuer key must be an RSA public key, got a "
                             f"{type(issuer_public_key).__name__}")
        if not rsa_verify(issuer_public_key, self.signature, self.body):
            raise IssuerKeyMismatchError(f"the card's {_WHAT} does not verify under the "
                                         "given issuer key")

    def __bytes__(self) -> bytes:
        return tlv(
            0x7F21,
            tlv(0x5F4E, self.body, long_form=True) + tlv(0x5F37, self.signature, long_form=True),
            long_form=True,
        )
