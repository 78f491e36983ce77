"""The signature time-stamp token of a CAdES/PAdES SignerInfo (RFC 3161, unsigned attribute
id-aa-signatureTimeStampToken, 1.2.840.113549.1.9.16.2.14), as a verifier reads it.

:func:`verify_signature_timestamp` takes the token values :class:`jukicard.pki.cms.CmsSigner`
carries (``timestamp_tokens``) and the signature value they must be over: the token is
parsed with bounds (:data:`MAX_TIMESTAMP_TOKEN`, nesting), verified with jukicard's CMS
verifier (which also checks its ESS signing-certificate attribute), its message imprint must
be the hash of the signature value, and the TSA certificate must carry the critical extended
key usage id-kp-timeStamping.  The TSA certificate's path is the caller's to validate (it is
returned).

Everything raises typed :mod:`jukicard.pki` errors; asn1crypto's exceptions never escape.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
from dataclasses import dataclass

from asn1crypto import tsp as _tsp
from cryptography import x509

from jukicard.errors import UsageError, ValidationError
from jukicard.pki.backend import certificate_extensions
from jukicard.pki.cms import MalformedCmsError, SignedData
from jukicard.pki.der import check_der_nesting
from jukicard.pki.errors import MalformedError, PkiError
from jukicard.pki.reasons import Reason
from jukicard.pki.signatures import HASHES

__all__ = [
    "MAX_TIMESTAMP_TOKEN",
    "MalformedTimestampError",
    "TimestampInvalidError",
    "TimestampCheck",
    "verify_signature_timestamp",
    "verify_timestamp_token",
]

#: Largest time-stamp token parsed (real tokens with their TSA chain are under 16 KiB).
MAX_TIMESTAMP_TOKEN = 256 * 1024
#: Deepest DER nesting accepted in a token (asn1crypto decodes recursively).
_MAX_NESTING = 48
_TIME_STAMPING = "1.3.6.1.5.5.7.3.8"


class MalformedTimestampError(MalformedError):
    """The signature time-stamp token is not a well-formed RFC 3161 TimeStampToken."""

    reason = Reason.MALFORMED_TIMESTAMP


class TimestampInvalidError(PkiError):
    """The time-stamp token does not verify: imprint, signature or TSA certificate."""

    reason = Reason.TIMESTAMP_INVALID


@dataclass(frozen=True)
class TimestampCheck:
    """A verified signature time-stamp token.

    :ivar time: genTime of the TSTInfo (aware UTC).
    :ivar hash_name: the message imprint's hash (``"sha256"``…).
    :ivar tsa_certificate: the certificate that signed the token.
    :ivar certificates: every certificate carried in the token (path-building candidates).
    """

    time: _dt.datetime
    hash_name: str
    tsa_certificate: x509.Certificate
    certificates: tuple[x509.Certificate, ...]


def _has_time_stamping_eku(cert: x509.Certificate) -> bool:
    try:
        ext = certificate_extensions(cert).get_extension_for_class(x509.ExtendedKeyUsage)
    except (x509.ExtensionNotFound, ValueError):
        return False
    return ext.critical and any(u.dotted_string == _TIME_STAMPING for u in ext.value)


def _token_der(value: bytes) -> bytes:
    der = bytes(value)
    if len(der) > MAX_TIMESTAMP_TOKEN:
        raise MalformedTimestampError(f"time-stamp token of {len(der)} bytes, above the "
                                      f"{MAX_TIMESTAMP_TOKEN}-byte limit")
    try:
        check_der_nesting(der, MalformedTimestampError, "time-stamp token", _MAX_NESTING)
    except ValueError as exc:
        raise MalformedTimestampError("time-stamp token does not parse") from exc
    return der


def verify_signature_timestamp(
    tokens: tuple[bytes, ...], signature_value: bytes, *, min_key_size: int | None = None,
    allow_sha1: bool = False,
) -> TimestampCheck | None:
    """Verify the signature time-stamp token of a SignerInfo, if any.

    :param tokens: the DER token values (:attr:`jukicard.pki.cms.CmsSigner.timestamp_tokens`).
    :param signature_value: the SignerInfo's signature the token must be over.
    :param min_key_size: smallest RSA key accepted for the TSA.
    :param allow_sha1: accept SHA-1 in the token.
    :returns: ``None`` when there is no token.
    :raises MalformedTimestampError: repeated, oversized or malformed token.
    :raises TimestampInvalidError: the token's signature, imprint or TSA certificate.
    """
    if not tokens:
        return None
    if len(tokens) > 1:
        raise MalformedTimestampError("more than one signature time-stamp token")
    return verify_timestamp_token(tokens[0], data=bytes(signature_value),
                                  min_key_size=min_key_size, allow_sha1=allow_sha1)


def verify_timestamp_token(
    token: bytes, *, data: bytes | None = None, imprint: tuple[str, bytes] | None = None,
    min_key_size: int | None = None, allow_sha1: bool = False,
) -> TimestampCheck:
    """Verify one RFC 3161 TimeStampToken (DER ContentInfo) over ``data``, or for the
    message ``imprint`` ``(hash name, value)`` a requester asked for (exactly one of them).

    Used by the verifier (a signature's token) and by the PAdES signer's TSA client (the
    token a TSA just returned): one check, one strictness.

    :raises MalformedTimestampError: oversized or malformed token.
    :raises TimestampInvalidError: the token's signature, imprint or TSA certificate.
    """
    if (data is None) == (imprint is None):
        raise UsageError("give the time-stamped data or the expected imprint (one of them)")
    der = _token_der(token)
    try:
        signed = SignedData.parse(der)
    except MalformedCmsError as exc:
        raise MalformedTimestampError("time-stamp token is not a CMS SignedData") from exc
    if signed.content_type != "tst_info" or signed.content is None:
        raise MalformedTimestampError("time-stamp token does not encapsulate a TSTInfo")
    try:
        tst = _tsp.TSTInfo.load(signed.content, strict=True)
        message_imprint = tst["message_imprint"]
        hash_name = str(message_imprint["hash_algorithm"]["algorithm"].native)
        hashed = message_imprint["hashed_message"].native
        gen_time = tst["gen_time"].native
    except Exception as exc:  # asn1crypto
        raise MalformedTimestampError("the TSTInfo does not parse") from exc
    if not isinstance(gen_time, _dt.datetime) or not isinstance(hashed, bytes):
        raise MalformedTimestampError("the TSTInfo lacks its time or imprint")
    if hash_name not in HASHES or (hash_name == "sha1" and not allow_sha1):
        raise TimestampInvalidError(f"time-stamp imprint hash {hash_name!r} not accepted")
    if imprint is not None:
        if hash_name != imprint[0] or not hmac.compare_digest(hashed, bytes(imprint[1])):
            raise TimestampInvalidError("the time-stamp token is for other data (message "
                                        "imprint)")
    elif not hmac.compare_digest(hashlib.new(hash_name, bytes(data or b"")).digest(), hashed):
        raise TimestampInvalidError("the time-stamp token is over another signature value")
    try:
        res = signed.verify(min_key_size=min_key_size, allow_sha1=allow_sha1)
        if len(res.signers) != 1:
            raise TimestampInvalidError("a time-stamp token has exactly one SignerInfo")
        tsa = res.signers[0].certificate
    except TimestampInvalidError:
        raise
    except ValidationError as exc:
        raise TimestampInvalidError(f"time-stamp token does not verify ({exc.reason}: "
                                    f"{exc})") from exc
    if not _has_time_stamping_eku(tsa):
        raise TimestampInvalidError("the TSA certificate lacks the critical extended key usage "
                                    "timeStamping")
    return TimestampCheck(gen_time.astimezone(_dt.UTC), hash_name, tsa, signed.certificates)
