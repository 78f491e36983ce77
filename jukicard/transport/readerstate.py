"""Reader and card events and reader-state snapshots: pure data, no PC/SC.

:mod:`jukicard.transport.events` re-exports everything here and adds the PC/SC
:func:`~jukicard.transport.events.watch` and :class:`~jukicard.transport.events.EventMonitor`.
"""

from __future__ import annotations

from collections.abc import Mapping
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
]


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
