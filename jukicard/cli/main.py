"""The ``jukicard`` command: subcommand groups, one error → exit-code map.

Each area registers its subcommands from its own module (``jukicard/cli/<area>.py``
exposing ``register(subparsers)``); this module holds only the top-level parser, the common
options and the error mapping.  Card logic never lives here.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from jukicard import __version__
from jukicard.errors import (
    CardError,
    DataIntegrityError,
    JukiError,
    PinBlockedError,
    PinError,
    TransportError,
    UsageError,
    ValidationError,
)

log = logging.getLogger("jukicard.cli")

#: Modules under jukicard.cli that add subcommands, in help order.
COMMAND_MODULES: tuple[str, ...] = (
    "reader", "card", "pin", "cert", "signature", "data", "sign", "emulator",
)

#: First isinstance match wins.  0 = success, 1 = unexpected error.
EXIT_CODES: tuple[tuple[type[BaseException], int, str], ...] = (
    (UsageError, 2, "usage error"),
    (PinBlockedError, 3, "PIN is blocked: the resident must reset it at the municipal counter"),
    (PinError, 3, "wrong PIN"),
    # before CardError (it is a BadResponse): the data read does not match the card's own
    # signature — a failed check, not a refusal
    (DataIntegrityError, 5, "the card's data does not match its signature: it may have "
     "been tampered with"),
    (CardError, 4, "the card refused the operation"),
    (ValidationError, 5, "validation failed"),
    (TransportError, 6, "reader or card problem: check the card is placed on the reader"),
)


def exit_code_for(exc: BaseException) -> tuple[int, str]:
    """Map an exception to ``(exit code, hint for the operator)``."""
    for cls, code, hint in EXIT_CODES:
        if isinstance(exc, cls):
            return code, hint
    return 1, "unexpected error, see the log (--log-level DEBUG)"


def error_json(exc: BaseException, code: int, hint: str) -> dict[str, object]:
    """The ``{"error": {...}}`` object printed on stdout for ``--json`` runs that fail.

    Carries the facts scripts act on: the exit code, the error class, the status word, the
    tries left, the validation reason.  Like the text message, it never holds a PIN or
    personal data.
    """
    err: dict[str, object] = {
        "exit_code": code,
        "type": type(exc).__name__,
        "message": str(exc),
        "hint": hint,
    }
    for attr in ("sw", "retries_left", "reason", "revocation_reason", "pcsc_name"):
        value = getattr(exc, attr, None)
        if value is not None:
            err[attr] = f"{value:04X}" if attr == "sw" and isinstance(value, int) else value
    revoked_at = getattr(exc, "revoked_at", None)
    if revoked_at is not None:
        err["revoked_at"] = revoked_at.isoformat()
    return {"error": err}


def _report(args: argparse.Namespace, exc: BaseException, text: str) -> int:
    code, hint = exit_code_for(exc)
    print(f"jukicard: {text} ({hint})", file=sys.stderr)
    if getattr(args, "json", False):
        import json

        print(json.dumps(error_json(exc, code, hint), ensure_ascii=False, indent=2))
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jukicard",
        description="My Number card / 住基カード tool: card info, PINs, certificates, "
        "signatures, validation.",
    )
    parser.add_argument("--version", action="version", version=f"jukicard {__version__}")
    parser.add_argument(
        "--log-level",
        default="WARNING",
        type=str.upper,
        choices=["TRAFFIC", "DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level; TRAFFIC logs every APDU (PINs and personal data redacted)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"jukicard.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"jukicard.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def _setup_logging(level: str) -> None:
    from jukicard.transport.tracing import TRAFFIC  # registers the level name

    logging.basicConfig(
        level=TRAFFIC if level == "TRAFFIC" else getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _setup_logging(args.log_level)
    except ImportError:
        logging.basicConfig(level=logging.WARNING)
    try:
        rc = args.func(args)
        return int(rc or 0)
    except KeyboardInterrupt:
        print("jukicard: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except JukiError as exc:
        log.debug("command failed", exc_info=True)
        return _report(args, exc, str(exc))
    except Exception as exc:  # noqa: BLE001 - last resort, traceback only at DEBUG
        log.debug("unexpected error", exc_info=True)
        return _report(args, exc, f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
