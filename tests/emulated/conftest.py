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

from collections.abc import Iterator
from typing import Any

import pytest
from emulated_support import (  # noqa: F401 - re-exported names used by fixtures
    PINS,
    Emulated,
    MakeCard,
    PinLedger,
    _load,
    find_file,
    profile_json,
)

from jukicard.emulator.cardos import CardOS
from jukicard.emulator.profile import CardProfile
from jukicard.transport.loopback import LoopbackTransport


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
