"""The card side of a simulated connection.

One protocol shared by everything that drives a card object directly rather than through a
reader: the in-process loopback transport and the emulator's vpcd bridge.  It lives in
``apdu`` because both the transport layer and the emulator may import it.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["SimulatedCard"]


class SimulatedCard(Protocol):
    """A card that executes APDU bytes (e.g. :class:`jukicard.emulator.CardOS`).

    ``execute`` returns the whole response, data followed by SW1 SW2, and never raises
    for bad input: a real card answers every command with a status word.
    """

    @property
    def atr(self) -> bytes: ...

    def execute(self, apdu: bytes) -> bytes: ...

    def power_on(self) -> None: ...

    def power_off(self) -> None: ...

    def reset(self) -> None: ...
