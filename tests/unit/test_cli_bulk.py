"""``jukicard bulk-verify`` through ``jukicard.cli.main.main``: exit codes, the results file,
the summary (stderr, ``--json`` on stdout), usage errors, a light ``--help``."""

from __future__ import annotations

import fcntl
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


# --------------------------------------------------------------------------- --out safety
def _error(stdout: str) -> dict:
    return json.loads(stdout)["error"]


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A sticky world-writable directory (as /tmp)."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


def _other_user(path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")
    os.chown(path, 65534, 65534, follow_symlinks=False)


@pytest.mark.parametrize("kind", ["file", "fifo", "symlink"])
def test_out_planted_by_another_user_in_a_sticky_directory_is_refused(
        corpus: Path, shared: Path, kind: str) -> None:
    """In a sticky world-writable directory a file, FIFO or symlink of another user is
    refused before any work, root included (README "The jukicard command"); before the fix
    a file was appended to and a symlink followed."""
    target = corpus / "mine.jsonl"
    out = shared / "r.jsonl"
    if kind == "file":
        out.write_text("", encoding="utf-8")
    elif kind == "fifo":
        os.mkfifo(out)
    else:
        out.symlink_to(target)
    _other_user(out)
    rc, stdout, _ = run(corpus / "manifest.jsonl", "--out", out, *ARGS, "--json")
    assert rc == 2 and _error(stdout)["option"] == "--out"
    assert "another user" in _error(stdout)["message"]
    assert not target.exists()  # the symlink was not followed
    if kind == "file":
        assert out.read_text(encoding="utf-8") == ""


@pytest.mark.parametrize("which", ["--anchor", "--crl", "--intermediate", "hard-link"])
def test_out_that_is_an_input_is_refused_untouched(corpus: Path, which: str) -> None:
    """``--out`` naming a trust anchor, a CRL or an intermediate (or a hard link to the
    manifest) is refused naming the input, and the file is not touched; before the fix only
    the manifest was compared (a CRL file without a newline byte would have been cut to
    nothing as a torn results line)."""
    args = list(ARGS)
    if which == "hard-link":
        out = corpus / "link.jsonl"
        os.link(corpus / "manifest.jsonl", out)
        what = "manifest"
    else:
        out = corpus / f"input{which}"
        out.write_bytes((PKI / ANCHORS[0]).read_bytes() if which != "--crl"
                        else (PKI / CRLS[0]).read_bytes())
        args += [which, str(out)]
        what = which
    before = out.read_bytes()
    rc, stdout, _ = run(corpus / "manifest.jsonl", "--out", out, *args, "--json")
    assert rc == 2 and _error(stdout)["option"] == "--out"
    assert f"is the {what} file itself" in _error(stdout)["message"]
    assert out.read_bytes() == before


def test_out_dash_and_devices_are_refused(corpus: Path) -> None:
    """``--out -`` is not stdout (a results file is resumed); a device is refused."""
    for out in ("-", "/dev/null"):
        rc, stdout, _ = run(corpus / "manifest.jsonl", "--out", out, *ARGS, "--json")
        assert rc == 2 and _error(stdout)["option"] == "--out", out


def test_out_through_my_own_symlink_is_followed_and_resumed(corpus: Path) -> None:
    """What stays: a symlink the user owns (outside a shared sticky directory) leads to the
    results file, which is appended to and resumed."""
    real = corpus / "real.jsonl"
    link = corpus / "link.jsonl"
    link.symlink_to(real)
    assert run(corpus / "manifest.jsonl", "--out", link, *ARGS)[0] == 5
    rc, stdout, _ = run(corpus / "manifest.jsonl", "--out", link, *ARGS, "--json")
    assert rc == 5 and json.loads(stdout)["skipped"] == 27 and link.is_symlink()


def test_out_that_changes_between_check_and_open_is_refused(tmp_path: Path) -> None:
    """The file opened must be the one checked before the verifier was loaded: a name that
    appeared meanwhile (O_EXCL), a file replaced by another, a symlink put in its place."""
    from jukicard.cli.bulk import _check_out, _open_out
    from jukicard.services.inputs import InputError

    out = tmp_path / "r.jsonl"
    checked = _check_out(str(out), [])
    out.write_text("", encoding="utf-8")  # appeared
    with pytest.raises(InputError, match="changed while it was checked"):
        _open_out(str(out), [], checked)
    checked = _check_out(str(out), [])
    (tmp_path / "other").write_text("", encoding="utf-8")
    os.replace(tmp_path / "other", out)  # another file under the same name
    with pytest.raises(InputError, match="changed while it was checked"):
        _open_out(str(out), [], checked)
    checked = _check_out(str(out), [])
    out.unlink()
    out.symlink_to(tmp_path / "elsewhere.jsonl")  # a symlink in its place
    with pytest.raises(InputError, match="changed while it was checked"):
        _open_out(str(out), [], checked)
    out.unlink()
    out.write_text("", encoding="utf-8")
    checked = _check_out(str(out), [])
    fd = _open_out(str(out), [], checked)  # unchanged: opened for reading and appending
    try:
        assert os.fstat(fd).st_ino == out.stat().st_ino
        assert os.get_blocking(fd) and os.O_APPEND & fcntl.fcntl(fd, fcntl.F_GETFL)
    finally:
        os.close(fd)
