"""Identify the card by SELECTing its applications, never by ATR (real ATRs vary).

:data:`DETECTION` is the one table of the applications jukicard knows at run time: each row
names an application (its facts, an :class:`~jukicard.apdu.apps.Application`) and the
session class that talks to it, with the variant to use per JPKI token.  :func:`open_card`
selects every application of the table in order, in one transaction, lets the session class
of each one found read what identifies the card (the JPKI token: ``JPKIAPICCTOKEN2`` = My
Number card, ``JPKIAPICCTOKEN`` = 住基カード, ``JPKIAPGPSETOKEN`` = smartphone), and returns a
:class:`Card` that hands out the right sessions, all sharing one
:class:`~jukicard.card.channel.CardChannel`.

Every enumeration of applications goes through this table, read when it runs (not when a
module is imported): :func:`open_card`, :class:`Card`, :func:`applications`,
:func:`session_classes`, :func:`public_efs` (the APDU tracer's allow-list, which
:mod:`jukicard.services.connect` passes to every tracer it makes), the PIN services
(:mod:`jukicard.services.pins`) and ``card_info``.

Adding a card application touches its own modules and this table, nothing else:

* its facts module under ``jukicard/apdu/apps/`` (an :class:`Application` with its AID, PINs
  and public EFs, and its PIN enum);
* its session module under ``jukicard/card/`` (an :class:`ApplicationSession` subclass
  declaring ``APPLICATION`` and ``PINS``, with its data objects beside it);
* one :class:`Detection` row in :data:`DETECTION`.

It is *not* added to :class:`~jukicard.apdu.apps.App`: that enum only names the built-in
applications.  :class:`Card` methods take an :class:`Application` (or, for convenience, an
``App`` member).

NOTE: probing selects applications, which logs out every PIN on the card.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jukicard.apdu import sw as _sw
from jukicard.apdu.apps import App, Application
from jukicard.apdu.apps.jpki import JPKI
from jukicard.apdu.apps.juki import JUKI
from jukicard.apdu.apps.text import TEXT
from jukicard.apdu.apps.visual import VISUAL
from jukicard.apdu.command import CommandApdu
from jukicard.card.channel import CardChannel
from jukicard.card.jpki import JpkiSession, JukiJpkiSession
from jukicard.card.jpki_data import TokenInfo, TokenKind
from jukicard.card.juki import JukiSession
from jukicard.card.session import ApplicationSession, Ins
from jukicard.card.text import TextSession
from jukicard.card.visual import VisualSession
from jukicard.errors import ApplicationNotFound, UsageError
from jukicard.transport.base import Transport

__all__ = [
    "CardType",
    "Card",
    "Detection",
    "DETECTION",
    "PROBED_APPLICATIONS",
    "applications",
    "as_application",
    "open_card",
    "public_efs",
    "session_classes",
]

log = logging.getLogger(__name__)

#: Status words meaning "no such application" in answer to SELECT by DF name.
_ABSENT_SWS = frozenset({0x6A82, 0x6A86, 0x6A87, 0x6D00, 0x6E00})

SessionClass = type[ApplicationSession[Any]]


class CardType(enum.Enum):
    """What :func:`open_card` found."""

    MYNUMBER = "mynumber"        #: マイナンバーカード (個人番号カード)
    JUKI = "juki"                #: 住基カード
    SMARTPHONE = "smartphone"    #: スマホ用電子証明書 (JPKI on a GP secure element)
    UNKNOWN = "unknown"          #: some of our applications, but no known token


def as_application(app: Application | App | str) -> Application:
    """The facts of ``app``: an :class:`~jukicard.apdu.apps.App` member gives its
    :class:`Application`, an :class:`Application` is returned as is, and a name
    (``"jpki"``, ``"text"``...) gives the application of :data:`DETECTION` of that name (the
    plain one, not a variant).

    :raises ApplicationNotFound: no application of the detection table has that name.
    :raises UsageError: ``app`` is none of these (``None``...).
    """
    if isinstance(app, App):
        return app.application
    if isinstance(app, Application):
        return app
    if isinstance(app, str):
        named = next((a for row in DETECTION for a in row.applications() if a.name == app),
                     None)
        if named is None:  # the name is not echoed: a PIN may have been typed in its place
            raise ApplicationNotFound(0x6A82, b"", "no application of that name is known")
        return named
    raise UsageError("expected an Application, an App member or an application name, got a "
                     f"{type(app).__name__}")


@dataclass(frozen=True)
class Detection:
    """One row of the detection table.

    :ivar app: the application probed (SELECT by its AID); an
        :class:`~jukicard.apdu.apps.App` member given here is normalised to its facts.
    :ivar session: the session class for it.
    :ivar by_token: another session class for a card whose JPKI token is of that kind (the
        住基カード variant of the JPKI AP).
    :raises UsageError: a session class of the row talks to another application (its
        ``APPLICATION`` has another AID).
    """

    app: Application
    session: SessionClass
    by_token: Mapping[TokenKind, SessionClass] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "app", as_application(self.app))
        for cls in self.session_classes():
            declared = getattr(cls, "APPLICATION", None)
            if not isinstance(declared, Application) or declared.aid != self.app.aid:
                raise UsageError(f"detection row {self.app.name!r}: {cls.__name__} does not "
                                 "declare an APPLICATION with this AID")

    def session_for(self, token: TokenInfo | None) -> SessionClass:
        """The session class for a card with ``token``."""
        kind = token.kind if token is not None else TokenKind.UNKNOWN
        return self.by_token.get(kind, self.session)

    def session_classes(self) -> tuple[SessionClass, ...]:
        """Every session class of the row (the plain one first)."""
        return (self.session, *(c for c in self.by_token.values() if c is not self.session))

    def applications(self) -> tuple[Application, ...]:
        """The row's application, then the variants its session classes declare."""
        return tuple(dict.fromkeys((self.app, *(c.APPLICATION for c in self.session_classes()))))


#: Applications probed by :func:`open_card`, in order, with their session classes.  Read
#: at call time by every enumeration of applications (a row added later shows up).
DETECTION: tuple[Detection, ...] = (
    Detection(JPKI, JpkiSession, {TokenKind.JUKI_CARD: JukiJpkiSession}),
    Detection(TEXT, TextSession),
    Detection(VISUAL, VisualSession),
    Detection(JUKI, JukiSession),
)

#: The applications of the built-in table, in probing order (fixed at import; see
#: :func:`applications` for the table as it is now).
PROBED_APPLICATIONS: tuple[Application, ...] = tuple(row.app for row in DETECTION)


def applications() -> tuple[Application, ...]:
    """The applications :func:`open_card` probes, in order (the table as it is now)."""
    return tuple(row.app for row in DETECTION)


def session_classes() -> tuple[SessionClass, ...]:
    """Every session class of the table, in table order, each once."""
    return tuple(dict.fromkeys(cls for row in DETECTION for cls in row.session_classes()))


def public_efs() -> frozenset[tuple[bytes, bytes]]:
    """``(AID, FID)`` of every EF whose content is public, over every application and
    variant of the table: the APDU tracer's allow-list (see
    :class:`~jukicard.transport.tracing.TracingTransport`)."""
    return frozenset(
        (app.aid, ef.to_bytes(2, "big"))
        for row in DETECTION for app in row.applications() for ef in app.public_efs
    )


def _row(app: Application) -> Detection | None:
    """The row of ``app``: the row probing it, else the row one of whose session classes
    declares it (a variant)."""
    rows = DETECTION
    exact = next((row for row in rows if row.app == app), None)
    return exact or next((row for row in rows if app in row.applications()), None)


@dataclass(frozen=True)
class Card:
    """A card identified by :func:`open_card`.

    :ivar channel: the channel every session handed out shares.
    :ivar card_type: what kind of card it is.
    :ivar applications: the applications (rows of :data:`DETECTION`) that answered SELECT.
    :ivar token: the JPKI token, or ``None`` without a JPKI AP (or an unreadable token).
    :ivar atr: the ATR at detection (informational only).
    """

    channel: CardChannel
    card_type: CardType
    applications: frozenset[Application]
    token: TokenInfo | None
    atr: bytes = b""

    @property
    def transport(self) -> Transport:
        return self.channel.transport

    @property
    def extended(self) -> bool | None:
        return self.channel.extended

    def has(self, app: Application | App | str) -> bool:
        """True if ``app`` answered SELECT.  A variant's facts (``JUKI_JPKI``) count only
        on a card its session class is for (a 住基カード).

        :param app: the application's facts, an :class:`~jukicard.apdu.apps.App` member or
            an application name (an unknown name is simply not on the card).
        :raises UsageError: ``app`` is none of these.
        """
        try:
            facts = as_application(app)
        except ApplicationNotFound:
            return False
        if facts in self.applications:
            return True
        row = _row(facts)
        return (row is not None and row.app in self.applications
                and row.session_for(self.token).APPLICATION == facts)

    def session_class(self, app: Application | App | str) -> SessionClass:
        """The session class for ``app`` on this card (the variant for its token).

        :param app: as for :meth:`has`.
        :raises ApplicationNotFound: no row of :data:`DETECTION` for ``app``.
        :raises UsageError: ``app`` is not an application.
        """
        facts = as_application(app)
        row = _row(facts)
        if row is None:
            raise ApplicationNotFound(0x6A82, b"", f"no session for {facts.name}")
        return row.session_for(self.token)

    def session(self, app: Application | App | str) -> ApplicationSession[Any]:
        """A session for ``app``, sharing the card's channel.

        :param app: as for :meth:`has` (``card.session("text")`` works too).
        :raises ApplicationNotFound: ``app`` is not on this card (or no application has
            that name).
        :raises UsageError: ``app`` is not an application.
        """
        facts = as_application(app)
        if not self.has(facts):
            raise ApplicationNotFound(0x6A82, b"",
                                      f"{facts.label} ({facts.name}) is not on this card")
        return self.session_class(facts)(self.channel, select=False)

    def jpki(self) -> JpkiSession:
        """The JPKI AP session (:class:`JukiJpkiSession` on a 住基カード).

        :raises ApplicationNotFound: no JPKI AP.
        """
        session = self.session(JPKI)
        assert isinstance(session, JpkiSession)
        return session

    def text(self) -> TextSession:
        """The 券面事項入力補助AP session.  :raises ApplicationNotFound: not on this card."""
        session = self.session(TEXT)
        assert isinstance(session, TextSession)
        return session

    def visual(self) -> VisualSession:
        """The 券面事項確認AP session.  :raises ApplicationNotFound: not on this card."""
        session = self.session(VISUAL)
        assert isinstance(session, VisualSession)
        return session

    def juki(self) -> JukiSession:
        """The 住基AP session (unverified layout).  :raises ApplicationNotFound: not here."""
        session = self.session(JUKI)
        assert isinstance(session, JukiSession)
        return session


def _select(channel: CardChannel, app: Application) -> bool:
    channel.note_selecting()
    resp = channel.send(CommandApdu(0x00, Ins.SELECT, 0x04, 0x0C, app.aid))
    if resp.ok:
        channel.note_selected(app.aid, 0)
        return True
    if resp.sw in _ABSENT_SWS:
        return False
    raise _sw.error_for(resp.sw, resp.data)


def _classify(apps: frozenset[Application], token: TokenInfo | None) -> CardType:
    kind = token.kind if token is not None else TokenKind.UNKNOWN
    if kind is TokenKind.MYNUMBER_CARD:
        return CardType.MYNUMBER
    if kind is TokenKind.JUKI_CARD:
        return CardType.JUKI
    if kind is TokenKind.SMARTPHONE:
        return CardType.SMARTPHONE
    if TEXT in apps:
        return CardType.MYNUMBER
    if JUKI in apps:
        return CardType.JUKI
    return CardType.UNKNOWN


def open_card(
    transport: Transport | CardChannel, *, extended: bool | None = None
) -> Card:
    """Identify the card on ``transport`` by selecting its applications.

    :param transport: the connection to the card (its channel,
        :meth:`~jukicard.card.channel.CardChannel.of`, is used), or a channel.
    :param extended: extended-length APDUs (see
        :meth:`~jukicard.card.channel.CardChannel.of`).
    :returns: the identified card; its sessions share one channel.
    :raises UsageError: ``transport`` is not a transport (``None``...).
    :raises ApplicationNotFound: none of the known applications is on the card.
    :raises CardError: an unexpected status word to SELECT.
    :raises TransportError: (or a subclass) the card went away.
    """
    channel = CardChannel.of(transport, extended=extended)
    found: set[Application] = set()
    token: TokenInfo | None = None
    with channel.operation():
        for row in DETECTION:
            if _select(channel, row.app):
                found.add(row.app)
                probed = row.session.probe(channel)
                if isinstance(probed, TokenInfo):
                    token = probed
        atr = bytes(channel.transport.atr)
    apps = frozenset(found)
    if not apps:
        raise ApplicationNotFound(0x6A82, b"", "not a My Number card or 住基カード "
                                  "(none of the known applications answered)")
    card_type = _classify(apps, token)
    log.info("card identified: %s (%s)", card_type.value,
             ", ".join(sorted(a.name for a in apps)))
    return Card(channel, card_type, apps, token, atr)
