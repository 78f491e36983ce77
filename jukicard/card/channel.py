"""The channel the sessions of one card share (model: yubikit's ``SmartCardProtocol``).

A :class:`CardChannel` holds everything that belongs to the card in the reader rather than
to one application session:

* the transport and the processor stack on it (61xx, 6Cxx, chaining, extended length);
* which application is selected, in which card generation, and by which session;
* what the card taught us — whether extended-length APDUs work.

All of it is forgotten with the card: when the transport's ``generation`` changes (reset,
reconnect, another card inserted) and when a transport error (card removed...) ends an
operation.

One transport, one channel: :meth:`CardChannel.of` keeps the channel on the transport object
(``transport.card_channel``, a slot our transports carry), so every session built on a bare
transport, every :func:`~jukicard.card.detect.open_card` and every service call on that
transport see each other's SELECTs.  The selection is trusted only while nobody else talked
to the card: the channel compares the transport's ``transmit_count`` with the count after
its own last command, and any difference (a second channel on the same transport, a channel
on a wrapper such as :class:`~jukicard.transport.tracing.TracingTransport` and one on the
transport it wraps, a raw ``transmit``) makes the selection unknown.

That count covers only this connection.  A transport that says it does not see all the
card's traffic (``sees_all_traffic`` false: a PC/SC connection in shared mode, two
loopback transports on one card) may have another connection select another application
between two of our transactions, unseen: its selection is trusted only inside the
outermost transaction that made it (a PC/SC transaction keeps the other connections out),
so every operation in a new transaction selects its application again — which logs out the
PINs verified in an earlier operation.  So does a transport that cannot carry a channel or
does not count its commands (one that is not a
:class:`~jukicard.transport.base.BaseTransport` or a
:class:`~jukicard.transport.base.DelegatingTransport` over one): it gets a channel of its
own whose selection is never trusted from one operation to the next.

NOTE: no session relies on this record before sending a PIN: VERIFY with data is always
preceded by a SELECT of the application in the same transaction (see
:class:`~jukicard.card.session.ApplicationSession`).  The record only lets a session keep
using a PIN it verified earlier, and tells it when another session took the card away.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from jukicard.apdu.command import CommandApdu, ResponseApdu
from jukicard.apdu.processor import TransmitProcessor
from jukicard.apdu.processors import build_stack
from jukicard.errors import TransportError, UsageError
from jukicard.transport.base import BaseTransport, DelegatingTransport, Transport

__all__ = ["CardChannel", "Selection"]

log = logging.getLogger(__name__)

_OWNERS = itertools.count(1)

#: Transports that carry a ``card_channel`` slot (our classes).
_CARRIERS = (BaseTransport, DelegatingTransport)


def _transmit_count(transport: Transport) -> int | None:
    """The transport's count of commands sent to the card, or ``None`` if it keeps none
    (then nobody can tell whether someone else talked to the card)."""
    if not isinstance(transport, _CARRIERS):
        return None
    count = transport.transmit_count
    return count if isinstance(count, int) else None


def _open_transaction(transport: Transport) -> int | None:
    """The number of the outermost transaction open on ``transport`` (its
    ``transaction_count``), or ``None`` when none is open or the transport does not say."""
    if not isinstance(transport, _CARRIERS):
        return None
    depth = getattr(transport, "transaction_depth", None)
    count = transport.transaction_count
    if isinstance(depth, int) and depth > 0 and isinstance(count, int):
        return count
    return None


@dataclass(frozen=True)
class Selection:
    """The application selected on the card.

    :ivar aid: its DF name.
    :ivar generation: the transport generation it was selected in.
    :ivar owner: the token of the session that selected it (``0``: no session, e.g. card
        detection).
    """

    aid: bytes
    generation: int
    owner: int


class CardChannel:
    """Transport + processor stack + card state, shared by the sessions of one card.

    Build it with :meth:`of` to share it with everyone else on the same transport; a
    channel built directly is a channel of its own (it still notices the others' commands
    through the transport's ``transmit_count``).

    :param transport: the connection to the card.
    :param extended: ``True`` to use extended-length APDUs, ``False`` for short ones only,
        ``None`` (default) to try extended once and fall back to short APDUs if the card
        answers ``6700`` — learnt per card, forgotten with it.
    :raises UsageError: ``transport`` has no ``transmit`` (not a transport).
    """

    def __init__(self, transport: Transport, *, extended: bool | None = None) -> None:
        if not callable(getattr(transport, "transmit", None)) or isinstance(transport, type):
            raise UsageError(f"expected a transport, got a {type(transport).__name__}")
        if extended is not None and not isinstance(extended, bool):
            raise UsageError("extended must be True, False or None")
        self.transport = transport
        self.extended = extended
        self._stack = build_stack(TransmitProcessor(transport.transmit), extended=extended)
        self._generation = transport.generation
        self._selection: Selection | None = None
        self._selected_in: int | None = None  # the transaction the selection was made in
        self._seen = _transmit_count(transport)
        self._depth = 0  # open operation() blocks

    @classmethod
    def of(
        cls, transport: Transport | CardChannel, *, extended: bool | None = None
    ) -> CardChannel:
        """The channel of ``transport``, shared by every session and service on it.

        The first call makes it and keeps it on the transport object
        (``transport.card_channel``); later calls return it.  ``extended`` other than
        ``None`` that differs from the kept channel's setting makes a new channel that
        replaces it (sessions still on the old one notice the new one's commands).  A
        transport that cannot carry a channel gets a new one each time, which never trusts
        a selection across operations (see the module docstring).

        :param transport: a transport, or a channel (returned as is).
        :param extended: see :class:`CardChannel`; for a new channel only.
        :raises UsageError: ``extended`` given with a channel, or not a transport.
        """
        if isinstance(transport, CardChannel):
            if extended is not None:
                raise UsageError("extended= is a property of the channel; set it there")
            return transport
        if not isinstance(transport, _CARRIERS):
            return cls(transport, extended=extended)
        kept = transport.card_channel
        if (isinstance(kept, CardChannel) and kept.transport is transport
                and (extended is None or extended == kept.extended)):
            return kept
        channel = cls(transport, extended=extended)
        transport.card_channel = channel
        return channel

    def __repr__(self) -> str:
        return f"CardChannel({type(self.transport).__name__}, extended={self.extended})"

    @staticmethod
    def new_owner() -> int:
        """A fresh owner token for a session."""
        return next(_OWNERS)

    # ------------------------------------------------------------------ card state
    @property
    def generation(self) -> int:
        """The card generation the channel's knowledge belongs to."""
        return self._generation

    @property
    def extended_supported(self) -> bool | None:
        """What is known about extended-length APDUs on this card (``None``: not yet)."""
        return self._stack.extended_supported

    @property
    def tracks_traffic(self) -> bool:
        """True if a selection can be trusted from one transaction to the next while
        nobody else talks through this connection: the transport counts its commands and
        sees all the card's traffic (``sees_all_traffic``; not a PC/SC connection in shared
        mode)."""
        return self._seen is not None and self._sees_all_traffic()

    def _sees_all_traffic(self) -> bool:
        return getattr(self.transport, "sees_all_traffic", False) is True

    @property
    def selection(self) -> Selection | None:
        """The application selected in the current card generation, if known."""
        self.check_card()
        return self._selection

    def check_card(self) -> None:
        """Forget everything if the card was reset, reconnected or replaced; outside an
        operation, forget the selection if someone else may have talked to the card (their
        commands went through this transport, or the card is shared with other connections
        and the transaction that made the selection is over)."""
        if self.transport.generation != self._generation:
            log.debug("new card generation: card state forgotten")
            self.forget()
        elif self._depth == 0 and self._selection is not None:
            if self._foreign_traffic():
                log.debug("other commands reached the card: the selection is unknown")
                self._selection = None
            elif not self._sees_all_traffic() and not self._same_transaction():
                log.debug("the card is shared with other connections: the selection is "
                          "trusted only in the transaction that made it")
                self._selection = None

    def _foreign_traffic(self) -> bool:
        """True unless the transport's count still equals the count after our last
        command (always True for a transport that keeps no count)."""
        now = _transmit_count(self.transport)
        return now is None or now != self._seen

    def _same_transaction(self) -> bool:
        """True if the selection was made in the outermost transaction open now."""
        now = _open_transaction(self.transport)
        return now is not None and now == self._selected_in

    def forget(self) -> None:
        """Forget the selection and what the card taught (the card went away or was reset)."""
        self._selection = None
        self._stack.forget()
        self._generation = self.transport.generation

    def selected_by(self, owner: int) -> bool:
        """True if ``owner`` made the last application SELECT in this card generation."""
        sel = self.selection
        return sel is not None and sel.owner == owner

    def note_selecting(self) -> None:
        """A SELECT by DF name is about to be sent: nothing is known to be selected."""
        self._selection = None

    def note_selected(self, aid: bytes, owner: int) -> None:
        """The application ``aid`` was selected (answer ``9000``) by ``owner``."""
        self.check_card()
        self._selection = Selection(bytes(aid), self._generation, owner)
        self._selected_in = _open_transaction(self.transport)

    # ------------------------------------------------------------------ I/O
    def send(self, cmd: CommandApdu) -> ResponseApdu:
        """Send ``cmd`` through the processor stack."""
        try:
            return self._stack.send(cmd)
        finally:
            self._seen = _transmit_count(self.transport)

    @contextmanager
    def operation(self) -> Iterator[None]:
        """One card operation: a transaction on the transport; the card's state is checked
        first (a new card generation, someone else's commands) and forgotten if a transport
        error (removal, reset...) ends it.  Re-entrant."""
        try:
            with self.transport.transaction():
                self.check_card()
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
        except TransportError:
            self.forget()
            raise
