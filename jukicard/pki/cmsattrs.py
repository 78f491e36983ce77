"""The SignerInfo attributes a CAdES/PAdES verifier reads besides what :mod:`.cms` checks:
the ESS signing-certificate(-v2) attribute (RFC 5035) and the signature time-stamp token
(RFC 3161, unsigned attribute id-aa-signatureTimeStampToken, 1.2.840.113549.1.9.16.2.14).

* :func:`check_signing_certificate` — the ESS attribute, when present, must name the
  certificate that verified the signature (hash, and issuer/serial when given): a signer
  certificate swapped in the CMS bag for one with the same key is caught here.
* :func:`verify_signature_timestamp` — the token is parsed with bounds
  (:data:`MAX_TIMESTAMP_TOKEN`), verified with jukicard's CMS verifier, its message imprint
  must be the hash of the SignerInfo's signature value, and the TSA certificate must carry
  the (critical) extended key usage id-kp-timeStamping.  The TSA certificate's path is the
  caller's to validate (it is returned).

Everything raises typed :mod:`jukicard.pki` errors; asn1crypto's exceptions never escape.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from asn1crypto import cms as _cms
from asn1crypto import tsp as _tsp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from jukicard.errors import ValidationError
from jukicard.pki.backend import certificate_extensions, certificate_serial
from jukicard.pki.cms import MalformedCmsError, SignedData
from jukicard.pki.der import check_der_nesting
from jukicard.pki.errors import MalformedError, PkiError
from jukicard.pki.reasons import Reason
from jukicard.pki.signatures import HASHES

__all__ = [
    "MAX_TIMESTAMP_TOKEN",
    "MalformedTimestampError",
    "TimestampInvalidError",
    "SigningCertificateMismatchError",
    "TimestampCheck",
    "check_signing_certificate",
    "signer_infos",
    "verify_signature_timestamp",
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


class SigningCertificateMismatchError(PkiError):
    """The ESS signing-certificate(-v2) attribute names another certificate."""

    reason = Reason.SIGNING_CERTIFICATE_MISMATCH


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


def _attribute_values(attrs: Any, name: str) -> list[Any]:
    values: list[Any] = []
    if attrs.native is None:
        return values
    for attr in attrs:
        if attr["type"].native == name:
            values.extend(attr["values"])
    return values


def check_signing_certificate(signer_info: Any, certificate: x509.Certificate) -> bool:
    """Check the ESS signing-certificate-v2 (or v1) signed attribute of an asn1crypto
    ``SignerInfo`` against the certificate that verified its signature.

    :returns: ``True`` when the attribute is present and names ``certificate``; ``False``
        when there is none.
    :raises SigningCertificateMismatchError: the attribute names another certificate.
    :raises MalformedCmsError: the attribute is repeated or does not parse.
    """
    try:
        attrs = signer_info["signed_attrs"]
        v2 = _attribute_values(attrs, "signing_certificate_v2")
        v1 = _attribute_values(attrs, "signing_certificate")
        if len(v2) + len(v1) == 0:
            return False
        if len(v2) > 1 or len(v1) > 1:
            raise MalformedCmsError("the ESS signing-certificate attribute is repeated")
        ess = (v2 or v1)[0]
        ids = list(ess["certs"])
        if not ids:
            raise MalformedCmsError("the ESS signing-certificate attribute names no certificate")
        first = ids[0]
        hash_name = str(first["hash_algorithm"]["algorithm"].native) if v2 else "sha1"
        expected = first["cert_hash"].native
        serial = None
        if first["issuer_serial"].native is not None:
            serial = first["issuer_serial"]["serial_number"].native
    except ValidationError:
        raise
    except Exception as exc:  # asn1crypto: ValueError, TypeError, KeyError...
        raise MalformedCmsError("the ESS signing-certificate attribute does not parse") from exc
    if hash_name not in HASHES and hash_name != "sha1":
        raise MalformedCmsError(f"ESS certificate hash {hash_name!r} is not supported")
    der = certificate.public_bytes(Encoding.DER)
    if not isinstance(expected, bytes) or \
            not hmac.compare_digest(hashlib.new(hash_name, der).digest(), expected) or \
            (serial is not None and serial != certificate_serial(certificate)):
        raise SigningCertificateMismatchError(
            "the ESS signing-certificate attribute names another certificate than the one "
            "whose key verified the signature")
    return True


def _has_time_stamping_eku(cert: x509.Certificate) -> bool:
    try:
        ext = certificate_extensions(cert).get_extension_for_class(x509.ExtendedKeyUsage)
    except (x509.ExtensionNotFound, ValueError):
        return False
    return ext.critical and any(u.dotted_string == _TIME_STAMPING for u in ext.value)


def _token_der(value: Any) -> bytes:
    der = bytes(value.dump())
    if len(der) > MAX_TIMESTAMP_TOKEN:
        raise MalformedTimestampError(f"time-stamp token of {len(der)} bytes, above the "
                                      f"{MAX_TIMESTAMP_TOKEN}-byte limit")
    try:
        check_der_nesting(der, MalformedTimestampError, "time-stamp token", _MAX_NESTING)
    except ValueError as exc:
        raise MalformedTimestampError("time-stamp token does not parse") from exc
    return der


def verify_signature_timestamp(
    signer_info: Any, *, min_key_size: int | None = None, allow_sha1: bool = False,
) -> TimestampCheck | None:
    """Verify the signature time-stamp token of an asn1crypto ``SignerInfo``, if any.

    :param min_key_size: smallest RSA key accepted for the TSA.
    :param allow_sha1: accept SHA-1 in the token.
    :returns: ``None`` when the SignerInfo carries no token.
    :raises MalformedTimestampError: repeated, oversized or malformed token.
    :raises TimestampInvalidError: the token's signature, imprint or TSA certificate.
    """
    try:
        tokens = _attribute_values(signer_info["unsigned_attrs"], "signature_time_stamp_token")
        if not tokens:
            return None
        if len(tokens) > 1:
            raise MalformedTimestampError("more than one signature time-stamp token")
        der = _token_der(tokens[0])
        signature_value = bytes(signer_info["signature"].native)
    except ValidationError:
        raise
    except Exception as exc:  # asn1crypto parses lazily
        raise MalformedTimestampError("the unsigned attributes do not parse") from exc
    try:
        signed = SignedData.parse(der)
    except MalformedCmsError as exc:
        raise MalformedTimestampError("time-stamp token is not a CMS SignedData") from exc
    if signed.content_type != "tst_info" or signed.content is None:
        raise MalformedTimestampError("time-stamp token does not encapsulate a TSTInfo")
    try:
        tst = _tsp.TSTInfo.load(signed.content, strict=True)
        imprint = tst["message_imprint"]
        hash_name = str(imprint["hash_algorithm"]["algorithm"].native)
        hashed = imprint["hashed_message"].native
        gen_time = tst["gen_time"].native
    except Exception as exc:  # asn1crypto
        raise MalformedTimestampError("the TSTInfo does not parse") from exc
    if not isinstance(gen_time, _dt.datetime) or not isinstance(hashed, bytes):
        raise MalformedTimestampError("the TSTInfo lacks its time or imprint")
    if hash_name not in HASHES or (hash_name == "sha1" and not allow_sha1):
        raise TimestampInvalidError(f"time-stamp imprint hash {hash_name!r} not accepted")
    if not hmac.compare_digest(hashlib.new(hash_name, signature_value).digest(), hashed):
        raise TimestampInvalidError("the time-stamp token is over another signature value")
    try:
        res = signed.verify(min_key_size=min_key_size, allow_sha1=allow_sha1)
        if len(res.signers) != 1:
            raise TimestampInvalidError("a time-stamp token has exactly one SignerInfo")
        tsa = res.signers[0].certificate
        check_signing_certificate(signer_infos(signed)[0], tsa)
    except TimestampInvalidError:
        raise
    except ValidationError as exc:
        raise TimestampInvalidError(f"time-stamp token does not verify ({exc.reason}: "
                                    f"{exc})") from exc
    if not _has_time_stamping_eku(tsa):
        raise TimestampInvalidError("the TSA certificate lacks the critical extended key usage "
                                    "timeStamping")
    return TimestampCheck(gen_time.astimezone(_dt.UTC), hash_name, tsa, signed.certificates)


def signer_infos(signed: SignedData) -> list[Any]:
    """The asn1crypto ``SignerInfo`` objects of a parsed SignedData, in order (re-read from
    its DER: :class:`SignedData` keeps its asn1crypto tree private)."""
    return list(_cms.ContentInfo.load(signed.der)["content"]["signer_infos"])

