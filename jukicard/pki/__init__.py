"""jukicard.pki: RFC 5280 certificate path validation with CRL revocation.

Typical use::

    from jukicard.pki import (ValidationPolicy, Validator, CrlRevocationSource,
                              load_certificate)
    policy = ValidationPolicy.jpki([load_certificate("jpki-auth-ca.der")])
    # every policy holds certificates and CRLs to the RFC 5280 §4/§5 profile
    # (Conformance.STRICT); conformance=Conformance.LENIENT skips only those checks
    validator = Validator(policy, revocation=CrlRevocationSource(["auth-ca.crl"]))
    result = validator.validate(cert_der, at=trusted_now)   # never raises for a bad cert
    result.raise_for_status()                               # or: validator.check(...)

This package imports only :mod:`jukicard.errors` from jukicard (plus cryptography,
asn1crypto and the standard library).
"""

from __future__ import annotations

from jukicard.pki.backend import load_public_key, verify_signature
from jukicard.pki.certs import Certificate, Extension, load_certificate, load_certificates
from jukicard.pki.crl import (
    ALL_REASONS,
    Crl,
    IssuingDistributionPoint,
    RevokedEntry,
    load_crl,
    load_crls,
)
from jukicard.pki.errors import (
    MalformedCertificateError,
    MalformedCrlError,
    MalformedError,
    PathIndeterminateError,
    PathValidationError,
    PkiError,
    UnsupportedAlgorithmError,
)
from jukicard.pki.names import format_name, name_key, names_equal, prep_string
from jukicard.pki.policy import (
    ANY_POLICY,
    JPKI_HASH_ALGORITHMS,
    JPKI_SIGNATURE_ALGORITHMS,
    PERMISSIVE_HASH_ALGORITHMS,
    PERMISSIVE_SIGNATURE_ALGORITHMS,
    Conformance,
    RevocationRule,
    ValidationPolicy,
)
from jukicard.pki.reasons import INDETERMINATE_REASONS, Reason
from jukicard.pki.result import (
    CertRevocation,
    RevocationState,
    RevocationStatus,
    ValidationResult,
)
from jukicard.pki.revocation import (
    CrlFetcher,
    CrlRevocationSource,
    DistributionPoint,
    RevocationContext,
    RevocationSource,
    dirname_key,
    distribution_points,
)
from jukicard.pki.store import CertificatePool, CrlStore, TrustStore
from jukicard.pki.validate import Validator

__all__ = [
    "ALL_REASONS", "ANY_POLICY", "INDETERMINATE_REASONS", "JPKI_HASH_ALGORITHMS",
    "JPKI_SIGNATURE_ALGORITHMS", "PERMISSIVE_HASH_ALGORITHMS",
    "PERMISSIVE_SIGNATURE_ALGORITHMS",
    "CertRevocation", "Certificate", "CertificatePool", "Conformance", "Crl", "CrlFetcher",
    "CrlRevocationSource", "CrlStore", "DistributionPoint", "Extension",
    "IssuingDistributionPoint", "MalformedCertificateError", "MalformedCrlError",
    "MalformedError", "PathIndeterminateError", "PathValidationError", "PkiError", "Reason",
    "RevocationContext", "RevocationRule", "RevocationSource", "RevocationState",
    "RevocationStatus", "RevokedEntry", "TrustStore", "UnsupportedAlgorithmError",
    "ValidationPolicy", "ValidationResult", "Validator", "dirname_key", "distribution_points",
    "format_name", "load_certificate", "load_certificates", "load_crl", "load_crls",
    "load_public_key", "name_key", "names_equal", "prep_string", "verify_signature",
]
