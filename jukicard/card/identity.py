"""Card identity (issue 11, part C): the MF GET DATA objects, the common AP (its
card-information record and INTERNAL AUTHENTICATE).

* :func:`read_card_identity` / :func:`card_identification_number` — ``00 CA P1P2`` at
  MF level (no SELECT; ``6A88`` = the card lacks the object; the CV certificates need an
  extended Le).  :func:`card_identification_number` is the input of per-card key
  diversification (:mod:`jukicard.keys`).
* :class:`CommonSession` — the 共通カードAP: :meth:`~CommonSession.read_card_info` and
  :meth:`~CommonSession.internal_authenticate` (``00 88 00 99``, key ``0019``, no
  credential).

Decisions (``ID-n``, continued from :mod:`jukicard.card.identity_data`):

* ID-8 — the INTERNAL AUTHENTICATE key's public half is on no file of the card, so the
  card's answer proves nothing by itself.  :meth:`CommonSession.internal_authenticate`
  checks it only against a key the caller supplies (e.g. one recorded when the card was
  enrolled) and otherwise says ``key_known=False``: "the card signed something with some
  key" — never a genuineness claim.
* ID-9 — GET DATA is sent in one transaction without selecting anything (an application
  left selected stays selected; the cards that answer only at MF would need the ISD AID
  selected first, which this reader does not do).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from cryptography.hazmat.primitives.asymmetric import rsa

from jukicard.apdu import sw as _sw
from jukicard.apdu.apps import Application
from jukicard.apdu.apps.common import COMMON, INTERNAL_AUTH_P2, CommonEf
from jukicard.apdu.apps.spec import PinEnum
from jukicard.apdu.command import CommandApdu
from jukicard.apdu.sw import SW
from jukicard.card.channel import CardChannel
from jukicard.card.codec import rsa_verify
from jukicard.card.identity_data import MF_TAGS, CardIdentity, CardInfoRecord
from jukicard.card.session import ApplicationSession
from jukicard.errors import BadResponse, CardAuthenticationError, UsageError
from jukicard.transport.base import Transport

__all__ = [
    "LARGE_TAGS",
    "get_data",
    "read_card_identity",
    "card_identification_number",
    "InternalAuthResult",
    "CommonSession",
    "INTERNAL_AUTH_CHALLENGE_LEN",
]

log = logging.getLogger(__name__)

#: MF objects that need an extended Le (the CV certificates).
LARGE_TAGS = frozenset({0x00F8, 0x7F21})
_INS_GET_DATA = 0xCA
_INS_INTERNAL_AUTHENTICATE = 0x88
#: Challenge length :meth:`CommonSession.internal_authenticate` draws by default.
INTERNAL_AUTH_CHALLENGE_LEN = 32


def get_data(channel: CardChannel, tag: int) -> bytes | None:
    """One MF GET DATA (inside the caller's operation): the value, or ``None`` for ``6A88``
    (and for a large object on a short-APDU-only channel).

    :raises CardError: any other status word.
    """
    large = tag in LARGE_TAGS
    if large and channel.extended_supported is False:
        return None
    cmd = CommandApdu(0x00, _INS_GET_DATA, tag >> 8, tag & 0xFF,
                      le=65536 if large else 256, extended=large)
    resp = channel.send(cmd)
    if resp.sw == SW.REFERENCED_DATA_NOT_FOUND:
        return None
    if large and resp.sw == SW.WRONG_LENGTH:
        return None  # the card (or the reader) refuses extended length
    return _sw.check(resp)


def read_card_identity(
    card: CardChannel | Transport, tags: Iterable[int] = tuple(MF_TAGS)
) -> CardIdentity:
    """Read the MF GET DATA objects ``tags`` (default: all known) in one transaction.

    :param card: the card's channel or a bare transport.
    :raises UsageError: a tag outside ``0000..FFFF``.
    :raises BadResponse: a text object that is not ASCII.
    :raises CardError: a status word other than ``9000``/``6A88``.
    :raises TransportError: (or a subclass) the card went away.
    """
    try:
        wanted = tuple(tags)
    except TypeError:
        raise UsageError("tags must be an iterable of GET DATA tags") from None
    if not all(isinstance(t, int) and 0 <= t <= 0xFFFF for t in wanted):
        raise UsageError("a GET DATA tag is 0000..FFFF")
    channel = CardChannel.of(card)
    objects: dict[int, bytes] = {}
    with channel.operation():
        for tag in wanted:
            value = get_data(channel, tag)
            if value is not None:
                objects[tag] = value
    log.debug("MF GET DATA: %d of %d objects present", len(objects), len(wanted))
    return CardIdentity.from_objects(objects)


def card_identification_number(card: CardChannel | Transport) -> str:
    """The card identification number (MF GET DATA ``0045``): the input of per-card key
    diversification.

    :raises BadResponse: the card has none (``6A88``) or it is not ASCII.
    :raises CardError: / :raises TransportError: as :func:`read_card_identity`.
    """
    card_id = read_card_identity(card, (0x0045,)).card_id
    if not card_id:
        raise BadResponse("the card has no card identification number (GET DATA 0045)")
    return card_id


@dataclass(frozen=True)
class InternalAuthResult:
    """The common AP's INTERNAL AUTHENTICATE answer (ID-8).

    :ivar key_known: True only when the caller supplied the card's public key and the
        signature verified under it; False = the key is unknown, nothing about genuineness
        follows.
    """

    key_known: bool
    challenge: bytes = field(repr=False)
    signature: bytes = field(repr=False)

    def to_dict(self) -> dict[str, object]:
        return {"application": "common", "key_known": self.key_known,
                "result": "verified-to-supplied-key" if self.key_known else "key-unknown"}


class _NoPin(PinEnum):
    """The common AP's PIN is not used by this session."""


class CommonSession(ApplicationSession[_NoPin]):
    """The 共通カードAP: card information and INTERNAL AUTHENTICATE (no credential)."""

    APPLICATION: ClassVar[Application] = COMMON
    PINS: ClassVar[tuple[_NoPin, ...]] = ()

    def read_card_info(self) -> CardInfoRecord:
        """EF ``0001`` record 1 (``01 1C`` + 28 digits, ID-6).

        :raises BadResponse: another layout.
        :raises CardError: / :raises TransportError: the card said no or went away.
        """
        with self._operation():
            resp = self._send(CommandApdu(0x00, 0xB2, 0x01, (CommonEf.CARD_ID << 3) | 0x04,
                                          le=256, extended=False))
            record = _sw.check(resp)
        return CardInfoRecord.parse(record)

    def internal_authenticate(
        self,
        challenge: bytes | None = None,
        *,
        public_key: rsa.RSAPublicKey | None = None,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> InternalAuthResult:
        """``00 88 00 99 Lc <challenge> 00`` with key ``0019``: the card signs the challenge
        (sha256WithRSAEncryption).

        :param challenge: 1..255 bytes (default: 32 fresh bytes from ``rng``); anything
            but bytes (an ``int`` once became that many zero bytes) is a usage error.
        :param public_key: the card's key as the caller knows it (not on the card): the
            signature must verify under it (ID-8).
        :raises UsageError: a challenge of another length, or a key that is not RSA public.
        :raises CardAuthenticationError: ``public_key`` given and the signature does not
            verify (another card, a replayed answer).
        :raises SecurityStatusError: / :raises CardError: the card refused (``6982``,
            ``6985``).
        :raises TransportError: (or a subclass) the card went away.
        """
        if public_key is not None and not isinstance(public_key, rsa.RSAPublicKey):
            raise UsageError("public_key must be an RSA public key")
        chal = (rng(INTERNAL_AUTH_CHALLENGE_LEN) if callable(rng) else None) \
            if challenge is None else challenge
        if not isinstance(chal, bytes | bytearray | memoryview) or not 1 <= len(chal) <= 255:
            raise UsageError("an INTERNAL AUTHENTICATE challenge is 1..255 bytes")
        chal = bytes(chal)
        with self._operation():
            resp = self._send(CommandApdu(0x00, _INS_INTERNAL_AUTHENTICATE, 0x00,
                                          INTERNAL_AUTH_P2, chal, le=256, extended=False))
            signature = _sw.check(resp)
        if public_key is not None and not rsa_verify(public_key, signature, chal):
            raise CardAuthenticationError("the INTERNAL AUTHENTICATE answer does not verify "
                                          "under the supplied card key")
        return InternalAuthResult(public_key is not None, chal, signature)
