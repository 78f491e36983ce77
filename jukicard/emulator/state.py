"""State and plumbing shared by the emulated card's command sets.

:class:`CardState` holds what every command handler reads or changes — the file system,
the current DF/EF, the verified PINs, the secure channel — and the small helpers they share.
The command sets are mixins over it (:mod:`~jukicard.emulator.filecmds`,
:mod:`~jukicard.emulator.securitycmds`, and the ones issue 11 adds); :class:`CardOS` puts
them together and is the only place that dispatches and adds the status word.

A mixin declares its commands in :attr:`CardState.COMMANDS` (``(CLA class, INS)`` → method
name); :class:`~jukicard.emulator.cardos.CardOS` merges the tables along the MRO.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import ClassVar, Protocol

from jukicard.apdu.command import CommandApdu
from jukicard.apdu.sw import SW
from jukicard.emulator.fs import DedicatedFile, ElementaryFile, FileSystem, PinIEF
from jukicard.errors import CardError

__all__ = ["SwError", "CardState", "CardStats", "Handler", "SecureChannel", "tries_sw"]

#: A command handler: response data, or :class:`SwError`.
Handler = Callable[[CommandApdu], bytes]


def tries_sw(tries_left: int) -> int:
    """``63 Cx`` for ``tries_left`` (x capped at 15)."""
    return 0x63C0 | min(tries_left, 0x0F)


class SwError(CardError):
    """Raised by command handlers; turned into the response status word by ``execute``.

    :param sw: the status word.
    :param reason: for the debug log (never secret data).
    :param data: response data sent with this status word (secure-messaging responses
        carry a status object and a MAC with an error status); empty for plain commands.
    """

    def __init__(self, sw: int, reason: str = "", *, data: bytes = b"") -> None:
        super().__init__(int(sw), b"", reason or f"SW {int(sw):04X}")
        self.reason = reason
        self.data = bytes(data)


@dataclass
class CardStats:
    """Counters of what the card received.

    :ivar apdus: every command APDU passed to ``execute``.
    :ivar verify_with_data: VERIFY (INS 20) APDUs carrying data, whatever the outcome —
        i.e. PIN submissions.
    :ivar verify_status_queries: VERIFY APDUs without data (retry-counter queries).
    :ivar change_reference_data: CHANGE REFERENCE DATA (INS 24) APDUs.
    :ivar signatures: signatures actually computed.
    :ivar power_ons / power_offs / resets: power events.
    """

    apdus: int = 0
    verify_with_data: int = 0
    verify_status_queries: int = 0
    change_reference_data: int = 0
    signatures: int = 0
    power_ons: int = 0
    power_offs: int = 0
    resets: int = 0

    def clear(self) -> None:
        """Set every counter back to zero."""
        for f in fields(self):
            setattr(self, f.name, 0)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class SecureChannel(Protocol):
    """The card half of a secure-messaging session, installed by the command that opens it
    (volatile: cleared at reset, power events and SELECT by DF name).

    :meth:`process` receives every command whose CLA has secure-messaging bits, unwraps it,
    runs the plain command through ``run`` (which returns data or raises
    :class:`SwError`) and returns the wrapped response data — or raises :class:`SwError`
    (with ``data`` when the error response itself is protected).  The channel decides what
    a failure does to itself (e.g. destroy the session).
    """

    def process(self, cmd: CommandApdu, run: Handler) -> bytes:
        """Unwrap ``cmd``, run it, wrap the answer."""
        ...


class CardState:
    """The card's state and the helpers every command set shares (see module doc)."""

    #: ``(CLA class, INS)`` → name of the handler method, per mixin.
    COMMANDS: ClassVar[dict[tuple[int, int], str]] = {}

    fs: FileSystem
    stats: CardStats
    _df: DedicatedFile | None
    _ef: ElementaryFile | None
    _verified: set[int]
    _rng: random.Random | None
    #: the open secure-messaging session, if any (volatile)
    secure_channel: SecureChannel | None

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _tlv(tag: int, value: bytes) -> bytes:
        n = len(value)
        if n < 0x80:
            length = bytes((n,))
        elif n < 0x100:
            length = bytes((0x81, n))
        else:
            length = bytes((0x82,)) + n.to_bytes(2, "big")
        return bytes((tag,)) + length + value

    @staticmethod
    def _fit(data: bytes, le: int | None) -> bytes:
        return data if le is None else data[:le]

    def _need_df(self) -> DedicatedFile:
        if self._df is None:
            raise SwError(SW.FILE_NOT_FOUND, "no application selected")
        return self._df

    def _pin_reference(self, p2: int) -> PinIEF:
        """Resolve the P2 of VERIFY / CHANGE REFERENCE DATA to a PIN IEF."""
        if p2 == 0x80:
            if self._ef is None:
                raise SwError(SW.COMMAND_NOT_ALLOWED_NO_EF)
            if not isinstance(self._ef, PinIEF):
                raise SwError(SW.COMMAND_INCOMPATIBLE_WITH_FILE)
            return self._ef
        if 0x81 <= p2 <= 0x9E:
            df = self._df
            pin = df.pin(p2 & 0x1F) if df is not None else None
            if pin is None:
                raise SwError(SW.REFERENCED_DATA_NOT_FOUND)
            return pin
        raise SwError(SW.INCORRECT_P1P2)
