"""``jukicard readers`` and ``jukicard watch``.

``watch`` prints one line per event (``--json``: one JSON object per line) until
interrupted or ``--timeout`` seconds have passed; for every inserted card it says what card
it is (by SELECTing applications: no PIN, no personal data).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import click

from jukicard.cli._common import JukiCommand, json_option, notice, out
from jukicard.cli._text import escape

if TYPE_CHECKING:
    from jukicard.services.readers import ReaderInfo, WatchReport

__all__ = ["readers", "watch", "format_report", "WATCH_SOURCE", "READERS_SOURCE"]


def _pcsc_reports(timeout: float | None) -> Iterable[WatchReport]:
    from jukicard.services.readers import watch_cards

    return watch_cards(timeout=timeout)


def _pcsc_readers() -> list[ReaderInfo]:
    from jukicard.services.readers import reader_infos

    return reader_infos()


#: Produces the reports ``watch`` prints: ``(timeout) -> iterable``.  Tests replace it.
WATCH_SOURCE: Callable[[float | None], Iterable[WatchReport]] = _pcsc_reports
#: Produces the reader list ``readers`` prints.  Tests replace it.
READERS_SOURCE: Callable[[], list[ReaderInfo]] = _pcsc_readers


@click.command("readers", cls=JukiCommand,
               help="List the PC/SC readers; the index works with --reader.",
               short_help="list PC/SC readers (index, name, card present, ATR)")
@json_option()
def readers(as_json: bool) -> int:
    infos = READERS_SOURCE()
    if as_json:
        out().json({"readers": [r.to_json() for r in infos]})
        return 0
    if not infos:
        notice("no reader attached")
        return 0
    for r in infos:
        if r.card_present is None:
            state = "card: unknown"
        elif r.card_present:
            state = f"card present, ATR {r.atr.hex(' ').upper() if r.atr else '-'}"
        else:
            state = "no card"
        out().text(escape(f"{r.index}: {r.name}  ({state})"))
    return 0


def format_report(report: WatchReport) -> str:
    """One human-readable line for a watch event (escaped: a reader name or an error may
    hold control characters)."""
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
    return escape(text)


def _timeout(_ctx: click.Context, _param: click.Parameter, value: float | None) -> float | None:
    if value is not None and (not math.isfinite(value) or value < 0):
        raise click.BadParameter("must be a finite number of seconds >= 0")
    return value


@click.command("watch", cls=JukiCommand,
               help="Watch readers: print insert/remove events and identify every "
               "card inserted (card type, applications).  Ctrl-C to stop.",
               short_help="print reader and card insert/remove events and what card it is")
@json_option()
@click.option("--timeout", type=float, default=None, metavar="SECONDS", callback=_timeout,
              help="stop after this many seconds (default: until interrupted)")
def watch(as_json: bool, timeout: float | None) -> int:
    stdout = out()
    for report in WATCH_SOURCE(timeout):
        if as_json:
            stdout.json(report.to_json(), indent=None)
        else:
            stdout.text(format_report(report))
        stdout.flush()
        if stdout.failed is not None:  # nobody reads the events any more
            break
    return 0
