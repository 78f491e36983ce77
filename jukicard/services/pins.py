"""PIN services: the status of every PIN on a card, changing a PIN, asking for a PIN.

Every PIN has a short id used by the CLI and in JSON (:attr:`jukicard.apdu.apps.PinSpec.id`)
and the names residents know (``label_ja``, with ``label_en`` for staff).  The built-in ones:

=================  ==========================================  ====================
id                 PIN                                         application
=================  ==========================================  ====================
``auth``           利用者証明用電子証明書暗証番号 (4 digits)      JPKI AP
``sign``           署名用電子証明書暗証番号 (6–16; 住基カード:     JPKI AP
                   4–16)
``text``           券面事項入力補助用暗証番号 (4 digits)           text AP
``text-match-a``   照合番号A (the My Number)                      text AP
``text-match-b``   照合番号B                                      text AP
``visual-match-a`` 照合番号A                                      visual AP
``visual-match-b`` 照合番号B                                      visual AP
``visual-birth``   生年月日読出用暗証番号                          visual AP
``juki``           住基暗証番号 (unverified layout)                住基AP
=================  ==========================================  ====================

The table is built from the application facts and the detection table
(:data:`jukicard.card.detect.DETECTION`), read when a function runs: a new application's PINs
appear here (:func:`pin_ids`, :func:`pin_status_all`, :func:`verify_pin`) without a change
to this module.  :data:`PIN_IDS` and :data:`CHANGEABLE_PINS` are the same lists for the
built-in table, fixed at import (for existing callers).

Status comes from a data-less VERIFY, which never decrements a counter.  A PIN is sent to
the card only after the user typed it for that very operation, exactly once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol, runtime_checkable

from jukicard.apdu.apps import App, Application, PinSpec
from jukicard.card.channel import CardChannel
from jukicard.card.detect import Card, applications, as_application, open_card, session_classes
from jukicard.card.session import ApplicationSession, PinStatus
from jukicard.errors import PinBlockedError, UsageError
from jukicard.services.interaction import (
    PinPurpose,
    PinRequest,
    UserInteraction,
    require_interaction,
)
from jukicard.transport.base import Transport

__all__ = [
    "PIN_IDS",
    "CHANGEABLE_PINS",
    "pin_ids",
    "changeable_pin_ids",
    "PinState",
    "pin_status_all",
    "pin_ref",
    "ask_pin",
    "change_pin",
    "verify_pin",
]

log = logging.getLogger(__name__)


@runtime_checkable
class _PinChanger(Protocol):
    """A session that can change its PINs (CHANGE REFERENCE DATA)."""

    def change_pin(self, pin: Any, old: str, new: str) -> None: ...


def _ids(changeable_only: bool) -> tuple[str, ...]:
    classes = [c for c in session_classes()
               if not changeable_only or issubclass(c, _PinChanger)]
    return tuple(dict.fromkeys(p.spec.id for cls in classes for p in cls.PINS))


def pin_ids() -> tuple[str, ...]:
    """Every PIN id of the detection table as it is now, in display order (detection
    order, then each application's PIN order)."""
    return _ids(changeable_only=False)


def changeable_pin_ids() -> tuple[str, ...]:
    """The PIN ids ``pin change`` can change (of the sessions that implement CHANGE
    REFERENCE DATA), from the detection table as it is now."""
    return _ids(changeable_only=True)


#: :func:`pin_ids` of the built-in detection table (fixed at import).
PIN_IDS: tuple[str, ...] = pin_ids()
#: :func:`changeable_pin_ids` of the built-in detection table (fixed at import).
CHANGEABLE_PINS: tuple[str, ...] = changeable_pin_ids()


@dataclass(frozen=True)
class PinState:
    """The retry counter of one PIN.

    :ivar id: the PIN id (see the module table).
    :ivar app: the application's short name (``"jpki"``, ``"text"``...).
    :ivar name: the PIN's names for messages (``"照合番号A (collation number A ...)"``).
    :ivar retries_left: tries left (0 = blocked), never above :attr:`max_tries`.
    :ivar max_tries: the retry limit, if known.
    :ivar label_ja: / :ivar label_en: the PIN's Japanese and English names.
    :ivar counter_implausible: the card reported more tries than the PIN allows; the
        counter was clamped (see :class:`jukicard.card.session.PinStatus`).
    """

    id: str
    app: str
    name: str
    retries_left: int
    max_tries: int | None
    label_ja: str = ""
    label_en: str = ""
    counter_implausible: bool = False

    @property
    def blocked(self) -> bool:
        """True if no tries are left.  NOTE: only the municipal counter can unblock it (a
        JPKI PIN also at a kiosk, with the other JPKI PIN)."""
        return self.retries_left == 0

    @classmethod
    def from_status(cls, app: Application | App, status: PinStatus) -> PinState:
        """The state of a PIN from a session's :class:`PinStatus`.

        :param app: the application's facts (or an :class:`~jukicard.apdu.apps.App` member).
        """
        spec = status.pin
        return cls(spec.id, as_application(app).name, spec.label, status.retries_left,
                   spec.max_tries, spec.label_ja, spec.label_en, status.counter_implausible)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "application": self.app,
            "name": self.name,
            "retries_left": self.retries_left,
            "max_tries": self.max_tries,
            "blocked": self.blocked,
        }
        if self.counter_implausible:
            out["counter_implausible"] = True
        return out


def _pin_table(card: Card) -> list[tuple[str, Application, Enum]]:
    """(id, application, PIN enum member) for every PIN of the applications present, in
    detection order."""
    rows: list[tuple[str, Application, Enum]] = []
    for app in applications():
        if card.has(app):
            rows += [(p.spec.id, app, p) for p in card.session_class(app).PINS]
    return rows


def _session(card: Card, app: Application) -> ApplicationSession[Any]:
    return card.session(app)


def pin_ref(card: Card, pin_id: str) -> tuple[Application, Any]:
    """The application (its facts) and PIN enum member of PIN ``pin_id`` on ``card``.

    :raises UsageError: unknown id, or that PIN is not on this card.
    """
    known = pin_ids()
    if pin_id not in known:
        # not echoed: someone may have typed the PIN itself where its id belongs
        raise UsageError(f"unknown PIN id; use one of {', '.join(known)}")
    for pid, app, ref in _pin_table(card):
        if pid == pin_id:
            return app, ref
    raise UsageError(f"this card ({card.card_type.value}) has no {pin_id!r} PIN")


def pin_status_all(transport: Transport, *, card: Card | None = None) -> tuple[PinState, ...]:
    """The retry counter of every PIN on the card, without touching any counter.

    :param transport: the connection to the card.
    :param card: an already identified card on ``transport`` (else :func:`open_card`).
    :raises UsageError: ``transport`` is not a transport.
    :raises ApplicationNotFound: not a card we know.
    :raises TransportError: (or a subclass) the card went away.
    """
    states: list[PinState] = []
    channel = CardChannel.of(transport)  # UsageError for what is not a transport
    with channel.operation():
        card = card or open_card(channel)
        sessions: dict[Application, ApplicationSession[Any]] = {}
        for _pid, app, ref in _pin_table(card):
            session = sessions.get(app) or sessions.setdefault(app, _session(card, app))
            states.append(PinState.from_status(app, session.pin_status(ref)))
    return tuple(states)


def ask_pin(
    session: ApplicationSession[Any],
    ref: Any,
    interaction: UserInteraction,
    purpose: PinPurpose = "verify",
) -> str:
    """Check (without touching the counter) that the PIN is not blocked, then ask for it.

    :raises PinBlockedError: the PIN is blocked; nobody is asked, nothing is sent.
    :raises UsageError: ``interaction`` is not one, or it cannot provide a PIN.
    """
    interaction = require_interaction(interaction)
    status = session.pin_status(ref)
    spec: PinSpec = ref.value
    if status.blocked:
        raise PinBlockedError(message=f"{spec.label} is blocked (no tries left)")
    value = interaction.request_pin(PinRequest(spec, purpose, status.retries_left))
    if not isinstance(value, str):
        raise UsageError(f"{spec.label}: the interaction returned no PIN")
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
    changeable = changeable_pin_ids()
    if pin_id not in changeable:
        raise UsageError(
            # the id is not echoed: someone may have typed the PIN itself in its place
            f"this PIN cannot be changed here; changeable: {', '.join(changeable)}"
        )
    card = open_card(transport)
    app, ref = pin_ref(card, pin_id)
    session = _session(card, app)
    if not isinstance(session, _PinChanger):  # pragma: no cover - changeable_pin_ids says so
        raise UsageError(f"PIN {pin_id!r} cannot be changed here")
    old = ask_pin(session, ref, interaction, "current")
    spec: PinSpec = ref.value
    new = interaction.request_pin(PinRequest(spec, "new", None, confirm=True))
    if not isinstance(new, str):
        raise UsageError(f"{spec.label}: the interaction returned no PIN")
    spec.encode_new(new)  # format check before the old PIN is spent
    session.change_pin(ref, old, new)
    log.info("%s changed", spec.id)


def verify_pin(transport: Transport, pin_id: str, interaction: UserInteraction) -> PinState:
    """Check a PIN the user types (``pin verify``): ask it once, send ONE VERIFY with it.

    The counter is read first with a data-less VERIFY; a blocked PIN is never asked for and
    nothing is sent.  The PIN is asked outside any PC/SC transaction, then verified once (a
    wrong value is never retried); the counter is read again, data-less, to report it.

    :param pin_id: one of :func:`pin_ids` present on the card.
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
    with transport.transaction():
        session.verify(ref, value)
        status = session.pin_status(ref)
    log.info("%s verified", ref.value.id)
    return PinState.from_status(app, status)
