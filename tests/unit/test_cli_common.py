"""Pure tests of the CLI plumbing: PIN input objects, option parsing, the exit-code map,
output files."""

from __future__ import annotations

import contextlib
import io
import signal
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from jukicard.card import JpkiPin, TextPin
from jukicard.cli import _common, _files
from jukicard.cli._common import (
    StdinInteraction,
    TerminalInteraction,
    interaction,
    parse_reader,
)
from jukicard.cli.main import EXIT_CODES, cli, exit_code_for, main
from jukicard.errors import (
    BadResponse,
    CardRemovedError,
    DataIntegrityError,
    OutputError,
    PinBlockedError,
    PinError,
    SecurityStatusError,
    UsageError,
)
from jukicard.services.interaction import (
    NoInteraction,
    PinRequest,
    ScriptedInteraction,
    UserInteraction,
)


# --------------------------------------------------------------------------- --reader
@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("12", 12), ("Virtual PCD 00 00", "Virtual PCD 00 00"), (" ACS ", "ACS")],
)
def test_parse_reader(text: str, expected: object) -> None:
    assert parse_reader(text) == expected


def test_parse_reader_rejects_empty() -> None:
    with pytest.raises(click.BadParameter):
        parse_reader("  ")


def test_reader_and_emulated_are_exclusive(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["card", "info", "--reader", "0", "--emulated"]) == 2
    assert "not allowed with" in capsys.readouterr().err


def test_pin_is_not_an_argument(capsys: pytest.CaptureFixture[str]) -> None:
    # There is no way to put a PIN on the command line.
    assert main(["mynumber", "--emulated", "--pin", "1234"]) == 2
    assert "Usage: jukicard mynumber" in capsys.readouterr().err


# --------------------------------------------------------------------------- stdin PINs
def test_stdin_interaction_reads_one_line_per_pin() -> None:
    it = StdinInteraction(io.StringIO("1234\r\nABC123\n"))
    assert it.request_pin(PinRequest(JpkiPin.AUTH.value)) == "1234"
    assert it.request_pin(PinRequest(JpkiPin.SIGN.value)) == "ABC123"
    with pytest.raises(UsageError, match="PIN #3"):
        it.request_pin(PinRequest(TextPin.PIN.value))


def test_stdin_interaction_error_does_not_echo_input() -> None:
    it = StdinInteraction(io.StringIO(""))
    with pytest.raises(UsageError) as exc:
        it.request_pin(PinRequest(TextPin.PIN.value))
    assert "券面事項入力補助用暗証番号" in str(exc.value)


def test_stdin_interaction_reads_sys_stdin_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    it = StdinInteraction()
    monkeypatch.setattr("sys.stdin", io.StringIO("9999\n"))
    assert it.request_pin(PinRequest(JpkiPin.AUTH.value)) == "9999"


# --------------------------------------------------------------------------- terminal PINs
def test_terminal_interaction_uses_getpass_with_prompt() -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str) -> str:
        prompts.append(prompt)
        return "1234"

    it = TerminalInteraction(fake_getpass, terminal_available=lambda: True)
    assert it.request_pin(PinRequest(JpkiPin.AUTH.value, retries_left=2)) == "1234"
    assert prompts == [
        "利用者証明用電子証明書暗証番号 (user-authentication PIN; 4 characters, 2 tries left): "]


def test_terminal_interaction_confirms_new_pin() -> None:
    answers = iter(["ABC123", "ABC124"])
    it = TerminalInteraction(lambda prompt: next(answers), terminal_available=lambda: True)
    with pytest.raises(UsageError, match="differ") as exc:
        it.request_pin(PinRequest(JpkiPin.SIGN.value, "new", confirm=True))
    assert "ABC12" not in str(exc.value)

    answers = iter(["ABC123", "ABC123"])
    assert it.request_pin(PinRequest(JpkiPin.SIGN.value, "new", confirm=True)) == "ABC123"


def test_terminal_interaction_without_terminal_is_usage_error() -> None:
    called: list[str] = []
    it = TerminalInteraction(lambda p: called.append(p) or "x", terminal_available=lambda: False)
    with pytest.raises(UsageError, match="--pin-stdin"):
        it.request_pin(PinRequest(JpkiPin.AUTH.value))
    assert called == []


def test_terminal_check_is_looked_up_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common, "_terminal_available", lambda: False)
    with pytest.raises(UsageError):
        TerminalInteraction(lambda p: "1234").request_pin(PinRequest(JpkiPin.AUTH.value))


def test_interaction_choice() -> None:
    assert isinstance(interaction(True), StdinInteraction)
    assert isinstance(interaction(False), TerminalInteraction)
    for obj in (StdinInteraction(), TerminalInteraction(), ScriptedInteraction(),
                NoInteraction()):
        assert isinstance(obj, UserInteraction)


# --------------------------------------------------------------------------- PinRequest
def test_pin_request_prompts() -> None:
    assert PinRequest(JpkiPin.SIGN.value, "current", 4).prompt == (
        "current 署名用電子証明書暗証番号 (signature password; 6-16 characters, 4 tries left): ")
    assert PinRequest(JpkiPin.SIGN.value, "new", 4).prompt == (
        "new 署名用電子証明書暗証番号 (signature password; 6-16 characters): ")


def test_scripted_and_no_interaction() -> None:
    it = ScriptedInteraction(["1"])
    req = PinRequest(JpkiPin.AUTH.value)
    assert it.request_pin(req) == "1"
    assert it.requests == [req] and it.remaining == 0
    with pytest.raises(UsageError):
        it.request_pin(req)
    with pytest.raises(UsageError):
        NoInteraction().request_pin(req)


# --------------------------------------------------------------------------- groups
def test_cert_export_lives_in_the_cert_group() -> None:
    export = cli.commands["cert"].commands["export"]  # type: ignore[attr-defined]
    assert export.callback is not None and export.callback.__module__ == "jukicard.cli.cert"


# --------------------------------------------------------------------------- exit codes
@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (UsageError("x"), 2),
        (PinError(2), 3),
        (PinBlockedError(), 3),
        (SecurityStatusError(0x6982), 4),
        (CardRemovedError("x"), 6),
        (BadResponse("x"), 5),  # issue 8 review: damaged card data is 5, not "refused"
        (DataIntegrityError("basic info EF does not match its signed digest"), 5),
        (RuntimeError("x"), 1),
    ],
)
def test_exit_code_map(exc: BaseException, code: int) -> None:
    assert exit_code_for(exc)[0] == code
    assert len(EXIT_CODES) >= 6


# --------------------------------------------------------------------------- output files
@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Make every write past ``limit`` bytes fail (EFBIG), like a full disk would."""
    resource = pytest.importorskip("resource")
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old)
        signal.signal(signal.SIGXFSZ, previous)


def _write(path: Path, data: bytes) -> None:
    with _files.Outputs() as outputs:
        target = outputs.plan("-o", str(path))
        assert target is not None
        target.write(data)


def test_write_output_writes_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "sig.bin"
    _write(target, b"first")
    assert target.read_bytes() == b"first"
    _write(target, b"second")
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sig.bin"]


def test_write_output_never_leaves_a_half_written_file(tmp_path: Path) -> None:
    """A failed write (here EFBIG) is an OutputError (exit 1: the result was not delivered),
    the old file untouched and no temporary file left."""
    target = tmp_path / "sig.bin"
    target.write_bytes(b"previous signature")
    with file_size_limit(100), pytest.raises(OutputError) as info:
        _write(target, b"\xaa" * 256)
    assert "sig.bin" in str(info.value) and "NOT delivered" in str(info.value)
    assert target.read_bytes() == b"previous signature"  # untouched, not truncated
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sig.bin"]  # no temp file left
    new = tmp_path / "new.bin"
    with file_size_limit(100), pytest.raises(OutputError):
        _write(new, b"\xaa" * 256)
    assert not new.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sig.bin"]


def test_output_errors_are_usage_errors_and_found_early(tmp_path: Path) -> None:
    with _files.Outputs() as outputs:
        with pytest.raises(UsageError, match="does not exist"):
            outputs.plan("-o", str(tmp_path / "missing-dir" / "x"))
        with pytest.raises(UsageError, match="is a directory"):
            outputs.plan("-o", str(tmp_path))


def test_write_output_keeps_a_read_only_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rename could replace a read-only file; like open() it must refuse instead (the
    access check is faked so the test also means something when run as root)."""
    locked = tmp_path / "locked"
    locked.write_bytes(b"keep")
    monkeypatch.setattr(_files.os, "access", lambda *args, **kwargs: False)
    with _files.Outputs() as outputs, pytest.raises(UsageError) as info:
        outputs.plan("-o", str(locked))
    assert "permission denied" in str(info.value)
    assert locked.read_bytes() == b"keep"
