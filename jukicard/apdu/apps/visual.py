"""券面事項確認AP (visual AP, "kenkaku"): the facts.

照合番号A (``0013``) or 照合番号B (``0012``) unlocks the card-face entries EF ``0002``; the
6-digit 生年月日読出用暗証番号 (``0011``) unlocks the birth-date EF ``0001``
(``card-interface.md`` §3.3, §4).
"""

from __future__ import annotations

import enum

from jukicard.apdu.apps.spec import Application, Charset, PinEnum, PinSpec
from jukicard.apdu.apps.text import MATCH_A_LABELS, MATCH_B_LABELS

__all__ = ["AID", "VISUAL", "VisualPin", "VisualEf", "CARD_AUTH_KEY"]

#: DF name of the visual AP.
AID = bytes.fromhex("D3921000310001010402")

_MATCH_A = PinSpec("visual-match-a", 0x0013, 12, 12, 10, Charset.DIGITS, *MATCH_A_LABELS)
_MATCH_B = PinSpec("visual-match-b", 0x0012, 14, 14, 10, Charset.DIGITS, *MATCH_B_LABELS)
_BIRTH = PinSpec("visual-birth", 0x0011, 6, 6, 3, Charset.DIGITS,
                 "生年月日読出用暗証番号", "birth-date PIN")


class VisualEf(enum.IntEnum):
    """Data EFs of the visual AP."""

    BIRTH = 0x0001
    ENTRIES = 0x0002
    AP_BASIC_INFO = 0x0003
    CV_CERTIFICATE = 0x0004
    MY_NUMBER_IMAGE = 0x0005


#: The AP's own signing key (IEF ``001A``), the application's default key: ``80 2A 00 00``
#: signs with it, no SELECT, no credential (``card-security.md`` §2).  Its public half is
#: the card key EF ``0001``/``0002``/``0005`` carry (``DF 12``/``DF 24``/``DF 42``).
CARD_AUTH_KEY = 0x001A


#: The 券面事項確認AP.  Nothing it holds is logged (the AP basic info names the city).
VISUAL = Application(
    "visual", AID, "券面事項確認AP", "card-face confirmation application",
    pins=(_MATCH_A, _MATCH_B, _BIRTH),
)


class VisualPin(PinEnum):
    """PINs of the 券面事項確認AP (visual AP)."""

    #: 照合番号A (the My Number): front and back items.
    MATCH_A = _MATCH_A
    #: 照合番号B (birth YYMMDD + expiry YYYY + security code).
    MATCH_B = _MATCH_B
    #: 生年月日読出用暗証番号 (6-digit birth date).
    BIRTH = _BIRTH
