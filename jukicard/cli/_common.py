"""Options and helpers shared by the card commands.

Card selection (every command that talks to a card)::

    --reader NAME|INDEX   a PC/SC reader: exact name, a substring matching one reader, or
                          its index in `jukicard readers`
    --emulated            the built-in emulated card (synthetic test card mynumber-01)
    --profile NAME|PATH   another emulated card profile (implies --emulated)

With none of them the first reader holding a card is used; with no reader at all (or the
PC/SC service not running / pyscard missing) the built-in emulated card is used and stderr
says so.

PIN input: a hidden prompt on the terminal (``getpass``), or ``--pin-stdin``: one line per
PIN asked, in the order the command documents.  A PIN is never taken from the command line
or the environment.  Prompts and notices go to stderr; stdout carries only the result
(``--json`` for scripts).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import tempfile
from collections.abc import Callable
from typing import IO, Any, TextIO

from jukicard.errors import UsageError
from jukicard.services.connect import open_transport
from jukicard.services.interaction import PinRequest, UserInteraction
from jukicard.transport.base import Transport

__all__ = [
    "card_parent",
    "pin_parent",
    "json_parent",
    "parse_reader",
    "open_from_args",
    "interaction_from_args",
    "StdinInteraction",
    "TerminalInteraction",
    "print_json",
    "notice",
    "find_or_add_group",
    "write_file_atomic",
]


def parse_reader(value: str) -> str | int:
    """``--reader`` value: all digits → an index, else a name (or substring)."""
    value = value.strip()
    if not value:
        raise argparse.ArgumentTypeError("reader name or index expected")
    return int(value) if value.isdigit() else value


def json_parent() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    return p


def card_parent() -> argparse.ArgumentParser:
    """Parent parser with ``--reader``, ``--emulated``, ``--profile`` and ``--json``."""
    p = argparse.ArgumentParser(add_help=False, parents=[json_parent()])
    g = p.add_argument_group("card selection")
    x = g.add_mutually_exclusive_group()
    x.add_argument("--reader", metavar="NAME|INDEX", type=parse_reader, default=None,
                   help="PC/SC reader name (or unique substring) or index; default: the "
                   "first reader with a card, else the built-in emulated card")
    x.add_argument("--emulated", action="store_true",
                   help="use the built-in emulated card (synthetic test card)")
    x.add_argument("--profile", metavar="NAME|PATH", default=None,
                   help="use this emulated card profile (vectors/cards/NAME.json or a path)")
    return p


def pin_parent(order: str) -> argparse.ArgumentParser:
    """Parent parser with ``--pin-stdin``; ``order`` documents which lines are read."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--pin-stdin", action="store_true",
                   help=f"read PINs from stdin, one line each: {order} "
                   "(default: hidden prompt on the terminal)")
    return p


def notice(message: str, stream: TextIO | None = None) -> None:
    """A message for the operator, on stderr."""
    print(f"jukicard: {message}", file=stream or sys.stderr, flush=True)


def open_from_args(args: argparse.Namespace) -> Transport:
    """Open the card selected by ``--reader`` / ``--emulated`` / ``--profile``.

    :raises UsageError: / :raises TransportError: see
        :func:`~jukicard.services.connect.open_transport`.
    """
    return open_transport(
        reader=getattr(args, "reader", None),
        emulated=bool(getattr(args, "emulated", False)),
        profile=getattr(args, "profile", None),
        notify=notice,
    )


def print_json(obj: Any, stream: TextIO | None = None) -> None:
    """Print ``obj`` as JSON (UTF-8 text kept as is) on stdout."""
    print(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False),
          file=stream or sys.stdout)


def write_file_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that the file is either complete or untouched.

    The bytes go to a temporary file in the same directory, which is flushed to disk and
    then renamed over ``path``: a full disk, an interrupted run or a failing write never
    leaves a half-written signature or certificate (nor truncates an existing file).

    :raises UsageError: the file cannot be written (nothing is left behind).
    """
    target = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(target))
    if os.path.lexists(target) and not os.access(target, os.W_OK):
        raise UsageError(f"cannot write {target!r}: permission denied")
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".jukicard-", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise UsageError(f"cannot write {target!r}: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


# --------------------------------------------------------------------------- PIN input
class StdinInteraction:
    """PINs from a stream (stdin), one line per PIN asked, in order.

    Only the line ending is stripped (a PIN with spaces is passed as is and rejected by the
    format check).  Confirmation of a new PIN is not asked: scripts do not mistype.

    :raises UsageError: the stream ended before the PIN was read.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self.count = 0

    def request_pin(self, request: PinRequest) -> str:
        stream = self._stream if self._stream is not None else sys.stdin
        line = stream.readline()
        self.count += 1
        if not line:
            raise UsageError(
                f"stdin ended before PIN #{self.count} ({request.pin.name}) was given"
            )
        return line.rstrip("\r\n")

    def info(self, message: str) -> None:
        notice(message)


def _terminal_available() -> bool:
    if os.name != "posix":
        return sys.stdin.isatty()
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


class TerminalInteraction:
    """PINs from a hidden prompt on the controlling terminal (``getpass``).

    :param getpass_fn: the prompt function (tests inject one).
    :param terminal_available: tells whether a terminal exists (tests inject one).
    """

    def __init__(
        self,
        getpass_fn: Callable[[str], str] | None = None,
        terminal_available: Callable[[], bool] | None = None,
    ) -> None:
        self._getpass = getpass_fn or (lambda prompt: getpass.getpass(prompt, stream=sys.stderr))
        self._terminal_available = terminal_available

    def request_pin(self, request: PinRequest) -> str:
        available = self._terminal_available or _terminal_available
        if not available():
            raise UsageError("a PIN is needed but there is no terminal to ask it on; "
                             "use --pin-stdin")
        value = self._getpass(request.prompt)
        if request.confirm:
            again = self._getpass(f"repeat {request.prompt}")
            if again != value:
                raise UsageError(f"the two entries of the new {request.pin.name} differ")
        return value

    def info(self, message: str) -> None:
        notice(message)


def interaction_from_args(args: argparse.Namespace) -> UserInteraction:
    """The PIN source the user chose (``--pin-stdin`` or the terminal)."""
    if getattr(args, "pin_stdin", False):
        return StdinInteraction()
    return TerminalInteraction()


# --------------------------------------------------------------------------- groups
def find_or_add_group(
    subparsers: Any, name: str, help_text: str
) -> Any:
    """The sub-command action of group ``name`` (e.g. ``cert``), created if missing.

    Lets two modules add commands to one group whatever their registration order.
    """
    parser = subparsers.choices.get(name) if hasattr(subparsers, "choices") else None
    if parser is None:
        parser = subparsers.add_parser(name, help=help_text, description=help_text)
    for action in parser._actions:  # argparse keeps the sub-command action here
        if isinstance(action, argparse._SubParsersAction):
            return action
    group = parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND")
    group.required = True
    return group
