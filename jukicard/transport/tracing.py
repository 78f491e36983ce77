"""APDU tracing at a ``TRAFFIC`` log level, with PINs and personal data redacted.

:class:`TracingTransport` wraps any transport and logs every command and response as hex
at level :data:`TRAFFIC` (5, below DEBUG).  It never logs:

* PIN bytes, nor their number: the data of every command in
  :data:`jukicard.apdu.processors.PIN_INS` — VERIFY (``20``/``21``), CHANGE REFERENCE DATA
  (``24``), DISABLE / ENABLE VERIFICATION REQUIREMENT (``26``/``28``), RESET RETRY COUNTER
  (``2C``/``2D``) — is replaced by ``<redacted PIN data>`` (no ``Lc``: the length of the
  sign password is a secret too);
* personal data: the data of every READ BINARY / READ RECORD response (and of the GET
  RESPONSE chain that continues it) is redacted unless the EF being read is on an
  allow-list of public EFs, keyed by (application AID, FID).  Each application's facts
  name the EFs whose content is public.  The tracer sits below the card layer and cannot
  read its detection table: :mod:`jukicard.services.connect` (which wraps every transport it
  opens) passes the list over the detection table
  (:func:`jukicard.card.detect.public_efs`, new applications included).  Without a list
  the default is the built-in applications' (:data:`DEFAULT_PUBLIC_EFS`): an application
  not built in is then redacted whole, which fails safe.

The selected application and EF are tracked from the SELECT commands seen
(``00 A4 04 ..`` by DF name resets the EF; ``00 A4 02 .. 02 <fid>`` selects an EF) and from
short-EF-identifier reads.  Anything not understood (other SELECT forms, failed SELECTs, a
reset, a new ``generation``) makes the current EF unknown, and unknown means redacted.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from jukicard.apdu.apps import jpki as _jpki
from jukicard.apdu.apps import public_efs as _public_efs
from jukicard.apdu.apps import text as _text
from jukicard.apdu.command import CommandApdu
from jukicard.apdu.processors import PIN_INS
from jukicard.errors import MalformedApduError
from jukicard.transport.base import DelegatingTransport, Transport

__all__ = [
    "TRAFFIC",
    "JPKI_AID",
    "TEXT_AID",
    "DEFAULT_PUBLIC_EFS",
    "PIN_DATA_REDACTED",
    "TracingTransport",
    "format_command",
]

#: Log level for APDU traffic (below DEBUG).
TRAFFIC = 5
logging.addLevelName(TRAFFIC, "TRAFFIC")

#: 公的個人認証AP (from :mod:`jukicard.apdu.apps.jpki`).
JPKI_AID = _jpki.AID
#: 券面事項入力補助AP (from :mod:`jukicard.apdu.apps.text`).
TEXT_AID = _text.AID

#: EFs whose content is public, over the built-in applications
#: (:func:`jukicard.apdu.apps.public_efs`): JPKI auth cert, auth CA cert, sign CA cert,
#: token info, and the text AP's basic info.  (JPKI ``0001``, the sign cert, carries name
#: and address; no personal-data EF is on the list.)
DEFAULT_PUBLIC_EFS: frozenset[tuple[bytes, bytes]] = _public_efs()

_INS_SELECT = 0xA4
_INS_GET_RESPONSE = 0xC0
#: the same set the processors never re-send: every INS whose data may carry a PIN.
_PIN_INS = PIN_INS
_READ_INS = frozenset({0xB0, 0xB1, 0xB2, 0xB3})


def _hex(data: bytes) -> str:
    return data.hex(" ").upper()


def _redacted(n: int) -> str:
    return f"<redacted {n} bytes>"


#: What stands for the data of a PIN command: neither the PIN nor its length (Lc) is logged.
PIN_DATA_REDACTED = "<redacted PIN data>"


def format_command(apdu: bytes) -> str:
    """Hex of a command APDU for the log; a PIN command's data — and its length, which is
    the PIN's — is replaced by :data:`PIN_DATA_REDACTED`."""
    if len(apdu) < 4 or apdu[1] not in _PIN_INS or len(apdu) == 4:
        return _hex(apdu)
    try:
        cmd = CommandApdu.decode(apdu)
    except MalformedApduError:
        return f"{_hex(apdu[:4])} {PIN_DATA_REDACTED}"
    if not cmd.data:
        return _hex(apdu)
    le = "" if cmd.le is None else f" Le={cmd.le}"
    return f"{_hex(apdu[:4])} {PIN_DATA_REDACTED}{le}"


def _channel(cla: int) -> int:
    if cla & 0x40:  # further interindustry class: channels 4..19
        return 4 + (cla & 0x0F)
    return cla & 0x03


class _Selection:
    __slots__ = ("aid", "ef")

    def __init__(self) -> None:
        self.aid: bytes | None = None
        self.ef: bytes | None = None


class TracingTransport(DelegatingTransport):
    """Wrap ``inner`` and log its traffic at :data:`TRAFFIC`, redacted.

    Other attributes (e.g. a loopback transport's ``inject``) are forwarded to ``inner``.

    :param inner: the transport to wrap.
    :param logger: where to log (default: this module's logger).
    :param public_efs: ``(AID, FID)`` pairs whose READ BINARY/RECORD data may be logged;
        default :data:`DEFAULT_PUBLIC_EFS` (the built-in applications').  Pass ``()`` to
        redact every read, :func:`jukicard.card.detect.public_efs` for every application of
        the detection table.
    """

    def __init__(
        self,
        inner: Transport,
        logger: logging.Logger | None = None,
        public_efs: Iterable[tuple[bytes, bytes]] | None = None,
    ) -> None:
        super().__init__(inner)
        self.logger = logger or logging.getLogger(__name__)
        self.public_efs: frozenset[tuple[bytes, bytes]] = (
            DEFAULT_PUBLIC_EFS
            if public_efs is None
            else frozenset((bytes(a), bytes(f)) for a, f in public_efs)
        )
        self._selections: dict[int, _Selection] = {}
        self._generation = inner.generation
        self._chain_redacted = True  # redaction of the response a GET RESPONSE continues
        self._lock = threading.RLock()  # keeps send + selection tracking together

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Send through ``inner``, logging command and response (redacted) at TRAFFIC.

        :raises MalformedApduError: (from ``inner``) not a plausible APDU.
        :raises TransportError: (from ``inner``) the reader or card failed.
        """
        with self._lock:
            return self._transmit(apdu)

    def _transmit(self, apdu: bytes) -> tuple[bytes, int]:
        enabled = self.logger.isEnabledFor(TRAFFIC)
        raw = bytes(apdu) if isinstance(apdu, (bytes, bytearray, memoryview)) else apdu
        if self.inner.generation != self._generation:
            self._forget()
        if enabled and isinstance(raw, bytes):
            self.logger.log(TRAFFIC, "SEND %s", format_command(raw))
        try:
            data, sw = self.inner.transmit(raw)
        except Exception as exc:
            self._forget()
            if enabled:
                self.logger.log(TRAFFIC, "RECV (no response: %s)", type(exc).__name__)
            raise
        redact = self._observe(raw, data, sw) if isinstance(raw, bytes) else True
        if enabled:
            body = _redacted(len(data)) if redact and data else _hex(data)
            sep = " " if data else ""
            self.logger.log(TRAFFIC, "RECV %s%s%04X", body, sep, sw)
        return data, sw

    # ------------------------------------------------------------------ tracking
    def _forget(self) -> None:
        self._selections.clear()
        self._generation = self.inner.generation
        self._chain_redacted = True

    def _observe(self, apdu: bytes, data: bytes, sw: int) -> bool:
        """Update the selection from one exchange; return True if ``data`` must be redacted."""
        if len(apdu) < 4:
            return True
        cla, ins, p1, p2 = apdu[:4]
        if cla == 0xFF:  # reader pseudo-APDUs: not card data we understand
            return True
        sel = self._selections.setdefault(_channel(cla), _Selection())
        ok = sw == 0x9000 or sw >> 8 == 0x61
        if ins == _INS_GET_RESPONSE:
            redact = self._chain_redacted
        elif ins == _INS_SELECT:
            self._observe_select(sel, apdu, p1, ok)
            redact = False  # FCI: sizes and identifiers, no file content
        elif ins in _READ_INS:
            ef = self._read_target(sel, ins, p1, p2)
            if ef is not None and ok:
                sel.ef = ef
            redact = ef is None or (sel.aid, ef) not in self.public_efs
        else:
            redact = False
        if sw >> 8 == 0x61 and ins != _INS_GET_RESPONSE:
            self._chain_redacted = redact or ins in _PIN_INS
        if ins in _PIN_INS:
            redact = True
        return redact

    @staticmethod
    def _observe_select(sel: _Selection, apdu: bytes, p1: int, ok: bool) -> None:
        try:
            data = CommandApdu.decode(apdu).data
        except MalformedApduError:
            data = None
        if p1 == 0x04 and data is not None:  # application by DF name: EF selection resets
            sel.aid = data if ok else None
            sel.ef = None
        elif p1 == 0x02 and data is not None:  # EF under the current DF
            sel.ef = data if ok and len(data) == 2 else None
        else:  # MF, FID, parent, path...: we no longer know what is selected
            sel.aid = sel.ef = None

    @staticmethod
    def _read_target(sel: _Selection, ins: int, p1: int, p2: int) -> bytes | None:
        """The EF a read addresses (``None`` = unknown, hence redacted)."""
        if ins in (0xB1, 0xB3):  # odd INS: offset/file id in data objects; never trust it
            return None
        if ins == 0xB0:
            if p1 & 0x80:  # short EF identifier in P1 bits 5-1
                return bytes((0, p1 & 0x1F))
            return sel.ef
        sfi = p2 >> 3  # READ RECORD: P2 bits 8-4 = SFI, 0 = current EF
        return sel.ef if sfi == 0 else bytes((0, sfi))
