"""Reader and card insertion/removal events.

The event types, the reader-state snapshot and :func:`diff_snapshots` are pure
(:mod:`jukicard.transport.readerstate`, re-exported here).  The PC/SC event source is
:func:`jukicard.transport.pcsc_watch.watch` (through the only module allowed to import
pyscard); :func:`watch` here forwards to it.  :class:`EventMonitor` is an observer API over
any event source.

Typical use::

    from jukicard.transport.events import watch, CardInserted
    for event in watch(timeout=30):
        if isinstance(event, CardInserted):
            print("card in", event.reader)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator

from jukicard.transport import pcsc_watch
from jukicard.transport.readerstate import (
    CardInserted,
    CardRemoved,
    Event,
    ReaderAdded,
    ReaderRemoved,
    ReaderState,
    Snapshot,
    diff_snapshots,
)

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


def watch(
    timeout: float | None = None,
    stop: threading.Event | None = None,
    *,
    initial: bool = True,
    poll_interval: float = 0.5,
) -> Iterator[Event]:
    """Yield reader and card events from PC/SC (see :func:`jukicard.transport.pcsc_watch.watch`).

    :param timeout: stop after this many seconds (``None``: run until ``stop`` is set).
    :param stop: set this event (from another thread) to end the generator within about
        ``poll_interval`` seconds.
    :param initial: first report what is already there (``ReaderAdded``/``CardInserted``).
    :param poll_interval: the longest single wait on the PC/SC service.
    :raises UsageError: (at once) ``timeout``/``poll_interval`` not a finite number of
        seconds in range (NaN, ``"5"``, ``1e308``, ``10**400``...), or ``stop`` not an event.
    :raises ReaderUnavailableError: pyscard is missing or the PC/SC service is down.
    """
    return pcsc_watch.watch(timeout, stop, initial=initial, poll_interval=poll_interval)


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
