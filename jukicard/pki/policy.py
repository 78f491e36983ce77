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
from jukicard.pki import anchors as _anchors
from jukicard.pki.certs import Certificate
from jukicard.pki.policies import ANY_POLICY

__all__ = [
    "ANY_POLICY",
    "PathBudget",
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


# ---------------------------------------------------------------- bounded work (issue 9)
@dataclass(frozen=True)
class PathBudget:
    """The most work spent on validating one certificate (path building, the validation of
    every candidate path, the CRL-signer paths built for its revocation checks).

    When a limit runs out before a valid path is found, the result is invalid with reason
    ``path-building-limit`` (``name-constraints-limit`` for the name checks); it is never an
    exception, and never a hang.  The defaults follow Go's ``crypto/x509`` (100 signature
    checks per ``Verify``) and pyca/cryptography's verifier (name-constraint checks per
    validation), scaled for Python.

    :param max_candidates: candidate issuers considered by path building (trust anchors and
        intermediates whose subject matches the issuer name, loops included).
    :param max_signature_checks: certificate signatures checked while building paths (one
        per distinct issuer key × certificate pair: certificates sharing a key cost one).
    :param max_paths: complete candidate paths handed to the §6.1 validation.
    :param max_name_constraint_checks: name × subtree comparisons (and subtree × subtree
        comparisons of the §6.1.4 (g) intersection), over every path validated.
    :raises UsageError: if a limit is not a positive ``int``.
    """

    max_candidates: int = 1000
    max_signature_checks: int = 100
    max_paths: int = 16
    max_name_constraint_checks: int = 1 << 18

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UsageError(f"PathBudget.{f.name} must be a positive int")


#: Default :attr:`ValidationPolicy.max_chain_depth` (pyca/cryptography's default as well).
DEFAULT_MAX_CHAIN_DEPTH = 8


def _check_bounds(policy: ValidationPolicy) -> None:
    """The bounded-work fields of ``policy`` are usable.

    :raises UsageError: otherwise.
    """
    depth = policy.max_chain_depth
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 0:
        raise UsageError("max_chain_depth must be an int >= 0")
    if not isinstance(policy.budget, PathBudget):
        raise UsageError("budget must be a PathBudget")
# ---------------------------------------------------------------- end of bounded work


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
        target (``None`` = only the certificates' own constraints and
        ``max_chain_depth``).
    :param use_delta_crls: apply delta CRLs on top of complete CRLs.
    :param check_anchor_validity: also reject a path whose trust anchor is outside its own
        validity period at the validation time.  RFC 5280 leaves the anchor's dates to the
        relying party; JPKI roots are replaced by new generations when they expire, so the
        JPKI preset turns this on.  :attr:`Conformance.STRICT` checks it whatever this says.
    :param jpki_usage: with ``jpki_profile``, the kind of end-entity certificate required:
        ``"sign"`` (署名用, e.g. for document signatures), ``"auth"`` (利用者証明用, for
        log-in) or ``None`` (either).  A certificate of the other kind is rejected
        (``jpki-profile-violation``, problem ``wrong-usage``).
    :param allow_test_anchors: ``False``: every trust anchor must be a production J-LIS
        anchor (:func:`jukicard.pki.anchors.is_production`: a bundled root, a generation
        known by J-LIS's published fingerprint, or one of ``production_fingerprints``).
        :meth:`jpki` sets it to ``False`` unless asked; RFC 5280 itself has no such notion.
    :param production_fingerprints: SHA-256 fingerprints of more anchors to treat as
        production (a J-LIS generation newer than this release).
    :param max_chain_depth: most CA certificates path building puts between the trust anchor
        and the target (default 8); a path that would need more is not built, and when no
        valid path was found the result's reason is ``path-building-limit``.
    :param budget: the :class:`PathBudget` of one certificate's validation.
    :param conformance: :attr:`Conformance.STRICT` (default: the RFC 5280 §4/§5 profile of
        every certificate and CRL, and the trust anchor's validity) or
        :attr:`Conformance.LENIENT` (the documented switch that skips those checks).
    :raises UsageError: on wrong argument types; a test anchor when ``allow_test_anchors``
        is ``False``.
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
    allow_test_anchors: bool = True
    production_fingerprints: frozenset[str] = frozenset()
    # -- bounded work (issue 9)
    max_chain_depth: int = DEFAULT_MAX_CHAIN_DEPTH
    budget: PathBudget = field(default_factory=PathBudget)
    conformance: Conformance = Conformance.STRICT

    def __post_init__(self) -> None:
        anchors = tuple(self.trust_anchors)
        if not all(isinstance(a, Certificate) for a in anchors):
            raise UsageError("trust_anchors must be jukicard.pki.Certificate objects")
        object.__setattr__(self, "trust_anchors", anchors)
        object.__setattr__(self, "production_fingerprints", frozenset(
            _anchors.normalise_fingerprint(f) for f in self.production_fingerprints))
        if not self.allow_test_anchors:
            production = _anchors.production_fingerprints(self.production_fingerprints)
            for a in anchors:
                if a.fingerprint not in production:
                    raise UsageError(f"trust anchor {a.describe()} (sha256 {a.fingerprint}) is "
                                     "not a production J-LIS anchor (allow_test_anchors=True "
                                     "trusts it)")
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
        _check_bounds(self)
        if not isinstance(self.conformance, Conformance):
            raise UsageError("conformance must be a Conformance (STRICT or LENIENT)")

    @classmethod
    def jpki(cls, trust_anchors: Iterable[Certificate] | None = None, **overrides: Any
             ) -> ValidationPolicy:
        """The production JPKI policy: the bundled J-LIS roots, RSA ≥ 2048, SHA-256+, CRL
        required, JPKI profile on, test anchors refused (``allow_test_anchors=True`` admits
        them: test PKIs, the emulator).

        :param trust_anchors: the roots to trust; ``None`` = every bundled J-LIS root
            (:func:`jukicard.pki.anchors.load`).
        :param overrides: any other field (e.g. ``clock_skew``, ``allow_test_anchors``).
        :raises UsageError: a test anchor without ``allow_test_anchors=True``.
        :raises AnchorIntegrityError: the bundled anchor files differ from their manifest.
        """
        settings: dict[str, Any] = {"jpki_profile": True, "check_anchor_validity": True,
                                    "allow_test_anchors": False}
        settings.update(overrides)
        return cls(_anchors.load() if trust_anchors is None else tuple(trust_anchors),
                   **settings)

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
