"""The "common" DF: a card/manufacture number readable without a PIN (the facts).

``card-interface.md`` §3.4: record EF ``0001``, record 1 holds the card id.  The number
identifies the card, so it is not on the tracer's public list.
"""

from __future__ import annotations

import enum

from jukicard.apdu.apps.spec import Application

__all__ = ["AID", "COMMON", "CommonEf", "INTERNAL_AUTH_KEY", "INTERNAL_AUTH_P2"]

#: DF name of the common DF.
AID = bytes.fromhex("D3921000310001010100")

#: The common DF (no PIN).
COMMON = Application("common", AID, "共通DF (card id)", "common DF (card id)")


class CommonEf(enum.IntEnum):
    """EFs of the common DF."""

    #: record EF; record 1 holds the card id.
    CARD_ID = 0x0001


#: The common AP's INTERNAL AUTHENTICATE key (IEF ``0019``): ``00 88 00 99``, no credential,
#: sha256WithRSAEncryption over the challenge; its public key is on no file of the card
#: (``card-security.md`` §2).
INTERNAL_AUTH_KEY = 0x0019
#: P2 of INTERNAL AUTHENTICATE naming that key (``80 | SFI``).
INTERNAL_AUTH_P2 = 0x80 | INTERNAL_AUTH_KEY
