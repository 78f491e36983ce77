"""Bounded path building on hostile intermediate pools (issue 9).

Every pool is generated here with ``cryptography`` (P-256 keys, built once per module).  Each
case is decided within the :class:`~jukicard.pki.policy.PathBudget` counts and with the
expected reason; the work is counted twice: by the validator's own :class:`BuildMeter`
(recorded as it is created) and independently (the signature verifications that reach the
crypto backend, the candidates pulled out of the pool).  Nothing here measures time.

On the code before issue 9 none of these tests could pass (there was no budget, no
``path-building-limit`` reason, no ``max_chain_depth``), and the fan-out pool alone (5
levels of 5 keys, no anchor above) took 14 s to enumerate without checking one signature;
each more level multiplies that by 25.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from jukicard.errors import UsageError
from jukicard.pki import (
    Certificate,
    CertificatePool,
    PathValidationError,
    Reason,
    RevocationRule,
    ValidationPolicy,
    Validator,
)
from jukicard.pki import pathstate as pathstate_module
from jukicard.pki import validate as validate_module
from jukicard.pki.path import BuildMeter, PathBuilder, build_paths
from jukicard.pki.policy import Conformance, PathBudget
from jukicard.pki.store import TrustStore
from jukicard.testing.hostile import AT, HostilePools, hostile_pools, issue, name, new_key

#: The hostile generators leave out the AKI (an attacker would: it is what lets a builder skip
#: look-alike issuers), which the strict profile rejects once a path is built.  These cases
#: measure path building itself, so they run LENIENT; ``test_hostile_pools_stay_bounded_
#: under_strict`` in tests/unit/test_pki_bounded.py decides the same pools under STRICT.
LENIENT = Conformance.LENIENT

BUDGET = PathBudget()
WIDTH = 120  # look-alike issuers per pool: "100+"
World = HostilePools


@pytest.fixture(scope="module")
def world() -> HostilePools:
    """Every pool, generated once for the module."""
    return hostile_pools(WIDTH)


# ------------------------------------------------------------------ counting
class CountingPool(CertificatePool):
    """The real pool, counting the candidates path building pulls out of it."""

    def __init__(self, certs: Sequence[Certificate]) -> None:
        super().__init__(certs)
        self.pulled = 0

    def issuers_of(self, cert: Certificate) -> list[Certificate]:
        pool = self

        class Counted(list[Certificate]):
            def __iter__(self) -> Iterator[Certificate]:
                for c in super().__iter__():
                    pool.pulled += 1
                    yield c

        return Counted(super().issuers_of(cert))


@dataclass
class Work:
    meters: list[BuildMeter] = field(default_factory=list)
    crypto: int = 0

    @property
    def meter(self) -> BuildMeter:
        assert len(self.meters) == 1, self.meters
        return self.meters[0]


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Work:
    """Record every BuildMeter the validator creates, and count real signature checks."""
    w = Work()

    class RecordedMeter(BuildMeter):
        def __init__(self, budget: PathBudget) -> None:
            super().__init__(budget)
            w.meters.append(self)

    real_verify = pathstate_module.verify_signature

    def counted_verify(*args: Any) -> bool:
        w.crypto += 1
        return real_verify(*args)

    monkeypatch.setattr(validate_module, "BuildMeter", RecordedMeter)
    monkeypatch.setattr(pathstate_module, "verify_signature", counted_verify)
    return w


def _validate(world: World, target: Certificate, pool: Sequence[Certificate],
              **policy: Any) -> tuple[Any, CountingPool]:
    counting = CountingPool(pool)
    validator = Validator(
        ValidationPolicy.permissive([world.root.cert], revocation=RevocationRule.NONE,
                                    **{"conformance": LENIENT, **policy}),
        intermediates=counting)
    return validator.validate(target, AT), counting


def _within_budget(work: Work, pool: CountingPool, budget: PathBudget = BUDGET) -> None:
    meter = work.meter
    assert meter.candidates <= budget.max_candidates
    assert meter.signature_checks <= budget.max_signature_checks
    assert meter.paths <= budget.max_paths
    assert pool.pulled <= meter.candidates + 1  # + the one the budget refused
    assert work.crypto <= meter.signature_checks


# ------------------------------------------------------------------ baseline
def test_normal_path_costs_three_checks(world: World, work: Work) -> None:
    res, pool = _validate(world, world.ee.cert, [world.ca.cert])
    assert res.valid and res.path == (world.root.cert, world.ca.cert, world.ee.cert)
    _within_budget(work, pool)
    assert (work.meter.candidates, work.meter.signature_checks, work.meter.paths) == (2, 2, 1)


# ------------------------------------------------------------------ 100+ sharing a subject
def test_same_subject_pool_runs_out_of_signature_checks(world: World, work: Work) -> None:
    """120 look-alikes (same subject, no AKI in the target) ahead of the real issuer."""
    res, pool = _validate(world, world.ee.cert, [*world.same_subject, world.ca.cert])
    assert not res.valid and res.reason == Reason.PATH_BUILDING_LIMIT
    assert "signature checks" in res.message
    _within_budget(work, pool)
    assert work.meter.signature_checks == BUDGET.max_signature_checks
    with pytest.raises(PathValidationError) as err:
        res.raise_for_status()
    assert err.value.reason == "path-building-limit"


def test_same_subject_pool_decided_within_a_larger_budget(world: World, work: Work) -> None:
    budget = PathBudget(max_signature_checks=WIDTH + 10)
    res, pool = _validate(world, world.ee.cert, [*world.same_subject, world.ca.cert],
                          budget=budget)
    assert res.valid and res.path[1] == world.ca.cert
    _within_budget(work, pool, budget)
    assert work.meter.signature_checks == WIDTH + 2  # every look-alike once, then the path


def test_same_subject_pool_without_the_issuer_is_a_bad_signature(world: World,
                                                                  work: Work) -> None:
    few = world.same_subject[:10]
    res, pool = _validate(world, world.ee.cert, few)
    assert res.reason == Reason.BAD_SIGNATURE and res.path[0] in few
    _within_budget(work, pool)
    assert work.meter.signature_checks == 10


def test_aki_puts_the_real_issuer_first(world: World, work: Work) -> None:
    ee = issue(name("EE aki"), new_key(), world.ca, ca=False, serial=4, aki=True).cert
    res, pool = _validate(world, ee, [*world.same_subject, world.ca.cert])
    assert res.valid
    _within_budget(work, pool)
    assert work.meter.signature_checks == 2


# ------------------------------------------------------------------ 100+ sharing a key
def test_same_key_variants_by_strangers(world: World, work: Work) -> None:
    """120 certificates of the issuing CA's key, issued by strangers, ahead of the real one:
    the shared key costs one signature check, each variant one candidate (a dead end)."""
    res, pool = _validate(world, world.ee.cert, [*world.same_key, world.ca.cert])
    assert res.valid and res.path[1] == world.ca.cert
    _within_budget(work, pool)
    assert work.meter.signature_checks == 2 and work.crypto == 2
    assert work.meter.candidates == WIDTH + 2


def test_same_key_variants_exhaust_the_candidates(world: World, work: Work) -> None:
    """The same pool against a candidate budget smaller than it (standing in for a pool of
    more than the default 1,000 variants)."""
    budget = PathBudget(max_candidates=50)
    res, pool = _validate(world, world.ee.cert, [*world.same_key, world.ca.cert],
                          budget=budget)
    assert res.reason == Reason.PATH_BUILDING_LIMIT and "candidates" in res.message
    _within_budget(work, pool, budget)
    assert work.meter.exhausted == "candidates"


def test_same_key_variants_reaching_the_anchor(world: World, work: Work) -> None:
    """120 variants of one key, all signed by the root, for an expired target: every path
    fails for the same reason, and the paths budget stops the repetition."""
    late = issue(name("EE late"), new_key(), world.ca, ca=False, serial=5,
                  not_after=_dt.datetime(2023, 1, 1, tzinfo=_dt.UTC)).cert
    variants = [issue(name("Issuing CA"), world.ca.key, world.root, serial=800 + i).cert
                for i in range(WIDTH)]
    res, pool = _validate(world, late, variants)
    assert res.reason == Reason.EXPIRED  # a path's own reason beats the limit
    _within_budget(work, pool)
    assert work.meter.paths == BUDGET.max_paths


# ------------------------------------------------------------------ cycles
def test_two_ring_is_no_issuer(world: World, work: Work) -> None:
    assert world.ring2_ee is not None
    res, pool = _validate(world, world.ring2_ee, world.ring2)
    assert res.reason == Reason.NO_ISSUER
    _within_budget(work, pool)
    assert work.meter.signature_checks == 2  # ring EE <- A <- B, then B's issuer A is a loop


def test_two_ring_with_a_way_out(world: World, work: Work) -> None:
    """The same ring, B also certified by the root: the path goes round once and out."""
    assert world.ring2_ee is not None and world.ring2_out is not None
    res, pool = _validate(world, world.ring2_ee, [*world.ring2, world.ring2_out])
    assert res.valid
    assert res.path == (world.root.cert, world.ring2_out, world.ring2[0], world.ring2_ee)
    _within_budget(work, pool)
    assert work.meter.signature_checks == 3  # EE <- A, A <- B (twice, one key), B <- root


def test_ring_of_twelve_with_chords(world: World, work: Work) -> None:
    assert world.ring12_ee is not None
    res, pool = _validate(world, world.ring12_ee, world.ring12)
    assert res.reason == Reason.PATH_BUILDING_LIMIT
    _within_budget(work, pool)


# ------------------------------------------------------------------ depth
def test_chain_deeper_than_max_chain_depth(world: World, work: Work) -> None:
    assert world.long_ee is not None
    res, pool = _validate(world, world.long_ee, world.long_chain)
    assert res.reason == Reason.PATH_BUILDING_LIMIT
    assert "max_chain_depth (8)" in res.message
    _within_budget(work, pool)
    assert work.meter.signature_checks == 8  # the edges of target + 8 CAs, then depth


def test_max_chain_depth_allows_the_deep_chain(world: World, work: Work) -> None:
    assert world.long_ee is not None
    res, pool = _validate(world, world.long_ee, world.long_chain, max_chain_depth=20)
    assert res.valid and len(res.path) == 22
    _within_budget(work, pool)


def test_max_chain_depth_zero_means_anchor_issued_only(world: World, work: Work) -> None:
    direct = issue(name("EE direct"), new_key(), world.root, ca=False, serial=6).cert
    res, _ = _validate(world, direct, [], max_chain_depth=0)
    assert res.valid
    res, _ = _validate(world, world.ee.cert, [world.ca.cert], max_chain_depth=0)
    assert res.reason == Reason.PATH_BUILDING_LIMIT


def test_max_path_length_keeps_its_own_reason(world: World, work: Work) -> None:
    """The policy's max_path_length bound is not a budget: no path is no-issuer (as
    before issue 9)."""
    res, _ = _validate(world, world.ee.cert, [world.ca.cert], max_path_length=0)
    assert res.reason == Reason.NO_ISSUER


# ------------------------------------------------------------------ fan-out
def test_wide_fan_out_at_every_level(world: World, work: Work) -> None:
    assert world.fanout_ee is not None
    res, pool = _validate(world, world.fanout_ee, world.fanout)
    assert res.reason == Reason.PATH_BUILDING_LIMIT
    _within_budget(work, pool)
    assert work.meter.exhausted == "signature checks"


def test_fan_out_candidates_budget(world: World, work: Work) -> None:
    """Without edge checks the candidate budget alone bounds the walk (the builder)."""
    assert world.fanout_ee is not None
    budget = PathBudget(max_candidates=300)
    meter = BuildMeter(budget)
    pool = CountingPool(world.fanout)
    builder = PathBuilder(TrustStore([world.root.cert]), pool, meter, max_depth=9)
    assert list(builder.build(world.fanout_ee)) == []
    assert meter.exhausted == "candidates" and meter.candidates == 300
    assert pool.pulled == 301  # + the one the budget refused


# ------------------------------------------------------------------ batches
def test_budget_is_per_input_in_a_batch(world: World, work: Work) -> None:
    """A hostile input spends its own budget, not the next one's; no exception."""
    assert world.fanout_ee is not None
    validator = Validator(
        ValidationPolicy.permissive([world.root.cert], revocation=RevocationRule.NONE,
                                    conformance=LENIENT),
        intermediates=[*world.fanout, world.ca.cert])
    results = validator.validate_many([world.fanout_ee, world.ee.cert, world.fanout_ee], AT)
    assert [r.reason for r in results] == [Reason.PATH_BUILDING_LIMIT, Reason.OK,
                                           Reason.PATH_BUILDING_LIMIT]
    assert len(work.meters) == 2  # the repeated input is validated once (its result reused)


def test_build_paths_function_keeps_working(world: World) -> None:
    paths = list(build_paths(world.ee.cert, TrustStore([world.root.cert]),
                             CertificatePool([world.ca.cert])))
    assert paths == [(world.root.cert, world.ca.cert, world.ee.cert)]


# ------------------------------------------------------------------ policy fields
def test_policy_budget_fields() -> None:
    p = ValidationPolicy(())
    assert p.max_chain_depth == 8 and p.budget == PathBudget()
    assert (p.budget.max_candidates, p.budget.max_signature_checks, p.budget.max_paths,
            p.budget.max_name_constraint_checks) == (1000, 100, 16, 1 << 18)
    assert p.replace(max_chain_depth=3).max_chain_depth == 3


@pytest.mark.parametrize("kw", [
    {"max_chain_depth": -1}, {"max_chain_depth": "8"}, {"max_chain_depth": True},
    {"budget": {"max_candidates": 5}},
])
def test_policy_rejects_bad_bounds(kw: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        ValidationPolicy((), **kw)


@pytest.mark.parametrize("kw", [
    {"max_candidates": 0}, {"max_signature_checks": -1}, {"max_paths": 1.5},
    {"max_name_constraint_checks": False},
])
def test_path_budget_rejects_bad_limits(kw: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        PathBudget(**kw)


# ------------------------------------------------------------------ the default profile
@pytest.mark.parametrize("pool_name", ["same_subject", "same_key", "ring12", "fanout"])
def test_hostile_pools_stay_bounded_under_strict(world: World, work: Work,
                                                 pool_name: str) -> None:
    """Under the default STRICT profile (issue 9) the hostile pools are decided within the
    same budget: the profile checks run on built paths, so they add no path-building work;
    the verdict is a rejection (the look-alikes lack the AKI the profile requires, or the
    budget ran out), never valid and never an exception."""
    pool = list(getattr(world, pool_name))
    target = {"same_subject": world.ee.cert, "same_key": world.ee.cert,
              "ring12": world.ring12_ee, "fanout": world.fanout_ee}[pool_name]
    assert target is not None
    counting = CountingPool(pool)
    validator = Validator(ValidationPolicy.permissive([world.root.cert],
                                                      revocation=RevocationRule.NONE),
                          intermediates=counting)
    res = validator.validate(target, AT)
    assert not res.valid
    _within_budget(work, counting)
