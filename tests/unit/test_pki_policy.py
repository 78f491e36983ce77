"""The valid_policy_graph (jukicard.pki.policies, through its old name PolicyTree) and the
ValidationPolicy object."""

from __future__ import annotations

import dataclasses
import datetime as _dt

import pytest

from jukicard.errors import UsageError
from jukicard.pki import ANY_POLICY, RevocationRule, ValidationPolicy
from jukicard.pki.policies import PolicyTree  # the PolicyGraph under its old name

P1, P2, P3 = "1.2.3.1", "1.2.3.2", "1.2.3.3"


def test_tree_keeps_asserted_policies_from_any_policy_root() -> None:
    t = PolicyTree()
    assert t.process_certificate(1, {P1: (), P2: ()}, any_policy_allowed=True)
    assert t.leaf_policies(1) == {P1, P2}
    assert t.process_certificate(2, {P1: ()}, any_policy_allowed=True)
    assert t.leaf_policies(2) == {P1}
    # P2 branch has no child at depth 2 and was pruned
    assert set(t.levels[1]) == {P1}


def test_tree_becomes_null_when_policies_are_disjoint() -> None:
    t = PolicyTree()
    assert t.process_certificate(1, {P1: ()}, any_policy_allowed=True)
    assert not t.process_certificate(2, {P2: ()}, any_policy_allowed=True)
    assert t.root is None


def test_any_policy_expands_expected_set_only_when_allowed() -> None:
    t = PolicyTree()
    t.process_certificate(1, {P1: ()}, any_policy_allowed=True)
    assert t.process_certificate(2, {ANY_POLICY: ()}, any_policy_allowed=True)
    assert t.leaf_policies(2) == {P1}
    t2 = PolicyTree()
    t2.process_certificate(1, {P1: ()}, any_policy_allowed=True)
    assert not t2.process_certificate(2, {ANY_POLICY: ()}, any_policy_allowed=False)


def test_mapping_rewrites_expected_policies() -> None:
    t = PolicyTree()
    t.process_certificate(1, {P1: ()}, any_policy_allowed=True)
    assert t.process_mappings(1, [(P1, P2)], mapping_allowed=True)
    assert t.process_certificate(2, {P2: ()}, any_policy_allowed=True)
    # the valid_policy stays the issuer-domain policy at depth 1, P2 at depth 2
    assert set(t.levels[1]) == {P1}
    assert t.leaf_policies(2) == {P2}


def test_mapping_inhibited_deletes_mapped_policy() -> None:
    t = PolicyTree()
    t.process_certificate(1, {P1: ()}, any_policy_allowed=True)
    assert not t.process_mappings(1, [(P1, P2)], mapping_allowed=False)


def test_mapping_from_any_policy_node_creates_nodes() -> None:
    t = PolicyTree()
    t.process_certificate(1, {ANY_POLICY: ()}, any_policy_allowed=True)
    t.process_mappings(1, [(P1, P3)], mapping_allowed=True)
    assert set(t.levels[1]) == {ANY_POLICY, P1}
    t.process_certificate(2, {P3: ()}, any_policy_allowed=True)
    assert t.leaf_policies(2) == {P3}


def test_intersection_with_user_initial_policy_set() -> None:
    t = PolicyTree()
    t.process_certificate(1, {P1: (), P2: ()}, any_policy_allowed=True)
    assert t.intersect(1, frozenset({P2, P3}))
    assert t.leaf_policies(1) == {P2}
    t2 = PolicyTree()
    t2.process_certificate(1, {P1: ()}, any_policy_allowed=True)
    assert not t2.intersect(1, frozenset({P3}))


def test_intersection_replaces_any_policy_leaf_by_user_policies() -> None:
    t = PolicyTree()
    t.process_certificate(1, {ANY_POLICY: ()}, any_policy_allowed=True)
    assert t.intersect(1, frozenset({P1, P3}))
    assert t.leaf_policies(1) == {P1, P3}


# ---------------------------------------------------------------------- ValidationPolicy
def test_policy_is_frozen_and_normalised() -> None:
    p = ValidationPolicy((), user_initial_policy_set=["anyPolicy"])
    assert p.user_initial_policy_set == frozenset({ANY_POLICY})
    assert p.revocation is RevocationRule.CRL_REQUIRED          # production default
    assert p.min_rsa_key_size == 2048
    assert "sha1" not in p.hash_algorithms and "dsa" not in p.signature_algorithms
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.jpki_profile = True  # type: ignore[misc]
    q = p.replace(clock_skew=_dt.timedelta(minutes=5))
    assert q.clock_skew == _dt.timedelta(minutes=5) and p.clock_skew == _dt.timedelta(0)


def test_jpki_and_permissive_presets() -> None:
    assert ValidationPolicy.jpki(()).jpki_profile
    perm = ValidationPolicy.permissive(())
    assert "dsa" in perm.signature_algorithms and "sha1" in perm.hash_algorithms
    assert not perm.jpki_profile


@pytest.mark.parametrize("kw", [
    {"trust_anchors": [b"not a cert"]},
    {"trust_anchors": (), "clock_skew": _dt.timedelta(seconds=-1)},
    {"trust_anchors": (), "revocation": "none"},
    {"trust_anchors": (), "user_initial_policy_set": []},
    {"trust_anchors": (), "max_path_length": -1},
])
def test_policy_rejects_bad_arguments(kw: dict) -> None:
    with pytest.raises(UsageError):
        ValidationPolicy(**kw)
