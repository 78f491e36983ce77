"""PIN services: the status of every PIN on a card, changing a PIN, asking for a PIN.

Every PIN has a short id used by the CLI and in JSON:

=================  ==========================================  ====================
id                 PIN                                         application
=================  ==========================================  ====================
``auth``           利用者証明用電子証明書 暗証番号 (4 digits)     JPKI AP
``sign``           署名用電子証明書 パスワード (6–16; 住基カード:   JPKI AP
                   4–16)
``text``           券面事項入力補助用暗証番号 (4 digits)           text AP
``text-match-a``   照合番号A (the My Number)                      text AP
``text-match-b``   照合番号B                                      text AP
``visual-match-a`` 照合番号A                                      visual AP
``visual-match-b`` 照合番号B                                      visual AP
``visual-birth``   生年月日読出用暗証番号                          visual AP
``juki``           住民基本台帳用暗証番号 (unverified layout)      住基AP
=================  ==========================================  ====================

Status comes from a data-less VERIFY, which never decrements a counter.  A PIN is sent to
the card only after the user typed it for that very operation, exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from jukicard.card.detect import Card, CardType, open_card
from jukicard.card.jpki import JpkiSession
from jukicard.card.layout import App, JpkiPin, JukiJpkiPin, JukiPin, PinSpec, TextPin, VisualPin
from jukicard.card.session import ApplicationSession, PinStatus
from jukicard.errors import PinBlockedError, UsageError
from jukicard.services.interaction import PinPurpose, PinRequest, UserInteraction
from jukicard.transport.base import Transport

__all__ = [
    "PIN_IDS",
    "CHANGEABLE_PINS",
    "PinState",
    "pin_status_all",
    "pin_ref",
    "ask_pin",
    "change_pin",
]

log = logging.getLogger(__name__)

#: Every PIN id, in display order.
PIN_IDS: tuple[str, ...] = (
    "auth", "sign", "text", "text-match-a", "text-match-b",
    "visual-match-a", "visual-match-b", "visual-birth", "juki",
)
#: PINs ``pin change`` can change (CHANGE REFERENCE DATA is implemented for the JPKI AP).
CHANGEABLE_PINS: tuple[str, ...] = ("auth", "sign")

_TEXT = {"text": TextPin.PIN, "text-match-a": TextPin.MATCH_A, "text-match-b": TextPin.MATCH_B}
_VISUAL = {
    "visual-match-a": VisualPin.MATCH_A,
    "visual-match-b": VisualPin.MATCH_B,
    "visual-birth": VisualPin.BIRTH,
}


@dataclass(frozen=True)
class PinState:
    """The retry counter of one PIN.

    :ivar id: the PIN id (see the module table).
    :ivar app: the application's short name (``"jpki"``, ``"text"``...).
    :ivar name: the PIN's descriptive name.
    :ivar retries_left: tries left (0 = blocked).
    :ivar max_tries: the retry limit, if known.
    """

    id: str
    app: str
    name: str
    retries_left: int
    max_tries: int | None

    @property
    def blocked(self) -> bool:
        """True if no tries are left.  NOTE: only the municipal counter can unblock it (a
        JPKI PIN also at a kiosk, with the other JPKI PIN)."""
        return self.retries_left == 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "application": self.app,
            "name": self.name,
            "retries_left": self.retries_left,
            "max_tries": self.max_tries,
            "blocked": self.blocked,
        }


def _pin_table(card: Card) -> list[tuple[str, App, Any]]:
    """(id, application, layout enum member) for every PIN of the applications present."""
    rows: list[tuple[str, App, Any]] = []
    if card.has(App.JPKI):
        if card.card_type is CardType.JUKI:
            rows.append(("sign", App.JPKI, JukiJpkiPin.SIGN))
        else:
            rows += [("auth", App.JPKI, JpkiPin.AUTH), ("sign", App.JPKI, JpkiPin.SIGN)]
    if card.has(App.TEXT):
        rows += [(pid, App.TEXT, ref) for pid, ref in _TEXT.items()]
    if card.has(App.VISUAL):
        rows += [(pid, App.VISUAL, ref) for pid, ref in _VISUAL.items()]
    if card.has(App.JUKI):
        rows.append(("juki", App.JUKI, JukiPin.PIN))
    return rows


def _session(card: Card, app: App) -> ApplicationSession:
    if app is App.JPKI:
        return card.jpki()
    if app is App.TEXT:
        return card.text()
    if app is App.VISUAL:
        return card.visual()
    return card.juki()


def pin_ref(card: Card, pin_id: str) -> tuple[App, Any]:
    """The application and layout member of PIN ``pin_id`` on ``card``.

    :raises UsageError: unknown id, or that PIN is not on this card.
    """
    if pin_id not in PIN_IDS:
        raise UsageError(f"unknown PIN {pin_id!r}; use one of {', '.join(PIN_IDS)}")
    for pid, app, ref in _pin_table(card):
        if pid == pin_id:
            return app, ref
    raise UsageError(f"this card ({card.card_type.value}) has no {pin_id!r} PIN")


def pin_status_all(transport: Transport, *, card: Card | None = None) -> tuple[PinState, ...]:
    """The retry counter of every PIN on the card, without touching any counter.

    :param transport: the connection to the card.
    :param card: an already identified card on ``transport`` (else :func:`open_card`).
    :raises ApplicationNotFound: not a card we know.
    :raises TransportError: (or a subclass) the card went away.
    """
    states: list[PinState] = []
    with transport.transaction():
        card = card or open_card(transport)
        sessions: dict[App, ApplicationSession] = {}
        for pid, app, ref in _pin_table(card):
            session = sessions.get(app) or sessions.setdefault(app, _session(card, app))
            status: PinStatus = session.pin_status(ref)  # type: ignore[attr-defined]
            spec: PinSpec = ref.value
            states.append(PinState(pid, app.value.name, spec.name, status.retries_left,
                                   spec.max_tries))
    return tuple(states)


def ask_pin(
    session: ApplicationSession,
    ref: Any,
    interaction: UserInteraction,
    purpose: PinPurpose = "verify",
) -> str:
    """Check (without touching the counter) that the PIN is not blocked, then ask for it.

    :raises PinBlockedError: the PIN is blocked; nobody is asked, nothing is sent.
    :raises UsageError: the interaction cannot provide a PIN.
    """
    status: PinStatus = session.pin_status(ref)  # type: ignore[attr-defined]
    spec: PinSpec = ref.value
    if status.blocked:
        raise PinBlockedError(message=f"{spec.name} is blocked (no tries left)")
    value = interaction.request_pin(PinRequest(spec, purpose, status.retries_left))
    if not isinstance(value, str):
        raise UsageError(f"{spec.name}: the interaction returned no PIN")
    return value


def change_pin(transport: Transport, pin_id: str, interaction: UserInteraction) -> None:
    """Change a JPKI PIN (``auth`` or ``sign``): ask the current and the new value, then
    VERIFY + CHANGE REFERENCE DATA in one transaction.

    The new value's format is checked before anything is sent.  Order of requests:
    current PIN, then new PIN (``confirm=True``: an interactive prompt asks it twice).

    NOTE: CHANGE REFERENCE DATA on real cards is marked untested by the only public client.

    :raises UsageError: not a changeable PIN / not on this card / bad format of the new PIN.
    :raises PinError: the current PIN is wrong (``retries_left`` set).
    :raises PinBlockedError: the PIN is (now) blocked.
    :raises TransportError: (or a subclass) the card went away.
    """
    if pin_id not in CHANGEABLE_PINS:
        raise UsageError(
            f"PIN {pin_id!r} cannot be changed here; changeable: {', '.join(CHANGEABLE_PINS)}"
        )
    card = open_card(transport)
    app, ref = pin_ref(card, pin_id)
    jpki: JpkiSession = card.jpki()
    old = ask_pin(jpki, ref, interaction, "current")
    spec: PinSpec = ref.value
    new = interaction.request_pin(PinRequest(spec, "new", None, confirm=True))
    if not isinstance(new, str):
        raise UsageError(f"{spec.name}: the interaction returned no PIN")
    spec.encode_new(new)  # format check before the old PIN is spent
    jpki.change_pin(ref, old, new)
    log.info("%s changed", spec.name)


def verify_pin(transport: Transport, pin_id: str, interaction: UserInteraction) -> PinState:
    """Check a PIN the user types (``pin verify``): ask it once, send ONE VERIFY with it.

    The counter is read first with a data-less VERIFY; a blocked PIN is never asked for and
    nothing is sent.  The PIN is asked outside any PC/SC transaction, then verified once (a
    wrong value is never retried); the counter is read again, data-less, to report it.

    :param pin_id: one of :data:`PIN_IDS` present on the card.
    :returns: the PIN's state after the successful VERIFY.
    :raises UsageError: unknown id / not on this card / the interaction gave no PIN.
    :raises PinFormatError: the value has the wrong format (nothing was sent).
    :raises PinError: wrong value (``retries_left`` set).
    :raises PinBlockedError: the PIN is (now) blocked.
    :raises TransportError: (or a subclass) the card went away.
    """
    card = open_card(transport)
    app, ref = pin_ref(card, pin_id)
    session = _session(card, app)
    value = ask_pin(session, ref, interaction)
    spec: PinSpec = ref.value
    with transport.transaction():
        session.verify(pin=ref, value=value)  # type: ignore[attr-defined]
        status: PinStatus = session.pin_status(ref)  # type: ignore[attr-defined]
    log.info("%s verified", spec.name)
    return PinState(pin_id, app.value.name, spec.name, status.retries_left, spec.max_tries)
