"""The findings of the independent review of issue 8 that need no card (5, 6, 7, 8, 9, 10,
11, 13, 15, 16), tested as the reviewer met them: through :func:`jukicard.cli.main.main`,
and as real processes where a terminal, a pipe or the emulator's entry point matters.

Each test fails on the code before the review (its docstring says how).  No test reads
``/dev/zero`` or a FIFO through the old code paths: they would hang.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import pty
import select
import socket
import subprocess
import sys
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

import jukicard
from jukicard.cli.main import exit_code_for, main
from jukicard.errors import UsageError
from jukicard.services.verify import VerifyOptions

ROOT = Path(__file__).resolve().parents[2]
PKI = ROOT / "vectors" / "pki"
AT = "2026-06-01T00:00:00Z"
DATA = b"document to sign\n"
PACKAGE_PARENT = str(Path(jukicard.__file__).resolve().parents[1])
#: hang guard for one process or one read (not a timed assertion)
TIMEOUT = 60
ESC = "\x1b"


def run(*argv: str | Path, capsys: pytest.CaptureFixture[str] | None = None
        ) -> tuple[int, Any, str]:
    """``(exit code, JSON on stdout or its text, stderr)`` of ``jukicard ARGV``."""
    buf = io.StringIO()
    with redirect_stdout(buf):
        rc = main([str(a) for a in argv])
    text = buf.getvalue()
    err = capsys.readouterr().err if capsys is not None else ""
    try:
        return rc, json.loads(text), err
    except ValueError:
        return rc, text, err


def _key(name: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key((PKI / f"keys/{name}.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _cms(rid: str) -> bytes:
    cert = x509.load_der_x509_certificate((PKI / f"ee/{rid}-sign.cer").read_bytes())
    return (pkcs7.PKCS7SignatureBuilder().set_data(DATA)
            .add_signer(cert, _key(f"ee-{rid}-sign"), hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary,
                                               pkcs7.PKCS7Options.DetachedSignature]))


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "data").write_bytes(DATA)
    (tmp_path / "sig").write_bytes(_key("ee-r1-sign").sign(DATA, padding.PKCS1v15(),
                                                           hashes.SHA256()))
    (tmp_path / "r2.p7s").write_bytes(_cms("r2"))
    return tmp_path


def _closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


# --------------------------------------------------------------------------- finding 5
def test_cert_pins_the_signer_of_a_cms(files: Path) -> None:
    """Finding 5: a CMS signed by r2 verified "valid" with ``--cert`` = r1's certificate
    (``--cert`` was only an extra candidate).  Now it pins the signer: invalid, exit 5."""
    rc, res, _ = run("signature", "verify", files / "data", files / "r2.p7s", "--cert",
                     PKI / "ee/r1-sign.cer", "--json")
    assert rc == 5 and res["valid"] is False and res["reason"] == "signer-not-found"
    assert "--cert" in res["message"]
    rc, res, _ = run("signature", "verify", files / "data", files / "r2.p7s", "--cert",
                     PKI / "ee/r2-sign.cer", "--json")
    assert rc == 0 and res["valid"] is True


# --------------------------------------------------------------------------- finding 6
@pytest.mark.parametrize("option", [("--crl", str(PKI / "crl/sign-2023.crl")),
                                    ("--policy", "2.5.29.32.0"),
                                    ("--intermediate", str(PKI / "ca/sign-2023.cer"))])
def test_validation_options_without_an_anchor_are_a_usage_error(
        files: Path, option: tuple[str, ...]) -> None:
    """Finding 6: ``--jpki-profile`` (``--crl``, ``--usage``, ``--policy``…) without
    ``--anchor`` was silently ignored and a self-made certificate "valid" (exit 0).

    Issue 9: ``--jpki-profile`` and ``--usage`` now select the jpki preset, which validates
    against the bundled J-LIS roots without ``--anchor`` (nothing is ignored: the self-made
    certificate is invalid, exit 5): asserted in ``test_cli_anchors.py``."""
    rc, res, _ = run("signature", "verify", files / "data", files / "r2.p7s", *option, "--json")
    assert rc == 2
    assert option[0] in res["error"]["message"] and "--anchor" in res["error"]["message"]


# --------------------------------------------------------------------------- finding 7, 8
def test_a_wrong_option_input_is_a_usage_error_naming_option_and_file(
        files: Path, tmp_path: Path) -> None:
    """Finding 7/8: ``--anchor x.crl`` gave exit 5 "malformed-certificate", ``--crl
    ca.cer`` exit 5 "malformed-crl", ``--cert badpem`` exit 5 "signature invalid", and no
    error JSON carried the ``option``/``path`` fields the README promises.  Now exit 2 with
    both fields, and no parser internals in the message."""
    crl, ca = str(PKI / "crl/sign-2023.crl"), str(PKI / "ca/sign-2023.cer")
    badpem = tmp_path / "badpem"
    badpem.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    cases = [
        (("cert", "verify", PKI / "ee/r1-sign.cer", "--anchor", crl), "--anchor", crl),
        (("cert", "verify", PKI / "ee/r1-sign.cer", "--anchor", ca, "--crl", ca), "--crl", ca),
        (("signature", "verify", files / "data", files / "sig", "--cert", badpem), "--cert",
         str(badpem)),
        (("cert", "verify", PKI / "ee/r1-sign.cer", "--anchor", "/nonexistent/x.cer"),
         "--anchor", "/nonexistent/x.cer"),
    ]
    for argv, option, path in cases:
        rc, res, _ = run(*argv, "--at", AT, "--json")
        assert rc == 2, argv
        err = res["error"]
        assert err["option"] == option and err["path"] == path and err["type"] == "UsageError"
        assert "Error)" not in err["message"] and "Insufficient" not in err["message"]


def test_a_click_usage_error_names_its_option(capsys: pytest.CaptureFixture[str]) -> None:
    """Finding 8: ``sign --key nope --json`` gave an error object without ``option``."""
    rc, res, _ = run("sign", "--emulated", "--digest", "00" * 32, "--key", "nope", "--json")
    assert rc == 2 and res["error"]["option"] == "--key"


def test_crl_options_that_cannot_work_are_usage_errors(tmp_path: Path) -> None:
    """Finding 7: ``--crl ftp://…`` gave exit 5 (undetermined) after a warning; a PEM file
    with no CRL block given to ``--crl`` was silently ignored (exit 5, "no CRL found")."""
    base = ("cert", "verify", PKI / "ee/r1-sign.cer", "--anchor", PKI / "ca/sign-2023.cer",
            "--at", AT, "--json")
    rc, res, _ = run(*base, "--crl", "ftp://example.test/sign.crl")
    assert rc == 2 and res["error"]["option"] == "--crl" and "http" in res["error"]["message"]
    empty = tmp_path / "nothing.pem"
    empty.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    rc, res, _ = run(*base, "--crl", empty)
    assert rc == 2 and "holds no CRL" in res["error"]["message"]
    assert res["error"]["path"] == str(empty)


def _pki_with_http_distribution_point(tmp_path: Path, url: str) -> tuple[Path, Path]:
    """A root and a leaf whose cRLDistributionPoints is ``url`` (generic RFC 5280)."""
    root_key, leaf_key = _key("ca-sign-2023"), _key("ee-r1-auth")
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "review root")])
    root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
            .public_key(root_key.public_key()).serial_number(1).not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()),
                           critical=False)  # the RFC 5280 profile (strict by default)
            .sign(root_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "review leaf")]))
            .issuer_name(root_name).public_key(leaf_key.public_key()).serial_number(2)
            .not_valid_before(start).not_valid_after(start + dt.timedelta(days=3000))
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                root_key.public_key()), critical=False)
            .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier(url)], None, None, None)]), critical=False)
            .sign(root_key, hashes.SHA256()))
    paths = tmp_path / "root.cer", tmp_path / "leaf.cer"
    for path, cert in zip(paths, (root, leaf), strict=True):
        path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    return paths


def test_an_unreachable_crl_url_is_listed_in_the_result(tmp_path: Path) -> None:
    """Finding 7: a distribution point that could not be fetched (``--fetch-crls``) was
    only a warning on stderr; the result said "no CRL found".  Now the JSON lists the URL
    and why (no Python exception name), and the message says it too."""
    url = f"http://127.0.0.1:{_closed_port()}/review.crl"
    root, leaf = _pki_with_http_distribution_point(tmp_path, url)
    rc, res, _ = run("cert", "verify", leaf, "--anchor", root, "--fetch-crls", "--at", AT,
                     "--json")
    assert rc == 5 and res["reason"] == "revocation-status-undetermined"
    assert len(res["problems"]) == 1 and res["problems"][0].startswith(url + ": ")
    assert "Error" not in res["problems"][0]
    assert url in res["message"]
    rc, res, _ = run("cert", "verify", leaf, "--anchor", root, "--crl", url, "--at", AT,
                     "--json")
    assert rc == 5 and url in res["message"] and "Error" not in res["problems"][0]


# --------------------------------------------------------------------------- finding 9
@pytest.mark.parametrize("depth", [200_000, 60_000])
def test_a_deeply_nested_signature_file_is_a_bad_signature(files: Path, depth: int) -> None:
    """Finding 9: SIG = ``{"a":`` + 200,000 × ``[`` raised ``RecursionError`` (exit 1).
    Now it is a bad signature (exit 5), also below the size where JSON is tried."""
    (files / "nested.sig").write_bytes(b'{"a":' + b"[" * depth)
    rc, res, _ = run("signature", "verify", files / "data", files / "nested.sig", "--cert",
                     PKI / "ee/r1-sign.cer", "--json")
    assert rc == 5 and res["valid"] is False


# --------------------------------------------------------------------------- finding 10
def test_cert_verify_text_escapes_names_and_messages(tmp_path: Path) -> None:
    """Finding 10: ``cert verify`` text printed ``input.file``, ``message`` and ``path``
    raw: a file name with ESC sequences drove the terminal."""
    cert = tmp_path / f"x{ESC}[2J{ESC}]0;T{chr(7)}.cer"
    cert.write_bytes((PKI / "crl/sign-2023.crl").read_bytes())
    rc, out, _ = run("cert", "verify", cert, "--anchor", PKI / "ca/sign-2023.cer", "--at", AT)
    assert rc == 5 and isinstance(out, str)
    assert ESC not in out and chr(7) not in out
    assert "file: " + str(tmp_path) + "/x\\x1b[2J\\x1b]0;T\\x07.cer" in out


def test_booleans_are_yes_or_no_in_text(files: Path) -> None:
    """Finding 16: ``weak_hash: False`` / ``detached: True`` in text output."""
    rc, out, _ = run("signature", "verify", files / "data", files / "r2.p7s")
    assert rc == 0 and isinstance(out, str)
    assert "detached: yes" in out and "weak_hash=no" in out
    assert "True" not in out and "False" not in out


# --------------------------------------------------------------------------- finding 11
def _reap(pid: int) -> int | None:
    """The child's wait status; a child still running after the hang guard is killed
    (``None``): the test fails instead of hanging."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return None


def test_pin_stdin_on_a_real_terminal_hides_the_pin() -> None:
    """Finding 11: ``--pin-stdin`` on a terminal echoed the PIN and showed no prompt.  Now
    (a real pseudo-terminal) the hidden prompt is shown and the PIN is not echoed."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.environ["PYTHONPATH"] = PACKAGE_PARENT
        os.execv(sys.executable, [sys.executable, "-m", "jukicard", "pin", "verify", "auth",
                                  "--emulated", "--pin-stdin"])
    seen = b""
    status = None
    try:
        # getpass flushes what was typed before its prompt: answer the prompt itself
        while b"tries left): " not in seen:
            ready, _, _ = select.select([fd], [], [], TIMEOUT)
            assert ready, f"no prompt: {seen!r}"
            seen += os.read(fd, 4096)
        os.write(fd, b"1234\n")
        while True:
            ready, _, _ = select.select([fd], [], [], TIMEOUT)
            if not ready:
                break
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    finally:
        status = _reap(pid)
        os.close(fd)
    assert status is not None, seen
    text = seen.decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "stdin is a terminal" in text and "利用者証明用電子証明書暗証番号" in text
    assert "1234" not in text and "correct" in text


# --------------------------------------------------------------------------- finding 13
def _emulator(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": PACKAGE_PARENT}
    return subprocess.run([sys.executable, "-m", "jukicard.emulator", *argv],
                          capture_output=True, text=True, env=env, timeout=TIMEOUT, check=False)


def test_emulator_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    """Finding 13: a missing profile exited 1 (``emulator serve`` and ``python -m
    jukicard.emulator``); ``--atr 3B`` (one byte) was accepted; ``/dev/null`` and an
    oversized profile were read whole.  Now each is a usage error, exit 2, before any
    network I/O (``--port`` names a closed port: the old code exited 1 there)."""
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:
        fh.truncate(17 * 1024 * 1024)  # sparse: no disk used
    port = str(_closed_port())
    for argv, words in ((("--profile", "nosuch"), "cannot read"),
                        (("--profile", "mynumber-01", "--atr", "3B"), "2 to 33 bytes"),
                        (("--profile", "mynumber-01", "--atr", "0011"), "3B or 3F"),
                        (("--profile", os.devnull), "not a regular file"),
                        (("--profile", str(big)), "larger than 8 MiB")):
        proc = _emulator(*argv, "--port", port)
        assert proc.returncode == 2 and words in proc.stderr, (argv, proc.stderr)
    rc, _, err = run("emulator", "serve", "--profile", "nosuch", "--port", port,
                     capsys=capsys)
    assert rc == 2 and "cannot read" in err


def test_emulator_serve_has_log_level_and_stats_file(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    """Finding 13: ``emulator serve`` lacked ``--log-level`` and ``--stats-file`` that
    ``python -m jukicard.emulator`` has; now they are forwarded."""
    import jukicard.emulator.__main__ as emulator_main

    seen: list[list[str]] = []
    monkeypatch.setattr(emulator_main, "main",
                        lambda argv, **_kw: seen.append(list(argv)) or 0)  # render= (review 2)
    stats = tmp_path / "stats.json"
    rc, _, _ = run("emulator", "serve", "--profile", "mynumber-01", "--log-level", "debug",
                   "--stats-file", stats)
    assert rc == 0
    assert seen == [["--profile", "mynumber-01", "--log-level", "DEBUG", "--stats-file",
                     str(stats)]]


# --------------------------------------------------------------------------- finding 15
def test_crl_cache_naming_a_file_is_a_usage_error(tmp_path: Path) -> None:
    """Finding 15: ``--crl-cache`` naming a regular file raised ``FileExistsError`` (exit
    1)."""
    cache = tmp_path / "cache"
    cache.write_text("x")
    rc, res, _ = run("cert", "verify", PKI / "ee/r1-sign.cer", "--anchor",
                     PKI / "ca/sign-2023.cer", "--crl", f"http://127.0.0.1:{_closed_port()}/x",
                     "--crl-cache", cache, "--at", AT, "--json")
    assert rc == 2 and res["error"]["option"] == "--crl-cache"
    assert "not a directory" in res["error"]["message"]


# --------------------------------------------------------------------------- finding 16
def test_verify_options_refuses_one_path_for_a_sequence() -> None:
    """Finding 16: ``VerifyOptions(anchors="x.cer")`` became ``('x', '.', 'c', …)`` and
    failed later with "--anchor: '/' is a directory" or similar."""
    with pytest.raises(UsageError, match=r"anchors takes a sequence .*\('x.cer',\)"):
        VerifyOptions(anchors="x.cer")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="crls takes a sequence"):
        VerifyOptions(crls=Path("x.crl"))  # type: ignore[arg-type]


def test_the_debug_hint_puts_the_option_before_the_command() -> None:
    """Finding 16: the hint said "(--log-level DEBUG)", which fails after the command."""
    assert "jukicard --log-level DEBUG <command>" in exit_code_for(RuntimeError("x"))[1]


def test_cert_export_der_goes_to_a_file_or_pipe(tmp_path: Path) -> None:
    """Finding 16: ``cert export --format der`` refused any stdout without ``-o``; now only
    a terminal is refused (here stdout is a file)."""
    env = {**os.environ, "PYTHONPATH": PACKAGE_PARENT}
    with open(tmp_path / "auth.der", "wb") as out:
        proc = subprocess.run([sys.executable, "-m", "jukicard", "cert", "export", "auth",
                               "--emulated", "--format", "der"], stdout=out,
                              stderr=subprocess.PIPE, env=env, timeout=TIMEOUT, check=False)
    assert proc.returncode == 0, proc.stderr
    der = (tmp_path / "auth.der").read_bytes()
    assert x509.load_der_x509_certificate(der).public_key() is not None


def test_a_notice_with_stderr_closed_never_lands_on_stdout(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Review: with ``2>&-`` Python sets ``sys.stderr`` to None and ``print(file=None)``
    writes to stdout, so a notice used to mix into the result a script reads."""
    from jukicard.cli import _common

    monkeypatch.setattr(sys, "stderr", None)
    _common.notice("no reader found: using the built-in emulated card")
    assert capsys.readouterr().out == ""
