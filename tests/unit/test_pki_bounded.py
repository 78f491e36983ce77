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
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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
from jukicard.pki.policy import PathBudget
from jukicard.pki.store import TrustStore

AT = _dt.datetime(2024, 6, 1, tzinfo=_dt.UTC)
NB = _dt.datetime(2020, 1, 1, tzinfo=_dt.UTC)
NA = _dt.datetime(2030, 1, 1, tzinfo=_dt.UTC)
BUDGET = PathBudget()
WIDTH = 120  # look-alike issuers per pool: "100+"


# ------------------------------------------------------------------ generated material
def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bounded test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass
class Node:
    """A generated certificate and the private key of its subject."""

    cert: Certificate
    key: ec.EllipticCurvePrivateKey
    name: x509.Name


def _issue(subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: Node | None, *,
           ca: bool = True, serial: int = 1, aki: bool = False,
           not_after: _dt.datetime = NA) -> Node:
    """A certificate for ``subject``/``key``, signed by ``issuer`` (self-signed if None)."""
    issuer_name = subject if issuer is None else issuer.name
    signer = key if issuer is None else issuer.key
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
         .public_key(key.public_key()).serial_number(serial)
         .not_valid_before(NB).not_valid_after(not_after)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=not ca, content_commitment=False,
                                      key_encipherment=False, data_encipherment=False,
                                      key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                                      encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                        critical=False))
    if aki:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            signer.public_key()), critical=False)
    cert = Certificate.from_cryptography(b.sign(signer, hashes.SHA256()))
    return Node(cert, key, subject)


@dataclass
class World:
    root: Node
    ca: Node
    ee: Node
    same_subject: list[Certificate] = field(default_factory=list)
    same_key: list[Certificate] = field(default_factory=list)
    ring2: list[Certificate] = field(default_factory=list)
    ring2_ee: Certificate | None = None
    ring2_out: Certificate | None = None
    ring12: list[Certificate] = field(default_factory=list)
    ring12_ee: Certificate | None = None
    long_chain: list[Certificate] = field(default_factory=list)
    long_ee: Certificate | None = None
    fanout: list[Certificate] = field(default_factory=list)
    fanout_ee: Certificate | None = None
    decoys: list[Node] = field(default_factory=list)


@pytest.fixture(scope="module")
def world() -> World:
    """Every pool, generated once for the module."""
    root = _issue(_name("Root"), _key(), None)
    ca = _issue(_name("Issuing CA"), _key(), root, serial=2)
    ee = _issue(_name("EE"), _key(), ca, ca=False, serial=3)
    w = World(root, ca, ee)
    # 100+ intermediates sharing the subject of the issuing CA, each with its own key,
    # each properly signed by the root: only a signature check tells them apart
    w.decoys = [_issue(_name("Issuing CA"), _key(), root, serial=100 + i)
                for i in range(WIDTH)]
    w.same_subject = [d.cert for d in w.decoys]
    # 100+ cross-signed variants of the issuing CA's key, by issuers nobody has
    for i in range(WIDTH):
        stranger = Node(ca.cert, _key(), _name(f"Stranger {i}"))
        w.same_key.append(_issue(_name("Issuing CA"), ca.key, stranger, serial=500 + i).cert)
    # A <-> B cross-certification, no way out
    a_key, b_key = _key(), _key()
    a_self = Node(ca.cert, a_key, _name("Ring A"))
    b_self = Node(ca.cert, b_key, _name("Ring B"))
    w.ring2 = [_issue(_name("Ring A"), a_key, b_self, serial=20).cert,
               _issue(_name("Ring B"), b_key, a_self, serial=21).cert]
    w.ring2_ee = _issue(_name("Ring EE"), _key(), a_self, ca=False, serial=22).cert
    w.ring2_out = _issue(_name("Ring B"), b_key, root, serial=23).cert
    # a ring of 12 CAs, each cross-certified by the next two (chords): no anchor on it
    keys = [_key() for _ in range(12)]
    selves = [Node(ca.cert, keys[i], _name(f"Ring {i}")) for i in range(12)]
    for i in range(12):
        for step in (1, 2):
            w.ring12.append(_issue(selves[i].name, keys[i], selves[(i + step) % 12],
                                   serial=40 + 2 * i + step).cert)
    w.ring12_ee = _issue(_name("Ring12 EE"), _key(), selves[0], ca=False, serial=70).cert
    # a chain 20 CAs deep under the root
    top = root
    for i in range(20):
        top = _issue(_name(f"Deep {i}"), _key(), top, serial=200 + i)
        w.long_chain.append(top.cert)
    w.long_ee = _issue(_name("Deep EE"), _key(), top, ca=False, serial=299).cert
    # fan-out: 5 levels of 5 keys, every key of a level certified by every key of the level
    # above (25 certificates per level); the top level has no anchor above it
    levels = [[Node(ca.cert, _key(), _name(f"Fan {lv}")) for _ in range(5)] for lv in range(6)]
    serial = 1000
    for lv in range(5):
        for child in levels[lv]:
            for parent in levels[lv + 1]:
                serial += 1
                w.fanout.append(_issue(child.name, child.key, parent, serial=serial).cert)
    w.fanout_ee = _issue(_name("Fan EE"), _key(), levels[0][0], ca=False, serial=2000).cert
    return w


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
                                    **policy),
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
    ee = _issue(_name("EE aki"), _key(), world.ca, ca=False, serial=4, aki=True).cert
    res, pool = _validate(world, ee, [*world.same_subject, world.ca.cert])
    assert res.valid
    _within_budget(work, pool)
    assert work.meter.signature_checks == 2


# ------------------------------------------------------------------ 100+ sharing a key
def test_same_key_variants_by_strangers(world: World, work: Work) -> None:
    """120 certificates of the issuing CA's key, issued by strangers, ahead of the real one:
    each verifies the target (one real verification, cached) and leads nowhere."""
    res, pool = _validate(world, world.ee.cert, [*world.same_key, world.ca.cert])
    assert res.reason == Reason.PATH_BUILDING_LIMIT
    _within_budget(work, pool)
    assert work.crypto == 1


def test_same_key_variants_reaching_the_anchor(world: World, work: Work) -> None:
    """120 variants of one key, all signed by the root, for an expired target: every path
    fails for the same reason, and the paths budget stops the repetition."""
    late = _issue(_name("EE late"), _key(), world.ca, ca=False, serial=5,
                  not_after=_dt.datetime(2023, 1, 1, tzinfo=_dt.UTC)).cert
    variants = [_issue(_name("Issuing CA"), world.ca.key, world.root, serial=800 + i).cert
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
    assert work.meter.signature_checks == 4


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
    direct = _issue(_name("EE direct"), _key(), world.root, ca=False, serial=6).cert
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
        ValidationPolicy.permissive([world.root.cert], revocation=RevocationRule.NONE),
        intermediates=[*world.fanout, world.ca.cert])
    results = validator.validate_many([world.fanout_ee, world.ee.cert, world.fanout_ee], AT)
    assert [r.reason for r in results] == [Reason.PATH_BUILDING_LIMIT, Reason.OK,
                                           Reason.PATH_BUILDING_LIMIT]
    assert len(work.meters) == 3


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
