"""The PC/SC event source: reader and card insertion/removal as :mod:`~jukicard.transport.events`.

Built on ``SCardGetStatusChange`` through :mod:`jukicard.transport.pcsc`'s pyscard seam (this
module itself never imports pyscard).  :func:`jukicard.transport.events.watch` forwards here.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from jukicard.errors import UsageError
from jukicard.transport.pcsc import (
    PNP_NOTIFICATION,
    ReaderStateTuple,
    ScardApi,
    _establish,
    _list,
    _release,
    _to_bytes,
    default_api,
)
from jukicard.transport.pcsc_codes import (
    SCARD_E_CANCELLED,
    SCARD_E_READER_UNAVAILABLE,
    SCARD_E_TIMEOUT,
    SCARD_E_UNKNOWN_READER,
    SCARD_S_SUCCESS,
    SCARD_STATE_CHANGED,
    SCARD_STATE_IGNORE,
    SCARD_STATE_PRESENT,
    SCARD_STATE_UNAVAILABLE,
    SCARD_STATE_UNAWARE,
    SCARD_STATE_UNKNOWN,
    map_pcsc_error,
)
from jukicard.transport.readerstate import Event, ReaderState, Snapshot, diff_snapshots

__all__ = ["watch", "MAX_TIMEOUT", "MAX_POLL_INTERVAL", "check_seconds"]

log = logging.getLogger(__name__)

#: Longest ``timeout`` :func:`watch` accepts, in seconds (one week).  To watch for longer,
#: pass ``timeout=None`` and end the watch with ``stop``.
MAX_TIMEOUT = 7 * 24 * 3600.0
#: Longest single wait on the PC/SC service :func:`watch` accepts, in seconds.
MAX_POLL_INTERVAL = 60.0


def check_seconds(value: object, name: str, *, maximum: float, positive: bool = False) -> float:
    """A duration argument as a float, or a :class:`~jukicard.errors.UsageError`.

    :param value: an ``int`` or ``float`` (not a ``bool``, not a string).
    :param name: the argument's name, for the message.
    :param maximum: the largest value accepted.
    :param positive: refuse 0 too.
    :raises UsageError: not a number, NaN, infinite, negative (or 0 with ``positive``), or
        above ``maximum`` (a huge value like ``1e308`` would never end, and ``10**400``
        cannot even be a float).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{name} must be a number of seconds, got a {type(value).__name__}")
    if isinstance(value, int) and abs(value) > maximum:
        raise UsageError(f"{name} must be at most {maximum:g} seconds")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0 or (positive and seconds == 0):
        low = "> 0" if positive else ">= 0"
        raise UsageError(f"{name} must be a finite number of seconds {low}")
    if seconds > maximum:
        raise UsageError(f"{name} must be at most {maximum:g} seconds")
    return seconds


def _snapshot(
    readers: Sequence[str], states: dict[str, int], atrs: dict[str, bytes]
) -> dict[str, ReaderState]:
    snap: dict[str, ReaderState] = {}
    for name in readers:
        state = states.get(name, SCARD_STATE_UNAWARE)
        if state == SCARD_STATE_UNAWARE or state & (SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE):
            continue  # not polled yet, or gone
        present = bool(state & SCARD_STATE_PRESENT)
        snap[name] = ReaderState(
            atr=atrs.get(name, b"") if present else None, counter=(state >> 16) & 0xFFFF
        )
    return snap


def watch(
    timeout: float | None = None,
    stop: threading.Event | None = None,
    *,
    initial: bool = True,
    poll_interval: float = 0.5,
    api: ScardApi | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Event]:
    """Yield :mod:`~jukicard.transport.events` as readers and cards come and go.

    Built on ``SCardGetStatusChange``, with the ``\\\\?PnP?\\Notification`` pseudo-reader
    for reader changes (falls back to re-listing readers every ``poll_interval`` where the
    service does not support it).  The generator holds its own PC/SC context and releases
    it when it ends or is closed.

    :param timeout: end after this many seconds (``None``: until ``stop`` is set).
    :param stop: set it from another thread to end the generator within ``poll_interval``.
    :param initial: first report the readers and cards already present.
    :param poll_interval: longest single wait on the service, in seconds.
    :param api: the PC/SC seam (default: pyscard).
    :raises UsageError: (at once, before any PC/SC call) ``timeout`` or ``poll_interval``
        is not a finite number of seconds in range (see :func:`check_seconds`,
        :data:`MAX_TIMEOUT`, :data:`MAX_POLL_INTERVAL`), or ``stop`` is not an event.
    :raises ReaderUnavailableError: pyscard is missing or the PC/SC service is down.
    """
    if timeout is not None:
        timeout = check_seconds(timeout, "timeout", maximum=MAX_TIMEOUT)
    poll_interval = check_seconds(poll_interval, "poll_interval", maximum=MAX_POLL_INTERVAL,
                                  positive=True)
    if stop is not None and not callable(getattr(stop, "is_set", None)):
        raise UsageError(f"stop must be a threading.Event, got a {type(stop).__name__}")
    return _watch(timeout, stop, initial=initial, poll_interval=poll_interval, api=api,
                  sleep=sleep, clock=clock)


def _watch(
    timeout: float | None,
    stop: threading.Event | None,
    *,
    initial: bool,
    poll_interval: float,
    api: ScardApi | None,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> Iterator[Event]:
    """The event generator of :func:`watch` (arguments already checked)."""
    api = api or default_api()
    context = _establish(api)
    try:
        deadline = None if timeout is None else clock() + timeout
        readers: list[str] = []
        states: dict[str, int] = {}
        atrs: dict[str, bytes] = {}
        pnp_supported = True
        pnp_state = SCARD_STATE_UNAWARE
        need_list = True
        previous: Snapshot | None = {} if initial else None
        first = True
        while True:
            if stop is not None and stop.is_set():
                return
            remaining = None if deadline is None else deadline - clock()
            if remaining is not None and remaining <= 0 and not first:
                return
            wait = poll_interval if remaining is None else max(0.0, min(poll_interval, remaining))
            if need_list:
                readers = _list(api, context)
                states = {r: states.get(r, SCARD_STATE_UNAWARE) for r in readers}
                atrs = {r: a for r, a in atrs.items() if r in states}
                need_list = False
            query = [(r, states[r]) for r in readers]
            if pnp_supported:
                query.append((PNP_NOTIFICATION, pnp_state))
            result: list[ReaderStateTuple] = []
            if not query:
                sleep(wait)
                need_list = True
                code = SCARD_E_TIMEOUT
            else:
                code, result = api.get_status_change(context, int(wait * 1000), query)
            if code in (SCARD_E_UNKNOWN_READER, SCARD_E_READER_UNAVAILABLE):
                need_list = True  # a reader vanished while we were about to wait on it
                continue
            if code == SCARD_E_CANCELLED:
                return
            if code not in (SCARD_S_SUCCESS, SCARD_E_TIMEOUT):
                raise map_pcsc_error(code, "SCardGetStatusChange")
            for entry in result if code == SCARD_S_SUCCESS else []:
                name, event_state = str(entry[0]), int(entry[1])
                atr = entry[2] if len(entry) > 2 else []
                if name == PNP_NOTIFICATION:
                    if event_state & SCARD_STATE_UNKNOWN:
                        log.debug("PnP notification not supported; polling the reader list")
                        pnp_supported = False
                    elif event_state & SCARD_STATE_CHANGED:
                        need_list = True
                    pnp_state = event_state & ~SCARD_STATE_CHANGED
                    continue
                if name not in states:
                    continue
                states[name] = event_state & ~SCARD_STATE_CHANGED
                atrs[name] = _to_bytes(atr or [], "ATR")
                if event_state & (SCARD_STATE_UNKNOWN | SCARD_STATE_UNAVAILABLE):
                    need_list = True
            if not pnp_supported:
                need_list = True
            snapshot = _snapshot(readers, states, atrs)
            if previous is None:
                previous = snapshot
            else:
                events = diff_snapshots(previous, snapshot)
                previous = snapshot
                for event in events:
                    yield event
                    if stop is not None and stop.is_set():
                        return
            first = False
    finally:
        _release(api, context)
