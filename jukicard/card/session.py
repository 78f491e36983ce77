"""The base of every card-application session.

One session class per card application (style §3).  A session

* talks through a :class:`~jukicard.card.channel.CardChannel` shared with every other
  session and service on the same transport (:meth:`CardChannel.of
  <jukicard.card.channel.CardChannel.of>`);
* selects its application (by DF name) when it needs to, and knows that doing so — like a
  card reset or a reconnect — wipes every verified PIN on the card.  It keeps the set of
  PINs it verified in its current selection and forgets it when another session selects an
  application on the channel, the card generation changes, a transport error ends an
  operation, or — on a connection that does not see all the card's traffic (PC/SC shared
  mode) — the transaction that selected the application ends;
* runs every multi-APDU operation inside one PC/SC transaction;
* translates the status words of the commands it sends (style §4) and lets the rest through
  as the generic :func:`jukicard.apdu.sw.error_for` errors;
* treats PIN retry counters as sacred: VERIFY with data is sent only with a PIN the caller
  gave for that very call, exactly once, never retried, never logged, never stored — and
  always right after a SELECT of the application in the same transaction, so a PIN can
  never reach another application's PIN file.  PIN status comes from a data-less VERIFY
  (``00 20 00 80``), which never decrements.

:meth:`ApplicationSession.pin_status` and :meth:`ApplicationSession.verify` are defined here
once, generic over the application's PIN enum (``ApplicationSession[JpkiPin]``...).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar, Generic, TypeVar

from jukicard.apdu import sw as _sw
from jukicard.apdu.apps import Application, PinEnum, PinSpec
from jukicard.apdu.command import CommandApdu, ResponseApdu
from jukicard.apdu.tlv import decode_length, decode_tag
from jukicard.card.channel import CardChannel
from jukicard.errors import (
    ApplicationNotFound,
    BadResponse,
    FileNotFoundOnCard,
    PinBlockedError,
    PinError,
    PinFormatError,
    SecurityStatusError,
    TlvError,
    UsageError,
)
from jukicard.transport.base import Transport

__all__ = ["PinStatus", "ApplicationSession", "Ins", "PinT"]

log = logging.getLogger(__name__)

#: Largest offset READ BINARY can address with P1 bit 8 clear (15 bits).
MAX_OFFSET = 0x7FFF
#: Chunk size of short READ BINARY (Le = 00).
SHORT_CHUNK = 256
#: Largest chunk asked for with one extended READ BINARY.
EXTENDED_CHUNK = 0xFFFF

#: The PIN enum of an application (``JpkiPin``, ``TextPin``...; values are PinSpec).
PinT = TypeVar("PinT", bound=PinEnum)


class Ins:
    """Instruction bytes used by the sessions."""

    SELECT = 0xA4
    READ_BINARY = 0xB0
    READ_RECORD = 0xB2
    VERIFY = 0x20
    CHANGE_REFERENCE_DATA = 0x24
    COMPUTE_DIGITAL_SIGNATURE = 0x2A
    GET_CHALLENGE = 0x84


@dataclass(frozen=True)
class PinStatus:
    """The retry counter of one PIN, from a data-less VERIFY.

    :ivar pin: the PIN's facts.
    :ivar retries_left: tries left (0 = blocked), never above the PIN's maximum.
    :ivar counter_implausible: the card reported more tries than the PIN allows (e.g.
        ``63CF`` for a 3-try PIN); :attr:`retries_left` was clamped to the maximum.
    """

    pin: PinSpec
    retries_left: int
    counter_implausible: bool = False

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


def clamp_retries(pin: PinSpec, reported: int) -> tuple[int, bool]:
    """``(retries, implausible)``: the card's counter clamped to the PIN's maximum.

    A counter above the maximum (``63CF`` for a 3-try PIN) cannot be true: it is clamped and
    flagged (``counter_implausible`` on the status or the error: the caller tells the user),
    and logged at INFO (without any value; a card can trigger it at will, so it is no
    warning for the terminal).
    """
    if pin.max_tries is not None and reported > pin.max_tries:
        log.info("%s: the card reported an impossible retry counter; clamped to the "
                 "PIN's maximum", pin.id)
        return pin.max_tries, True
    return reported, False


class ApplicationSession(Generic[PinT]):
    """Base class: one card application reached through a :class:`CardChannel`.

    :param channel: the channel of the card, or a bare transport (the session then uses
        the transport's channel, :meth:`CardChannel.of
        <jukicard.card.channel.CardChannel.of>`, shared with every session and service on
        that transport).
    :param extended: for a bare transport only: ``True`` to use extended-length READ
        BINARY, ``False`` for short 256-byte chunks only, ``None`` (default) to use the
        transport's channel as it is (a new one tries extended once and falls back to
        short chunks if the card answers ``6700``).
    :param select: select the application now (inside a transaction), so a missing
        application raises :class:`ApplicationNotFound` at construction.
    :raises UsageError: ``extended`` given together with a channel, or ``channel`` is not
        a transport.
    :raises ApplicationNotFound: (with ``select=True``) the application is not on the card.
    :raises TransportError: (or a subclass) the card went away.

    **Writing a session** (a new application: README, "Extending").  A subclass declares
    :attr:`APPLICATION` (its facts) and :attr:`PINS` (its PIN enum's members), and inherits
    :meth:`pin_status`, :meth:`verify`, :meth:`reselect` and :attr:`verified`.  Each public
    method is ONE card operation made of these helpers:

    * ``self._unlock([(Pin.A, a), (Pin.B, b)])`` — before any I/O: the one PIN value the
      caller gave among optional arguments, checked (``PinFormatError``, nothing sent);
      ``(spec, bytes)`` or ``None``.  (``self._pin(ref)`` / ``self._encode_pin(spec,
      value)`` check one reference / one value.)
    * ``with self._operation(fresh=...):`` — the transaction, with the application
      selected first: always with ``fresh=True``, which an operation sending a PIN must
      pass; otherwise unless a PIN this session verified is still valid.  All I/O below
      runs inside it.
    * ``self._verify(spec, raw)`` — SELECT the PIN IEF and VERIFY exactly once (wrong and
      blocked PINs translated); only inside ``_operation(fresh=True)``.
    * ``self._select_ef(fid, what)`` — SELECT an EF (``FileNotFoundOnCard`` for ``6A82``).
    * ``self._read_whole(what, limit)``, ``self._read_tlv_ef(fid, what)``,
      ``self._read_sized(header_len, total_from_header, what)`` — read the selected EF to
      its end, one BER-TLV EF, a self-sized EF (errors never carry the EF's data).
    * ``self._send(CommandApdu(...))`` — any other command: translate the status words it
      understands (style §4), :func:`jukicard.apdu.sw.check` the rest.

    Parse what was read after the ``with`` block, with the application's data objects::

        class LoyaltySession(ApplicationSession[LoyaltyPin]):
            APPLICATION: ClassVar[Application] = LOYALTY
            PINS: ClassVar[tuple[LoyaltyPin, ...]] = tuple(LoyaltyPin)

            def read_points(self, pin: str | None = None) -> int:
                unlock = self._unlock([(LoyaltyPin.PIN, pin)])   # format check, no I/O
                with self._operation(fresh=unlock is not None):  # transaction + SELECT
                    if unlock is not None:
                        self._verify(*unlock)                    # VERIFY, exactly once
                    self._select_ef(LoyaltyEf.POINTS, "points EF")
                    raw = self._read_whole("points EF", limit=16)
                return int.from_bytes(raw, "big")
    """

    #: the application this session class talks to: its facts object (the identity of an
    #: application; a variant's session declares the variant's facts)
    APPLICATION: ClassVar[Application]
    #: the PIN references (members of the application's PIN enum) this session accepts
    PINS: ClassVar[tuple[PinEnum, ...]] = ()

    def __init__(
        self,
        channel: CardChannel | Transport,
        *,
        extended: bool | None = None,
        select: bool = True,
    ) -> None:
        self._channel = CardChannel.of(channel, extended=extended)
        self._verified: set[PinSpec] = set()
        self._owner = CardChannel.new_owner()
        if select:
            with self._operation(fresh=True):
                pass

    @classmethod
    def probe(cls, channel: CardChannel) -> object | None:
        """What card detection reads right after it selected this application (no PIN):
        nothing by default; the JPKI session reads its token."""
        return None

    # ------------------------------------------------------------------ state
    @property
    def application(self) -> Application:
        """The facts of the application (:attr:`APPLICATION`)."""
        return self.APPLICATION

    @property
    def channel(self) -> CardChannel:
        return self._channel

    @property
    def transport(self) -> Transport:
        return self._channel.transport

    @property
    def verified(self) -> frozenset[PinSpec]:
        """PINs this session verified in the current selection of its application.

        Empty after a reset, a reconnect, a re-select (by any session on the channel), a
        transport error, or on a shared connection (PC/SC shared mode) once the transaction
        that verified it is over.  Only a hint: the card is the authority, and a card that lost the
        state anyway answers ``6982`` (:class:`SecurityStatusError`).
        """
        if self._verified and not self._channel.selected_by(self._owner):
            self.forget()
        return frozenset(self._verified)

    def is_verified(self, pin: object) -> bool:
        """True if ``pin`` (a :class:`PinSpec` or a PIN enum member such as
        ``JpkiPin.SIGN``) is in :attr:`verified`."""
        spec = pin.value if isinstance(pin, Enum) else pin
        return spec in self.verified

    def forget(self) -> None:
        """Drop what this session believes about the card (verified PINs)."""
        if self._verified:
            log.debug("%s: forgetting %d verified PIN(s)", self.application.name,
                      len(self._verified))
        self._verified.clear()

    # ------------------------------------------------------------------ operations
    @contextmanager
    def _operation(self, *, fresh: bool = False) -> Iterator[None]:
        """One card operation: a transaction, the application selected, state kept honest.

        The application is (re-)selected unless this session holds verified PINs that are
        still valid (same card generation, no other SELECT on the channel since) and
        ``fresh`` is False.  Selecting costs one APDU and guarantees EF ids resolve in the
        right DF.

        :param fresh: always select: every operation that sends a PIN passes it.
        """
        try:
            with self._channel.operation():
                if self._verified and not self._channel.selected_by(self._owner):
                    log.debug("%s: the card was reset or another application was selected; "
                              "state forgotten", self.application.name)
                    self.forget()
                if fresh or not self._verified:
                    self._select_application()
                yield
        except BaseException:
            if not self._channel.selected_by(self._owner):
                self.forget()
            raise

    def _send(self, cmd: CommandApdu) -> ResponseApdu:
        return self._channel.send(cmd)

    def _select_application(self) -> None:
        """SELECT by DF name (no FCI).  Clears every PIN state on the card."""
        app = self.application
        self._verified.clear()
        self._channel.note_selecting()
        resp = self._send(CommandApdu(0x00, Ins.SELECT, 0x04, 0x0C, app.aid))
        if resp.sw == _sw.SW.FILE_NOT_FOUND:
            raise ApplicationNotFound(resp.sw, resp.data,
                                      f"{app.label} ({app.name}) is not on this card")
        _sw.check(resp)
        self._channel.note_selected(app.aid, self._owner)
        log.debug("selected %s", app.name)

    def reselect(self) -> None:
        """Select the application again (this logs out every PIN on the card).

        :raises ApplicationNotFound: the application is gone.
        :raises TransportError: (or a subclass) the card went away.
        """
        with self._operation(fresh=True):
            pass

    def _select_ef(self, fid: int, what: str = "EF") -> None:
        resp = self._send(CommandApdu(0x00, Ins.SELECT, 0x02, 0x0C, fid.to_bytes(2, "big")))
        if resp.sw == _sw.SW.FILE_NOT_FOUND:
            # The card may have lost its state without any PC/SC event (a silent reset):
            # then no application is selected at all.  Forget what we believed, so the next
            # operation selects the application again instead of failing forever.
            self._channel.note_selecting()
            self.forget()
            raise FileNotFoundOnCard(resp.sw, resp.data,
                                     f"{what} {fid:04X} not found in {self.application.name}")
        _sw.check(resp)

    # ------------------------------------------------------------------ PINs
    def _pin(self, pin: object) -> PinSpec:
        """The :class:`PinSpec` behind ``pin``, one of :attr:`PINS`.

        :raises UsageError: ``pin`` is not a PIN of this application.  The message names
            only the type of what was given: a swapped call (``verify("1234", pin)``)
            must not print the PIN.
        """
        if not isinstance(pin, PinEnum) or pin not in self.PINS:
            kinds = sorted({type(p).__name__ for p in self.PINS})
            raise UsageError(
                f"expected a PIN of the {self.application.name} AP ({', '.join(kinds)}), "
                f"got a {type(pin).__name__}"
            )
        return pin.spec

    def _encode_pin(self, pin: PinSpec, value: object, *, new: bool = False) -> bytes:
        """Check a PIN value's format (nothing is sent).

        :param new: apply the rules for setting a new value too.
        :raises UsageError: ``value`` is a PIN reference (arguments swapped).
        :raises PinFormatError: wrong type or format.
        """
        if isinstance(value, Enum):
            raise UsageError(f"{pin.label}: the value is a {type(value).__name__}: the "
                             "arguments are (pin, value)")
        if not isinstance(value, str):
            raise PinFormatError(f"{pin.label}: a PIN must be given as str")
        return pin.encode_new(value) if new else pin.encode(value)

    def _unlock(self, choices: Sequence[tuple[PinT, object]]) -> tuple[PinSpec, bytes] | None:
        """The one PIN given among ``choices`` (``(pin, value or None)``), format-checked.

        :returns: ``(spec, bytes to send)``, or ``None`` if no value was given.
        :raises UsageError: more than one value given.
        :raises PinFormatError: wrong format — nothing is sent.
        """
        given = [(p, v) for p, v in choices if v is not None]
        if len(given) > 1:
            raise UsageError("give only one of the PIN arguments")
        if not given:
            return None
        pin, value = given[0]
        spec = self._pin(pin)
        return spec, self._encode_pin(spec, value)

    def pin_status(self, pin: PinT | None = None) -> PinStatus:
        """Tries left for ``pin``, from a data-less VERIFY (never decrements).

        :param pin: one of the application's PINs (``JpkiPin.AUTH``...); may be omitted for
            an application with a single PIN.
        :raises UsageError: not a PIN of this application.
        :raises TransportError: (or a subclass) the card went away.
        """
        spec = self._only_pin() if pin is None else self._pin(pin)
        with self._operation():
            return self._pin_status(spec)

    def verify(self, pin: PinT, value: str) -> None:
        """VERIFY ``value`` once.  The PIN stays verified on the card until the application
        is re-selected or the card is reset (:attr:`verified` tracks it).

        :param pin: which PIN (``JpkiPin.SIGN``...).
        :param value: the PIN as typed (the JPKI sign password is upper-cased).
        :raises UsageError: ``pin`` is not a PIN of this application (e.g. the arguments
            are swapped); the message never contains either argument.
        :raises PinFormatError: wrong length/characters — nothing was sent.
        :raises PinError: wrong PIN; ``retries_left`` says how many tries are left.
        :raises PinBlockedError: the PIN is (now) blocked.
        :raises TransportError: (or a subclass) the card went away.
        """
        spec = self._pin(pin)
        raw = self._encode_pin(spec, value)
        with self._operation(fresh=True):
            self._verify(spec, raw)

    def _only_pin(self) -> PinSpec:
        if len(self.PINS) != 1:
            raise UsageError(f"the {self.application.name} AP has several PINs: name one")
        return self._pin(self.PINS[0])

    def _pin_status(self, pin: PinSpec) -> PinStatus:
        """Select the PIN IEF and send a data-less VERIFY (never decrements)."""
        self._select_ef(pin.ef, pin.label)
        resp = self._send(CommandApdu(0x00, Ins.VERIFY, 0x00, 0x80))
        reported = _sw.pin_retries(resp.sw)
        if reported is not None:
            retries, implausible = clamp_retries(pin, reported)
            return PinStatus(pin, retries, implausible)
        if resp.sw in (_sw.SW.REFERENCE_DATA_NOT_USABLE, _sw.SW.AUTH_METHOD_BLOCKED):
            return PinStatus(pin, 0)
        if resp.ok:
            # NOTE: the cards seen answer 63Cx even when verified; a card answering 9000
            # says "verified", and only a successful VERIFY resets the counter to max.
            if pin.max_tries is None:
                raise BadResponse(f"{pin.label}: status query gave no retry counter")
            return PinStatus(pin, pin.max_tries)
        raise _sw.error_for(resp.sw, resp.data)

    def _verify(self, pin: PinSpec, value: bytes) -> None:
        """Select the PIN IEF and VERIFY once with ``value`` (already format-checked).

        Only ever called inside an operation that selected the application first.

        :raises PinError: wrong PIN, ``retries_left`` from ``63Cx``.
        :raises PinBlockedError: ``63C0`` or ``6984``/``6983``.
        :raises PinFormatError: the card rejected the length (``6700``).
        """
        if not self._channel.selected_by(self._owner):  # pragma: no cover - a bug guard
            raise UsageError("internal: VERIFY without a SELECT of the application")
        self._select_ef(pin.ef, pin.label)
        self._verified.discard(pin)
        # The one place VERIFY with data is built; it is sent exactly once.
        resp = self._send(CommandApdu(0x00, Ins.VERIFY, 0x00, 0x80, value))
        self._translate_pin_sw(pin, resp)
        self._verified.add(pin)
        log.info("%s verified", pin.id)

    def _translate_pin_sw(self, pin: PinSpec, resp: ResponseApdu) -> None:
        if resp.ok:
            return
        reported = _sw.pin_retries(resp.sw)
        if reported == 0:
            # INFO, not WARNING: the error carries it to the caller, who words it for staff
            log.info("%s rejected; now blocked", pin.id)
            raise PinBlockedError(resp.sw, f"{pin.label}: wrong PIN, now blocked")
        if reported is not None:
            retries, implausible = clamp_retries(pin, reported)
            log.info("%s rejected", pin.id)
            raise PinError(retries, resp.sw, pin.wrong_pin_message(retries),
                           counter_implausible=implausible)
        if resp.sw in (_sw.SW.REFERENCE_DATA_NOT_USABLE, _sw.SW.AUTH_METHOD_BLOCKED):
            raise PinBlockedError(resp.sw, f"{pin.label} is blocked")
        if resp.sw == _sw.SW.WRONG_LENGTH:
            raise PinFormatError(f"{pin.label}: the card rejected the PIN length (6700)")
        if resp.sw == _sw.SW.SECURITY_STATUS_NOT_SATISFIED:
            raise SecurityStatusError(resp.sw, resp.data, f"{pin.label}: security status")
        raise _sw.error_for(resp.sw, resp.data)

    def _change(self, pin: PinSpec, new: bytes) -> None:
        """CHANGE REFERENCE DATA ``00 24 01 80 <new>`` on the current PIN IEF, just after a
        successful VERIFY of the old value in the same transaction."""
        resp = self._send(CommandApdu(0x00, Ins.CHANGE_REFERENCE_DATA, 0x01, 0x80, new))
        if resp.sw == _sw.SW.SECURITY_STATUS_NOT_SATISFIED:
            self._verified.discard(pin)
            raise SecurityStatusError(resp.sw, resp.data,
                                      f"{pin.label}: change refused (not verified)")
        self._translate_pin_sw(pin, resp)
        log.info("%s changed", pin.id)

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
        # 256-byte reads if the card (or the channel's ``extended=False``) refuses them.
        le = max(1, min(want, EXTENDED_CHUNK))
        resp = self._send(CommandApdu(0x00, Ins.READ_BINARY, p1, p2, le=le))
        return self._check_read(resp)

    def _check_read(self, resp: ResponseApdu) -> bytes | None:
        """The data of a READ BINARY answer, ``None`` for ``6B00``, else an error.

        An error raised here never keeps the response data (``CardError.data`` is empty):
        what a card sends with, say, ``6281`` on a read of the My Number EF is EF content,
        i.e. personal data, and errors travel to logs and messages.
        """
        if resp.ok or resp.sw == _sw.SW.END_OF_FILE:
            return resp.data
        if resp.sw == _sw.SW.WRONG_P1P2:
            return None
        if resp.sw == _sw.SW.SECURITY_STATUS_NOT_SATISFIED:
            self._verified.clear()  # whatever we thought, the card says no
            raise SecurityStatusError(resp.sw, b"",
                                      "reading this EF needs a PIN that is not verified")
        raise _sw.error_for(resp.sw)

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
