"""The RFC 9618 valid_policy_graph (jukicard.pki.policies) and the policy-mapping chain that
made the RFC 5280 valid_policy_tree explode (issue 9).

A chain of CAs that each map their N policies to all N policies of the next multiplies the
tree by N per CA (the shape of OpenSSL CVE-2023-0464).  On the code before this change
``test_hostile_mapping_chain_is_decided_with_linear_work`` could not pass: the tree had no
work counter to read, and for N = 8 over 8 CAs it would have grown to 8^9 ≈ 134 million
end-entity nodes (measured: 299,593 nodes and 0.7 s over 5 CAs, 8× more per further CA).

The graph's answers are checked against :class:`UnfoldedTree`, RFC 5280's tree written as
the set of its root-to-leaf paths (a deliberately naive model, exponential on the hostile
chain), on seeded random inputs.  Nothing here measures time: the work is what
:attr:`PolicyGraph.operations` counts.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from jukicard.pki import RevocationRule, ValidationPolicy, Validator
from jukicard.pki import pathstate as pathstate_module
from jukicard.pki.policies import (
    ANY_POLICY,
    PolicyGraph,
    cert_policies,
    cert_policy_mappings,
)
from jukicard.testing.hostile import AT, PolicyMappingChain

P1, P2, P3, P4 = "1.2.3.1", "1.2.3.2", "1.2.3.3", "1.2.3.4"
ANY = ANY_POLICY

Step = tuple[tuple[str, frozenset[str]], ...]  # one root-to-leaf path: (policy, expected)


# ------------------------------------------------------------------ the reference model
@dataclass
class UnfoldedTree:
    """RFC 5280 §6.1's valid_policy_tree as the set of its root-to-leaf paths (after each
    step's pruning every leaf is at the current depth, so the paths are the tree)."""

    paths: set[Step] = field(default_factory=lambda: {((ANY, frozenset({ANY})),)})

    def certificate(self, policies: Mapping[str, tuple[bytes, ...]], any_ok: bool) -> None:
        """§6.1.3 (d)(1)–(2), then prune."""
        new: set[Step] = set()
        for oid in (p for p in policies if p != ANY):
            matched = {p for p in self.paths if oid in p[-1][1]}
            for p in matched or {p for p in self.paths if p[-1][0] == ANY}:
                new.add((*p, (oid, frozenset({oid}))))
        if ANY in policies and any_ok:
            for p in self.paths:
                have = {q[-1][0] for q in new if q[:-1] == p}
                new |= {(*p, (ep, frozenset({ep}))) for ep in p[-1][1] if ep not in have}
        self.paths = new

    def mappings(self, maps: list[tuple[str, str]], allowed: bool) -> None:
        """§6.1.4 (b)."""
        mapped: dict[str, frozenset[str]] = {}
        for idp, sdp in maps:
            mapped[idp] = mapped.get(idp, frozenset()) | {sdp}
        if not allowed:
            self.paths = {p for p in self.paths if p[-1][0] not in mapped}
            return
        out = {p if p[-1][0] not in mapped else (*p[:-1], (p[-1][0], mapped[p[-1][0]]))
               for p in self.paths}
        for idp, sdps in mapped.items():
            if not any(p[-1][0] == idp for p in self.paths):
                out |= {(*p[:-1], (idp, sdps)) for p in self.paths if p[-1][0] == ANY}
        self.paths = out

    def intersect(self, user: frozenset[str]) -> None:
        """§6.1.5 (g): a path survives when the policy it leaves anyPolicy by is a user
        policy; an all-anyPolicy path becomes the user policies no survivor left by."""
        if ANY in user:
            return
        def leaving(p: Step) -> str | None:
            return next((pol for pol, _ in p if pol != ANY), None)
        kept = {p for p in self.paths if leaving(p) in user}
        present = {leaving(p) for p in kept}
        for p in self.paths:
            if leaving(p) is None:
                kept |= {(*p[:-1], (u, frozenset({u}))) for u in user - present}
        self.paths = kept

    def leaves(self) -> frozenset[str]:
        return frozenset(p[-1][0] for p in self.paths)


def _random_script(rng: random.Random) -> Iterator[tuple[str, Any, bool]]:
    pool = [P1, P2, P3, P4, ANY]
    n = rng.randint(1, 5)
    for i in range(1, n + 1):
        pols = {p: () for p in rng.sample(pool, rng.randint(1, 3))}
        yield "cert", pols, rng.random() < 0.7
        if i < n and rng.random() < 0.6:
            maps = [(rng.choice(pool[:4]), rng.choice(pool[:4]))
                    for _ in range(rng.randint(1, 4))]
            yield "map", maps, rng.random() < 0.75
    yield "user", frozenset(rng.sample(pool, rng.randint(1, 3))), False


def test_graph_answers_as_the_rfc5280_tree_on_random_inputs() -> None:
    """After every step, the graph is NULL exactly when the tree is, and has the same
    policies at the current depth (1,500 seeded random paths of 1–5 certificates)."""
    rng = random.Random(9618)
    for _ in range(1500):
        graph, tree, depth = PolicyGraph(), UnfoldedTree(), 0
        for kind, a, b in _random_script(rng):
            if kind == "cert":
                depth += 1
                alive = graph.process_certificate(depth, a, b)
                tree.certificate(a, b)
            elif kind == "map":
                alive = graph.process_mappings(depth, a, b)
                tree.mappings(a, b)
            else:
                alive = graph.intersect(depth, a)
                tree.intersect(a)
            assert alive == bool(tree.paths)
            if not alive:
                break
            assert graph.leaf_policies(depth) == tree.leaves()


# ------------------------------------------------------------------ graph semantics
def test_one_node_per_policy_with_every_expecting_parent() -> None:
    """Two depth-1 nodes both expecting P3 (after mapping) give one P3 node with two
    parents, where the tree would have two copies."""
    g = PolicyGraph()
    g.process_certificate(1, {P1: (), P2: ()}, any_policy_allowed=True)
    assert g.process_mappings(1, [(P1, P3), (P2, P3), (P2, P4)], mapping_allowed=True)
    assert g.process_certificate(2, {P3: (b"q",)}, any_policy_allowed=True)
    node = g.levels[2][P3]
    assert node.parents == {P1, P2} and node.qualifiers == (b"q",)
    assert g.levels[1][P2].expected == {P3, P4}
    assert (g.node_count, g.edge_count) == (4, 4)


def test_any_policy_expands_every_expected_policy_once() -> None:
    """§6.1.3 (d)(2): an allowed anyPolicy adds one node per expected policy not asserted,
    with every parent expecting it, plus the anyPolicy chain; not when inhibited."""
    g = PolicyGraph()
    g.process_certificate(1, {P1: (), P2: (), ANY: ()}, any_policy_allowed=True)
    g.process_mappings(1, [(P1, P3), (P2, P3), (P2, P4)], mapping_allowed=True)
    assert g.process_certificate(2, {ANY: (b"ap",)}, any_policy_allowed=True)
    assert set(g.levels[2]) == {P3, P4, ANY}
    assert g.levels[2][P3].parents == {P1, P2} and g.levels[2][P3].qualifiers == (b"ap",)
    assert g.levels[2][ANY].parents == {ANY}
    inhibited = PolicyGraph()
    inhibited.process_certificate(1, {P1: ()}, any_policy_allowed=True)
    assert not inhibited.process_certificate(2, {ANY: ()}, any_policy_allowed=False)
    assert inhibited.root is None


def test_unmatched_policy_hangs_from_the_any_policy_node_only() -> None:
    g = PolicyGraph()
    g.process_certificate(1, {P1: (), ANY: ()}, any_policy_allowed=True)
    g.process_certificate(2, {P1: (), P2: ()}, any_policy_allowed=True)
    assert g.levels[2][P1].parents == {P1}     # matched: not also under anyPolicy
    assert g.levels[2][P2].parents == {ANY}    # unmatched: under anyPolicy
    assert ANY not in g.levels[2] and set(g.levels[1]) == {P1, ANY}


def test_mapping_an_unasserted_policy_through_any_policy() -> None:
    """§6.1.4 (b)(2): a mapped issuerDomainPolicy with no node of its own becomes a child
    of the anyPolicy node above, with the anyPolicy node's qualifiers."""
    g = PolicyGraph()
    g.process_certificate(1, {ANY: (b"ap",)}, any_policy_allowed=True)
    g.process_mappings(1, [(P1, P3), (P1, P4)], mapping_allowed=True)
    node = g.levels[1][P1]
    assert node.parents == {ANY} and node.expected == {P3, P4}
    assert node.qualifiers == (b"ap",)


def test_inhibited_mapping_deletes_and_prunes_up_the_graph() -> None:
    """§6.1.4 (b)(3): with policy_mapping 0 the mapped node goes, and so does every node
    left without children, level by level up to the root (the graph becomes NULL)."""
    g = PolicyGraph()
    g.process_certificate(1, {P1: (), P2: ()}, any_policy_allowed=True)
    g.process_certificate(2, {P1: (), P2: ()}, any_policy_allowed=True)
    assert g.process_mappings(2, [(P1, P3)], mapping_allowed=False)
    assert set(g.levels[2]) == {P2} and set(g.levels[1]) == {P2}
    assert not g.process_mappings(2, [(P2, P3)], mapping_allowed=False)
    assert g.root is None and g.node_count == 0


def test_pruning_keeps_a_node_that_still_has_one_child() -> None:
    g = PolicyGraph()
    g.process_certificate(1, {P1: (), P2: ()}, any_policy_allowed=True)
    g.process_mappings(1, [(P1, P3), (P2, P3), (P2, P4)], mapping_allowed=True)
    assert g.process_certificate(2, {P4: ()}, any_policy_allowed=True)
    assert set(g.levels[1]) == {P2}           # P1 expected only P3: pruned
    assert g.levels[0][ANY].children == {P2}


def test_intersection_cuts_paths_by_the_policy_they_leave_any_policy_by() -> None:
    """§6.1.5 (g): P1 and P2 both map to P3; with the user set {P2} only the path through
    P2 survives, so P3 is still valid, and a depth-n anyPolicy becomes the user policies
    that no surviving path left anyPolicy by (P2 did, so not P2)."""
    g = PolicyGraph()
    g.process_certificate(1, {P1: (), P2: (), ANY: ()}, any_policy_allowed=True)
    g.process_mappings(1, [(P1, P3), (P2, P3)], mapping_allowed=True)
    g.process_certificate(2, {P3: (), ANY: ()}, any_policy_allowed=True)
    assert g.intersect(2, frozenset({P2, P4}))
    assert g.leaf_policies(2) == {P3, P4}
    assert set(g.levels[1]) == {P2, ANY} and g.levels[2][P3].parents == {P2}
    cut = PolicyGraph()
    cut.process_certificate(1, {P1: ()}, any_policy_allowed=True)
    assert not cut.intersect(1, frozenset({P2}))
    anyset = PolicyGraph()
    anyset.process_certificate(1, {P1: (), ANY: ()}, any_policy_allowed=True)
    assert anyset.intersect(1, frozenset({ANY}))
    assert anyset.leaf_policies(1) == {P1, ANY}


# ------------------------------------------------------------------ the hostile chain
class RecordingGraph(PolicyGraph):
    """The real graph, remembering every instance the validator creates."""

    made: list[PolicyGraph] = []

    def __init__(self) -> None:
        super().__init__()
        RecordingGraph.made.append(self)


def _input_items(chain: PolicyMappingChain) -> int:
    """Policies plus mappings in the whole path: the size of the input the graph reads."""
    return sum(len(cert_policies(c) or {}) + len(cert_policy_mappings(c) or [])
               for c in chain.path)


@pytest.mark.parametrize(("width", "any_policy"), [(8, False), (8, True), (12, False)])
def test_hostile_mapping_chain_is_decided_with_linear_work(
        monkeypatch: pytest.MonkeyPatch, width: int, any_policy: bool) -> None:
    """8 CAs each mapping ``width`` policies to all ``width``: valid, with the ``width``
    policies, through the validator under the default (strict) profile, with at most one
    node per policy per depth and work within 4 operations per policy/mapping read."""
    depth = 8
    chain = PolicyMappingChain.build(width, depth, any_policy=any_policy)
    RecordingGraph.made = []
    monkeypatch.setattr(pathstate_module, "PolicyGraph", RecordingGraph)
    policy = ValidationPolicy.permissive([chain.root], revocation=RevocationRule.NONE)
    result = Validator(policy, intermediates=chain.cas).validate(chain.ee, AT)
    assert result.valid, result.message
    assert result.policies == frozenset(chain.policies)
    assert len(RecordingGraph.made) == 1  # one path, one graph
    graph = RecordingGraph.made[0]
    levels = depth + 2  # anchor, the CAs, the end entity
    assert graph.node_count <= (width + 1) * levels
    assert graph.nodes_created <= (width + 1) * levels + width
    assert graph.edges_created <= width * width * levels + levels
    assert graph.operations <= 4 * _input_items(chain)


def test_the_tree_is_what_grew() -> None:
    """The same chain's policies on the unfolded tree: width^(k+1) leaves after k CAs
    (4,096 for k = 3), where the graph keeps ``width`` nodes at every depth."""
    width, cas = 8, 3
    pols = {f"2.999.9.{j}": () for j in range(1, width + 1)}
    maps = [(a, b) for a in pols for b in pols]
    graph, tree = PolicyGraph(), UnfoldedTree()
    for i in range(1, cas + 1):
        graph.process_certificate(i, pols, any_policy_allowed=True)
        graph.process_mappings(i, maps, mapping_allowed=True)
        tree.certificate(pols, any_ok=True)
        tree.mappings(maps, allowed=True)
    graph.process_certificate(cas + 1, pols, any_policy_allowed=True)
    tree.certificate(pols, any_ok=True)
    assert len(tree.paths) == width ** (cas + 1)
    assert [len(level) for level in graph.levels] == [1] + [width] * (cas + 1)
    assert graph.leaf_policies(cas + 1) == tree.leaves()
