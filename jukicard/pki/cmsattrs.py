"""The signed attributes of a CMS SignerInfo (RFC 5652 §5.3, §11; RFC 5035; ETSI EN 319
122-1 CAdES-BES), read strictly.

Decisions:

- **DER only.**  RFC 5652 §5.3: the signed attributes "MUST be DER encoded, even if the
  rest of the structure is BER encoded", and §5.4 signs their DER ``SET OF``.  A verifier
  that hashes them as received (OpenSSL 3.0, measured; jukicard before) and one that
  re-encodes them as DER first, as §5.4 reads, disagree exactly when they are not DER —
  attributes not sorted (X.690 §11.6), indefinite or over-long lengths — so such a
  SignerInfo is refused as malformed rather than judged by either reading (stricter than
  OpenSSL).  The bytes hashed are then the received ones, which are the DER ones.  The
  rest of the SignedData may be BER, as RFC 5652 allows.
- **Each attribute type once**, with at least one value; ``contentType``,
  ``messageDigest``, ``signingTime`` and the ESS signing-certificate attributes with exactly
  one value.  At most :data:`MAX_SIGNED_ATTRIBUTES` attributes, counted on the raw bytes.
- **ESS signing certificate.**  When ``signingCertificateV2`` (RFC 5035, any SHA-2 hash)
  or ``signingCertificate`` (RFC 2634, SHA-1: there it only identifies a certificate) is
  present, its first ``ESSCertID`` must name the signer certificate: the hash of the
  certificate, and the issuer and serial when ``issuerSerial`` is given.  Both present:
  both must match.  A SignerInfo with a matching attribute is CAdES-BES (the attribute is
  what binds the signature to the certificate rather than only to its key).
- Unknown attributes, signed or not, are accepted and ignored (none can be "critical" in
  CMS); unsigned attributes are never needed to verify a signature.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from asn1crypto import cms as _cms
from asn1crypto import tsp as _tsp  # registers the ESS signing-certificate attributes
from asn1crypto import x509 as _ax509

from jukicard.pki.cmserrors import (
    MalformedCmsError,
    SignerCertificateMismatchError,
    UnsupportedCmsAlgorithmError,
)
from jukicard.pki.der import count_values, is_canonical_der
from jukicard.pki.signatures import HASHES

__all__ = ["MAX_SIGNED_ATTRIBUTES", "MAX_SIGNED_ATTRIBUTES_BYTES", "MAX_ESS_CERT_IDS",
           "signed_attribute_values", "signed_attributes_der", "signing_certificate_match"]

assert _tsp.SigningCertificateV2 is not None  # the import registers the attribute types

#: The most signed attributes a SignerInfo may carry (CAdES-BES needs four).
MAX_SIGNED_ATTRIBUTES = 32
#: The largest signed attributes (DER bytes; a CAdES-BES set is about 300 bytes): they are
#: re-encoded once to check that they are DER.
MAX_SIGNED_ATTRIBUTES_BYTES = 64 * 1024
#: The most values one signed attribute, or ESSCertIDs one signing-certificate
#: attribute, may carry.
MAX_ESS_CERT_IDS = MAX_ATTRIBUTE_VALUES = 16

_SINGLE_VALUED = ("content_type", "message_digest", "signing_time", "signing_certificate",
                  "signing_certificate_v2")
_ESS = (("signing_certificate_v2", None), ("signing_certificate", "sha1"))


def _attribute_name(attr: Any) -> str:
    oid = attr["type"]
    native = oid.native
    return str(native) if native is not None else str(oid.dotted)


def signed_attribute_values(signed_attrs: Any) -> dict[str, list[Any]]:
    """The values of each signed attribute, by asn1crypto name (or dotted OID), after the
    checks of the module docstring (DER-ness: :func:`signed_attributes_der`).

    :param signed_attrs: the SignerInfo's ``signed_attrs`` (asn1crypto, present).
    :raises MalformedCmsError: too many attributes or values, an attribute
        repeated or without value, a single-valued attribute with several,
        ``contentType`` or ``messageDigest`` missing.
    """
    raw = signed_attrs.contents or b""
    if len(raw) > MAX_SIGNED_ATTRIBUTES_BYTES:
        raise MalformedCmsError(f"signed attributes of more than "
                                f"{MAX_SIGNED_ATTRIBUTES_BYTES} bytes")
    if count_values(raw, MAX_SIGNED_ATTRIBUTES) > MAX_SIGNED_ATTRIBUTES:
        raise MalformedCmsError(f"more than {MAX_SIGNED_ATTRIBUTES} signed attributes")
    values: dict[str, list[Any]] = {}
    for attr in signed_attrs:
        name = _attribute_name(attr)
        if name in values:
            raise MalformedCmsError(f"signed attribute {name} appears more than once")
        if count_values(attr["values"].contents or b"", MAX_ATTRIBUTE_VALUES) > \
                MAX_ATTRIBUTE_VALUES:
            raise MalformedCmsError(f"signed attribute {name} has too many values")
        values[name] = list(attr["values"])
        if not values[name]:
            raise MalformedCmsError(f"signed attribute {name} has no value")
        if name in _SINGLE_VALUED and len(values[name]) != 1:
            raise MalformedCmsError(f"signed attribute {name} must have exactly one value")
    for required in ("content_type", "message_digest"):
        if required not in values:
            raise MalformedCmsError(f"signed attribute {required} must be present exactly "
                                    "once")
    return values


def signed_attributes_der(signed_attrs: Any) -> bytes:
    """The bytes the signature covers: the signed attributes as received, with the
    ``[0] IMPLICIT`` tag replaced by the SET OF tag (RFC 5652 §5.4) — after checking that
    they are DER.

    :raises MalformedCmsError: they are not DER.
    """
    # the [0] element exactly as received: asn1crypto's dump() would re-write a BER
    # (indefinite) header as DER, hiding what was signed; its parser keeps the original
    header = getattr(signed_attrs, "_header", None)
    received = signed_attrs.dump() if header is None else \
        bytes(header) + bytes(signed_attrs.contents or b"") + \
        bytes(getattr(signed_attrs, "_trailer", b"") or b"")
    if len(received) > MAX_SIGNED_ATTRIBUTES_BYTES:
        raise MalformedCmsError(f"signed attributes of more than "
                                f"{MAX_SIGNED_ATTRIBUTES_BYTES} bytes")
    der = b"\x31" + received[1:]
    if received[:1] != b"\xa0" or not is_canonical_der(der):
        raise MalformedCmsError("the signed attributes are not DER (RFC 5652 §5.3: sorted "
                                "SET OF, definite minimal lengths)")
    try:
        _cms.CMSAttributes.load(der, strict=True)
    except Exception as exc:  # noqa: BLE001 - asn1crypto: ValueError, TypeError...
        raise MalformedCmsError("the signed attributes could not be parsed") from exc
    return der


def names_equal(a: _ax509.Name, b: _ax509.Name) -> bool:
    """RFC 5280 §7.1 name equality (asn1crypto's, with LDAP string preparation), after the
    cheap case: the same DER bytes are the same name (string preparation costs about a
    millisecond per comparison of two JPKI names)."""
    return bool(a.dump() == b.dump() or a == b)


def _issuer_serial_matches(issuer_serial: Any, cert: _ax509.Certificate) -> bool:
    if issuer_serial["serial_number"].native != cert.serial_number:
        return False
    return any(gn.name == "directory_name" and names_equal(gn.chosen, cert.issuer)
               for gn in issuer_serial["issuer"])


def signing_certificate_match(values: dict[str, list[Any]], cert_der: bytes) -> bool:
    """Whether the ESS signing-certificate attribute(s) name the certificate ``cert_der``.

    :returns: ``True`` when at least one is present and every one present matches;
        ``False`` when none is present.
    :raises SignerCertificateMismatchError: one names another certificate.
    :raises UnsupportedCmsAlgorithmError: its hash is unknown.
    :raises MalformedCmsError: it lists no certificate, or too many.
    """
    present = False
    cert = _ax509.Certificate.load(cert_der)
    for name, fixed_hash in _ESS:
        if name not in values:
            continue
        present = True
        certs = values[name][0]["certs"]
        if count_values(certs.contents or b"", MAX_ESS_CERT_IDS) > MAX_ESS_CERT_IDS:
            raise MalformedCmsError(f"{name} lists more than {MAX_ESS_CERT_IDS} certificates")
        if len(certs) == 0:
            raise MalformedCmsError(f"{name} lists no certificate")
        first = certs[0]  # RFC 5035 §3: the first one is the signer's
        hash_name = fixed_hash or str(first["hash_algorithm"]["algorithm"].native)
        if hash_name not in HASHES:
            raise UnsupportedCmsAlgorithmError(f"{name} hash {hash_name!r} not supported")
        expected = first["cert_hash"].native
        if not isinstance(expected, bytes) or not hmac.compare_digest(
                expected, hashlib.new(hash_name, cert_der).digest()):
            raise SignerCertificateMismatchError(
                f"the signer certificate is not the one the {name} attribute names "
                "(certificate hash differs)")
        issuer_serial = first["issuer_serial"]
        if issuer_serial.native is not None and not _issuer_serial_matches(issuer_serial,
                                                                           cert):
            raise SignerCertificateMismatchError(
                f"the signer certificate is not the one the {name} attribute names "
                "(issuer and serial differ)")
    return present
