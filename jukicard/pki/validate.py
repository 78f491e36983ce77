"""RFC 5280 §6.1 path validation on top of path building and CRL revocation.

:class:`Validator` binds an immutable :class:`~jukicard.pki.policy.ValidationPolicy` to the
stateful parts (intermediate pool, revocation source).  ``validate`` never raises for a bad
certificate: it returns a :class:`~jukicard.pki.result.ValidationResult`; ``check`` is the
raising form.  ``validate`` is ``validate_many`` of one (style §11): one code path.

For every candidate path (:class:`jukicard.pki.path.PathBuilder`, every edge's signature
checked as it is built) the §6.1 algorithm runs
on a :class:`~jukicard.pki.pathstate.PathState` (one method per step): signatures and
allowed algorithms/key sizes, validity (with clock skew), name chaining (§7.1), name
constraints, the valid_policy_graph (RFC 9618), policy mappings/constraints/inhibit anyPolicy,
basicConstraints and pathLenConstraint (self-issued certificates do not count), keyUsage
keyCertSign, unknown critical extensions; then revocation of every certificate of the path,
top-down (statuses from the :class:`~jukicard.pki.revocation.RevocationSource`, cached per
``validate_many`` call); then, under ``jpki_profile``, :func:`jukicard.pki.jpki.check_profile`.
Under ``Conformance.STRICT`` (the default) every certificate of the path, the trust anchor
and the CRL signers' paths included, and every CRL used must also conform to the RFC 5280
§4/§5 profile (:mod:`jukicard.pki.conformance`).  The validation time is truncated to the
second, the granularity of X.509 times.
The first path that validates wins; otherwise the most relevant failure is reported.

The work spent on one input is bounded by the policy's ``max_chain_depth`` and
:class:`~jukicard.pki.policy.PathBudget` (candidate issuers, signature checks, paths,
name-constraint comparisons; the CRL-signer paths of its revocation checks included): when
a limit runs out first, the result is ``path-building-limit`` (``name-constraints-limit``),
unless a candidate path failed for a more specific reason.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jukicard.errors import UsageError
from jukicard.pki.backend import PublicKey, load_public_key
from jukicard.pki.certs import Certificate
from jukicard.pki.conformance import to_second
from jukicard.pki.crl import Crl
from jukicard.pki.errors import MalformedError, UnsupportedAlgorithmError
from jukicard.pki.jpki import check_profile
from jukicard.pki.nameconstraints import NameCheckBudget
from jukicard.pki.names import NameKey
from jukicard.pki.path import BuildMeter, PathBuilder
from jukicard.pki.pathstate import (
    KNOWN_CRITICAL_EXTENSIONS,
    PathFailure,
    PathState,
    SignatureChecks,
)
from jukicard.pki.policies import ANY_POLICY
from jukicard.pki.policy import RevocationRule, ValidationPolicy
from jukicard.pki.reasons import Reason
from jukicard.pki.result import (
    CertRevocation,
    RevocationStatus,
    ValidationResult,
)
from jukicard.pki.revocation import RevocationSource
from jukicard.pki.store import CertificatePool, TrustStore

__all__ = ["Validator", "KNOWN_CRITICAL_EXTENSIONS"]

log = logging.getLogger(__name__)

#: Bound on nested CRL-signer path validations.
MAX_CRL_SIGNER_DEPTH = 4

CertInput = Certificate | bytes | bytearray | memoryview


@dataclass
class _PathOutcome:
    valid: bool
    reason: Reason
    message: str
    path: tuple[Certificate, ...]
    policies: frozenset[str] = frozenset()
    revocation: tuple[CertRevocation, ...] = ()


@dataclass
class _Session:
    """State of one validate_many call: caches and the CRL-signer recursion stack."""

    at: _dt.datetime
    status_cache: dict[tuple[bytes, bytes], RevocationStatus] = field(default_factory=dict)
    signer_cache: dict[tuple[str, str, str], str | None] = field(default_factory=dict)
    active: list[tuple[str, str]] = field(default_factory=list)
    # the work budget of the input being validated (reset per input by Validator._budget)
    meter: BuildMeter | None = None
    names: NameCheckBudget | None = None


# rank of a failure when choosing what to report among failed candidate paths (a strict
# AKI/SKI mismatch, like a bad signature, says "wrong candidate issuer")
_WEAK = {Reason.NO_ISSUER, Reason.BAD_SIGNATURE, Reason.AKI_MISMATCH}


def _rank(reason: Reason) -> int:
    return 0 if reason in _WEAK else 1


class _Context:
    """RevocationContext given to the revocation source for one certificate of a path."""

    def __init__(self, validator: Validator, session: _Session, path: tuple[Certificate, ...],
                 keys: dict[bytes, PublicKey]) -> None:
        self._v = validator
        self._s = session
        self.path = path
        self._keys = keys
        self.at = session.at
        self.clock_skew = validator.policy.clock_skew
        self.use_delta_crls = validator.policy.use_delta_crls
        self.conformance = validator.policy.conformance
        self.crl_signer_checks = validator.policy.budget.max_signature_checks

    def signer_candidates(self, issuer: NameKey) -> list[Certificate]:
        """The certificates that may have signed a CRL of ``issuer``: the path's own
        first (nearest the target), then the anchors and the pool (each once)."""
        out: dict[bytes, Certificate] = {}
        for c in reversed(self.path[:-1]):
            if c.subject_key == issuer:
                out.setdefault(c.der, c)
        for c in self._v.anchors.by_subject(issuer) + self._v.pool.by_subject(issuer):
            out.setdefault(c.der, c)
        return list(out.values())

    def public_key(self, cert: Certificate) -> PublicKey:
        key = self._keys.get(cert.der)
        if key is not None:
            return key
        return load_public_key(cert.spki)

    def check_algorithm(self, signature_algorithm: Any, key: PublicKey) -> None:
        self._v._signatures.check_algorithm(signature_algorithm, key)

    def validate_crl_signer(self, signer: Certificate, crl: Crl) -> str | None:
        if signer in self.path[:-1]:
            # validated (and revocation-checked, top-down) as part of this path; the
            # certificate being checked never vouches for itself outside a CRL-signer cycle
            return None
        token = (crl.fingerprint, signer.fingerprint)
        if token in self._s.active:
            return None  # circular: this CRL's signature was already verified with this key
        if len(self._s.active) >= MAX_CRL_SIGNER_DEPTH:
            return "CRL signer paths nested too deep"
        cache_key = (crl.fingerprint, signer.fingerprint, self.path[0].fingerprint)
        if not self._s.active and cache_key in self._s.signer_cache:
            return self._s.signer_cache[cache_key]
        self._s.active.append(token)
        try:
            outcome = self._v._validate_target(
                signer, self._s, anchors=TrustStore([self.path[0]]), crl_signer=True)
        finally:
            self._s.active.pop()
        verdict = None if outcome.valid else f"{outcome.reason}: {outcome.message}"
        if not self._s.active:
            self._s.signer_cache[cache_key] = verdict
        return verdict


class Validator:
    """Certificate path validator (RFC 5280 §6.1 + §6.3 CRLs).

    :param policy: the immutable :class:`ValidationPolicy` (trust anchors inside).
    :param intermediates: a :class:`CertificatePool` or certificates (objects/DER/PEM).
    :param revocation: the :class:`RevocationSource` (``None``: every status is UNKNOWN,
        which fails under ``RevocationRule.CRL_REQUIRED``).
    :raises UsageError: if ``policy`` is not a ValidationPolicy.
    :raises MalformedCertificateError: if intermediates given as bytes do not parse.
    """

    def __init__(
        self,
        policy: ValidationPolicy,
        intermediates: CertificatePool | Iterable[Certificate | bytes] = (),
        revocation: RevocationSource | None = None,
    ) -> None:
        if not isinstance(policy, ValidationPolicy):
            raise UsageError("policy must be a ValidationPolicy")
        self.policy = policy
        self.anchors = TrustStore(policy.trust_anchors)
        self.pool = intermediates if isinstance(intermediates, CertificatePool) \
            else CertificatePool(intermediates)
        self.revocation = revocation
        self._signer_policy = policy.replace(
            user_initial_policy_set=frozenset({ANY_POLICY}), initial_explicit_policy=False,
            initial_policy_mapping_inhibit=False, initial_any_policy_inhibit=False,
            jpki_profile=False, jpki_usage=None)
        # the policy's algorithm rules, with the certificate signature cache
        self._signatures = SignatureChecks(policy)

    # ------------------------------------------------------------------ public API
    def validate(self, cert: CertInput, at: _dt.datetime) -> ValidationResult:
        """Validate one certificate at time ``at``; never raises for a bad certificate.

        :param cert: a :class:`Certificate` or DER/PEM bytes (malformed bytes → result with
            reason ``malformed-certificate``).
        :param at: validation time, timezone-aware.
        :raises UsageError: if ``at`` is not a timezone-aware datetime.
        """
        return self.validate_many([cert], at)[0]

    def check(self, cert: CertInput, at: _dt.datetime) -> ValidationResult:
        """Like :meth:`validate` but raise the typed error when invalid.

        :raises RevokedError: / :raises ExpiredError: / :raises IndeterminateError: /
            :raises ValidationError: see :meth:`ValidationResult.raise_for_status`.
        """
        return self.validate(cert, at).raise_for_status()

    def validate_many(self, certs: Iterable[CertInput], at: _dt.datetime
                      ) -> list[ValidationResult]:
        """Validate many certificates at one time, sharing CRL and status work.

        :param certs: certificates (objects or DER/PEM bytes).
        :param at: validation time, timezone-aware.
        :returns: one result per input, in order (an input given twice is validated once).
        :raises UsageError: an input that is neither a Certificate nor bytes; ``at`` not a
            timezone-aware datetime, or so close to the ends of the datetime range that the
            policy's clock skew cannot be applied.
        """
        session = _Session(at=self._validation_time(at))
        results: list[ValidationResult] = []
        done: dict[bytes, ValidationResult] = {}  # the same certificate is validated once
        for item in certs:
            if isinstance(item, Certificate):
                key = item.der
            elif isinstance(item, (bytes, bytearray, memoryview)):
                key = bytes(item)
            else:
                raise UsageError("a certificate to validate must be a Certificate or DER/PEM "
                                 f"bytes, not {type(item).__name__}")
            result = done.get(key)
            if result is None:
                result = done[key] = self._validate_input(item, session)
            results.append(result)
        return results

    def validate_path(self, path: Sequence[Certificate], at: _dt.datetime) -> ValidationResult:
        """Validate a pre-built path ``(anchor, ..., target)`` (no path building).

        The first element must be one of the policy's trust anchors.

        :raises UsageError: if ``at`` is naive or out of range (see :meth:`validate_many`),
            or the path is empty.
        """
        at = self._validation_time(at)
        if not path:
            raise UsageError("empty path")
        session = _Session(at=at)
        self._budget(session)
        path_t = tuple(path)
        if path_t[0] not in self.anchors:
            return ValidationResult(False, Reason.NO_ISSUER, "path does not start at a trust "
                                    "anchor", path_t, at=at)
        out = self._validate_one_path(path_t, session, crl_signer=False)
        return self._to_result(out, at)

    # ------------------------------------------------------------------ internals
    def _validation_time(self, at: object) -> _dt.datetime:
        """``at``, truncated to the second (the granularity of X.509 times, see
        :func:`~jukicard.pki.conformance.to_second`), if it is a timezone-aware datetime
        that ``at ± clock_skew`` keeps inside the datetime range (every validity and
        freshness check computes both).

        :raises UsageError: otherwise (e.g. ``datetime.max`` with a clock skew, which would
            end in an ``OverflowError``).
        """
        if not isinstance(at, _dt.datetime) or at.utcoffset() is None:
            raise UsageError("validation time 'at' must be a timezone-aware datetime")
        skew = self.policy.clock_skew
        try:
            _range = (at - skew, at + skew)
        except OverflowError:
            raise UsageError("validation time 'at' is too close to the limits of the datetime "
                             "range for the policy's clock skew") from None
        return to_second(at)

    def _validate_input(self, item: CertInput, session: _Session) -> ValidationResult:
        at = session.at
        if isinstance(item, Certificate):
            cert = item
        else:
            try:
                cert = Certificate.parse(bytes(item))
            except MalformedError as exc:
                return ValidationResult(False, exc.reason, str(exc), at=at)
        if not len(self.anchors):
            return ValidationResult(False, Reason.NO_ANCHORS, "the policy has no trust anchors",
                                    (cert,), at=at)
        self._budget(session)
        try:
            outcome = self._validate_target(cert, session, anchors=self.anchors,
                                            crl_signer=False)
        except MalformedError as exc:  # a lazily-decoded structure turned out bad
            return ValidationResult(False, Reason.MALFORMED, str(exc), (cert,), at=at)
        return self._to_result(outcome, at)

    @staticmethod
    def _to_result(outcome: _PathOutcome, at: _dt.datetime) -> ValidationResult:
        return ValidationResult(
            valid=outcome.valid,
            reason=outcome.reason,
            message=outcome.message,
            path=outcome.path,
            revocation=outcome.revocation,
            policies=outcome.policies,
            at=at,
        )

    def _validate_target(self, cert: Certificate, session: _Session, *, anchors: TrustStore,
                         crl_signer: bool) -> _PathOutcome:
        meter = session.meter or self._budget(session)
        builder = PathBuilder(anchors, self.pool, meter, max_depth=self._max_depth()[0],
                              check_edge=self._check_edge)
        best: _PathOutcome | None = None
        for path in builder.build(cert):
            out = self._validate_one_path(path, session, crl_signer=crl_signer)
            if out.valid:
                return out
            if best is None or _rank(out.reason) > _rank(best.reason):
                best = out
        return self._no_valid_path(cert, best, builder)

    # ------------------------------------------------------------------ bounded work
    def _budget(self, session: _Session) -> BuildMeter:
        """Give ``session`` a fresh budget for its next input (CRL-signer paths included)."""
        session.meter = BuildMeter(self.policy.budget)
        session.names = NameCheckBudget(self.policy.budget.max_name_constraint_checks)
        return session.meter

    def _max_depth(self) -> tuple[int, bool]:
        """Most certificates below the anchor, and whether ``max_chain_depth`` (not
        ``max_path_length``) is the bound."""
        depth, bound = self.policy.max_chain_depth, True
        if self.policy.max_path_length is not None and self.policy.max_path_length < depth:
            depth, bound = self.policy.max_path_length, False
        return depth + 1, bound

    def _check_edge(self, issuer: Certificate, cert: Certificate) -> bool | None:
        """Whether ``issuer``'s key verifies ``cert``'s signature under the policy's
        algorithms; ``None`` when the pair alone cannot decide (mismatched algorithm fields,
        a key that inherits DSA parameters, an algorithm the policy refuses): the path's
        §6.1 validation reports those."""
        if cert.signature_algorithm == "mismatched-signature-algorithms":
            return None
        try:
            key = load_public_key(issuer.spki)
            self._signatures.check_algorithm(cert.asn1["signature_algorithm"], key)
            return self._signatures.verify(key, cert)
        except UnsupportedAlgorithmError:
            return None

    def _no_valid_path(self, cert: Certificate, best: _PathOutcome | None,
                       builder: PathBuilder) -> _PathOutcome:
        """The report when no candidate path validated: a path's own failure, unless path
        building stopped at a limit before finding one that fails for a better reason."""
        if best is not None and _rank(best.reason) > 0:
            return best
        limit = builder.meter.exhausted
        if limit is None and builder.depth_limited and self._max_depth()[1]:
            limit = f"max_chain_depth ({self.policy.max_chain_depth})"
        if limit is not None:
            return _PathOutcome(
                False, Reason.PATH_BUILDING_LIMIT,
                f"path building for {cert.describe()} stopped at its {limit} limit "
                f"({builder.meter.describe()}) without a valid path",
                best.path if best else (cert,))
        if best is not None:
            return best
        if builder.rejected is not None:
            issuer, lowest = builder.rejected[0], builder.rejected[1]
            return _PathOutcome(
                False, Reason.BAD_SIGNATURE, f"{lowest.describe()}: signature does not verify "
                f"with the key of {issuer.describe()}", builder.rejected)
        return _PathOutcome(False, Reason.NO_ISSUER,
                            f"no path from {cert.describe()} to a trust anchor", (cert,))

    def _validate_one_path(self, path: tuple[Certificate, ...], session: _Session, *,
                           crl_signer: bool) -> _PathOutcome:
        policy = self._signer_policy if crl_signer else self.policy
        try:
            state = PathState.initialise(path, session.at, policy, self._signatures)
            if session.names is not None:  # one name-check budget per input
                state.name_constraints.budget = session.names
            policies = state.run()
        except PathFailure as f:
            return _PathOutcome(False, f.reason, str(f), path)
        except MalformedError as exc:
            return _PathOutcome(False, Reason.MALFORMED, str(exc), path)
        try:
            state.check_revocation(lambda i: self._revocation_status(state, i, session))
        except PathFailure as f:
            return _PathOutcome(False, f.reason, str(f), path, policies, tuple(state.revocation))
        revs = tuple(state.revocation)
        if policy.jpki_profile:
            problems = check_profile(list(path), session.at, expected_usage=policy.jpki_usage)
            if problems:
                return _PathOutcome(False, Reason.JPKI_PROFILE, "; ".join(map(str, problems)),
                                    path, policies, revs)
        return _PathOutcome(True, Reason.OK, "valid", path, policies, revs)

    # ------------------------------------------------------------------ §6.3 for the path
    def _revocation_status(self, state: PathState, i: int, session: _Session
                           ) -> RevocationStatus | None:
        """The status of path certificate ``i`` (cached per validate_many call), ``None``
        under :attr:`RevocationRule.NONE`."""
        if self.policy.revocation is RevocationRule.NONE:
            return None
        path = state.path
        cert, issuer = path[i], path[i - 1]
        ck = (cert.der, issuer.der)
        status = session.status_cache.get(ck)
        if status is not None:
            return status
        if self.revocation is None:
            status = RevocationStatus.unknown(
                Reason.UNDETERMINED, "no revocation source configured")
        else:
            ctx = _Context(self, session, path[: i + 1], state.keys)
            try:
                status = self.revocation.status(cert, issuer, session.at, context=ctx)
            except MalformedError as exc:
                status = RevocationStatus.unknown(Reason.UNDETERMINED, str(exc))
        if not session.active:
            session.status_cache[ck] = status
        return status
