"""Bulk verification (issue 10): the in-memory API and ``jukicard bulk-verify`` against bare
``cryptography`` loops, OpenSSL's own speed, and Dask with 1 and 2 local workers.

``python3 -m pytest benchmarks/test_bulk.py --benchmark-only -p no:randomly``
(``JUKICARD_BENCH_BULK_MD=/tmp/bulk.md`` also writes the table as Markdown).

Every figure of the final table is a ratio of two timings of the same run:

* ``api``: :meth:`BulkVerifier.verify_many` over ``(digest, raw signature, certificate)``
  items by 2 repeat signers (chain, validity, CRL lookup and JPKI profile included, cached
  per signer) vs a bare loop: ``load_der_x509_certificate`` once per distinct certificate,
  then ``public_key().verify(sig, digest, PKCS1v15(), Prehashed(SHA256()))`` per item; both
  with 1 and 2 workers, threads and processes (each side's faster one is compared).
* ``openssl``: the api rate against ``openssl speed -multi 2 -seconds 3 rsa2048``'s verify/s.
* ``cli``: ``jukicard bulk-verify`` (a subprocess) on a manifest of document files, timed on
  a small and a large manifest: (large − small) / (extra items) excludes start-up and CRL
  loading; against a bare loop (same worker count, processes) that reads the same two files
  per item (signature, document), hashes the document and verifies, timed the same way.
* ``dask``: ``run_bulk`` on a ``LocalCluster`` of 1 and of 2 single-threaded workers (the
  cluster is started before the timing), 22,000 lines (the large manifest's files, 10 ids
  each).

The outcome of every timed run is checked (all valid); its time never is.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from jukicard.pki.bulk import BulkItem, ordered_chunks
from jukicard.services.bulk import build_verifier, run_bulk
from jukicard.services.verify import VerifyOptions
from jukicard.testing.bulkgen import ANCHORS, AT, CRLS, PKI, digest_items, sign_digest, signer

ROOT = Path(__file__).resolve().parents[1]
#: enough items that a process pool's start-up (the verifier rebuilt once per worker) is
#: amortised, as over a real batch
API_ITEMS = 100_000
SMALL, LARGE = 200, 2_200
#: the command's large manifest: the LARGE document files named again under other ids, so
#: the difference large − small (20,000 items) dwarfs the noise of two process start-ups
CLI_LARGE = 20_200
DASK_ITEMS = 10 * LARGE
CHUNK = 256
ROUNDS = 3
OPTIONS = VerifyOptions(anchors=tuple(str(PKI / a) for a in ANCHORS),
                        crls=tuple(str(PKI / c) for c in CRLS), at=AT, preset="jpki",
                        allow_test_anchors=True)
CLI_ARGS = ["--preset", "jpki", "--allow-test-anchors", "--at", "2026-06-01T00:00:00Z",
            *[a for x in ANCHORS for a in ("--anchor", str(PKI / x))],
            *[a for x in CRLS for a in ("--crl", str(PKI / x))]]

#: name → median seconds of this run.
TIMES: dict[str, float] = {}


def record(benchmark: Any, name: str, fn: Any) -> Any:
    result = benchmark.pedantic(fn, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    TIMES[name] = benchmark.stats.stats.median
    return result


# --------------------------------------------------------------------------- api
@pytest.fixture(scope="module")
def rows() -> list[tuple[str, bytes, bytes, bytes]]:
    return digest_items(API_ITEMS, signers=2)


@pytest.fixture(scope="module")
def verifier() -> Any:
    return build_verifier(OPTIONS)


_KEYS: dict[bytes, Any] = {}


def _bare(chunk: list[tuple[str, bytes, bytes, bytes]]) -> int:
    ok = 0
    for _id, digest, sig, cert in chunk:
        key = _KEYS.get(cert)
        if key is None:
            key = _KEYS[cert] = x509.load_der_x509_certificate(cert).public_key()
        key.verify(sig, digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        ok += 1
    return ok


def _bare_run(rows: list[Any], workers: int, executor: str) -> int:
    if workers == 1:
        return _bare(rows)
    pool = ThreadPoolExecutor(workers) if executor == "thread" else ProcessPoolExecutor(workers)
    with pool:
        return sum(ordered_chunks(pool, lambda c: [_bare(c)], rows, CHUNK, 2 * workers)) \
            if executor == "thread" else sum(
                ordered_chunks(pool, _bare_listed, rows, CHUNK, 2 * workers))


def _bare_listed(chunk: list[Any]) -> list[int]:
    return [_bare(chunk)]


MODES = [(1, "thread"), (2, "thread"), (2, "process")]


@pytest.mark.parametrize(("workers", "executor"), MODES)
def test_api_bare_loop(benchmark, rows, workers, executor) -> None:
    done = record(benchmark, f"bare {workers} {executor}",
                  lambda: _bare_run(rows, workers, executor))
    assert done == len(rows)


@pytest.mark.parametrize(("workers", "executor"), MODES)
def test_api_bulk(benchmark, rows, verifier, workers, executor) -> None:
    items = [BulkItem(i, s, c, digest=d) for i, d, s, c in rows]
    results = record(benchmark, f"bulk {workers} {executor}", lambda: verifier.verify_many(
        items, workers=workers, executor=executor, chunk_size=CHUNK))
    assert len(results) == len(rows) and all(r.valid for r in results)


# --------------------------------------------------------------------------- openssl
OPENSSL: dict[str, float] = {}


def test_openssl_speed(benchmark) -> None:
    proc = benchmark.pedantic(lambda: subprocess.run(
        ["openssl", "speed", "-multi", "2", "-seconds", "3", "rsa2048"], capture_output=True,
        text=True, check=False, timeout=600), rounds=1, iterations=1)
    found = re.search(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+(\S+)\s+(\S+)\s*$", proc.stdout, re.M)
    if found is None:
        pytest.skip("openssl speed printed no rsa 2048 line")
    OPENSSL["verify/s"] = float(found.group(2))


# --------------------------------------------------------------------------- cli
@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("bulkcli")
    (folder / "docs").mkdir()
    (folder / "sig").mkdir()
    key, der = signer("r1-sign")
    (folder / "r1.der").write_bytes(der)
    lines = []
    for i in range(LARGE):
        doc = (f"<申請 n='{i}'>" + "x" * 2000 + "</申請>").encode()
        (folder / "docs" / f"{i}.xml").write_bytes(doc)
        (folder / "sig" / f"{i}.bin").write_bytes(sign_digest(key, hashlib.sha256(doc).digest()))
        lines.append(f'{{"id": "d{i}", "document": "docs/{i}.xml", "signature": '
                     f'"sig/{i}.bin", "certificate": "r1.der"}}\n')
    out = {}
    dask_lines = [line.replace('"id": "d', f'"id": "r{k}-d', 1)
                  for k in range(DASK_ITEMS // LARGE) for line in lines]
    out[DASK_ITEMS] = folder / "dask.jsonl"
    out[DASK_ITEMS].write_text("".join(dask_lines), encoding="utf-8")
    cycled = [lines[k % LARGE].replace('"id": "d', f'"id": "c{k}-d', 1)
              for k in range(CLI_LARGE)]
    for n, text in ((SMALL, lines[:SMALL]), (LARGE, lines), (CLI_LARGE, cycled)):
        out[n] = folder / f"m{n}.jsonl"
        out[n].write_text("".join(text), encoding="utf-8")
    return out


def _cli(manifest: Path, workers: int) -> None:
    result = manifest.with_suffix(f".w{workers}.out")
    result.unlink(missing_ok=True)
    subprocess.run([sys.executable, "-m", "jukicard", "bulk-verify", str(manifest), "--out",
                    str(result), "--workers", str(workers), *CLI_ARGS],
                   env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True, timeout=600,
                   capture_output=True)


def _bare_files_chunk(chunk: list[tuple[Path, Path]]) -> list[int]:
    key = x509.load_der_x509_certificate(signer("r1-sign")[1]).public_key()
    for doc, sig in chunk:
        digest = hashlib.sha256(doc.read_bytes()).digest()
        key.verify(sig.read_bytes(), digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    return [len(chunk)]


def _bare_files(manifest: Path, workers: int) -> None:
    # a script's loop: start, read the manifest, read the two files per item, verify
    import json

    folder = manifest.parent
    pairs = [(folder / o["document"], folder / o["signature"])
             for o in map(json.loads, manifest.read_text(encoding="utf-8").splitlines())]
    if workers == 1:
        _bare_files_chunk(pairs)
        return
    with ProcessPoolExecutor(workers) as pool:
        assert sum(ordered_chunks(pool, _bare_files_chunk, pairs, CHUNK, 2 * workers)) \
            == len(pairs)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("size", [SMALL, CLI_LARGE])
def test_cli_bulk_verify(benchmark, manifests, size, workers) -> None:
    record(benchmark, f"cli {size} {workers}", lambda: _cli(manifests[size], workers))
    text = manifests[size].with_suffix(f".w{workers}.out").read_text(encoding="utf-8")
    assert text.count('"valid": true') == size


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("size", [SMALL, CLI_LARGE])
def test_cli_bare_loop(benchmark, manifests, size, workers) -> None:
    record(benchmark, f"barefiles {size} {workers}", lambda: _bare_files(manifests[size],
                                                                           workers))


# --------------------------------------------------------------------------- dask
@pytest.mark.parametrize("workers", [1, 2])
def test_dask_local_workers(benchmark, manifests, verifier, workers, tmp_path) -> None:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        def once() -> Any:
            out = tmp_path / "dask.jsonl"
            out.unlink(missing_ok=True)
            return run_bulk(manifests[DASK_ITEMS], out, verifier, dask=client)
        summary = record(benchmark, f"dask {workers}", once)
    assert summary.valid == DASK_ITEMS


# --------------------------------------------------------------------------- report
def test_report(benchmark) -> None:
    """The ratios of this run (printed; Markdown with JUKICARD_BENCH_BULK_MD)."""
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)  # runs under --benchmark-only
    t = TIMES
    rows: list[tuple[str, str, str]] = []

    def rate(name: str, n: int) -> float:
        return n / t[name]

    for workers in (1, 2):
        modes = [e for w, e in MODES if w == workers]
        bulk = max(rate(f"bulk {workers} {e}", API_ITEMS) for e in modes if f"bulk {workers} {e}"
                   in t)
        bare = max(rate(f"bare {workers} {e}", API_ITEMS) for e in modes if f"bare {workers} {e}"
                   in t)
        rows.append((f"api, {workers} worker(s): bulk / bare verify loop",
                     f"{bulk:,.0f}/s vs {bare:,.0f}/s", f"{bulk / bare:.2f}×"))
        if workers == 2 and OPENSSL:
            rows.append(("api, 2 workers / openssl speed -multi 2 rsa2048 verify",
                         f"{bulk:,.0f}/s vs {OPENSSL['verify/s']:,.0f}/s",
                         f"{bulk / OPENSSL['verify/s']:.2f}×"))
    for e in ("thread", "process"):  # does RSA verify release the GIL? (threads scale if so)
        if f"bare 2 {e}" in t:
            rows.append((f"bare verify loop: 2 {e}es / 1 thread".replace("threades", "threads"),
                         f"{rate(f'bare 2 {e}', API_ITEMS):,.0f}/s vs "
                         f"{rate('bare 1 thread', API_ITEMS):,.0f}/s",
                         f"{t['bare 1 thread'] / t[f'bare 2 {e}']:.2f}×"))
    extra = CLI_LARGE - SMALL
    for workers in (1, 2):
        cli = extra / (t[f"cli {CLI_LARGE} {workers}"] - t[f"cli {SMALL} {workers}"])
        bare = extra / (t[f"barefiles {CLI_LARGE} {workers}"]
                        - t[f"barefiles {SMALL} {workers}"])
        rows.append((f"bulk-verify, {workers} worker(s) / bare file loop (large − small)",
                     f"{cli:,.0f}/s vs {bare:,.0f}/s", f"{cli / bare:.2f}×"))
    if "dask 1" in t and "dask 2" in t:
        rows.append(("Dask LocalCluster: 2 workers / 1 worker",
                     f"{DASK_ITEMS / t['dask 2']:,.0f}/s vs {DASK_ITEMS / t['dask 1']:,.0f}/s",
                     f"{t['dask 1'] / t['dask 2']:.2f}×"))
    head = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}")
    lines = [f"machine: {head}", "| measure | rates | ratio |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    print("\n" + "\n".join(lines))
    path = os.environ.get("JUKICARD_BENCH_BULK_MD")
    if path:
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
