"""Readers and card events: ``readers`` and ``watch``.

:func:`watch_cards` turns transport events (:mod:`jukicard.transport.events`) into
:class:`WatchReport` objects and, when a card is inserted, identifies it (card type and
applications, by SELECT — no PIN, no personal data).  Both the event source and the
identification are injectable, so tests drive it with a scripted event list.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from jukicard.card.detect import open_card
from jukicard.errors import JukiError
from jukicard.services.connect import traced
from jukicard.transport.base import Transport
from jukicard.transport.events import CardInserted, CardRemoved, Event, ReaderAdded, ReaderRemoved
from jukicard.transport.events import watch as _pcsc_watch
from jukicard.transport.pcsc import PcscTransport, list_readers

__all__ = [
    "ReaderInfo",
    "CardIdentity",
    "WatchReport",
    "reader_infos",
    "identify_card",
    "identify_card_in",
    "watch_cards",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReaderInfo:
    """One PC/SC reader.

    :ivar card_present: ``None`` if the state could not be read.
    """

    index: int
    name: str
    card_present: bool | None = None
    atr: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "card_present": self.card_present,
            "atr": None if self.atr is None else self.atr.hex().upper(),
        }


def reader_infos(
    lister: Callable[[], list[str]] = list_readers,
    events: Callable[[], Iterable[Event]] | None = None,
) -> list[ReaderInfo]:
    """The readers attached now, with card presence and ATR where PC/SC tells it.

    :param lister: returns the reader names (default: PC/SC).
    :param events: returns the current state as initial events (default: one PC/SC
        status poll, ``watch(timeout=0)``).
    :raises ReaderUnavailableError: pyscard missing or the PC/SC service is down.
    """
    names = lister()
    present: dict[str, bytes] = {}
    known = False
    try:
        source = events() if events is not None else _pcsc_watch(timeout=0, initial=True)
        for event in source:
            if isinstance(event, CardInserted):
                present[event.reader] = event.atr
        known = True
    except JukiError as exc:  # presence is a bonus; the names are what matters
        log.debug("could not read reader states: %s", exc)
    return [
        ReaderInfo(i, name, (name in present) if known else None, present.get(name))
        for i, name in enumerate(names)
    ]


@dataclass(frozen=True)
class CardIdentity:
    """What :func:`open_card` found in a reader."""

    card_type: str
    applications: tuple[str, ...]
    token: str | None = None


def identify_card(transport: Transport) -> CardIdentity:
    """Identify the card on ``transport`` (SELECTs only; logs out any PIN).

    :raises JukiError: the card cannot be reached or is not one we know.
    """
    card = open_card(transport)
    return CardIdentity(
        card.card_type.value,
        tuple(sorted(a.name for a in card.applications)),
        card.token.token if card.token is not None else None,
    )


def identify_card_in(reader: str) -> CardIdentity:
    """Connect to ``reader`` and identify the card (SELECTs only; logs out any PIN).

    :raises JukiError: the card cannot be reached or is not one we know.
    """
    with PcscTransport(reader, reset_on_close=False) as transport:
        return identify_card(traced(transport))


@dataclass(frozen=True)
class WatchReport:
    """One line of ``watch`` output.

    :ivar event: ``"reader-added"``, ``"reader-removed"``, ``"card-inserted"`` or
        ``"card-removed"``.
    :ivar identity: for ``card-inserted``, what the card is (``None`` if it could not be
        identified; :attr:`error` says why).
    """

    event: str
    reader: str
    atr: bytes | None = None
    identity: CardIdentity | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.event, "reader": self.reader}
        if self.atr is not None:
            out["atr"] = self.atr.hex().upper()
        if self.identity is not None:
            out["card_type"] = self.identity.card_type
            out["applications"] = list(self.identity.applications)
            out["token"] = self.identity.token
        if self.error is not None:
            out["error"] = self.error
        return out


def _report(event: Event, identify: Callable[[str], CardIdentity] | None) -> WatchReport:
    if isinstance(event, ReaderAdded):
        return WatchReport("reader-added", event.name)
    if isinstance(event, ReaderRemoved):
        return WatchReport("reader-removed", event.name)
    if isinstance(event, CardRemoved):
        return WatchReport("card-removed", event.reader)
    if isinstance(event, CardInserted):
        if identify is None:
            return WatchReport("card-inserted", event.reader, event.atr)
        try:
            identity = identify(event.reader)
        except JukiError as exc:
            return WatchReport("card-inserted", event.reader, event.atr, error=str(exc))
        return WatchReport("card-inserted", event.reader, event.atr, identity)
    raise TypeError(f"not a reader event: {event!r}")


def watch_cards(
    events: Iterable[Event] | None = None,
    *,
    identify: Callable[[str], CardIdentity] | None = identify_card_in,
    timeout: float | None = None,
    stop: threading.Event | None = None,
) -> Iterator[WatchReport]:
    """Report reader and card events, identifying each inserted card.

    :param events: the event source (default: PC/SC :func:`~jukicard.transport.events.watch`
        with the readers and cards already present reported first).
    :param identify: reader name → :class:`CardIdentity` (``None``: do not identify).
        Its errors become :attr:`WatchReport.error`; they do not stop the watch.
    :param timeout: / :param stop: passed to the default PC/SC event source.
    :raises ReaderUnavailableError: pyscard missing or the PC/SC service is down.
    """
    source = events if events is not None else _pcsc_watch(timeout=timeout, stop=stop)
    for event in source:
        report = _report(event, identify)
        log.debug("watch: %s %r", report.event, report.reader)
        yield report
