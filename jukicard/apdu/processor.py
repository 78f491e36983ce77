"""The processor protocol: how sessions send APDUs.

A processor takes a :class:`CommandApdu` and returns a :class:`ResponseApdu`.  Transport
quirks (61xx GET RESPONSE, 6Cxx re-issue, command chaining, extended-length fallback) are
processors that wrap another processor (see :mod:`jukicard.apdu.processors`).  The bottom
of the stack, :class:`TransmitProcessor`, adapts a plain ``transmit(bytes) -> (data, sw)``
callable, i.e. the transport seam, without importing any transport.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from jukicard.apdu.command import CommandApdu, ResponseApdu

__all__ = ["Processor", "Transmit", "TransmitProcessor"]

Transmit = Callable[[bytes], "tuple[bytes, int]"]


class Processor(Protocol):
    """Anything that can send a command APDU and return the response."""

    def send(self, cmd: CommandApdu) -> ResponseApdu: ...


class TransmitProcessor:
    """Bottom of a processor stack: encodes the command and calls ``transmit``."""

    def __init__(self, transmit: Transmit) -> None:
        self._transmit = transmit

    def send(self, cmd: CommandApdu) -> ResponseApdu:
        data, sw = self._transmit(cmd.encode())
        return ResponseApdu(data, sw)
