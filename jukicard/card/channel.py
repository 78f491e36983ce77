"""The channel the sessions of one card share (model: yubikit's ``SmartCardProtocol``).

A :class:`CardChannel` holds everything that belongs to the card in the reader rather than
to one application session:

* the transport and the processor stack on it (61xx, 6Cxx, chaining, extended length);
* which application is selected, in which card generation, and by which session;
* what the card taught us — whether extended-length APDUs work.

All of it is forgotten with the card: when the transport's ``generation`` changes (reset,
reconnect, another card inserted) and when a transport error (card removed...) ends an
operation.  :func:`~jukicard.card.detect.open_card` makes one channel and every session the
:class:`~jukicard.card.detect.Card` hands out shares it; a session built on a bare transport
makes its own.

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
from jukicard.errors import TransportError
from jukicard.transport.base import Transport

__all__ = ["CardChannel", "Selection"]

log = logging.getLogger(__name__)

_OWNERS = itertools.count(1)


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

    :param transport: the connection to the card.
    :param extended: ``True`` to use extended-length APDUs, ``False`` for short ones only,
        ``None`` (default) to try extended once and fall back to short APDUs if the card
        answers ``6700`` — learnt per card, forgotten with it.
    """

    def __init__(self, transport: Transport, *, extended: bool | None = None) -> None:
        self.transport = transport
        self.extended = extended
        self._stack = build_stack(TransmitProcessor(transport.transmit), extended=extended)
        self._generation = transport.generation
        self._selection: Selection | None = None

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
    def selection(self) -> Selection | None:
        """The application selected in the current card generation, if known."""
        self.check_card()
        return self._selection

    def check_card(self) -> None:
        """Forget everything if the card was reset, reconnected or replaced."""
        if self.transport.generation != self._generation:
            log.debug("new card generation: card state forgotten")
            self.forget()

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

    # ------------------------------------------------------------------ I/O
    def send(self, cmd: CommandApdu) -> ResponseApdu:
        """Send ``cmd`` through the processor stack."""
        return self._stack.send(cmd)

    @contextmanager
    def operation(self) -> Iterator[None]:
        """One card operation: a transaction on the transport; the card's state is checked
        first and forgotten if a transport error (removal, reset...) ends it."""
        try:
            with self.transport.transaction():
                self.check_card()
                yield
        except TransportError:
            self.forget()
            raise
