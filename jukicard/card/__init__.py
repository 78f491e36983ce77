"""Card-application sessions for the マイナンバーカード and the 住基カード.

::

    card = open_card(transport)              # identify by SELECTing applications
    jpki = card.jpki()                       # JpkiSession (JukiJpkiSession on a 住基カード)
    jpki.pin_status(JpkiPin.AUTH)            # PinStatus(retries_left=3)
    der = jpki.read_certificate(JpkiCert.AUTH)
    sig = jpki.sign(JpkiKey.AUTH, pin, message=b"...")
    result = card.text().read_verified(pin)  # result.signature_check: "card-key-only"
    number, basic = result                   # (unpacks like a pair)
    entries = card.visual().read_entries(match_a=number)

The facts (AIDs, EFs, PINs, keys) are data in :mod:`jukicard.apdu.apps`, one module per
application; the card is identified by the table in :mod:`jukicard.card.detect`; every
session and service on one transport shares its :class:`CardChannel`
(:meth:`CardChannel.of`); each application's data objects live beside its session
(``jukicard.card.<app>_data``).
"""

from __future__ import annotations

from jukicard.apdu.apps import (
    App,
    Application,
    CertSpec,
    Charset,
    JpkiCert,
    JpkiKey,
    JpkiPin,
    JukiJpkiCert,
    JukiJpkiKey,
    JukiJpkiPin,
    JukiPin,
    KeySpec,
    PinSpec,
    TextPin,
    VisualPin,
    make_match_b,
)
from jukicard.card.channel import CardChannel
from jukicard.card.codec import Sex
from jukicard.card.crypto import HashAlg
from jukicard.card.cvc import CvCertificate
from jukicard.card.detect import DETECTION, Card, CardType, Detection, open_card
from jukicard.card.jpki import JpkiSession, JukiJpkiSession
from jukicard.card.jpki_data import TokenInfo, TokenKind
from jukicard.card.juki import JukiSession
from jukicard.card.juki_data import ResidentCode
from jukicard.card.session import ApplicationSession, PinStatus
from jukicard.card.signscheme import SignScheme
from jukicard.card.text import TextSession, issuer_public_key
from jukicard.card.text_data import (
    BasicInfo,
    MyNumber,
    SignatureCheck,
    VerifiedTextData,
)
from jukicard.card.visual import VisualSession
from jukicard.card.visual_data import VisualBirth, VisualEntries
from jukicard.errors import DataIntegrityError, PinFormatError

__all__ = [
    "App",
    "Application",
    "ApplicationSession",
    "BasicInfo",
    "Card",
    "CardChannel",
    "CardType",
    "CertSpec",
    "Charset",
    "CvCertificate",
    "DETECTION",
    "DataIntegrityError",
    "Detection",
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
    "KeySpec",
    "MyNumber",
    "PinFormatError",
    "PinSpec",
    "PinStatus",
    "ResidentCode",
    "Sex",
    "SignScheme",
    "SignatureCheck",
    "TextPin",
    "TextSession",
    "TokenInfo",
    "TokenKind",
    "VerifiedTextData",
    "VisualBirth",
    "VisualEntries",
    "VisualPin",
    "VisualSession",
    "issuer_public_key",
    "make_match_b",
    "open_card",
]
