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

__all__ = ["Reason", "INDETERMINATE_REASONS", "CERTIFICATE_PROFILE_REASONS",
           "CRL_PROFILE_REASONS"]


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
    #: The trust anchor certificate has a keyUsage without keyCertSign, so its key may not
    #: verify the certificates below it (§4.2.1.3; the anchor's other constraints —
    #: pathLen, nameConstraints, policyConstraints, critical extensions — give the codes
    #: the same failure would give below the anchor).
    ANCHOR_KEY_USAGE = "anchor-key-usage-lacks-keyCertSign"
    #: A bundled production trust-anchor file or its manifest does not match the manifest's
    #: fingerprints (a damaged or altered installation): nothing is trusted from it.
    ANCHOR_INTEGRITY = "trust-anchor-integrity"

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
    #: A CMS SignerInfo's ESS signing-certificate(-v2) attribute names another certificate
    #: than the one found for it (a certificate swapped in the CMS), or the signer
    #: certificate is ambiguous.
    SIGNER_CERTIFICATE_MISMATCH = "signer-certificate-mismatch"

    # ------------------------------------------------ PDF signatures (issue 13)
    #: A PDF (``signature verify signed.pdf``) carries no signed signature field.
    NO_SIGNATURE = "no-signature"
    #: The bytes are not a PDF pyHanko's strict reader accepts (header, xref, trailer…).
    MALFORMED_PDF = "malformed-pdf"
    #: The PDF is encrypted: its signatures are not verified.
    PDF_ENCRYPTED = "pdf-encrypted"
    #: The PDF exceeds a work limit (size, signatures, revisions).
    PDF_LIMIT = "pdf-limit"
    #: A signature whose /SubFilter is not ETSI.CAdES.detached or adbe.pkcs7.detached
    #: (adbe.x509.rsa_sha1 and unknown ones are refused).
    PDF_UNSUPPORTED_SUBFILTER = "pdf-unsupported-subfilter"
    #: /ByteRange (or /Contents) is not two ranges from 0 around exactly the /Contents
    #: hex string, inside the file.
    PDF_BYTE_RANGE = "pdf-byte-range-invalid"
    #: The signed bytes do not end at the end of the signature's own revision.
    PDF_NOT_COVERED = "pdf-revision-not-covered"
    #: A later (unsigned) revision changes more than signatures, DSS or time stamps.
    PDF_MODIFIED = "pdf-modified-after-signing"
    #: The signature time-stamp token (RFC 3161) does not parse.
    MALFORMED_TIMESTAMP = "malformed-timestamp"
    #: The signature time-stamp token does not verify (imprint, signature, TSA certificate).
    TIMESTAMP_INVALID = "timestamp-invalid"
    #: The time-stamp authority gave no usable RFC 3161 token (PAdES B-T signing).
    TIMESTAMP_FAILED = "timestamp-failed"

    # ------------------------------------------------ RFC 5280 §4/§5 profile (strict)
    # jukicard.pki.conformance: a certificate (§4) or CRL (§5) that a conforming CA may
    # not issue; checked under Conformance.STRICT (the default), skipped under LENIENT.
    CERT_VERSION = "certificate-version-mismatch"
    SERIAL_NOT_POSITIVE = "serial-number-not-positive"
    SERIAL_TOO_LONG = "serial-number-too-long"
    SIGNATURE_ALGORITHM_MISMATCH = "signature-algorithm-mismatch"
    ISSUER_EMPTY = "issuer-name-empty"
    VALIDITY_TIME_ENCODING = "validity-time-encoding"
    CA_SUBJECT_EMPTY = "ca-subject-empty"
    EMPTY_SUBJECT_SAN = "empty-subject-without-critical-san"
    CERT_NOT_DER = "malformed-certificate-encoding"
    MALFORMED_EXTENSION = "malformed-extension-value"
    #: Refused when parsing, in every mode (§4.2: one instance of an extension at most).
    DUPLICATE_EXTENSION = "malformed-duplicate-extension"
    EXTENSION_EMPTY = "extension-empty"
    AKI_MISSING = "authority-key-identifier-missing"
    AKI_CRITICAL = "authority-key-identifier-critical"
    AKI_MISMATCH = "authority-key-identifier-mismatch"
    SKI_MISSING = "subject-key-identifier-missing"
    SKI_CRITICAL = "subject-key-identifier-critical"
    KEY_USAGE_MISSING = "ca-key-usage-missing"
    KEY_CERT_SIGN_NOT_CA = "key-cert-sign-without-ca"
    BASIC_CONSTRAINTS_MISSING = "ca-basic-constraints-missing"
    BASIC_CONSTRAINTS_NOT_CRITICAL = "ca-basic-constraints-not-critical"
    PATH_LENGTH_WITHOUT_CA = "path-length-without-ca"
    EXTENSION_NOT_CRITICAL = "extension-must-be-critical"
    EXTENSION_CRITICAL = "extension-must-not-be-critical"
    NAME_CONSTRAINTS_PROFILE = "name-constraints-profile"
    CRL_VERSION = "crl-version-mismatch"
    CRL_NOT_DER = "crl-encoding-not-der"
    CRL_SIGNATURE_ALGORITHM_MISMATCH = "crl-signature-algorithm-mismatch"
    CRL_ISSUER_EMPTY = "crl-issuer-name-empty"
    CRL_TIME_ENCODING = "crl-time-encoding"
    CRL_EXTENSION_MALFORMED = "crl-extension-malformed"
    CRL_NUMBER_MISSING = "crl-number-missing"
    CRL_NUMBER_CRITICAL = "crl-number-critical"
    CRL_NUMBER_RANGE = "crl-number-out-of-range"
    CRL_AKI_MISSING = "crl-authority-key-identifier-missing"
    CRL_EXTENSION_CRITICALITY = "crl-extension-criticality"
    CRL_ENTRY_EXTENSION_INVALID = "crl-entry-extension-invalid"


#: The strict profile's reasons for a certificate (RFC 5280 §4).
CERTIFICATE_PROFILE_REASONS: frozenset[Reason] = frozenset({
    Reason.CERT_VERSION, Reason.SERIAL_NOT_POSITIVE, Reason.SERIAL_TOO_LONG,
    Reason.SIGNATURE_ALGORITHM_MISMATCH, Reason.ISSUER_EMPTY, Reason.VALIDITY_TIME_ENCODING,
    Reason.CA_SUBJECT_EMPTY, Reason.EMPTY_SUBJECT_SAN, Reason.CERT_NOT_DER,
    Reason.MALFORMED_EXTENSION,
    Reason.DUPLICATE_EXTENSION, Reason.EXTENSION_EMPTY, Reason.AKI_MISSING,
    Reason.AKI_CRITICAL, Reason.AKI_MISMATCH, Reason.SKI_MISSING, Reason.SKI_CRITICAL,
    Reason.KEY_USAGE_MISSING, Reason.KEY_CERT_SIGN_NOT_CA, Reason.BASIC_CONSTRAINTS_MISSING,
    Reason.BASIC_CONSTRAINTS_NOT_CRITICAL, Reason.PATH_LENGTH_WITHOUT_CA,
    Reason.EXTENSION_NOT_CRITICAL, Reason.EXTENSION_CRITICAL, Reason.NAME_CONSTRAINTS_PROFILE,
})
#: The strict profile's reasons for a CRL (RFC 5280 §5): the CRL is not used, so the
#: status they leave behind is undetermined.
CRL_PROFILE_REASONS: frozenset[Reason] = frozenset({
    Reason.CRL_VERSION, Reason.CRL_NOT_DER, Reason.CRL_SIGNATURE_ALGORITHM_MISMATCH,
    Reason.CRL_ISSUER_EMPTY,
    Reason.CRL_TIME_ENCODING, Reason.CRL_EXTENSION_MALFORMED, Reason.CRL_NUMBER_MISSING,
    Reason.CRL_NUMBER_CRITICAL, Reason.CRL_NUMBER_RANGE, Reason.CRL_AKI_MISSING,
    Reason.CRL_EXTENSION_CRITICALITY, Reason.CRL_ENTRY_EXTENSION_INVALID,
})

#: Reasons meaning "status could not be determined" (→ IndeterminateError, fail closed).
INDETERMINATE_REASONS: frozenset[Reason] = frozenset({
    Reason.UNDETERMINED, Reason.BAD_CRL_SIGNATURE, Reason.CRL_UNKNOWN_CRITICAL,
    Reason.CRL_STALE, Reason.CRL_NO_CRLSIGN, Reason.CRL_PATH, Reason.CRL_SCOPE,
}) | CRL_PROFILE_REASONS
