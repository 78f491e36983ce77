"""Text for the staff's terminal: every line the CLI prints in text mode, and every notice on
stderr, goes through :func:`escape` first.

Card data (a certificate subject, a name, an address read off a card), file names and
messages built from them may carry terminal control sequences: ``ESC ] 0 ; … BEL`` retitles
the window, ``ESC [ 2 J`` clears the screen, a carriage return or ``ESC [ 1 A`` overwrites a
line already printed ("CARD VALID"), and the bidirectional overrides (U+202E) reorder what
is shown.  :func:`escape` shows each such character as an escape (``\\x1b``, ``\\u202e``)
instead of letting the terminal act on it:

* C0 controls (U+0000–U+001F, newline and tab included: a value never spans two lines),
  DEL (U+007F) and C1 controls (U+0080–U+009F) → ``\\xNN``;
* bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069), the
  directional marks (U+200E, U+200F, U+061C) and the line and paragraph separators
  (U+2028, U+2029) → ``\\uNNNN``;
* the backslash itself → ``\\\\``, so text that merely *looks* like an escape (the four
  characters ``\\x1b`` in card data) is told apart from an escaped ESC.

The CLI's log lines go through it too (:class:`LogFormatter`): a URL or card-derived text
in a log message is escaped like any other line.

JSON output needs none of this: :func:`json.dumps` already escapes every control character,
and a JSON reader gets the value back unchanged.  This module imports only :mod:`logging`
(``jukicard --help`` loads it; the CLI sets up logging anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jukicard.services.connect import CardSource

__all__ = ["escape", "lines", "LogFormatter", "TEST_CARD", "source_text"]

#: Said of the emulated card wherever a card is named in text.
TEST_CARD = "TEST card: synthetic data, not a resident's card"


def _table() -> dict[int, str]:
    table = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))}
    table[0x5C] = "\\\\"
    for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C,
              0x2028, 0x2029):
        table[c] = f"\\u{c:04x}"
    return table


_ESCAPES = _table()


def escape(text: object) -> str:
    """``text`` (``str()`` of it) with every control and bidi-formatting character shown as an
    escape, and every backslash doubled, so the terminal prints it instead of acting on it
    and an escape in the output always stands for the character it names.  Other
    printable text, Japanese included, is unchanged.  Escape a value once, where it is
    printed."""
    return str(text).translate(_ESCAPES)


def source_text(source: CardSource | None, fallback: str = "") -> str:
    """Where the card is, in words: ``reader 'NAME'``, or the emulated card marked as the
    TEST card it is (``card info``, ``card authenticate``, ``pin`` notices)."""
    if source is None:
        return fallback
    if source.kind == "emulated":
        return f"{source} — {TEST_CARD}"
    return str(source)


def lines(rows: Iterable[object]) -> str:
    """The rows, each escaped (a newline inside a row is shown as ``\\x0a``, so no value can
    start a line of its own), joined by newlines."""
    return "\n".join(escape(row) for row in rows)


class LogFormatter(logging.Formatter):
    """The CLI's log lines on the staff's terminal: the line (time, level, logger, message)
    escaped by :func:`escape`, so a message carrying card-derived text or a URL can neither
    act on the terminal nor start a line of its own.  A traceback (``--log-level DEBUG``)
    keeps its lines; each is escaped and indented by two spaces, so none can pass for a log
    line either."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging API
        return escape(super().formatMessage(record))

    def formatException(self, ei: object) -> str:  # noqa: N802 - logging API
        return _indented(super().formatException(ei))  # type: ignore[arg-type]

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging API
        return _indented(super().formatStack(stack_info))


def _indented(text: str) -> str:
    return "\n".join("  " + escape(line) for line in text.split("\n"))
