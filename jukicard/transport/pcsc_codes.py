"""PC/SC return codes, constants and their mapping to jukicard's transport errors.

Pure: no pyscard import.  The values are the standard PC/SC ones, identical in pcsc-lite and
WinSCard, kept here so error mapping and the unit tests work without pyscard (a unit test
checks them against pyscard's own constants when pyscard is installed).
:mod:`jukicard.transport.pcsc` re-exports everything.

Error mapping (PC/SC return code → jukicard error):

=====================================================  ====================================
``SCARD_W_REMOVED_CARD``, ``SCARD_E_NO_SMARTCARD``      :class:`CardRemovedError`
``SCARD_W_RESET_CARD``                                  :class:`CardResetError` (the
                                                        transport reconnects first)
``SCARD_E_READER_UNAVAILABLE``, ``SCARD_E_NO_SERVICE``,  :class:`ReaderUnavailableError`
``SCARD_E_SERVICE_STOPPED``
``SCARD_E_UNKNOWN_READER``,                             :class:`NoReaderError`
``SCARD_E_NO_READERS_AVAILABLE``
``SCARD_E_SHARING_VIOLATION``                           :class:`SharingViolationError`
``SCARD_E_TIMEOUT``                                     :class:`TransportTimeoutError`
anything else                                           :class:`PcscError` (a
                                                        :class:`TransportError` naming the
                                                        code)
=====================================================  ====================================
"""

from __future__ import annotations

from jukicard.errors import (
    CardRemovedError,
    CardResetError,
    NoReaderError,
    ReaderUnavailableError,
    SharingViolationError,
    TransportError,
    TransportTimeoutError,
)

__all__ = [
    "PcscError",
    "map_pcsc_error",
    "pcsc_code_name",
]

SCARD_S_SUCCESS = 0x00000000
SCARD_SCOPE_USER = 0
SCARD_SHARE_EXCLUSIVE = 1
SCARD_SHARE_SHARED = 2
SCARD_PROTOCOL_T0 = 1
SCARD_PROTOCOL_T1 = 2
SCARD_LEAVE_CARD = 0
SCARD_RESET_CARD = 1
SCARD_STATE_UNAWARE = 0x0000
SCARD_STATE_IGNORE = 0x0001
SCARD_STATE_CHANGED = 0x0002
SCARD_STATE_UNKNOWN = 0x0004
SCARD_STATE_UNAVAILABLE = 0x0008
SCARD_STATE_EMPTY = 0x0010
SCARD_STATE_PRESENT = 0x0020
SCARD_STATE_MUTE = 0x0200

_CODES: dict[str, int] = {
    "SCARD_F_INTERNAL_ERROR": 0x80100001,
    "SCARD_E_CANCELLED": 0x80100002,
    "SCARD_E_INVALID_HANDLE": 0x80100003,
    "SCARD_E_INVALID_PARAMETER": 0x80100004,
    "SCARD_E_INVALID_TARGET": 0x80100005,
    "SCARD_E_NO_MEMORY": 0x80100006,
    "SCARD_F_WAITED_TOO_LONG": 0x80100007,
    "SCARD_E_INSUFFICIENT_BUFFER": 0x80100008,
    "SCARD_E_UNKNOWN_READER": 0x80100009,
    "SCARD_E_TIMEOUT": 0x8010000A,
    "SCARD_E_SHARING_VIOLATION": 0x8010000B,
    "SCARD_E_NO_SMARTCARD": 0x8010000C,
    "SCARD_E_UNKNOWN_CARD": 0x8010000D,
    "SCARD_E_CANT_DISPOSE": 0x8010000E,
    "SCARD_E_PROTO_MISMATCH": 0x8010000F,
    "SCARD_E_NOT_READY": 0x80100010,
    "SCARD_E_INVALID_VALUE": 0x80100011,
    "SCARD_E_SYSTEM_CANCELLED": 0x80100012,
    "SCARD_F_COMM_ERROR": 0x80100013,
    "SCARD_F_UNKNOWN_ERROR": 0x80100014,
    "SCARD_E_INVALID_ATR": 0x80100015,
    "SCARD_E_NOT_TRANSACTED": 0x80100016,
    "SCARD_E_READER_UNAVAILABLE": 0x80100017,
    "SCARD_P_SHUTDOWN": 0x80100018,
    "SCARD_E_PCI_TOO_SMALL": 0x80100019,
    "SCARD_E_READER_UNSUPPORTED": 0x8010001A,
    "SCARD_E_DUPLICATE_READER": 0x8010001B,
    "SCARD_E_CARD_UNSUPPORTED": 0x8010001C,
    "SCARD_E_NO_SERVICE": 0x8010001D,
    "SCARD_E_SERVICE_STOPPED": 0x8010001E,
    "SCARD_E_UNEXPECTED": 0x8010001F,  # pcsc-lite also uses it for UNSUPPORTED_FEATURE
    "SCARD_E_ICC_INSTALLATION": 0x80100020,
    "SCARD_E_ICC_CREATEORDER": 0x80100021,
    "SCARD_E_UNSUPPORTED_FEATURE": 0x80100022,  # WinSCard value
    "SCARD_E_DIR_NOT_FOUND": 0x80100023,
    "SCARD_E_FILE_NOT_FOUND": 0x80100024,
    "SCARD_E_NO_DIR": 0x80100025,
    "SCARD_E_NO_FILE": 0x80100026,
    "SCARD_E_NO_ACCESS": 0x80100027,
    "SCARD_E_WRITE_TOO_MANY": 0x80100028,
    "SCARD_E_BAD_SEEK": 0x80100029,
    "SCARD_E_INVALID_CHV": 0x8010002A,
    "SCARD_E_UNKNOWN_RES_MNG": 0x8010002B,
    "SCARD_E_NO_SUCH_CERTIFICATE": 0x8010002C,
    "SCARD_E_CERTIFICATE_UNAVAILABLE": 0x8010002D,
    "SCARD_E_NO_READERS_AVAILABLE": 0x8010002E,
    "SCARD_E_COMM_DATA_LOST": 0x8010002F,
    "SCARD_E_NO_KEY_CONTAINER": 0x80100030,
    "SCARD_E_SERVER_TOO_BUSY": 0x80100031,
    "SCARD_W_UNSUPPORTED_CARD": 0x80100065,
    "SCARD_W_UNRESPONSIVE_CARD": 0x80100066,
    "SCARD_W_UNPOWERED_CARD": 0x80100067,
    "SCARD_W_RESET_CARD": 0x80100068,
    "SCARD_W_REMOVED_CARD": 0x80100069,
    "SCARD_W_SECURITY_VIOLATION": 0x8010006A,
    "SCARD_W_WRONG_CHV": 0x8010006B,
    "SCARD_W_CHV_BLOCKED": 0x8010006C,
    "SCARD_W_EOF": 0x8010006D,
    "SCARD_W_CANCELLED_BY_USER": 0x8010006E,
    "SCARD_W_CARD_NOT_AUTHENTICATED": 0x8010006F,
}
_NAMES: dict[int, str] = {code: name for name, code in _CODES.items()}
_NAMES[SCARD_S_SUCCESS] = "SCARD_S_SUCCESS"

SCARD_E_CANCELLED = _CODES["SCARD_E_CANCELLED"]
SCARD_E_UNKNOWN_READER = _CODES["SCARD_E_UNKNOWN_READER"]
SCARD_E_TIMEOUT = _CODES["SCARD_E_TIMEOUT"]
SCARD_E_SHARING_VIOLATION = _CODES["SCARD_E_SHARING_VIOLATION"]
SCARD_E_NO_SMARTCARD = _CODES["SCARD_E_NO_SMARTCARD"]
SCARD_E_NOT_TRANSACTED = _CODES["SCARD_E_NOT_TRANSACTED"]
SCARD_E_READER_UNAVAILABLE = _CODES["SCARD_E_READER_UNAVAILABLE"]
SCARD_E_NO_SERVICE = _CODES["SCARD_E_NO_SERVICE"]
SCARD_E_SERVICE_STOPPED = _CODES["SCARD_E_SERVICE_STOPPED"]
SCARD_E_NO_READERS_AVAILABLE = _CODES["SCARD_E_NO_READERS_AVAILABLE"]
SCARD_W_RESET_CARD = _CODES["SCARD_W_RESET_CARD"]
SCARD_W_REMOVED_CARD = _CODES["SCARD_W_REMOVED_CARD"]

def pcsc_code_name(code: int) -> str:
    """The symbolic name of a PC/SC return code (``"0x8010xxxx"`` if unknown)."""
    code &= 0xFFFFFFFF
    return _NAMES.get(code, f"0x{code:08X}")


class PcscError(TransportError):
    """A PC/SC failure with no more specific jukicard error.

    :ivar pcsc_code: the raw return code.
    :ivar pcsc_name: its symbolic name, e.g. ``"SCARD_F_COMM_ERROR"``.
    """

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.pcsc_code = code & 0xFFFFFFFF
        self.pcsc_name = pcsc_code_name(code)


def map_pcsc_error(code: int, operation: str, reader: str | None = None) -> TransportError:
    """Build the typed error for a failed PC/SC call (does not raise it).

    ``SCARD_W_RESET_CARD`` maps to :class:`CardResetError` here; :class:`PcscTransport`
    reconnects before raising it.

    :param code: the PC/SC return code.
    :param operation: the PC/SC function that failed (for the message).
    :param reader: the reader name, if any (reader names are not personal data).
    """
    code &= 0xFFFFFFFF
    name = pcsc_code_name(code)
    where = f" on {reader!r}" if reader else ""
    text = f"{operation} failed{where}: {name}"
    err: TransportError
    if code in (SCARD_W_REMOVED_CARD, SCARD_E_NO_SMARTCARD):
        err = CardRemovedError(f"{text} (card removed or not inserted)")
    elif code == SCARD_W_RESET_CARD:
        err = CardResetError(f"{text} (card was reset; all card state is gone)")
    elif code in (SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED):
        err = ReaderUnavailableError(f"{text} (is the PC/SC service pcscd running?)")
    elif code == SCARD_E_READER_UNAVAILABLE:
        err = ReaderUnavailableError(f"{text} (reader unplugged or not working)")
    elif code in (SCARD_E_UNKNOWN_READER, SCARD_E_NO_READERS_AVAILABLE):
        err = NoReaderError(f"{text} (no such reader)")
    elif code == SCARD_E_TIMEOUT:
        err = TransportTimeoutError(text)
    elif code == SCARD_E_SHARING_VIOLATION:
        err = SharingViolationError(f"{text} (another process holds the card)")
    else:
        return PcscError(text, code)
    err.pcsc_code = code
    err.pcsc_name = name
    return err
