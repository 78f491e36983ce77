"""The immutable validation policy (style §9): everything that decides *what is acceptable*.

Stateful things — intermediate pools, CRL stores, caches, fetchers — are kept apart
(:mod:`jukicard.pki.store`, :mod:`jukicard.pki.revocation`), and the validation time is an
argument of every call, never a hidden ``now()``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jukicard.errors import UsageError
from jukicard.pki.certs import Certificate
from jukicard.pki.policies import ANY_POLICY

__all__ = [
    "ANY_POLICY",
    "Conformance",
    "RevocationRule",
    "ValidationPolicy",
    "JPKI_SIGNATURE_ALGORITHMS",
    "JPKI_HASH_ALGORITHMS",
    "PERMISSIVE_SIGNATURE_ALGORITHMS",
    "PERMISSIVE_HASH_ALGORITHMS",
]

#: JPKI: RSA (PKCS#1 v1.5 or PSS) only.
JPKI_SIGNATURE_ALGORITHMS: frozenset[str] = frozenset({"rsassa_pkcs1v15", "rsassa_pss"})
#: JPKI: SHA-256 or stronger.
JPKI_HASH_ALGORITHMS: frozenset[str] = frozenset({"sha256", "sha384", "sha512"})
#: Everything we can verify (used for the NIST PKITS tests: their DSA cases use SHA-1).
PERMISSIVE_SIGNATURE_ALGORITHMS: frozenset[str] = frozenset(
    {"rsassa_pkcs1v15", "rsassa_pss", "dsa", "ecdsa", "ed25519", "ed448"})
PERMISSIVE_HASH_ALGORITHMS: frozenset[str] = frozenset(
    {"sha1", "sha224", "sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512"})


class RevocationRule(enum.Enum):
    """What revocation checking the policy demands."""

    #: A usable CRL is required for every certificate of the path; UNKNOWN is a hard failure
    #: (:class:`~jukicard.errors.IndeterminateError`).  The production default.
    CRL_REQUIRED = "crl-required"
    #: No revocation checking at all (``--no-revocation``).
    NONE = "none"


class Conformance(enum.Enum):
    """How strictly the certificates and CRLs themselves must follow RFC 5280 §4 and §5.

    Path validation (§6) is the same in both modes; so are the time comparisons at the
    one-second granularity of X.509 times.
    """

    #: The default of every policy: every certificate of the path (the trust anchor included
    #: when it is a certificate, the CRL signer's path too) and every CRL used must conform
    #: to the profile (:mod:`jukicard.pki.conformance`: key identifiers, basicConstraints,
    #: keyUsage, criticality, encodings, serial numbers, CRL number...), and the trust
    #: anchor must be inside its own validity period.  Each departure has its own reason.
    STRICT = "strict"
    #: Skips those profile checks (the trust anchor's dates then follow
    #: ``check_anchor_validity``): for test suites and legacy PKIs whose certificates a
    #: conforming CA could not issue.  Never skips a §6 path check.
    LENIENT = "lenient"


def _freeze_oids(value: Iterable[str]) -> frozenset[str]:
    out = set()
    for v in value:
        out.add(ANY_POLICY if v == "anyPolicy" else str(v))
    return frozenset(out)


@dataclass(frozen=True)
class ValidationPolicy:
    """Frozen, reusable settings of a validation.

    :param trust_anchors: the trusted root certificates (several generations may coexist).
    :param signature_algorithms: allowed signature schemes (asn1crypto names:
        ``rsassa_pkcs1v15``, ``rsassa_pss``, ``dsa``, ``ecdsa``, ``ed25519``).
    :param hash_algorithms: allowed hashes in signatures.
    :param min_rsa_key_size: smallest RSA modulus accepted in the path (anchor included).
    :param revocation: :class:`RevocationRule`.
    :param clock_skew: tolerance applied to certificate validity and CRL freshness.
    :param jpki_profile: also run :func:`jukicard.pki.jpki.check_profile` on the path.
    :param user_initial_policy_set: RFC 5280 §6.1.1 (c); ``anyPolicy`` by default.
    :param initial_explicit_policy: §6.1.1 (g).
    :param initial_policy_mapping_inhibit: §6.1.1 (e).
    :param initial_any_policy_inhibit: §6.1.1 (i).
    :param max_path_length: most intermediate CA certificates allowed between anchor and
        target (``None`` = only the certificates' own constraints; the builder never goes
        past 16).
    :param use_delta_crls: apply delta CRLs on top of complete CRLs.
    :param check_anchor_validity: also reject a path whose trust anchor is outside its own
        validity period at the validation time.  RFC 5280 leaves the anchor's dates to the
        relying party; JPKI roots are replaced by new generations when they expire, so the
        JPKI preset turns this on.  :attr:`Conformance.STRICT` checks it whatever this says.
    :param jpki_usage: with ``jpki_profile``, the kind of end-entity certificate required:
        ``"sign"`` (署名用, e.g. for document signatures), ``"auth"`` (利用者証明用, for
        log-in) or ``None`` (either).  A certificate of the other kind is rejected
        (``jpki-profile-violation``, problem ``wrong-usage``).
    :param conformance: :attr:`Conformance.STRICT` (default: the RFC 5280 §4/§5 profile of
        every certificate and CRL, and the trust anchor's validity) or
        :attr:`Conformance.LENIENT` (the documented switch that skips those checks).
    :raises UsageError: on wrong argument types.
    """

    trust_anchors: tuple[Certificate, ...]
    signature_algorithms: frozenset[str] = JPKI_SIGNATURE_ALGORITHMS
    hash_algorithms: frozenset[str] = JPKI_HASH_ALGORITHMS
    min_rsa_key_size: int = 2048
    revocation: RevocationRule = RevocationRule.CRL_REQUIRED
    clock_skew: _dt.timedelta = _dt.timedelta(0)
    jpki_profile: bool = False
    user_initial_policy_set: frozenset[str] = field(default=frozenset({ANY_POLICY}))
    initial_explicit_policy: bool = False
    initial_policy_mapping_inhibit: bool = False
    initial_any_policy_inhibit: bool = False
    max_path_length: int | None = None
    use_delta_crls: bool = True
    check_anchor_validity: bool = False
    jpki_usage: str | None = None
    conformance: Conformance = Conformance.STRICT

    def __post_init__(self) -> None:
        anchors = tuple(self.trust_anchors)
        if not all(isinstance(a, Certificate) for a in anchors):
            raise UsageError("trust_anchors must be jukicard.pki.Certificate objects")
        object.__setattr__(self, "trust_anchors", anchors)
        object.__setattr__(self, "signature_algorithms", frozenset(self.signature_algorithms))
        object.__setattr__(self, "hash_algorithms", frozenset(self.hash_algorithms))
        object.__setattr__(self, "user_initial_policy_set",
                           _freeze_oids(self.user_initial_policy_set))
        if not self.user_initial_policy_set:
            raise UsageError("user_initial_policy_set must not be empty (use anyPolicy)")
        if not isinstance(self.revocation, RevocationRule):
            raise UsageError("revocation must be a RevocationRule")
        if not isinstance(self.clock_skew, _dt.timedelta) or self.clock_skew < _dt.timedelta(0):
            raise UsageError("clock_skew must be a non-negative timedelta")
        if self.max_path_length is not None and self.max_path_length < 0:
            raise UsageError("max_path_length must be >= 0")
        if self.min_rsa_key_size < 0:
            raise UsageError("min_rsa_key_size must be >= 0")
        if self.jpki_usage not in (None, "sign", "auth"):
            raise UsageError("jpki_usage must be 'sign', 'auth' or None")
        if self.jpki_usage is not None and not self.jpki_profile:
            raise UsageError("jpki_usage needs jpki_profile=True")
        if not isinstance(self.conformance, Conformance):
            raise UsageError("conformance must be a Conformance (STRICT or LENIENT)")

    @classmethod
    def jpki(cls, trust_anchors: Iterable[Certificate], **overrides: Any) -> ValidationPolicy:
        """The production JPKI policy: RSA ≥ 2048, SHA-256+, CRL required, JPKI profile on.

        :param trust_anchors: the J-LIS roots to trust.
        :param overrides: any other field (e.g. ``clock_skew``).
        """
        settings: dict[str, Any] = {"jpki_profile": True, "check_anchor_validity": True}
        settings.update(overrides)
        return cls(tuple(trust_anchors), **settings)

    @classmethod
    def permissive(cls, trust_anchors: Iterable[Certificate], **overrides: Any
                   ) -> ValidationPolicy:
        """Any algorithm we can verify, RSA ≥ 1024 (conformance tests such as NIST PKITS).

        :param trust_anchors: the roots to trust.
        :param overrides: any other field.
        """
        settings: dict[str, Any] = {
            "signature_algorithms": PERMISSIVE_SIGNATURE_ALGORITHMS,
            "hash_algorithms": PERMISSIVE_HASH_ALGORITHMS,
            "min_rsa_key_size": 1024,
        }
        settings.update(overrides)
        return cls(tuple(trust_anchors), **settings)

    def replace(self, **changes: Any) -> ValidationPolicy:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)
