"""Data objects of the 住基AP: the 住民票コード.  NOTE: unverified layout."""

from __future__ import annotations

from dataclasses import dataclass

from jukicard.apdu.apps.juki import RESIDENT_CODE_LEN
from jukicard.card.codec import ef_bytes, first_tlv
from jukicard.errors import BadResponse, UsageError

__all__ = ["ResidentCode", "RESIDENT_CODE_LEN"]

_PADDING = b"\xff\x00 "


@dataclass(frozen=True, repr=False)
class ResidentCode:
    """住民票コード: 11 ASCII digits.  ``repr()`` masks it (personal data).

    On the emulated card the EF holds the digits, either bare or as the value of one TLV,
    padded with ``FF``/``00``/spaces.  NOTE: unverified layout.
    """

    digits: str

    def __post_init__(self) -> None:
        if not isinstance(self.digits, str):
            raise UsageError(f"住民票コード must be given as str, got a "
                             f"{type(self.digits).__name__}")
        if len(self.digits) != RESIDENT_CODE_LEN or not (
            self.digits.isascii() and self.digits.isdigit()
        ):
            raise UsageError("住民票コード must be 11 ASCII digits")

    @classmethod
    def parse(cls, data: bytes) -> ResidentCode:
        """:raises UsageError: ``data`` is not bytes.
        :raises BadResponse: no 11-digit code in the EF."""
        data = ef_bytes(data, "住民票コード EF")
        value = data.rstrip(_PADDING)
        if value[:1] and not value[:1].isdigit():
            t, _rest = first_tlv(data, "住民票コード EF")
            value = t.value
        if len(value) != RESIDENT_CODE_LEN or not value.isdigit():
            raise BadResponse("住民票コード EF: not 11 digits")
        return cls(value.decode("ascii"))

    def __bytes__(self) -> bytes:
        return self.digits.encode("ascii")

    def __repr__(self) -> str:
        return "ResidentCode(digits='***********')"

    __str__ = __repr__
