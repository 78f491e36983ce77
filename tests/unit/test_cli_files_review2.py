"""The second review of issue 8 (``fix2-output``), on the CLI's output and stdin machinery
alone: the sticky-directory rule for planted objects (:func:`jukicard.cli._paths.planted`),
streams opened at plan time (:mod:`jukicard.cli._files`), stdin as an input, a closed stdin
(:class:`~jukicard.cli._common.StdinInteraction`) and JSON text
(:func:`~jukicard.cli._output.json_text`).

Tests of a finding fail on the code before the fix (the docstring says how); the rest guard
what must not change.  The end-to-end tests are in ``tests/emulated/test_cli_output_review2.py``.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jukicard.card import JpkiPin
from jukicard.cli import _paths
from jukicard.cli._common import StdinInteraction
from jukicard.cli._files import Outputs
from jukicard.cli._output import json_text
from jukicard.errors import UsageError
from jukicard.services.inputs import InputError
from jukicard.services.interaction import PinRequest


def _stat(mode: int, uid: int) -> os.stat_result:
    return os.stat_result((mode, 1, 1, 1, uid, 0, 0, 0, 0, 0))


# --------------------------------------------------------------------------- finding 1
ME = "me"


@pytest.mark.parametrize(("dir_mode", "dir_uid", "mode", "uid", "refused"), [
    (0o41777, 0, 0o10622, 65534, True),    # /tmp, another user's FIFO
    (0o41777, 0, 0o100666, 65534, True),   # /tmp, another user's file
    (0o41777, 65534, 0o10622, 65534, True),  # a shared directory, its owner's FIFO
    (0o41777, 0, 0o100644, ME, False),     # /tmp, the user's own file
    (0o41777, 0, 0o20666, 65534, False),   # /tmp, a character device (not the rule's)
    (0o40777, 0, 0o10622, 65534, False),   # world-writable, not sticky
    (0o41755, 0, 0o10622, 65534, False),   # sticky, not world-writable
])
def test_planted_objects_in_a_sticky_directory(dir_mode: int, dir_uid: int, mode: int,
                                               uid: int | str, refused: bool) -> None:
    """Finding 1: the rule mirrors ``fs.protected_fifos`` / ``fs.protected_regular`` without
    their exemptions (the directory's owner, root running the command): only the user's own
    FIFOs and files in ``/tmp`` are written.  The table of the new rule; the old code had
    none (the end-to-end tests of finding 1 fail on it)."""
    owner = os.geteuid() if uid == ME else uid
    assert isinstance(owner, int)
    if owner == os.geteuid() and uid != ME:
        pytest.skip("the test's foreign uid is the user's own")
    assert _paths.planted(_stat(dir_mode, dir_uid), _stat(mode, owner)) is refused


# --------------------------------------------------------------------------- finding 5
def test_a_fifo_is_opened_when_planned_and_that_descriptor_is_written(tmp_path: Path) -> None:
    """Finding 5: the FIFO is opened (``O_NONBLOCK``) at plan time, before the PIN, and the
    descriptor kept: its reader sees a writer at once (no EOF), and the data comes through
    it.  The old code opened it only when writing, after the PIN (here: EOF before)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with Outputs() as outputs:
            out = outputs.plan("-o", str(fifo), what="signature", binary=True)
            assert out is not None and out.kind == "stream"
            with pytest.raises(BlockingIOError):  # a writer is there, nothing written yet
                os.read(reader, 10)
            out.write(b"signature")
            assert out.delivered
        assert os.read(reader, 100) == b"signature"
        assert os.read(reader, 100) == b""  # the plan's descriptor is closed with the block
    finally:
        os.close(reader)


def test_a_fifo_without_a_reader_names_the_option_and_path(tmp_path: Path) -> None:
    """Finding 5 and 7: refused at plan time (the old code blocked in ``open`` after the
    PIN), with ``option`` and ``path``."""
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    with Outputs() as outputs, pytest.raises(InputError, match="no process is reading") as info:
        outputs.plan("-o", fifo, what="signature")
    assert (info.value.option, info.value.path) == ("-o", fifo)


# --------------------------------------------------------------------------- finding 2
@pytest.fixture
def stdin_fd() -> Iterator[None]:
    """Descriptor 0 restored after the test."""
    saved = os.dup(0)
    try:
        yield
    finally:
        os.dup2(saved, 0)
        os.close(saved)


def test_writing_dev_null_is_not_a_clash_with_stdin_on_dev_null(stdin_fd: None) -> None:
    """Now that stdin counts as an input for ``--pin-stdin``: a character device is written
    through, never replaced, so ``-o /dev/null < /dev/null`` is no clash (the old code
    refused it whenever stdin was an input: ``sign - -o /dev/null < /dev/null``)."""
    fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)
    with Outputs(inputs=(("PIN (--pin-stdin)", "-"),)) as outputs:
        out = outputs.plan("-o", os.devnull)
        assert out is not None
        out.write(b"x")


def test_stdin_closed_at_start_up_is_no_input(stdin_fd: None, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 3: stdin closed at start-up (``<&-``): descriptor 0 may be any file the
    process opened since, so it is not compared with the outputs (here: the output file
    itself sits on descriptor 0; the old code refused it as "stdin")."""
    out_path = tmp_path / "x.sig"
    out_path.write_bytes(b"old")
    fd = os.open(out_path, os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)
    monkeypatch.setattr(sys, "__stdin__", None)
    with Outputs(inputs=(("PIN (--pin-stdin)", "-"),)) as outputs:
        out = outputs.plan("-o", str(out_path))
        assert out is not None
        out.write(b"new")
    assert out_path.read_bytes() == b"new"


# --------------------------------------------------------------------------- finding 3
def _request() -> PinRequest:
    return PinRequest(JpkiPin.AUTH.value)


def test_a_closed_stdin_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 3: ``sys.stdin`` is ``None`` when the process started with descriptor 0
    closed; the old code raised ``AttributeError`` (exit 1).  Now a ``UsageError``
    (exit 2) saying "stdin is closed"; so is a stream closed later."""
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(UsageError, match="stdin is closed"):
        StdinInteraction().request_pin(_request())
    closed = io.StringIO("1234\n")
    closed.close()
    with pytest.raises(UsageError, match="stdin is closed"):
        StdinInteraction(closed).request_pin(_request())


def test_a_stdin_that_cannot_be_read_is_a_usage_error() -> None:
    """Finding 3: a read error on stdin (``< /`` gives ``EISDIR``) is a usage error that
    shows nothing of the stream."""
    class Broken(io.BytesIO):
        def readline(self, size: int | None = -1) -> bytes:
            raise IsADirectoryError(21, "Is a directory")

    with pytest.raises(UsageError, match="cannot read .* from stdin.*Is a directory"):
        StdinInteraction(Broken()).request_pin(_request())


# --------------------------------------------------------------------------- finding 6
@pytest.mark.parametrize("char", ["\x9b", "\x85", "\x7f", "\u202a", "\u202e", "\u2066",
                                  "\u2069", "\u200e", "\u200f", "\u061c", "\u2028", "\u2029",
                                  "\x1b"])
@pytest.mark.parametrize("indent", [2, None])
def test_json_text_escapes_controls_and_bidi_formatting(char: str, indent: int | None) -> None:
    """Finding 6: with ``ensure_ascii=False`` the C1 controls (``\\x9b`` is CSI), DEL and the
    bidi overrides and isolates reached the terminal raw.  Now every one is ``\\uXXXX`` in
    values and keys alike; the value a JSON reader gets is unchanged."""
    obj = {f"k{char}": [f"名前{char}太郎", {"x": char}]}
    text = json_text(obj, indent=indent)
    assert char not in text
    assert f"\\u{ord(char):04x}" in text
    assert json.loads(text) == obj


def test_json_text_keeps_japanese_raw() -> None:
    """What must not change: Japanese (and other printable non-ASCII text) stays UTF-8."""
    obj = {"name": "署名用電子証明書暗証番号 ½ é", "n": 1, "b": True, "z": None}
    text = json_text(obj)
    assert "署名用電子証明書暗証番号 ½ é" in text and json.loads(text) == obj
