"""Reader and card insertion/removal events.

This module is pure: the event types, the reader-state snapshot, :func:`diff_snapshots`
(two snapshots → events) and :class:`EventMonitor`, an observer API over any event source.
The PC/SC event source itself, :func:`jukicard.transport.pcsc.watch`, lives in ``pcsc.py``
(the only module allowed to import pyscard); :func:`watch` here forwards to it.

Typical use::

    from jukicard.transport.events import watch, CardInserted
    for event in watch(timeout=30):
        if isinstance(event, CardInserted):
            print("card in", event.reader)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Union

__all__ = [
    "ReaderAdded",
    "ReaderRemoved",
    "CardInserted",
    "CardRemoved",
    "Event",
    "ReaderState",
    "Snapshot",
    "diff_snapshots",
    "watch",
    "EventMonitor",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReaderAdded:
    """A reader was plugged in (or was already there when watching started)."""

    name: str


@dataclass(frozen=True)
class ReaderRemoved:
    """A reader was unplugged."""

    name: str


@dataclass(frozen=True)
class CardInserted:
    """A card is now present in ``reader`` (``atr`` may be empty for a mute card)."""

    reader: str
    atr: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "atr", bytes(self.atr))


@dataclass(frozen=True)
class CardRemoved:
    """The card left ``reader``."""

    reader: str


Event = Union[ReaderAdded, ReaderRemoved, CardInserted, CardRemoved]  # noqa: UP007 (runtime alias, py3.10)


@dataclass(frozen=True)
class ReaderState:
    """What one reader looked like at one moment.

    :param atr: the ATR of the card present, or ``None`` when the reader is empty.
    :param counter: the service's card event counter for this reader, if it has one
        (pcsc-lite keeps it in the upper 16 bits of the event state and bumps it on every
        insertion and removal).  A change while a card is present in both snapshots means the
        card was swapped between two polls, even if the ATRs are identical.
    """

    atr: bytes | None = None
    counter: int | None = None

    def __post_init__(self) -> None:
        if self.atr is not None:
            object.__setattr__(self, "atr", bytes(self.atr))

    @property
    def card_present(self) -> bool:
        return self.atr is not None


#: reader name → its state.
Snapshot = Mapping[str, ReaderState]


def diff_snapshots(old: Snapshot, new: Snapshot) -> list[Event]:
    """The events that turn snapshot ``old`` into snapshot ``new``.

    Order is deterministic: readers that disappeared (their card first, then the reader),
    then readers present in both (card removed before card inserted), then new readers
    (the reader first, then its card); each group sorted by reader name.

    :param old: the earlier snapshot (``{}`` to report everything in ``new`` as new).
    :param new: the later snapshot.
    """
    events: list[Event] = []
    for name in sorted(set(old) - set(new)):
        if old[name].card_present:
            events.append(CardRemoved(name))
        events.append(ReaderRemoved(name))
    for name in sorted(set(old) & set(new)):
        before, after = old[name], new[name]
        if before.card_present and after.card_present:
            swapped = before.atr != after.atr or (
                before.counter is not None
                and after.counter is not None
                and before.counter != after.counter
            )
            if swapped:
                events.append(CardRemoved(name))
                events.append(CardInserted(name, after.atr or b""))
        elif before.card_present:
            events.append(CardRemoved(name))
        elif after.card_present:
            events.append(CardInserted(name, after.atr or b""))
    for name in sorted(set(new) - set(old)):
        events.append(ReaderAdded(name))
        if new[name].card_present:
            events.append(CardInserted(name, new[name].atr or b""))
    return events


def watch(
    timeout: float | None = None,
    stop: threading.Event | None = None,
    *,
    initial: bool = True,
    poll_interval: float = 0.5,
) -> Iterator[Event]:
    """Yield reader and card events from PC/SC (see :func:`jukicard.transport.pcsc.watch`).

    :param timeout: stop after this many seconds (``None``: run until ``stop`` is set).
    :param stop: set this event (from another thread) to end the generator within about
        ``poll_interval`` seconds.
    :param initial: first report what is already there (``ReaderAdded``/``CardInserted``).
    :param poll_interval: the longest single wait on the PC/SC service.
    :raises ReaderUnavailableError: pyscard is missing or the PC/SC service is down.
    """
    from jukicard.transport import pcsc

    return pcsc.watch(timeout, stop, initial=initial, poll_interval=poll_interval)


EventSource = Callable[[threading.Event], Iterable[Event]]


class EventMonitor:
    """Observer API over an event source, in the spirit of pyscard's ``CardMonitor``.

    A background thread runs the source and calls every subscriber with each event.  A
    subscriber that raises is logged and stays subscribed; the others still get the event.

    :param source: a callable taking a ``threading.Event`` (set to stop) and returning an
        iterable of events; by default PC/SC :func:`watch` with ``initial=True``.
    """

    def __init__(self, source: EventSource | None = None) -> None:
        self._source: EventSource = source or (lambda stop: watch(stop=stop))
        self._callbacks: list[Callable[[Event], None]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: the exception that ended the source, if any.
        self.error: Exception | None = None

    def subscribe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; starts the monitor thread if needed.

        :returns: a function that unsubscribes ``callback``.
        """
        with self._lock:
            self._callbacks.append(callback)
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._run, name="jukicard-event-monitor", daemon=True
                )
                self._thread.start()

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def _run(self) -> None:
        try:
            for event in self._source(self._stop):
                if self._stop.is_set():
                    break
                with self._lock:
                    callbacks = list(self._callbacks)
                for callback in callbacks:
                    try:
                        callback(event)
                    except Exception:  # a bad observer must not kill the monitor
                        log.exception("event subscriber %r failed", callback)
        except Exception as exc:
            self.error = exc
            log.warning("event source ended with an error: %s", exc)

    def stop(self, timeout: float | None = None) -> None:
        """Stop the monitor thread and wait for it (at most ``timeout`` seconds)."""
        self._stop.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def __enter__(self) -> EventMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
