"""Data objects of the JPKI AP: the token EF (``0006``).

Certificates are plain DER, loaded with :mod:`jukicard.card.crypto`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from jukicard.apdu.apps.jpki import (
    JUKI_TOKEN,
    MYNUMBER_TOKEN,
    SMARTPHONE_TOKEN,
    TOKEN_EF_SIZE,
)
from jukicard.card.codec import ascii_text, ef_bytes
from jukicard.errors import BadResponse, UsageError

__all__ = ["TokenKind", "TokenInfo", "TOKEN_EF_SIZE"]


class TokenKind(enum.Enum):
    """What kind of JPKI holder the token EF (JPKI ``0006``) announces."""

    MYNUMBER_CARD = MYNUMBER_TOKEN
    JUKI_CARD = JUKI_TOKEN
    SMARTPHONE = SMARTPHONE_TOKEN
    UNKNOWN = ""


@dataclass(frozen=True)
class TokenInfo:
    """JPKI token EF ``0006``: an ASCII token padded to 32 bytes.

    :ivar token: the token without padding (e.g. ``"JPKIAPICCTOKEN2"``).
    :ivar pad: the padding byte used by :meth:`__bytes__` (space; some fixtures use NUL).
    """

    token: str
    pad: bytes = field(default=b" ", compare=False)

    @classmethod
    def parse(cls, data: bytes) -> TokenInfo:
        """Parse the token EF (any read length; clients read 20 or 32 bytes).

        :param data: bytes read from EF ``0006``.
        :raises UsageError: ``data`` is not bytes.
        :raises BadResponse: empty or non-printable token.
        """
        data = ef_bytes(data, "token EF")
        stripped = data.rstrip(b" \x00")
        if not stripped:
            raise BadResponse("token EF is empty")
        token = ascii_text(stripped, "token EF")
        pad = data[len(stripped) : len(stripped) + 1] or b" "
        return cls(token, pad)

    @property
    def kind(self) -> TokenKind:
        """The holder kind; :attr:`TokenKind.UNKNOWN` for any other token."""
        for kind in TokenKind:
            if kind is not TokenKind.UNKNOWN and kind.value == self.token:
                return kind
        return TokenKind.UNKNOWN

    def __bytes__(self) -> bytes:
        raw = self.token.encode("ascii")
        if len(raw) > TOKEN_EF_SIZE or len(self.pad) != 1:
            raise UsageError("token too long or bad padding byte")
        return raw.ljust(TOKEN_EF_SIZE, self.pad)
