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
  (U+2028, U+2029) → ``\\uNNNN``.

JSON output needs none of this: :func:`json.dumps` already escapes every control character,
and a JSON reader gets the value back unchanged.  This module imports nothing (``jukicard
--help`` loads it).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["escape", "lines"]


def _table() -> dict[int, str]:
    table = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))}
    for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C,
              0x2028, 0x2029):
        table[c] = f"\\u{c:04x}"
    return table


_ESCAPES = _table()


def escape(text: object) -> str:
    """``text`` (``str()`` of it) with every control and bidi-formatting character shown as an
    escape, so the terminal prints it instead of acting on it.  Printable text, Japanese
    included, is unchanged; escaping twice changes nothing more."""
    return str(text).translate(_ESCAPES)


def lines(rows: Iterable[object]) -> str:
    """The rows, each escaped (a newline inside a row is shown as ``\\x0a``, so no value can
    start a line of its own), joined by newlines."""
    return "\n".join(escape(row) for row in rows)
