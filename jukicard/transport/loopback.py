"""In-process transport to a card object (the emulator's ``CardOS``), for tests.

The card is anything with ``atr``, ``execute(bytes) -> bytes`` (response incl. SW),
``power_on()``, ``power_off()`` and ``reset()``; this module does not import the emulator.

Besides passing bytes, the loopback transport helps tests check the card layer's behaviour:

* ``transaction()`` is bookkeeping only: ``transaction_depth`` and
  ``apdus_outside_transaction`` let a test assert that every multi-APDU operation ran inside
  a transaction;
* :meth:`LoopbackTransport.inject` makes the card disappear or reset just before the Nth
  subsequent APDU, the way PC/SC reports it (the APDU is not delivered);
* with ``record=True`` every delivered (command, response) pair is kept in ``transcript`` for
  golden-transcript tests;
* two open loopback transports on one card object stand in for two PC/SC connections to
  one card in shared mode: neither sees all the card's traffic
  (:attr:`LoopbackTransport.sees_all_traffic` is ``False``), so the card layer selects
  again in every operation.  ``shared=True`` says so for a single transport too.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Literal

from jukicard.apdu.card import SimulatedCard
from jukicard.errors import CardRemovedError, CardResetError, UsageError
from jukicard.transport.base import BaseTransport

__all__ = ["CardLike", "Fault", "LoopbackTransport"]

log = logging.getLogger(__name__)

Fault = Literal["removed", "reset"]
_FAULTS = ("removed", "reset")


CardLike = SimulatedCard
"""The card side of a loopback connection (e.g. ``jukicard.emulator.CardOS``)."""

#: Every open loopback transport (to tell whether a card object has more than one client).
_OPEN: weakref.WeakSet[LoopbackTransport] = weakref.WeakSet()
_OPEN_LOCK = threading.Lock()


class LoopbackTransport(BaseTransport):
    """A :class:`~jukicard.transport.base.Transport` that calls a card object directly.

    The card is powered on at construction (``generation`` is then 1).

    :param card: the card object (see :class:`CardLike`).
    :param record: keep every delivered ``(command, response)`` pair in :attr:`transcript`.
    :param shared: ``True``: behave as a connection in PC/SC shared mode (someone else may
        talk to the card between transactions) even as the card's only client; ``False``
        or ``None`` (default): shared while another open loopback transport is on the same
        card object (see :attr:`sees_all_traffic`).
    """

    def __init__(self, card: CardLike, *, record: bool = False, shared: bool | None = None
                 ) -> None:
        super().__init__()
        if shared is not None and not isinstance(shared, bool):
            raise UsageError("shared must be True, False or None")
        self.card = card
        self.record = record
        self.shared = bool(shared)
        #: delivered ``(command bytes, response bytes incl. SW)`` pairs, if ``record``.
        self.transcript: list[tuple[bytes, bytes]] = []
        #: APDUs delivered while no transaction was open.
        self.apdus_outside_transaction = 0
        #: APDUs delivered to the card in total.
        self.apdu_count = 0
        #: outermost transactions begun so far.
        self.transactions_begun = 0
        self._present = True
        self._attempts = 0  # transmit calls that reached the fault check
        self._faults: list[tuple[int, Fault]] = []
        card.power_on()
        self._bump_generation()
        with _OPEN_LOCK:
            _OPEN.add(self)

    # ------------------------------------------------------------------ properties
    @property
    def atr(self) -> bytes:
        """The card's ATR, or ``b""`` while the card is removed."""
        return bytes(self.card.atr) if self._present else b""

    @property
    def sees_all_traffic(self) -> bool:
        """True unless :attr:`shared` or another open loopback transport is on the same
        card object (two connections to one card, as in PC/SC shared mode)."""
        if self.shared:
            return False
        with _OPEN_LOCK:
            return not any(t is not self and t.card is self.card for t in _OPEN)

    @property
    def present(self) -> bool:
        """True while the card is inserted."""
        return self._present

    # ------------------------------------------------------------------ test controls
    def inject(self, fault: Fault, before_apdu: int = 1) -> None:
        """Arrange a fault just before the Nth subsequent APDU (1 = the next one).

        ``"removed"``: the card is gone; that APDU and every later one raise
        :class:`CardRemovedError` until :meth:`insert`.  ``"reset"``: the card is reset,
        ``generation`` is bumped and :class:`CardResetError` is raised; the APDU is not
        delivered, and the next one is.

        :raises UsageError: unknown fault or ``before_apdu < 1``.
        """
        if fault not in _FAULTS:
            raise UsageError(f"unknown fault {fault!r}; use one of {_FAULTS}")
        if not isinstance(before_apdu, int) or before_apdu < 1:
            raise UsageError("before_apdu must be an int >= 1")
        self._faults.append((self._attempts + before_apdu, fault))

    def clear_faults(self) -> None:
        """Drop every pending injected fault."""
        self._faults.clear()

    def remove(self) -> None:
        """Pull the card out: every transmit raises :class:`CardRemovedError` until
        :meth:`insert`."""
        with self._lock:
            if self._present:
                self._present = False
                self.card.power_off()

    def insert(self) -> None:
        """Put the card back (powered on, fresh state); bumps ``generation``."""
        with self._lock:
            if not self._present:
                self._present = True
                self.card.power_on()
                self._bump_generation()

    def reset(self) -> None:
        """Reset the card from this host (no error is raised); bumps ``generation``.

        :raises CardRemovedError: the card is not inserted.
        """
        with self._lock:
            self._ensure_open()
            if not self._present:
                raise CardRemovedError("no card in the loopback reader")
            self.card.reset()
            self._bump_generation()

    # ------------------------------------------------------------------ hooks
    def _begin_transaction(self) -> None:
        if not self._present:
            raise CardRemovedError("no card in the loopback reader")
        self.transactions_begun += 1

    def _transmit_raw(self, apdu: bytes) -> bytes:
        if not self._present:
            raise CardRemovedError("no card in the loopback reader")
        self._attempts += 1
        due = [f for f in self._faults if f[0] == self._attempts]
        if due:
            self._faults = [f for f in self._faults if f[0] != self._attempts]
            fault = due[0][1]
            if fault == "removed":
                log.debug("injected fault: card removed before APDU #%d", self._attempts)
                self._present = False
                self.card.power_off()
                raise CardRemovedError("card removed (injected)")
            log.debug("injected fault: card reset before APDU #%d", self._attempts)
            self.card.reset()
            self._bump_generation()
            raise CardResetError("card was reset (injected); all card state is gone")
        response = bytes(self.card.execute(apdu))
        self.apdu_count += 1
        if self._depth == 0:
            self.apdus_outside_transaction += 1
        if self.record:
            self.transcript.append((apdu, response))
        return response

    def _close(self) -> None:
        with _OPEN_LOCK:
            _OPEN.discard(self)
        if self._present:
            self.card.power_off()

