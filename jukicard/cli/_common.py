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
read personal data, spend a PIN, sign or export a certificate never do without
``--emulated``.  The deployment switch fails closed (see
:func:`jukicard.services.connect.fallback_setting`): ``JUKICARD_EMULATED_FALLBACK=off``,
``emulated_fallback = off`` in the ``[connect]`` section of ``/etc/jukicard/jukicard.conf``
(always read) or of the file ``JUKICARD_CONFIG`` names (read as well): any ``off`` wins.
Every ``--json`` output of a card command has a ``card_source`` object: ``{"kind":
"reader"|"emulated", "name": ..., "fallback": ..., "profile": ...}`` (``name``: the reader,
or the profile as given; ``profile``: the emulated card's own name); the error object of a
run that found no reader and did not fall back says ``"fallback": "refused"``.

PIN input: a hidden prompt on the terminal (``getpass``), or ``--pin-stdin``: one line per
PIN asked, in the order the command documents (at most :data:`MAX_PIN_LINE` bytes, UTF-8;
on a terminal the hidden prompt is used instead).  A PIN is never taken from the command
line or the environment, and no usage error repeats a stray argument or an unknown option
word (a PIN may have been typed there).  Prompts and notices go to stderr (escaped, as
every text line: :mod:`jukicard.cli._text`); stdout carries only the result.
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
from jukicard.cli._text import escape
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
    "MAX_PIN_LINE",
    "NOT_REPEATED",
    "is_terminal",
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


#: Said instead of repeating a word the command line should not hold: it may be a PIN.
NOT_REPEATED = ("not repeated here: PINs are never taken on the command line; type the PIN "
                "at the prompt, or give --pin-stdin and write it on stdin")


class JukiCommand(click.Command):
    """A command that also accepts unique prefixes of its long options, and that never
    repeats a stray argument in its error (``pin verify auth 1234``: the stray word may be
    a PIN)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        params = self.get_params(ctx)
        args = _expand_abbreviations(params, args, False, _value_options(params))
        allowed = ctx.allow_extra_args
        ctx.allow_extra_args = True  # click's own check would repeat the stray words
        try:
            rest = super().parse_args(ctx, args)
        finally:
            ctx.allow_extra_args = allowed
        if rest and not allowed and not ctx.resilient_parsing:
            count = len(rest)
            ctx.args = []
            raise click.UsageError(
                f"{count} unexpected argument{'s' if count > 1 else ''} ({NOT_REPEATED})", ctx)
        return rest


class JukiGroup(click.Group):
    """A group whose commands keep the order they were added in (help lists them so), whose
    own options accept unique prefixes, and that never repeats an unknown command word."""

    command_class = JukiCommand

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        params = self.get_params(ctx)
        args = _expand_abbreviations(params, args, True, _value_options(params))
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        if self.get_command(ctx, name) is None and not ctx.resilient_parsing \
                and not name.startswith("-"):
            ctx.fail(f"no such command ({NOT_REPEATED}); the commands are: "
                     f"{', '.join(self.list_commands(ctx))}")
        return super().resolve_command(ctx, args)

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
    :ivar fallback_refused: no reader could be used and the built-in test card was not
        taken instead (the command never falls back, or the deployment switched it off):
        the error JSON says ``"fallback": "refused"``.
    """

    json: bool = False
    stdout: Stdout = field(default_factory=Stdout)
    card_source: CardSource | None = None
    interaction: StdinInteraction | TerminalInteraction | None = None
    fallback_refused: bool = False


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
    """A message for the operator, on stderr (never fails the command); control characters
    in it (from a file name or card data) are shown escaped (:func:`~jukicard.cli._text.escape`)."""
    target = stream if stream is not None else sys.stderr
    if target is None:  # stderr closed (2>&-): say nothing rather than mix into stdout
        return
    try:
        print(f"jukicard: {escape(message)}", file=target, flush=True)
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
    :ivar never_why: for a command that never falls back, what it does that makes the test
        card wrong for it (``"reads personal data"``), for the refusal message.
    """

    reader: str | int | None
    emulated: bool
    profile: str | None
    fallback: bool
    command: str
    never_why: str = ""

    @property
    def chosen(self) -> bool:
        """The user named the card (a reader, the emulated card or a profile)."""
        return self.reader is not None or self.emulated or self.profile is not None

    def open(self) -> Transport:
        """Open the card and record its source for the JSON output.

        For a command that may fall back, the deployment switch is read first, whatever
        happens next: a broken switch is a usage error even when a reader works.

        :raises UsageError: / :raises TransportError: see
            :func:`~jukicard.services.connect.open_with_source` and
            :func:`~jukicard.services.connect.fallback_setting`.
        """
        from jukicard.services import connect

        setting = connect.fallback_setting() if self.fallback and not self.chosen else None
        try:
            transport, source = connect.open_with_source(
                self.reader, self.emulated, profile=self.profile, fallback=self.fallback,
                notify=notice)
        except Exception as exc:
            if not self.chosen and connect.may_fall_back(exc):
                state().fallback_refused = True
                if setting is None:
                    why = (f"{self.command} {self.never_why}: it never uses the built-in test "
                           "card on its own")
                else:
                    by = setting.switched_off_by or connect.fallback_setting().switched_off_by
                    why = f"the fallback to the built-in test card is switched off by {by}"
                notice(f"{why}; give --emulated for the test card")
            raise
        state().card_source = source
        return transport

    def source_json(self) -> dict[str, Any] | None:
        source = state().card_source
        return None if source is None else source.to_json()


def card_options(*, fallback: bool, never_why: str = "") -> Callable[[F], F]:
    """``--reader``, ``--emulated``, ``--profile`` (exclusive) and ``--json``; the command
    gets ``card: CardSelection`` and ``as_json``.

    :param fallback: may the command fall back to the built-in card (demo commands only).
    :param never_why: for the others, what the command does that rules the test card out
        (``"reads personal data"``), said when it refuses.
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
            card = CardSelection(reader, emulated, profile, fallback, name, never_why)
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
if TYPE_CHECKING:
    _StrChoice = click.Choice[str]
else:  # click 8.1 (still supported) has no generic Choice: no subscript at run time
    _StrChoice = click.Choice


class LazyChoice(_StrChoice):
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
#: Longest line read from stdin for one PIN, in bytes with its line ending (a PIN has at
#: most 16 characters; a 300 MB "line" is refused after this many bytes, not read whole).
MAX_PIN_LINE = 256


class StdinInteraction:
    """PINs from a stream (stdin), one line per PIN asked, in order.

    A line is read as bytes (at most :data:`MAX_PIN_LINE`) and decoded as strict UTF-8; a
    line too long or not UTF-8 is a :class:`UsageError` that shows nothing of the value
    (no byte, no position).  Only the line ending is stripped (a PIN with spaces is passed
    as is and rejected by the format check).  Confirmation of a new PIN is not asked:
    scripts do not mistype.

    :param stream: the stream (default: ``sys.stdin`` at call time; its binary ``buffer``
        when it has one).
    :ivar last_request: the last PIN asked for (names the PIN in a "wrong PIN" message).
    :raises UsageError: stdin is closed (``<&-``) or cannot be read; the stream ended
        before the PIN was read; a line too long or not UTF-8.
    """

    def __init__(self, stream: IO[str] | IO[bytes] | None = None) -> None:
        self._stream = stream
        self.count = 0
        self.last_request: PinRequest | None = None

    def _readline(self, what: str) -> str:
        stream: Any = self._stream if self._stream is not None else sys.stdin
        if stream is None:  # closed at start-up (<&-)
            raise UsageError(f"stdin is closed: cannot read {what} (--pin-stdin)")
        source = getattr(stream, "buffer", None) or stream
        try:
            line = source.readline(MAX_PIN_LINE + 1)
            if len(line) > MAX_PIN_LINE:
                raise UsageError(f"the stdin line of {what} is longer than {MAX_PIN_LINE} "
                                 "bytes")
            return line.decode("utf-8") if isinstance(line, bytes) else str(line)
        except UnicodeDecodeError:
            # from None: the decoder's message names a byte of the PIN and where it was
            raise UsageError(f"the stdin line of {what} is not UTF-8 text") from None
        except ValueError:  # closed after start-up ("I/O operation on closed file")
            raise UsageError(f"stdin is closed: cannot read {what} (--pin-stdin)") from None
        except OSError as exc:  # stdin is a directory, a dead device...
            raise UsageError(f"cannot read {what} from stdin (--pin-stdin): "
                             f"{exc.strerror or 'read error'}") from None

    def request_pin(self, request: PinRequest) -> str:
        self.last_request = request
        self.count += 1
        what = f"PIN #{self.count} ({pin_label(request.pin)})"
        line = self._readline(what)
        if not line:
            raise UsageError(f"stdin ended before {what} was given")
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


def is_terminal(stream: Any) -> bool:
    """``stream.isatty()``, false for a missing or closed stream."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def interaction(pin_stdin: bool) -> UserInteraction:
    """The PIN source the user chose (``--pin-stdin`` or the terminal), remembered for the
    error message of a wrong PIN.

    ``--pin-stdin`` with stdin on a terminal would show the PIN as it is typed, with no
    prompt: the hidden prompt is used instead, and the operator is told so once.
    """
    made: StdinInteraction | TerminalInteraction
    if pin_stdin and is_terminal(sys.stdin):
        notice("--pin-stdin: stdin is a terminal, so the PIN is asked with a hidden prompt "
               "instead (what is typed is not shown)")
        made = TerminalInteraction()
    else:
        made = StdinInteraction() if pin_stdin else TerminalInteraction()
    state().interaction = made
    return made
