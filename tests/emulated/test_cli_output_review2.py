"""Output files, stdin and JSON text after the second independent review of issue 8 (the
findings of ``fix2-output``), tested as the reviewer met them: against the emulated card,
in-process through :func:`jukicard.cli.main.main` (the PIN ledger proves what reached the
card) or as real ``python -m jukicard`` processes where descriptors matter (a closed stdin,
a pipe nobody reads, a terminal, a full disk).

Each test of a finding fails on the code before the fix (its docstring says how); the few
that guard what must not change say so.  A second user (the reviewer ran the CLI as
``daemon`` against objects ``nobody`` planted) is played by ``os.chown`` to ``nobody``'s uid,
so those tests need root, which is also the case that matters (root was exempt).  No sleeps:
a FIFO's reader is a non-blocking descriptor the test holds.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from emulated_support import PINS, PinLedger
from test_cli_compat import EXIT_ROWS, runner
from test_cli_review_card import _card

import jukicard

DIGEST = "00" * 32
NOBODY = 65534
PACKAGE_PARENT = str(Path(jukicard.__file__).resolve().parents[1])
#: hang guard for one process (not a timed assertion)
TIMEOUT = 120

needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="planting an object owned by another user needs root")


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> Any:
    return runner(monkeypatch, capsys, tmp_path)


def jk(*argv: str | Path, cwd: Path, stdin: IO[Any] | int | None = None, stdout: Any = None,
       close_stdin: bool = False) -> subprocess.CompletedProcess[bytes]:
    """``python -m jukicard ARGV`` in a fresh process (``close_stdin``: fd 0 closed, as
    ``<&-`` does); stdout captured unless given."""
    env = {**os.environ, "PYTHONPATH": PACKAGE_PARENT, "JUKICARD_CONFIG": os.devnull}
    return subprocess.run(
        [sys.executable, "-m", "jukicard", *map(str, argv)],
        stdin=subprocess.DEVNULL if stdin is None and not close_stdin else stdin,
        stdout=subprocess.PIPE if stdout is None else stdout, stderr=subprocess.PIPE,
        env=env, cwd=cwd, timeout=TIMEOUT, check=False,
        preexec_fn=(lambda: os.close(0)) if close_stdin else None)


def jk_fed(cwd: Path, data: bytes, *argv: str | Path,
           stdout: Any = None) -> subprocess.CompletedProcess[bytes]:
    """:func:`jk` with ``data`` on stdin (from a file: no pipe involved)."""
    feed = cwd / ".stdin"
    feed.write_bytes(data)
    with open(feed, "rb") as stdin:
        return jk(*argv, cwd=cwd, stdin=stdin, stdout=stdout)


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A sticky world-writable directory, as ``/tmp``."""
    directory = tmp_path / "shared"
    directory.mkdir()
    directory.chmod(0o1777)
    return directory


@pytest.fixture
def terminal() -> Iterator[tuple[int, str]]:
    """A pseudo-terminal: ``(slave fd, slave path)``; the master is drained and closed."""
    master, slave = pty.openpty()
    try:
        yield slave, os.ttyname(slave)
    finally:
        os.set_blocking(master, False)
        try:
            os.read(master, 1 << 16)
        except OSError:
            pass
        os.close(slave)
        os.close(master)


def _reader(fifo: Path) -> int:
    """A reader of ``fifo`` that never blocks (a process waiting for the output)."""
    return os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)


def _read_all(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 16)
    except BlockingIOError:  # a writer holds it open, nothing written
        return b""


# --------------------------------------------------------------------------- finding 1
PLANTED = [
    ("sign --cert-out", ("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "--cert-out")),
    ("cert export sign -o", ("cert", "export", "sign", "--emulated", "--pin-stdin", "-o")),
    ("sign -o", ("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "-o")),
]


@needs_root
@pytest.mark.parametrize(("name", "argv"), PLANTED, ids=[p[0] for p in PLANTED])
def test_a_fifo_planted_in_a_sticky_directory_is_refused(run: Any, shared: Path, name: str,
                                                         argv: tuple[str, ...]) -> None:
    """Finding 1: ``nobody`` does ``mkfifo -m 622 /tmp/st2/cert.pem`` and reads it; ``sign …
    --cert-out /tmp/st2/cert.pem`` (or ``cert export sign -o``) wrote the sign certificate
    (name, address, birth date) through the FIFO to that reader.  Now refused before the
    PIN (exit 2, the option and path in the error JSON), nothing reaches the reader."""
    fifo = shared / "cert.pem"
    os.mkfifo(fifo, 0o622)
    os.chown(fifo, NOBODY, NOBODY)
    reader = _reader(fifo)
    try:
        res = run(*argv, fifo, "--json", stdin="ABC123\n")
        got = _read_all(reader)
    finally:
        os.close(reader)
    assert res.rc == 2, res.err
    assert got == b""
    assert sys.stdin.read() == "ABC123\n"  # the PIN was not read
    error = res.json()["error"]
    assert error["option"] == argv[-1] and error["path"] == str(fifo)
    assert "another user" in error["message"] and "sticky" in error["message"]


@needs_root
@pytest.mark.parametrize(("name", "argv"), PLANTED, ids=[p[0] for p in PLANTED])
def test_a_file_planted_in_a_sticky_directory_is_refused_even_as_root(
    run: Any, shared: Path, name: str, argv: tuple[str, ...]
) -> None:
    """Finding 1: as root, a 0666 file ``nobody`` planted in a sticky directory was replaced
    and ``_keep_owner`` handed the new file back to ``nobody`` with mode 0666, holding the
    sign certificate (root was exempt from the sticky rule).  Now refused before the PIN,
    the planted file untouched and still empty."""
    planted = shared / "c2.pem"
    planted.write_bytes(b"")
    planted.chmod(0o666)
    os.chown(planted, NOBODY, NOBODY)
    res = run(*argv, planted, "--json", stdin="ABC123\n")
    assert res.rc == 2, res.err
    assert planted.read_bytes() == b""
    assert sys.stdin.read() == "ABC123\n"
    error = res.json()["error"]
    assert error["option"] == argv[-1] and error["path"] == str(planted)


def test_own_files_in_a_sticky_directory_are_still_written(run: Any, pins: PinLedger,
                                                           shared: Path) -> None:
    """What must not change: the user's own file (and a new name) in ``/tmp`` are written."""
    own = shared / "own.sig"
    own.write_bytes(b"old")
    res = run("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "-o", own,
              "--cert-out", shared / "new.pem", stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    assert len(own.read_bytes()) == 256 and (shared / "new.pem").read_bytes().startswith(b"--")


def test_a_replaced_file_with_personal_data_gets_no_wider_mode(run: Any, pins: PinLedger,
                                                               tmp_path: Path) -> None:
    """Finding 1: replacing a 0644 (or 0666) file with the sign certificate kept the mode:
    anyone could read the name, address and birth date.  Now a file with personal data keeps
    at most its owner's read and write bits; a signature keeps its mode (must not change)."""
    cert, sig = tmp_path / "cert.pem", tmp_path / "x.sig"
    for path in (cert, sig):
        path.write_bytes(b"old")
        path.chmod(0o664)
    res = run("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "-o", sig, "--cert-out",
              cert, stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    assert stat.S_IMODE(cert.stat().st_mode) == 0o600
    assert stat.S_IMODE(sig.stat().st_mode) == 0o664


@needs_root
def test_personal_data_is_never_given_to_another_owner(run: Any, pins: PinLedger,
                                                       tmp_path: Path) -> None:
    """Finding 1: as root, ``cert export sign -o`` over another user's file (outside a sticky
    directory) gave the new file, holding the sign certificate, to that user (0644).  Now it
    stays root's, 0600."""
    cert = tmp_path / "their.pem"
    cert.write_bytes(b"old")
    cert.chmod(0o644)
    os.chown(cert, NOBODY, NOBODY)
    res = run("cert", "export", "sign", "--emulated", "--pin-stdin", "-o", cert,
              stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    st = cert.stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o600)
    assert cert.read_bytes().startswith(b"-----BEGIN CERTIFICATE")


# --------------------------------------------------------------------------- finding 2
@pytest.mark.parametrize("target", ["pinfile", "/dev/stdin"])
@pytest.mark.parametrize("command", [("sign", "doc"), ("cert", "export", "sign")],
                         ids=["sign", "cert-export"])
def test_the_pin_stdin_source_is_never_overwritten(tmp_path: Path, target: str,
                                                   command: tuple[str, ...]) -> None:
    """Finding 2: ``sign doc --emulated --pin-stdin -o pinfile < pinfile`` (or ``-o
    /dev/stdin``) replaced ``pinfile`` by the signature: stdin counted as an input only for
    ``sign -``.  Now stdin is an input whenever the command reads it: refused before the
    PIN is read (a wrong PIN would have reached the card: exit 3)."""
    (tmp_path / "doc").write_bytes(b"the document")
    pinfile = tmp_path / "pinfile"
    pinfile.write_bytes(b"ZZZ999\n")
    with open(pinfile, "rb") as stdin:
        proc = jk(*command, "--emulated", "--pin-stdin", "-o", target, cwd=tmp_path,
                  stdin=stdin)
    assert proc.returncode == 2, proc.stderr
    assert b"is stdin itself, from which the PIN (--pin-stdin) is read" in proc.stderr
    assert b"wrong PIN" not in proc.stderr
    assert pinfile.read_bytes() == b"ZZZ999\n"


# --------------------------------------------------------------------------- finding 3
@pytest.mark.parametrize(("argv", "said"), [
    (("pin", "verify", "auth", "--emulated", "--pin-stdin"), b"stdin is closed: cannot read"),
    (("sign", "-", "--emulated"), b"FILE -: stdin is closed"),
    (("sign", "--digest", DIGEST, "--emulated", "--pin-stdin"), b"stdin is closed"),
], ids=["pin-verify", "sign-stdin", "sign-pin-stdin"])
def test_a_closed_stdin_is_a_usage_error(tmp_path: Path, argv: tuple[str, ...],
                                         said: bytes) -> None:
    """Finding 3: ``pin verify auth --emulated --pin-stdin <&-`` and ``sign - --emulated
    <&-`` died with ``AttributeError`` (exit 1, "unexpected error").  Now exit 2, "stdin is
    closed"."""
    proc = jk(*argv, cwd=tmp_path, close_stdin=True)
    assert proc.returncode == 2, proc.stderr
    assert said in proc.stderr and b"AttributeError" not in proc.stderr


def test_a_closed_stdin_names_the_argument_in_the_json(tmp_path: Path) -> None:
    """Finding 3 with finding 7: the error object of ``sign - --json <&-`` names ``FILE``
    and ``-``."""
    proc = jk("sign", "-", "--emulated", "--json", cwd=tmp_path, close_stdin=True)
    error = json.loads(proc.stdout)["error"]
    assert (proc.returncode, error["option"], error["path"]) == (2, "FILE", "-")


# --------------------------------------------------------------------------- finding 4
SIGN_DOC = ("sign", "doc", "--emulated", "--pin-stdin")


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    (tmp_path / "doc").write_bytes(b"the document")
    return tmp_path


@pytest.mark.parametrize("target", ["/dev/stdout", "-"])
def test_output_to_own_stdout_keeps_the_code_when_the_reader_went_away(doc: Path,
                                                                       target: str) -> None:
    """Finding 4: ``sign doc … -o /dev/stdout | true`` exited 1 "Broken pipe; … NOT
    delivered", whereas a closed pipe after a successful command keeps its code.  Now ``-o
    /dev/stdout`` (and ``-o -``) follow the stdout rule: exit 0, nothing said.  The reader
    is gone before the command writes (the read end closed), as with ``| true``."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = jk_fed(doc, b"ABC123\n", *SIGN_DOC, "-o", target, stdout=write_end)
    finally:
        os.close(write_end)
    assert proc.returncode == 0, proc.stderr
    assert b"NOT delivered" not in proc.stderr and b"Broken pipe" not in proc.stderr
    assert b"written to" not in proc.stderr  # it was not


@pytest.mark.parametrize("target", ["/dev/stdout", "-"])
def test_output_to_a_full_stdout_is_not_delivered(doc: Path, target: str) -> None:
    """Finding 4, what must hold with the stdout rule: ``-o /dev/stdout > /dev/full`` is
    exit 1 and says the result was NOT delivered (and not that it was written)."""
    with open("/dev/full", "wb") as full:
        proc = jk_fed(doc, b"ABC123\n", *SIGN_DOC, "-o", target, stdout=full)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.decode().strip() == (
        "jukicard: could not write the output to stdout (No space left on device): the "
        "result was NOT delivered")


def test_sign_o_dash_writes_the_raw_signature_to_stdout(doc: Path) -> None:
    """Finding 4: ``sign doc -o -`` created a file literally named ``-``; now ``-`` is
    stdout (raw bytes), as for ``cert export -o -``."""
    proc = jk_fed(doc, b"ABC123\n", *SIGN_DOC, "-o", "-")
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout) == 256 and not (doc / "-").exists()


def test_sign_o_dash_with_json_prints_the_json_alone(run: Any, pins: PinLedger,
                                                     tmp_path: Path) -> None:
    """Finding 4: with ``--json`` the signature is in the JSON; ``-o -`` adds no raw bytes
    (old: a file named ``-`` and ``"output": "-"``)."""
    res = run("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "-o", "-", "--json",
              stdin=pins.submit(PINS["sign"]) + "\n")
    assert res.rc == 0, res.err
    obj = res.json()
    assert obj["signature_bytes"] == 256 and "output" not in obj
    assert not Path("-").exists()


# --------------------------------------------------------------------------- finding 5
def test_binary_output_to_a_terminal_is_refused(doc: Path, terminal: tuple[int, str]) -> None:
    """Finding 5 (and 4): ``sign -o /dev/tty`` (a terminal device), ``-o /dev/stdout`` and
    ``-o -`` with stdout a terminal, ``cert export --format der -o TTY`` wrote raw bytes to
    the terminal after the PIN.  Now refused before the PIN (a wrong PIN would have been
    sent: exit 3)."""
    slave, tty = terminal
    cases = [((*SIGN_DOC, "-o", tty), None), ((*SIGN_DOC, "-o", "/dev/stdout"), slave),
             ((*SIGN_DOC, "-o", "-"), slave),
             (("cert", "export", "auth", "--emulated", "--format", "der", "-o", tty), None)]
    for argv, stdout in cases:
        proc = jk_fed(doc, b"ZZZ999\n", *argv, stdout=stdout)
        assert proc.returncode == 2, (argv, proc.stderr)
        assert b"is a terminal: refusing to write the" in proc.stderr
        assert b"wrong PIN" not in proc.stderr


def test_text_output_to_a_terminal_is_still_written(doc: Path,
                                                    terminal: tuple[int, str]) -> None:
    """What must not change: PEM (text) goes to a terminal; ``cert export -o -`` still
    forces DER to a terminal stdout (its documented escape hatch)."""
    slave, tty = terminal
    proc = jk("cert", "export", "auth", "--emulated", "-o", tty, cwd=doc)
    assert proc.returncode == 0, proc.stderr
    proc = jk("cert", "export", "auth", "--emulated", "--format", "der", "-o", "-", cwd=doc,
              stdout=slave)
    assert proc.returncode == 0, proc.stderr


def test_contract_rows_changed_by_the_second_review(doc: Path,
                                                    terminal: tuple[int, str]) -> None:
    """The rows of the CLI contract table (``test_cli_compat.EXIT_ROWS``) marked
    ``review2``, run as the table says (stdout a terminal for the ``-o -`` row)."""
    rows = [r for r in EXIT_ROWS if r.review2 is not None]
    assert rows
    for row in rows:
        proc = jk_fed(doc, row.stdin.encode(), *row.argv, stdout=terminal[0])
        assert row.rc != row.old
        assert proc.returncode == row.rc, (row.id, proc.stderr)


def test_a_block_device_is_refused(doc: Path) -> None:
    """Finding 5: as root ``-o /dev/sdX`` wrote the signature over the disk's first bytes.
    Now a block device is refused before the PIN.  (The node made here is device 0:0, which
    no driver serves: nothing could be written even if it were opened.)"""
    node = doc / "disk"
    try:
        os.mknod(node, stat.S_IFBLK | 0o600, os.makedev(0, 0))
    except PermissionError:
        pytest.skip("cannot make a device node here")
    proc = jk_fed(doc, b"ZZZ999\n", *SIGN_DOC, "-o", node, "--json")
    assert proc.returncode == 2, proc.stderr
    assert b"is a block device" in proc.stderr and b"wrong PIN" not in proc.stderr
    assert json.loads(proc.stdout)["error"]["option"] == "-o"


def test_a_socket_is_refused(run: Any, tmp_path: Path) -> None:
    """Finding 5: a socket named by ``-o`` failed after the PIN (``ENXIO``); now before."""
    path = tmp_path / "s"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        res = run("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "-o", path,
                  stdin="ABC123\n")
    assert res.rc == 2, res.err
    assert "is a socket" in res.err and sys.stdin.read() == "ABC123\n"


def test_a_fifo_nobody_reads_is_refused_before_the_pin(doc: Path) -> None:
    """Finding 5: ``-o fifo`` with no reader hung after the PIN was spent (the old code
    blocks in ``open``; the hang guard of :func:`jk` ends it).  Now the FIFO is opened
    ``O_NONBLOCK`` at plan time: ``ENXIO``, refused before the PIN."""
    os.mkfifo(doc / "fifo")
    proc = jk_fed(doc, b"ZZZ999\n", *SIGN_DOC, "-o", "fifo")
    assert proc.returncode == 2, proc.stderr
    assert b"no process is reading" in proc.stderr and b"wrong PIN" not in proc.stderr


def test_a_fifo_with_a_reader_gets_the_signature(run: Any, pins: PinLedger,
                                                 tmp_path: Path) -> None:
    """What must not change: a FIFO someone reads gets the raw signature."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = _reader(fifo)
    try:
        res = run("sign", "--digest", DIGEST, "--emulated", "--pin-stdin", "-o", fifo,
                  stdin=pins.submit(PINS["sign"]) + "\n")
        got = _read_all(reader)
    finally:
        os.close(reader)
    assert res.rc == 0, res.err
    assert len(got) == 256


# --------------------------------------------------------------------------- finding 6
def test_json_output_escapes_terminal_controls_from_card_data(run: Any, pins: PinLedger,
                                                              tmp_path: Path) -> None:
    """Finding 6: ``basic-info --json`` with a forged name holding ``\\x9b`` (C1 CSI) and an
    address holding U+202E printed them raw (``ensure_ascii=False``): the terminal acted on
    them.  Now they are ``\\u009b``, ``\\u202e`` in the JSON text; Japanese stays raw and the
    values a JSON reader gets are unchanged."""
    from jukicard.card.codec import Sex
    from jukicard.card.text_data import BasicInfo

    info = BasicInfo("偽造\x9b2J\u2066太郎", "東京都\u202e1-2-3\x7f", dt.date(1980, 1, 1),
                     Sex.MALE)
    path = _card(tmp_path, "forged-c1", **{"text/0002": bytes(info).hex()})
    res = run("basic-info", "--profile", path, "--pin-stdin", "--no-check-signature", "--json",
              stdin=pins.submit(PINS["text"]) + "\n")
    assert res.rc == 0, res.err
    for raw in ("\x9b", "\u2066", "\u202e", "\x7f"):
        assert raw not in res.out
    assert '"偽造\\u009b2J\\u2066太郎"' in res.out and "東京都\\u202e1-2-3\\u007f" in res.out
    obj = res.json()
    assert (obj["name"], obj["address"]) == (info.name, info.address)


# --------------------------------------------------------------------------- finding 7
def _error(res: Any) -> dict[str, Any]:
    assert res.rc == 2, res.err
    error: dict[str, Any] = res.json()["error"]
    return error


def test_output_path_errors_name_the_option_and_path(run: Any, tmp_path: Path) -> None:
    """Finding 7: errors found while output paths are checked carried no ``option`` /
    ``path`` in the error JSON (``-o /nonexist/x``, the document itself, ``-o`` equal to
    ``--cert-out``, an unreadable document).  Now they do."""
    doc = tmp_path / "doc"
    doc.write_bytes(b"the document")
    sign = ("sign", "--emulated", "--pin-stdin", "--json")
    missing = str(tmp_path / "nonexist" / "x")
    err = _error(run(*sign, "--digest", DIGEST, "-o", missing))
    assert (err["option"], err["path"]) == ("-o", missing)
    err = _error(run(*sign, doc, "-o", doc))
    assert (err["option"], err["path"]) == ("-o", str(doc)) and "document" in err["message"]
    same = str(tmp_path / "same")
    err = _error(run(*sign, "--digest", DIGEST, "-o", same, "--cert-out", same))
    assert (err["option"], err["path"]) == ("--cert-out", same)
    assert "name the same file" in err["message"]
    nodoc = str(tmp_path / "nonexist.txt")
    err = _error(run("sign", nodoc, "--emulated", "--json"))
    assert (err["option"], err["path"]) == ("FILE", nodoc)
    err = _error(run(*sign, "--digest", "zz"))
    assert err["option"] == "--digest"
    assert err["type"] == "UsageError"  # the public type, as before


@pytest.mark.parametrize("extra", [(), ("-o", "-"), ("--json",)])
def test_certificate_and_signature_never_share_stdout(run: Any, extra: tuple[str, ...]
                                                      ) -> None:
    """Lead's review of ``-o -``: ``--cert-out -`` printed the PEM and then the signature on
    the same stdout (neither parseable); it is refused before the PIN unless the signature
    goes to a file."""
    res = run("sign", "--digest", "00" * 32, "--emulated", "--pin-stdin", "--cert-out", "-",
              *extra, stdin="")
    assert res.rc == 2 and "--cert-out -" in res.err
