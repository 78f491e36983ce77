"""Output files, stdout and exit codes after the independent attack review of issue 8
(findings 1-7 of ``fix-output``), tested as the reviewers met them: against the emulated card,
in-process through :func:`jukicard.cli.main.main` where a hook is needed, and as real
``python -m jukicard`` processes for full disks, closed descriptors and permissions.

Each test of a finding fails on the code before the fix (its docstring says how); the few
that guard what must not change say so.  The race of finding 1 is made deterministic by a
hook that swaps the path between the plan (before the PIN) and the write (after the card
answered): no sleeps, no timed assertions.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from emulated_support import PINS, PinLedger
from test_cli_compat import runner

import jukicard

DIGEST = "00" * 32
PACKAGE_PARENT = str(Path(jukicard.__file__).resolve().parents[1])
#: hang guard for one process (not a timed assertion)
TIMEOUT = 120
NOBODY = 65534


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> Any:
    return runner(monkeypatch, capsys, tmp_path)


def process(*argv: str | Path, stdin: str = "", stdout: Any = subprocess.PIPE,
            prefix: tuple[str, ...] = (), close_stdout: bool = False,
            cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """``python -m jukicard ARGV`` in a fresh process (``close_stdout``: started with fd 1
    closed, as ``>&-`` does)."""
    env = {**os.environ, "PYTHONPATH": PACKAGE_PARENT, "JUKICARD_CONFIG": os.devnull}
    return subprocess.run([*prefix, sys.executable, "-m", "jukicard", *map(str, argv)],
                          input=stdin.encode(), stdout=stdout, stderr=subprocess.PIPE,
                          env=env, cwd=cwd, timeout=TIMEOUT, check=False,
                          preexec_fn=(lambda: os.close(1)) if close_stdout else None)


def _after_signing(monkeypatch: pytest.MonkeyPatch, action: Any) -> None:
    """Run ``action`` once the card has signed, before the command writes: the moment an
    attacker swaps the path while the PIN is being entered."""
    from jukicard.services import signing

    original = signing.sign_digest

    def hooked(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        action()
        return result

    monkeypatch.setattr(signing, "sign_digest", hooked)


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --------------------------------------------------------------------------- finding 1
@pytest.mark.parametrize("swap", ["new-name-becomes-link", "file-becomes-link",
                                  "directory-becomes-link"])
def test_a_path_swapped_after_the_check_is_not_written(
    run: Any, pins: PinLedger, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, swap: str
) -> None:
    """Finding 1: ``sign doc -o out.sig`` while another process does ``ln -s doc out.sig``
    during the PIN entry: the old code resolved the path again at write time and replaced
    ``doc`` with the signature (exit 0).  Now the write finds that the path no longer leads
    where it was checked: nothing is written, ``doc`` is untouched, exit 1, no temporary
    file is left."""
    doc = tmp_path / "doc"
    doc.write_bytes(b"the document")
    work = tmp_path / "work"
    work.mkdir()
    out = work / "out.sig"
    if swap == "file-becomes-link":
        out.write_bytes(b"old signature")
    elif swap == "directory-becomes-link":
        out = work / "sub" / "out.sig"
        out.parent.mkdir()
        (tmp_path / "elsewhere").mkdir()
        os.link(doc, tmp_path / "elsewhere" / "out.sig")

    def attack() -> None:
        if swap == "directory-becomes-link":
            out.parent.rename(work / "moved")
            out.parent.symlink_to(tmp_path / "elsewhere")
            return
        if out.exists():
            out.unlink()
        out.symlink_to(doc)

    _after_signing(monkeypatch, attack)
    res = run("sign", doc, "--emulated", "--pin-stdin", "-o", out,
              stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 1, res.err
    assert "NOT delivered" in res.err and "no longer leads" in res.err
    assert doc.read_bytes() == b"the document"
    assert not any(n.startswith(".jukicard-") for d in (work, out.parent, tmp_path)
                   for n in _names(d))


def _foreign_link(link: Path, target: Path) -> None:
    link.symlink_to(target)
    os.lchown(link, NOBODY, NOBODY)


needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="planting a link owned by another user needs root")


@needs_root
@pytest.mark.parametrize("where", ["last-component", "directory-component"])
def test_a_link_planted_in_a_sticky_directory_is_not_followed(
    run: Any, tmp_path: Path, where: str
) -> None:
    """Finding 1: in a sticky world-writable directory (``/tmp``) another user plants
    ``out.sig -> ~victim/precious``; the old code resolved the link and renamed over
    ``precious`` (the kernel's ``fs.protected_symlinks`` rule bypassed, and ignored when the
    switch is off).  Now such a link is not followed, whatever the switch: refused before
    the PIN (exit 2; the PIN ledger checks nothing was sent), ``precious`` untouched."""
    home = tmp_path / "home"
    home.mkdir()
    precious = home / "precious"
    precious.write_bytes(b"precious")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    if where == "last-component":
        _foreign_link(shared / "out.sig", precious)
        out = shared / "out.sig"
    else:
        _foreign_link(shared / "dir", home)
        out = shared / "dir" / "precious"
    res = run("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "-o", out,
              stdin="ABC123\n")
    assert res.rc == 2, res.err
    assert "not following the symlink" in res.err
    assert sys.stdin.read() == "ABC123\n"  # the PIN was not read
    assert precious.read_bytes() == b"precious"


def test_own_links_in_a_sticky_directory_are_still_followed(
    run: Any, pins: PinLedger, tmp_path: Path
) -> None:
    """What must not change: the sticky-directory rule refuses only other users' links; the
    user's own link in a shared directory still leads to its file (the link stays)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    real = tmp_path / "real.sig"
    real.write_bytes(b"old")
    (shared / "out.sig").symlink_to(real)
    res = run("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "-o",
              shared / "out.sig", stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    assert (shared / "out.sig").is_symlink() and len(real.read_bytes()) == 256


# --------------------------------------------------------------------------- finding 2
@pytest.mark.parametrize("name", ["/dev/stdin", "/proc/self/fd/0"])
def test_sign_stdin_refuses_to_write_over_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    name: str
) -> None:
    """Finding 2: ``sign - -o /dev/stdin < doc`` replaced the document with its signature
    (``-`` was never compared with anything).  Now stdin's device and inode are compared:
    refused before the PIN is asked, the document untouched."""
    from jukicard.cli import _common
    from jukicard.cli.main import main

    doc = tmp_path / "doc"
    doc.write_bytes(b"the document")
    prompts: list[str] = []
    monkeypatch.setattr(_common, "_terminal_available", lambda: True)
    monkeypatch.setattr(_common.getpass, "getpass",
                        lambda prompt, stream=None: prompts.append(prompt) or PINS["sign"])
    monkeypatch.setenv("JUKICARD_CONFIG", os.devnull)
    saved = os.dup(0)
    fd = os.open(doc, os.O_RDONLY)
    try:
        os.dup2(fd, 0)
        with open(0, closefd=False) as stdin:
            monkeypatch.setattr(sys, "stdin", stdin)
            rc = main(["sign", "-", "--emulated", "-o", name])
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(fd)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "stdin" in err and "-o" in err
    assert prompts == []
    assert doc.read_bytes() == b"the document"


# --------------------------------------------------------------------------- finding 3
def test_a_read_only_directory_is_found_before_the_pin(tmp_path: Path) -> None:
    """Finding 3: the file is writable but its directory is not (no temporary file can be
    made beside it): the old code asked the PIN, sent it, then failed to write (exit 2
    after the PIN; here the wrong PIN given reaches the card: exit 3).  Now the directory is
    tried before the PIN: exit 2, nothing sent.  Run as root, the process drops the
    capabilities that let root write anywhere (``setpriv``)."""
    doc = tmp_path / "doc"
    doc.write_bytes(b"the document")
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "out.sig").write_bytes(b"")
    (ro / "out.sig").chmod(0o666)
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("root without setpriv cannot be denied a write")
        os.chown(ro, NOBODY, NOBODY)
        prefix = (setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner")
    ro.chmod(0o755 if os.geteuid() == 0 else 0o555)
    try:
        proc = process("sign", doc, "--emulated", "--pin-stdin", "-o", ro / "out.sig",
                       stdin="ZZZ999\n", prefix=prefix, cwd=tmp_path)
    finally:
        ro.chmod(0o755)
    assert proc.returncode == 2, proc.stderr
    assert b"cannot create a file in its directory" in proc.stderr
    assert b"wrong PIN" not in proc.stderr
    assert (ro / "out.sig").read_bytes() == b""


# --------------------------------------------------------------------------- finding 4
FULL = [
    ("sign", ("sign", "--digest", DIGEST, "--emulated", "--pin-stdin"), "ABC123\n"),
    ("mynumber", ("mynumber", "--emulated", "--pin-stdin"), "1234\n"),
    ("cert export", ("cert", "export", "auth", "--emulated"), ""),
]


@pytest.mark.parametrize(("name", "argv", "stdin"), FULL, ids=[f[0] for f in FULL])
def test_a_result_lost_on_a_full_stdout_is_not_success(name: str, argv: tuple[str, ...],
                                                       stdin: str, tmp_path: Path) -> None:
    """Finding 4: ``sign … > /dev/full`` (and ``mynumber``, ``cert export``) exited 0 after
    "could not write the output": a script took the lost signature for delivered.  Now 1,
    and stderr says the result was NOT delivered."""
    with open("/dev/full", "wb") as full:
        proc = process(*argv, stdin=stdin, stdout=full, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert b"NOT delivered" in proc.stderr and b"Traceback" not in proc.stderr


def test_a_failing_command_keeps_its_code_on_a_full_stdout(tmp_path: Path) -> None:
    """Finding 4, what must not change: a command that failed keeps its own code on a full
    stdout (a wrong PIN stays 3)."""
    with open("/dev/full", "wb") as full:
        proc = process("mynumber", "--emulated", "--pin-stdin", "--json", stdin="0000\n",
                       stdout=full, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr


def test_output_file_on_a_full_device_is_not_a_usage_error(run: Any, pins: PinLedger) -> None:
    """Finding 4: ``-o /dev/full`` exited 2 "usage error" after the PIN was spent; an I/O
    failure is not a usage error: exit 1, the signature NOT delivered."""
    res = run("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "-o", "/dev/full",
              "--json", stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 1, res.err
    assert "usage error" not in res.err and "signature was NOT delivered" in res.err
    error = res.json()["error"]
    assert error["type"] == "OutputError" and error["exit_code"] == 1
    assert error["option"] == "-o" and error["path"] == "/dev/full"


# --------------------------------------------------------------------------- finding 5
def test_sign_with_a_closed_stdout_writes_the_file_and_exits_0(tmp_path: Path) -> None:
    """Finding 5: ``sign … -o x.sig >&-`` wrote the signature, then died with
    ``AttributeError: 'NoneType' object has no attribute 'flush'`` and a traceback (exit 1:
    a script would sign again).  Now exit 0, the signature written, nothing on stderr but
    the notice."""
    proc = process("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "-o", "x.sig",
                   stdin="ABC123\n", close_stdout=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr and b"Error" not in proc.stderr
    assert len((tmp_path / "x.sig").read_bytes()) == 256


def test_a_result_for_a_closed_stdout_is_not_delivered(tmp_path: Path) -> None:
    """Finding 5: ``mynumber >&-``: the My Number had nowhere to go (old: traceback).  Exit
    1, no traceback."""
    proc = process("mynumber", "--emulated", "--pin-stdin", stdin="1234\n",
                   close_stdout=True, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert b"Traceback" not in proc.stderr and b"stdout is closed" in proc.stderr


# --------------------------------------------------------------------------- finding 7
@pytest.mark.parametrize(("argv", "option", "mode"), [
    (("cert", "export", "sign", "--pin-stdin"), "-o", 0o600),
    (("sign", "--digest", DIGEST, "--pin-stdin", "-o", "SIG"), "--cert-out", 0o600),
    (("sign", "--digest", DIGEST, "--pin-stdin", "--cert-out", "CERT"), "-o", 0o644),
    (("cert", "export", "auth"), "-o", 0o644),
], ids=["export-sign", "cert-out-of-sign-key", "signature", "export-auth"])
def test_new_files_with_personal_data_are_private(run: Any, pins: PinLedger, tmp_path: Path,
                                                  argv: tuple[str, ...], option: str,
                                                  mode: int) -> None:
    """Finding 7: ``cert export sign -o f`` and ``sign --cert-out f`` (the sign certificate:
    name, address, birth date) created ``f`` 0644 under umask 022; now 0600.  What must not
    change: a signature or the auth certificate (no personal data) gets ``0666 & ~umask``."""
    words = [str(tmp_path / a) if a in ("SIG", "CERT") else a for a in argv]
    stdin = pins.submit(PINS["sign"]) + "\n" if "--pin-stdin" in argv else ""
    old_umask = os.umask(0o022)
    try:
        res = run(*words, "--emulated", option, tmp_path / "new", stdin=stdin)
    finally:
        os.umask(old_umask)
    assert res.rc == 0, res.err
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == mode


@needs_root
def test_replacing_keeps_owner_and_group_as_root(run: Any, pins: PinLedger,
                                                 tmp_path: Path) -> None:
    """Finding 7: run as root, replacing another user's file gave it to root; now the
    replaced file keeps its owner and group (and its mode)."""
    sig = tmp_path / "their.sig"
    sig.write_bytes(b"old")
    os.chown(sig, NOBODY, NOBODY)
    sig.chmod(0o640)
    res = run("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "-o", sig,
              stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    st = sig.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (NOBODY, NOBODY, 0o640)
    assert len(sig.read_bytes()) == 256


def test_the_directory_is_synced_after_the_rename(run: Any, pins: PinLedger,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    """Finding 7: the rename was not made durable (no fsync of the directory); now the
    directory holding the new name is fsynced after it (a spy on ``os.fsync``)."""
    synced: list[tuple[bool, tuple[int, int]]] = []
    original = os.fsync

    def spy(fd: int) -> None:
        st = os.fstat(fd)
        synced.append((stat.S_ISDIR(st.st_mode), (st.st_dev, st.st_ino)))
        original(fd)

    monkeypatch.setattr(os, "fsync", spy)
    res = run("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "-o",
              tmp_path / "x.sig", stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    directory = tmp_path.stat()
    assert synced[-1] == (True, (directory.st_dev, directory.st_ino))
    assert synced[0][0] is False  # the file itself first


def test_replacing_a_hard_linked_file_detaches_it(run: Any, pins: PinLedger,
                                                  tmp_path: Path) -> None:
    """The documented trade-off of the atomic replace (not a defect): the other hard link of
    a replaced file keeps the old content."""
    sig = tmp_path / "a.sig"
    sig.write_bytes(b"old")
    os.link(sig, tmp_path / "b.sig")
    res = run("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "-o", sig,
              stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    assert len(sig.read_bytes()) == 256 and (tmp_path / "b.sig").read_bytes() == b"old"
