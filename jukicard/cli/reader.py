"""``jukicard readers`` and ``jukicard watch``.

``watch`` prints one line per event (``--json``: one JSON object per line) until
interrupted or ``--timeout`` seconds have passed; for every inserted card it says what card
it is (by SELECTing applications: no PIN, no personal data).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Iterator

from jukicard.cli._common import json_parent, print_json
from jukicard.services.readers import ReaderInfo, WatchReport, reader_infos, watch_cards

__all__ = ["register", "cmd_readers", "cmd_watch", "format_report", "WATCH_SOURCE"]


def _pcsc_reports(timeout: float | None) -> Iterable[WatchReport]:
    return watch_cards(timeout=timeout)


#: Produces the reports ``watch`` prints: ``(timeout) -> iterable``.  Tests replace it.
WATCH_SOURCE: Callable[[float | None], Iterable[WatchReport]] = _pcsc_reports
#: Produces the reader list ``readers`` prints.  Tests replace it.
READERS_SOURCE: Callable[[], list[ReaderInfo]] = reader_infos


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "readers", parents=[json_parent()],
        help="list PC/SC readers (index, name, card present, ATR)",
        description="List the PC/SC readers; the index works with --reader.",
    )
    p.set_defaults(func=cmd_readers)
    p = subparsers.add_parser(
        "watch", parents=[json_parent()],
        help="print reader and card insert/remove events and what card it is",
        description="Watch readers: print insert/remove events and identify every card "
        "inserted (card type, applications).  Ctrl-C to stop.",
    )
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="stop after this many seconds (default: until interrupted)")
    p.set_defaults(func=cmd_watch)


def cmd_readers(args: argparse.Namespace) -> int:
    readers = READERS_SOURCE()
    if args.json:
        print_json({"readers": [r.to_json() for r in readers]})
        return 0
    if not readers:
        print("no reader attached", file=sys.stderr)
        return 0
    for r in readers:
        if r.card_present is None:
            state = "card: unknown"
        elif r.card_present:
            state = f"card present, ATR {r.atr.hex(' ').upper() if r.atr else '-'}"
        else:
            state = "no card"
        print(f"{r.index}: {r.name}  ({state})")
    return 0


def format_report(report: WatchReport) -> str:
    """One human-readable line for a watch event."""
    text = f"{report.event:<14} {report.reader}"
    if report.event == "card-inserted":
        if report.identity is not None:
            ident = report.identity
            text += f": {ident.card_type} ({', '.join(ident.applications) or 'no application'})"
            if ident.token:
                text += f", token {ident.token}"
        elif report.error is not None:
            text += f": not identified ({report.error})"
        if report.atr:
            text += f", ATR {report.atr.hex().upper()}"
    return text


def _reports(timeout: float | None) -> Iterator[WatchReport]:
    yield from WATCH_SOURCE(timeout)


def cmd_watch(args: argparse.Namespace) -> int:
    if args.timeout is not None and args.timeout < 0:
        from jukicard.errors import UsageError

        raise UsageError("--timeout must be >= 0")
    for report in _reports(args.timeout):
        if args.json:
            print(json.dumps(report.to_json(), ensure_ascii=False), flush=True)
        else:
            print(format_report(report), flush=True)
    return 0
