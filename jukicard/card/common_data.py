"""Data objects of the common DF: the card id record (no PIN needed)."""

from __future__ import annotations

from dataclasses import dataclass

from jukicard.card.codec import ascii_text, first_tlv, tlv
from jukicard.errors import BadResponse, UsageError

__all__ = ["CommonCardId"]


@dataclass(frozen=True, repr=False)
class CommonCardId:
    """Record 1 of EF ``0001`` in the common DF: one TLV whose value is 2 leading bytes
    followed by an ASCII card/manufacture number (no PIN needed).

    ``repr()`` masks the number: it identifies the card.
    NOTE: the tag and the leading bytes are not documented; we keep them as read.
    """

    number: str
    prefix: bytes = b"\x00\x00"
    tag: int = 0x04

    @classmethod
    def parse(cls, record: bytes) -> CommonCardId:
        """:raises BadResponse: malformed record."""
        t, _rest = first_tlv(record, "card id record")
        if len(t.value) < 3:
            raise BadResponse("card id record: too short")
        return cls(ascii_text(t.value[2:], "card id record"), t.value[:2], t.tag)

    def __bytes__(self) -> bytes:
        if len(self.prefix) != 2:
            raise UsageError("prefix must be 2 bytes")
        return tlv(self.tag, self.prefix + self.number.encode("ascii"))

    def __repr__(self) -> str:
        return f"CommonCardId(tag={self.tag:X}, number=<{len(self.number)} characters>)"
