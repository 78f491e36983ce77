"""Card-identity data objects (issue 11, part C): the MF GET DATA objects, the common AP's
card-information record, JPKI EF ``0008`` (certificate availability) and the full JPKI
token information (EF ``0006``, ``CK_TOKEN_INFO``) — ``card-security.md`` §4.

Decisions (``ID-n``, continued from :mod:`jukicard.card.cvca`):

* ID-5 — the card identification number (GET DATA ``0045``), the municipality code and the
  expiry identify a card, not a person: they are **not** secrets (they may be shown and
  put in JSON), but they are personal-ish, so ``repr()`` masks the card number and no log
  line carries any of them.  The My Number, name, address and birth date never appear
  here.
* ID-6 — the common AP record is ``01 1C`` + 28 ASCII digits (serial 15 ‖ municipality 5
  ‖ expiry 8); the older :class:`~jukicard.card.common_data.CommonCardId` parser stays for
  cards (and callers) using the old guess.
* ID-7 — ``CK_TOKEN_INFO`` fields are kept as read (text fields space-stripped, CK_ULONG
  as 4-byte big-endian integers, versions as their 2 raw bytes); only the layout is
  checked.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from jukicard.card.codec import ascii_text, ef_bytes, first_tlv, tlv
from jukicard.errors import BadResponse, UsageError

__all__ = [
    "CardInfoRecord",
    "CertificateAvailability",
    "TokenInfoFull",
    "TOKEN_INFO_LEN",
    "MF_TAGS",
    "CardIdentity",
]

#: MF GET DATA tags (P1P2) and what they hold (``card-security.md`` §4).
MF_TAGS: dict[int, str] = {
    0x0042: "issuer identification",
    0x0045: "card identification number",
    0x0066: "card recognition data",
    0x00F0: "municipality code",
    0x00F2: "expiry",
    0x00F7: "intermediate key id",
    0x00F8: "CV certificate root to intermediate",
    0x7F21: "CV certificate intermediate to lower key",
    0x5F51: "contact ATR",
}
_CARD_INFO_TAG = 0x01
_CARD_INFO_LEN = 28


def _digits(value: str, n: int, what: str) -> None:
    if len(value) != n or not value.isascii() or not value.isdigit():
        raise UsageError(f"{what} must be {n} ASCII digits")


@dataclass(frozen=True, repr=False)
class CardInfoRecord:
    """Common AP EF ``0001`` record 1: ``01 1C`` + serial (15) ‖ municipality (5) ‖ expiry
    ``YYYYMMDD`` (ID-6).  ``repr()`` masks the serial (ID-5)."""

    serial: str
    municipality: str
    expiry: str

    def __post_init__(self) -> None:
        _digits(self.serial, 15, "serial")
        _digits(self.municipality, 5, "municipality code")
        _digits(self.expiry, 8, "expiry")

    @classmethod
    def parse(cls, record: bytes) -> CardInfoRecord:
        """:raises BadResponse: another tag, another length, or non-digits."""
        t, _rest = first_tlv(record, "card information record")
        if t.tag != _CARD_INFO_TAG or len(t.value) != _CARD_INFO_LEN:
            raise BadResponse("card information record: unexpected layout")
        text = ascii_text(t.value, "card information record", digits=True)
        return cls(text[:15], text[15:20], text[20:])

    def __bytes__(self) -> bytes:
        return tlv(_CARD_INFO_TAG, (self.serial + self.municipality + self.expiry).encode())

    def __repr__(self) -> str:
        return (f"CardInfoRecord(serial=<15 digits>, municipality={self.municipality!r}, "
                f"expiry={self.expiry!r})")


@dataclass(frozen=True)
class CertificateAvailability:
    """JPKI EF ``0008`` (3 bytes): byte 0 = signature certificate, byte 1 = authentication
    certificate (``8F`` = present), byte 2 unknown (kept as read)."""

    sign: bool
    auth: bool
    raw: bytes = field(default=b"\x8f\x8f\x00", compare=False)

    PRESENT = 0x8F

    @classmethod
    def parse(cls, data: bytes) -> CertificateAvailability:
        """:raises BadResponse: not 3 bytes."""
        raw = ef_bytes(data, "certificate availability EF")
        if len(raw) != 3:
            raise BadResponse("certificate availability EF: expected 3 bytes")
        return cls(raw[0] == cls.PRESENT, raw[1] == cls.PRESENT, raw)

    def __bytes__(self) -> bytes:
        flag = (b"\x00", bytes((self.PRESENT,)))
        return flag[self.sign] + flag[self.auth] + self.raw[2:3]


#: Size of JPKI EF ``0006`` read whole (``CK_TOKEN_INFO`` with 4-byte CK_ULONGs).
TOKEN_INFO_LEN = 160
_TEXT_FIELDS = (("label", 0, 32), ("manufacturer", 32, 64), ("model", 64, 80),
                ("serial_number", 80, 96))
_ULONGS = ("flags", "max_session_count", "session_count", "max_rw_session_count",
           "rw_session_count", "max_pin_len", "min_pin_len", "total_public_memory",
           "free_public_memory", "total_private_memory", "free_private_memory")
_ULONG_FMT = ">11I"


@dataclass(frozen=True)
class TokenInfoFull:
    """JPKI EF ``0006`` in full: PKCS#11 ``CK_TOKEN_INFO`` (160 bytes, ID-7)."""

    label: str
    manufacturer: str
    model: str
    serial_number: str
    flags: int
    max_session_count: int
    session_count: int
    max_rw_session_count: int
    rw_session_count: int
    max_pin_len: int
    min_pin_len: int
    total_public_memory: int
    free_public_memory: int
    total_private_memory: int
    free_private_memory: int
    hardware_version: bytes
    firmware_version: bytes
    utc_time: str

    @classmethod
    def parse(cls, data: bytes) -> TokenInfoFull:
        """:raises BadResponse: shorter than 160 bytes, or non-ASCII text fields."""
        raw = ef_bytes(data, "token info EF")
        if len(raw) < TOKEN_INFO_LEN:
            raise BadResponse(f"token info EF: {len(raw)} bytes, expected {TOKEN_INFO_LEN}")
        label, manufacturer, model, serial = (
            ascii_text(raw[a:b].rstrip(b" \x00") or b" ", f"token info {name}").strip()
            for name, a, b in _TEXT_FIELDS)
        u: tuple[int, ...] = struct.unpack(_ULONG_FMT, raw[96:140])
        utc = ascii_text(raw[144:160].rstrip(b" \x00") or b" ", "token info time").strip()
        return cls(label, manufacturer, model, serial, u[0], u[1], u[2], u[3], u[4], u[5],
                   u[6], u[7], u[8], u[9], u[10], raw[140:142], raw[142:144], utc)

    def __bytes__(self) -> bytes:
        out = b"".join(getattr(self, name).encode("ascii").ljust(b - a, b" ")[: b - a]
                       for name, a, b in _TEXT_FIELDS)
        out += struct.pack(_ULONG_FMT, *(getattr(self, n) for n in _ULONGS))
        out += self.hardware_version[:2].ljust(2, b"\x00")
        out += self.firmware_version[:2].ljust(2, b"\x00")
        return out + self.utc_time.encode("ascii").ljust(16, b" ")[:16]


@dataclass(frozen=True, repr=False)
class CardIdentity:
    """What the MF GET DATA objects say about the card (ID-5: no secret; ``repr()`` masks
    the card identification number).  ``None`` for an object the card lacks (``6A88``).

    :ivar card_id: the card identification number (``0045``, ASCII).
    :ivar municipality: ``00F0`` (5 digits). :ivar expiry: ``00F2`` (``YYYYMMDD``).
    :ivar objects: every object read, tag → raw value.
    """

    card_id: str | None
    municipality: str | None
    expiry: str | None
    objects: dict[int, bytes] = field(default_factory=dict, compare=False)

    @classmethod
    def from_objects(cls, objects: dict[int, bytes]) -> CardIdentity:
        """:raises BadResponse: a text object that is not ASCII.
        :raises UsageError: a value that is not bytes."""
        if not all(isinstance(v, bytes) for v in objects.values()):
            raise UsageError("GET DATA objects are bytes")

        def text(tag: int) -> str | None:
            value = objects.get(tag)
            return None if value is None else ascii_text(value, MF_TAGS[tag])
        return cls(text(0x0045), text(0x00F0), text(0x00F2), dict(objects))

    def to_dict(self) -> dict[str, object]:
        """JSON-ready (the card number is not a secret, ID-5)."""
        return {"card_id": self.card_id, "municipality": self.municipality,
                "expiry": self.expiry,
                "objects": sorted(f"{t:04X}" for t in self.objects)}

    def __repr__(self) -> str:
        shown = "None" if self.card_id is None else f"<{len(self.card_id)} characters>"
        return (f"CardIdentity(card_id={shown}, municipality={self.municipality!r}, "
                f"expiry={self.expiry!r})")
