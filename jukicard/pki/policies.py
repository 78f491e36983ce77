"""The RFC 5280 valid_policy_tree (§6.1.2 (a), §6.1.3 (d)–(f), §6.1.4 (a)–(b), §6.1.5 (g)).

The tree is kept level by level; each node has ``valid_policy``, ``qualifiers`` (DER, kept
for callers) and ``expected_policy_set``.  ``None`` stands for the NULL tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from jukicard.pki.certs import Certificate

__all__ = ["ANY_POLICY", "PolicyNode", "PolicyTree", "cert_policies", "cert_policy_mappings"]

#: The special anyPolicy OID (RFC 5280 §4.2.1.4).
ANY_POLICY = "2.5.29.32.0"


@dataclass(eq=False)
class PolicyNode:
    """One node of the valid_policy_tree."""

    valid_policy: str
    qualifiers: tuple[bytes, ...]
    expected: set[str]
    depth: int
    parent: PolicyNode | None = None
    children: list[PolicyNode] = field(default_factory=list)


def cert_policies(cert: Certificate) -> dict[str, tuple[bytes, ...]] | None:
    """certificatePolicies as ``{policy OID: qualifiers DER}``, or None if absent."""
    value = cert.policy_info
    if value is None:
        return None
    out: dict[str, tuple[bytes, ...]] = {}
    for info in value:
        oid = info["policy_identifier"].dotted
        quals = info["policy_qualifiers"]
        out[oid] = tuple(q.dump() for q in quals) if quals.native is not None else ()
    return out


def cert_policy_mappings(cert: Certificate) -> list[tuple[str, str]] | None:
    """policyMappings as ``[(issuerDomainPolicy, subjectDomainPolicy)]``, or None."""
    value = cert.ext_value("policy_mappings")
    if value is None:
        return None
    return [(m["issuer_domain_policy"].dotted, m["subject_domain_policy"].dotted) for m in value]


class PolicyTree:
    """A valid_policy_tree rooted at anyPolicy (depth 0)."""

    def __init__(self) -> None:
        root = PolicyNode(ANY_POLICY, (), {ANY_POLICY}, 0)
        self.levels: list[list[PolicyNode]] = [[root]]

    @property
    def root(self) -> PolicyNode | None:
        return self.levels[0][0] if self.levels and self.levels[0] else None

    def _add_child(self, parent: PolicyNode, policy: str, quals: tuple[bytes, ...],
                   expected: Iterable[str]) -> PolicyNode:
        node = PolicyNode(policy, quals, set(expected), parent.depth + 1, parent)
        parent.children.append(node)
        while len(self.levels) <= node.depth:
            self.levels.append([])
        self.levels[node.depth].append(node)
        return node

    def _delete(self, node: PolicyNode) -> None:
        for child in list(node.children):
            self._delete(child)
        self.levels[node.depth].remove(node)
        if node.parent is not None:
            node.parent.children.remove(node)

    def _prune(self, below_depth: int) -> bool:
        """Delete childless nodes of depth < below_depth, repeatedly.  False if root gone."""
        for depth in range(min(below_depth, len(self.levels)) - 1, -1, -1):
            for node in list(self.levels[depth]):
                if not node.children:
                    self._delete(node)
        return self.root is not None

    # ------------------------------------------------------------------ §6.1.3 (d)
    def process_certificate(self, i: int, policies: Mapping[str, tuple[bytes, ...]],
                            any_policy_allowed: bool) -> bool:
        """Add level ``i`` from the certificate's policies.  Returns False if tree is NULL.

        :param i: position of the certificate in the path (1-based).
        :param policies: certificatePolicies of certificate ``i``.
        :param any_policy_allowed: inhibit_anyPolicy > 0, or (i < n and self-issued).
        """
        parents = list(self.levels[i - 1]) if len(self.levels) > i - 1 else []
        while len(self.levels) <= i:
            self.levels.append([])
        for oid, quals in policies.items():
            if oid == ANY_POLICY:
                continue
            matched = False
            for p in parents:
                if oid in p.expected:
                    self._add_child(p, oid, quals, {oid})
                    matched = True
            if not matched:
                for p in parents:
                    if p.valid_policy == ANY_POLICY:
                        self._add_child(p, oid, quals, {oid})
        if ANY_POLICY in policies and any_policy_allowed:
            ap_q = policies[ANY_POLICY]
            for p in parents:
                have = {c.valid_policy for c in p.children}
                for ep in sorted(p.expected):
                    if ep not in have:
                        self._add_child(p, ep, ap_q, {ep})
        return self._prune(i)

    # ------------------------------------------------------------------ §6.1.4 (b)
    def process_mappings(self, i: int, mappings: list[tuple[str, str]],
                         mapping_allowed: bool) -> bool:
        """Apply policyMappings of certificate ``i``.  Returns False if the tree is NULL.

        :param i: position of the certificate (its nodes are at depth ``i``).
        :param mappings: (issuerDomainPolicy, subjectDomainPolicy) pairs (no anyPolicy).
        :param mapping_allowed: policy_mapping > 0.
        """
        mapped: dict[str, list[str]] = {}
        for idp, sdp in mappings:
            mapped.setdefault(idp, [])
            if sdp not in mapped[idp]:
                mapped[idp].append(sdp)
        level = self.levels[i] if len(self.levels) > i else []
        if mapping_allowed:
            for idp, sdps in mapped.items():
                nodes = [n for n in level if n.valid_policy == idp]
                if nodes:
                    for n in nodes:
                        n.expected = set(sdps)
                else:
                    for any_node in [n for n in level if n.valid_policy == ANY_POLICY]:
                        assert any_node.parent is not None
                        self._add_child(any_node.parent, idp, any_node.qualifiers, sdps)
            return True
        for idp in mapped:
            for n in [n for n in level if n.valid_policy == idp]:
                self._delete(n)
        return self._prune(i)

    # ------------------------------------------------------------------ §6.1.5 (g)
    def intersect(self, n: int, user_policies: frozenset[str]) -> bool:
        """Intersect with the user-initial-policy-set.  Returns False if the tree is NULL."""
        if ANY_POLICY in user_policies:
            return True
        boundary = [node for level in self.levels for node in level
                    if node.parent is not None and node.parent.valid_policy == ANY_POLICY]
        for node in boundary:
            if node.valid_policy != ANY_POLICY and node.valid_policy not in user_policies:
                if node.parent is not None and node in node.parent.children:
                    self._delete(node)
        leaves = self.levels[n] if len(self.levels) > n else []
        any_leaves = [node for node in leaves if node.valid_policy == ANY_POLICY]
        if any_leaves:
            present = {node.valid_policy for node in boundary if node.parent is not None
                       and node in node.parent.children}
            for any_node in any_leaves:
                parent = any_node.parent
                if parent is None:  # n == 0: nothing to intersect
                    continue
                for oid in sorted(user_policies - present):
                    self._add_child(parent, oid, any_node.qualifiers, {oid})
                self._delete(any_node)
        return self._prune(n)

    def leaf_policies(self, n: int) -> frozenset[str]:
        """valid_policy values at depth ``n`` (the authorities-/user-constrained set)."""
        if len(self.levels) <= n:
            return frozenset()
        return frozenset(node.valid_policy for node in self.levels[n])
