"""ISO/IEC 7816-4 command and response APDUs (cases 1-4, short and extended length).

Pure data: no I/O.  ``CommandApdu.encode()`` chooses short or extended form from the
content (or the caller forces extended); ``CommandApdu.decode()`` parses either form and
rejects anything that is not exactly one of the seven ISO 7816-3 §12.1.3 layouts.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from jukicard.errors import MalformedApduError

__all__ = ["ApduCase", "CommandApdu", "ResponseApdu", "SHORT_MAX_LC", "SHORT_MAX_LE",
           "EXTENDED_MAX_LC", "EXTENDED_MAX_LE"]

SHORT_MAX_LC = 255
SHORT_MAX_LE = 256
EXTENDED_MAX_LC = 65535
EXTENDED_MAX_LE = 65536


class ApduCase(enum.Enum):
    """The ISO 7816-3 command cases; ``S``/``E`` = short/extended length."""

    CASE_1 = "1"
    CASE_2S = "2S"
    CASE_3S = "3S"
    CASE_4S = "4S"
    CASE_2E = "2E"
    CASE_3E = "3E"
    CASE_4E = "4E"


def _byte(name: str, value: int) -> None:
    if not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise MalformedApduError(f"{name} must be a byte, got {value!r}")


def _bytes(name: str, value: object) -> bytes:
    # bytes(5) would silently make five zero bytes, bytes("x") a TypeError: refuse both
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise MalformedApduError(f"{name} must be bytes, got {type(value).__name__}")
    return bytes(value)


@dataclass(frozen=True)
class CommandApdu:
    """A command APDU.

    :param le: expected response length: ``None`` = no Le field (cases 1/3); 1..256 fits
        the short form (256 is encoded as ``00``); up to 65536 needs the extended form
        (65536 is encoded as ``00 00``).  ``le=0`` is not allowed: say 256 or 65536.
    :param extended: force (True) or forbid (False) the extended-length form; ``None``
        picks extended only when the data or Le does not fit the short form.
    """

    cla: int
    ins: int
    p1: int = 0
    p2: int = 0
    data: bytes = b""
    le: int | None = None
    extended: bool | None = None

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            _byte(name, getattr(self, name))
        object.__setattr__(self, "data", _bytes("data", self.data))
        if len(self.data) > EXTENDED_MAX_LC:
            raise MalformedApduError(f"command data too long ({len(self.data)} bytes)")
        if self.le is not None and (
            not isinstance(self.le, int) or isinstance(self.le, bool)
            or not 1 <= self.le <= EXTENDED_MAX_LE
        ):
            raise MalformedApduError(f"Le out of range: {self.le!r}")
        if self.extended not in (None, True, False):
            raise MalformedApduError(f"extended must be None or a bool, got {self.extended!r}")
        if self.extended is False and not self.fits_short:
            raise MalformedApduError("data or Le does not fit a short APDU")

    # ------------------------------------------------------------------ properties
    @property
    def fits_short(self) -> bool:
        """True if the command can be sent as a short APDU."""
        return len(self.data) <= SHORT_MAX_LC and (self.le is None or self.le <= SHORT_MAX_LE)

    @property
    def is_extended(self) -> bool:
        """True if :meth:`encode` produces the extended-length form."""
        if self.extended is None:
            return not self.fits_short
        return self.extended and (bool(self.data) or self.le is not None)

    @property
    def case(self) -> ApduCase:
        """The ISO 7816-3 case this command encodes as."""
        has_data, has_le = bool(self.data), self.le is not None
        if not has_data and not has_le:
            return ApduCase.CASE_1
        suffix = "E" if self.is_extended else "S"
        number = 4 if has_data and has_le else (3 if has_data else 2)
        return ApduCase(f"{number}{suffix}")

    @property
    def header(self) -> bytes:
        return bytes((self.cla, self.ins, self.p1, self.p2))

    # ------------------------------------------------------------------ coding
    def encode(self) -> bytes:
        """The APDU bytes as sent to the card."""
        out = bytearray(self.header)
        if self.is_extended:
            if self.data:
                out += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
            if self.le is not None:
                le = b"\x00\x00" if self.le == EXTENDED_MAX_LE else self.le.to_bytes(2, "big")
                out += le if self.data else b"\x00" + le
        else:
            if self.data:
                out += bytes((len(self.data),)) + self.data
            if self.le is not None:
                out.append(0 if self.le == SHORT_MAX_LE else self.le)
        return bytes(out)

    __bytes__ = encode

    @classmethod
    def decode(cls, raw: bytes) -> CommandApdu:
        """Parse command APDU bytes; raise :class:`MalformedApduError` unless they are
        exactly one of the seven ISO 7816-3 layouts."""
        raw = _bytes("command APDU", raw)
        if len(raw) < 4:
            raise MalformedApduError(f"command APDU too short ({len(raw)} bytes)")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        n = len(body)
        if n == 0:  # case 1
            return cls(cla, ins, p1, p2)
        if n == 1:  # case 2S
            return cls(cla, ins, p1, p2, le=body[0] or SHORT_MAX_LE, extended=False)
        if body[0] != 0:  # short, with Lc
            lc = body[0]
            if n == 1 + lc:
                return cls(cla, ins, p1, p2, body[1:], extended=False)
            if n == 2 + lc:
                return cls(cla, ins, p1, p2, body[1:-1], le=body[-1] or SHORT_MAX_LE,
                           extended=False)
            raise MalformedApduError(f"Lc={lc} does not match {n} body bytes")
        # extended: body[0] == 0
        if n == 3:  # case 2E
            return cls(cla, ins, p1, p2, le=int.from_bytes(body[1:3], "big") or EXTENDED_MAX_LE,
                       extended=True)
        if n < 3:
            raise MalformedApduError("truncated extended length field")
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise MalformedApduError("extended Lc of zero")
        if n == 3 + lc:
            return cls(cla, ins, p1, p2, body[3:], extended=True)
        if n == 5 + lc:
            le = int.from_bytes(body[-2:], "big") or EXTENDED_MAX_LE
            return cls(cla, ins, p1, p2, body[3:-2], le=le, extended=True)
        raise MalformedApduError(f"extended Lc={lc} does not match {n} body bytes")

    def replace(self, **changes: object) -> CommandApdu:
        """A copy with some fields changed (``dataclasses.replace``)."""
        import dataclasses

        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def __repr__(self) -> str:  # never show data: it may be a PIN
        return (f"CommandApdu({self.cla:02X} {self.ins:02X} {self.p1:02X} {self.p2:02X}, "
                f"lc={len(self.data)}, le={self.le})")


@dataclass(frozen=True)
class ResponseApdu:
    """A response APDU: data and the 16-bit status word."""

    data: bytes
    sw: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", _bytes("data", self.data))
        if not isinstance(self.sw, int) or not 0 <= self.sw <= 0xFFFF:
            raise MalformedApduError(f"status word out of range: {self.sw!r}")

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == 0x9000

    @classmethod
    def decode(cls, raw: bytes) -> ResponseApdu:
        """Split response bytes into data and SW; :class:`MalformedApduError` if < 2 bytes."""
        raw = _bytes("response APDU", raw)
        if len(raw) < 2:
            raise MalformedApduError(f"response APDU too short ({len(raw)} bytes)")
        return cls(raw[:-2], int.from_bytes(raw[-2:], "big"))

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    __bytes__ = encode

    def __repr__(self) -> str:
        return f"ResponseApdu(len={len(self.data)}, sw={self.sw:04X})"
