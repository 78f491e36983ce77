"""The bulk use case (:mod:`jukicard.services.bulk`): manifest streaming, results and resume
(a CLI subprocess SIGKILLed at random points), and a real Dask ``LocalCluster``."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jukicard.errors import UsageError
from jukicard.services import bulk
from jukicard.services.bulk import ResultsFile, build_verifier, manifest_tasks, run_bulk
from jukicard.services.verify import VerifyOptions
from jukicard.testing.bulkgen import ANCHORS, AT, CRLS, PKI, write_corpus

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = VerifyOptions(anchors=tuple(str(PKI / a) for a in ANCHORS),
                        crls=tuple(str(PKI / c) for c in CRLS), at=AT, preset="jpki",
                        allow_test_anchors=True)
CLI_ARGS = ["--preset", "jpki", "--allow-test-anchors", "--at", "2026-06-01T00:00:00Z",
            *[a for x in ANCHORS for a in ("--anchor", str(PKI / x))],
            *[a for x in CRLS for a in ("--crl", str(PKI / x))]]


def results(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def by_id(rows: list[dict]) -> dict[str, tuple]:
    return {r["id"]: (r["valid"], r["reason"], r["line"]) for r in rows}


@pytest.fixture(scope="module")
def verifier():
    return build_verifier(OPTIONS)


# --------------------------------------------------------------------------- manifest
def test_malformed_lines_duplicates_and_blank_lines(tmp_path: Path, verifier) -> None:
    write_corpus(tmp_path)
    good = (tmp_path / "manifest.jsonl").read_text().splitlines()[0]
    lines = [good, "", "not json", "[1, 2]", '{"signature": "s"}',
             '{"id": "x", "document": "d", "digest": "00", "signature": "s"}',
             '{"id": "y", "digest": "zz", "signature": "s"}', '{"id": "z", "document": "d"}',
             good, "\xff".encode("latin-1").decode("latin-1")]
    manifest = tmp_path / "m.jsonl"
    manifest.write_bytes("\n".join(lines).encode("utf-8")[:-2] + b"\xff\n")
    summary = run_bulk(manifest, tmp_path / "out.jsonl", verifier)
    rows = results(tmp_path / "out.jsonl")
    assert [(r["line"], r["reason"]) for r in rows] == [
        (1, "ok"), *((n, "malformed-manifest-line") for n in range(3, 9)),
        (9, "duplicate-id"), (10, "malformed-manifest-line")]
    assert rows[1]["id"] == "line-3" and rows[5]["id"] == "y" and rows[7]["id"] == rows[0]["id"]
    assert summary.total == len(rows) and summary.valid == 1 and summary.invalid == 8


def test_paths_are_taken_against_the_manifest_folder(tmp_path: Path) -> None:
    write_corpus(tmp_path)
    task = next(manifest_tasks(tmp_path / "manifest.jsonl"))
    assert task[2] == str(tmp_path / "docs" / "valid-0.xml")
    assert task[4] == str(tmp_path / "sig" / "valid-0.bin")


def test_unreadable_manifest_is_a_usage_error(tmp_path: Path, verifier) -> None:
    with pytest.raises(UsageError):
        run_bulk(tmp_path / "missing.jsonl", tmp_path / "out.jsonl", verifier)


# --------------------------------------------------------------------------- results file
def test_a_torn_last_line_is_cut_and_its_item_redone(tmp_path: Path, verifier) -> None:
    write_corpus(tmp_path)
    out = tmp_path / "out.jsonl"
    run_bulk(tmp_path / "manifest.jsonl", out, verifier)
    full = results(out)
    text = out.read_text(encoding="utf-8").splitlines(keepends=True)
    out.write_text("".join(text[:5]) + text[5][:17], encoding="utf-8")  # killed mid-write
    summary = run_bulk(tmp_path / "manifest.jsonl", out, verifier)
    assert summary.skipped == 5 and summary.verified == len(full) - 5
    assert by_id(results(out)) == by_id(full) and len(results(out)) == len(full)


def test_a_results_file_with_foreign_lines_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("hello\n{}\n", encoding="utf-8")
    with pytest.raises(UsageError):
        ResultsFile(out)
    assert out.read_text(encoding="utf-8") == "hello\n{}\n"


# --------------------------------------------------------------------------- resume
def _cli(manifest: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "jukicard", "bulk-verify", str(manifest), "--out", str(out),
            *CLI_ARGS, *extra]


def test_sigkill_at_random_points_then_resume_gives_every_id_once(tmp_path: Path) -> None:
    """A CLI subprocess is SIGKILLed several times at random points, then run to the end:
    every id is answered exactly once, with the answers of an uninterrupted run."""
    cases = write_corpus(tmp_path, copies=48)  # 1200 items, results written every 256
    manifest = tmp_path / "manifest.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    reference = tmp_path / "reference.jsonl"
    subprocess.run(_cli(manifest, reference), env=env, capture_output=True, check=False,
                   timeout=300)
    out = tmp_path / "out.jsonl"
    rng = random.Random(10)
    kills = 0
    # kill points: after the results file holds at least N lines, N random and increasing
    # (the file is polled; whatever the speed of the machine, each kill lands mid-run)
    for target in sorted(rng.sample(range(1, len(cases) - 300), 5)):
        proc = subprocess.Popen(_cli(manifest, out), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        while proc.poll() is None and _lines(out) < target:
            time.sleep(rng.uniform(0.001, 0.02))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=300)
    final = subprocess.run(_cli(manifest, out), env=env, capture_output=True, check=False,
                           timeout=300)
    assert final.returncode == 5  # the corpus holds invalid items
    rows = results(out)
    assert len(rows) == len(cases) == len({r["id"] for r in rows})
    assert by_id(rows) == by_id(results(reference))
    assert kills >= 3, kills


# --------------------------------------------------------------------------- Dask
@pytest.mark.slow
def test_real_dask_localcluster_two_workers_ship_the_verifier_once(tmp_path: Path,
                                                                   verifier, monkeypatch
                                                                   ) -> None:
    """A real ``distributed.LocalCluster`` (2 worker processes): the same answers as the
    local run, each worker rebuilt the verifier once although it ran many partitions, and
    a second run resumes."""
    from distributed import Client, LocalCluster

    cases = write_corpus(tmp_path, copies=4)
    monkeypatch.setattr(bulk, "PARTITION", 5)  # 100 items: 20 partitions
    local_out, dask_out = tmp_path / "local.jsonl", tmp_path / "dask.jsonl"
    run_bulk(tmp_path / "manifest.jsonl", local_out, verifier)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        summary = run_bulk(tmp_path / "manifest.jsonl", dask_out, verifier, dask=client)
        rebuilds = client.run(_rebuilds)
        again = run_bulk(tmp_path / "manifest.jsonl", dask_out, verifier, dask=client)
    assert summary.verified == len(cases) and again.verified == 0
    assert by_id(results(dask_out)) == by_id(results(local_out))
    assert sorted(rebuilds.values()) == [1, 1]


def _lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def _rebuilds() -> int:
    from jukicard.pki import bulk as pki_bulk

    return pki_bulk.REBUILDS


def test_an_id_with_a_lone_surrogate_or_control_characters_is_written(tmp_path: Path,
                                                                      verifier) -> None:
    """A JSON manifest may spell a lone surrogate (``"\\udcff"``): writing the results as
    UTF-8 text failed with UnicodeEncodeError before results were written ASCII-only."""
    write_corpus(tmp_path)
    first = json.loads((tmp_path / "manifest.jsonl").read_text().splitlines()[0])
    manifest = tmp_path / "m.jsonl"
    first["id"] = "a\udcff\x1b[2J"
    manifest.write_text(json.dumps(first) + "\n", encoding="ascii")
    run_bulk(manifest, tmp_path / "out.jsonl", verifier)
    raw = (tmp_path / "out.jsonl").read_bytes()
    assert raw.isascii() and json.loads(raw)["id"] == "a\udcff\x1b[2J"
