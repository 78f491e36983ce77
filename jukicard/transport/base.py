"""The transport seam: one narrow protocol between the card layer and the reader.

Everything above this seam (processors, sessions, services) is plain Python that only needs
``transmit(bytes) -> (data, sw)``.  Concrete transports:

* :class:`jukicard.transport.pcsc.PcscTransport` — a real (or vpcd) reader through pyscard;
* :class:`jukicard.transport.loopback.LoopbackTransport` — an in-process card object (the
  emulator), with fault injection for tests;
* :class:`jukicard.transport.tracing.TracingTransport` — a decorator that logs traffic at the
  ``TRAFFIC`` level with PINs and personal data redacted.

:class:`BaseTransport` holds what every concrete transport shares: input and response
validation, the re-entrant transaction bookkeeping, the ``generation`` counter and the
close/context-manager plumbing.

Both :class:`BaseTransport` and :class:`DelegatingTransport` carry what the card layer needs
to share one view of the card between every session and service on the same transport
object (see :meth:`jukicard.card.channel.CardChannel.of`):

* ``card_channel`` — a slot the card layer keeps its channel in (typed ``object``: this
  layer does not know the card layer);
* ``transmit_count`` — how many commands went to the card through this connection, by
  anyone: a channel that sees it move between its own commands knows that someone else
  talked to the card (and may have selected another application);
* ``sees_all_traffic`` — whether that count covers *every* command the card receives (an
  exclusive PC/SC connection, an in-process loopback with a single client).  When it does
  not (a PC/SC connection in shared mode, two loopback transports on one card), another
  connection may talk to the card between two of our transactions unseen, so the card
  layer trusts a selection only within the transaction that made it;
* ``transaction_count`` — how many outermost transactions were begun (a PC/SC transaction
  keeps other connections out while it lasts, so it tells one transaction from the next).
"""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager as ContextManager
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar, runtime_checkable

from jukicard.errors import MalformedApduError, TransportError

__all__ = [
    "Transport",
    "BaseTransport",
    "DelegatingTransport",
    "MIN_COMMAND_LEN",
    "MAX_COMMAND_LEN",
    "check_command",
    "split_response",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T", bound="BaseTransport")
_D = TypeVar("_D", bound="DelegatingTransport")

#: CLA INS P1 P2.
MIN_COMMAND_LEN = 4
#: Largest ISO 7816 command: header + extended Lc (3) + 65535 data bytes + extended Le (2).
MAX_COMMAND_LEN = 4 + 3 + 65535 + 2


@runtime_checkable
class Transport(Protocol):
    """What the card layer needs from a reader connection.

    ``transmit`` sends one command APDU and returns the response data and the 16-bit status
    word.  It never interprets the status word and never re-sends a command on its own.
    """

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Send one command APDU; return ``(data, sw)``."""
        ...

    @property
    def atr(self) -> bytes:
        """The ATR of the card currently connected."""
        ...

    @property
    def generation(self) -> int:
        """Incremented on every (re)connect or reset: all card state is gone when it changes."""
        ...

    def transaction(self) -> ContextManager[None]:
        """An exclusive (PC/SC) transaction; re-entrant."""
        ...

    def close(self) -> None:
        """Release the connection (idempotent)."""
        ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> None: ...


def check_command(apdu: object) -> bytes:
    """Validate a command APDU handed to ``transmit`` and return it as ``bytes``.

    Only the framing is checked (type and length bounds); the card judges the content.

    :param apdu: the command bytes (``bytes``, ``bytearray`` or ``memoryview``).
    :raises MalformedApduError: not bytes-like, shorter than 4 or longer than the largest
        extended-length APDU.
    """
    if not isinstance(apdu, (bytes, bytearray, memoryview)):
        raise MalformedApduError(
            f"command APDU must be bytes, got {type(apdu).__name__}"
        )
    raw = bytes(apdu)
    if len(raw) < MIN_COMMAND_LEN:
        raise MalformedApduError(f"command APDU too short ({len(raw)} bytes)")
    if len(raw) > MAX_COMMAND_LEN:
        raise MalformedApduError(f"command APDU too long ({len(raw)} bytes)")
    return raw


def split_response(raw: object) -> tuple[bytes, int]:
    """Split a raw response (data + SW1 SW2) into ``(data, sw)``.

    :param raw: response bytes (or a list of ints, as pyscard returns them).
    :raises MalformedApduError: fewer than 2 bytes, or values that are not bytes.
    """
    try:
        data = bytes(raw)  # type: ignore[call-overload]
    except (TypeError, ValueError) as exc:
        raise MalformedApduError("response is not a byte string") from exc
    if len(data) < 2:
        raise MalformedApduError(f"response APDU too short ({len(data)} bytes, need SW1 SW2)")
    return data[:-2], int.from_bytes(data[-2:], "big")


class BaseTransport(abc.ABC):
    """Shared plumbing for concrete transports.

    Subclasses implement :meth:`_transmit_raw` (command bytes → response bytes incl. SW) and,
    if they have real transactions, :meth:`_begin_transaction` / :meth:`_end_transaction`.
    This class validates input and output, serialises access with a re-entrant lock (a
    transaction holds it for its whole body, so other threads of this process cannot slip
    APDUs into it), counts transaction depth and keeps ``generation``.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._generation = 0
        self._transmits = 0
        self._transactions = 0
        self._closed = False
        #: Reserved for the card layer: the channel every session on this transport shares
        #: (:meth:`jukicard.card.channel.CardChannel.of`).
        self.card_channel: object | None = None

    # ------------------------------------------------------------------ properties
    @property
    @abc.abstractmethod
    def atr(self) -> bytes:
        """The ATR of the connected card."""

    @property
    def generation(self) -> int:
        """Incremented on every (re)connect or reset; compare to detect lost card state."""
        return self._generation

    @property
    def transmit_count(self) -> int:
        """Commands handed to the card so far (every :meth:`transmit` that passed the
        framing check, answered or not)."""
        return self._transmits

    @property
    def transaction_depth(self) -> int:
        """How many :meth:`transaction` blocks are currently open (0 = none)."""
        return self._depth

    @property
    def transaction_count(self) -> int:
        """Outermost :meth:`transaction` blocks begun so far (the one open, if any, is
        number ``transaction_count``)."""
        return self._transactions

    @property
    def sees_all_traffic(self) -> bool:
        """True if every command the card receives goes through this connection (so
        :attr:`transmit_count` counts them all): nobody else can select another application
        between two of our transactions.

        ``False`` here (a transport that does not say cannot be trusted); an exclusive
        PC/SC connection and a loopback transport that is its card's only client say
        ``True``.
        """
        return False

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------ hooks
    @abc.abstractmethod
    def _transmit_raw(self, apdu: bytes) -> bytes:
        """Send validated command bytes; return the raw response (data + SW)."""

    def _begin_transaction(self) -> None:
        """Called when the outermost transaction starts (default: nothing)."""

    def _end_transaction(self) -> None:
        """Called when the outermost transaction ends (default: nothing)."""

    def _close(self) -> None:
        """Release resources (called once by :meth:`close`)."""

    def _bump_generation(self) -> None:
        self._generation += 1

    def _ensure_open(self) -> None:
        if self._closed:
            raise TransportError("transport is closed")

    # ------------------------------------------------------------------ API
    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Send one command APDU and return ``(data, sw)``.

        :param apdu: the encoded command APDU (at least CLA INS P1 P2).
        :raises MalformedApduError: the command is not a plausible APDU, or the response has
            fewer than two bytes.
        :raises TransportError: (or a subclass) the reader or card failed.
        """
        raw = check_command(apdu)
        with self._lock:
            self._ensure_open()
            self._transmits += 1
            response = self._transmit_raw(raw)
        return split_response(response)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            self._ensure_open()
            if self._depth == 0:
                self._begin_transaction()
                self._transactions += 1
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._depth == 0 and not self._closed:
                    try:
                        self._end_transaction()
                    except TransportError as exc:  # the body's error matters more
                        log.debug("ending transaction after an error failed: %s", exc)
                raise
            else:
                self._depth -= 1
                if self._depth == 0 and not self._closed:
                    self._end_transaction()

    def transaction(self) -> ContextManager[None]:
        """Hold the card exclusively for a multi-APDU operation.

        Re-entrant: nested blocks only count depth; the outermost one begins and ends the
        underlying transaction.  Other threads of this process wait while it is held.

        :raises SharingViolationError: another process kept the card beyond the bounded wait.
        :raises TransportError: (or a subclass) the reader or card failed.
        """
        return self._transaction()

    def close(self) -> None:
        """Release the connection.  Idempotent; later ``transmit`` calls raise TransportError."""
        with self._lock:
            if self._closed:
                return
            try:
                self._close()
            finally:
                self._closed = True

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DelegatingTransport:
    """A transport that wraps another and forwards everything but what it overrides.

    Base for decorators of the seam (tracing, counting, test hooks): a subclass overrides
    :meth:`transmit` and calls ``self.inner.transmit``.  ``atr``, ``generation``,
    ``transaction()``, ``close()`` and the context manager go to ``inner``, and so does any
    other attribute (e.g. a loopback transport's ``inject``).

    :param inner: the transport to wrap.
    """

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        #: Reserved for the card layer (see :attr:`BaseTransport.card_channel`).  A wrapper
        #: has a channel of its own (its traffic goes through it, e.g. to be traced); it
        #: shares the inner connection's :attr:`transmit_count`, so a channel on the wrapper
        #: and one on the inner transport each see the other's commands.
        self.card_channel: object | None = None

    @property
    def transmit_count(self) -> int | None:
        """The inner connection's :attr:`BaseTransport.transmit_count` (``None`` if the
        inner transport does not count)."""
        count = getattr(self.inner, "transmit_count", None)
        return count if isinstance(count, int) and not isinstance(count, bool) else None

    @property
    def transaction_count(self) -> int | None:
        """The inner connection's :attr:`BaseTransport.transaction_count` (``None`` if the
        inner transport does not count)."""
        count = getattr(self.inner, "transaction_count", None)
        return count if isinstance(count, int) and not isinstance(count, bool) else None

    @property
    def sees_all_traffic(self) -> bool:
        """The inner connection's :attr:`BaseTransport.sees_all_traffic` (``False`` if the
        inner transport does not say)."""
        return getattr(self.inner, "sees_all_traffic", False) is True

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        return self.inner.transmit(apdu)

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    @property
    def generation(self) -> int:
        return self.inner.generation

    def transaction(self) -> ContextManager[None]:
        return self.inner.transaction()

    def close(self) -> None:
        self.inner.close()

    def __enter__(self: _D) -> _D:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        if name == "inner":  # not set yet (during __init__)
            raise AttributeError(name)
        return getattr(self.inner, name)
