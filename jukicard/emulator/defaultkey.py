"""The default signing key of an application: what ``80 2A 00 00`` (P2 ``00``) signs with.

On the real card the 券面事項入力補助AP answers ``80 2A 00 00 <DigestInfo>`` with its own key
IEF ``0013`` — no SELECT, no credential (``card-security.md`` §2, §8).  The table is keyed
by AID from the facts in :mod:`jukicard.apdu.apps`; the key itself (and its access
condition) comes from the card profile like every other key IEF.  The 券面事項確認AP's key
(``001A``) is in the table too (issue 11, part C).

NOTE: the card signs whatever it is given; challenge freshness is the host's check
(:mod:`jukicard.card.cardauth`, CARDAUTH-1).  The card half of freshness is that GET
CHALLENGE never answers the same bytes twice in a row (:class:`~jukicard.emulator.CardOS`
draws them from a CSPRNG, or from a seeded generator that moves on at every call).
"""

from __future__ import annotations

from jukicard.apdu.apps.text import AID as TEXT_AID
from jukicard.apdu.apps.text import CARD_AUTH_KEY
from jukicard.apdu.apps.visual import AID as VISUAL_AID
from jukicard.apdu.apps.visual import CARD_AUTH_KEY as VISUAL_CARD_AUTH_KEY
from jukicard.emulator.fs import DedicatedFile, ElementaryFile

__all__ = ["DEFAULT_SIGNING_KEYS", "default_signing_key"]

#: AID → fid of the application's default signing key.
DEFAULT_SIGNING_KEYS: dict[bytes, int] = {TEXT_AID: CARD_AUTH_KEY,
                                          VISUAL_AID: VISUAL_CARD_AUTH_KEY}


def default_signing_key(df: DedicatedFile | None) -> ElementaryFile | None:
    """The default signing key IEF of ``df``, or ``None`` if it has none (or no
    application is selected: then ``80 2A 00 00`` keeps answering ``6A86``)."""
    if df is None:
        return None
    fid = DEFAULT_SIGNING_KEYS.get(df.aid)
    return df.get(fid) if fid is not None else None
