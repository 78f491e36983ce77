"""RFC 5280 §6.1 basic path validation of one candidate path, as a state object.

:class:`PathState` holds the state variables of §6.1.2 and has one method per step of the
algorithm: :meth:`~PathState.initialise` (§6.1.2), then for every certificate
:meth:`~PathState.basic_checks` (§6.1.3 (a)), :meth:`~PathState.check_name_constraints`
(§6.1.3 (b)–(c)) and :meth:`~PathState.process_policies` (§6.1.3 (d)–(f)); between two
certificates :meth:`~PathState.prepare_next` (§6.1.4 (a)–(o), itself one method per group of
items); after the last one :meth:`~PathState.wrap_up` (§6.1.5 (a)–(g)).  Revocation
(§6.1.3 (a)(3)) is :meth:`~PathState.check_revocation`, run for the whole path, top-down,
once everything else has passed (CRL work is the expensive part, and a structural failure
is the more useful report).  A failed step raises :class:`PathFailure` with a
:class:`~jukicard.pki.reasons.Reason` and the position of the certificate at fault.

The policy's own additions are checked in the same places: allowed signature and hash
algorithms (:class:`SignatureChecks`), the smallest RSA key, the trust anchor's validity
(``check_anchor_validity``, always under :attr:`Conformance.STRICT
<jukicard.pki.policy.Conformance>`).  Under ``Conformance.STRICT`` (the default),
:meth:`~PathState.check_conformance` also holds every certificate, the trust anchor first, to
the RFC 5280 §4 profile (:mod:`jukicard.pki.conformance`), once the §6 steps for it have
passed (a §6 failure is the more useful report).

Times are compared at the one-second granularity X.509 times carry: the validation time,
moved by the clock skew, is truncated to the second before each comparison.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jukicard.pki.backend import (
    PublicKey,
    dsa_params_of,
    load_public_key,
    spki_of,
    verify_signature,
)
from jukicard.pki.certs import Certificate
from jukicard.pki.conformance import certificate_violation, issued_by_violation, to_second
from jukicard.pki.errors import UnsupportedAlgorithmError
from jukicard.pki.nameconstraints import NameConstraintsState, NameConstraintViolation
from jukicard.pki.names import NameKey
from jukicard.pki.policies import ANY_POLICY, PolicyGraph, cert_policies, cert_policy_mappings
from jukicard.pki.policy import Conformance, ValidationPolicy
from jukicard.pki.reasons import Reason
from jukicard.pki.result import CertRevocation, RevocationState, RevocationStatus

__all__ = [
    "KNOWN_CRITICAL_EXTENSIONS",
    "PathFailure",
    "PathState",
    "RevocationLookup",
    "SignatureChecks",
]

#: Extensions this validator processes (or that callers process, like extKeyUsage); any
#: other critical extension makes a certificate invalid (§6.1.4 (o), §6.1.5 (f)).
KNOWN_CRITICAL_EXTENSIONS = frozenset({
    "basic_constraints", "key_usage", "extended_key_usage", "certificate_policies",
    "policy_mappings", "policy_constraints", "inhibit_any_policy", "name_constraints",
    "subject_alt_name", "issuer_alt_name", "key_identifier", "authority_key_identifier",
    "crl_distribution_points", "freshest_crl", "authority_information_access",
    "subject_information_access",
})

#: The revocation status of path certificate ``i`` (``None``: revocation not checked).
RevocationLookup = Callable[[int], RevocationStatus | None]

_SIG_CACHE_LIMIT = 4096


class PathFailure(Exception):
    """A §6.1 step failed: the path is not valid.

    :ivar reason: the :class:`Reason`.
    :ivar position: index in the path of the certificate at fault (0 = trust anchor).
    """

    def __init__(self, reason: Reason, message: str, position: int | None = None) -> None:
        self.reason = reason
        self.position = position
        super().__init__(message)


class SignatureChecks:
    """The policy's signature rules and a cache of certificate signature verifications.

    One per validator: the cache is keyed by (issuer key, TBS, signature), so a certificate
    shared by many paths or many validations is verified once.

    :param policy: gives ``signature_algorithms`` and ``hash_algorithms``.
    """

    def __init__(self, policy: ValidationPolicy) -> None:
        self._policy = policy
        self._cache: dict[tuple[bytes, bytes, bytes], bool] = {}

    def check_algorithm(self, sig_alg: Any, key: PublicKey) -> None:
        """Refuse a signature algorithm or hash the policy does not allow.

        :param sig_alg: asn1crypto ``SignedDigestAlgorithm``.
        :param key: the verifying key (its type is checked by the verification itself).
        :raises UnsupportedAlgorithmError: unknown or not allowed.
        """
        try:
            algo = sig_alg.signature_algo
        except Exception as exc:
            raise UnsupportedAlgorithmError(
                f"unknown signature algorithm {sig_alg['algorithm'].dotted}") from exc
        if algo not in self._policy.signature_algorithms:
            raise UnsupportedAlgorithmError(f"signature algorithm {algo} not allowed")
        if algo not in ("ed25519", "ed448"):
            try:
                h = sig_alg.hash_algo
            except Exception as exc:
                raise UnsupportedAlgorithmError("unknown signature hash") from exc
            if h not in self._policy.hash_algorithms:
                raise UnsupportedAlgorithmError(f"hash {h} not allowed")

    def verify(self, key: PublicKey, cert: Certificate) -> bool:
        """Whether ``cert``'s signature verifies with ``key`` (cached).

        :raises UnsupportedAlgorithmError: the algorithm cannot be verified with this key.
        """
        ck = (spki_of(key), cert.tbs, cert.signature)
        hit = self._cache.get(ck)
        if hit is None:
            hit = verify_signature(key, cert.asn1["signature_algorithm"], cert.signature, cert.tbs)
            if len(self._cache) > _SIG_CACHE_LIMIT:
                self._cache.clear()
            self._cache[ck] = hit
        return hit


def _check_key_size(cert: Certificate, pos: int, policy: ValidationPolicy) -> None:
    if cert.key_algorithm == "rsa" and cert.key_bits is not None and \
            cert.key_bits < policy.min_rsa_key_size:
        raise PathFailure(Reason.KEY_TOO_SMALL,
                          f"{cert.describe()} has a {cert.key_bits}-bit RSA key "
                          f"(minimum {policy.min_rsa_key_size})", pos)


def _check_validity(cert: Certificate, at: _dt.datetime, skew: _dt.timedelta, pos: int,
                    what: str = "") -> None:
    desc = what + cert.describe()
    if to_second(at + skew) < cert.not_before:
        raise PathFailure(Reason.NOT_YET_VALID,
                          f"{desc} is not valid before {cert.not_before.isoformat()}", pos)
    if to_second(at - skew) > cert.not_after:
        raise PathFailure(Reason.EXPIRED, f"{desc} expired on {cert.not_after.isoformat()}",
                          pos)


def _check_critical(cert: Certificate, pos: int) -> None:
    for ext in cert.extensions.values():
        if ext.critical and ext.name not in KNOWN_CRITICAL_EXTENSIONS:
            raise PathFailure(Reason.UNKNOWN_CRITICAL,
                              f"{cert.describe()} has an unrecognised critical extension "
                              f"{ext.oid}", pos)


def _load_key(cert: Certificate, inherited_params: bytes | None, pos: int,
              what: str = "") -> PublicKey:
    try:
        return load_public_key(cert.spki, inherited_params)
    except UnsupportedAlgorithmError as exc:
        raise PathFailure(Reason.UNSUPPORTED_ALGORITHM,
                          f"{what or cert.describe() + ': '}{exc}", pos) from exc


@dataclass
class PathState:
    """The §6.1.2 state variables of one path, and the steps that update them.

    Build it with :meth:`initialise`; :meth:`run` does §6.1.3–§6.1.5 for every certificate.

    :ivar path: the path, trust anchor first (position 0), target last (position ``n``).
    :ivar valid_policy_graph: §6.1.2 (a) as RFC 9618 updates it (the valid_policy_tree of
        RFC 5280 without its copies, :mod:`jukicard.pki.policies`); ``None`` is NULL.
    :ivar name_constraints: permitted_subtrees and excluded_subtrees, §6.1.2 (b)–(c).
    :ivar explicit_policy: §6.1.2 (d).
    :ivar inhibit_any_policy: §6.1.2 (e).
    :ivar policy_mapping: §6.1.2 (f).
    :ivar working_public_key: §6.1.2 (g); its type is the working_public_key_algorithm
        (h).
    :ivar working_public_key_parameters: §6.1.2 (i): DER DSA parameters, inherited by a
        DSA key that omits them.
    :ivar working_issuer_name: §6.1.2 (j), as a §7.1 name key.
    :ivar max_path_length: §6.1.2 (k).
    :ivar keys: the loaded key of every path certificate so far (by DER), for CRL
        signature checks.
    :ivar revocation: the revocation outcome of each certificate checked so far.
    """

    path: tuple[Certificate, ...]
    at: _dt.datetime
    policy: ValidationPolicy
    signatures: SignatureChecks
    valid_policy_graph: PolicyGraph | None
    name_constraints: NameConstraintsState
    explicit_policy: int
    inhibit_any_policy: int
    policy_mapping: int
    working_public_key: PublicKey
    working_public_key_parameters: bytes | None
    working_issuer_name: NameKey
    max_path_length: int
    keys: dict[bytes, PublicKey] = field(default_factory=dict)
    revocation: list[CertRevocation] = field(default_factory=list)

    @property
    def n(self) -> int:
        """The number of certificates below the trust anchor."""
        return len(self.path) - 1

    # ------------------------------------------------------------------ §6.1.2
    @classmethod
    def initialise(cls, path: tuple[Certificate, ...], at: _dt.datetime,
                   policy: ValidationPolicy, signatures: SignatureChecks) -> PathState:
        """§6.1.2 initialisation, from the trust anchor ``path[0]`` and the policy's inputs.

        The anchor's key must load and be large enough; with ``check_anchor_validity`` or
        under ``Conformance.STRICT`` the anchor must be valid at ``at``.

        :raises PathFailure: the anchor is unusable.
        """
        n = len(path) - 1
        anchor = path[0]
        working_key = _load_key(anchor, None, 0, "trust anchor key: ")
        _check_key_size(anchor, 0, policy)
        if policy.check_anchor_validity or policy.conformance is Conformance.STRICT:
            _check_validity(anchor, at, policy.clock_skew, 0, "trust anchor ")
        state = cls(
            path=path,
            at=at,
            policy=policy,
            signatures=signatures,
            valid_policy_graph=PolicyGraph(),
            name_constraints=NameConstraintsState(),
            explicit_policy=0 if policy.initial_explicit_policy else n + 1,
            inhibit_any_policy=0 if policy.initial_any_policy_inhibit else n + 1,
            policy_mapping=0 if policy.initial_policy_mapping_inhibit else n + 1,
            working_public_key=working_key,
            working_public_key_parameters=dsa_params_of(anchor.spki),
            working_issuer_name=anchor.subject_key,
            max_path_length=n,
            keys={anchor.der: working_key},
        )
        if n:
            state.apply_anchor_constraints()
        return state

    def apply_anchor_constraints(self) -> None:
        """The trust anchor certificate's own constraints, applied to the path below it as
        RFC 5937 describes and the strict peers (OpenSSL, pyca/cryptography, Go) do: its
        keyUsage must allow keyCertSign; it may carry no unrecognised critical extension;
        its pathLenConstraint bounds max_path_length; its nameConstraints start the
        permitted/excluded subtrees; its policyConstraints and inhibitAnyPolicy start the
        policy counters.  (Its certificatePolicies and policyMappings are not applied.)

        :raises PathFailure: anchor-key-usage-lacks-keyCertSign,
            unknown-critical-certificate-extension, name-constraints-unsupported.
        """
        anchor = self.path[0]
        ku = anchor.key_usage
        if ku is not None and "key_cert_sign" not in ku:
            raise PathFailure(Reason.ANCHOR_KEY_USAGE,
                              f"trust anchor {anchor.describe()}: keyUsage lacks keyCertSign, "
                              "it may not sign certificates", 0)
        _check_critical(anchor, 0)
        bc = anchor.basic_constraints
        if bc is not None and bc[1] is not None:
            self.max_path_length = min(self.max_path_length, int(bc[1]))
        self._update_name_constraints(0)
        self._apply_policy_constraints(anchor)

    def run(self) -> frozenset[str]:
        """§6.1.3 for every certificate, §6.1.4 between them, §6.1.5 after the last.

        :returns: the user-constrained policy set (§6.1.6): the valid policies of the
            target, empty when the valid_policy_graph is NULL.
        :raises PathFailure: at the first step that fails.
        """
        n = self.n
        self.check_conformance(0)
        for i in range(1, n + 1):
            self.basic_checks(i)
            self.check_name_constraints(i)
            self.process_policies(i)
            if i < n:
                self.prepare_next(i)
            else:
                self.wrap_up()
            self.check_conformance(i)
        if self.valid_policy_graph is None:
            return frozenset()
        return self.valid_policy_graph.leaf_policies(n)

    @property
    def valid_policy_tree(self) -> PolicyGraph | None:
        """:attr:`valid_policy_graph` under its RFC 5280 name (kept for callers)."""
        return self.valid_policy_graph

    # ------------------------------------------------------------------ §6.1.3
    def basic_checks(self, i: int) -> None:
        """§6.1.3 (a): (1) the signature verifies with the working public key, under the
        policy's algorithms; (2) certificate ``i`` is valid at the validation time (with the
        policy's clock skew); (4) its issuer is the working_issuer_name.  (3), revocation,
        is :meth:`check_revocation`.  Also the policy's smallest RSA key.

        :raises PathFailure: bad-certificate-signature, signature-algorithm-mismatch (the
            two algorithm fields differ, whatever the conformance), unsupported-algorithm,
            certificate-expired/-not-yet-valid, no-valid-issuer-or-name-chaining,
            key-too-small.
        """
        cert = self.path[i]
        desc = cert.describe()
        if cert.signature_algorithm == "mismatched-signature-algorithms":
            raise PathFailure(Reason.SIGNATURE_ALGORITHM_MISMATCH,
                              f"{desc}: signatureAlgorithm differs from the TBS signature "
                              "field (§4.1.1.2)", i)
        try:
            self.signatures.check_algorithm(cert.asn1["signature_algorithm"],
                                            self.working_public_key)
            ok = self.signatures.verify(self.working_public_key, cert)
        except UnsupportedAlgorithmError as exc:
            raise PathFailure(Reason.UNSUPPORTED_ALGORITHM, f"{desc}: {exc}", i) from exc
        if not ok:
            raise PathFailure(Reason.BAD_SIGNATURE, f"{desc}: signature does not verify", i)
        _check_validity(cert, self.at, self.policy.clock_skew, i)
        if cert.issuer_key != self.working_issuer_name:
            raise PathFailure(Reason.NO_ISSUER, f"{desc}: issuer name does not chain", i)
        _check_key_size(cert, i, self.policy)

    def check_name_constraints(self, i: int) -> None:
        """§6.1.3 (b)–(c): the subject and subjectAltNames are within the permitted and
        outside the excluded subtrees (not checked for a self-issued intermediate).

        :raises PathFailure: name-constraints-permitted-violation, -excluded-violation,
            -unsupported.
        """
        cert = self.path[i]
        if cert.self_issued and i < self.n:
            return
        try:
            self.name_constraints.check(cert)
        except NameConstraintViolation as v:
            raise PathFailure(v.reason, str(v), i) from v

    def process_policies(self, i: int) -> None:
        """§6.1.3 (d)–(f) as RFC 9618 updates them: grow the valid_policy_graph with the
        certificatePolicies (d), or make it NULL when there are none (e); then it must not
        be NULL while explicit_policy is 0 (f).

        :raises PathFailure: no-acceptable-explicit-policy.
        """
        cert = self.path[i]
        pols = cert_policies(cert)
        graph = self.valid_policy_graph
        if graph is not None:
            any_allowed = self.inhibit_any_policy > 0 or (i < self.n and cert.self_issued)
            if pols is None or not graph.process_certificate(i, pols, any_allowed):
                self.valid_policy_graph = None
        if self.explicit_policy == 0 and self.valid_policy_graph is None:
            raise PathFailure(Reason.NO_EXPLICIT_POLICY,
                              f"{cert.describe()}: no acceptable certificate policy", i)

    def check_revocation(self, status_of: RevocationLookup) -> None:
        """§6.1.3 (a)(3) for every certificate below the anchor, top-down: it is not
        revoked.  Run after the rest of §6.1 has passed; fills :attr:`revocation`.

        :param status_of: the status of path certificate ``i``, ``None`` when the policy
            checks no revocation.
        :raises PathFailure: revoked, or the source's problem code when the status is
            UNKNOWN (revocation-status-undetermined, crl-stale-nextUpdate-passed...).
        """
        for i in range(1, len(self.path)):
            cert = self.path[i]
            status = status_of(i)
            self.revocation.append(CertRevocation(i, cert.serial, status))
            if status is None:
                continue
            if status.state is RevocationState.REVOKED:
                raise PathFailure(Reason.REVOKED,
                                  f"{cert.describe()} is {status.message or 'revoked'}", i)
            if status.state is RevocationState.UNKNOWN:
                raise PathFailure(status.problem or Reason.UNDETERMINED,
                                  f"revocation status of {cert.describe()} undetermined: "
                                  f"{status.message}", i)

    # ------------------------------------------------------------------ §4 profile
    def check_conformance(self, i: int) -> None:
        """Under ``Conformance.STRICT``: certificate ``i`` (0 = the trust anchor) conforms to
        the RFC 5280 §4 profile (:func:`~jukicard.pki.conformance.certificate_violation`),
        as an issuer when ``i < n``, and its authorityKeyIdentifier names the subject key
        identifier of the certificate above it (§4.2.1.2).  Nothing under LENIENT.

        :raises PathFailure: with the rule's own reason (``authority-key-identifier-missing``,
            ``ca-basic-constraints-not-critical``...).
        """
        if self.policy.conformance is not Conformance.STRICT:
            return
        cert = self.path[i]
        found = certificate_violation(cert, issuer=i < self.n,
                                      self_signed=self._self_signed(i))
        if found is None and i > 0:
            found = issued_by_violation(cert, self.path[i - 1])
        if found is not None:
            what = "trust anchor " if i == 0 else ""
            raise PathFailure(found.reason,
                              f"{what}{cert.describe()} (path position {i}): {found}", i)

    def _self_signed(self, i: int) -> bool:
        """Self-issued, and the signature verifies with the certificate's own key (for the
        anchor: checked here; below it: the issuer's key, which verified it, is the same)."""
        cert = self.path[i]
        if not cert.self_issued:
            return False
        if i > 0:
            return cert.spki == self.path[i - 1].spki
        try:
            return self.signatures.verify(self.keys[cert.der], cert)
        except UnsupportedAlgorithmError:
            return False

    # ------------------------------------------------------------------ §6.1.4
    def prepare_next(self, i: int) -> None:
        """§6.1.4 (a)–(o): prepare for certificate ``i + 1`` with intermediate ``i``.

        :raises PathFailure: at the first item that fails.
        """
        self._map_policies(i)
        self._next_working_key(i)
        self._update_name_constraints(i)
        self._count_down(i)
        self._check_issuer(i)
        _check_critical(self.path[i], i)  # (o)

    def _map_policies(self, i: int) -> None:
        """§6.1.4 (a)–(b): policyMappings never map anyPolicy; apply them to the
        valid_policy_graph (or delete the mapped nodes while policy_mapping is 0)."""
        cert = self.path[i]
        maps = cert_policy_mappings(cert)
        if maps is None:
            return
        if any(ANY_POLICY in m for m in maps):
            raise PathFailure(Reason.POLICY_MAPPING, f"{cert.describe()} maps anyPolicy", i)
        graph = self.valid_policy_graph
        if graph is not None and not graph.process_mappings(i, maps, self.policy_mapping > 0):
            self.valid_policy_graph = None

    def _next_working_key(self, i: int) -> None:
        """§6.1.4 (c)–(f): working_issuer_name, working_public_key and its parameters
        (a DSA key without parameters inherits the working ones)."""
        cert = self.path[i]
        self.working_issuer_name = cert.subject_key
        inherited = None
        if cert.key_algorithm == "dsa" and not cert.key_has_params:
            inherited = self.working_public_key_parameters
        else:
            self.working_public_key_parameters = dsa_params_of(cert.spki)
        self.working_public_key = _load_key(cert, inherited, i)
        self.keys[cert.der] = self.working_public_key

    def _update_name_constraints(self, i: int) -> None:
        """§6.1.4 (g): intersect permitted_subtrees, extend excluded_subtrees."""
        cert = self.path[i]
        try:
            self.name_constraints.update(cert)
        except (ValueError, TypeError, KeyError) as exc:
            raise PathFailure(Reason.NC_UNSUPPORTED,
                              f"{cert.describe()}: unusable nameConstraints", i) from exc

    def _count_down(self, i: int) -> None:
        """§6.1.4 (h)–(j): decrement the policy counters (not for a self-issued
        certificate), then apply policyConstraints and inhibitAnyPolicy."""
        cert = self.path[i]
        if not cert.self_issued:
            self.explicit_policy = max(self.explicit_policy - 1, 0)
            self.policy_mapping = max(self.policy_mapping - 1, 0)
            self.inhibit_any_policy = max(self.inhibit_any_policy - 1, 0)
        self._apply_policy_constraints(cert)

    def _apply_policy_constraints(self, cert: Certificate) -> None:
        """§6.1.4 (i)–(j): policyConstraints and inhibitAnyPolicy lower the counters."""
        pc = cert.ext_value("policy_constraints")
        if pc is not None:
            req = pc["require_explicit_policy"].native
            inh = pc["inhibit_policy_mapping"].native
            if req is not None:
                self.explicit_policy = min(self.explicit_policy, int(req))
            if inh is not None:
                self.policy_mapping = min(self.policy_mapping, int(inh))
        iap = cert.ext_value("inhibit_any_policy")
        if iap is not None:
            self.inhibit_any_policy = min(self.inhibit_any_policy, int(iap.native))

    def _check_issuer(self, i: int) -> None:
        """§6.1.4 (k)–(n): certificate ``i`` may issue certificates: keyUsage keyCertSign
        (n, checked first: a certificate that may not sign certificates is "no valid
        issuer", whatever its basicConstraints), a v3 CA (k), and max_path_length allows one
        more non-self-issued certificate (l)–(m)."""
        cert = self.path[i]
        desc = cert.describe()
        ku = cert.key_usage
        if ku is not None and "key_cert_sign" not in ku:
            raise PathFailure(Reason.NO_ISSUER,
                              f"{desc}: keyUsage lacks keyCertSign, cannot issue", i)
        if cert.version < 3 or not cert.is_ca:
            raise PathFailure(Reason.NOT_A_CA, f"{desc} is not a CA certificate "
                              "(basicConstraints cA missing or false)", i)
        if not cert.self_issued:
            if self.max_path_length <= 0:
                raise PathFailure(Reason.PATH_LENGTH,
                                  f"{desc}: path length constraint exceeded", i)
            self.max_path_length -= 1
        bc = cert.basic_constraints
        if bc is not None and bc[1] is not None:
            self.max_path_length = min(self.max_path_length, int(bc[1]))

    # ------------------------------------------------------------------ §6.1.5
    def wrap_up(self) -> None:
        """§6.1.5 (a)–(g) for the target certificate: explicit_policy (a)–(b), its working
        key (c)–(e, a key this package cannot load is not needed for path validation), no
        unrecognised critical extension (f), the valid_policy_graph intersected with the
        user-initial-policy-set (g); then it must not be NULL while explicit_policy is 0.

        :raises PathFailure: unknown-critical-certificate-extension,
            no-acceptable-explicit-policy.
        """
        n = self.n
        cert = self.path[n]
        if self.explicit_policy != 0:
            self.explicit_policy -= 1
        pc = cert.ext_value("policy_constraints")
        if pc is not None and pc["require_explicit_policy"].native == 0:
            self.explicit_policy = 0
        inherited = None
        if cert.key_algorithm == "dsa" and not cert.key_has_params:
            inherited = self.working_public_key_parameters
        try:
            self.keys[cert.der] = load_public_key(cert.spki, inherited)
        except UnsupportedAlgorithmError:
            pass  # the target's own key is not needed for path validation
        _check_critical(cert, n)
        graph = self.valid_policy_graph
        if graph is not None and not graph.intersect(n, self.policy.user_initial_policy_set):
            self.valid_policy_graph = None
        if self.explicit_policy == 0 and self.valid_policy_graph is None:
            raise PathFailure(Reason.NO_EXPLICIT_POLICY,
                              "no acceptable certificate policy for this path", n)
