"""``python -m jukicard.emulator``: serve an emulated card to vpcd.

::

    python -m jukicard.emulator --profile NAME|PATH [--host 127.0.0.1] [--port 35963]
        [--reconnect] [--short-apdu] [--atr HEX] [--challenge-seed N] [--log-level INFO]
        [--stats-file PATH]

Control from other processes (test helpers):

* ``SIGUSR1``: toggle card removed / inserted (removal closes the vpcd connection);
* ``SIGUSR2``: silent card reset (volatile state cleared; pcscd is not told);
* ``SIGTERM`` / ``SIGINT``: clean shutdown, exit status 0.

Each state change is printed to stdout as one flushed line ``jukicard-emulator: <event>``
(``connected``, ``disconnected``, ``removed``, ``inserted``, ``reset``, ``stopped``), so a
helper can wait for ``connected`` before starting.

With ``--stats-file PATH`` the card's counters (``CardStats.as_dict()``: ``apdus``,
``verify_with_data``, ...) are written to PATH as one JSON object at start and rewritten
atomically (temporary file + rename) after every APDU, before the response goes back to vpcd,
so a client that got a response can read counters that include its command.

Exit status: 0 on clean stop (or when vpcd goes away without ``--reconnect``), 1 if the
stats file cannot be written or vpcd cannot be reached, 2 on bad arguments: a profile that
cannot be loaded (missing, not a regular file, larger than
:data:`jukicard.emulator.profile.MAX_PROFILE_SIZE`, not a valid profile), a port outside
1–65535, an ATR that is not 2–33 bytes of hex starting with TS ``3B`` or ``3F``...
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Protocol

from jukicard.emulator.cardos import CardOS
from jukicard.emulator.profile import ProfileError, load_profile
from jukicard.emulator.vpcd import DEFAULT_HOST, DEFAULT_PORT, VpcdBridge

__all__ = ["parse_atr", "build_parser", "stats_writer",
           "main"]

log = logging.getLogger("jukicard.emulator")

#: Initial characters (TS) an ATR may start with: direct and inverse convention.
_ATR_TS = (0x3B, 0x3F)


def parse_atr(text: str) -> bytes:
    """An ATR given in hex (spaces and colons allowed): 2 to 33 bytes, TS ``3B`` or ``3F``.

    :raises ValueError: not hex, a length outside 2–33 bytes, another TS (the message says
        which).
    """
    try:
        atr = bytes.fromhex(text.replace(":", " "))
    except ValueError:
        raise ValueError("not valid hex") from None
    if not 2 <= len(atr) <= 33:
        raise ValueError(f"an ATR is 2 to 33 bytes, not {len(atr)}")
    if atr[0] not in _ATR_TS:
        raise ValueError("an ATR starts with TS 3B or 3F")
    return atr


def _port(value: str) -> int:
    """A TCP port number, 1–65535 (argparse turns the error into exit status 2)."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is outside 1-65535")
    return port


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jukicard.emulator",
                                description="Serve an emulated JPKI / My Number card to vpcd.")
    p.add_argument("--profile", required=True,
                   help="card profile: a bare name (vectors/cards/NAME.json) or a path")
    p.add_argument("--host", default=DEFAULT_HOST, help="vpcd host (default %(default)s)")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT,
                   help="vpcd port, 35963 + slot (default %(default)s)")
    p.add_argument("--reconnect", action="store_true",
                   help="reconnect in a loop when vpcd is not up or goes away")
    p.add_argument("--short-apdu", action="store_true",
                   help="refuse extended-length APDUs with 6700 (overrides the profile)")
    p.add_argument("--atr", help="ATR in hex, 2-33 bytes starting with 3B or 3F (overrides "
                   "the profile)")
    p.add_argument("--challenge-seed", type=int, help="make GET CHALLENGE deterministic")
    p.add_argument("--log-level", default=None,
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="the emulator's log level (default WARNING)")
    p.add_argument("--stats-file", metavar="PATH", type=Path,
                   help="keep the card's counters (JSON) in PATH, rewritten after every APDU")
    return p


def stats_writer(card: CardOS, path: Path) -> Callable[[bytes, bytes], None]:
    """A ``command_log`` hook that rewrites ``path`` with ``card.stats`` (JSON, atomic).

    Writes the file once right away.  The hook ignores the APDU bytes (they may hold a PIN).

    :raises OSError: the file cannot be written now.
    """
    tmp = path.with_name(path.name + ".tmp")
    lock = threading.Lock()

    def write(_command: bytes = b"", _response: bytes = b"") -> None:
        with lock:
            tmp.write_text(json.dumps(card.stats.as_dict()), encoding="utf-8")
            os.replace(tmp, path)

    write()
    return write


def main(argv: Sequence[str] | None = None, *,
         render: Callable[[str], str] | None = None) -> int:
    """Serve the card; returns the exit status (see the module docstring).

    :param argv: the arguments (default ``sys.argv[1:]``).
    :param render: applied to every operator line (events on stdout, errors on stderr)
        before it is printed: ``jukicard emulator serve`` passes the CLI's terminal escaping
        (:func:`jukicard.cli._text.escape`); default: the line as it is (file names in it
        are already quoted with ``repr``).
    """
    args = build_parser().parse_args(argv)
    shown = render or str

    said = threading.RLock()  # re-entrant: a signal handler may interrupt a say()

    def say(line: str, *, error: bool = False) -> None:
        # one write per line under a lock: the signal handler ("inserted") and the serving
        # thread ("connected") emit at once, and print() writes the text and the newline
        # separately, so two lines could run together
        stream = sys.stderr if error else sys.stdout
        with said:
            stream.write(shown(f"jukicard-emulator: {line}") + "\n")
            stream.flush()
    logging.basicConfig(level=args.log_level or "WARNING", stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.log_level is not None:  # also under 'jukicard emulator serve' (logging set up)
        log.setLevel(args.log_level)
    try:
        atr = parse_atr(args.atr) if args.atr is not None else None
    except ValueError as exc:
        say(f"--atr: {exc}", error=True)
        return 2
    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:  # a usage error: the operator named a wrong profile
        say(f"--profile: {exc}", error=True)
        return 2
    card = CardOS(profile, extended_length=False if args.short_apdu else None, atr=atr,
                  challenge_seed=args.challenge_seed)
    if args.stats_file is not None:
        try:
            card.command_log = stats_writer(card, args.stats_file)
        except OSError as exc:
            say(f"--stats-file: {exc.strerror or exc}", error=True)
            return 1

    bridge = VpcdBridge(card, args.host, args.port, reconnect=args.reconnect, on_event=say)
    log.info("card %s on vpcd %s:%d", card.profile.name, args.host, args.port)
    if hasattr(signal, "sigwait") and hasattr(signal, "SIGUSR1"):
        return _run_with_sigwait(bridge, say)
    return _run_with_handlers(bridge, say)


_SIGNALS = ("SIGTERM", "SIGINT", "SIGUSR1", "SIGUSR2")


class _Say(Protocol):
    def __call__(self, line: str, *, error: bool = False) -> None: ...


def _run_with_sigwait(bridge: VpcdBridge, say: _Say) -> int:
    """POSIX: the bridge runs in a worker thread; the main thread takes signals with
    ``sigwait``, outside any signal handler, so control calls never re-enter a lock the
    interrupted code holds (an ``Event.set`` inside a handler can self-deadlock)."""
    sigs = {getattr(signal, n) for n in _SIGNALS}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)  # inherited by the worker thread
    main_ident = threading.get_ident()
    outcome: list[BaseException | None] = []

    def work() -> None:
        try:
            bridge.run()
            outcome.append(None)
        except BaseException as exc:  # reported by the main thread
            outcome.append(exc)
        finally:
            signal.pthread_kill(main_ident, signal.SIGTERM)  # wake sigwait

    worker = threading.Thread(target=work, name="vpcd-bridge")
    worker.start()
    while True:
        sig = signal.sigwait(sigs)
        if sig == signal.SIGUSR1:
            bridge.toggle()
        elif sig == signal.SIGUSR2:
            bridge.reset()
        else:
            break
    bridge.stop()
    worker.join()
    exc = outcome[0] if outcome else None
    if isinstance(exc, ConnectionError):
        say(str(exc), error=True)
        return 1
    if exc is not None:
        raise exc
    return 0


def _run_with_handlers(bridge: VpcdBridge, say: _Say) -> int:
    """Fallback without ``sigwait`` (non-POSIX): stop on SIGTERM/SIGINT only."""

    def on_stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=bridge.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    try:
        bridge.run()
    except ConnectionError as exc:
        say(str(exc), error=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
