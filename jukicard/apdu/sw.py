"""Status words: names, descriptions, and the generic SW → error fallback.

The table names the ISO/IEC 7816-4 (JIS X 6320-4) status words the My Number / Juki cards
and their clients use.  It can *name* a status word but it cannot *interpret* it: only the
session that sent the command knows that ``6A82`` after SELECT by AID means "this is not a
My Number card" (:class:`~jukicard.errors.ApplicationNotFound`) while after SELECT EF it
means a missing file.  Sessions translate the status words they understand and call
:func:`check` / :func:`error_for` for the rest; this module is the fallback.

Families (``61xx``, ``6Cxx``, ``63Cx``) are named by their base value (``SW.BYTES_REMAINING``
= ``0x6100``...) and recognised with :func:`is_bytes_remaining`, :func:`is_wrong_le` and
:func:`pin_retries`.
"""

from __future__ import annotations

import enum
from collections.abc import Collection

from jukicard.apdu.command import ResponseApdu
from jukicard.errors import (
    CardError,
    FileNotFoundOnCard,
    PinBlockedError,
    PinError,
    SecurityStatusError,
    tries_left_text,
)

__all__ = [
    "SW",
    "describe",
    "check",
    "error_for",
    "is_bytes_remaining",
    "is_wrong_le",
    "pin_retries",
]


class SW(enum.IntEnum):
    """Common ISO/IEC 7816-4 / JIS X 6320-4 status words.

    Family members (``BYTES_REMAINING``, ``WRONG_LE_EXACT``, ``VERIFY_FAILED_RETRIES``)
    carry the low byte as ``00`` / low nibble as ``0``; use the helper functions to match
    a concrete word against a family.
    """

    SUCCESS = 0x9000
    # 61xx: process completed, SW2 more bytes available with GET RESPONSE (00 = 256)
    BYTES_REMAINING = 0x6100
    # 62xx: warnings, non-volatile memory unchanged
    WARNING_NO_INFO = 0x6200
    DATA_CORRUPTED = 0x6281
    END_OF_FILE = 0x6282  # end of file/record reached before reading Ne bytes
    FILE_DEACTIVATED = 0x6283
    # 63xx: warnings, non-volatile memory changed
    WARNING_NVM_CHANGED = 0x6300
    FILE_FILLED = 0x6381
    VERIFY_FAILED_RETRIES = 0x63C0  # 63Cx: x = tries left
    # 64xx / 65xx: execution errors
    EXECUTION_ERROR = 0x6400
    MEMORY_FAILURE = 0x6581
    # 67xx / 68xx: checking errors
    WRONG_LENGTH = 0x6700
    LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881
    SECURE_MESSAGING_NOT_SUPPORTED = 0x6882
    LAST_COMMAND_OF_CHAIN_EXPECTED = 0x6883
    CHAINING_NOT_SUPPORTED = 0x6884
    # 69xx: command not allowed
    COMMAND_NOT_ALLOWED = 0x6900
    COMMAND_INCOMPATIBLE_WITH_FILE = 0x6981
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983
    REFERENCE_DATA_NOT_USABLE = 0x6984  # JIS X 6320: 参照されたIEFが閉塞
    CONDITIONS_NOT_SATISFIED = 0x6985
    COMMAND_NOT_ALLOWED_NO_EF = 0x6986
    SM_DATA_OBJECTS_MISSING = 0x6987
    SM_DATA_OBJECTS_INCORRECT = 0x6988
    # 6Axx: wrong parameters
    WRONG_DATA = 0x6A80
    FUNCTION_NOT_SUPPORTED = 0x6A81
    FILE_NOT_FOUND = 0x6A82
    RECORD_NOT_FOUND = 0x6A83
    NOT_ENOUGH_MEMORY = 0x6A84
    LC_INCONSISTENT_WITH_TLV = 0x6A85
    INCORRECT_P1P2 = 0x6A86
    LC_INCONSISTENT_WITH_P1P2 = 0x6A87
    REFERENCED_DATA_NOT_FOUND = 0x6A88
    FILE_ALREADY_EXISTS = 0x6A89
    DF_NAME_ALREADY_EXISTS = 0x6A8A
    WRONG_P1P2 = 0x6B00  # READ BINARY: offset outside the EF
    # 6Cxx: wrong Le, SW2 = exact length (00 = 256)
    WRONG_LE_EXACT = 0x6C00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    NO_PRECISE_DIAGNOSIS = 0x6F00
    # issue 11 part A (text-AP secure messaging, card-security.md §1)
    #: the AP has no session-key function (共通カードAP, 券面事項確認AP on SET SESSION KEY)
    SESSION_KEY_NOT_SUPPORTED = 0x66F1
    #: the secure-messaging session was destroyed (after 6988)
    SM_SESSION_DESTROYED = 0x69FC


_DESCRIPTIONS: dict[int, str] = {
    SW.SUCCESS: "success",
    SW.WARNING_NO_INFO: "warning, no information given (memory unchanged)",
    SW.DATA_CORRUPTED: "part of returned data may be corrupted",
    SW.END_OF_FILE: "end of file or record reached before reading Le bytes",
    SW.FILE_DEACTIVATED: "selected file deactivated",
    SW.WARNING_NVM_CHANGED: "warning, no information given (memory changed)",
    SW.FILE_FILLED: "file filled up by the last write",
    SW.EXECUTION_ERROR: "execution error (memory unchanged)",
    SW.MEMORY_FAILURE: "memory failure",
    SW.WRONG_LENGTH: "wrong length",
    SW.LOGICAL_CHANNEL_NOT_SUPPORTED: "logical channel not supported",
    SW.SECURE_MESSAGING_NOT_SUPPORTED: "secure messaging not supported",
    SW.LAST_COMMAND_OF_CHAIN_EXPECTED: "last command of the chain expected",
    SW.CHAINING_NOT_SUPPORTED: "command chaining not supported",
    SW.COMMAND_NOT_ALLOWED: "command not allowed, no information given",
    SW.COMMAND_INCOMPATIBLE_WITH_FILE: "command incompatible with file structure",
    SW.SECURITY_STATUS_NOT_SATISFIED: "security status not satisfied",
    SW.AUTH_METHOD_BLOCKED: "authentication method blocked",
    SW.REFERENCE_DATA_NOT_USABLE: "reference data not usable (referenced IEF blocked)",
    SW.CONDITIONS_NOT_SATISFIED: "conditions of use not satisfied",
    SW.COMMAND_NOT_ALLOWED_NO_EF: "command not allowed (no current EF)",
    SW.SM_DATA_OBJECTS_MISSING: "expected secure messaging data objects missing",
    SW.SM_DATA_OBJECTS_INCORRECT: "incorrect secure messaging data objects",
    SW.WRONG_DATA: "incorrect parameters in the command data field",
    SW.FUNCTION_NOT_SUPPORTED: "function not supported",
    SW.FILE_NOT_FOUND: "file or application not found",
    SW.RECORD_NOT_FOUND: "record not found",
    SW.NOT_ENOUGH_MEMORY: "not enough memory space in the file",
    SW.LC_INCONSISTENT_WITH_TLV: "Lc inconsistent with TLV structure",
    SW.INCORRECT_P1P2: "incorrect parameters P1-P2",
    SW.LC_INCONSISTENT_WITH_P1P2: "Lc inconsistent with P1-P2",
    SW.REFERENCED_DATA_NOT_FOUND: "referenced data or reference data not found",
    SW.FILE_ALREADY_EXISTS: "file already exists",
    SW.DF_NAME_ALREADY_EXISTS: "DF name already exists",
    SW.WRONG_P1P2: "wrong parameters P1-P2 (offset outside the EF)",
    SW.SESSION_KEY_NOT_SUPPORTED: "no session-key function in this application",
    SW.SM_SESSION_DESTROYED: "secure-messaging session destroyed",
    SW.INS_NOT_SUPPORTED: "instruction not supported",
    SW.CLA_NOT_SUPPORTED: "class not supported",
    SW.NO_PRECISE_DIAGNOSIS: "no precise diagnosis",
}


def is_bytes_remaining(sw: int) -> bool:
    """True for ``61xx`` (more response bytes available with GET RESPONSE)."""
    return sw >> 8 == 0x61


def is_wrong_le(sw: int) -> bool:
    """True for ``6Cxx`` (wrong Le; SW2 is the exact length, ``00`` = 256)."""
    return sw >> 8 == 0x6C


def pin_retries(sw: int) -> int | None:
    """The tries-left counter of a ``63Cx`` status word, or ``None`` for any other word."""
    if sw & 0xFFF0 == 0x63C0:
        return sw & 0x0F
    return None


def describe(sw: int) -> str:
    """A short English description of a status word (for logs and error messages).

    Never raises: unknown words get a description built from their ISO 7816-4 group.

    :param sw: the 16-bit status word.
    """
    if not isinstance(sw, int) or not 0 <= sw <= 0xFFFF:
        return f"invalid status word {sw!r}"
    known = _DESCRIPTIONS.get(sw)
    if known is not None:
        return known
    sw1, sw2 = sw >> 8, sw & 0xFF
    if sw1 == 0x61:
        return f"{sw2 or 256} more response bytes available"
    if sw1 == 0x6C:
        return f"wrong Le, exact length is {sw2 or 256}"
    retries = pin_retries(sw)
    if retries is not None:
        return f"verification failed, {tries_left_text(retries)}"
    groups = {
        0x62: "warning (memory unchanged)",
        0x63: "warning (memory changed)",
        0x64: "execution error (memory unchanged)",
        0x65: "execution error (memory changed)",
        0x66: "security-related error",
        0x67: "wrong length",
        0x68: "function in CLA not supported",
        0x69: "command not allowed",
        0x6A: "wrong parameters",
    }
    group = groups.get(sw1)
    if group is not None:
        return f"{group}, unknown qualifier {sw2:02X}"
    return "unknown status word"


def error_for(sw: int, data: bytes = b"") -> CardError:
    """The generic typed error for a non-success status word.

    ``63Cx`` → :class:`PinError` with ``retries_left=x`` (``63C0`` → :class:`PinBlockedError`,
    still a ``PinError`` with ``retries_left=0``); ``6983`` / ``6984`` →
    :class:`PinBlockedError`; ``6982`` → :class:`SecurityStatusError`; ``6A82`` →
    :class:`FileNotFoundOnCard`; anything else → :class:`CardError`.

    NOTE: this is the fallback.  ``6A82`` after SELECT by AID means the application is
    missing: the session re-maps it to :class:`~jukicard.errors.ApplicationNotFound`.

    :param sw: the 16-bit status word (``9000`` is not an error; passing it is allowed and
        yields a plain :class:`CardError`, callers should not do it).
    :param data: response data that came with the status word (kept on the error,
        never put in its message).
    """
    data = bytes(data)
    message = f"card returned SW {sw:04X} ({describe(sw)})"
    retries = pin_retries(sw)
    err: CardError
    if retries == 0:
        err = PinBlockedError(sw, f"card returned SW {sw:04X} (PIN now blocked, no tries left)")
    elif retries is not None:
        err = PinError(retries, sw, message)
    elif sw in (SW.AUTH_METHOD_BLOCKED, SW.REFERENCE_DATA_NOT_USABLE):
        err = PinBlockedError(sw, message)
    elif sw == SW.SECURITY_STATUS_NOT_SATISFIED:
        return SecurityStatusError(sw, data, message)
    elif sw == SW.FILE_NOT_FOUND:
        return FileNotFoundOnCard(sw, data, message)
    else:
        return CardError(sw, data, message)
    err.data = data  # PinError's constructor does not take data
    return err


def check(resp: ResponseApdu, accept: Collection[int] = ()) -> bytes:
    """Return the response data if the status word is ``9000``, else raise.

    :param resp: the response to check.
    :param accept: further status words to treat as success (e.g. ``SW.END_OF_FILE``).
    :raises CardError: (or the subclass chosen by :func:`error_for`) for any other word.
    """
    if resp.sw == SW.SUCCESS or resp.sw in accept:
        return resp.data
    raise error_for(resp.sw, resp.data)
