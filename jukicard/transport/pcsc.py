"""PC/SC transport through pyscard's low-level ``smartcard.scard`` API.

This is the only module of jukicard that imports pyscard, and it does so lazily: importing
it (or :mod:`jukicard.transport`) works without pyscard; using it without pyscard raises
:class:`~jukicard.errors.ReaderUnavailableError` with an installation hint.

Every pyscard call goes through one small object implementing :class:`ScardApi`
(:class:`PyscardApi` in production).  Unit tests hand :class:`PcscTransport` a fake with
scripted return codes instead, so every error mapping is tested without pcscd.

Error mapping (PC/SC return code → jukicard error):

=====================================================  ====================================
``SCARD_W_REMOVED_CARD``, ``SCARD_E_NO_SMARTCARD``      :class:`CardRemovedError`
``SCARD_W_RESET_CARD``                                  reconnect (``SCARD_LEAVE_CARD``),
                                                        ``generation`` + 1, then
                                                        :class:`CardResetError`; the command
                                                        is never re-sent
``SCARD_E_READER_UNAVAILABLE``, ``SCARD_E_NO_SERVICE``,  :class:`ReaderUnavailableError`
``SCARD_E_SERVICE_STOPPED``
``SCARD_E_UNKNOWN_READER``,                             :class:`NoReaderError`
``SCARD_E_NO_READERS_AVAILABLE``
``SCARD_E_SHARING_VIOLATION`` (after a bounded wait)    :class:`SharingViolationError`
``SCARD_E_TIMEOUT``                                     :class:`TransportTimeoutError`
anything else                                           :class:`PcscError` (a
                                                        :class:`TransportError` naming the
                                                        code)
=====================================================  ====================================

Each mapped error carries the raw code as ``pcsc_code`` and its name as ``pcsc_name``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, cast

from jukicard.errors import (
    CardRemovedError,
    MalformedApduError,
    NoReaderError,
    ReaderUnavailableError,
    SharingViolationError,
    TransportError,
    UsageError,
)
from jukicard.transport.base import BaseTransport
from jukicard.transport.pcsc_codes import (  # re-exported
    SCARD_E_NO_READERS_AVAILABLE,
    SCARD_E_NO_SMARTCARD,
    SCARD_E_NOT_TRANSACTED,
    SCARD_E_SHARING_VIOLATION,
    SCARD_LEAVE_CARD,
    SCARD_PROTOCOL_T0,
    SCARD_PROTOCOL_T1,
    SCARD_RESET_CARD,
    SCARD_S_SUCCESS,
    SCARD_SHARE_EXCLUSIVE,
    SCARD_SHARE_SHARED,
    SCARD_STATE_MUTE,
    SCARD_STATE_PRESENT,
    SCARD_STATE_UNAWARE,
    SCARD_W_REMOVED_CARD,
    SCARD_W_RESET_CARD,
    PcscError,
    map_pcsc_error,
    pcsc_code_name,
)

__all__ = [
    "ScardApi",
    "PyscardApi",
    "PcscError",
    "PcscTransport",
    "default_api",
    "list_readers",
    "map_pcsc_error",
    "pcsc_code_name",
    "PNP_NOTIFICATION",
]

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------- constants
#: the pseudo-reader whose state changes when readers are added or removed.
PNP_NOTIFICATION = "\\\\?PnP?\\Notification"
_INFINITE = 0xFFFFFFFF

_PYSCARD_HINT = (
    "pyscard is not installed: `pip install pyscard` "
    "(on Linux it builds against libpcsclite-dev; pcscd must be running)"
)


# --------------------------------------------------------------------------- the pyscard seam
#: (reader name, event state, atr as list[int]) as pyscard uses them.
ReaderStateTuple = tuple[Any, ...]


class ScardApi(Protocol):
    """The PC/SC calls jukicard uses, pyscard-shaped (return codes, ``list[int]`` bytes).

    Return codes are not checked here: callers map them.  Byte strings are ``list[int]``
    because that is what pyscard takes and returns; :class:`PcscTransport` converts at
    this boundary.
    """

    def establish_context(self) -> tuple[int, Any]: ...

    def release_context(self, context: Any) -> int: ...

    def list_readers(self, context: Any) -> tuple[int, list[str]]: ...

    def connect(
        self, context: Any, reader: str, share: int, protocols: int
    ) -> tuple[int, Any, int]: ...

    def reconnect(
        self, card: Any, share: int, protocols: int, initialization: int
    ) -> tuple[int, int]: ...

    def disconnect(self, card: Any, disposition: int) -> int: ...

    def status(self, card: Any) -> tuple[int, str, int, int, list[int]]: ...

    def transmit(self, card: Any, protocol: int, apdu: list[int]) -> tuple[int, list[int]]: ...

    def begin_transaction(self, card: Any) -> int: ...

    def end_transaction(self, card: Any, disposition: int) -> int: ...

    def get_status_change(
        self, context: Any, timeout_ms: int, states: list[tuple[str, int]]
    ) -> tuple[int, list[ReaderStateTuple]]: ...

    def cancel(self, context: Any) -> int: ...


class PyscardApi:
    """:class:`ScardApi` over ``smartcard.scard`` (imported when this object is created).

    :raises ReaderUnavailableError: pyscard is not installed.
    """

    def __init__(self) -> None:
        try:
            from smartcard import scard
        except ImportError as exc:
            raise ReaderUnavailableError(_PYSCARD_HINT) from exc
        self._s = scard

    def _call(self, name: str, *args: Any) -> Any:
        try:
            result = getattr(self._s, name)(*args)
        except Exception as exc:  # pyscard raises plain Python errors on bad handles/args
            raise TransportError(f"pyscard {name} failed: {type(exc).__name__}") from exc
        if isinstance(result, (tuple, list)):  # pyscard returns [hresult, value, ...]
            return (int(result[0]) & 0xFFFFFFFF, *result[1:])
        return int(result) & 0xFFFFFFFF

    def establish_context(self) -> tuple[int, Any]:
        result = self._call("SCardEstablishContext", self._s.SCARD_SCOPE_USER)
        return cast("tuple[int, Any]", result)

    def release_context(self, context: Any) -> int:
        return cast("int", self._call("SCardReleaseContext", context))

    def list_readers(self, context: Any) -> tuple[int, list[str]]:
        return cast("tuple[int, list[str]]", self._call("SCardListReaders", context, []))

    def connect(
        self, context: Any, reader: str, share: int, protocols: int
    ) -> tuple[int, Any, int]:
        result = self._call("SCardConnect", context, reader, share, protocols)
        return cast("tuple[int, Any, int]", result)

    def reconnect(
        self, card: Any, share: int, protocols: int, initialization: int
    ) -> tuple[int, int]:
        result = self._call("SCardReconnect", card, share, protocols, initialization)
        return cast("tuple[int, int]", result)

    def disconnect(self, card: Any, disposition: int) -> int:
        return cast("int", self._call("SCardDisconnect", card, disposition))

    def status(self, card: Any) -> tuple[int, str, int, int, list[int]]:
        return cast("tuple[int, str, int, int, list[int]]", self._call("SCardStatus", card))

    def transmit(self, card: Any, protocol: int, apdu: list[int]) -> tuple[int, list[int]]:
        return cast("tuple[int, list[int]]", self._call("SCardTransmit", card, protocol, apdu))

    def begin_transaction(self, card: Any) -> int:
        return cast("int", self._call("SCardBeginTransaction", card))

    def end_transaction(self, card: Any, disposition: int) -> int:
        return cast("int", self._call("SCardEndTransaction", card, disposition))

    def get_status_change(
        self, context: Any, timeout_ms: int, states: list[tuple[str, int]]
    ) -> tuple[int, list[ReaderStateTuple]]:
        result = self._call("SCardGetStatusChange", context, timeout_ms, states)
        return cast("tuple[int, list[ReaderStateTuple]]", result)

    def cancel(self, context: Any) -> int:
        return cast("int", self._call("SCardCancel", context))


_default_api: ScardApi | None = None
_default_api_lock = threading.Lock()


def default_api() -> ScardApi:
    """The process-wide :class:`PyscardApi` (created on first use).

    :raises ReaderUnavailableError: pyscard is not installed.
    """
    global _default_api
    with _default_api_lock:
        if _default_api is None:
            _default_api = PyscardApi()
        return _default_api


def _to_bytes(values: Any, what: str) -> bytes:
    try:
        return bytes(values)
    except (TypeError, ValueError) as exc:
        raise MalformedApduError(f"PC/SC returned a malformed {what}") from exc


# --------------------------------------------------------------------------- helpers
def _establish(api: ScardApi) -> Any:
    code, context = api.establish_context()
    if code != SCARD_S_SUCCESS:
        raise map_pcsc_error(code, "SCardEstablishContext")
    return context


def _release(api: ScardApi, context: Any) -> None:
    try:
        code = api.release_context(context)
    except TransportError as exc:
        log.debug("SCardReleaseContext raised: %s", exc)
        return
    if code != SCARD_S_SUCCESS:
        log.debug("SCardReleaseContext: %s", pcsc_code_name(code))


def _list(api: ScardApi, context: Any) -> list[str]:
    code, readers = api.list_readers(context)
    if code == SCARD_E_NO_READERS_AVAILABLE:
        return []
    if code != SCARD_S_SUCCESS:
        raise map_pcsc_error(code, "SCardListReaders")
    return [str(r) for r in readers or []]


def list_readers(api: ScardApi | None = None) -> list[str]:
    """The names of the PC/SC readers attached now (``[]`` if none).

    :param api: the PC/SC seam (default: pyscard).
    :raises ReaderUnavailableError: pyscard is missing or the PC/SC service is not running.
    """
    api = api or default_api()
    context = _establish(api)
    try:
        return _list(api, context)
    finally:
        _release(api, context)


ShareMode = Literal["auto", "exclusive", "shared"]
ProtocolChoice = Literal["T1", "T0", "any"]
_PROTOCOLS: dict[str, int] = {
    "T1": SCARD_PROTOCOL_T1,
    "T0": SCARD_PROTOCOL_T0,
    "any": SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
}
_SHARES: dict[str, tuple[int, ...]] = {
    "auto": (SCARD_SHARE_EXCLUSIVE, SCARD_SHARE_SHARED),
    "exclusive": (SCARD_SHARE_EXCLUSIVE,),
    "shared": (SCARD_SHARE_SHARED,),
}


class PcscTransport(BaseTransport):
    """A card in a PC/SC reader.

    Connects at construction: EXCLUSIVE share mode first, SHARED if another process holds
    the card shared (``share="auto"``); while the card is held exclusively elsewhere it
    retries for at most ``sharing_timeout`` seconds.  In shared mode other connections may
    talk to the card between our transactions (:attr:`sees_all_traffic` is ``False``): the
    card layer then selects the application again in every operation.

    :param reader: reader name (exact, or a substring matching exactly one reader), index
        into :func:`list_readers`, or ``None`` for the first reader with a card.
    :param share: ``"auto"`` (exclusive, then shared), ``"exclusive"`` or ``"shared"``.
    :param protocol: ``"T1"`` (JPKI cards), ``"T0"`` or ``"any"`` (T=0 or T=1).
    :param sharing_timeout: seconds to keep retrying connect / begin-transaction while
        another process holds the card.
    :param retry_interval: pause between those retries.
    :param reset_on_close: disconnect with ``SCARD_RESET_CARD`` so that PINs verified in
        this session do not stay verified for the next application (default True).
    :param api: the PC/SC seam (default: pyscard); tests pass a fake.
    :raises NoReaderError: no reader, or no reader matches ``reader``.
    :raises CardRemovedError: no card in the chosen reader (or in any reader).
    :raises SharingViolationError: another process kept the card beyond ``sharing_timeout``.
    :raises ReaderUnavailableError: pyscard missing, PC/SC service down, reader dead.
    """

    def __init__(
        self,
        reader: str | int | None = None,
        *,
        share: ShareMode = "auto",
        protocol: ProtocolChoice = "T1",
        sharing_timeout: float = 5.0,
        retry_interval: float = 0.05,
        reset_on_close: bool = True,
        api: ScardApi | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        if share not in _SHARES:
            raise UsageError(f"share must be one of {sorted(_SHARES)}")
        if protocol not in _PROTOCOLS:
            raise UsageError(f"protocol must be one of {sorted(_PROTOCOLS)}")
        self._api = api or default_api()
        self._share_choice = share
        self._protocols = _PROTOCOLS[protocol]
        self._sharing_timeout = sharing_timeout
        self._retry_interval = retry_interval
        self._reset_on_close = reset_on_close
        self._sleep = sleep
        self._clock = clock
        self._card: Any = None
        self._share = SCARD_SHARE_EXCLUSIVE
        self._active_protocol = 0
        self._atr = b""
        self.reader = ""
        self._context = _establish(self._api)
        try:
            self.reader = self._resolve_reader(reader)
            self._connect()
        except BaseException:
            _release(self._api, self._context)
            self._closed = True
            raise

    # ------------------------------------------------------------------ properties
    @property
    def atr(self) -> bytes:
        return self._atr

    @property
    def share_mode(self) -> Literal["exclusive", "shared"]:
        """The share mode actually obtained."""
        return "exclusive" if self._share == SCARD_SHARE_EXCLUSIVE else "shared"

    @property
    def sees_all_traffic(self) -> bool:
        """True in exclusive mode only: in shared mode (``share="shared"``, or ``"auto"``
        when another process holds the card) other connections may select another
        application between two of our transactions."""
        return self._share == SCARD_SHARE_EXCLUSIVE

    @property
    def active_protocol(self) -> Literal["T0", "T1"]:
        return "T0" if self._active_protocol == SCARD_PROTOCOL_T0 else "T1"

    # ------------------------------------------------------------------ connection
    def _resolve_reader(self, reader: str | int | None) -> str:
        names = _list(self._api, self._context)
        if not names:
            raise NoReaderError("no PC/SC reader is attached")
        if reader is None:
            return self._first_with_card(names)
        if isinstance(reader, bool) or not isinstance(reader, (int, str)):
            raise UsageError("reader must be a name, an index or None")
        if isinstance(reader, int):
            if not 0 <= reader < len(names):
                raise NoReaderError(f"no reader #{reader}: {len(names)} reader(s) attached")
            return names[reader]
        if reader in names:
            return reader
        matches = [n for n in names if reader in n]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise NoReaderError(f"no reader matches {reader!r}; readers: {names}")
        raise NoReaderError(f"{reader!r} matches several readers: {matches}")

    def _first_with_card(self, names: Sequence[str]) -> str:
        code, states = self._api.get_status_change(
            self._context, 0, [(n, SCARD_STATE_UNAWARE) for n in names]
        )
        if code != SCARD_S_SUCCESS:
            raise map_pcsc_error(code, "SCardGetStatusChange")
        for entry in states:
            name, event_state = entry[0], entry[1]
            if event_state & SCARD_STATE_PRESENT and not event_state & SCARD_STATE_MUTE:
                return str(name)
        raise CardRemovedError(f"no card in any of {len(names)} reader(s)")

    def _connect(self) -> None:
        deadline = self._clock() + self._sharing_timeout
        while True:
            for share in _SHARES[self._share_choice]:
                code, card, active = self._api.connect(
                    self._context, self.reader, share, self._protocols
                )
                if code == SCARD_S_SUCCESS:
                    self._card, self._share, self._active_protocol = card, share, active
                    self._bump_generation()
                    self._refresh_atr()
                    log.debug(
                        "connected to %r (%s, %s)",
                        self.reader, self.share_mode, self.active_protocol,
                    )
                    return
                if code != SCARD_E_SHARING_VIOLATION:
                    raise map_pcsc_error(code, "SCardConnect", self.reader)
                log.debug("SCardConnect %r: sharing violation (share=%d)", self.reader, share)
            if self._clock() >= deadline:
                raise SharingViolationError(
                    f"reader {self.reader!r}: another process kept the card for more "
                    f"than {self._sharing_timeout:g} s"
                )
            self._sleep(self._retry_interval)

    def _refresh_atr(self) -> None:
        code, _name, _state, _protocol, atr = self._api.status(self._card)
        if code != SCARD_S_SUCCESS:
            raise map_pcsc_error(code, "SCardStatus", self.reader)
        self._atr = _to_bytes(atr, "ATR")

    def _check(self, code: int, operation: str) -> None:
        """Raise the typed error for ``code``; on a reset, reconnect first."""
        if code == SCARD_S_SUCCESS:
            return
        if code == SCARD_W_RESET_CARD:
            self._recover_from_reset(operation)
        raise map_pcsc_error(code, operation, self.reader)

    def _recover_from_reset(self, operation: str) -> None:
        """Acknowledge a reset by another party: reconnect (leave card), bump generation,
        re-take an open transaction, then raise :class:`CardResetError`.  Never re-sends."""
        self._bump_generation()
        log.info("card in %r was reset (seen by %s); reconnecting", self.reader, operation)
        code, active = self._api.reconnect(
            self._card, self._share, self._protocols, SCARD_LEAVE_CARD
        )
        if code != SCARD_S_SUCCESS and code != SCARD_W_RESET_CARD:
            raise map_pcsc_error(code, "SCardReconnect", self.reader)
        if code == SCARD_S_SUCCESS:
            self._active_protocol = active
            try:
                self._refresh_atr()
            except TransportError as exc:
                log.debug("SCardStatus after reconnect failed: %s", exc)
            if self._depth > 0:
                try:
                    self._begin_transaction()
                except TransportError as exc:
                    # INFO: the CardResetError raised below tells the caller
                    log.info("could not re-take the transaction after a reset: %s", exc)
        err = map_pcsc_error(SCARD_W_RESET_CARD, operation, self.reader)
        raise err

    def reconnect(self, *, reset: bool = False) -> None:
        """Connect again to the same reader; bumps ``generation``.

        Use after :class:`CardRemovedError` once a card is back in the reader.

        :param reset: reset the card (``SCardReconnect`` with ``SCARD_RESET_CARD``) instead of
            a fresh disconnect/connect that leaves the card alone.
        :raises CardRemovedError: no card in the reader.
        :raises TransportError: (or a subclass) any other PC/SC failure.
        """
        with self._lock:
            self._ensure_open()
            if reset:
                self._bump_generation()
                code, active = self._api.reconnect(
                    self._card, self._share, self._protocols, SCARD_RESET_CARD
                )
                if code != SCARD_S_SUCCESS:
                    raise map_pcsc_error(code, "SCardReconnect", self.reader)
                self._active_protocol = active
                self._refresh_atr()
            else:
                code = self._api.disconnect(self._card, SCARD_LEAVE_CARD)
                if code != SCARD_S_SUCCESS:
                    log.debug("SCardDisconnect before reconnect: %s", pcsc_code_name(code))
                self._card = None
                self._connect()
            if self._depth > 0:
                self._begin_transaction()

    # ------------------------------------------------------------------ hooks
    def _transmit_raw(self, apdu: bytes) -> bytes:
        if self._card is None:
            raise CardRemovedError(f"not connected to a card in {self.reader!r}")
        code, response = self._api.transmit(self._card, self._active_protocol, list(apdu))
        self._check(code, "SCardTransmit")
        return _to_bytes(response, "response APDU")

    def _begin_transaction(self) -> None:
        if self._card is None:
            raise CardRemovedError(f"not connected to a card in {self.reader!r}")
        deadline = self._clock() + self._sharing_timeout
        while True:
            code = self._api.begin_transaction(self._card)
            if code != SCARD_E_SHARING_VIOLATION:
                self._check(code, "SCardBeginTransaction")
                return
            if self._clock() >= deadline:
                raise SharingViolationError(
                    f"reader {self.reader!r}: another process kept its transaction for "
                    f"more than {self._sharing_timeout:g} s"
                )
            log.debug("SCardBeginTransaction %r: sharing violation, retrying", self.reader)
            self._sleep(self._retry_interval)

    def _end_transaction(self) -> None:
        if self._card is None:
            return
        code = self._api.end_transaction(self._card, SCARD_LEAVE_CARD)
        if code == SCARD_S_SUCCESS:
            return
        if code in (SCARD_W_RESET_CARD, SCARD_W_REMOVED_CARD, SCARD_E_NO_SMARTCARD,
                    SCARD_E_NOT_TRANSACTED):
            # the transaction died with the card; the next call reports (and handles) it
            log.debug("SCardEndTransaction %r: %s", self.reader, pcsc_code_name(code))
            return
        raise map_pcsc_error(code, "SCardEndTransaction", self.reader)

    def _close(self) -> None:
        try:
            if self._card is not None:
                if self._depth > 0:
                    try:
                        self._end_transaction()
                    except TransportError as exc:
                        log.debug("ending transaction at close: %s", exc)
                disposition = SCARD_RESET_CARD if self._reset_on_close else SCARD_LEAVE_CARD
                code = self._api.disconnect(self._card, disposition)
                if code != SCARD_S_SUCCESS:
                    log.debug("SCardDisconnect %r: %s", self.reader, pcsc_code_name(code))
                self._card = None
        finally:
            _release(self._api, self._context)
