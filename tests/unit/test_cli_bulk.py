"""``jukicard bulk-verify`` through ``jukicard.cli.main.main``: exit codes, the results file,
the summary (stderr, ``--json`` on stdout), usage errors, a light ``--help``."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from jukicard.cli.main import main
from jukicard.testing.bulkgen import ANCHORS, CRLS, PKI, write_corpus

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["--preset", "jpki", "--allow-test-anchors", "--at", "2026-06-01T00:00:00Z",
        *[a for x in ANCHORS for a in ("--anchor", str(PKI / x))],
        *[a for x in CRLS for a in ("--crl", str(PKI / x))]]


def run(*argv: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(["bulk-verify", *map(str, argv)])
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    write_corpus(tmp_path)
    return tmp_path


def test_some_invalid_is_exit_5_with_results_and_a_json_summary(corpus: Path) -> None:
    out = corpus / "r.jsonl"
    rc, stdout, stderr = run(corpus / "manifest.jsonl", "--out", out, *ARGS, "--json")
    assert rc == 5
    summary = json.loads(stdout)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert summary["total"] == len(rows) == 27 and summary["valid"] == 7
    assert summary["by_reason"]["revoked"] == 2
    assert set(rows[0]) == {"id", "valid", "reason", "message", "line"}
    assert "27 results (7 valid, 20 invalid)" in stderr
    rc, stdout, _ = run(corpus / "manifest.jsonl", "--out", out, *ARGS, "--json")
    assert rc == 5 and json.loads(stdout)["skipped"] == 27  # resumed: nothing redone


def test_all_valid_is_exit_0(corpus: Path) -> None:
    lines = (corpus / "manifest.jsonl").read_text(encoding="utf-8").splitlines()[:5]
    (corpus / "ok.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rc, stdout, stderr = run(corpus / "ok.jsonl", "--out", corpus / "r.jsonl", *ARGS,
                             "--workers", "2")
    assert rc == 0 and stdout == "" and "5 valid, 0 invalid" in stderr


@pytest.mark.parametrize("case", ["no-anchor", "out-is-manifest", "out-is-dir",
                                  "no-manifest", "fetch-crls", "foreign-out", "bad-dask"])
def test_usage_errors_are_exit_2(corpus: Path, case: str) -> None:
    manifest, out, args = corpus / "manifest.jsonl", corpus / "r.jsonl", list(ARGS)
    if case == "no-anchor":
        args = ["--crl", str(PKI / CRLS[0])]
    elif case == "out-is-manifest":
        out = manifest
    elif case == "out-is-dir":
        out = corpus
    elif case == "no-manifest":
        manifest = corpus / "missing.jsonl"
    elif case == "fetch-crls":
        args.append("--fetch-crls")
    elif case == "bad-dask":
        args += ["--dask", "bogus://scheduler:8786"]  # no such transport: refused at once
    else:
        out.write_text("not a result\nnor this\n", encoding="utf-8")
    rc, stdout, _ = run(manifest, "--out", out, *args, "--json")
    assert rc == 2
    assert json.loads(stdout)["error"]
    if case == "out-is-manifest":
        assert manifest.read_bytes().startswith(b'{"id"')  # untouched


def test_help_imports_no_crypto_dask_or_tqdm(tmp_path: Path) -> None:
    probe = ("import sys; from jukicard.cli.main import main; code = main(sys.argv[1:]); "
             "heavy = [m for m in sys.modules if m.startswith(('jukicard.pki', "
             "'jukicard.services', 'cryptography', 'asn1crypto', 'dask', 'distributed', "
             "'tqdm'))]; print(code, heavy, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", probe, "bulk-verify", "--help"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False)
    assert proc.stderr.strip().splitlines()[-1] == "0 []"
    assert "--dask ADDRESS" in proc.stdout and "--out RESULTS.jsonl" in proc.stdout


def test_progress_bar_only_on_a_terminal(corpus: Path, monkeypatch) -> None:
    from jukicard.cli import bulk as cli_bulk

    rc, _, stderr = run(corpus / "manifest.jsonl", "--out", corpus / "a.jsonl", *ARGS)
    assert rc == 5 and "27/27" not in stderr and "item/s" not in stderr
    monkeypatch.setattr(cli_bulk, "is_terminal", lambda stream: True)
    rc, _, stderr = run(corpus / "manifest.jsonl", "--out", corpus / "b.jsonl", *ARGS)
    assert rc == 5 and "27/27" in stderr  # tqdm's bar, drawn on stderr
