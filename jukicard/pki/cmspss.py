"""RSASSA-PSS in CMS SignerInfos (RFC 4056; RFC 8017 §9.1): the one AlgorithmIdentifier
shape jukicard writes and accepts, and the salt length of a signature made by a signer that
does not say which it used (the JPKI card, decision SIGN-1).

Accepted (:meth:`PssParameters.parse`, strict): ``id-RSASSA-PSS`` with parameters present;
``hashAlgorithm`` SHA-256/384/512 equal to the SignerInfo's ``digestAlgorithm``;
``maskGenAlgorithm`` MGF1 with that same hash; any ``saltLength`` from 0 to what the key
allows, checked *exactly* (a signature with another salt length does not verify);
``trailerField`` 1.  Absent parameters (RFC 4056 §3 requires them), the SHA-1 defaults,
another MGF, another trailer are typed errors.

Written (:meth:`PssParameters.algorithm_identifier`): the same, DER (``trailerField`` 1 is
the DEFAULT, so it is not encoded; ``saltLength`` 20 neither).

Nothing here does RSA or ASN.1 by hand: ``cryptography`` verifies, ``asn1crypto`` encodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asn1crypto import algos as _algos
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from jukicard.pki.cmserrors import MalformedCmsError, UnsupportedCmsAlgorithmError
from jukicard.pki.signatures import HASHES

__all__ = ["PSS_HASHES", "PssParameters", "max_salt_length", "find_salt_length"]

#: Hashes accepted with RSASSA-PSS in a CMS (the card's own PSS is SHA-256 only).
PSS_HASHES: frozenset[str] = frozenset({"sha256", "sha384", "sha512"})


def max_salt_length(key_size: int, hash_name: str) -> int:
    """The longest salt a ``key_size``-bit key allows with ``hash_name``
    (RFC 8017 §9.1.1: ``emLen - hLen - 2``, ``emLen = ceil((modBits - 1) / 8)``)."""
    return (key_size + 6) // 8 - HASHES[hash_name]().digest_size - 2


def _null_or_absent(value: Any) -> bool:
    return value.native is None


@dataclass(frozen=True)
class PssParameters:
    """RSASSA-PSS parameters of a SignerInfo: one hash for the message and MGF1, a salt
    length, trailer 1.

    :ivar hash_name: ``"sha256"``, ``"sha384"`` or ``"sha512"``.
    :ivar salt_length: salt length in bytes.
    """

    hash_name: str
    salt_length: int

    def padding(self) -> padding.PSS:
        """The ``cryptography`` padding that checks exactly these parameters."""
        return padding.PSS(mgf=padding.MGF1(HASHES[self.hash_name]()),
                           salt_length=self.salt_length)

    def algorithm_identifier(self) -> _algos.SignedDigestAlgorithm:
        """``signatureAlgorithm`` of a SignerInfo (DER: DEFAULT values not encoded)."""
        digest = {"algorithm": self.hash_name}
        return _algos.SignedDigestAlgorithm({
            "algorithm": "rsassa_pss",
            "parameters": _algos.RSASSAPSSParams({
                "hash_algorithm": digest,
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": digest},
                "salt_length": self.salt_length,
                "trailer_field": "trailer_field_bc",
            }),
        })

    @classmethod
    def parse(cls, algorithm: Any, digest_name: str, key_size: int) -> PssParameters:
        """The parameters of an asn1crypto ``SignedDigestAlgorithm`` of ``rsassa_pss``,
        checked strictly against the SignerInfo's ``digest_name`` and the signer key.

        :raises MalformedCmsError: parameters absent, a hash other than the digest
            algorithm, a negative salt length or one the key cannot hold.
        :raises UnsupportedCmsAlgorithmError: a hash other than SHA-2, a mask generation
            other than MGF1 with the same hash, hash parameters other than NULL, a trailer
            other than 1.
        """
        params = algorithm["parameters"]
        if not isinstance(params, _algos.RSASSAPSSParams):
            raise MalformedCmsError("RSASSA-PSS signature algorithm without parameters")
        hash_name = str(params["hash_algorithm"]["algorithm"].native)
        if hash_name not in PSS_HASHES:
            raise UnsupportedCmsAlgorithmError(
                f"RSASSA-PSS with hash {hash_name!r} not supported (SHA-2 only)")
        if hash_name != digest_name:
            raise MalformedCmsError(f"RSASSA-PSS hash {hash_name} does not match digest "
                                    f"algorithm {digest_name}")
        if not _null_or_absent(params["hash_algorithm"]["parameters"]):
            raise UnsupportedCmsAlgorithmError("RSASSA-PSS hash with parameters")
        mgf = params["mask_gen_algorithm"]
        if mgf["algorithm"].native != "mgf1":
            raise UnsupportedCmsAlgorithmError(
                f"RSASSA-PSS mask generation {mgf['algorithm'].dotted} not supported")
        mgf_hash = mgf["parameters"]
        if not isinstance(mgf_hash, _algos.DigestAlgorithm) or \
                str(mgf_hash["algorithm"].native) != hash_name or \
                not _null_or_absent(mgf_hash["parameters"]):
            raise UnsupportedCmsAlgorithmError("RSASSA-PSS MGF1 must use the signature's "
                                               "hash")
        if params["trailer_field"].native != "trailer_field_bc":
            raise UnsupportedCmsAlgorithmError("RSASSA-PSS trailer field must be 1")
        salt = params["salt_length"].native
        if not isinstance(salt, int) or salt < 0:
            raise MalformedCmsError("RSASSA-PSS salt length is negative")
        if salt > max_salt_length(key_size, hash_name):
            raise MalformedCmsError(f"RSASSA-PSS salt length {salt} is too long for a "
                                    f"{key_size}-bit key")
        return cls(hash_name, salt)


def find_salt_length(key: rsa.RSAPublicKey, signature: bytes, digest: bytes,
                     hash_name: str) -> int | None:
    """The salt length with which ``signature`` is a valid RSASSA-PSS signature (MGF1 with
    ``hash_name``) of the hash ``digest``, or ``None`` when none is.

    OpenSSL checks a given salt length exactly, so at most one length verifies.  The likely
    ones are tried first — the hash length (RFC 8017's usual choice, the emulator's), the
    maximum, 0, 20 (OpenSSL's old default) — then every other length the key allows: one
    public-key operation each, a few hundred at most for a 2048-bit key.
    """
    algo = HASHES[hash_name]()
    top = max_salt_length(key.key_size, hash_name)
    if top < 0:
        return None
    likely = [algo.digest_size, top, 0, 20]
    order = [s for i, s in enumerate(likely) if 0 <= s <= top and s not in likely[:i]]
    order += [s for s in range(top + 1) if s not in order]
    prehashed = Prehashed(algo)
    for salt in order:
        try:
            key.verify(signature, digest, padding.PSS(padding.MGF1(algo), salt), prehashed)
        except (InvalidSignature, ValueError):
            continue
        return salt
    return None
