"""Identify the card by SELECTing its applications, never by ATR (real ATRs vary).

:func:`open_card` selects the JPKI AP and reads its token EF (``JPKIAPICCTOKEN2`` = My
Number card, ``JPKIAPICCTOKEN`` = 住基カード, ``JPKIAPGPSETOKEN`` = smartphone), then probes
the text, visual and 住基 APs, all in one transaction, and returns a :class:`Card` that
hands out the right session objects.

NOTE: probing selects applications, which logs out every PIN on the card.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from jukicard.apdu import sw as _sw
from jukicard.apdu.command import CommandApdu
from jukicard.apdu.processor import Processor, TransmitProcessor
from jukicard.apdu.processors import build_stack
from jukicard.card.dataobjects import TokenInfo, TokenKind
from jukicard.card.jpki import TOKEN_READ_LEN, JpkiSession
from jukicard.card.juki import JukiJpkiSession, JukiSession
from jukicard.card.layout import JPKI_TOKEN_EF, App
from jukicard.card.session import Ins, _set_last_selection
from jukicard.card.text import TextSession
from jukicard.card.visual import VisualSession
from jukicard.errors import ApplicationNotFound, BadResponse
from jukicard.transport.base import Transport

__all__ = ["CardType", "Card", "open_card", "PROBED_APPLICATIONS"]

log = logging.getLogger(__name__)

#: Applications probed by :func:`open_card`, in order.
PROBED_APPLICATIONS: tuple[App, ...] = (App.JPKI, App.TEXT, App.VISUAL, App.JUKI)

#: Status words meaning "no such application" in answer to SELECT by DF name.
_ABSENT_SWS = frozenset({0x6A82, 0x6A86, 0x6A87, 0x6D00, 0x6E00})


class CardType(enum.Enum):
    """What :func:`open_card` found."""

    MYNUMBER = "mynumber"        #: マイナンバーカード (個人番号カード)
    JUKI = "juki"                #: 住基カード
    SMARTPHONE = "smartphone"    #: スマホ用電子証明書 (JPKI on a GP secure element)
    UNKNOWN = "unknown"          #: some of our applications, but no known token


@dataclass(frozen=True)
class Card:
    """A card identified by :func:`open_card`.

    :ivar transport: the connection.
    :ivar card_type: what kind of card it is.
    :ivar applications: the applications that answered SELECT.
    :ivar token: the JPKI token, or ``None`` without a JPKI AP (or an unreadable token).
    :ivar atr: the ATR at detection (informational only).
    :ivar extended: passed to every session (see
        :class:`~jukicard.card.session.ApplicationSession`).
    """

    transport: Transport
    card_type: CardType
    applications: frozenset[App]
    token: TokenInfo | None
    atr: bytes = b""
    extended: bool | None = None

    def has(self, app: App) -> bool:
        """True if ``app`` answered SELECT."""
        return app in self.applications

    def _need(self, app: App) -> None:
        if app not in self.applications:
            info = app.value
            raise ApplicationNotFound(0x6A82, b"",
                                      f"{info.label} ({info.name}) is not on this card")

    def jpki(self) -> JpkiSession:
        """The JPKI AP session (:class:`JukiJpkiSession` on a 住基カード).

        :raises ApplicationNotFound: no JPKI AP.
        """
        self._need(App.JPKI)
        cls = JukiJpkiSession if self.card_type is CardType.JUKI else JpkiSession
        return cls(self.transport, extended=self.extended, select=False)

    def text(self) -> TextSession:
        """The 券面事項入力補助AP session.  :raises ApplicationNotFound: not on this card."""
        self._need(App.TEXT)
        return TextSession(self.transport, extended=self.extended, select=False)

    def visual(self) -> VisualSession:
        """The 券面事項確認AP session.  :raises ApplicationNotFound: not on this card."""
        self._need(App.VISUAL)
        return VisualSession(self.transport, extended=self.extended, select=False)

    def juki(self) -> JukiSession:
        """The 住基AP session (unverified layout).  :raises ApplicationNotFound: not here."""
        self._need(App.JUKI)
        return JukiSession(self.transport, extended=self.extended, select=False)


def _select(processor: Processor, app: App) -> bool:
    resp = processor.send(CommandApdu(0x00, Ins.SELECT, 0x04, 0x0C, app.aid))
    if resp.ok:
        return True
    if resp.sw in _ABSENT_SWS:
        return False
    raise _sw.error_for(resp.sw, resp.data)


def _read_token(processor: Processor) -> TokenInfo | None:
    resp = processor.send(
        CommandApdu(0x00, Ins.SELECT, 0x02, 0x0C, JPKI_TOKEN_EF.to_bytes(2, "big"))
    )
    if not resp.ok:
        log.debug("JPKI token EF not selectable (SW %04X)", resp.sw)
        return None
    resp = processor.send(CommandApdu(0x00, Ins.READ_BINARY, 0x00, 0x00, le=TOKEN_READ_LEN))
    # 6282: the EF is shorter than Le — the data is still the token (as in token_info()).
    if resp.sw not in (_sw.SW.SUCCESS, _sw.SW.END_OF_FILE) or not resp.data:
        log.debug("JPKI token EF not readable (SW %04X)", resp.sw)
        return None
    try:
        return TokenInfo.parse(resp.data)
    except BadResponse:
        log.debug("JPKI token EF holds no token string")
        return None


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


def open_card(transport: Transport, *, extended: bool | None = None) -> Card:
    """Identify the card on ``transport`` by selecting its applications.

    :param transport: the connection to the card.
    :param extended: passed on to the sessions the :class:`Card` creates.
    :returns: the identified card.
    :raises ApplicationNotFound: none of the known applications is on the card.
    :raises CardError: an unexpected status word to SELECT.
    :raises TransportError: (or a subclass) the card went away.
    """
    processor = build_stack(TransmitProcessor(transport.transmit), extended=extended)
    found: set[App] = set()
    token: TokenInfo | None = None
    with transport.transaction():
        _set_last_selection(transport, None)  # every session must re-select after this
        for app in PROBED_APPLICATIONS:
            if _select(processor, app):
                found.add(app)
                if app is App.JPKI:
                    token = _read_token(processor)
        atr = bytes(transport.atr)
    apps = frozenset(found)
    if not apps:
        raise ApplicationNotFound(0x6A82, b"", "not a My Number card or 住基カード "
                                  "(none of the known applications answered)")
    card_type = _classify(apps, token)
    log.info("card identified: %s (%s)", card_type.value,
             ", ".join(sorted(a.value.name for a in apps)))
    return Card(transport, card_type, apps, token, atr, extended)

