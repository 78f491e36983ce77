"""jukicard.transport: the narrow I/O seam between the card layer and a reader.

* :class:`Transport` — the protocol (``transmit(bytes) -> (data, sw)``, ``atr``,
  ``generation``, ``transaction()``, ``close()``);
* :class:`PcscTransport`, :func:`list_readers` — PC/SC readers via pyscard (imported lazily:
  this package imports fine without pyscard);
* :class:`LoopbackTransport` — an in-process card object (the emulator) with fault injection;
* :class:`TracingTransport`, :data:`TRAFFIC` — redacted APDU logging;
* :mod:`jukicard.transport.events` — reader/card insertion and removal events.
"""

from __future__ import annotations

from jukicard.transport.base import BaseTransport, Transport
from jukicard.transport.events import (
    CardInserted,
    CardRemoved,
    Event,
    EventMonitor,
    ReaderAdded,
    ReaderRemoved,
    watch,
)
from jukicard.transport.loopback import LoopbackTransport
from jukicard.transport.pcsc import PcscError, PcscTransport, list_readers
from jukicard.transport.tracing import TRAFFIC, TracingTransport

__all__ = [
    "Transport",
    "BaseTransport",
    "PcscTransport",
    "PcscError",
    "list_readers",
    "LoopbackTransport",
    "TracingTransport",
    "TRAFFIC",
    "Event",
    "ReaderAdded",
    "ReaderRemoved",
    "CardInserted",
    "CardRemoved",
    "EventMonitor",
    "watch",
]
