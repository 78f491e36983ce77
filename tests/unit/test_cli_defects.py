"""The CLI defects of issue 8 that need no card (4, 6, 7, 8, 10), tested as a user would
meet them: through :func:`jukicard.cli.main.main`, and as real ``python -m jukicard``
processes for pipes, full disks, warnings and exit codes.

Each test fails on the argparse CLI that issue 8 replaced (its docstring says how).  The
processes import the same ``jukicard`` as this test run (``PYTHONPATH``), from a scratch
working directory.  No test reads ``/dev/zero`` or writes to a real device through the CLI:
run against the old code they would grow without bound or replace the device node.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

import jukicard
from jukicard.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
PKI = ROOT / "vectors" / "pki"
AT = "2026-06-01T00:00:00Z"
PACKAGE_PARENT = str(Path(jukicard.__file__).resolve().parents[1])
#: hang guard for one process (not a timed assertion)
TIMEOUT = 120

REVOKED = ("cert", "verify", str(PKI / "ee/r2-sign.cer"), "--anchor",
           str(PKI / "ca/sign-2023.cer"), "--crl", str(PKI / "crl/sign-2023.crl"), "--at", AT)
VALID = ("cert", "verify", str(PKI / "ee/r1-sign.cer"), "--anchor",
         str(PKI / "ca/sign-2023.cer"), "--crl", str(PKI / "crl/sign-2023.crl"), "--at", AT)


def process(*argv: str | bytes, stdout: Any = subprocess.PIPE, python: tuple[str, ...] = (),
            code: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[Any]:
    """Run ``python [PYTHON...] -m jukicard ARGV`` (or ``-c CODE ARGV``) in a fresh process."""
    env = {**os.environ, "PYTHONPATH": PACKAGE_PARENT, "JUKICARD_CONFIG": os.devnull}
    head: list[str | bytes] = [sys.executable, *python]
    head += ["-c", code] if code is not None else ["-m", "jukicard"]
    return subprocess.run([*head, *argv], stdout=stdout, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, env=env, cwd=cwd or ROOT,
                          timeout=TIMEOUT, check=False)


def run_json(*argv: str | Path) -> tuple[int, Any]:
    buf = io.StringIO()
    with redirect_stdout(buf):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:  # the argparse CLI
            rc = exc.code if isinstance(exc.code, int) else 1
    text = buf.getvalue()
    return rc, json.loads(text) if text.strip() else None


# --------------------------------------------------------------------------- defect 1
def test_output_to_our_own_stdout_is_written_through(tmp_path: Path) -> None:
    """Defect 1: ``-o /dev/stdout`` (here a link to ``/proc/self/fd/1``, so that the old
    code replaces the link, not the system's ``/dev/stdout``) was renamed over; now the
    bytes go to the process's stdout, and ``>> file`` appends as the shell promised."""
    log = tmp_path / "certs.pem"
    log.write_bytes(b"first\n")
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    with open(log, "ab") as fh:
        proc = process("cert", "export", "auth-ca", "--emulated", "-o", str(link), stdout=fh,
                       cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert log.read_bytes().startswith(b"first\n-----BEGIN CERTIFICATE-----\n")
    assert link.is_symlink()


# --------------------------------------------------------------------------- defect 4
def _closed_pipe() -> int:
    """The write end of a pipe whose reader is gone (``… | true`` after it exited)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    return write_end


@pytest.mark.parametrize("python", [(), ("-u",)], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("fmt", [(), ("--json",)], ids=["text", "json"])
def test_exit_code_survives_a_closed_pipe(python: tuple[str, ...], fmt: tuple[str, ...],
                                          tmp_path: Path) -> None:
    """Defect 4: ``cert verify REVOKED | true`` exited 0 (unbuffered) or printed a
    traceback; the revoked certificate's 5 must reach the shell, with nothing on stderr."""
    fd = _closed_pipe()
    try:
        proc = process(*REVOKED, *fmt, stdout=fd, python=python, cwd=tmp_path)
    finally:
        os.close(fd)
    assert proc.returncode == 5, proc.stderr
    assert b"Traceback" not in proc.stderr and b"Exception" not in proc.stderr


def test_exit_code_survives_a_full_disk(tmp_path: Path) -> None:
    """Defect 4: ``cert verify … > /dev/full`` exited 1 with a traceback; now the real code
    of a failure (5 revoked) and one line on stderr saying the output was lost.  Attack
    review, finding 4: a valid result that could not be written exited 0 ("could not write
    the output"); it was not delivered, so it exits 1 and says so."""
    with open("/dev/full", "wb") as full:
        for argv, expected in ((VALID, 1), (REVOKED, 5)):
            proc = process(*argv, "--json", stdout=full, cwd=tmp_path)
            assert proc.returncode == expected, proc.stderr
            assert b"Traceback" not in proc.stderr
            assert b"could not write the output" in proc.stderr
        assert b"NOT delivered" in process(*VALID, stdout=full, cwd=tmp_path).stderr


def _closed_stdout() -> None:
    os.close(1)


@pytest.mark.parametrize(("argv", "expected"), [(REVOKED, 5), (VALID, 1)],
                         ids=["revoked", "valid"])
def test_a_closed_stdout_keeps_the_real_code(argv: tuple[str, ...], expected: int,
                                             tmp_path: Path) -> None:
    """Attack review, finding 5: ``cert verify … >&-`` (Python starts with ``sys.stdout``
    None) exited 1 with a traceback instead of 5.  Now a revoked certificate is 5, a valid
    one whose result had nowhere to go 1, never a traceback."""
    env = {**os.environ, "PYTHONPATH": PACKAGE_PARENT, "JUKICARD_CONFIG": os.devnull}
    proc = subprocess.run([sys.executable, "-m", "jukicard", *argv], stdout=None,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                          cwd=tmp_path, timeout=TIMEOUT, check=False,
                          preexec_fn=_closed_stdout)
    assert proc.returncode == expected, proc.stderr
    assert b"Traceback" not in proc.stderr and b"unexpected" not in proc.stderr


@pytest.mark.parametrize("option", ["--help", "--version"])
def test_help_and_version_are_outputs_like_any_other(option: str, tmp_path: Path) -> None:
    """Attack review, finding 6: ``jukicard --help | true`` exited 1 with "BrokenPipeError …
    unexpected error", ``--help > /dev/full`` with "OSError … unexpected error".  Now a
    closed pipe after the help is 0 and silent (the reader chose to stop), a full disk 1
    with "NOT delivered"."""
    fd = _closed_pipe()
    try:
        proc = process(option, stdout=fd, cwd=tmp_path)
    finally:
        os.close(fd)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    with open("/dev/full", "wb") as full:
        proc = process(option, stdout=full, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert b"unexpected" not in proc.stderr and b"NOT delivered" in proc.stderr


# --------------------------------------------------------------------------- defect 6
def test_an_oversized_certificate_is_refused_by_name(tmp_path: Path) -> None:
    """Defect 6: inputs were read whole with no limit (``cert verify /dev/zero`` grew to
    gigabytes).  A certificate file above 1 MiB is refused before it is read, naming the
    argument and the file (old: read, then "malformed certificate")."""
    big = tmp_path / "big.cer"
    with open(big, "wb") as fh:
        fh.truncate(1024 * 1024 + 1)  # sparse: costs no disk
    for argv in (("cert", "verify", big, "--anchor", PKI / "ca/sign-2023.cer"),
                 ("cert", "verify", PKI / "ee/r1-sign.cer", "--anchor", big)):
        rc, out = run_json(*argv, "--at", AT, "--json")
        assert rc == 2, out
        message = out["error"]["message"]
        assert "1 MiB" in message and "big.cer" in message
        assert ("CERT" if argv[2] == big else "--anchor") in message


def test_an_oversized_signature_is_refused_by_name(tmp_path: Path) -> None:
    """Defect 6: ``signature verify`` read SIG whole; above 64 MiB it is refused unread."""
    big = tmp_path / "big.sig"
    with open(big, "wb") as fh:
        fh.truncate(64 * 1024 * 1024 + 1)
    (tmp_path / "data").write_bytes(b"x")
    rc, out = run_json("signature", "verify", tmp_path / "data", big, "--cert",
                       PKI / "ee/r1-sign.cer", "--json")
    assert rc == 2 and "SIG" in out["error"]["message"] and "64 MiB" in out["error"]["message"]


def test_signature_verify_hashes_the_document_as_a_stream(tmp_path: Path) -> None:
    """Defect 6: ``signature verify`` read FILE whole into memory; now it is hashed chunk
    by chunk (Python's peak allocation stays far below the document's size)."""
    import hashlib
    import tracemalloc

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    doc = tmp_path / "doc"
    size = 32 * 1024 * 1024
    with open(doc, "wb") as fh:
        fh.truncate(size)  # sparse zeros
    h = hashlib.sha256()
    block = bytes(1 << 20)
    for _ in range(size >> 20):
        h.update(block)
    key = serialization.load_pem_private_key((PKI / "keys/ee-r1-sign.pem").read_bytes(), None)
    (tmp_path / "sig").write_bytes(key.sign(h.digest(), padding.PKCS1v15(),
                                            Prehashed(hashes.SHA256())))
    del block
    tracemalloc.start()
    try:
        rc, out = run_json("signature", "verify", doc, tmp_path / "sig", "--cert",
                           PKI / "ee/r1-sign.cer", "--json")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rc == 0, out
    assert peak < size // 4


# --------------------------------------------------------------------------- defect 7
NOISY = """
import sys, warnings
import jukicard.pki.certs as certs
from cryptography.utils import CryptographyDeprecationWarning
original = certs.load_certificates
def noisy(*args, **kwargs):
    warnings.warn("DSA is deprecated (injected by the test)", CryptographyDeprecationWarning)
    return original(*args, **kwargs)
certs.load_certificates = noisy
from jukicard.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_python_warnings_never_reach_the_staff(tmp_path: Path) -> None:
    """Defect 7: ``CryptographyDeprecationWarning`` lines on stderr of every verify.  A
    warning raised during a command goes to the log at DEBUG only."""
    proc = process(*VALID, code=NOISY, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert b"Warning" not in proc.stderr and proc.stderr == b""
    proc = process("--log-level", "DEBUG", *VALID, code=NOISY, cwd=tmp_path)
    assert proc.returncode == 0
    lines = [ln for ln in proc.stderr.decode().splitlines() if "injected by the test" in ln]
    assert lines and all(" DEBUG " in ln for ln in lines)


# --------------------------------------------------------------------------- defect 8
@pytest.mark.parametrize("at", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_at_outside_the_range_of_dates_is_a_usage_error(at: str) -> None:
    """Defect 8: ``--at`` past the datetime range raised OverflowError (exit 1)."""
    rc, out = run_json(*VALID[:-2], "--at", at, "--json")
    assert rc == 2 and "--at" in out["error"]["message"]


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_watch_timeout_must_be_finite(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Defect 8: ``watch --timeout nan`` never returned (the PC/SC wait got NaN)."""
    from jukicard.cli import reader as reader_cli

    calls: list[object] = []
    monkeypatch.setattr(reader_cli, "WATCH_SOURCE", lambda t: calls.append(t) or [])
    assert main(["watch", "--timeout", value]) == 2
    assert calls == []


@pytest.mark.parametrize("oid", ["foo", "1..2", "1.2.", "3.1", "1.40.1", "01.2", "1.2.03",
                                 "anyPolicy"])
def test_a_malformed_policy_oid_is_a_usage_error(oid: str) -> None:
    """Defect 8: ``--policy`` took any string (and the path then failed, or passed)."""
    rc, out = run_json(*VALID, "--policy", oid, "--json")
    assert rc == 2 and "--policy" in out["error"]["message"]


def test_emulator_usage_errors_exit_2(tmp_path: Path) -> None:
    """Defect 8: emulator usage errors exited 1 (a port out of range was only found when
    connecting)."""
    for port in ("0", "70000", "-5"):
        proc = process("emulator", "serve", "--profile", "mynumber-01", "--port", port,
                       cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        env = {**os.environ, "PYTHONPATH": PACKAGE_PARENT}
        direct = subprocess.run([sys.executable, "-m", "jukicard.emulator", "--profile",
                                 "mynumber-01", "--port", port], capture_output=True, env=env,
                                cwd=tmp_path, timeout=TIMEOUT, check=False)
        assert direct.returncode == 2, direct.stderr


# --------------------------------------------------------------------------- defect 10
def test_errors_name_the_option_and_the_file() -> None:
    """Defect 10: ``--anchor x`` holding a CRL said only "malformed certificate
    (ValueError)"; now the option, the file and what it holds instead are named."""
    crl = str(PKI / "crl/sign-2023.crl")
    # since the issue 8 review a wrong option input is a usage error (exit 2) whose error
    # object carries the option and the file; only CERT itself is "invalid" (exit 5)
    rc, out = run_json("cert", "verify", PKI / "ee/r1-sign.cer", "--anchor", crl, "--at", AT,
                       "--json")
    err = out["error"]
    assert rc == 2 and err["option"] == "--anchor" and err["path"] == crl
    assert "--anchor" in err["message"] and "sign-2023.crl" in err["message"]
    assert "holds a CRL" in err["message"]
    rc, out = run_json(*VALID[:5], "--crl", PKI / "ca/sign-2023.cer", "--at", AT, "--json")
    err = out["error"]
    assert rc == 2 and "--crl" in err["message"] and "holds a certificate" in err["message"]
    rc, out = run_json("cert", "verify", crl, "--anchor", PKI / "ca/sign-2023.cer", "--json")
    assert rc == 5 and out["message"].startswith("CERT ")
    assert out["input"] == {"option": "CERT", "file": crl}


def test_click_usage_errors_print_json_too() -> None:
    """Defect 10: with ``--json`` a usage error found by the parser printed nothing on
    stdout (scripts got no error object)."""
    for argv in (("cert", "verify", "x.cer", "--json"),
                 ("cert", "verify", "--json", "x.cer", "--anchor", "a", "--usage", "both"),
                 ("card", "info", "--json", "--bogus")):
        rc, out = run_json(*argv)
        assert rc == 2
        assert out["error"]["exit_code"] == 2 and out["error"]["type"] == "UsageError"


def test_a_file_name_that_is_not_utf8_gives_valid_json(tmp_path: Path) -> None:
    """Defect 10: a file name with bytes that are not UTF-8 crashed the JSON output
    (lone surrogates); now it is escaped and the output is valid UTF-8 JSON."""
    name = os.fsencode(tmp_path) + b"/cert-\xff.pem"
    proc = process("cert", "export", "auth-ca", "--emulated", "--json", "-o", name,
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout.decode("utf-8"))
    assert data["output"].endswith("cert-\\xff.pem")
    assert os.path.exists(name)
    proc = process("cert", "verify", name + b".missing", "--anchor", name, "--json",
                   cwd=tmp_path)
    assert proc.returncode == 2
    error = json.loads(proc.stdout.decode("utf-8"))["error"]
    assert "cert-\\udcff.pem" in error["message"] and "Traceback" not in proc.stderr.decode()
