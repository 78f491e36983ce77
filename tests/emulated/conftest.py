"""Fixtures for session tests against the in-process emulator (``CardOS`` behind a
``LoopbackTransport``).

The PIN invariant
-----------------
PIN retry counters are sacred: the library must send VERIFY with data exactly once per PIN a
caller gave it, never on its own.  Every emulated test therefore runs under the autouse
:func:`pin_ledger` fixture: tests hand every PIN they expect to reach the card through
``pins.submit(value)``, and at teardown the fixture asserts, for every card the test made
with :func:`make_card`, that the VERIFY-with-data APDUs the cards received
(``card.stats.verify_with_data``) equal the PINs submitted.  A PIN the library must refuse
before sending (wrong length...) is passed *without* ``submit``.

Profiles are the synthetic test cards in ``vectors/cards/`` (PINs in its README, mirrored in
:data:`PINS`), loaded by the emulator's ``load_profile`` (``$JUKICARD_PROFILE_DIR``
overrides the directory).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

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


@pytest.fixture(autouse=True)
def pins(monkeypatch: pytest.MonkeyPatch) -> Iterator[PinLedger]:
    """The PIN ledger; asserts the VERIFY-with-data invariant at teardown.

    Every :class:`CardOS` created while the test runs joins the ledger, however it was
    made (``make_card``, ``open_transport(emulated=True)``, the CLI's ``--emulated``...),
    so no emulated card escapes the invariant.
    """
    ledger = PinLedger()
    original_init = CardOS.__init__

    def tracked_init(self: CardOS, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        ledger.track(self)

    monkeypatch.setattr(CardOS, "__init__", tracked_init)
    yield ledger
    assert ledger.delivered == ledger.submitted, (
        f"cards received {ledger.delivered} VERIFY-with-data APDUs but the test submitted "
        f"{ledger.submitted} PINs"
    )


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


@pytest.fixture
def make_card(pins: PinLedger) -> MakeCard:
    """``make_card(profile="mynumber-01", *, data=None, record=True, **cardos_kw)``.

    :param profile: a profile name in ``vectors/cards``.
    :param data: a (modified) profile JSON dict instead of a name.
    """

    def make(
        profile: str = "mynumber-01",
        *,
        data: dict[str, Any] | None = None,
        record: bool = True,
        **kw: Any,
    ) -> Emulated:
        prof = CardProfile.from_json(data) if data is not None else _load(profile)
        card = CardOS(prof, **kw)
        pins.track(card)
        return Emulated(card, LoopbackTransport(card, record=record))

    return make


@pytest.fixture
def mynumber(make_card: MakeCard) -> Emulated:
    """The synthetic My Number card ``mynumber-01`` (extended length supported)."""
    return make_card("mynumber-01")


@pytest.fixture
def juki(make_card: MakeCard) -> Emulated:
    """The synthetic 住基カード ``juki-01``."""
    return make_card("juki-01")
