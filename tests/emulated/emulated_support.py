"""Helpers shared by the emulated session tests: test PINs, the PIN ledger, profile JSON
access and the :class:`Emulated` card-in-a-reader pair.

They live in a module of their own (not in ``conftest.py``) so that test modules import
them by a unique name: two ``conftest`` modules (emulated and integration) would otherwise
shadow each other depending on collection order.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jukicard.emulator.cardos import CardOS
from jukicard.emulator.profile import CardProfile, load_profile, resolve_profile_path
from jukicard.transport.loopback import LoopbackTransport

#: Test PINs of the synthetic cards (vectors/cards/README.md).  Test data only.
PINS = {
    "auth": "1234",
    "sign": "ABC123",
    "text": "1234",
    "juki_sign": "JK12",
    "juki": "1234",
}


@dataclass
class PinLedger:
    """Counts the PINs a test submits and the cards it made."""

    submitted: int = 0
    cards: list[CardOS] = field(default_factory=list)

    def submit(self, value: str) -> str:
        """Declare that ``value`` is a PIN the library should send to the card once."""
        self.submitted += 1
        return value

    def track(self, card: CardOS) -> None:
        """Count the VERIFY-with-data APDUs ``card`` receives (once per card)."""
        if not any(c is card for c in self.cards):
            self.cards.append(card)

    @property
    def delivered(self) -> int:
        return sum(card.stats.verify_with_data for card in self.cards)


_PROFILE_CACHE: dict[str, dict[str, Any]] = {}


def profile_json(name: str) -> dict[str, Any]:
    """A deep copy of the JSON of profile ``name`` (to modify in a test)."""
    if name not in _PROFILE_CACHE:
        path = resolve_profile_path(name)
        _PROFILE_CACHE[name] = json.loads(path.read_text(encoding="utf-8"))
    return copy.deepcopy(_PROFILE_CACHE[name])


def find_file(prof: dict[str, Any], app: str, fid: str) -> dict[str, Any]:
    """The file entry ``fid`` of application ``app`` in profile JSON ``prof``."""
    for a in prof["applications"]:
        if a["name"] == app:
            for f in a["files"]:
                if f["fid"].upper() == fid.upper():
                    return f
    raise KeyError((app, fid))


_LOADED: dict[str, CardProfile] = {}


def _load(name: str) -> CardProfile:
    if name not in _LOADED:
        _LOADED[name] = load_profile(name)
    return _LOADED[name]


@dataclass
class Emulated:
    """A card in a reader: the emulator and the loopback transport to it."""

    card: CardOS
    transport: LoopbackTransport

    @property
    def sent(self) -> list[bytes]:
        """Commands delivered so far (needs ``record=True``)."""
        return [c for c, _ in self.transport.transcript]


MakeCard = Callable[..., Emulated]


class ForeignTransport:
    """A transport that is none of jukicard's classes: it forwards to a loopback transport
    but carries no ``card_channel`` slot and counts no commands, and with ``__slots__`` and
    no ``__weakref__`` it cannot even be weak-referenced.  The card layer must never trust a
    cached selection on it."""

    __slots__ = ("inner",)

    def __init__(self, inner: LoopbackTransport) -> None:
        self.inner = inner

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        return self.inner.transmit(apdu)

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    @property
    def generation(self) -> int:
        return self.inner.generation

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        return self.inner.transaction()

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> ForeignTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PlainForeignTransport(ForeignTransport):
    """The same foreign transport, weak-referenceable (a subclass without ``__slots__``)."""
