"""The reason codes of :mod:`jukicard.pki`: one ``str`` enum, the vocabulary of the NIST PKITS
index (``vectors/pkits/pkits-index.json``) plus our own.

:class:`Reason` is a :class:`enum.StrEnum`: a member *is* its string value, so it compares
equal to it, hashes like it and serialises to it in JSON (``"revoked"``, not
``"Reason.REVOKED"``).  :attr:`ValidationResult.reason <jukicard.pki.result.ValidationResult>`
and the ``reason`` of every error this package raises carry a member.

This module imports nothing from jukicard, so every other module of the package may use it.
"""

from __future__ import annotations

import enum

__all__ = ["Reason", "INDETERMINATE_REASONS"]


class Reason(enum.StrEnum):
    """Machine-readable reason codes (the string values are stable: scripts match them)."""

    # ------------------------------------------------------------ path validation outcome
    OK = "ok"
    BAD_SIGNATURE = "bad-certificate-signature"
    NOT_YET_VALID = "certificate-not-yet-valid"
    EXPIRED = "certificate-expired"
    NO_ISSUER = "no-valid-issuer-or-name-chaining"
    NOT_A_CA = "issuer-not-a-ca"
    PATH_LENGTH = "path-length-exceeded"
    REVOKED = "revoked"
    UNDETERMINED = "revocation-status-undetermined"
    BAD_CRL_SIGNATURE = "bad-crl-signature"
    CRL_UNKNOWN_CRITICAL = "unknown-critical-crl-or-entry-extension"
    CRL_STALE = "crl-stale-nextUpdate-passed"
    CRL_NO_CRLSIGN = "crl-issuer-lacks-cRLSign"
    CRL_PATH = "crl-path-validation-error"
    CRL_SCOPE = "crl-scope-mismatch"
    UNKNOWN_CRITICAL = "unknown-critical-certificate-extension"
    POLICY_MAPPING = "invalid-policy-mapping"
    NO_EXPLICIT_POLICY = "no-acceptable-explicit-policy"
    NC_PERMITTED = "name-constraints-permitted-violation"
    NC_EXCLUDED = "name-constraints-excluded-violation"
    NC_UNSUPPORTED = "name-constraints-unsupported"
    UNSUPPORTED_ALGORITHM = "unsupported-algorithm"
    KEY_TOO_SMALL = "key-too-small"
    JPKI_PROFILE = "jpki-profile-violation"
    MALFORMED = "malformed-certificate"
    NO_ANCHORS = "no-trust-anchors"

    # ------------------------------------------------------------ bounded work (issue 9)
    #: Path building ran out of its budget (candidates, signature checks, paths) or found
    #: only paths deeper than ``max_chain_depth``, before a valid path was found.
    PATH_BUILDING_LIMIT = "path-building-limit"
    #: Checking names against name constraints would take more comparisons than allowed.
    NC_LIMIT = "name-constraints-limit"

    # ------------------------------------------------------------ errors of other operations
    #: A failure with no more specific code (the library-wide default).
    INVALID = "invalid"
    #: Any input that does not parse (base of the ``malformed-*`` codes).
    MALFORMED_INPUT = "malformed"
    MALFORMED_CRL = "malformed-crl"
    MALFORMED_PEM = "malformed-pem"
    MALFORMED_NAME = "malformed-name"
    MALFORMED_JPKI_SAN = "malformed-jpki-san"
    MALFORMED_CMS = "malformed-cms"
    #: A path failed; the error carries no more specific code.
    PATH_INVALID = "path-validation-error"
    #: A document signature (PKCS#1 v1.5 or CMS) does not match.
    SIGNATURE_INVALID = "bad-signature"
    WEAK_KEY = "weak-key"
    WEAK_HASH = "weak-hash"
    UNSUPPORTED_KEY = "unsupported-key"
    SIGNER_NOT_FOUND = "signer-not-found"
    CRL_FETCH_FAILED = "crl-fetch-failed"


#: Reasons meaning "status could not be determined" (→ IndeterminateError, fail closed).
INDETERMINATE_REASONS: frozenset[Reason] = frozenset({
    Reason.UNDETERMINED, Reason.BAD_CRL_SIGNATURE, Reason.CRL_UNKNOWN_CRITICAL,
    Reason.CRL_STALE, Reason.CRL_NO_CRLSIGN, Reason.CRL_PATH, Reason.CRL_SCOPE,
})
