"""``jukicard card authenticate`` through pyscard → pcscd → vpcd → the emulator (issue 11,
part C): the good run with the test CV CA allowed, the production policy refusing the test
CV CA (exit 5), a cloned card (exit 5), and no credential in the TRAFFIC log."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

stack = sys.modules["jukicard_it_stack"]  # loaded by conftest.py
ROOT = Path(__file__).resolve().parents[2]
PROFILE = "mynumber-01"
TEST_ROOT = str(ROOT / "vectors/pki/cv/jlis-root.cvc")


def _run(*argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m jukicard --log-level TRAFFIC ARGV...`` in a fresh process (120 s hang
    guard, not a timed assertion)."""
    return subprocess.run([sys.executable, "-m", "jukicard", "--log-level", "TRAFFIC", *argv],
                          input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=120)


def _match_b() -> str:
    data = json.loads((stack.PROFILE_DIR / f"{PROFILE}.json").read_text(encoding="utf-8"))
    app = next(a for a in data["applications"] if a["name"] == "visual")
    return str(next(f for f in app["files"] if f["fid"] == "0012")["value"])


@pytest.fixture
def mn(card: Any, pins: Any) -> Any:
    pins.watch(card)
    return card


def test_card_authenticate_good_run(mn: Any, pins: Any) -> None:
    match_b = _match_b()
    res = _run("card", "authenticate", "--reader", mn.reader, "--pin-stdin", "--json",
                   "--allow-test-keys", "--ca-key", TEST_ROOT, stdin=pins.submit(match_b) + "\n")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["genuine"] is True and out["result"] == "verified-to-jlis-ca"
    assert out["application"] == "visual" and out["ca_kind"] == "test"
    assert out["identity"]["card_id"] and out["identity"]["municipality"] == "13101"
    assert match_b not in res.stderr and match_b.encode().hex(" ").upper() not in res.stderr


def test_card_authenticate_production_policy_refuses_test_ca(mn: Any, pins: Any) -> None:
    match_b = _match_b()
    res = _run("card", "authenticate", "--reader", mn.reader, "--pin-stdin", "--json",
                   stdin=match_b + "\n")  # refused on the CV certificate: never sent
    assert res.returncode == 5
    assert "production policy does not trust" in res.stdout + res.stderr


def test_card_authenticate_cloned_card(fresh_card: Callable[..., Any], tmp_path: Path,
                                       pins: Any) -> None:
    """A clone (every EF copied, the 001A key another key): exit 5."""
    from jukicard.emulator.sample import new_key_pem
    card = fresh_card(PROFILE)
    data = json.loads(Path(card.profile_path).read_text(encoding="utf-8"))
    for app in data["applications"]:
        for f in app["files"]:
            if app["name"] == "visual" and f["fid"] == "001A":
                f["private_key_pem"] = new_key_pem()
    Path(card.profile_path).write_text(json.dumps(data), encoding="utf-8")
    card.swap(Path(card.profile_path), tmp_path / "clone.log", tmp_path / "clone-stats.json")
    pins.watch(card)
    match_b = _match_b()
    res = _run("card", "authenticate", "--reader", card.reader, "--pin-stdin",
                   "--allow-test-keys", "--ca-key", TEST_ROOT, stdin=pins.submit(match_b) + "\n")
    assert res.returncode == 5 and "cloned card" in res.stderr
