"""Certificate-policy processing on the RFC 9618 valid_policy_graph.

RFC 5280 §6.1 keeps a valid_policy_tree; policy mappings that map each of N policies to all
N policies of the next CA make that tree N times larger per CA (the shape of OpenSSL
CVE-2023-0464).  RFC 9618 ("Updates to X.509 Policy Validation") replaces the tree by a
directed acyclic graph with at most one node per (depth, policy): a node that the tree would
copy under several parents has those parents instead.  Its size is linear in the input, and
every step here costs time proportional to the nodes and edges it creates, examines or
deletes (:attr:`PolicyGraph.operations` counts them).

The tree is the graph unfolded: the children of a tree node depend only on its depth, policy
and expected_policy_set, which all copies of it share, so the graph answers every question
the tree answered.  The output is the one this package has always reported — the
valid_policy values at depth ``n`` after the RFC 5280 §6.1.5 (g) intersection with the
user-initial-policy-set (:meth:`PolicyGraph.intersect`, :meth:`PolicyGraph.leaf_policies`)
— computed on the graph without unfolding it.  (RFC 9618's own §6.1.5 (g) reports the
policies where the graph leaves the anyPolicy chain instead; see :meth:`PolicyGraph.intersect`.)

Each node keeps ``valid_policy``, ``qualifiers`` (DER, of the certificate that created it)
and ``expected``, the expected_policy_set; its edges are its ``parents`` (depth − 1) and
``children`` (depth + 1), by policy OID.  ``None`` in :class:`~jukicard.pki.pathstate.PathState`
stands for the NULL graph.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from jukicard.pki.certs import Certificate

__all__ = ["ANY_POLICY", "PolicyGraph", "PolicyNode", "PolicyTree", "cert_policies",
           "cert_policy_mappings"]

#: The special anyPolicy OID (RFC 5280 §4.2.1.4).
ANY_POLICY = "2.5.29.32.0"


@dataclass(eq=False)
class PolicyNode:
    """One node of the valid_policy_graph: at most one per (``depth``, ``valid_policy``).

    :ivar parents: ``valid_policy`` of each parent (depth − 1).
    :ivar children: ``valid_policy`` of each child (depth + 1).
    """

    valid_policy: str
    qualifiers: tuple[bytes, ...]
    expected: frozenset[str]
    depth: int
    parents: set[str] = field(default_factory=set)
    children: set[str] = field(default_factory=set)


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


class PolicyGraph:
    """A valid_policy_graph whose depth-0 node is anyPolicy (RFC 9618 §6.1.2 (a)).

    The methods return False once the graph is NULL (no node left at the depth processed);
    the caller then drops it.

    :ivar levels: per depth, ``{valid_policy: node}``.
    :ivar operations: nodes and edges created, examined or deleted so far — the work done,
        linear in the certificates' policy extensions.
    :ivar nodes_created: / :ivar edges_created: what the graph has grown by so far.
    """

    def __init__(self) -> None:
        root = PolicyNode(ANY_POLICY, (), frozenset({ANY_POLICY}), 0)
        self.levels: list[dict[str, PolicyNode]] = [{ANY_POLICY: root}]
        self.operations = 0
        self.nodes_created = 1
        self.edges_created = 0

    @property
    def root(self) -> PolicyNode | None:
        """The depth-0 anyPolicy node, or None once the graph is NULL."""
        return self.levels[0].get(ANY_POLICY) if self.levels else None

    @property
    def node_count(self) -> int:
        """Nodes in the graph now."""
        return sum(len(level) for level in self.levels)

    @property
    def edge_count(self) -> int:
        """Edges in the graph now."""
        return sum(len(node.children) for level in self.levels for node in level.values())

    def _level(self, depth: int) -> dict[str, PolicyNode]:
        while len(self.levels) <= depth:
            self.levels.append({})
        return self.levels[depth]

    def _add_node(self, depth: int, policy: str, quals: tuple[bytes, ...],
                  expected: Iterable[str], parents: Iterable[PolicyNode]) -> PolicyNode:
        node = PolicyNode(policy, quals, frozenset(expected), depth)
        self._level(depth)[policy] = node
        self.nodes_created += 1
        self.operations += 1
        for parent in parents:
            self._link(parent, node)
        return node

    def _link(self, parent: PolicyNode, child: PolicyNode) -> None:
        parent.children.add(child.valid_policy)
        child.parents.add(parent.valid_policy)
        self.edges_created += 1
        self.operations += 1

    def _delete(self, node: PolicyNode) -> list[PolicyNode]:
        """Remove ``node`` and its edges; returns its former parents and children."""
        del self.levels[node.depth][node.valid_policy]
        self.operations += 1 + len(node.parents) + len(node.children)
        touched: list[PolicyNode] = []
        if node.depth > 0:
            above = self.levels[node.depth - 1]
            for p in node.parents:
                above[p].children.discard(node.valid_policy)
                touched.append(above[p])
        if node.depth + 1 < len(self.levels):
            below = self.levels[node.depth + 1]
            for c in node.children:
                below[c].parents.discard(node.valid_policy)
                touched.append(below[c])
        return touched

    def _prune(self, below_depth: int) -> bool:
        """Delete childless nodes of depth < ``below_depth``, repeatedly (RFC 9618 §6.1.3
        (d)(3)); each deletion re-examines only the deleted node's parents.  False if the
        graph is NULL."""
        work = [node for d in range(min(below_depth, len(self.levels)))
                for node in self.levels[d].values() if not node.children]
        self.operations += len(work)
        while work:
            node = work.pop()
            if node.children or self.levels[node.depth].get(node.valid_policy) is not node:
                continue
            for other in self._delete(node):
                self.operations += 1
                if other.depth < node.depth and not other.children:
                    work.append(other)
        return self.root is not None

    def _drop_orphans(self, from_depth: int) -> None:
        """Delete, top-down from ``from_depth``, every node left without a parent."""
        for depth in range(max(from_depth, 1), len(self.levels)):
            for node in list(self.levels[depth].values()):
                self.operations += 1
                if not node.parents:
                    self._delete(node)

    # ------------------------------------------------------------------ §6.1.3 (d)
    def process_certificate(self, i: int, policies: Mapping[str, tuple[bytes, ...]],
                            any_policy_allowed: bool) -> bool:
        """Add depth ``i`` from the certificate's policies (RFC 9618 §6.1.3 (d)): a policy
        becomes one node whose parents are every depth ``i - 1`` node expecting it, or the
        anyPolicy node when none does; an allowed anyPolicy adds a node for every other
        expected policy.  Then prune.  Returns False if the graph is NULL.

        :param i: position of the certificate in the path (1-based).
        :param policies: certificatePolicies of certificate ``i``.
        :param any_policy_allowed: inhibit_anyPolicy > 0, or (i < n and self-issued).
        """
        above = self.levels[i - 1] if len(self.levels) > i - 1 else {}
        level = self._level(i)
        expecting: dict[str, list[PolicyNode]] = {}
        for parent in above.values():
            for ep in parent.expected:
                expecting.setdefault(ep, []).append(parent)
                self.operations += 1
        any_parent = above.get(ANY_POLICY)
        for oid, quals in policies.items():
            self.operations += 1
            if oid == ANY_POLICY:
                continue
            if oid in expecting:
                self._add_node(i, oid, quals, {oid}, expecting[oid])
            elif any_parent is not None:
                self._add_node(i, oid, quals, {oid}, (any_parent,))
        if ANY_POLICY in policies and any_policy_allowed:
            ap_q = policies[ANY_POLICY]
            for ep in sorted(expecting):
                self.operations += 1
                if ep not in level:
                    self._add_node(i, ep, ap_q, {ep}, expecting[ep])
        return self._prune(i)

    # ------------------------------------------------------------------ §6.1.4 (b)
    def process_mappings(self, i: int, mappings: list[tuple[str, str]],
                         mapping_allowed: bool) -> bool:
        """Apply policyMappings of certificate ``i`` (RFC 9618 §6.1.4 (b)).  Returns False if
        the graph is NULL.

        :param i: position of the certificate (its nodes are at depth ``i``).
        :param mappings: (issuerDomainPolicy, subjectDomainPolicy) pairs (no anyPolicy).
        :param mapping_allowed: policy_mapping > 0.
        """
        mapped: dict[str, list[str]] = {}
        for idp, sdp in mappings:
            self.operations += 1
            sdps = mapped.setdefault(idp, [])
            if sdp not in sdps:
                sdps.append(sdp)
        level = self._level(i)
        if mapping_allowed:
            any_node = level.get(ANY_POLICY)
            above = self.levels[i - 1]
            for idp, sdps in mapped.items():
                self.operations += 1
                node = level.get(idp)
                if node is not None:
                    node.expected = frozenset(sdps)
                elif any_node is not None:
                    self._add_node(i, idp, any_node.qualifiers, sdps, (above[ANY_POLICY],))
            return True
        for idp in mapped:
            self.operations += 1
            if idp in level:
                self._delete(level[idp])
        return self._prune(i)

    # ------------------------------------------------------------------ §6.1.5 (g)
    def intersect(self, n: int, user_policies: frozenset[str]) -> bool:
        """Intersect with the user-initial-policy-set, as RFC 5280 §6.1.5 (g) does on the
        tree.  Returns False if the graph is NULL.

        Every path from the root leaves the anyPolicy chain at one node, whose only parent
        is anyPolicy (RFC 9618's valid_policy_node_set); a path survives when that node's
        policy is a user policy.  So: cut the nodes not in the set off the chain and drop
        what is left without a parent; an anyPolicy node at depth ``n`` becomes the user
        policies no surviving path left the chain by.  RFC 9618 would report the
        surviving chain-leaving policies; this keeps the depth-``n`` policies, the set this
        package has always reported (PKITS 4.10 tells them apart).
        """
        if ANY_POLICY in user_policies or n == 0:
            return True
        present: set[str] = set()
        cut = False
        for depth in range(1, min(n, len(self.levels) - 1) + 1):
            for node in list(self.levels[depth].values()):
                self.operations += 1
                if node.valid_policy == ANY_POLICY or node.parents != {ANY_POLICY}:
                    continue
                if node.valid_policy in user_policies:
                    present.add(node.valid_policy)
                else:
                    self._delete(node)
                    cut = True
        if cut:
            self._drop_orphans(1)
        leaves = self._level(n)
        any_leaf = leaves.get(ANY_POLICY)
        if any_leaf is not None:
            self._delete(any_leaf)
            parent = self.levels[n - 1][ANY_POLICY]
            for oid in sorted(user_policies - present):
                reached = leaves.get(oid)
                if reached is None:
                    self._add_node(n, oid, any_leaf.qualifiers, {oid}, (parent,))
                else:  # already reached by a surviving path: one node, one more parent
                    self._link(parent, reached)
        return self._prune(n)

    def leaf_policies(self, n: int) -> frozenset[str]:
        """valid_policy values at depth ``n`` (the authorities-/user-constrained set)."""
        if len(self.levels) <= n:
            return frozenset()
        return frozenset(self.levels[n])


#: The name this class had while it was RFC 5280's valid_policy_tree (kept for callers).
PolicyTree = PolicyGraph
