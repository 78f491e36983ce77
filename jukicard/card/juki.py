"""住基カード: its JPKI AP (one signature certificate) and a 住基AP shell.

NOTE: **unverified layout.**  No public source documents the 住基カード's EFs
(card-interface.md §3.4, §12).  What is known: the JPKI token reads ``JPKIAPICCTOKEN``; the
JPKI AP holds one certificate type (signature), RSA-1024; its password is 4–16 alphanumerics
(one user report).  Everything else follows the My Number JPKI AP by inference (sign cert
``0001``, CA ``0002``, key ``001A``, password ``001B``).  The 住基AP is placed at
``D3 92 10 00 31 00 01 01 04 01`` with PIN IEF ``001C`` (4 digits, 3 tries); the 住民票コード
(11 digits) EF behind it is the emulator's choice (``0001``).  住基ネット mutual
authentication is not public and not implemented.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

from jukicard.apdu.tlv import Tlv
from jukicard.card.jpki import CertRef, JpkiSession, KeyRef, PinRef
from jukicard.card.layout import (
    App,
    JukiEf,
    JukiJpkiCert,
    JukiJpkiKey,
    JukiJpkiPin,
    JukiPin,
)
from jukicard.card.session import ApplicationSession, PinStatus
from jukicard.errors import BadResponse, TlvError, UsageError

__all__ = ["JukiJpkiSession", "JukiSession", "ResidentCode", "RESIDENT_CODE_LEN"]

log = logging.getLogger(__name__)

RESIDENT_CODE_LEN = 11
_PADDING = b"\xff\x00 "


class JukiJpkiSession(JpkiSession):
    """The JPKI AP of a 住基カード: ``JukiJpkiPin.SIGN``, ``JukiJpkiCert.SIGN``/``SIGN_CA``
    and ``JukiJpkiKey.SIGN`` (RSA-1024) only.  Same methods as
    :class:`~jukicard.card.jpki.JpkiSession`.  NOTE: unverified layout.
    """

    PINS: ClassVar[tuple[PinRef, ...]] = tuple(JukiJpkiPin)
    CERTS: ClassVar[tuple[CertRef, ...]] = tuple(JukiJpkiCert)
    KEYS: ClassVar[tuple[KeyRef, ...]] = tuple(JukiJpkiKey)


@dataclass(frozen=True, repr=False)
class ResidentCode:
    """住民票コード: 11 ASCII digits.  ``repr()`` masks it (personal data).

    On the emulated card the EF holds the digits, either bare or as the value of one TLV,
    padded with ``FF``/``00``/spaces.  NOTE: unverified layout.
    """

    digits: str

    def __post_init__(self) -> None:
        if len(self.digits) != RESIDENT_CODE_LEN or not (
            self.digits.isascii() and self.digits.isdigit()
        ):
            raise UsageError("住民票コード must be 11 ASCII digits")

    @classmethod
    def parse(cls, data: bytes) -> ResidentCode:
        """:raises BadResponse: no 11-digit code in the EF."""
        data = bytes(data)
        value = data.rstrip(_PADDING)
        if value[:1] and not value[:1].isdigit():
            try:
                tlv, _rest = Tlv.parse_first(data)
            except TlvError as exc:
                raise BadResponse("住民票コード EF: malformed") from exc
            value = tlv.value
        if len(value) != RESIDENT_CODE_LEN or not value.isdigit():
            raise BadResponse("住民票コード EF: not 11 digits")
        return cls(value.decode("ascii"))

    def __bytes__(self) -> bytes:
        return self.digits.encode("ascii")

    def __repr__(self) -> str:
        return "ResidentCode(digits='***********')"

    __str__ = __repr__


class JukiSession(ApplicationSession):
    """The 住基AP shell of a 住基カード: PIN status, VERIFY, read the 住民票コード.

    NOTE: unverified layout (see the module docstring).

    :param transport: the connection to the card.
    :param extended: see :class:`~jukicard.card.session.ApplicationSession`.
    :param select: select the AP at construction.
    :raises ApplicationNotFound: no 住基AP on this card.
    """

    APPLICATION: ClassVar[App] = App.JUKI
    PINS: ClassVar[tuple[JukiPin, ...]] = tuple(JukiPin)

    def pin_status(self, pin: JukiPin = JukiPin.PIN) -> PinStatus:
        """Tries left for the 住基 PIN (data-less VERIFY, never decrements).

        :raises TransportError: (or a subclass) the card went away.
        """
        spec = self._pin(pin)
        with self._operation():
            return self._pin_status(spec)

    def verify(self, value: str, pin: JukiPin = JukiPin.PIN) -> None:
        """VERIFY the 住基 PIN once.

        :raises PinFormatError: wrong format — nothing was sent.
        :raises PinError: wrong PIN, ``retries_left`` set.
        :raises PinBlockedError: blocked.
        """
        spec = self._pin(pin)
        raw = self._encode_pin(spec, value)
        with self._operation():
            self._verify(spec, raw)

    def read_resident_code(self, pin: str | None = None) -> ResidentCode:
        """Read the 住民票コード (after VERIFY of the 住基 PIN, in the same transaction).

        :param pin: the 4-digit 住基 PIN; ``None`` relies on an earlier :meth:`verify`.
        :raises PinFormatError: / :raises PinError: / :raises PinBlockedError: on VERIFY.
        :raises SecurityStatusError: the PIN is not verified.
        :raises BadResponse: the EF does not hold an 11-digit code.
        :raises TransportError: (or a subclass) the card went away.
        """
        spec = JukiPin.PIN.value
        raw = self._encode_pin(spec, pin) if pin is not None else None
        with self._operation(fresh=raw is not None):
            if raw is not None:
                self._verify(spec, raw)
            self._select_ef(JukiEf.RESIDENT_CODE, "住民票コード EF")
            data = self._read_whole("住民票コード EF", limit=256)
        return ResidentCode.parse(data)
