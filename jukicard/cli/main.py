"""The ``jukicard`` command: the top group, one error → exit-code map, and :func:`main`.

The command groups live one per module (``jukicard/cli/<area>.py``, ykman's convention) and
are added here by static import.  Card logic never lives in the CLI: a command parses its
options, calls its service (imported inside the command, so ``jukicard --help`` and
``--version`` load neither the card, PC/SC, services nor crypto stacks) and prints.

Exit status: 0 ok, 2 usage, 3 wrong or blocked PIN, 4 card refused, 5 validation failed or
data tampered with, 6 reader or card problem, 1 unexpected (130 interrupted).  With
``--json`` a failure also prints ``{"error": {...}}`` on stdout — usage errors included.
The exit code survives a closed pipe (``… | head``) and a full disk; a result that could not
be written (``> /dev/full``, ``-o /dev/full``, a closed stdout) turns a success into 1
(:mod:`jukicard.cli._output`, :mod:`jukicard.cli._files`); Python warnings go to the log at
DEBUG, never to the staff's terminal.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
import warnings
from collections.abc import Iterator, Sequence

import click
from click.exceptions import NoSuchCommand

from jukicard import __version__
from jukicard.cli import (
    bulk,
    card,
    cardface,
    cert,
    data,
    emulator,
    juki,
    operator,
    pin,
    reader,
    sign,
    signature,
)
from jukicard.cli._common import (
    CONTEXT_SETTINGS,
    NOT_REPEATED,
    CliState,
    JukiGroup,
    notice,
    pin_label,
)
from jukicard.cli._text import LogFormatter, escape
from jukicard.errors import (
    ApplicationNotFound,
    BadResponse,
    CalibrationError,
    CardAuthenticationError,
    CardError,
    CardRemovedError,
    CardResetError,
    CvCaApplicationError,
    CvCaSignatureError,
    DataIntegrityError,
    EnrolmentFailed,
    IssuerKeyMismatchError,
    JukiError,
    KeyStoreError,
    MutualAuthenticationBlockedError,
    MutualAuthenticationCardError,
    MutualAuthenticationError,
    NoReaderError,
    OutputError,
    PinBlockedError,
    PinError,
    PluginError,
    PresentationAttackSuspected,
    ReaderUnavailableError,
    SecurityStatusError,
    SharingViolationError,
    TemplateIntegrityError,
    TemplateNotFound,
    TemplateStoreError,
    TextSmError,
    TransportError,
    UntrustedIssuerError,
    UsageError,
    ValidationError,
    VeinDeviceError,
    VeinError,
    tries_left_text,
)

__all__ = ["EXIT_CODES", "UNEXPECTED_HINT", "exit_code_for", "error_json", "cli", "main"]

log = logging.getLogger("jukicard.cli")

_NO_READER = "the PC/SC service or the reader is not available"

#: First isinstance match wins.  0 = success, 1 = unexpected error.  Each hint is true of
#: every error of its class (it is printed after the message, so it never repeats it).
EXIT_CODES: tuple[tuple[type[BaseException], int, str], ...] = (
    (UsageError, 2, "usage error"),
    (PinBlockedError, 3, "a blocked PIN can only be reset at the municipal counter (a JPKI "
     "PIN also at a kiosk, with the other JPKI PIN)"),
    (PinError, 3, "each wrong entry uses up a try; with none left the PIN is blocked"),
    # before CardError (both are BadResponse): the card answered 9000 with data that cannot
    # be right — damaged or tampered card data, a failed check, not a refusal
    # issue 11 review: before its base — a forged CV certificate, not the caller's key file
    (CvCaSignatureError, 5, "a forged or altered card: it did not prove itself"),
    (IssuerKeyMismatchError, 5, "the key given with --issuer-key did not certify this "
     "card's data-signing key: a wrong key file, or a card that issuer did not certify"),
    # issue 11, part C: the card failed to prove itself (card authentication)
    (CvCaApplicationError, 5, "the card's CV certificate names the CV CA of another "
     "application: a forged or mis-issued card"),
    (UntrustedIssuerError, 5, "the card is certified by a CV CA the policy does not trust: "
     "a card of the J-LIS test hierarchy needs --allow-test-keys, an emulated card also "
     "its CV CA with --ca-key"),
    (CardAuthenticationError, 5, "the card did not prove it holds the key its signed "
     "records carry: a cloned card or a replayed answer"),
    (DataIntegrityError, 5, "the card's data does not match its signature: it may have "
     "been tampered with"),
    # issue 11 (review): the jukicard protocol, each side's failure told apart
    (MutualAuthenticationCardError, 5, "the card did not prove itself under the jukicard "
     "protocol: a cloned or foreign card, or an answer changed on the way"),
    (MutualAuthenticationBlockedError, 4, "the card's jukicard-protocol key is blocked after "
     "too many failed authentications"),
    (MutualAuthenticationError, 4, "the card refused this terminal's key (a wrong token or "
     "master key?); the card counts each failure and blocks"),
    (BadResponse, 5, "the card answered with data that cannot be right: the card's data is "
     "damaged or has been tampered with"),
    (ApplicationNotFound, 4, "this card does not have the application the command needs "
     "(a 住基カード has no 券面事項入力補助AP (text AP) and no 券面AP)"),
    (SecurityStatusError, 4, "the card refused: a PIN or key condition is not satisfied"),
    # issue 11, part A (review): not always a refusal — a tampered answer ends it too
    (TextSmError, 4, "secure messaging failed and its session is closed (the card refused "
     "it, or an answer was tampered with or out of step on the way); nothing was re-sent: "
     "run the command again"),
    (CardError, 4, "the card refused the operation"),
    (ValidationError, 5, "validation failed"),
    (NoReaderError, 6, _NO_READER),
    (ReaderUnavailableError, 6, _NO_READER),
    (CardRemovedError, 6, "place the card on the reader"),
    (CardResetError, 6, "the card was reset by another program: start again"),
    (SharingViolationError, 6, "another program is using the card: close it and try again"),
    (TransportError, 6, "reader or card problem: check the card is placed on the reader"),
    (OutputError, 1, "the output could not be written"),
    (KeyStoreError, 6, "the key token could not be used: check the PKCS#11 module, token "
     "label and PIN source"),
    # issue 12: the vein operator check (a "no match" is a result, exit 5, not an error)
    (PresentationAttackSuspected, 5, "the vein device suspects a presentation attack: no "
     "decision was made; an administrator must look into it"),
    (TemplateIntegrityError, 5, "a stored vein reference failed its integrity check (a "
     "damaged or tampered store): it counts as no reference"),
    (TemplateNotFound, 4, "no active vein reference: enrol first, with an administrator's "
     "approval"),
    (TemplateStoreError, 6, "the vein template store or its key file could not be used"),
    (PluginError, 2, "a vein plugin could not be used: check --device, --matcher, "
     "--allow-list and what is installed"),
    (CalibrationError, 2, "the matcher's calibration table is missing or cannot support "
     "that --max-fmr"),
    (EnrolmentFailed, 6, "the captures could not make a reference (failure to enrol): try "
     "again or another finger"),
    (VeinDeviceError, 6, "the vein device gave no usable capture (timeout, finger removed, "
     "low quality, cancelled, fault): try again"),
    (VeinError, 6, "the vein check could not reach a decision"),
)
#: The hint of an unexpected error (the option goes before the command).
UNEXPECTED_HINT = ("unexpected error: run again as 'jukicard --log-level DEBUG <command> ...' "
                   "to see the details in the log")
_LEVELS = ("TRAFFIC", "DEBUG", "INFO", "WARNING", "ERROR")


def exit_code_for(exc: BaseException) -> tuple[int, str]:
    """Map an exception to ``(exit code, hint for the operator)``."""
    for cls, code, hint in EXIT_CODES:
        if isinstance(exc, cls):
            return code, hint
    return 1, UNEXPECTED_HINT


#: Error classes whose JSON ``type`` stays their base's, as before they existed (the
#: message, the hint and ``option`` say the rest).
_REPORTED_AS_BASE = (IssuerKeyMismatchError,)


def _type_name(exc: BaseException) -> str:
    """The error's class name for the JSON ``type``; the services' own subclasses of the
    library errors (``InputError``) report their public base (``UsageError``), as before,
    and so does a wrong ``--issuer-key`` (``DataIntegrityError``)."""
    for cls in type(exc).__mro__:
        if not cls.__module__.startswith("jukicard.services") and \
                cls not in _REPORTED_AS_BASE:
            return cls.__name__
    return type(exc).__name__  # pragma: no cover - object is never from the services


def error_json(exc: BaseException, code: int, hint: str,
               message: str | None = None, **fields: object) -> dict[str, object]:
    """The ``{"error": {...}}`` object printed on stdout for ``--json`` runs that fail.

    Carries the facts scripts act on: the exit code, the error class, the status word, the
    tries left, the validation reason, the option and file at fault (``option``, ``path``:
    the exception's attributes, or ``fields``).  Like the text message, it never holds a
    PIN or personal data.
    """
    err: dict[str, object] = {
        "exit_code": code,
        "type": _type_name(exc),
        "message": str(exc) if message is None else message,
        "hint": hint,
    }
    for attr in ("sw", "retries_left", "reason", "revocation_reason", "pcsc_name", "option",
                 "path"):
        value = fields.get(attr, getattr(exc, attr, None))
        if value is not None:
            err[attr] = f"{value:04X}" if attr == "sw" and isinstance(value, int) else value
    revoked_at = getattr(exc, "revoked_at", None)
    if revoked_at is not None:
        err["revoked_at"] = revoked_at.isoformat()
    if getattr(exc, "counter_implausible", False) is True:
        err["counter_implausible"] = True
    if isinstance(exc, IssuerKeyMismatchError) and not isinstance(exc, CvCaSignatureError):
        err.setdefault("option", "--issuer-key")
    return {"error": err}


# --------------------------------------------------------------------------- the group
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _setup_logging(level: str) -> None:
    """Log to stderr at ``level``, every line escaped (:class:`~jukicard.cli._text.LogFormatter`:
    a URL or card-derived text in a message cannot drive the terminal).  Anomalies a card can
    cause at will (an impossible retry counter, a PIN command answered 6Cxx) are logged at
    INFO by the library: the commands tell staff about them in their own words."""
    if level == "TRAFFIC":
        from jukicard.transport.tracing import TRAFFIC  # registers the level name

        number = TRAFFIC
    else:
        number = getattr(logging, level)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogFormatter(_LOG_FORMAT))
    logging.basicConfig(level=number, handlers=[handler])
    if number > logging.DEBUG:
        # pyHanko narrates what it tolerates in a PDF ("Superfluous whitespace found in
        # object header") at WARNING: staff at the counter cannot act on it, and the
        # verdict of signature verify already says what matters; --log-level DEBUG shows it
        logging.getLogger("pyhanko").setLevel(logging.ERROR)


_EPILOG = """\b
Exit status: 0 ok, 2 usage, 3 wrong or blocked PIN, 4 card refused, 5 validation
failed or data tampered with, 6 reader or card problem, 1 unexpected.

\b
Card: --reader NAME|INDEX, or the first reader with a card.  With no reader at all
only 'card info' and 'pin status' use the built-in test card (and say so); every
other card command needs --emulated for it.

\b
Fallback switch (fails closed): the fallback is off when ANY of these says off:
JUKICARD_EMULATED_FALLBACK=off; "emulated_fallback = off" in the [connect]
section of /etc/jukicard/jukicard.conf (always read when it exists); the same in
the file JUKICARD_CONFIG names (read as well, not instead).  No source turns it
back on.  A named file that is missing, a system file that is a dangling link or
cannot be read, a file that is not a regular file, not UTF-8, that does not parse
or holds another section or key is a usage error (exit 2).

\b
--json outputs say which card was used: "card_source"."""


@click.group(cls=JukiGroup, context_settings=CONTEXT_SETTINGS, epilog=_EPILOG,
             help="My Number card / 住基カード tool: card info, PINs, certificates, "
             "signatures, validation.")
@click.version_option(__version__, "--version", message="jukicard %(version)s")
@click.option("--log-level", default="WARNING", show_default=True,
              type=click.Choice(_LEVELS, case_sensitive=False),
              help="log level: TRAFFIC, DEBUG, INFO, WARNING or ERROR; TRAFFIC logs every "
              "APDU (PINs and personal data redacted)")
def cli(log_level: str) -> None:
    _setup_logging(log_level.upper())


for _command in (reader.readers, reader.watch, card.card, pin.pin, cert.cert,
                 signature.signature, data.mynumber, data.basic_info, cardface.card_face,
                 sign.sign, emulator.emulator, bulk.bulk_verify, juki.juki, operator.operator):
    cli.add_command(_command)


# --------------------------------------------------------------------------- main
def _json_requested(args: Sequence[str]) -> bool:
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


@contextlib.contextmanager
def _warnings_to_log() -> Iterator[None]:
    """Python warnings (a library's deprecation notices) go to the log at DEBUG, not to the
    staff's terminal."""
    wlog = logging.getLogger("jukicard.cli.warnings")
    previous = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: object = None, line: str | None = None) -> None:
        wlog.debug("%s: %s (%s:%d)", category.__name__, message, filename, lineno)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


def _message(exc: BaseException, st: CliState) -> str:
    """The text for the operator: a wrong PIN is told by the name of the PIN asked."""
    if isinstance(exc, PinError) and not isinstance(exc, PinBlockedError) \
            and exc.retries_left is not None:
        request = getattr(st.interaction, "last_request", None)
        what = f"{pin_label(request.pin)}: " if request is not None else ""
        text = f"{what}wrong PIN, {tries_left_text(exc.retries_left)}"
        if exc.counter_implausible:
            text += (" (the card reported more tries left than this PIN allows; the "
                     "maximum is shown: the card may be damaged or not genuine)")
        return text
    if isinstance(exc, JukiError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _report(exc: BaseException, st: CliState) -> int:
    code, hint = exit_code_for(exc)
    text = _message(exc, st)
    notice(f"{text} ({hint})")
    if st.json:
        obj = error_json(exc, code, hint, text)
        if st.card_source is not None:
            obj["error"]["card_source"] = st.card_source.to_json()  # type: ignore[index]
        if st.fallback_refused:
            obj["error"]["fallback"] = "refused"  # type: ignore[index]
        st.stdout.json(obj)
    return code


_PLAIN_OPTION = re.compile(r"--?[A-Za-z][A-Za-z-]*")


def _click_option(exc: click.ClickException) -> str | None:
    """The option (or argument) a click usage error is about, for the error JSON."""
    param = getattr(exc, "param", None)
    if isinstance(param, click.Option):
        return max(param.opts, key=len)
    if isinstance(param, click.Parameter) and param.name:
        return param.name.upper()
    if isinstance(exc, click.NoSuchOption):
        return None  # the word typed is never repeated (it may be a PIN)
    name = getattr(exc, "option_name", None)
    return name if isinstance(name, str) and _PLAIN_OPTION.fullmatch(name) else None


def _help_command(exc: click.ClickException) -> str:
    """The command that lists the options the user could have meant."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if isinstance(ctx, click.Context) else "jukicard"
    return f"{path} --help"


def _safe_click_error(exc: click.ClickException) -> None:
    """Make a click usage error safe to show: an unknown option word — whatever it is
    made of: a 住基カード sign password is 4–16 letters, ``--abcd`` — or an unknown command
    word is never repeated, nor are suggestions made from it (a PIN may have been typed
    there); the message says how to see the options.  Control characters in any value are
    escaped."""
    if isinstance(exc, click.NoSuchOption):
        exc.message = (f"no such option ({NOT_REPEATED}); '{_help_command(exc)}' lists the "
                       "options")
        exc.possibilities = None
    elif isinstance(exc, NoSuchCommand):
        exc.message = f"no such command ({NOT_REPEATED})"
    exc.message = escape(exc.message)


def _run(args: list[str], st: CliState) -> int:
    try:
        with cli.make_context("jukicard", args, obj=st) as ctx:
            rc = cli.invoke(ctx)
        return int(rc or 0)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:  # click's own usage errors: exit 2
        _safe_click_error(exc)
        try:
            exc.show()
        except OSError:
            pass
        if st.json:
            usage = UsageError(exc.format_message())
            st.stdout.json(error_json(usage, exc.exit_code, "usage error",
                                      option=_click_option(exc)))
        return int(exc.exit_code)
    except (KeyboardInterrupt, click.Abort, EOFError) as exc:
        notice("interrupted")
        if st.json:
            st.stdout.json(error_json(exc, 130, "interrupted", "interrupted"))
        return 130
    except JukiError as exc:
        log.debug("command failed", exc_info=True)
        return _report(exc, st)
    except Exception as exc:  # noqa: BLE001 - last resort, traceback only at DEBUG
        log.debug("unexpected error", exc_info=True)
        return _report(exc, st)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``jukicard`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    st = CliState(json=_json_requested(args))
    with _warnings_to_log(), st.stdout.guard():
        code = _run(args, st)
    code, lost = st.stdout.finish(code)
    if lost:
        notice(lost)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
