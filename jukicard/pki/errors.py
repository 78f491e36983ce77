"""Typed errors of :mod:`jukicard.pki`.

Every class here derives from the library-wide tree in :mod:`jukicard.errors`, so callers can
catch :class:`jukicard.errors.ValidationError` (CLI exit code 5) without knowing this module.
Each error carries a machine-readable ``reason`` code, a :class:`~jukicard.pki.reasons.Reason`
member (a ``str``); the vocabulary is the one of the NIST PKITS index
(``vectors/pkits/pkits-index.json``) plus a few codes of our own.
"""

from __future__ import annotations

from jukicard.errors import IndeterminateError, ValidationError
from jukicard.pki.reasons import Reason

__all__ = [
    "PkiError",
    "MalformedError",
    "MalformedCertificateError",
    "MalformedCrlError",
    "PathValidationError",
    "UnsupportedAlgorithmError",
    "PathIndeterminateError",
]


class PkiError(ValidationError):
    """Base class of errors raised by :mod:`jukicard.pki` itself.

    :param message: human-readable detail (never personal data or input bytes).
    :param reason: a :class:`Reason` overriding the class's own code.
    """

    reason: Reason = Reason.INVALID

    def __init__(self, message: str, reason: Reason | None = None) -> None:
        super().__init__(message, reason)


class MalformedError(PkiError):
    """DER/PEM input that does not parse as the expected structure.

    The reason code is ``malformed-<what>`` (``malformed-certificate``, ``malformed-crl``,
    ``malformed-name``...).  The message never echoes the input bytes.
    """

    reason = Reason.MALFORMED_INPUT


class MalformedCertificateError(MalformedError):
    """A certificate could not be parsed."""

    reason = Reason.MALFORMED


class MalformedCrlError(MalformedError):
    """A CRL could not be parsed."""

    reason = Reason.MALFORMED_CRL


class PathValidationError(PkiError):
    """A certification path failed RFC 5280 §6.1 validation; see ``reason``."""

    reason = Reason.PATH_INVALID


class UnsupportedAlgorithmError(PkiError):
    """A signature or key algorithm is not supported or not allowed by the policy."""

    reason = Reason.UNSUPPORTED_ALGORITHM


class PathIndeterminateError(IndeterminateError):
    """The revocation status of a certificate could not be determined (fail closed).

    ``reason`` is ``revocation-status-undetermined`` or a more specific CRL problem
    (``crl-stale-nextUpdate-passed``, ``bad-crl-signature``...).

    :param message: human-readable detail.
    :param reason: the :class:`Reason` (default ``revocation-status-undetermined``).
    """

    reason: Reason = Reason.UNDETERMINED

    def __init__(self, message: str, reason: Reason | None = None) -> None:
        super().__init__(message, reason)
