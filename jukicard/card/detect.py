"""Identify the card by SELECTing its applications, never by ATR (real ATRs vary).

:data:`DETECTION` is the one table of what jukicard probes: each row names an application
(its facts, :class:`~jukicard.apdu.apps.App`) and the session class that talks to it, with
the variant to use per JPKI token.  :func:`open_card` selects every application of the table
in order, in one transaction, lets the session class of each one found read what identifies
the card (the JPKI token: ``JPKIAPICCTOKEN2`` = My Number card, ``JPKIAPICCTOKEN`` =
住基カード, ``JPKIAPGPSETOKEN`` = smartphone), and returns a :class:`Card` that hands out the
right sessions, all sharing one :class:`~jukicard.card.channel.CardChannel`.

Adding a card application: its facts module (``jukicard/apdu/apps/``, registered in
:class:`~jukicard.apdu.apps.App`), its session module, and one row here.

NOTE: probing selects applications, which logs out every PIN on the card.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jukicard.apdu import sw as _sw
from jukicard.apdu.apps import App
from jukicard.apdu.command import CommandApdu
from jukicard.card.channel import CardChannel
from jukicard.card.jpki import JpkiSession, JukiJpkiSession
from jukicard.card.jpki_data import TokenInfo, TokenKind
from jukicard.card.juki import JukiSession
from jukicard.card.session import ApplicationSession, Ins
from jukicard.card.text import TextSession
from jukicard.card.visual import VisualSession
from jukicard.errors import ApplicationNotFound
from jukicard.transport.base import Transport

__all__ = [
    "CardType",
    "Card",
    "Detection",
    "DETECTION",
    "PROBED_APPLICATIONS",
    "open_card",
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


@dataclass(frozen=True)
class Detection:
    """One row of the detection table.

    :ivar app: the application probed (SELECT by its AID).
    :ivar session: the session class for it.
    :ivar by_token: another session class for a card whose JPKI token is of that kind (the
        住基カード variant of the JPKI AP).
    """

    app: App
    session: SessionClass
    by_token: Mapping[TokenKind, SessionClass] = field(default_factory=dict)

    def session_for(self, token: TokenInfo | None) -> SessionClass:
        """The session class for a card with ``token``."""
        kind = token.kind if token is not None else TokenKind.UNKNOWN
        return self.by_token.get(kind, self.session)

    def session_classes(self) -> tuple[SessionClass, ...]:
        """Every session class of the row (the plain one first)."""
        return (self.session, *(c for c in self.by_token.values() if c is not self.session))


#: Applications probed by :func:`open_card`, in order, with their session classes.
DETECTION: tuple[Detection, ...] = (
    Detection(App.JPKI, JpkiSession, {TokenKind.JUKI_CARD: JukiJpkiSession}),
    Detection(App.TEXT, TextSession),
    Detection(App.VISUAL, VisualSession),
    Detection(App.JUKI, JukiSession),
)

#: Applications probed by :func:`open_card`, in order.
PROBED_APPLICATIONS: tuple[App, ...] = tuple(row.app for row in DETECTION)


def _row(app: App) -> Detection:
    for row in DETECTION:
        if row.app is app:
            return row
    raise ApplicationNotFound(0x6A82, b"", f"no session for {app.application.name}")


@dataclass(frozen=True)
class Card:
    """A card identified by :func:`open_card`.

    :ivar channel: the channel every session handed out shares.
    :ivar card_type: what kind of card it is.
    :ivar applications: the applications that answered SELECT.
    :ivar token: the JPKI token, or ``None`` without a JPKI AP (or an unreadable token).
    :ivar atr: the ATR at detection (informational only).
    """

    channel: CardChannel
    card_type: CardType
    applications: frozenset[App]
    token: TokenInfo | None
    atr: bytes = b""

    @property
    def transport(self) -> Transport:
        return self.channel.transport

    @property
    def extended(self) -> bool | None:
        return self.channel.extended

    def has(self, app: App) -> bool:
        """True if ``app`` answered SELECT."""
        return app in self.applications

    def session_class(self, app: App) -> SessionClass:
        """The session class for ``app`` on this card (the variant for its token)."""
        return _row(app).session_for(self.token)

    def session(self, app: App) -> ApplicationSession[Any]:
        """A session for ``app``, sharing the card's channel.

        :raises ApplicationNotFound: ``app`` is not on this card.
        """
        if app not in self.applications:
            info = app.application
            raise ApplicationNotFound(0x6A82, b"",
                                      f"{info.label} ({info.name}) is not on this card")
        return self.session_class(app)(self.channel, select=False)

    def jpki(self) -> JpkiSession:
        """The JPKI AP session (:class:`JukiJpkiSession` on a 住基カード).

        :raises ApplicationNotFound: no JPKI AP.
        """
        session = self.session(App.JPKI)
        assert isinstance(session, JpkiSession)
        return session

    def text(self) -> TextSession:
        """The 券面事項入力補助AP session.  :raises ApplicationNotFound: not on this card."""
        session = self.session(App.TEXT)
        assert isinstance(session, TextSession)
        return session

    def visual(self) -> VisualSession:
        """The 券面事項確認AP session.  :raises ApplicationNotFound: not on this card."""
        session = self.session(App.VISUAL)
        assert isinstance(session, VisualSession)
        return session

    def juki(self) -> JukiSession:
        """The 住基AP session (unverified layout).  :raises ApplicationNotFound: not here."""
        session = self.session(App.JUKI)
        assert isinstance(session, JukiSession)
        return session


def _select(channel: CardChannel, app: App) -> bool:
    channel.note_selecting()
    resp = channel.send(CommandApdu(0x00, Ins.SELECT, 0x04, 0x0C, app.aid))
    if resp.ok:
        channel.note_selected(app.aid, 0)
        return True
    if resp.sw in _ABSENT_SWS:
        return False
    raise _sw.error_for(resp.sw, resp.data)


def _classify(apps: frozenset[App], token: TokenInfo | None) -> CardType:
    kind = token.kind if token is not None else TokenKind.UNKNOWN
    if kind is TokenKind.MYNUMBER_CARD:
        return CardType.MYNUMBER
    if kind is TokenKind.JUKI_CARD:
        return CardType.JUKI
    if kind is TokenKind.SMARTPHONE:
        return CardType.SMARTPHONE
    if App.TEXT in apps:
        return CardType.MYNUMBER
    if App.JUKI in apps:
        return CardType.JUKI
    return CardType.UNKNOWN


def open_card(
    transport: Transport | CardChannel, *, extended: bool | None = None
) -> Card:
    """Identify the card on ``transport`` by selecting its applications.

    :param transport: the connection to the card (or a channel to reuse).
    :param extended: for a new channel: extended-length APDUs (see
        :class:`~jukicard.card.channel.CardChannel`).
    :returns: the identified card; its sessions share one channel.
    :raises ApplicationNotFound: none of the known applications is on the card.
    :raises CardError: an unexpected status word to SELECT.
    :raises TransportError: (or a subclass) the card went away.
    """
    channel = (
        transport if isinstance(transport, CardChannel)
        else CardChannel(transport, extended=extended)
    )
    found: set[App] = set()
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
             ", ".join(sorted(a.application.name for a in apps)))
    return Card(channel, card_type, apps, token, atr)
