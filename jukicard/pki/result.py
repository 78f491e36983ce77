"""Validation results: a frozen :class:`ValidationResult`, never an exception mid-batch.

Reason codes (machine-readable, the vocabulary of the NIST PKITS index plus our own)::

    bad-certificate-signature   certificate-not-yet-valid   certificate-expired
    no-valid-issuer-or-name-chaining   issuer-not-a-ca   path-length-exceeded
    revoked   revocation-status-undetermined   bad-crl-signature
    unknown-critical-crl-or-entry-extension   crl-stale-nextUpdate-passed
    crl-issuer-lacks-cRLSign   crl-path-validation-error   crl-scope-mismatch
    unknown-critical-certificate-extension   invalid-policy-mapping
    no-acceptable-explicit-policy   name-constraints-permitted-violation
    name-constraints-excluded-violation   name-constraints-unsupported
    unsupported-algorithm   key-too-small   jpki-profile-violation
    malformed-certificate   no-trust-anchors
"""

from __future__ import annotations

import datetime as _dt
import enum
from dataclasses import dataclass, field

from jukicard.errors import ExpiredError, RevokedError, ValidationError
from jukicard.pki.certs import Certificate
from jukicard.pki.errors import (
    MalformedCertificateError,
    PathIndeterminateError,
    PathValidationError,
    UnsupportedAlgorithmError,
)

__all__ = [
    "Reason",
    "INDETERMINATE_REASONS",
    "RevocationState",
    "RevocationStatus",
    "CertRevocation",
    "ValidationResult",
]


class Reason:
    """Reason-code constants."""

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


#: Reasons meaning "status could not be determined" (→ IndeterminateError, fail closed).
INDETERMINATE_REASONS: frozenset[str] = frozenset({
    Reason.UNDETERMINED, Reason.BAD_CRL_SIGNATURE, Reason.CRL_UNKNOWN_CRITICAL,
    Reason.CRL_STALE, Reason.CRL_NO_CRLSIGN, Reason.CRL_PATH, Reason.CRL_SCOPE,
})


class RevocationState(enum.Enum):
    """The three answers of a revocation source (style §10)."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class RevocationStatus:
    """Answer of a :class:`~jukicard.pki.revocation.RevocationSource` for one certificate.

    :ivar state: GOOD / REVOKED / UNKNOWN.
    :ivar revoked_at: revocation date (REVOKED only).
    :ivar revocation_reason: RFC 5280 reason name (``keyCompromise``...) or None.
    :ivar source: the CRL(s) used, e.g. ``"CRL of 'Good CA' #1"``.
    :ivar problem: for UNKNOWN, the reason code of the most relevant CRL problem
        (``crl-stale-nextUpdate-passed``...), ``revocation-status-undetermined`` otherwise.
    :ivar message: human-readable detail.
    """

    state: RevocationState
    revoked_at: _dt.datetime | None = None
    revocation_reason: str | None = None
    source: str | None = None
    problem: str | None = None
    message: str = ""

    @classmethod
    def good(cls, source: str | None = None) -> RevocationStatus:
        return cls(RevocationState.GOOD, source=source)

    @classmethod
    def unknown(cls, problem: str = Reason.UNDETERMINED, message: str = "",
                source: str | None = None) -> RevocationStatus:
        return cls(RevocationState.UNKNOWN, problem=problem, message=message, source=source)


@dataclass(frozen=True)
class CertRevocation:
    """Revocation outcome of one certificate of the path.

    :ivar position: index in :attr:`ValidationResult.path` (0 = trust anchor).
    :ivar serial: the certificate's serial number.
    :ivar status: the source's answer (``None`` when revocation was not checked).
    """

    position: int
    serial: int
    status: RevocationStatus | None


@dataclass(frozen=True)
class ValidationResult:
    """Outcome of validating one certificate.

    :ivar valid: True only if a path validated completely (revocation included).
    :ivar reason: ``"ok"`` or a reason code (see :class:`Reason`).
    :ivar message: human-readable detail (no personal data).
    :ivar path: the chosen (or most relevant failing) path, anchor → target.
    :ivar revocation: per-certificate revocation outcome.
    :ivar policies: the valid policy set (user-constrained policy set, §6.1.5 (g)); contains
        anyPolicy when no policy processing restricted it.
    :ivar at: the validation time used.
    """

    valid: bool
    reason: str
    message: str = ""
    path: tuple[Certificate, ...] = ()
    revocation: tuple[CertRevocation, ...] = ()
    policies: frozenset[str] = field(default_factory=frozenset)
    at: _dt.datetime | None = None

    @property
    def indeterminate(self) -> bool:
        """True when the failure is "status could not be determined"."""
        return not self.valid and self.reason in INDETERMINATE_REASONS

    def raise_for_status(self) -> ValidationResult:
        """Return ``self`` if valid, else raise the typed error.

        :raises RevokedError: a certificate of the path is revoked (with date and reason).
        :raises ExpiredError: a certificate is outside its validity period.
        :raises IndeterminateError: revocation status undetermined (never treated as valid).
        :raises MalformedCertificateError: the input did not parse.
        :raises UnsupportedAlgorithmError: algorithm unsupported or not allowed.
        :raises ValidationError: any other failure, ``reason`` set.
        """
        if self.valid:
            return self
        msg = self.message or self.reason
        if self.reason == Reason.REVOKED:
            revoked = [r.status for r in self.revocation
                       if r.status is not None and r.status.state is RevocationState.REVOKED]
            st = revoked[0] if revoked else None
            raise RevokedError(msg, revocation_reason=st.revocation_reason if st else None,
                               revoked_at=st.revoked_at if st else None)
        if self.reason in (Reason.EXPIRED, Reason.NOT_YET_VALID):
            err: ValidationError = ExpiredError(msg)
            err.reason = self.reason
            raise err
        if self.reason in INDETERMINATE_REASONS:
            raise PathIndeterminateError(msg, reason=self.reason)
        if self.reason.startswith("malformed"):
            raise MalformedCertificateError(msg, reason=self.reason)
        if self.reason in (Reason.UNSUPPORTED_ALGORITHM, Reason.KEY_TOO_SMALL):
            raise UnsupportedAlgorithmError(msg, reason=self.reason)
        raise PathValidationError(msg, reason=self.reason)
