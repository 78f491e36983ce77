"""jukicard.apdu: the pure APDU layer (no I/O).

Command/response APDUs (ISO/IEC 7816-4 cases 1-4, short and extended), status words and
their generic error mapping, BER-TLV, and the processor stack that hides transport quirks
(61xx, 6Cxx, command chaining, extended-length fallback).  Imports only
:mod:`jukicard.errors`.

:mod:`jukicard.apdu.apps` holds the facts of every card application (AIDs, EF ids, PINs,
keys, certificates, public EFs), low enough for the tracer, the emulator and the sessions.
"""

from __future__ import annotations

from jukicard.apdu.command import (
    EXTENDED_MAX_LC,
    EXTENDED_MAX_LE,
    SHORT_MAX_LC,
    SHORT_MAX_LE,
    ApduCase,
    CommandApdu,
    ResponseApdu,
)
from jukicard.apdu.processor import Processor, Transmit, TransmitProcessor
from jukicard.apdu.processors import (
    PIN_INS,
    CommandChainingProcessor,
    ExtendedLengthFallbackProcessor,
    GetResponseProcessor,
    WrongLengthReissueProcessor,
    build_stack,
    is_pin_command,
    is_secure_messaging,
    never_resent,
)
from jukicard.apdu.sw import (
    SW,
    check,
    describe,
    error_for,
    is_bytes_remaining,
    is_wrong_le,
    pin_retries,
)
from jukicard.apdu.tlv import Tlv, decode_length, decode_tag, encode_length, encode_tag

__all__ = [
    "ApduCase",
    "CommandApdu",
    "ResponseApdu",
    "SHORT_MAX_LC",
    "SHORT_MAX_LE",
    "EXTENDED_MAX_LC",
    "EXTENDED_MAX_LE",
    "Processor",
    "Transmit",
    "TransmitProcessor",
    "PIN_INS",
    "is_pin_command",
    "is_secure_messaging",
    "never_resent",
    "GetResponseProcessor",
    "WrongLengthReissueProcessor",
    "CommandChainingProcessor",
    "ExtendedLengthFallbackProcessor",
    "build_stack",
    "SW",
    "check",
    "describe",
    "error_for",
    "is_bytes_remaining",
    "is_wrong_le",
    "pin_retries",
    "Tlv",
    "decode_tag",
    "decode_length",
    "encode_tag",
    "encode_length",
]
