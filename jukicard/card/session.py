"""The base of every card-application session.

One session class per card application (style §3).  A session

* selects its application (by DF name) when it needs to, and knows that doing so — like a
  card reset or a reconnect — wipes every verified PIN on the card.  It keeps a per-session
  set of PINs verified *in the current selection* and forgets it whenever the application is
  re-selected, the transport's ``generation`` changes (reset / reconnect), or a transport
  error is raised in the middle of an operation;
* runs every multi-APDU operation inside one PC/SC transaction
  (``with transport.transaction():``);
* translates the status words of the commands it sends (style §4) and lets the rest through
  as the generic :func:`jukicard.apdu.sw.error_for` errors;
* treats PIN retry counters as sacred: VERIFY with data is sent only with a PIN the caller
  gave for that very call, exactly once, never retried, never logged, never stored.  PIN
  status comes from a data-less VERIFY (``00 20 00 80``), which never decrements.
"""

from __future__ import annotations

import itertools
import logging
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from jukicard.apdu import sw as _sw
from jukicard.apdu.command import CommandApdu, ResponseApdu
from jukicard.apdu.processor import Processor, TransmitProcessor
from jukicard.apdu.processors import build_stack
from jukicard.apdu.tlv import decode_length, decode_tag
from jukicard.card.layout import App, Application, PinFormatError, PinSpec
from jukicard.errors import (
    ApplicationNotFound,
    BadResponse,
    FileNotFoundOnCard,
    PinBlockedError,
    PinError,
    SecurityStatusError,
    TlvError,
    TransportError,
    UsageError,
)
from jukicard.transport.base import Transport

__all__ = ["PinStatus", "ApplicationSession", "Ins"]

log = logging.getLogger(__name__)

#: Largest offset READ BINARY can address with P1 bit 8 clear (15 bits).
MAX_OFFSET = 0x7FFF
#: Chunk size of short READ BINARY (Le = 00).
SHORT_CHUNK = 256
#: Largest chunk asked for with one extended READ BINARY.
EXTENDED_CHUNK = 0xFFFF


class Ins:
    """Instruction bytes used by the sessions."""

    SELECT = 0xA4
    READ_BINARY = 0xB0
    READ_RECORD = 0xB2
    VERIFY = 0x20
    CHANGE_REFERENCE_DATA = 0x24
    COMPUTE_DIGITAL_SIGNATURE = 0x2A


@dataclass(frozen=True)
class PinStatus:
    """The retry counter of one PIN, from a data-less VERIFY.

    :ivar pin: the PIN's layout entry.
    :ivar retries_left: tries left (0 = blocked).
    """

    pin: PinSpec
    retries_left: int

    @property
    def blocked(self) -> bool:
        """True if the PIN has no tries left.

        NOTE: a blocked PIN can be reset only at the municipal counter (for one of the two
        JPKI PINs also at a kiosk, with the other PIN).
        """
        return self.retries_left == 0

    @property
    def max_tries(self) -> int | None:
        return self.pin.max_tries


_TOKENS = itertools.count(1)
#: transport → (generation, session token) of the last application SELECT made through it.
_LAST_SELECTION: weakref.WeakKeyDictionary[object, tuple[int, int]] = weakref.WeakKeyDictionary()


_UNTRACKABLE = (-1, -1)


def _last_selection(transport: object) -> tuple[int, int] | None:
    try:
        return _LAST_SELECTION.get(transport)
    except TypeError:  # not weak-referenceable: cannot know
        return _UNTRACKABLE


def _set_last_selection(transport: object, value: tuple[int, int] | None) -> None:
    try:
        if value is None:
            _LAST_SELECTION.pop(transport, None)
        else:
            _LAST_SELECTION[transport] = value
    except TypeError:
        pass


def _build_processor(transport: Transport, extended: bool | None) -> Processor:
    return build_stack(TransmitProcessor(transport.transmit), extended=extended)


class ApplicationSession:
    """Base class: one card application reached through a :class:`Transport`.

    :param transport: the connection to the card.
    :param extended: ``True`` to use extended-length READ BINARY, ``False`` for short
        256-byte chunks only, ``None`` (default) to try extended once and fall back to short
        chunks for good if the card answers ``6700`` (done by
        :func:`jukicard.apdu.processors.build_stack`).
    :param select: select the application now (inside a transaction), so a missing
        application raises :class:`ApplicationNotFound` at construction.
    :raises ApplicationNotFound: (with ``select=True``) the application is not on the card.
    :raises TransportError: (or a subclass) the card went away.
    """

    #: the application this session class talks to
    APPLICATION: ClassVar[App]
    #: the PIN references (layout enum members) this session accepts
    PINS: ClassVar[tuple[Enum, ...]] = ()

    def __init__(
        self, transport: Transport, *, extended: bool | None = None, select: bool = True
    ) -> None:
        self._transport = transport
        self._processor = _build_processor(transport, extended)
        self._verified: set[PinSpec] = set()
        self._selected_generation: int | None = None
        self._token = next(_TOKENS)
        if select:
            with self._operation():
                pass

    # ------------------------------------------------------------------ state
    @property
    def application(self) -> Application:
        return self.APPLICATION.value

    @property
    def transport(self) -> Transport:
        return self._transport

    @property
    def verified(self) -> frozenset[PinSpec]:
        """PINs this session verified in the current selection of its application.

        Empty after a reset, a reconnect (``transport.generation`` changed), a re-select or
        a transport error.  Only a hint: the card is the authority, and a card that lost the
        state anyway answers ``6982`` (:class:`SecurityStatusError`).
        """
        self._check_generation()
        if self._verified and not self._is_current():
            self.forget()
        return frozenset(self._verified)

    def is_verified(self, pin: object) -> bool:
        """True if ``pin`` (a :class:`PinSpec` or a layout enum member such as
        ``JpkiPin.SIGN``) is in :attr:`verified`."""
        spec = getattr(pin, "value", pin)
        return spec in self.verified

    def forget(self) -> None:
        """Drop all knowledge of card state (selection and verified PINs)."""
        if self._verified:
            log.debug("%s: forgetting %d verified PIN(s)", self.application.name,
                      len(self._verified))
        self._verified.clear()
        self._selected_generation = None

    def _check_generation(self) -> None:
        if (
            self._selected_generation is not None
            and self._transport.generation != self._selected_generation
        ):
            log.debug("%s: card was reset or reconnected; state forgotten",
                      self.application.name)
            self.forget()

    # ------------------------------------------------------------------ operations
    def _is_current(self) -> bool:
        """True if this session made the last SELECT of an application on this transport,
        in the current card generation."""
        if self._selected_generation is None:
            return False
        last = _last_selection(self._transport)
        return last == _UNTRACKABLE or last == (self._selected_generation, self._token)

    @contextmanager
    def _operation(self, *, fresh: bool = False) -> Iterator[None]:
        """One card operation: a transaction, the application selected, state kept honest.

        The application is (re-)selected unless this session holds verified PINs that are
        still valid (same card generation, no other session selected since) and ``fresh`` is
        False.  Selecting costs one APDU and guarantees EF ids resolve in the right DF.

        :param fresh: always select (operations that verify their own PIN).
        """
        try:
            with self._transport.transaction():
                self._check_generation()
                if self._verified and not self._is_current():
                    log.debug("%s: another application was selected; state forgotten",
                              self.application.name)
                    self.forget()
                if fresh or not self._verified:
                    self._select_application()
                yield
        except TransportError:
            self.forget()
            raise

    def _send(self, cmd: CommandApdu) -> ResponseApdu:
        return self._processor.send(cmd)

    def _select_application(self) -> None:
        """SELECT by DF name (no FCI).  Clears every PIN state on the card."""
        app = self.application
        self._verified.clear()
        self._selected_generation = None
        _set_last_selection(self._transport, None)
        resp = self._send(CommandApdu(0x00, Ins.SELECT, 0x04, 0x0C, app.aid))
        if resp.sw == _sw.SW.FILE_NOT_FOUND:
            raise ApplicationNotFound(resp.sw, resp.data,
                                      f"{app.label} ({app.name}) is not on this card")
        _sw.check(resp)
        self._selected_generation = self._transport.generation
        _set_last_selection(self._transport, (self._selected_generation, self._token))
        log.debug("selected %s", app.name)

    def reselect(self) -> None:
        """Select the application again (this logs out every PIN on the card).

        :raises ApplicationNotFound: the application is gone.
        :raises TransportError: (or a subclass) the card went away.
        """
        with self._transport.transaction():
            try:
                self._select_application()
            except TransportError:
                self.forget()
                raise

    def _select_ef(self, fid: int, what: str = "EF") -> None:
        resp = self._send(CommandApdu(0x00, Ins.SELECT, 0x02, 0x0C, fid.to_bytes(2, "big")))
        if resp.sw == _sw.SW.FILE_NOT_FOUND:
            # The card may have lost its state without any PC/SC event (a silent reset):
            # then no application is selected at all.  Forget what we believed, so the next
            # operation selects the application again instead of failing forever.
            self.forget()
            raise FileNotFoundOnCard(resp.sw, resp.data,
                                     f"{what} {fid:04X} not found in {self.application.name}")
        _sw.check(resp)

    # ------------------------------------------------------------------ PINs
    def _pin(self, pin: object) -> PinSpec:
        """The :class:`PinSpec` behind ``pin``, one of :attr:`PINS`.

        :raises UsageError: ``pin`` is not a PIN of this application.
        """
        if not isinstance(pin, Enum) or pin not in self.PINS:
            raise UsageError(f"{pin!r} is not a PIN of the {self.application.name} AP")
        spec = pin.value
        assert isinstance(spec, PinSpec)
        return spec

    def _check_pin(self, pin: PinSpec, allowed: Callable[[PinSpec], bool]) -> None:
        if not isinstance(pin, PinSpec) or not allowed(pin):
            raise UsageError(f"not a PIN of {self.application.name}")

    def _pin_status(self, pin: PinSpec) -> PinStatus:
        """Select the PIN IEF and send a data-less VERIFY (never decrements)."""
        self._select_ef(pin.ef, pin.name)
        resp = self._send(CommandApdu(0x00, Ins.VERIFY, 0x00, 0x80))
        retries = _sw.pin_retries(resp.sw)
        if retries is not None:
            return PinStatus(pin, retries)
        if resp.sw in (_sw.SW.REFERENCE_DATA_NOT_USABLE, _sw.SW.AUTH_METHOD_BLOCKED):
            return PinStatus(pin, 0)
        if resp.ok:
            # NOTE: the cards seen answer 63Cx even when verified; a card answering 9000
            # says "verified", and only a successful VERIFY resets the counter to max.
            if pin.max_tries is None:
                raise BadResponse(f"{pin.name}: status query gave no retry counter")
            return PinStatus(pin, pin.max_tries)
        raise _sw.error_for(resp.sw, resp.data)

    def _verify(self, pin: PinSpec, value: bytes) -> None:
        """Select the PIN IEF and VERIFY once with ``value`` (already format-checked).

        :raises PinError: wrong PIN, ``retries_left`` from ``63Cx``.
        :raises PinBlockedError: ``63C0`` or ``6984``/``6983``.
        :raises PinFormatError: the card rejected the length (``6700``).
        """
        self._select_ef(pin.ef, pin.name)
        self._verified.discard(pin)
        # The one place VERIFY with data is built; it is sent exactly once.
        resp = self._send(CommandApdu(0x00, Ins.VERIFY, 0x00, 0x80, value))
        self._translate_pin_sw(pin, resp)
        self._verified.add(pin)
        log.info("%s verified", pin.name)

    def _translate_pin_sw(self, pin: PinSpec, resp: ResponseApdu) -> None:
        if resp.ok:
            return
        retries = _sw.pin_retries(resp.sw)
        if retries == 0:
            log.warning("%s rejected; now blocked", pin.name)
            raise PinBlockedError(resp.sw, f"{pin.name}: wrong PIN, now blocked")
        if retries is not None:
            log.info("%s rejected, %d tries left", pin.name, retries)
            raise PinError(retries, resp.sw, f"{pin.name}: wrong PIN, {retries} tries left")
        if resp.sw in (_sw.SW.REFERENCE_DATA_NOT_USABLE, _sw.SW.AUTH_METHOD_BLOCKED):
            raise PinBlockedError(resp.sw, f"{pin.name} is blocked")
        if resp.sw == _sw.SW.WRONG_LENGTH:
            raise PinFormatError(f"{pin.name}: the card rejected the PIN length (6700)")
        if resp.sw == _sw.SW.SECURITY_STATUS_NOT_SATISFIED:
            raise SecurityStatusError(resp.sw, resp.data, f"{pin.name}: security status")
        raise _sw.error_for(resp.sw, resp.data)

    def _change(self, pin: PinSpec, new: bytes) -> None:
        """CHANGE REFERENCE DATA ``00 24 01 80 <new>`` on the current PIN IEF, just after a
        successful VERIFY of the old value in the same transaction."""
        resp = self._send(CommandApdu(0x00, Ins.CHANGE_REFERENCE_DATA, 0x01, 0x80, new))
        if resp.sw == _sw.SW.SECURITY_STATUS_NOT_SATISFIED:
            self._verified.discard(pin)
            raise SecurityStatusError(resp.sw, resp.data,
                                      f"{pin.name}: change refused (not verified)")
        self._translate_pin_sw(pin, resp)
        log.info("%s changed", pin.name)

    @staticmethod
    def _encode_pin(pin: PinSpec, value: object) -> bytes:
        if not isinstance(value, str):
            raise PinFormatError(f"{pin.name}: a PIN must be given as str")
        return pin.encode(value)

    # ------------------------------------------------------------------ reading
    def _read_binary(self, offset: int, want: int) -> bytes | None:
        """One READ BINARY of up to ``want`` bytes at ``offset`` of the current EF.

        :returns: the data (possibly shorter than asked, at EOF), or ``None`` for ``6B00``
            (offset past the end).
        """
        if not 0 <= offset <= MAX_OFFSET:
            raise BadResponse(f"EF too large to read (offset {offset:#x})")
        p1, p2 = offset >> 8, offset & 0xFF
        # Le above 256 makes an extended APDU; the processor stack falls back to short
        # 256-byte reads if the card (or the session's ``extended=False``) refuses them.
        le = max(1, min(want, EXTENDED_CHUNK))
        resp = self._send(CommandApdu(0x00, Ins.READ_BINARY, p1, p2, le=le))
        return self._check_read(resp)

    def _check_read(self, resp: ResponseApdu) -> bytes | None:
        if resp.ok or resp.sw == _sw.SW.END_OF_FILE:
            return resp.data
        if resp.sw == _sw.SW.WRONG_P1P2:
            return None
        if resp.sw == _sw.SW.SECURITY_STATUS_NOT_SATISFIED:
            self._verified.clear()  # whatever we thought, the card says no
            raise SecurityStatusError(resp.sw, resp.data,
                                      "reading this EF needs a PIN that is not verified")
        raise _sw.error_for(resp.sw, resp.data)

    def _read_sized(
        self,
        header_len: int,
        total_from_header: Callable[[bytes], int],
        what: str,
    ) -> bytes:
        """Read the current EF: ``header_len`` bytes first, learn the total length from them,
        then read the rest in chunks (extended when allowed, else 256 bytes) until the total,
        ``6B00`` or EOF.  Trailing padding after the total is never read.

        :raises BadResponse: bad header, or the EF ends before the declared length.
        """
        head = self._read_binary(0, header_len)
        if not head:
            raise BadResponse(f"{what}: EF is empty")
        total = total_from_header(head)
        buf = bytearray(head[:total])
        while len(buf) < total:
            want = min(total - len(buf), EXTENDED_CHUNK)
            chunk = self._read_binary(len(buf), want)
            if not chunk:
                break
            buf += chunk[: total - len(buf)]
            # Fewer bytes than asked with 9000 means end of file (ISO 7816-4).  Only an
            # extended read the card capped at its buffer size (>= 256 bytes) goes on: this
            # bounds a hostile card that dribbles a few bytes per answer to ~128 reads.
            if len(chunk) < min(want, SHORT_CHUNK):
                break
        if len(buf) < total:
            raise BadResponse(f"{what}: EF ends before its declared length")
        return bytes(buf)

    def _read_whole(self, what: str, limit: int = MAX_OFFSET + 1) -> bytes:
        """Read the current EF up to EOF (``6B00``, empty or short chunk)."""
        buf = bytearray()
        while len(buf) < limit:
            want = SHORT_CHUNK
            chunk = self._read_binary(len(buf), want)
            if not chunk:
                break
            buf += chunk
            if len(chunk) < want:
                break
        return bytes(buf)

    def _read_tlv_ef(self, fid: int, what: str) -> bytes:
        """Select ``fid`` and read one BER-TLV object from its start (padding not read)."""
        self._select_ef(fid, what)
        return self._read_sized(8, lambda h: tlv_header_total(h, what), what)


def tlv_header_total(head: bytes, what: str) -> int:
    """Total length (header + value) of the BER-TLV whose first bytes are ``head``.

    Lenient as the cards require (§8.1, :mod:`jukicard.apdu.tlv`): multi-byte tags, short or
    long-form (also non-minimal) lengths.

    :raises BadResponse: truncated or malformed header.
    """
    try:
        _tag, pos = decode_tag(head, 0)
        length, pos = decode_length(head, pos)
    except TlvError as exc:
        raise BadResponse(f"{what}: malformed TLV header") from exc
    return pos + length


def der_certificate_total(head: bytes, what: str = "certificate") -> int:
    """Total length of a DER certificate from its first 4 bytes (``30 82 hh ll``).

    :raises BadResponse: not a DER SEQUENCE header.
    """
    if len(head) < 2 or head[0] != 0x30:
        raise BadResponse(f"{what}: EF does not start with a DER SEQUENCE")
    return tlv_header_total(head, what)

