"""Event types, snapshot diffing and the EventMonitor observer API."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jukicard.transport import events
from jukicard.transport.events import (
    CardInserted,
    CardRemoved,
    Event,
    EventMonitor,
    ReaderAdded,
    ReaderRemoved,
    ReaderState,
    diff_snapshots,
)

ATR = bytes.fromhex("3BE000FF8131FE4514")
ATR2 = bytes.fromhex("3BDA13FF8131FB468012392F31C173C601C03B")
EMPTY = ReaderState()


def card(atr: bytes = ATR, counter: int | None = None) -> ReaderState:
    return ReaderState(atr=atr, counter=counter)


def test_events_are_frozen_and_compare_by_value() -> None:
    e = CardInserted("R", bytearray(ATR))  # type: ignore[arg-type]
    assert e == CardInserted("R", ATR) and isinstance(e.atr, bytes)
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.reader = "other"  # type: ignore[misc]
    assert ReaderAdded("R") != ReaderRemoved("R")
    assert not EMPTY.card_present and card().card_present


def test_diff_from_nothing_reports_everything() -> None:
    new = {"B": EMPTY, "A": card()}
    assert diff_snapshots({}, new) == [ReaderAdded("A"), CardInserted("A", ATR), ReaderAdded("B")]


def test_diff_to_nothing() -> None:
    old = {"B": EMPTY, "A": card()}
    assert diff_snapshots(old, {}) == [CardRemoved("A"), ReaderRemoved("A"), ReaderRemoved("B")]


def test_diff_card_changes() -> None:
    old = {"A": card(), "B": EMPTY, "C": card(ATR)}
    new = {"A": EMPTY, "B": card(ATR2), "C": card(ATR2)}
    assert diff_snapshots(old, new) == [
        CardRemoved("A"),
        CardInserted("B", ATR2),
        CardRemoved("C"),
        CardInserted("C", ATR2),
    ]


def test_diff_unchanged_is_empty() -> None:
    snap = {"A": card(counter=3), "B": EMPTY}
    assert diff_snapshots(snap, dict(snap)) == []


def test_diff_swap_with_same_atr_detected_by_counter() -> None:
    assert diff_snapshots({"A": card(counter=1)}, {"A": card(counter=3)}) == [
        CardRemoved("A"), CardInserted("A", ATR)
    ]
    # no counter on one side: only the ATR can tell
    assert diff_snapshots({"A": card(counter=None)}, {"A": card(counter=3)}) == []


names = st.sampled_from(["R0", "R1", "R2", "R3"])
states = st.one_of(
    st.just(EMPTY),
    st.builds(ReaderState, atr=st.sampled_from([ATR, ATR2, b""]),
              counter=st.one_of(st.none(), st.integers(0, 3))),
)
snapshots = st.dictionaries(names, states)


def replay(snapshot: dict[str, ReaderState], evs: list[Event]) -> dict[str, bytes | None]:
    """Apply events to a {reader: atr-or-None} view."""
    view: dict[str, bytes | None] = {n: s.atr for n, s in snapshot.items()}
    for e in evs:
        if isinstance(e, ReaderAdded):
            assert e.name not in view
            view[e.name] = None
        elif isinstance(e, ReaderRemoved):
            assert view.pop(e.name) is None  # its card was reported removed first
        elif isinstance(e, CardInserted):
            assert view[e.reader] is None
            view[e.reader] = e.atr
        else:
            assert view[e.reader] is not None
            view[e.reader] = None
    return view


@given(snapshots, snapshots)
def test_diff_replays_to_new_snapshot(old: dict[str, ReaderState],
                                      new: dict[str, ReaderState]) -> None:
    evs = diff_snapshots(old, new)
    assert replay(old, evs) == {n: s.atr for n, s in new.items()}


def test_watch_forwards_to_pcsc(monkeypatch: pytest.MonkeyPatch) -> None:
    from jukicard.transport import pcsc_watch

    seen = {}

    def fake_watch(timeout, stop, *, initial, poll_interval):  # type: ignore[no-untyped-def]
        seen.update(timeout=timeout, stop=stop, initial=initial, poll=poll_interval)
        return iter([ReaderAdded("X")])

    monkeypatch.setattr(pcsc_watch, "watch", fake_watch)
    stop = threading.Event()
    assert list(events.watch(5, stop, initial=False, poll_interval=0.1)) == [ReaderAdded("X")]
    assert seen == {"timeout": 5, "stop": stop, "initial": False, "poll": 0.1}


def test_event_monitor_delivers_to_subscribers() -> None:
    release = threading.Event()

    def source(stop: threading.Event) -> Iterator[Event]:
        release.wait()
        yield ReaderAdded("R")
        yield CardInserted("R", ATR)
        stop.wait()

    got_a: list[Event] = []
    got_b: list[Event] = []
    done = threading.Event()

    def bad(event: Event) -> None:
        raise RuntimeError("observer bug")

    def b(event: Event) -> None:
        got_b.append(event)
        if isinstance(event, CardInserted):
            done.set()

    monitor = EventMonitor(source)
    with monitor:
        monitor.subscribe(got_a.append)
        monitor.subscribe(bad)
        unsubscribe = monitor.subscribe(b)
        release.set()
        assert done.wait(10)
        unsubscribe()
        unsubscribe()  # idempotent
    assert got_a == got_b == [ReaderAdded("R"), CardInserted("R", ATR)]
    assert monitor.error is None


def test_event_monitor_records_source_error() -> None:
    from jukicard.errors import ReaderUnavailableError

    def source(stop: threading.Event) -> Iterator[Event]:
        raise ReaderUnavailableError("pcscd down")
        yield  # pragma: no cover

    monitor = EventMonitor(source)
    monitor.subscribe(lambda e: None)
    monitor.stop(timeout=10)
    assert isinstance(monitor.error, ReaderUnavailableError)


class _NoPcsc:
    """A PC/SC seam that must not be reached: the arguments are refused first."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"PC/SC called ({name}) although the arguments are wrong")


@pytest.mark.parametrize(
    "timeout",
    [float("nan"), float("inf"), 1e308, 10**400, "5", True, -1, b"5"],
    ids=["nan", "inf", "1e308", "10**400", "str", "bool", "negative", "bytes"],
)
def test_watch_refuses_odd_timeouts_at_once(timeout: object) -> None:
    """Review of issue 8: ``watch(timeout=nan)`` or ``1e308`` never returned, ``"5"`` gave
    ``TypeError`` and ``10**400`` ``OverflowError`` (from the generator, once iterated).
    Now a :class:`UsageError` at the call, before any PC/SC call."""
    from jukicard.errors import UsageError
    from jukicard.transport import pcsc_watch

    with pytest.raises(UsageError, match="timeout"):
        events.watch(timeout)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="timeout"):
        pcsc_watch.watch(timeout, api=_NoPcsc())  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs", [{"poll_interval": float("nan")}, {"poll_interval": 0},
                                    {"poll_interval": 3600}, {"stop": "stop"}])
def test_watch_refuses_odd_poll_intervals_and_stops(kwargs: dict[str, object]) -> None:
    from jukicard.errors import UsageError
    from jukicard.transport import pcsc_watch

    with pytest.raises(UsageError):
        pcsc_watch.watch(1, api=_NoPcsc(), **kwargs)  # type: ignore[arg-type]


def test_watch_takes_the_largest_timeout_and_ints() -> None:
    """The bounds are inclusive; an ``int`` is as good as a ``float``."""
    from jukicard.transport import pcsc_watch

    assert pcsc_watch.check_seconds(pcsc_watch.MAX_TIMEOUT, "t",
                                    maximum=pcsc_watch.MAX_TIMEOUT) == pcsc_watch.MAX_TIMEOUT
    assert pcsc_watch.check_seconds(0, "t", maximum=1) == 0.0
    iterator = pcsc_watch.watch(10, api=_NoPcsc())  # nothing is called before iteration
    assert iter(iterator) is iterator
