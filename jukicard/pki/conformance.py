"""The strict profile: RFC 5280 §4 (certificates) and §5 (CRLs) conformance checks.

Path validation (§6, :mod:`jukicard.pki.pathstate`) takes certificates as they come; these
checks ask whether each certificate and CRL is one a conforming CA may issue.  Under
``Conformance.STRICT`` (the default of every policy) the validator runs them on every
certificate of the path (the trust anchor and the CRL signer's path included) and on every
CRL before it is used; ``Conformance.LENIENT`` skips them, never a §6 check.

Each check is a pure function over a :class:`~jukicard.pki.certs.Certificate` or
:class:`~jukicard.pki.crl.Crl` returning a :class:`Violation` (the rule's own
:class:`~jukicard.pki.reasons.Reason`) or ``None``; its docstring cites the RFC words it
enforces: MUST / MUST NOT statements and the RFC's ASN.1, never a SHOULD.
:func:`certificate_violation`, :func:`issued_by_violation` and :func:`crl_signer_violation`
run them in a fixed order and return the first violation; the CRL checks (§5) and
:func:`~jukicard.pki.conformance_crl.crl_violation` are in
:mod:`jukicard.pki.conformance_crl`.
A duplicate extension (§4.2) is refused when parsing, in every mode
(``malformed-duplicate-extension``).
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jukicard.pki.backend import (
    certificate_extensions,
    recognised_extension_oids,
)
from jukicard.pki.certs import Certificate
from jukicard.pki.der import check_der_framing
from jukicard.pki.reasons import Reason

__all__ = ["Violation", "certificate_violation", "issued_by_violation",
           "crl_signer_violation", "CERTIFICATE_CHECKS", "to_second"]

# extension OIDs (RFC 5280 §4.2, §5.2, §5.3)
_SDA, _SKI, _KU, _SAN, _BC = "2.5.29.9", "2.5.29.14", "2.5.29.15", "2.5.29.17", "2.5.29.19"
_CRL_NUMBER, _DELTA, _IDP, _CERT_ISSUER = "2.5.29.20", "2.5.29.27", "2.5.29.28", "2.5.29.29"
_NC, _AKI, _PC, _FRESHEST, _IAP = "2.5.29.30", "2.5.29.35", "2.5.29.36", "2.5.29.46", "2.5.29.54"
_AIA, _SIA = "1.3.6.1.5.5.7.1.1", "1.3.6.1.5.5.7.1.11"

#: Certificate extensions that §4.2 says conforming CAs MUST mark critical (basic
#: constraints and subjectAltName are conditional: see their own checks).
MUST_BE_CRITICAL: dict[str, str] = {
    _NC: "nameConstraints (§4.2.1.10)",
    _PC: "policyConstraints (§4.2.1.11)",
    _IAP: "inhibitAnyPolicy (§4.2.1.14)",
}
#: Certificate extensions that conforming CAs MUST mark non-critical (AKI and SKI have
#: their own reasons).
MUST_NOT_BE_CRITICAL: dict[str, str] = {
    _SDA: "subjectDirectoryAttributes (§4.2.1.8)",
    _FRESHEST: "freshestCRL (§4.2.1.15)",
    _AIA: "authorityInfoAccess (§4.2.2.1)",
    _SIA: "subjectInfoAccess (§4.2.2.2)",
}
#: CRL extensions and the criticality §5.2 gives them (True: critical).
CRL_CRITICALITY: dict[str, tuple[bool, str]] = {
    _AKI: (False, "authorityKeyIdentifier (§5.2.1, syntax and criticality of §4.2.1.1)"),
    _DELTA: (True, "deltaCRLIndicator (§5.2.4: \"a critical CRL extension\")"),
    _IDP: (True, "issuingDistributionPoint (§5.2.5: \"a critical CRL extension\")"),
    _FRESHEST: (False, "freshestCRL (§5.2.6)"),
    _AIA: (False, "authorityInfoAccess (§5.2.7)"),
}

#: Extensions whose ASN.1 in RFC 5280 is a ``SEQUENCE SIZE (1..MAX) OF``: subject
#: directory attributes, subjectAltName, issuerAltName, cRLDistributionPoints,
#: certificatePolicies, policyMappings, extKeyUsage, freshestCRL, AIA, SIA.
_SIZE_1_MAX = frozenset({_SDA, _SAN, "2.5.29.18", "2.5.29.31", "2.5.29.32", "2.5.29.33",
                         "2.5.29.37", _FRESHEST, _AIA, _SIA})

_MAX_INTEGER_OCTETS = 20


def to_second(t: _dt.datetime) -> _dt.datetime:
    """``t`` truncated to the second, the granularity of X.509 times (RFC 5280 §4.1.2.5,
    §5.1.2.4): every comparison of a validation time (moved by the clock skew) with a
    certificate or CRL time uses it, in every mode: 12:00:00.7 is still inside a validity
    that ends at 12:00:00."""
    return t.replace(microsecond=0)


@dataclass(frozen=True)
class Violation:
    """One way a certificate or CRL departs from the RFC 5280 profile.

    :ivar reason: the rule's own :class:`~jukicard.pki.reasons.Reason`.
    :ivar message: what is wrong and the RFC section (no personal data: names of end
        entities are never quoted).
    """

    reason: Reason
    message: str

    def __str__(self) -> str:
        return f"RFC 5280 profile: {self.message}"


_v = Violation  # the short name of the many returns below


def _tbs(cert: Certificate) -> Any:
    return cert.asn1["tbs_certificate"]


def _is_empty_name(name: Any) -> bool:
    return len(name.chosen) == 0


# ============================================================================ certificates
def check_version(cert: Certificate, **_: bool) -> Violation | None:
    """RFC 5280 §4.1.2.1: "When extensions are used, as expected in this profile, version
    MUST be 3"; unique identifiers "MUST only appear if the version is 2 or 3"."""
    tbs = _tbs(cert)
    if cert.extensions and cert.version != 3:
        return _v(Reason.CERT_VERSION, f"has extensions but is v{cert.version} (§4.1.2.1)")
    if cert.version < 2 and (tbs["issuer_unique_id"].contents is not None
                             or tbs["subject_unique_id"].contents is not None):
        return _v(Reason.CERT_VERSION, "has unique identifiers but is v1 (§4.1.2.1)")
    return None


def check_serial(cert: Certificate, **_: bool) -> Violation | None:
    """RFC 5280 §4.1.2.2: "The serial number MUST be a positive integer"; "Conforming CAs
    MUST NOT use serialNumber values longer than 20 octets"."""
    if cert.serial <= 0:
        return _v(Reason.SERIAL_NOT_POSITIVE, "serial number is not positive (§4.1.2.2)")
    if len(_tbs(cert)["serial_number"].contents) > _MAX_INTEGER_OCTETS:
        return _v(Reason.SERIAL_TOO_LONG, "serial number is over 20 octets (§4.1.2.2)")
    return None


def check_signature_fields(cert: Certificate, **_: bool) -> Violation | None:
    """RFC 5280 §4.1.1.2 / §4.1.2.3: the signatureAlgorithm field "MUST contain the same
    algorithm identifier as the signature field in the sequence tbsCertificate" (the same
    DER: absent and NULL parameters are two different identifiers)."""
    if cert.asn1["signature_algorithm"].dump() != _tbs(cert)["signature"].dump():
        return _v(Reason.SIGNATURE_ALGORITHM_MISMATCH,
                  "signatureAlgorithm differs from the TBS signature field (§4.1.1.2)")
    return None


def check_issuer_name(cert: Certificate, **_: bool) -> Violation | None:
    """RFC 5280 §4.1.2.4: "The issuer field MUST contain a non-empty distinguished name"."""
    if _is_empty_name(cert.issuer):
        return _v(Reason.ISSUER_EMPTY, "issuer name is empty (§4.1.2.4)")
    return None


def _time_violation(time: Any) -> str | None:
    """The §4.1.2.5 / §5.1.2.4 encoding rule a Time CHOICE breaks, or ``None``."""
    raw = bytes(time.chosen.contents)
    if time.name == "utc_time":
        # §4.1.2.5.1: YYMMDDHHMMSSZ, "MUST include seconds"
        if len(raw) != 13 or not raw[:12].isdigit() or raw[12:] != b"Z":
            return "UTCTime is not YYMMDDHHMMSSZ"
        return None
    # §4.1.2.5.2: YYYYMMDDHHMMSSZ, seconds, no fractional seconds
    if len(raw) != 15 or not raw[:14].isdigit() or raw[14:] != b"Z":
        return "GeneralizedTime is not YYYYMMDDHHMMSSZ"
    if 1950 <= int(raw[:4]) <= 2049:
        return "a date before 2050 is encoded as GeneralizedTime, not UTCTime"
    return None


def check_validity_encoding(cert: Certificate, **_: bool) -> Violation | None:
    """RFC 5280 §4.1.2.5: "CAs conforming to this profile MUST always encode certificate
    validity dates through the year 2049 as UTCTime; certificate validity dates in 2050 or
    later MUST be encoded as GeneralizedTime", with seconds and "Z" (§4.1.2.5.1–2)."""
    validity = _tbs(cert)["validity"]
    for field, label in (("not_before", "notBefore"), ("not_after", "notAfter")):
        problem = _time_violation(validity[field])
        if problem is not None:
            return _v(Reason.VALIDITY_TIME_ENCODING, f"{label}: {problem} (§4.1.2.5)")
    return None


def check_subject(cert: Certificate, *, issuer: bool = False, **_: bool) -> Violation | None:
    """RFC 5280 §4.1.2.6: "If the subject is a CA [...] the subject field MUST be populated
    with a non-empty distinguished name"; "If subject naming information is present only
    in the subjectAltName extension [...] then the subject name MUST be an empty sequence
    and the subjectAltName extension MUST be critical" (also §4.2.1.6)."""
    if not _is_empty_name(cert.subject):
        return None
    if issuer or cert.is_ca:
        return _v(Reason.CA_SUBJECT_EMPTY, "is a CA with an empty subject (§4.1.2.6)")
    san = cert.extensions.get(_SAN)
    if san is None or not san.critical:
        return _v(Reason.EMPTY_SUBJECT_SAN,
                  "has an empty subject without a critical subjectAltName (§4.1.2.6)")
    return None


def check_der(cert: Certificate, **_: bool) -> Violation | None:
    """RFC 5280 §4.1: a certificate is DER ("the DER encoding of the certificate"), so
    ``cryptography``'s DER parser must accept it (asn1crypto, which this package parses
    with, also reads BER forms: explicit DEFAULT values, non-minimal INTEGERs and lengths,
    BOOLEAN TRUE other than FF).  Certificates that parser cannot hold for reasons that are
    no DER matter (:func:`_strict_parser_reads`) are not checked here."""
    if not _strict_parser_reads(cert):
        return None
    try:
        cert.to_cryptography()
    except ValueError:
        return _v(Reason.CERT_NOT_DER, "is not DER: a strict DER parser refuses it (§4.1)")
    return None


def _strict_parser_reads(cert: Certificate) -> bool:
    """``cryptography`` can hold ``cert``: not v2 (it reads v1 and v3), no DSA key inheriting
    its parameters (RFC 3279 §2.3.2; PKITS 4.1.5).  Otherwise extensions are re-encoded."""
    return cert.version != 2 and not (cert.key_algorithm == "dsa" and not cert.key_has_params)


def check_extension_encoding(cert: Certificate, **_: bool) -> Violation | None:
    """RFC 5280 §4.1 / §4.2: extnValue is an OCTET STRING "which contains the DER encoding
    of an ASN.1 value": the values ``cryptography`` knows are read by its strict parser
    (which also refuses values its types cannot hold); every other value must be one
    DER-framed ASN.1 value that, when asn1crypto knows it, re-encodes to the same bytes
    (keyUsage too: DER writes its named bits without trailing zero bits).  Also the ASN.1
    of §4.2.1.1: authorityCertIssuer and authorityCertSerialNumber "MUST both be present
    or both be absent".  Run after the rules with a reason of their own."""
    read: frozenset[str] = frozenset()
    if _strict_parser_reads(cert):
        try:
            read = recognised_extension_oids(certificate_extensions(cert.to_cryptography()))
        except ValueError:
            return _v(Reason.MALFORMED_EXTENSION,
                      "an extension value is malformed: a strict DER parser refuses it (§4.2)")
    problem = _extension_values_problem(_tbs(cert)["extensions"], read)
    if problem is not None:
        return _v(Reason.MALFORMED_EXTENSION, f"{problem} (§4.2)")
    aki = cert.ext_value("authority_key_identifier")
    if aki is not None and (aki["authority_cert_issuer"].native is None) != \
            (aki["authority_cert_serial_number"].native is None):
        return _v(Reason.MALFORMED_EXTENSION, "authorityKeyIdentifier has only one of "
                  "authorityCertIssuer and authorityCertSerialNumber (§4.2.1.1)")
    policies = cert.ext_value("certificate_policies")
    if policies is not None:
        oids = [info["policy_identifier"].dotted for info in policies]
        if len(set(oids)) != len(oids):
            return _v(Reason.MALFORMED_EXTENSION, "certificatePolicies names a policy more "
                      "than once (§4.2.1.4)")
    return None


def _extension_values_problem(extensions: Any, read: frozenset[str]) -> str | None:
    """What is wrong with the asn1crypto ``extensions`` the strict parser did not ``read``
    (and keyUsage), or ``None``."""
    for ext in extensions:
        oid = ext["extn_id"].dotted
        if oid in read and oid != _KU:
            continue
        known = ext["extn_id"].native != oid
        problem = _value_encoding_problem(ext["extn_value"].contents,
                                          ext["extn_value"].parsed if known else None)
        if problem is not None:
            return f"extension {oid}: {problem}"
    return None


def _value_encoding_problem(raw: bytes, parsed: Any) -> str | None:
    """Whether ``raw`` is one DER-framed value and, when ``parsed`` (its asn1crypto
    decoding) is given, re-encodes to the same bytes."""
    try:
        check_der_framing(raw, depth=1)
    except ValueError:
        return "value is not one DER-framed ASN.1 value"
    except Exception:
        return "value is not an ASN.1 value"
    if parsed is None:
        return None
    try:
        again = type(parsed).load(raw, strict=True).dump(force=True)
    except Exception:
        return "value does not decode"
    if again != raw:
        return "value is not DER (it re-encodes differently)"
    return None


def check_empty_extensions(cert: Certificate, **_: bool) -> Violation | None:
    """RFC 5280 §4.2: an extension must hold what its ASN.1 requires.  keyUsage: "at least
    one of the bits MUST be set to 1" (§4.2.1.3); subjectAltName: "the sequence MUST contain
    at least one entry" (§4.2.1.6); a key identifier (§4.2.1.1, §4.2.1.2) identifies a key,
    so it is not empty; nameConstraints and policyConstraints MUST NOT be an
    empty sequence (§4.2.1.10, §4.2.1.11); every ``SEQUENCE SIZE (1..MAX)`` (certificate
    policies, policy mappings, extKeyUsage, distribution points, access descriptions:
    ``_SIZE_1_MAX``) holds at least one element."""
    for oid, ext in cert.extensions.items():
        value = ext.value
        if value is None:
            continue
        empty = False
        if oid == _KU:
            empty = not value.native
        elif oid == _SKI:  # KeyIdentifier: an OCTET STRING that identifies a key
            empty = not value.native
        elif oid == _AKI:  # a keyIdentifier, when present, is not empty either
            empty = value["key_identifier"].native == b""
        elif oid == _PC:
            empty = all(value[f].native is None for f in value)
        elif oid == _NC:  # an empty sequence, or an empty GeneralSubtrees SIZE (1..MAX)
            empty = all(value[f].native is None for f in value) or \
                any(value[f].native == [] for f in value)
        elif oid in _SIZE_1_MAX:
            empty = len(value) == 0
        if empty:
            return _v(Reason.EXTENSION_EMPTY, f"extension {ext.name} is empty (§4.2)")
    return None


def check_key_identifiers(cert: Certificate, *, self_signed: bool = False, **_: bool
                          ) -> Violation | None:
    """RFC 5280 §4.2.1.1: "The keyIdentifier field of the authorityKeyIdentifier extension
    MUST be included in all certificates generated by conforming CAs" except a CA's
    "self-signed" certificate; "Conforming CAs MUST mark this extension as non-critical".
    §4.2.1.2: the subjectKeyIdentifier "MUST appear in all conforming CA certificates, that
    is, all certificates including the basic constraints extension where the value of cA
    is TRUE"; "Conforming CAs MUST mark this extension as non-critical"."""
    aki = cert.extensions.get(_AKI)
    if aki is not None and aki.critical:
        return _v(Reason.AKI_CRITICAL, "authorityKeyIdentifier is critical (§4.2.1.1)")
    if not self_signed and cert.authority_key_identifier is None:
        return _v(Reason.AKI_MISSING, "has no authorityKeyIdentifier keyIdentifier and is "
                  "not self-signed (§4.2.1.1)")
    ski = cert.extensions.get(_SKI)
    if ski is not None and ski.critical:
        return _v(Reason.SKI_CRITICAL, "subjectKeyIdentifier is critical (§4.2.1.2)")
    if ski is None and cert.is_ca:
        return _v(Reason.SKI_MISSING, "is a CA without subjectKeyIdentifier (§4.2.1.2)")
    return None


def check_key_usage(cert: Certificate, *, issuer: bool = False, **_: bool
                    ) -> Violation | None:
    """RFC 5280 §4.2.1.3: "Conforming CAs MUST include this extension in certificates that
    contain public keys that are used to validate digital signatures on other public key
    certificates or CRLs"; "If the keyCertSign bit is asserted, then the cA bit in the
    basic constraints extension MUST also be asserted" (and §4.2.1.9: "If the cA boolean
    is not asserted, then the keyCertSign bit in the key usage extension MUST NOT be
    asserted": never on an end entity)."""
    ku = cert.key_usage
    if ku is None and issuer:
        return _v(Reason.KEY_USAGE_MISSING, "issues certificates but has no keyUsage (§4.2.1.3)")
    if ku is not None and "key_cert_sign" in ku and not cert.is_ca:
        return _v(Reason.KEY_CERT_SIGN_NOT_CA,
                  "asserts keyCertSign without basicConstraints cA TRUE (§4.2.1.3, §4.2.1.9)")
    return None


def check_basic_constraints(cert: Certificate, *, issuer: bool = False, **_: bool
                            ) -> Violation | None:
    """RFC 5280 §4.2.1.9: "Conforming CAs MUST include this extension in all CA
    certificates that contain public keys used to validate digital signatures on
    certificates and MUST mark the extension as critical in such certificates" (a
    certificate that issues in the path, the trust anchor included, or one with cA TRUE
    whose keyUsage allows keyCertSign); "CAs MUST NOT include the pathLenConstraint field
    unless the cA boolean is asserted and the key usage extension asserts the keyCertSign
    bit"."""
    bc_ext = cert.extensions.get(_BC)
    ku = cert.key_usage
    signs_certs = ku is None or "key_cert_sign" in ku
    if bc_ext is None:
        return _v(Reason.BASIC_CONSTRAINTS_MISSING, "issues certificates but has no "
                  "basicConstraints (§4.2.1.9)") if issuer else None
    if not bc_ext.critical and (issuer or (cert.is_ca and signs_certs)):
        return _v(Reason.BASIC_CONSTRAINTS_NOT_CRITICAL,
                  "is a CA whose basicConstraints is not critical (§4.2.1.9)")
    bc = cert.basic_constraints
    if bc is not None and bc[1] is not None and \
            not (bc[0] and ku is not None and "key_cert_sign" in ku):
        return _v(Reason.PATH_LENGTH_WITHOUT_CA,
                  "has pathLenConstraint without cA TRUE and keyCertSign (§4.2.1.9)")
    return None


def check_criticality(cert: Certificate, **_: bool) -> Violation | None:
    """RFC 5280 §4.2: the extensions conforming CAs MUST mark critical (nameConstraints
    §4.2.1.10, policyConstraints §4.2.1.11, inhibitAnyPolicy §4.2.1.14) and MUST mark
    non-critical (subjectDirectoryAttributes §4.2.1.8, freshestCRL §4.2.1.15,
    authorityInfoAccess §4.2.2.1, subjectInfoAccess §4.2.2.2).  Extensions for which the
    RFC only says SHOULD (keyUsage, policyMappings, subjectAltName with a subject,
    issuerAltName, cRLDistributionPoints) are not checked."""
    for oid, ext in cert.extensions.items():
        if not ext.critical and oid in MUST_BE_CRITICAL:
            return _v(Reason.EXTENSION_NOT_CRITICAL, f"{MUST_BE_CRITICAL[oid]} is not critical")
        if ext.critical and oid in MUST_NOT_BE_CRITICAL:
            return _v(Reason.EXTENSION_CRITICAL, f"{MUST_NOT_BE_CRITICAL[oid]} is critical")
    return None


def check_name_constraints_profile(cert: Certificate, **_: bool) -> Violation | None:
    """RFC 5280 §4.2.1.10: "The name constraints extension, which MUST be used only in a CA
    certificate"; "the minimum MUST be zero, and maximum MUST be absent"."""
    nc = cert.ext_value("name_constraints")
    if nc is None:
        return None
    if not cert.is_ca:
        return _v(Reason.NAME_CONSTRAINTS_PROFILE,
                  "has nameConstraints but is not a CA (§4.2.1.10)")
    for field in ("permitted_subtrees", "excluded_subtrees"):
        for subtree in nc[field] if nc[field].native is not None else ():
            if subtree["minimum"].native != 0 or subtree["maximum"].native is not None:
                return _v(Reason.NAME_CONSTRAINTS_PROFILE, "a name constraint has a minimum "
                          "other than 0 or a maximum (§4.2.1.10)")
    return None


#: The certificate checks, in the order they are run.
CERTIFICATE_CHECKS: tuple[Callable[..., Violation | None], ...] = (
    check_version, check_signature_fields, check_der, check_serial, check_issuer_name,
    check_validity_encoding, check_subject, check_key_identifiers, check_basic_constraints,
    check_key_usage, check_criticality, check_name_constraints_profile,
    check_empty_extensions, check_extension_encoding,
)


@functools.lru_cache(maxsize=1024)
def certificate_violation(cert: Certificate, *, issuer: bool, self_signed: bool
                          ) -> Violation | None:
    """The first RFC 5280 §4 rule ``cert`` breaks, or ``None``; memoised, so the anchor and
    the CAs shared by many validations are checked once.

    :param cert: the certificate.
    :param issuer: its key validates certificate signatures in the path being checked (an
        intermediate CA, or the trust anchor of a path that has more than the anchor).
    :param self_signed: it is self-issued and its signature verifies with its own key
        (then the authorityKeyIdentifier may be omitted).
    """
    for check in CERTIFICATE_CHECKS:
        found = check(cert, issuer=issuer, self_signed=self_signed)
        if found is not None:
            return found
    return None


def issued_by_violation(cert: Certificate, issuer: Certificate) -> Violation | None:
    """RFC 5280 §4.2.1.2: "The value of the subject key identifier MUST be the value placed
    in the key identifier field of the authority key identifier extension of certificates
    issued by the subject of this certificate": ``cert``'s AKI keyIdentifier equals its
    issuer's SKI when both are present.

    :param cert: the certificate.
    :param issuer: the certificate above it in the path.
    """
    aki = cert.authority_key_identifier
    ski = issuer.subject_key_identifier
    if aki is not None and ski is not None and aki != ski:
        return _v(Reason.AKI_MISMATCH, "authorityKeyIdentifier differs from its issuer's "
                  "subjectKeyIdentifier (§4.2.1.2)")
    return None


def crl_signer_violation(signer: Certificate) -> Violation | None:
    """RFC 5280 §4.2.1.3: keyUsage MUST be present in certificates whose key validates CRL
    signatures (``crl-issuer-lacks-cRLSign``: without it, cRLSign is not asserted).

    :param signer: the certificate whose key verified a CRL.
    """
    if signer.key_usage is None:
        return _v(Reason.CRL_NO_CRLSIGN, "the CRL signer has no keyUsage (§4.2.1.3)")
    return None
