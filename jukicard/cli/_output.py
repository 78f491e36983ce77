"""What the CLI writes on stdout: results that survive a closed pipe, a full disk or a
closed stdout without a traceback, and JSON that is always valid UTF-8.

Every result goes through one :class:`Stdout`.  While a command runs (:meth:`Stdout.guard`)
``sys.stdout`` itself is guarded too, so click's own output (``--help``, ``--version``)
obeys the same rules.  A write that fails is remembered, later writes are dropped, and
:meth:`Stdout.finish` decides the exit status:

* the reader of a pipe went away (``… | head -c1``, ``… | true``: ``EPIPE``): the reader
  chose to stop reading, so the command keeps its own code (0 stays 0, 5 stays 5) and
  nothing is said;
* any other failure (``> /dev/full``, an I/O error, stdout closed with ``>&-``): the result
  was NOT delivered, so a command that would have succeeded exits 1, with one line on stderr
  saying so; a command that failed keeps its own code (5 stays 5);
* never a traceback: after a failure the interpreter's last flush is silenced.

Output files (``-o``, ``--cert-out``) are :mod:`jukicard.cli._files`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Iterator
from typing import Any

__all__ = [
    "Stdout",
    "clean_text",
    "json_text",
    "EXIT_NOT_DELIVERED",
]

#: Exit status of a command whose result could not be written.
EXIT_NOT_DELIVERED = 1


# --------------------------------------------------------------------------- text
def clean_text(text: str) -> str:
    """``text`` with anything that is not valid Unicode (surrogate escapes of file names that
    are not UTF-8) shown as ``\\xNN``, so it can be written as UTF-8."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _clean(obj: Any) -> Any:
    if isinstance(obj, str):
        return clean_text(obj)
    if isinstance(obj, dict):
        return {clean_text(str(k)): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


#: Characters a terminal acts on that :func:`json.dumps` leaves raw with
#: ``ensure_ascii=False`` (it escapes C0 controls itself): DEL and the C1 controls (``\x9b``
#: is CSI), the bidirectional embeddings, overrides and isolates, the directional marks and
#: the line/paragraph separators (the set :func:`jukicard.cli._text.escape` shows escaped in
#: text output).
_JSON_ESCAPED = {c: f"\\u{c:04x}" for c in (
    *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F),
    *range(0x2066, 0x206A))}


def json_text(obj: Any, *, indent: int | None = 2) -> str:
    """``obj`` as JSON text: every string made valid first, Japanese (and other printable
    text) kept as UTF-8, and every control or bidi-formatting character written as a
    ``\\uXXXX`` escape (C0 by :mod:`json`, the rest: :data:`_JSON_ESCAPED`), so the JSON can
    be shown on a terminal as it is; the values a JSON reader gets are unchanged.

    Outside its strings JSON text holds only punctuation, digits, words, spaces and
    newlines, so escaping these characters in the whole text escapes exactly those inside
    strings (keys included).
    """
    import json

    text = json.dumps(_clean(obj), ensure_ascii=False, indent=indent)
    return text.translate(_JSON_ESCAPED)


class _Guarded:
    """A stand-in for ``sys.stdout`` (or its ``buffer``) while a command runs: an ``OSError``
    from a write or flush is recorded in the :class:`Stdout` instead of raised; ``None`` (a
    stdout closed at start-up) fails every non-empty write with ``EBADF``."""

    def __init__(self, stream: Any, owner: Stdout) -> None:
        self._stream = stream
        self._owner = owner

    @property
    def encoding(self) -> str:
        return str(getattr(self._stream, "encoding", None) or "utf-8")

    @property
    def errors(self) -> str:
        return str(getattr(self._stream, "errors", None) or "strict")

    def _call(self, method: str, data: Any = None) -> Any:
        if self._owner.failed is not None:
            return 0
        try:
            if self._stream is None:
                raise OSError(errno.EBADF, "stdout is closed")
            return getattr(self._stream, method)() if data is None \
                else getattr(self._stream, method)(data)
        except OSError as exc:
            self._owner.failed = exc
            return 0

    def write(self, data: Any) -> int:
        if not data:  # click probes streams with empty writes: nothing is lost
            return 0 if self._stream is None else int(self._stream.write(data) or 0)
        self._call("write", data)
        return len(data)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._stream is not None:
            self._call("flush")

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        try:
            return bool(self._stream.isatty())
        except (AttributeError, OSError, ValueError):
            return False

    @property
    def buffer(self) -> _Guarded | None:
        inner = getattr(self._stream, "buffer", None)
        return None if inner is None and self._stream is not None else \
            _Guarded(inner, self._owner)

    def __getattr__(self, name: str) -> Any:
        if self._stream is None:
            raise AttributeError(name)
        return getattr(self._stream, name)


class Stdout:
    """The command's stdout: results only (prompts and notices go to stderr).

    :ivar failed: the ``OSError`` that stopped output (a closed pipe, a full disk, a closed
        stdout), if any.
    """

    def __init__(self) -> None:
        self.failed: OSError | None = None

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """While the block runs, ``sys.stdout`` records write failures here instead of
        raising them (click's ``--help`` / ``--version`` output included)."""
        original = sys.stdout
        guarded = _Guarded(original, self)
        sys.stdout = guarded
        try:
            yield
        finally:
            if sys.stdout is guarded:
                sys.stdout = original

    def _write(self, write: Any, data: Any) -> None:
        if self.failed is not None:
            return
        try:
            if sys.stdout is None:
                raise OSError(errno.EBADF, "stdout is closed")
            write(data)
        except OSError as exc:
            self.failed = exc

    def text(self, text: str = "", end: str = "\n") -> None:
        """Write a line of text."""
        self._write(lambda d: sys.stdout.write(d), clean_text(text) + end)

    def json(self, obj: Any, *, indent: int | None = 2) -> None:
        """Write ``obj`` as JSON and a newline."""
        self.text(json_text(obj, indent=indent))

    def binary(self, data: bytes) -> None:
        """Write bytes (a DER certificate...) to the binary stdout."""
        self.flush()
        buffer = getattr(sys.stdout, "buffer", None)
        if buffer is None:  # a text-only stdout (tests), or a closed one: show hex
            self._write(lambda d: sys.stdout.write(d), data.hex())
            return
        self._write(buffer.write, data)
        self._write(lambda _d: buffer.flush(), b"")

    def flush(self) -> None:
        if sys.stdout is not None:
            self._write(lambda _d: sys.stdout.flush(), None)

    def finish(self, code: int) -> tuple[int, str | None]:
        """Flush, and decide the exit status (rules in the module docstring); after a
        failure keep the interpreter's exit from printing a traceback.

        :param code: the command's own exit status.
        :returns: ``(exit status, notice for stderr or None)``.
        """
        self.flush()
        failed = self.failed
        if failed is None:
            return code, None
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass  # no real file descriptor (tests, a closed stdout): nothing to silence
        if failed.errno == errno.EPIPE:
            return code, None
        why = failed.strerror or str(failed)
        if code != 0:
            return code, f"could not write the output to stdout ({why})"
        return EXIT_NOT_DELIVERED, (f"could not write the output to stdout ({why}): the result "
                                    "was NOT delivered")
