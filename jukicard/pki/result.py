"""Validation results: a frozen :class:`ValidationResult`, never an exception mid-batch.

Reason codes (:class:`~jukicard.pki.reasons.Reason`, a ``str`` enum re-exported here; the
vocabulary of the NIST PKITS index plus our own)::

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

The strict RFC 5280 profile (``Conformance.STRICT``, :mod:`jukicard.pki.conformance`), one
code per rule; certificates (§4)::

    certificate-version-mismatch   malformed-certificate-encoding
    serial-number-not-positive   serial-number-too-long   signature-algorithm-mismatch
    issuer-name-empty   validity-time-encoding   ca-subject-empty
    empty-subject-without-critical-san   authority-key-identifier-missing
    authority-key-identifier-critical   authority-key-identifier-mismatch
    subject-key-identifier-missing   subject-key-identifier-critical
    ca-basic-constraints-missing   ca-basic-constraints-not-critical
    path-length-without-ca   ca-key-usage-missing   key-cert-sign-without-ca
    extension-must-be-critical   extension-must-not-be-critical
    name-constraints-profile   extension-empty   malformed-extension-value
    malformed-duplicate-extension (refused when parsing, in every mode)

CRLs (§5; the CRL is not used, so these leave the status undetermined)::

    crl-version-mismatch   crl-encoding-not-der   crl-signature-algorithm-mismatch
    crl-issuer-name-empty
    crl-time-encoding   crl-extension-malformed   crl-number-missing
    crl-number-critical   crl-number-out-of-range   crl-authority-key-identifier-missing
    crl-extension-criticality   crl-entry-extension-invalid
"""

from __future__ import annotations

import datetime as _dt
import enum
from dataclasses import dataclass, field

from jukicard.errors import ExpiredError, RevokedError, UsageError, ValidationError
from jukicard.pki.certs import Certificate
from jukicard.pki.errors import (
    MalformedCertificateError,
    PathIndeterminateError,
    PathValidationError,
    UnsupportedAlgorithmError,
)
from jukicard.pki.reasons import INDETERMINATE_REASONS, Reason

__all__ = [
    "Reason",
    "INDETERMINATE_REASONS",
    "as_reason",
    "RevocationState",
    "RevocationStatus",
    "CertRevocation",
    "ValidationResult",
]


def as_reason(value: str) -> Reason:
    """``value`` as a :class:`Reason` member (members and their string values are accepted).

    :raises UsageError: if it is not a known reason code.
    """
    try:
        return Reason(value)
    except ValueError:
        raise UsageError(f"unknown reason code {value!r}") from None


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
    problem: Reason | None = None
    message: str = ""

    def __post_init__(self) -> None:
        if self.problem is not None:
            object.__setattr__(self, "problem", as_reason(self.problem))

    @classmethod
    def good(cls, source: str | None = None) -> RevocationStatus:
        """A GOOD answer from ``source``."""
        return cls(RevocationState.GOOD, source=source)

    @classmethod
    def unknown(cls, problem: Reason = Reason.UNDETERMINED, message: str = "",
                source: str | None = None) -> RevocationStatus:
        """An UNKNOWN answer, with the reason code of the problem that left it undetermined.

        :raises UsageError: if ``problem`` is not a :class:`Reason` code.
        """
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
    :ivar reason: :attr:`Reason.OK` or the failure's :class:`Reason` (a string given here is
        turned into its member; an unknown one is a :class:`~jukicard.errors.UsageError`).
    :ivar message: human-readable detail (no personal data).
    :ivar path: the chosen (or most relevant failing) path, anchor → target.
    :ivar revocation: per-certificate revocation outcome.
    :ivar policies: the valid policy set (user-constrained policy set, §6.1.5 (g)); contains
        anyPolicy when no policy processing restricted it.
    :ivar at: the validation time used.
    """

    valid: bool
    reason: Reason
    message: str = ""
    path: tuple[Certificate, ...] = ()
    revocation: tuple[CertRevocation, ...] = ()
    policies: frozenset[str] = field(default_factory=frozenset)
    at: _dt.datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", as_reason(self.reason))

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
            revoked_error = RevokedError(
                msg, revocation_reason=st.revocation_reason if st else None,
                revoked_at=st.revoked_at if st else None)
            revoked_error.reason = Reason.REVOKED
            raise revoked_error
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
