"""Issue 9: the differential test of jukicard's validator against pyca/cryptography's
verifier and ``openssl verify -x509_strict`` over the generated corpus
(``jukicard.testing.x509corpus``; harness in ``differential_support.py``).

``python3 tests/differential_report.py`` prints the whole table (``--readme`` rewrites it in
README.md, ``-o tests/differential/agreement.md`` the stored copy); the last tests check that
both copies still say what the verifiers say now.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import differential_support as ds
import pytest

from jukicard.testing.x509corpus import CASES, PEERS, build_corpus, write_corpus

ROOT = Path(__file__).resolve().parents[2]
KEY_DIR = ROOT / "vectors" / "x509corpus" / "keys"

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="the differential test needs the openssl command")

ALL = [d.id for d in CASES]
CONTROLS = [d.id for d in CASES if d.valid]
NOTED = [d.id for d in CASES if d.notes]


@pytest.fixture(scope="session")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ds.Outcome]:
    """Every case through the three verifiers, once per session."""
    cases = build_corpus(KEY_DIR)
    files = write_corpus(cases, tmp_path_factory.mktemp("x509corpus"))
    return {o.case.id: o for o in ds.evaluate(cases, files)}


@pytest.mark.parametrize("case_id", ALL)
def test_jukicard_accepts_nothing_a_peer_rejects(outcomes: dict[str, ds.Outcome],
                                                 case_id: str) -> None:
    """The issue's rule: jukicard accepting what cryptography or OpenSSL rejects fails,
    unless the corpus says in writing why that peer is wrong."""
    found = ds.problems(outcomes[case_id])
    assert not found, "; ".join(found)


@pytest.mark.parametrize("case_id", ALL)
def test_jukicard_verdict_matches_the_corpus(outcomes: dict[str, ds.Outcome],
                                             case_id: str) -> None:
    """Controls accepted; every defect rejected under a reason that names it (not a
    consequence such as ``no-valid-issuer-or-name-chaining``)."""
    found = ds.jukicard_problem(outcomes[case_id])
    assert found is None, found


@pytest.mark.parametrize("case_id", CONTROLS)
def test_peers_accept_the_controls(outcomes: dict[str, ds.Outcome], case_id: str) -> None:
    """The controls are conformant for the peers too (else the base chain has a defect of
    its own and every comparison built on it is void), unless a note says otherwise."""
    found = ds.peer_control_problems(outcomes[case_id])
    assert not found, "; ".join(found)


@pytest.mark.parametrize("case_id", NOTED)
def test_every_note_explains_a_real_disagreement(outcomes: dict[str, ds.Outcome],
                                                 case_id: str) -> None:
    """A note excusing a peer must match what the peer does: a stale note would hide a
    future disagreement."""
    found = ds.stale_notes(outcomes[case_id])
    assert not found, "; ".join(found)


def test_harness_flags_a_stand_in_jukicard_accepting_a_defect(
        outcomes: dict[str, ds.Outcome]) -> None:
    """The rule itself can fail: an outcome where jukicard accepts a case a peer rejects
    and no note excuses it is reported (a stand-in jukicard verdict, not the real one)."""
    real = outcomes["aki-missing-leaf"]
    assert not real["openssl"].accepted
    stand_in = ds.Outcome(real.case, {**real.verdicts, "jukicard": ds.Verdict(True)})
    assert len(ds.problems(stand_in)) == sum(not real[p].accepted for p in PEERS)
    assert ds.jukicard_problem(stand_in) is not None


@pytest.mark.parametrize("where", ["README.md", "tests/differential/agreement.md"])
def test_published_table_is_current(outcomes: dict[str, ds.Outcome], where: str) -> None:
    """The README's table (and the stored copy) give, for every case of the corpus,
    jukicard's verdict and the agreement class measured now; a change in the validator or
    the corpus that is not republished fails here."""
    published = ds.table_rows((ROOT / where).read_text(encoding="utf-8"))
    assert published == ds.live_rows(outcomes.values())
