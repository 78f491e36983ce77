"""Path building: from a target certificate to a trust anchor through an unordered pool,
with bounded work.

Depth-first over the candidate issuers (subject name = issuer name by §7.1; AKI/SKI matches
tried first, trust anchors before intermediates), loop-safe (no certificate, and no
subject+key pair, twice in one path).  Several CA generations may be trusted at once, and
self-issued "link" certificates (key rollover, PKITS 4.5) are just more candidates.

Every edge is checked as it is added (``check_edge``: does the candidate's key verify the
certificate below it?), so a pool of look-alike issuers — 100+ intermediates sharing a
subject, or a key, cross-certified rings — is pruned at the first bad signature instead of
being expanded into every combination.  An edge the pair alone cannot decide (a DSA key
that inherits its parameters, an algorithm the policy refuses) is kept, and the §6.1
validation of the path decides.

The work is bounded by a :class:`BuildMeter` shared by every build made for one target
(the CRL-signer paths of its revocation checks included): candidate issuers considered,
signature checks, complete paths produced (:class:`~jukicard.pki.policy.PathBudget`), and
the depth (``max_depth``).  Running out is not an exception: the generator stops, and the
meter and the builder say why (:attr:`BuildMeter.exhausted`,
:attr:`PathBuilder.depth_limited`).  The same limits, in the same spirit, as Go's
``crypto/x509`` (``maxChainSignatureChecks = 100``) and pyca/cryptography's verifier
(``DEFAULT_MAX_CHAIN_DEPTH = 8``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from jukicard.pki.certs import Certificate
from jukicard.pki.names import NameKey
from jukicard.pki.policy import DEFAULT_MAX_CHAIN_DEPTH, PathBudget
from jukicard.pki.store import CertificatePool, TrustStore

__all__ = ["BuildMeter", "EdgeCheck", "PathBuilder", "build_paths"]

log = logging.getLogger(__name__)

#: ``check_edge(issuer, cert)``: True if ``issuer``'s key verifies ``cert``'s signature,
#: False if it does not, None if the pair alone cannot decide (the path's validation will).
EdgeCheck = Callable[[Certificate, Certificate], bool | None]


#: what is spent → (BuildMeter counter, PathBudget limit)
_LIMITS = {
    "candidates": ("candidates", "max_candidates"),
    "signature checks": ("signature_checks", "max_signature_checks"),
    "paths": ("paths", "max_paths"),
}


@dataclass
class BuildMeter:
    """The path-building work spent on one target, against its :class:`PathBudget`.

    :ivar candidates: / :ivar signature_checks: / :ivar paths: the work done so far
        (a signature check is one distinct issuer key × certificate pair).
    :ivar exhausted: which limit ran out (``"candidates"``, ``"signature checks"``,
        ``"paths"``), or ``None``.
    """

    budget: PathBudget
    candidates: int = 0
    signature_checks: int = 0
    paths: int = 0
    exhausted: str | None = None
    #: the verdict of every (issuer SPKI, certificate DER) edge checked so far
    edges: dict[tuple[bytes, bytes], bool] = field(default_factory=dict, repr=False)

    def spend(self, what: str) -> bool:
        """Count one unit of ``what`` (``"candidates"``, ``"signature checks"``,
        ``"paths"``); False (and :attr:`exhausted` set) if the budget has none left."""
        if self.exhausted is not None:
            return False
        attr, limit_name = _LIMITS[what]
        used, limit = getattr(self, attr), getattr(self.budget, limit_name)
        if used >= limit:
            self.exhausted = what
            log.info("path building stopped: %s limit (%d) reached", what, limit)
            return False
        setattr(self, attr, used + 1)
        return True

    def describe(self) -> str:
        """The work done, for messages."""
        return (f"{self.candidates} candidate issuers, {self.signature_checks} signature "
                f"checks, {self.paths} paths")


_Frame = Iterator[tuple[bool, Certificate]]


class PathBuilder:
    """Builds the candidate paths of targets through one pool, within one meter.

    :param anchors: the trust anchors.
    :param pool: the intermediates (unordered, may contain junk).
    :param meter: the budget being spent (shared by every build for one target).
    :param max_depth: most certificates below the anchor, target included.
    :param check_edge: the edge check (``None``: edges are not checked while building).
    :ivar depth_limited: some chain was cut at ``max_depth`` while the pool still had
        candidate issuers for its top.
    :ivar rejected: the first chain ``(candidate issuer, ..., target)`` whose lowest edge
        failed its signature check (for the report when no path is found).
    """

    def __init__(self, anchors: TrustStore, pool: CertificatePool, meter: BuildMeter, *,
                 max_depth: int, check_edge: EdgeCheck | None = None) -> None:
        self.anchors = anchors
        self.pool = pool
        self.meter = meter
        self.max_depth = max(max_depth, 1)
        self.check_edge = check_edge
        self.depth_limited = False
        self.rejected: tuple[Certificate, ...] | None = None
        self._issuers: dict[tuple[NameKey, bytes | None], Sequence[Certificate]] = {}

    def build(self, target: Certificate) -> Iterator[tuple[Certificate, ...]]:
        """Yield candidate paths ``(anchor, ..., target)``, every checked edge verified.

        Stops (without an exception) when the meter runs out.

        :param target: the certificate to validate.
        """
        meter = self.meter
        if target in self.anchors:
            if not meter.spend("paths"):
                return
            yield (target,)
        chain: list[Certificate] = [target]
        keys: set[tuple[NameKey, bytes]] = {(target.subject_key, target.spki)}
        stack: list[_Frame] = [self._frame(chain)]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                if len(chain) > 1:
                    top = chain.pop()
                    keys.discard((top.subject_key, top.spki))
                continue
            is_anchor, cand = step
            if not meter.spend("candidates"):
                return
            top = chain[-1]
            key = (cand.subject_key, cand.spki)
            if is_anchor:
                if cand == top:
                    continue
            elif key in keys or cand in self.anchors:
                continue
            verdict = self._edge(cand, top)
            if verdict is None:
                return
            if not verdict:
                if self.rejected is None:
                    self.rejected = (cand, *reversed(chain))
                continue
            if is_anchor:
                if not meter.spend("paths"):
                    return
                yield (cand, *reversed(chain))
                continue
            chain.append(cand)
            keys.add(key)
            stack.append(self._frame(chain))

    # ------------------------------------------------------------------ internals
    def _edge(self, issuer: Certificate, cert: Certificate) -> bool | None:
        """True if the edge may be used, False if its signature fails, None when the
        signature budget is spent.  Each (issuer key, certificate) pair is checked and
        counted once per meter: certificates sharing a key cost one check."""
        if self.check_edge is None:
            return True
        pair = (issuer.spki, cert.der)
        known = self.meter.edges.get(pair)
        if known is not None:
            return known
        if not self.meter.spend("signature checks"):
            return None
        verdict = self.meter.edges[pair] = self.check_edge(issuer, cert) is not False
        return verdict

    def _frame(self, chain: list[Certificate]) -> _Frame:
        """The candidate issuers of ``chain[-1]``: anchors, then (within the depth) the
        pool's."""
        top = chain[-1]
        for anchor in self.anchors.issuers_of(top):
            yield True, anchor
        issuers = self._pool_issuers(top)
        if len(chain) >= self.max_depth:
            self.depth_limited = self.depth_limited or bool(issuers)
            return
        for cand in issuers:
            yield False, cand

    def _pool_issuers(self, cert: Certificate) -> Sequence[Certificate]:
        """The pool's candidates for ``cert``'s issuer (sorted once per issuer name and
        AKI)."""
        ck = (cert.issuer_key, cert.authority_key_identifier)
        found = self._issuers.get(ck)
        if found is None:
            found = self._issuers[ck] = self.pool.issuers_of(cert)
        return found


def build_paths(
    target: Certificate,
    anchors: TrustStore,
    pool: CertificatePool,
    *,
    max_depth: int = DEFAULT_MAX_CHAIN_DEPTH + 1,
    budget: PathBudget | None = None,
    check_edge: EdgeCheck | None = None,
) -> Iterator[tuple[Certificate, ...]]:
    """Yield candidate paths ``(anchor, ..., target)`` (one :class:`PathBuilder` build with
    a fresh :class:`BuildMeter`).

    :param target: the certificate to validate.
    :param anchors: trust anchors.
    :param pool: intermediate certificates (unordered, may contain junk).
    :param max_depth: most certificates below the anchor (target included).
    :param budget: the limits (default :class:`PathBudget`).
    :param check_edge: the edge check (default: edges are not checked).
    """
    meter = BuildMeter(budget or PathBudget())
    builder = PathBuilder(anchors, pool, meter, max_depth=max_depth, check_edge=check_edge)
    return builder.build(target)
