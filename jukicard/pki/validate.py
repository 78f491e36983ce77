"""RFC 5280 §6.1 path validation on top of path building and CRL revocation.

:class:`Validator` binds an immutable :class:`~jukicard.pki.policy.ValidationPolicy` to the
stateful parts (intermediate pool, revocation source).  ``validate`` never raises for a bad
certificate: it returns a :class:`~jukicard.pki.result.ValidationResult`; ``check`` is the
raising form.  ``validate`` is ``validate_many`` of one (style §11): one code path.

For every candidate path (:func:`jukicard.pki.path.build_paths`) the §6.1 algorithm runs:
signatures and allowed algorithms/key sizes, validity (with clock skew), name chaining
(§7.1), name constraints, the valid_policy_tree, policy mappings/constraints/inhibit
anyPolicy, basicConstraints and pathLenConstraint (self-issued certificates do not count),
keyUsage keyCertSign, unknown critical extensions; then revocation of every certificate of
the path, top-down.  The first path that validates wins; otherwise the most relevant
failure is reported.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from jukicard.errors import UsageError
from jukicard.pki.certs import (
    Certificate,
    PublicKey,
    dsa_params_of,
    load_public_key,
    verify_signature,
)
from jukicard.pki.crl import Crl
from jukicard.pki.errors import MalformedError, UnsupportedAlgorithmError
from jukicard.pki.nameconstraints import NameConstraintsState, NameConstraintViolation
from jukicard.pki.names import NameKey
from jukicard.pki.path import MAX_DEPTH, build_paths
from jukicard.pki.policies import ANY_POLICY, PolicyTree, cert_policies, cert_policy_mappings
from jukicard.pki.policy import RevocationRule, ValidationPolicy
from jukicard.pki.result import (
    CertRevocation,
    Reason,
    RevocationState,
    RevocationStatus,
    ValidationResult,
)
from jukicard.pki.revocation import RevocationSource
from jukicard.pki.store import CertificatePool, TrustStore

__all__ = ["Validator", "KNOWN_CRITICAL_EXTENSIONS"]

log = logging.getLogger(__name__)

#: Extensions this validator processes (or that callers process, like extKeyUsage); any
#: other critical extension makes a certificate invalid (§6.1.4 (o), §6.1.5 (f)).
KNOWN_CRITICAL_EXTENSIONS = frozenset({
    "basic_constraints", "key_usage", "extended_key_usage", "certificate_policies",
    "policy_mappings", "policy_constraints", "inhibit_any_policy", "name_constraints",
    "subject_alt_name", "issuer_alt_name", "key_identifier", "authority_key_identifier",
    "crl_distribution_points", "freshest_crl", "authority_information_access",
    "subject_information_access",
})

#: Bound on nested CRL-signer path validations.
MAX_CRL_SIGNER_DEPTH = 4

CertInput = Certificate | bytes | bytearray | memoryview


class _Fail(Exception):
    def __init__(self, reason: str, message: str, position: int | None = None) -> None:
        self.reason = reason
        self.position = position
        super().__init__(message)


@dataclass
class _PathOutcome:
    valid: bool
    reason: str
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


# rank of a failure when choosing what to report among failed candidate paths
_WEAK = {Reason.NO_ISSUER, Reason.BAD_SIGNATURE}


def _rank(reason: str) -> int:
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

    def signer_candidates(self, issuer: NameKey) -> list[Certificate]:
        out: list[Certificate] = []
        for c in reversed(self.path[:-1]):
            if c.subject_key == issuer and c not in out:
                out.append(c)
        for c in self._v.anchors.by_subject(issuer) + self._v.pool.by_subject(issuer):
            if c not in out:
                out.append(c)
        return out

    def public_key(self, cert: Certificate) -> PublicKey:
        key = self._keys.get(cert.der)
        if key is not None:
            return key
        return load_public_key(cert.spki)

    def check_algorithm(self, signature_algorithm: Any, key: PublicKey) -> None:
        self._v._check_algorithm(signature_algorithm, key)

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
        self._sig_cache: dict[tuple[bytes, bytes, bytes], bool] = {}

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
        :returns: one result per input, in order.
        :raises UsageError: if ``at`` is not a timezone-aware datetime.
        """
        if not isinstance(at, _dt.datetime) or at.tzinfo is None:
            raise UsageError("validation time 'at' must be a timezone-aware datetime")
        session = _Session(at=at)
        results: list[ValidationResult] = []
        for item in certs:
            results.append(self._validate_input(item, session))
        return results

    def validate_path(self, path: Sequence[Certificate], at: _dt.datetime) -> ValidationResult:
        """Validate a pre-built path ``(anchor, ..., target)`` (no path building).

        The first element must be one of the policy's trust anchors.

        :raises UsageError: if ``at`` is naive or the path is empty.
        """
        if not isinstance(at, _dt.datetime) or at.tzinfo is None:
            raise UsageError("validation time 'at' must be a timezone-aware datetime")
        if not path:
            raise UsageError("empty path")
        session = _Session(at=at)
        path_t = tuple(path)
        if path_t[0] not in self.anchors:
            return ValidationResult(False, Reason.NO_ISSUER, "path does not start at a trust "
                                    "anchor", path_t, at=at)
        out = self._validate_one_path(path_t, session, crl_signer=False)
        return self._to_result(out, at)

    # ------------------------------------------------------------------ internals
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
        max_depth = MAX_DEPTH
        if self.policy.max_path_length is not None:
            max_depth = self.policy.max_path_length + 1
        best: _PathOutcome | None = None
        for path in build_paths(cert, anchors, self.pool, max_depth=max_depth):
            out = self._validate_one_path(path, session, crl_signer=crl_signer)
            if out.valid:
                return out
            if best is None or _rank(out.reason) > _rank(best.reason):
                best = out
        if best is not None:
            return best
        return _PathOutcome(False, Reason.NO_ISSUER,
                            f"no path from {cert.describe()} to a trust anchor", (cert,))

    def _validate_one_path(self, path: tuple[Certificate, ...], session: _Session, *,
                           crl_signer: bool) -> _PathOutcome:
        policy = self._signer_policy if crl_signer else self.policy
        keys: dict[bytes, PublicKey] = {}
        try:
            policies = self._process(path, session.at, policy, keys)
        except _Fail as f:
            return _PathOutcome(False, f.reason, str(f), path)
        except MalformedError as exc:
            return _PathOutcome(False, Reason.MALFORMED, str(exc), path)
        revs: list[CertRevocation] = []
        try:
            self._check_revocation(path, session, keys, revs)
        except _Fail as f:
            return _PathOutcome(False, f.reason, str(f), path, policies, tuple(revs))
        if policy.jpki_profile:
            problems = self._jpki_problems(path, session.at, policy.jpki_usage)
            if problems:
                return _PathOutcome(False, Reason.JPKI_PROFILE, "; ".join(problems), path,
                                    policies, tuple(revs))
        return _PathOutcome(True, Reason.OK, "valid", path, policies, tuple(revs))

    @staticmethod
    def _jpki_problems(path: tuple[Certificate, ...], at: _dt.datetime,
                       usage: str | None = None) -> list[str]:
        try:
            mod = importlib.import_module("jukicard.pki.jpki")
            check = mod.check_profile
        except (ImportError, AttributeError) as exc:
            return [f"JPKI profile checker unavailable ({type(exc).__name__})"]
        if usage is None:
            return list(check(list(path), at))
        return list(check(list(path), at, expected_usage=usage))

    # ------------------------------------------------------------------ §6.1
    def _check_algorithm(self, sig_alg: Any, key: PublicKey) -> None:
        pol = self.policy
        try:
            algo = sig_alg.signature_algo
        except Exception as exc:
            raise UnsupportedAlgorithmError(
                f"unknown signature algorithm {sig_alg['algorithm'].dotted}") from exc
        if algo not in pol.signature_algorithms:
            raise UnsupportedAlgorithmError(f"signature algorithm {algo} not allowed")
        if algo not in ("ed25519", "ed448"):
            try:
                h = sig_alg.hash_algo
            except Exception as exc:
                raise UnsupportedAlgorithmError("unknown signature hash") from exc
            if h not in pol.hash_algorithms:
                raise UnsupportedAlgorithmError(f"hash {h} not allowed")

    def _verify(self, key: PublicKey, cert: Certificate) -> bool:
        from cryptography.hazmat.primitives import serialization

        kb = key.public_bytes(serialization.Encoding.DER,
                              serialization.PublicFormat.SubjectPublicKeyInfo)
        ck = (kb, cert.tbs, cert.signature)
        hit = self._sig_cache.get(ck)
        if hit is None:
            hit = verify_signature(key, cert.asn1["signature_algorithm"], cert.signature, cert.tbs)
            if len(self._sig_cache) > 4096:
                self._sig_cache.clear()
            self._sig_cache[ck] = hit
        return hit

    def _check_key_size(self, cert: Certificate, pos: int, policy: ValidationPolicy) -> None:
        if cert.key_algorithm == "rsa" and cert.key_bits is not None and \
                cert.key_bits < policy.min_rsa_key_size:
            raise _Fail(Reason.KEY_TOO_SMALL,
                        f"{cert.describe()} has a {cert.key_bits}-bit RSA key "
                        f"(minimum {policy.min_rsa_key_size})", pos)

    @staticmethod
    def _unknown_critical(cert: Certificate, pos: int) -> None:
        for ext in cert.extensions.values():
            if ext.critical and ext.name not in KNOWN_CRITICAL_EXTENSIONS:
                raise _Fail(Reason.UNKNOWN_CRITICAL,
                            f"{cert.describe()} has an unrecognised critical extension "
                            f"{ext.oid}", pos)

    @staticmethod
    def _check_validity(cert: Certificate, at: _dt.datetime, skew: _dt.timedelta, pos: int,
                        what: str = "") -> None:
        desc = what + cert.describe()
        if at + skew < cert.not_before:
            raise _Fail(Reason.NOT_YET_VALID,
                        f"{desc} is not valid before {cert.not_before.isoformat()}", pos)
        if at - skew > cert.not_after:
            raise _Fail(Reason.EXPIRED, f"{desc} expired on {cert.not_after.isoformat()}", pos)

    def _process(self, path: tuple[Certificate, ...], at: _dt.datetime,
                 policy: ValidationPolicy, keys: dict[bytes, PublicKey]) -> frozenset[str]:
        n = len(path) - 1
        anchor = path[0]
        skew = policy.clock_skew
        try:
            working_key = load_public_key(anchor.spki)
        except UnsupportedAlgorithmError as exc:
            raise _Fail(Reason.UNSUPPORTED_ALGORITHM, f"trust anchor key: {exc}", 0) from exc
        self._check_key_size(anchor, 0, policy)
        if policy.check_anchor_validity:
            self._check_validity(anchor, at, skew, 0, "trust anchor ")
        keys[anchor.der] = working_key
        working_params = dsa_params_of(anchor.spki)
        working_issuer = anchor.subject_key
        tree: PolicyTree | None = PolicyTree()
        explicit = 0 if policy.initial_explicit_policy else n + 1
        inhibit_any = 0 if policy.initial_any_policy_inhibit else n + 1
        mapping = 0 if policy.initial_policy_mapping_inhibit else n + 1
        nc = NameConstraintsState()
        max_path = n
        for i in range(1, n + 1):
            cert = path[i]
            desc = cert.describe()
            # (a)(1) signature
            if cert.signature_algorithm == "mismatched-signature-algorithms":
                raise _Fail(Reason.BAD_SIGNATURE, f"{desc}: signature algorithm fields differ", i)
            try:
                self._check_algorithm(cert.asn1["signature_algorithm"], working_key)
                ok = self._verify(working_key, cert)
            except UnsupportedAlgorithmError as exc:
                raise _Fail(Reason.UNSUPPORTED_ALGORITHM, f"{desc}: {exc}", i) from exc
            if not ok:
                raise _Fail(Reason.BAD_SIGNATURE, f"{desc}: signature does not verify", i)
            # (a)(2) validity
            self._check_validity(cert, at, skew, i)
            # (a)(4) name chaining
            if cert.issuer_key != working_issuer:
                raise _Fail(Reason.NO_ISSUER, f"{desc}: issuer name does not chain", i)
            self._check_key_size(cert, i, policy)
            # (b)/(c) name constraints
            if not (cert.self_issued and i < n):
                try:
                    nc.check(cert)
                except NameConstraintViolation as v:
                    raise _Fail(v.reason, str(v), i) from v
            # (d)–(f) policies
            pols = cert_policies(cert)
            if tree is not None:
                if pols is None:
                    tree = None
                elif not tree.process_certificate(
                        i, pols, inhibit_any > 0 or (i < n and cert.self_issued)):
                    tree = None
            if explicit == 0 and tree is None:
                raise _Fail(Reason.NO_EXPLICIT_POLICY,
                            f"{desc}: no acceptable certificate policy", i)
            if i < n:
                # §6.1.4 (a)/(b) policy mappings
                maps = cert_policy_mappings(cert)
                if maps is not None:
                    if any(ANY_POLICY in m for m in maps):
                        raise _Fail(Reason.POLICY_MAPPING, f"{desc} maps anyPolicy", i)
                    if tree is not None and not tree.process_mappings(i, maps, mapping > 0):
                        tree = None
                # (c)–(f) working issuer and key
                working_issuer = cert.subject_key
                inherited = None
                if cert.key_algorithm == "dsa" and not cert.key_has_params:
                    inherited = working_params
                else:
                    working_params = dsa_params_of(cert.spki)
                try:
                    working_key = load_public_key(cert.spki, inherited)
                except UnsupportedAlgorithmError as exc:
                    raise _Fail(Reason.UNSUPPORTED_ALGORITHM, f"{desc}: {exc}", i) from exc
                keys[cert.der] = working_key
                # (g) name constraints
                try:
                    nc.update(cert)
                except (ValueError, TypeError, KeyError) as exc:
                    raise _Fail(Reason.NC_UNSUPPORTED,
                                f"{desc}: unusable nameConstraints", i) from exc
                # (h)–(j) policy counters
                if not cert.self_issued:
                    explicit = max(explicit - 1, 0)
                    mapping = max(mapping - 1, 0)
                    inhibit_any = max(inhibit_any - 1, 0)
                pc = cert.ext_value("policy_constraints")
                if pc is not None:
                    req = pc["require_explicit_policy"].native
                    inh = pc["inhibit_policy_mapping"].native
                    if req is not None:
                        explicit = min(explicit, int(req))
                    if inh is not None:
                        mapping = min(mapping, int(inh))
                iap = cert.ext_value("inhibit_any_policy")
                if iap is not None:
                    inhibit_any = min(inhibit_any, int(iap.native))
                # (n) keyUsage (checked before (k): a certificate that may not sign
                # certificates is "no valid issuer", whatever its basicConstraints)
                ku = cert.key_usage
                if ku is not None and "key_cert_sign" not in ku:
                    raise _Fail(Reason.NO_ISSUER,
                                f"{desc}: keyUsage lacks keyCertSign, cannot issue", i)
                # (k) CA
                if cert.version < 3 or not cert.is_ca:
                    raise _Fail(Reason.NOT_A_CA, f"{desc} is not a CA certificate "
                                "(basicConstraints cA missing or false)", i)
                # (l)/(m) path length
                if not cert.self_issued:
                    if max_path <= 0:
                        raise _Fail(Reason.PATH_LENGTH, f"{desc}: path length constraint "
                                    "exceeded", i)
                    max_path -= 1
                bc = cert.basic_constraints
                if bc is not None and bc[1] is not None:
                    max_path = min(max_path, int(bc[1]))
                # (o)
                self._unknown_critical(cert, i)
            else:
                # §6.1.5 wrap-up
                if explicit != 0:
                    explicit -= 1
                pc = cert.ext_value("policy_constraints")
                if pc is not None and pc["require_explicit_policy"].native == 0:
                    explicit = 0
                if cert.key_algorithm == "dsa" and not cert.key_has_params:
                    inherited = working_params
                else:
                    inherited = None
                try:
                    keys[cert.der] = load_public_key(cert.spki, inherited)
                except UnsupportedAlgorithmError:
                    pass  # the target's own key is not needed for path validation
                self._unknown_critical(cert, i)
                if tree is not None and not tree.intersect(n, policy.user_initial_policy_set):
                    tree = None
                if explicit == 0 and tree is None:
                    raise _Fail(Reason.NO_EXPLICIT_POLICY,
                                "no acceptable certificate policy for this path", i)
        if tree is None:
            return frozenset()
        return tree.leaf_policies(n)

    # ------------------------------------------------------------------ §6.3 for the path
    def _check_revocation(self, path: tuple[Certificate, ...], session: _Session,
                          keys: dict[bytes, PublicKey], revs: list[CertRevocation]) -> None:
        rule = self.policy.revocation
        for i in range(1, len(path)):
            cert, issuer = path[i], path[i - 1]
            if rule is RevocationRule.NONE:
                revs.append(CertRevocation(i, cert.serial, None))
                continue
            ck = (cert.der, issuer.der)
            status = session.status_cache.get(ck)
            if status is None:
                if self.revocation is None:
                    status = RevocationStatus.unknown(
                        Reason.UNDETERMINED, "no revocation source configured")
                else:
                    ctx = _Context(self, session, path[: i + 1], keys)
                    try:
                        status = self.revocation.status(cert, issuer, session.at, context=ctx)
                    except MalformedError as exc:
                        status = RevocationStatus.unknown(Reason.UNDETERMINED, str(exc))
                if not session.active:
                    session.status_cache[ck] = status
            revs.append(CertRevocation(i, cert.serial, status))
            if status.state is RevocationState.REVOKED:
                raise _Fail(Reason.REVOKED, f"{cert.describe()} is {status.message or 'revoked'}",
                            i)
            if status.state is RevocationState.UNKNOWN:
                raise _Fail(status.problem or Reason.UNDETERMINED,
                            f"revocation status of {cert.describe()} undetermined: "
                            f"{status.message}", i)
