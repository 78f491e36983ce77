"""Options, card selection, PIN input and staff wording shared by the command modules.

This module is imported by ``jukicard --help``: it imports click, the standard library and
:mod:`jukicard.errors` only; the services (and through them the card, PC/SC and crypto
stacks) are imported inside the functions that run a command.

Card selection (every command that talks to a card)::

    --reader NAME|INDEX   a PC/SC reader: exact name, a substring matching one reader, or
                          its index in `jukicard readers`
    --emulated            the built-in emulated card (synthetic test card mynumber-01)
    --profile NAME|PATH   another emulated card profile (implies --emulated)

With none of them the first reader holding a card is used.  With no reader at all (or the
PC/SC service not running / pyscard missing) only the read-only demo commands (``card
info``, ``pin status``) use the built-in emulated card, and say so on stderr; commands that
read personal data, spend a PIN or sign never do without ``--emulated``.  A deployment
switches that fallback off entirely with ``JUKICARD_EMULATED_FALLBACK=off`` or
``emulated_fallback = off`` in the ``[connect]`` section of ``/etc/jukicard/jukicard.conf``
(another file with ``JUKICARD_CONFIG``).  Every ``--json`` output of a card command has a
``card_source`` object: ``{"kind": "reader"|"emulated", "name": ..., "fallback": ...}``.

PIN input: a hidden prompt on the terminal (``getpass``), or ``--pin-stdin``: one line per
PIN asked, in the order the command documents.  A PIN is never taken from the command line
or the environment.  Prompts and notices go to stderr; stdout carries only the result.
"""

from __future__ import annotations

import functools
import getpass
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, TextIO, TypeVar

import click

from jukicard.cli._output import Stdout
from jukicard.errors import UsageError

if TYPE_CHECKING:
    from jukicard.services.connect import CardSource
    from jukicard.services.interaction import PinRequest, UserInteraction
    from jukicard.transport.base import Transport

__all__ = [
    "CONTEXT_SETTINGS",
    "JukiCommand",
    "JukiGroup",
    "CliState",
    "state",
    "out",
    "notice",
    "json_option",
    "card_options",
    "pin_stdin_option",
    "CardSelection",
    "parse_reader",
    "pin_label",
    "LazyChoice",
    "pin_ids",
    "changeable_pin_ids",
    "cert_ids",
    "key_ids",
    "StdinInteraction",
    "TerminalInteraction",
]

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"],
                                    "max_content_width": 100}


# --------------------------------------------------------------------------- click classes
def _expand_abbreviations(params: list[click.Parameter], args: list[str],
                          stop_at_positional: bool, takes_value: set[str]) -> list[str]:
    """Expand unique prefixes of long options (``--no-rev`` → ``--no-revocation``), as the
    argparse CLI accepted them; an ambiguous prefix is left for click to refuse."""
    longs = [o for p in params for o in (*p.opts, *getattr(p, "secondary_opts", ()))
             if o.startswith("--")]
    out: list[str] = []
    skip = False
    for i, arg in enumerate(args):
        if skip:
            out.append(arg)
            skip = False
            continue
        if arg == "--":
            out.extend(args[i:])
            break
        if arg.startswith("--") and len(arg) > 2:
            name, eq, value = arg.partition("=")
            if name not in longs:
                candidates = [o for o in longs if o.startswith(name)]
                if len(candidates) == 1:
                    name = candidates[0]
                    arg = name + eq + value
            skip = not eq and name in takes_value
        elif not arg.startswith("-") and stop_at_positional:
            out.extend(args[i:])
            break
        out.append(arg)
    return out


def _value_options(params: list[click.Parameter]) -> set[str]:
    return {o for p in params if isinstance(p, click.Option) and not p.is_flag
            and not p.count for o in p.opts}


class JukiCommand(click.Command):
    """A command that also accepts unique prefixes of its long options."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        params = self.get_params(ctx)
        args = _expand_abbreviations(params, args, False, _value_options(params))
        return super().parse_args(ctx, args)


class JukiGroup(click.Group):
    """A group whose commands keep the order they were added in (help lists them so), and
    whose own options accept unique prefixes."""

    command_class = JukiCommand

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        params = self.get_params(ctx)
        args = _expand_abbreviations(params, args, True, _value_options(params))
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


JukiGroup.group_class = JukiGroup


# --------------------------------------------------------------------------- state
@dataclass
class CliState:
    """What one ``jukicard`` run knows across its layers (``ctx.obj``).

    :ivar json: ``--json`` was given (a failure then prints the error object on stdout).
    :ivar stdout: the result stream.
    :ivar card_source: where the card came from, once it was opened.
    :ivar interaction: the PIN source of the command, once made (its last request names the
        PIN of a "wrong PIN" message).
    """

    json: bool = False
    stdout: Stdout = field(default_factory=Stdout)
    card_source: CardSource | None = None
    interaction: StdinInteraction | TerminalInteraction | None = None


def state() -> CliState:
    """The :class:`CliState` of the running command (a fresh one outside a command)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return CliState()
    return ctx.ensure_object(CliState)


def out() -> Stdout:
    """The running command's stdout."""
    return state().stdout


def notice(message: str, stream: TextIO | None = None) -> None:
    """A message for the operator, on stderr (never fails the command)."""
    try:
        print(f"jukicard: {message}", file=stream or sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


# --------------------------------------------------------------------------- options
def _json_seen(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.ensure_object(CliState).json = True
    return value


def json_option(help_text: str = "print machine-readable JSON on stdout") -> Callable[[F], F]:
    """``--json`` (parameter ``as_json``)."""
    return click.option("--json", "as_json", is_flag=True, help=help_text,
                        callback=_json_seen, is_eager=True)


def pin_stdin_option(order: str) -> Callable[[F], F]:
    """``--pin-stdin``; ``order`` documents which lines are read."""
    return click.option("--pin-stdin", is_flag=True,
                        help=f"read PINs from stdin, one line each: {order} (default: hidden "
                        "prompt on the terminal)")


def parse_reader(value: str) -> str | int:
    """``--reader`` value: all digits → an index, else a name (or substring).

    :raises click.BadParameter: empty.
    """
    value = value.strip()
    if not value:
        raise click.BadParameter("reader name or index expected")
    return int(value) if value.isdigit() else value


@dataclass(frozen=True)
class CardSelection:
    """The card a command asked for (``--reader`` / ``--emulated`` / ``--profile``).

    :ivar fallback: the command may use the built-in emulated card when no reader can be
        used at all (read-only demo commands only), unless the deployment switched it off.
    """

    reader: str | int | None
    emulated: bool
    profile: str | None
    fallback: bool
    command: str

    def open(self) -> Transport:
        """Open the card and record its source for the JSON output.

        :raises UsageError: / :raises TransportError: see
            :func:`~jukicard.services.connect.open_with_source`.
        """
        from jukicard.services import connect

        fallback = self.fallback and connect.fallback_enabled()
        try:
            transport, source = connect.open_with_source(
                self.reader, self.emulated, profile=self.profile, fallback=fallback,
                notify=notice)
        except Exception as exc:
            if self.reader is None and not self.emulated and self.profile is None \
                    and connect.may_fall_back(exc):
                why = (f"{self.command} reads personal data, spends a PIN or signs: it never "
                       "uses the built-in test card on its own" if not self.fallback else
                       "the fallback to the built-in test card is switched off "
                       f"({connect.FALLBACK_ENV} / {connect.DEFAULT_CONFIG})")
                notice(f"{why}; give --emulated for the test card")
            raise
        state().card_source = source
        return transport

    def source_json(self) -> dict[str, Any] | None:
        source = state().card_source
        return None if source is None else source.to_json()


def card_options(*, fallback: bool) -> Callable[[F], F]:
    """``--reader``, ``--emulated``, ``--profile`` (exclusive) and ``--json``; the command
    gets ``card: CardSelection`` and ``as_json``.

    :param fallback: may the command fall back to the built-in card (demo commands only).
    """
    def decorator(f: F) -> F:
        @functools.wraps(f)
        def wrapper(*args: Any, reader: str | int | None, emulated: bool, profile: str | None,
                    **kwargs: Any) -> Any:
            given = [n for n, v in (("--reader", reader is not None), ("--emulated", emulated),
                                    ("--profile", profile is not None)) if v]
            if len(given) > 1:
                raise click.UsageError(f"{given[1]}: not allowed with {given[0]}")
            ctx = click.get_current_context()
            name = ctx.command_path.removeprefix(ctx.find_root().info_name or "").strip()
            card = CardSelection(reader, emulated, profile, fallback, name)
            return f(*args, card=card, **kwargs)

        options = [
            click.option("--profile", metavar="NAME|PATH", default=None,
                         help="use this emulated card profile (vectors/cards/NAME.json or a "
                         "path)"),
            click.option("--emulated", is_flag=True,
                         help="use the built-in emulated card (synthetic test card)"),
            click.option("--reader", metavar="NAME|INDEX", default=None,
                         type=click.UNPROCESSED, callback=lambda c, p, v: None if v is None
                         else parse_reader(v),
                         help="PC/SC reader name (or unique substring) or index; default: the "
                         "first reader with a card" + (", else the built-in emulated card" if
                                                       fallback else "")),
            json_option(),
        ]
        for option in options:
            wrapper = option(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorator


# --------------------------------------------------------------------------- choices
class LazyChoice(click.Choice):
    """A :class:`click.Choice` whose values come from the library, read when needed.

    The lists of PIN, certificate and key ids live in the card facts and the services (one
    source of truth: a new application's PINs appear without a CLI change).  Reading them
    imports the card stack, so it happens only when the command itself parses its arguments
    or shows its own help, never for ``jukicard --help``.  They are read each time (not
    cached): the PIN ids follow the detection table as it is when the command runs.

    :param load: returns the allowed values (a plain static import inside the function).
    """

    def __init__(self, load: Callable[[], tuple[str, ...]]) -> None:
        self._load = load
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self._load())

    @choices.setter
    def choices(self, _value: object) -> None:
        """click's constructor assigns the (empty) sequence; the loader is what counts."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        """As :meth:`click.Choice.convert`, but a wrong value is not repeated in the error:
        someone may have typed a PIN where its id belongs."""
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter:
            self.fail(f"not a known id; use one of {', '.join(self.choices)}", param, ctx)


def pin_ids() -> tuple[str, ...]:
    """Every PIN id (:func:`jukicard.services.pins.pin_ids`, the detection table now)."""
    from jukicard.services import pins

    return pins.pin_ids()


def changeable_pin_ids() -> tuple[str, ...]:
    """The PINs ``pin change`` can change (:func:`jukicard.services.pins.changeable_pin_ids`)."""
    from jukicard.services import pins

    return pins.changeable_pin_ids()


def cert_ids() -> tuple[str, ...]:
    """The certificate ids ``cert export`` takes (:data:`jukicard.services.data.CERT_IDS`)."""
    from jukicard.services.data import CERT_IDS

    return CERT_IDS


def key_ids() -> tuple[str, ...]:
    """The key ids ``sign --key`` takes (:data:`jukicard.services.signing.KEY_IDS`)."""
    from jukicard.services.signing import KEY_IDS

    return KEY_IDS


# --------------------------------------------------------------------------- wording
def pin_label(pin: Any) -> str:
    """The name of a PIN as staff and residents know it, for every message and prompt:
    ``"利用者証明用電子証明書暗証番号 (user-authentication PIN)"``.

    ``pin`` is a :class:`~jukicard.card.PinSpec` (its ``label``) or a
    :class:`~jukicard.services.pins.PinState` (its ``name`` is that label).
    """
    return str(getattr(pin, "label", None) or pin.name)


def pin_prompt(request: PinRequest) -> str:
    """The prompt for a PIN request (:attr:`PinRequest.prompt`, in the names residents know)."""
    return request.prompt


# --------------------------------------------------------------------------- PIN input
class StdinInteraction:
    """PINs from a stream (stdin), one line per PIN asked, in order.

    Only the line ending is stripped (a PIN with spaces is passed as is and rejected by the
    format check).  Confirmation of a new PIN is not asked: scripts do not mistype.

    :ivar last_request: the last PIN asked for (names the PIN in a "wrong PIN" message).
    :raises UsageError: the stream ended before the PIN was read.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self.count = 0
        self.last_request: PinRequest | None = None

    def request_pin(self, request: PinRequest) -> str:
        self.last_request = request
        stream = self._stream if self._stream is not None else sys.stdin
        line = stream.readline()
        self.count += 1
        if not line:
            raise UsageError(
                f"stdin ended before PIN #{self.count} ({pin_label(request.pin)}) was given"
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
        self.last_request: PinRequest | None = None

    def request_pin(self, request: PinRequest) -> str:
        self.last_request = request
        available = self._terminal_available or _terminal_available
        if not available():
            raise UsageError("a PIN is needed but there is no terminal to ask it on; "
                             "use --pin-stdin")
        prompt = pin_prompt(request)
        value = self._getpass(prompt)
        if request.confirm:
            again = self._getpass(f"repeat {prompt}")
            if again != value:
                raise UsageError(f"the two entries of the new {pin_label(request.pin)} differ")
        return value

    def info(self, message: str) -> None:
        notice(message)


def interaction(pin_stdin: bool) -> UserInteraction:
    """The PIN source the user chose (``--pin-stdin`` or the terminal), remembered for the
    error message of a wrong PIN."""
    made = StdinInteraction() if pin_stdin else TerminalInteraction()
    state().interaction = made
    return made
