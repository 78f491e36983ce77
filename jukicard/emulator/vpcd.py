"""Bridge an emulated card to vsmartcard's vpcd (the virtual reader inside pcscd).

The card is the TCP **client**: it connects to vpcd (``127.0.0.1:35963`` = slot 0).  Every
message either way is a 2-byte big-endian length + payload.  vpcd → card: length 1 is a
control byte (``00`` power off, ``01`` power on, ``02`` reset, ``04`` "send your ATR" → framed
ATR reply); longer is a command APDU → one framed response APDU (never empty: an empty reply
or a closed socket means "card removed" to vpcd).  See virtual-card-stack.md §5–§6.

Latency: TCP_NODELAY is set, TCP_QUICKACK is re-armed before EVERY ``recv`` (Linux; vpcd up
to 0.9 sends its length and body in two writes, which costs ~40 ms per APDU otherwise), and
each reply goes out in ONE ``sendall``.

Control (card insert/removal/reset) for tests: :meth:`VpcdBridge.remove` closes the socket
(vpcd sees the card removed at its next presence poll), :meth:`VpcdBridge.insert`
reconnects, :meth:`VpcdBridge.reset` silently resets the card's volatile state.  The command
line (``python -m jukicard.emulator``) maps these to signals: SIGUSR1 toggles
removed/inserted, SIGUSR2 resets, SIGTERM/SIGINT stop cleanly.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Callable

from jukicard.apdu.card import SimulatedCard

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "EmulatedCard", "VpcdBridge", "MAX_MESSAGE"]

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963
MAX_MESSAGE = 0xFFFF  # the length field is 16 bits

CTRL_POWER_OFF = 0x00
CTRL_POWER_ON = 0x01
CTRL_RESET = 0x02
CTRL_ATR = 0x04

_SW_WRONG_LENGTH = b"\x67\x00"


EmulatedCard = SimulatedCard
"""What the bridge needs from a card (:class:`~jukicard.emulator.cardos.CardOS`)."""


class _Closed(Exception):
    """The connection ended (peer closed, or we shut it down)."""


class VpcdBridge:
    """Serve one emulated card to vpcd over TCP.

    :param card: the card (any :class:`EmulatedCard`).
    :param host: vpcd host.
    :param port: vpcd port (35963 + slot number).
    :param reconnect: keep reconnecting when vpcd goes away (pcscd restart) or is not up
        yet, instead of returning from :meth:`run`.
    :param retry_interval: seconds between connection attempts.
    :param connect_timeout: seconds for one TCP connect.
    :param on_event: called with ``"connected"``, ``"disconnected"``, ``"removed"``,
        ``"inserted"``, ``"reset"``, ``"stopped"`` (from the thread that caused the event).
    """

    def __init__(
        self,
        card: EmulatedCard,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        reconnect: bool = False,
        retry_interval: float = 0.5,
        connect_timeout: float = 5.0,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.card = card
        self.host = host
        self.port = port
        self.reconnect = reconnect
        self.retry_interval = retry_interval
        self.connect_timeout = connect_timeout
        self.on_event = on_event
        self._lock = threading.RLock()  # RLock: signal handlers run on the main thread
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._inserted = True
        self._removals = 0  # bumped by remove(): tells "removed on purpose" from "vpcd left"
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.connections = 0  # successful connects so far

    # ------------------------------------------------------------------ control API
    @property
    def inserted(self) -> bool:
        """False while the card is "removed" (no connection to vpcd on purpose)."""
        return self._inserted

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Block until connected to vpcd; False on timeout."""
        return self._connected.wait(timeout)

    def remove(self) -> None:
        """Simulate card removal: close the connection (vpcd reports the card gone)."""
        with self._lock:
            if not self._inserted:
                return
            self._inserted = False
            self._removals += 1
            self._shutdown_socket()
        self.card.power_off()  # at once: a removed card has no state, whatever the thread
        self._emit("removed")

    def insert(self) -> None:
        """Simulate card insertion: connect to vpcd again."""
        with self._lock:
            if self._inserted:
                return
            self._inserted = True
        self._wake.set()
        self._emit("inserted")

    def toggle(self) -> None:
        """Remove if inserted, insert if removed."""
        if self._inserted:
            self.remove()
        else:
            self.insert()

    def reset(self) -> None:
        """Silently reset the card's volatile state (selected DF, verified PINs).

        NOTE: pcscd is not told; the client sees the effect (e.g. ``69 82``), not a
        PC/SC reset event.  For a PC/SC-visible event use :meth:`remove` + :meth:`insert`.
        """
        self.card.reset()
        self._emit("reset")

    def stop(self) -> None:
        """Make :meth:`run` return (closes the connection)."""
        self._stop.set()
        with self._lock:
            self._shutdown_socket()
        self._wake.set()

    def start(self) -> threading.Thread:
        """Run :meth:`run` in a daemon thread and return it."""
        self._thread = threading.Thread(target=self.run, name="vpcd-bridge", daemon=True)
        self._thread.start()
        return self._thread

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    # ------------------------------------------------------------------ main loop
    def run(self) -> None:
        """Connect and serve until :meth:`stop` (or until vpcd goes away, unless
        ``reconnect``).

        :raises ConnectionError: if vpcd cannot be reached and ``reconnect`` is False.
        """
        try:
            while not self._stop.is_set():
                if not self._inserted:
                    self._wake.wait(self.retry_interval)
                    self._wake.clear()
                    continue
                removals = self._removals
                sock = self._connect()
                if sock is None:  # stopped, removed, or retrying
                    continue
                try:
                    self._serve(sock)
                finally:
                    self._drop(sock)
                if self._stop.is_set() or self._removals != removals:
                    continue  # stopped or removed on purpose (maybe re-inserted already)
                log.info("vpcd closed the connection")
                self._emit("disconnected")
                if not self.reconnect:
                    return
                self._wake.wait(self.retry_interval)
                self._wake.clear()
        finally:
            self._emit("stopped")

    def _connect(self) -> socket.socket | None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            if not self.reconnect:
                raise ConnectionError(f"cannot connect to vpcd at {self.host}:{self.port}: "
                                      f"{exc.strerror or exc}") from None
            log.debug("vpcd not reachable (%s), retrying", exc)
            self._wake.wait(self.retry_interval)
            self._wake.clear()
            return None
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            if self._stop.is_set() or not self._inserted:
                sock.close()
                return None
            self._sock = sock
        self.connections += 1
        self._connected.set()
        log.info("connected to vpcd at %s:%d", self.host, self.port)
        self._emit("connected")
        return sock

    def _drop(self, sock: socket.socket) -> None:
        with self._lock:
            if self._sock is sock:
                self._sock = None
        self._connected.clear()
        try:
            sock.close()
        except OSError:
            pass
        self.card.power_off()  # a removed card is unpowered

    def _shutdown_socket(self) -> None:
        # caller holds self._lock; shutdown wakes a recv blocked in the serving thread
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # ------------------------------------------------------------------ wire
    @staticmethod
    def _recv_exact(sock: socket.socket, n: int) -> bytes:
        buf = bytearray()
        quickack = getattr(socket, "TCP_QUICKACK", None)
        while len(buf) < n:
            try:
                if quickack is not None:  # re-arm EVERY time: the kernel clears it
                    sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
                part = sock.recv(n - len(buf))
            except OSError as exc:
                raise _Closed(str(exc)) from None
            if not part:
                raise _Closed("EOF")
            buf += part
        return bytes(buf)

    @staticmethod
    def _send(sock: socket.socket, payload: bytes) -> None:
        try:
            sock.sendall(struct.pack(">H", len(payload)) + payload)  # ONE write
        except OSError as exc:
            raise _Closed(str(exc)) from None

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                (n,) = struct.unpack(">H", self._recv_exact(sock, 2))
                if n == 0:
                    continue
                msg = self._recv_exact(sock, n)
                if n == 1:
                    self._control(sock, msg[0])
                    continue
                response = self.card.execute(msg)
                if len(response) > MAX_MESSAGE or len(response) < 2:
                    log.warning("response of %d bytes cannot be framed; answering 6700",
                                len(response))
                    response = _SW_WRONG_LENGTH
                self._send(sock, response)
        except _Closed as exc:
            log.debug("connection ended: %s", exc)

    def _control(self, sock: socket.socket, code: int) -> None:
        if code == CTRL_ATR:
            self._send(sock, self.card.atr)
        elif code == CTRL_POWER_OFF:
            log.debug("vpcd: power off")
            self.card.power_off()
        elif code == CTRL_POWER_ON:
            log.debug("vpcd: power on")
            self.card.power_on()
        elif code == CTRL_RESET:
            log.debug("vpcd: reset")
            self.card.reset()
        else:
            log.warning("unknown vpcd control byte %02X ignored", code)

    def _emit(self, event: str) -> None:
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("on_event hook failed")
