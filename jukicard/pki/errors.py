"""Typed errors of :mod:`jukicard.pki`.

Every class here derives from the library-wide tree in :mod:`jukicard.errors`, so callers can
catch :class:`jukicard.errors.ValidationError` (CLI exit code 5) without knowing this module.
Each error carries a machine-readable ``reason`` code; the vocabulary is the one of the NIST
PKITS index (``vectors/pkits/pkits-index.json``) plus a few codes of our own (see
:mod:`jukicard.pki.result`).
"""

from __future__ import annotations

from jukicard.errors import IndeterminateError, ValidationError

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
    """Base class of errors raised by :mod:`jukicard.pki` itself."""


class MalformedError(PkiError):
    """DER/PEM input that does not parse as the expected structure.

    The reason code is ``malformed-<what>`` (``malformed-certificate``, ``malformed-crl``,
    ``malformed-name``...).  The message never echoes the input bytes.
    """

    reason = "malformed"


class MalformedCertificateError(MalformedError):
    """A certificate could not be parsed."""

    reason = "malformed-certificate"


class MalformedCrlError(MalformedError):
    """A CRL could not be parsed."""

    reason = "malformed-crl"


class PathValidationError(PkiError):
    """A certification path failed RFC 5280 §6.1 validation; see ``reason``."""

    reason = "path-validation-error"


class UnsupportedAlgorithmError(PkiError):
    """A signature or key algorithm is not supported or not allowed by the policy."""

    reason = "unsupported-algorithm"


class PathIndeterminateError(IndeterminateError):
    """The revocation status of a certificate could not be determined (fail closed).

    ``reason`` is ``revocation-status-undetermined`` or a more specific CRL problem
    (``crl-stale-nextUpdate-passed``, ``bad-crl-signature``...).
    """
