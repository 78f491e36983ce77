"""Path validation on hostile inputs, against a normal 3-certificate path (issue 9).

``python3 -m pytest benchmarks/test_pathbuilding.py --benchmark-only``
(``JUKICARD_BENCH_PATHS_MD=/tmp/paths.md`` also writes the table as Markdown).

Each case times one ``Validator(policy, intermediates=pool).validate(target, at)`` with a
fresh validator (a cold signature cache, as for a new request), the permissive policy with
the default :class:`~jukicard.pki.policy.PathBudget` and ``max_chain_depth`` and no
revocation checking (CRL work is not what is measured).  The pools come from
:mod:`jukicard.testing.hostile` (P-256 keys), built once per module.  The parse cases time
``Certificate.parse`` of an input refused by a cap against a normal certificate.

Results are reported as the ratio of the median to the normal path's median in the same
run; the outcome of every timed call is checked (its reason), its time never is.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import core
from asn1crypto import x509 as a509
from cryptography import x509

from jukicard.pki import (
    Certificate,
    CertificatePool,
    MalformedCertificateError,
    Reason,
    RevocationRule,
    ValidationPolicy,
    Validator,
)
from jukicard.pki.policy import Conformance
from jukicard.testing.hostile import (
    AT,
    NameConstraintChain,
    PolicyMappingChain,
    certified_by_strangers,
    hostile_pools,
    issue,
    issue_der,
    name,
    new_key,
)

#: The hostile generators leave out the AKI (an attacker would: it is what lets a builder skip
#: look-alike issuers), which the strict profile rejects once a path is built.  These cases
#: measure path building itself, so they run LENIENT; ``test_hostile_pools_stay_bounded_
#: under_strict`` in tests/unit/test_pki_bounded.py decides the same pools under STRICT.
LENIENT = Conformance.LENIENT

WIDTH = 120
MANY = 1200  # more than PathBudget.max_candidates
POLICY_WIDTH, POLICY_DEPTH = 8, 8
POLICY_CASE = (f"policy mappings: {POLICY_DEPTH} CAs x {POLICY_WIDTH} policies, each mapped "
               f"to all {POLICY_WIDTH} (CVE-2023-0464 shape)")


@dataclass(frozen=True)
class Case:
    """One validation: ``target`` against ``pool`` under ``anchors``."""

    title: str
    target: Certificate
    anchors: tuple[Certificate, ...]
    pool: CertificatePool
    expect: Reason
    policy: dict[str, Any] = field(default_factory=dict)

    def run(self) -> Reason:
        policy = ValidationPolicy.permissive(self.anchors, revocation=RevocationRule.NONE,
                                             **{"conformance": LENIENT, **self.policy})
        return Validator(policy, intermediates=self.pool).validate(self.target, AT).reason


@pytest.fixture(scope="module")
def cases() -> dict[str, Case]:
    p = hostile_pools(WIDTH)
    assert p.root.cert and p.ca.cert and p.ee.cert
    root = (p.root.cert,)
    late = issue(name("EE late"), new_key(), p.ca, ca=False, serial=5,
                 not_after=dt.datetime(2023, 1, 1, tzinfo=dt.UTC)).cert
    variants = [issue(name("Issuing CA"), p.ca.key, p.root, serial=800 + i).cert
                for i in range(WIDTH)]
    many = certified_by_strangers(p.ca, MANY)
    aki_ee = issue(name("EE aki"), new_key(), p.ca, ca=False, serial=4, aki=True).cert
    nc_over = NameConstraintChain.build([1000] * 8, 1000, excluded=True)
    nc_fit = NameConstraintChain.build([1000], 262, excluded=True)  # 262,000 ≤ 2**18
    pm = PolicyMappingChain.build(POLICY_WIDTH, POLICY_DEPTH)
    assert late and aki_ee and p.ring2_ee and p.ring12_ee and p.long_ee and p.fanout_ee
    out = [
        Case("normal 3-certificate path (baseline)", p.ee.cert, root,
             CertificatePool([p.ca.cert]), Reason.OK),
        Case(f"{WIDTH} look-alikes sharing the subject, real issuer last", p.ee.cert, root,
             CertificatePool([*p.same_subject, p.ca.cert]), Reason.PATH_BUILDING_LIMIT),
        Case(f"{WIDTH} look-alikes sharing the subject, AKI names the real issuer", aki_ee,
             root, CertificatePool([*p.same_subject, p.ca.cert]), Reason.OK),
        Case(f"{WIDTH} certificates sharing the key, issued by strangers", p.ee.cert, root,
             CertificatePool([*p.same_key, p.ca.cert]), Reason.OK),
        Case(f"{MANY} certificates sharing the key, issued by strangers", p.ee.cert, root,
             CertificatePool([*many, p.ca.cert]), Reason.PATH_BUILDING_LIMIT),
        Case(f"{WIDTH} certificates sharing the key under the root, expired target", late,
             root, CertificatePool(variants), Reason.EXPIRED),
        Case("A <-> B cross-certification ring", p.ring2_ee, root,
             CertificatePool(p.ring2), Reason.NO_ISSUER),
        Case("12-CA ring with chords", p.ring12_ee, root, CertificatePool(p.ring12),
             Reason.PATH_BUILDING_LIMIT),
        Case("chain 20 CAs deep (max_chain_depth 8)", p.long_ee, root,
             CertificatePool(p.long_chain), Reason.PATH_BUILDING_LIMIT),
        Case("fan-out: 5 levels x 5 keys, each certified by every key above", p.fanout_ee,
             root, CertificatePool(p.fanout), Reason.PATH_BUILDING_LIMIT),
        Case("name constraints: 8 CAs x 1000 excluded vs 1000 SANs (over budget)",
             nc_over.ee, (nc_over.root,), CertificatePool(nc_over.cas), Reason.NC_LIMIT),
        Case("name constraints: 1000 excluded vs 262 SANs (262,000 checks, within budget)",
             nc_fit.ee, (nc_fit.root,), CertificatePool(nc_fit.cas), Reason.OK),
        # a well-formed chain (AKI/SKI everywhere): its policies, not its profile, are hostile
        Case(POLICY_CASE, pm.ee, (pm.root,), CertificatePool(pm.cas), Reason.OK,
             {"conformance": Conformance.STRICT}),
    ]
    return {c.title: c for c in out}


CASE_IDS = [
    "normal 3-certificate path (baseline)",
    f"{WIDTH} look-alikes sharing the subject, real issuer last",
    f"{WIDTH} look-alikes sharing the subject, AKI names the real issuer",
    f"{WIDTH} certificates sharing the key, issued by strangers",
    f"{MANY} certificates sharing the key, issued by strangers",
    f"{WIDTH} certificates sharing the key under the root, expired target",
    "A <-> B cross-certification ring",
    "12-CA ring with chords",
    "chain 20 CAs deep (max_chain_depth 8)",
    "fan-out: 5 levels x 5 keys, each certified by every key above",
    "name constraints: 8 CAs x 1000 excluded vs 1000 SANs (over budget)",
    "name constraints: 1000 excluded vs 262 SANs (262,000 checks, within budget)",
    POLICY_CASE,
]
BASELINE = CASE_IDS[0]


# ------------------------------------------------------------------ the ratio report
@dataclass(frozen=True)
class Row:
    group: str
    title: str
    outcome: str
    rounds: int
    median: float
    worst: float


class _Report:
    """Collects the rows and prints the ratio table at the end of the run."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}

    def add(self, group: str, title: str, outcome: str, benchmark: Any) -> None:
        stats = benchmark.stats
        if stats is None or not stats.stats.data:
            return
        data = sorted(stats.stats.data)
        self.rows[title] = Row(group, title, outcome, len(data), data[len(data) // 2],
                               data[-1])

    def table(self) -> list[str]:
        lines = ["| case | outcome | rounds | median ms | max ms | median / baseline |",
                 "|---|---|---|---|---|---|"]
        base = {r.group: r for r in self.rows.values() if r.title in (BASELINE, PARSE_BASE)}
        for r in self.rows.values():
            b = base.get(r.group)
            ratio = f"{r.median / b.median:,.1f}×" if b else "n/a"
            lines.append(f"| {r.title} | `{r.outcome}` | {r.rounds} | {r.median * 1e3:,.2f} "
                         f"| {r.worst * 1e3:,.2f} | {ratio} |")
        return lines

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.rows:
            return
        machine = (f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
                   f"{platform.python_version()}, {platform.platform(terse=True)}")
        tr = terminalreporter
        tr.section("jukicard path building on hostile input (ratios against the baseline)")
        tr.write_line(f"{dt.date.today().isoformat()} — {machine}")
        for line in self.table():
            tr.write_line(line)
        out = os.environ.get("JUKICARD_BENCH_PATHS_MD")
        if out:
            Path(out).write_text(f"Measured {dt.date.today().isoformat()} on {machine}\n\n"
                                 + "\n".join(self.table()) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def report(request: pytest.FixtureRequest) -> _Report:
    rep = _Report()
    request.config.pluginmanager.register(rep, "jukicard-pathbuilding-report")
    return rep


# ------------------------------------------------------------------ validation cases
@pytest.mark.parametrize("title", CASE_IDS)
def test_validate(benchmark: Any, cases: dict[str, Case], report: _Report, title: str) -> None:
    case = cases[title]
    benchmark.group = "path validation"
    reason = benchmark(case.run)
    assert reason == case.expect  # what was timed is the intended outcome
    report.add("validate", title, str(reason), benchmark)


# ------------------------------------------------------------------ parse cases
PARSE_BASE = "parse: a normal certificate (baseline)"


def _nested_certificate(levels: int) -> bytes:
    """A certificate whose policy qualifier is ``levels`` SEQUENCEs deep."""
    key = new_key()
    cert = issue(name("nested"), key, None).cert
    assert cert is not None
    asn1 = a509.Certificate.load(cert.der)
    tbs = asn1["tbs_certificate"].copy()
    inner = b"\x05\x00"
    for _ in range(levels):
        n = len(inner)
        inner = b"\x30" + (bytes([n]) if n < 128 else b"\x82" + n.to_bytes(2, "big")) + inner
    policies = a509.CertificatePolicies([{
        "policy_identifier": "1.2.3",
        "policy_qualifiers": [{"policy_qualifier_id": "1.2.3.4",
                               "qualifier": core.Any.load(inner)}]}])
    tbs["extensions"] = [*tbs["extensions"], {"extn_id": "certificate_policies",
                                              "critical": False, "extn_value": policies}]
    return a509.Certificate({"tbs_certificate": tbs,
                             "signature_algorithm": asn1["signature_algorithm"],
                             "signature_value": asn1["signature_value"]}).dump(force=True)


def _san_certificate(count: int) -> bytes:
    san = x509.SubjectAlternativeName([x509.DNSName(f"h{i}.example") for i in range(count)])
    return issue_der(name("sans"), new_key(), None, ca=False, extensions=[(san, False)])


@pytest.fixture(scope="module")
def parse_inputs() -> dict[str, bytes]:
    normal = issue(name("normal"), new_key(), None).cert
    assert normal is not None
    return {
        PARSE_BASE: normal.der,
        "parse: nested 3,000 levels (refused by the nesting cap)": _nested_certificate(3000),
        "parse: 1,025 SANs (refused by the entries cap)": _san_certificate(1025),
    }


def _parse_outcome(der: bytes) -> Callable[[], str]:
    def run() -> str:
        try:
            Certificate.parse(der)
        except MalformedCertificateError as exc:
            return str(exc.reason)
        return "parsed"
    return run


@pytest.mark.parametrize("title", [PARSE_BASE,
                                   "parse: nested 3,000 levels (refused by the nesting cap)",
                                   "parse: 1,025 SANs (refused by the entries cap)"])
def test_parse(benchmark: Any, parse_inputs: dict[str, bytes], report: _Report,
               title: str) -> None:
    benchmark.group = "parse"
    outcome = benchmark(_parse_outcome(parse_inputs[title]))
    assert outcome == ("parsed" if title == PARSE_BASE else "malformed-certificate")
    report.add("parse", title, outcome, benchmark)
