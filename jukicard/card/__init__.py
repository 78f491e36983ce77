"""Card-application sessions for the マイナンバーカード and the 住基カード.

::

    card = open_card(transport)              # identify by SELECTing applications
    jpki = card.jpki()                       # JpkiSession (JukiJpkiSession on a 住基カード)
    jpki.pin_status(JpkiPin.AUTH)            # PinStatus(retries_left=3)
    der = jpki.read_certificate(JpkiCert.AUTH)
    sig = jpki.sign(JpkiKey.AUTH, pin, message=b"...")
    number, basic = card.text().read_verified(pin)
    entries = card.visual().read_entries(match_a=number)

The layout (AIDs, EFs, PINs, keys) is data in :mod:`jukicard.card.layout`; the EF contents
are parsed by :mod:`jukicard.card.dataobjects`.
"""

from __future__ import annotations

from jukicard.card.crypto import HashAlg
from jukicard.card.dataobjects import (
    BasicInfo,
    DataIntegrityError,
    MyNumber,
    TokenInfo,
    TokenKind,
    VisualEntries,
)
from jukicard.card.detect import Card, CardType, open_card
from jukicard.card.jpki import JpkiSession
from jukicard.card.juki import JukiJpkiSession, JukiSession, ResidentCode
from jukicard.card.layout import (
    App,
    JpkiCert,
    JpkiKey,
    JpkiPin,
    JukiJpkiCert,
    JukiJpkiKey,
    JukiJpkiPin,
    JukiPin,
    PinFormatError,
    PinSpec,
    TextPin,
    VisualPin,
    make_match_b,
)
from jukicard.card.session import ApplicationSession, PinStatus
from jukicard.card.text import TextSession
from jukicard.card.visual import VisualSession

__all__ = [
    "App",
    "ApplicationSession",
    "BasicInfo",
    "Card",
    "CardType",
    "DataIntegrityError",
    "HashAlg",
    "JpkiCert",
    "JpkiKey",
    "JpkiPin",
    "JpkiSession",
    "JukiJpkiCert",
    "JukiJpkiKey",
    "JukiJpkiPin",
    "JukiJpkiSession",
    "JukiPin",
    "JukiSession",
    "MyNumber",
    "PinFormatError",
    "PinSpec",
    "PinStatus",
    "ResidentCode",
    "TextPin",
    "TextSession",
    "TokenInfo",
    "TokenKind",
    "VisualEntries",
    "VisualPin",
    "VisualSession",
    "make_match_b",
    "open_card",
]
