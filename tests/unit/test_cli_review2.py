"""Second independent review of issue 8: the CLI's wording, its log lines and its escaping
(findings 1–3).  Each test fails on ``main`` before the fix; its docstring says how.

Findings with a card behind them are in ``tests/emulated/test_cli_review2_card.py``.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import pytest
from test_cli_defects import ROOT, process

from jukicard.apdu import CommandApdu, ResponseApdu, WrongLengthReissueProcessor, build_stack
from jukicard.apdu.processor import TransmitProcessor
from jukicard.cli._text import escape
from jukicard.cli.main import main

ESC = "\x1b"
CARDS = ROOT / "vectors" / "cards"


def _hitries_profile(tmp_path: Path, name: str = "hitries.json") -> Path:
    """The reviewer's ``/tmp/r2/hitries.json``: the auth PIN (3 tries by the card's
    specification) is stored with 15 tries, so the card answers ``63CF``."""
    prof = json.loads((CARDS / "mynumber-01.json").read_text(encoding="utf-8"))
    for app in prof["applications"]:
        for f in app["files"]:
            if app["name"] == "jpki" and f["fid"] == "0018":
                f["max_tries"] = f["tries_left"] = 15
    path = tmp_path / name
    path.write_text(json.dumps(prof), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- finding 1
def test_an_impossible_counter_is_no_raw_log_line_but_a_marked_row(tmp_path: Path) -> None:
    """Old code: ``jk pin status --profile hitries.json`` printed ``WARNING
    jukicard.card.session: auth: the card reported an impossible retry counter…`` on the
    staff's terminal, and the table showed nothing.  Now the row is marked ``!`` and one
    notice says what it means; no log line at the default level."""
    proc = process("pin", "status", "--profile", str(_hitries_profile(tmp_path)), cwd=tmp_path)
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "WARNING" not in err and "jukicard.card.session" not in err
    auth = next(line for line in out.splitlines() if line.startswith("auth "))
    assert "3/3!" in auth
    assert "!: the card reported more tries left than this PIN allows" in err


def test_a_pin_command_answered_6cxx_is_logged_at_info() -> None:
    """Old code: a card answering a VERIFY with ``6Cxx`` (or ``6700`` to an extended one)
    made the processors log a WARNING ("PIN commands are never re-sent") on the staff's
    terminal; a hostile card can do it at will, and the session reports the status word."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("jukicard.apdu")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        verify = CommandApdu(0x00, 0x20, 0x00, 0x80, b"1234")

        class Answer:
            def __init__(self, sw: int) -> None:
                self.sw = sw

            def send(self, cmd: CommandApdu) -> ResponseApdu:
                return ResponseApdu(b"", self.sw)

        assert WrongLengthReissueProcessor(Answer(0x6C04)).send(verify).sw == 0x6C04
        long_verify = CommandApdu(0x00, 0x20, 0x00, 0x80, b"1" * 300)
        stack = build_stack(TransmitProcessor(lambda apdu: (b"", 0x6700)), extended=None)
        assert stack.send(long_verify).sw == 0x6700
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    resent = [r for r in records if "never re-sent" in r.getMessage()]
    assert len(resent) == 2
    assert all(r.levelno == logging.INFO for r in resent)


def test_log_lines_on_the_terminal_are_escaped(tmp_path: Path) -> None:
    """Old code: the CLI's log handler printed messages as they were: a profile path (or a
    URL, or card-derived text) with ESC sequences drove the terminal from a log line."""
    hostile = tmp_path / f"x{ESC}[31mRED{ESC}]0;PWNED\x07.json"
    shutil.copy(CARDS / "mynumber-01.json", hostile)
    proc = process("--log-level", "INFO", "card", "info", "--profile", str(hostile),
                   cwd=tmp_path)
    err = proc.stderr.decode()
    assert proc.returncode == 0, err
    assert "INFO jukicard.services.connect" in err  # the line that names the profile
    assert ESC not in err and "\x07" not in err
    assert "\\x1b[31mRED" in err


def test_the_log_formatter_escapes_messages_and_indents_tracebacks() -> None:
    """A message cannot act on the terminal nor start a line of its own; a traceback keeps
    its lines, each escaped and indented (old code: no such formatter)."""
    from jukicard.cli._text import LogFormatter

    fmt = LogFormatter("%(levelname)s %(name)s: %(message)s")
    try:
        raise ValueError(f"bad\n{ESC}[2J2026-01-01 WARNING fake: CARD VALID")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("jukicard.x", logging.INFO, __file__, 1,
                               "url %s", (f"http://h/{ESC}]0;T\x07\nINFO forged",), exc_info)
    text = fmt.format(record)
    assert ESC not in text and "\x07" not in text
    lines = text.split("\n")
    assert lines[0].startswith("INFO jukicard.x: url http://h/\\x1b]0;T\\x07\\x0aINFO forged")
    assert len(lines) > 2 and all(line.startswith("  ") for line in lines[1:])


# --------------------------------------------------------------------------- finding 2
@pytest.mark.parametrize(("argv", "typed"), [
    (("sign", "doc", "--profile", "juki-01", "--abcd"), "abcd"),
    (("sign", "doc", "-ABC123"), "ABC123"),
    (("sign", "doc", "-ABC123"), "-A"),
    (("sign", "--jsn"), "jsn"),
    (("--abcd",), "abcd"),
    (("pin", "--abcd", "status"), "abcd"),
], ids=["letters", "short-cluster", "short-cluster-head", "suggestion", "top", "group"])
def test_an_unknown_option_word_is_never_repeated(capsys: pytest.CaptureFixture[str],
                                                  argv: tuple[str, ...], typed: str) -> None:
    """Old code: "No such option '--abcd'" (a 住基カード sign password is 4–16 letters),
    "No such option '-A'" for ``-ABC123``, "Did you mean '--json'?" for ``--jsn``: the
    word typed (or a suggestion made from it) was repeated.  Now it is never repeated, and
    the message says how to see the options."""
    for extra in ((), ("--json",)):
        rc = main([*argv, *extra])
        out, err = capsys.readouterr()
        assert rc == 2
        assert typed not in out and typed not in err
        assert "Did you mean" not in err and "possible options" not in err.lower()
        assert "--help' lists the options" in err
        if extra:
            error = json.loads(out)["error"]
            assert "option" not in error and "--help' lists the options" in error["message"]


# --------------------------------------------------------------------------- finding 3
def test_escape_doubles_backslashes() -> None:
    """Old code: ``escape`` left ``\\`` alone, so the four characters ``\\x1b`` in card data
    were shown exactly like an escaped ESC."""
    assert escape(ESC) == "\\x1b"
    assert escape("\\x1b") == "\\\\x1b"
    assert escape(ESC) != escape("\\x1b")
    assert escape("名前\\") == "名前\\\\"


@pytest.mark.parametrize("entry", ["cli", "module"])
def test_the_emulator_never_prints_a_control_character(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, entry: str) -> None:
    """Old code: ``jukicard emulator serve --profile "$(printf './x\\033[31mRED.json')"``
    printed the ESC raw (the emulator's own ``print`` of the profile error); now its
    operator lines go through the CLI's escaping, and the standalone module quotes the
    path."""
    from jukicard.emulator.__main__ import main as emulator_main

    bad = str(tmp_path / f"x{ESC}[31mRED\u202e.json")
    rc = main(["emulator", "serve", "--profile", bad]) if entry == "cli" else \
        emulator_main(["--profile", bad])
    out, err = capsys.readouterr()
    assert rc == 2
    assert ESC not in out + err and "\u202e" not in out + err
    assert "x\\" in err and "[31mRED" in err

