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
from jukicard.services.inputs import MAX_CERTIFICATE, MAX_CMS_CONTENT, MAX_SIGNATURE
from jukicard.services.verify import VerifyOptions
from jukicard.testing.bulkgen import (
    ANCHORS,
    AT,
    CRLS,
    PKI,
    RSS_PROBE,
    write_corpus,
    write_digest_manifest,
)

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
    # a line without a usable id is answered with "id": null (a made-up "line-3" could be
    # a real id of another line)
    assert rows[1]["id"] is None and rows[5]["id"] == "y" and rows[7]["id"] == rows[0]["id"]
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


# ------------------------------------------------------------------ bounded state, inputs
def _probe(manifest: Path, out: Path) -> int:
    """Peak RSS growth (KiB) of a subprocess running ``run_bulk`` over ``manifest``."""
    proc = subprocess.run([sys.executable, "-c", RSS_PROBE, str(manifest), str(out)],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=300, check=True, cwd=manifest.parent)
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    return got["peak_kib"] - got["base_kib"]


@pytest.mark.slow
def test_driver_memory_does_not_grow_with_the_manifest(tmp_path: Path) -> None:
    """Peak RSS of a run over 200k manifest lines minus that over 20k, fresh and resumed
    (nothing left to do): the driver keeps one bit per line and the ids on disk.  Before the
    fix the ids seen and the line numbers answered were Python sets and a resume read the
    results file whole: +31 MB fresh and +57 MB resumed for the 180k extra lines (the
    bound below is 12 MB; no time is measured)."""
    growth = {}
    for count in (20_000, 200_000):
        folder = tmp_path / str(count)
        manifest = write_digest_manifest(folder, count, verified_every=100)
        out = folder / "out.jsonl"
        growth[count] = (_probe(manifest, out), _probe(manifest, out))  # fresh, resumed
        assert len(results(out)) == count
    for run in (0, 1):
        assert growth[200_000][run] - growth[20_000][run] < 12 * 1024, growth


def test_seen_ids_are_exact_on_disk_and_leave_nothing(tmp_path: Path) -> None:
    """The duplicate check keeps the ids themselves (no hash: no false positive), in an
    SQLite file unlinked as soon as it is open (a killed run leaves nothing behind)."""
    from jukicard.services.bulkstate import LineSet, SeenIds

    seen = SeenIds(tmp_path)
    try:
        assert list(tmp_path.iterdir()) == []
        ids = ["a", "b", "a\udcff", "a\udcfe", "", "é", "e\u0301"]
        assert [seen.add(i) for i in ids] == [True] * len(ids)
        assert [seen.add(i) for i in ids] == [False] * len(ids)
    finally:
        seen.close()
    lines = LineSet()
    assert [lines.add(n) for n in (1, 9, 1, 100_000)] == [True, True, False, True]
    assert len(lines) == 3 and 9 in lines and 8 not in lines and -1 not in lines
    assert 100_001 not in lines and 10**12 not in lines


def test_a_repeated_result_line_mid_file_keeps_the_file_whole(tmp_path: Path,
                                                              verifier) -> None:
    """A results line repeated in the middle of the file (counted once): before the fix the
    resume truncated the file by that line's length, cutting the last result."""
    write_corpus(tmp_path)
    out = tmp_path / "out.jsonl"
    run_bulk(tmp_path / "manifest.jsonl", out, verifier)
    text = out.read_text(encoding="utf-8").splitlines(keepends=True)
    doubled = "".join(text[:3] + text[2:3] + text[3:])
    out.write_text(doubled, encoding="utf-8")
    summary = run_bulk(tmp_path / "manifest.jsonl", out, verifier)
    assert out.read_text(encoding="utf-8") == doubled
    assert summary.verified == 0 and summary.total == len(text)


def test_a_line_naming_the_results_file_is_unusable_input(tmp_path: Path, verifier) -> None:
    """A manifest line whose document, signature or certificate is the results file itself
    (by path) is not read: before the fix it was read as an input while being appended to."""
    write_corpus(tmp_path)
    first = json.loads((tmp_path / "manifest.jsonl").read_text().splitlines()[0])
    lines = [first]
    for n, field in enumerate(("document", "signature", "certificate")):
        lines.append({**first, "id": f"x{n}", field: "./sub/../out.jsonl"})
    (tmp_path / "sub").mkdir()
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    run_bulk(manifest, tmp_path / "out.jsonl", verifier)
    rows = results(tmp_path / "out.jsonl")
    assert [r["reason"] for r in rows] == ["ok"] + ["unusable-input"] * 3
    assert all("results file" in r["message"] for r in rows[1:])


def test_every_input_file_of_a_line_has_signature_verifys_cap(tmp_path: Path,
                                                              verifier) -> None:
    """Signature, certificate and CMS document over their caps (``MAX_SIGNATURE``,
    ``MAX_CERTIFICATE``, ``MAX_CMS_CONTENT``; sparse files, refused from their size):
    ``unreadable-input`` naming the cap.  Before the fix a CMS's document had no cap."""
    cases = write_corpus(tmp_path)
    cms = next(c.line for c in cases if c.kind == "cms-detached")
    raw = next(c.line for c in cases if c.kind == "valid")
    for name, size in (("sig.big", MAX_SIGNATURE), ("cert.big", MAX_CERTIFICATE),
                       ("doc.big", MAX_CMS_CONTENT)):
        with open(tmp_path / name, "wb") as f:
            f.truncate(size + 1)
    lines = [{**raw, "id": "s", "signature": "sig.big"}, {**raw, "id": "c", "certificate":
             "cert.big"}, {**cms, "id": "d", "document": "doc.big"}]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    run_bulk(manifest, tmp_path / "out.jsonl", verifier)
    got = {r["id"]: (r["reason"], r["message"]) for r in results(tmp_path / "out.jsonl")}
    assert {k: v[0] for k, v in got.items()} == dict.fromkeys("scd", "unreadable-input")
    assert "64 MiB limit" in got["s"][1] and "1 MiB limit" in got["c"][1]
    assert "256 MiB limit" in got["d"][1]


def test_a_second_run_on_the_same_results_file_is_refused(tmp_path: Path) -> None:
    """Two runs appending to one results file would interleave batches and answer lines
    twice: the file is locked (flock) for the life of a run (issue 10 review)."""
    out = tmp_path / "results.jsonl"
    first = ResultsFile(out)
    try:
        with pytest.raises(UsageError, match="another bulk-verify run"):
            ResultsFile(out)
    finally:
        first.close()
    ResultsFile(out).close()  # free again once the first run is done


@pytest.mark.parametrize("field", ["document", "signature", "certificate"])
def test_a_nul_byte_in_a_path_is_a_per_item_result(tmp_path: Path, verifier,
                                                   field: str) -> None:
    """os.open raises ValueError for an embedded NUL: it was not caught and ended the run,
    with the batch before it lost, on every resume (issue 10 review)."""
    write_corpus(tmp_path)
    lines = (tmp_path / "manifest.jsonl").read_text().splitlines()
    bad = json.loads(lines[1])
    bad[field] = "x\u0000y"
    bad.setdefault("certificate", "c.der")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join([lines[0], json.dumps(bad), lines[2]]) + "\n")
    run_bulk(manifest, tmp_path / "out.jsonl", verifier)
    rows = {r["line"]: r for r in results(tmp_path / "out.jsonl")}
    assert sorted(rows) == [1, 2, 3]
    assert rows[2]["reason"] == "malformed-manifest-line" and "NUL" in rows[2]["message"]
    assert "malformed-manifest-line" not in (rows[1]["reason"], rows[3]["reason"])


def test_resuming_with_another_manifest_is_refused(tmp_path: Path, verifier) -> None:
    """Resume skips by line number: a manifest with a line inserted would have its new line
    never verified and another answered twice; the ids of the answered lines must match
    (issue 10 review: a revoked document was skipped and the run said all valid)."""
    write_corpus(tmp_path)
    lines = (tmp_path / "manifest.jsonl").read_text().splitlines()
    manifest = tmp_path / "m.jsonl"
    out = tmp_path / "out.jsonl"
    manifest.write_text("\n".join(lines[:2]) + "\n")
    run_bulk(manifest, out, verifier)
    before = out.read_bytes()
    manifest.write_text("\n".join([lines[2], *lines[:2]]) + "\n")  # one inserted first
    with pytest.raises(UsageError, match="another manifest"):
        run_bulk(manifest, out, verifier)
    assert out.read_bytes() == before  # nothing appended
    manifest.write_text("\n".join(lines[:3]) + "\n")  # the same manifest, grown: fine
    run_bulk(manifest, out, verifier)
    assert sorted(r["line"] for r in results(out)) == [1, 2, 3]


@pytest.mark.parametrize("content", [b'{"config": true}\n', b"notes without a newline",
                                     b'{"config": true}'])
def test_a_one_line_file_that_is_not_ours_is_left_alone(tmp_path: Path, content: bytes) -> None:
    """Only a prefix of one of our result lines is a torn line to cut: a user's one-line
    file given as --out is refused, not truncated (issue 10 verification review)."""
    out = tmp_path / "notes.txt"
    out.write_bytes(content)
    with pytest.raises(UsageError, match="not a bulk-verify result"):
        ResultsFile(out)
    assert out.read_bytes() == content


def test_a_torn_prefix_of_a_result_line_is_still_cut(tmp_path: Path) -> None:
    out = tmp_path / "results.jsonl"
    good = json.dumps({"id": "a", "valid": True, "reason": "ok", "message": "", "line": 1})
    for torn in ('{"i', '{"id": "b", "val'):
        out.write_text(good + "\n" + torn)
        ResultsFile(out).close()
        assert out.read_text() == good + "\n"


def test_results_are_written_after_the_interval_even_below_a_batch(tmp_path: Path,
                                                                   monkeypatch) -> None:
    """A slow item after a few quick ones does not keep their answers off the disk."""
    from jukicard.services import bulkstate

    clock = [100.0]
    monkeypatch.setattr(bulkstate.time, "monotonic", lambda: clock[0])
    out = tmp_path / "results.jsonl"
    results = ResultsFile(out)
    try:
        results.add({"id": "a", "valid": True, "reason": "ok", "message": "", "line": 1})
        assert out.read_text() == ""
        clock[0] += bulkstate.FSYNC_INTERVAL
        results.add({"id": "b", "valid": True, "reason": "ok", "message": "", "line": 2})
        assert len(out.read_text().splitlines()) == 2
    finally:
        results.close()
