"""The host half of the **jukicard protocol**'s secure messaging: a processor that protects
every command it sends (CLA ``0C``) and checks every response (ISO/IEC 7816-4 SM with AES-128,
a send sequence counter, MAC over header and data).

The byte formats are in :mod:`jukicard.apdu.smcodec` (shared with the emulated card); the
protocol and its decisions in :mod:`jukicard.card.mutual` and ``docs/jukicard-protocol.md``.
The jukicard protocol is our own: it is NOT 住基ネット's.

Decision SM-JP (fail closed): any failure while a protected command is out — a wrong MAC or
status object, ``6987``/``6988`` from the card, a transport error, a counter the card does
not share — closes the processor for good (the card destroys its half on the same errors).
A closed processor refuses every command with
:class:`~jukicard.errors.JukicardSessionClosedError`; a new mutual authentication is needed.
"""

from __future__ import annotations

import hmac
import logging

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from jukicard.apdu.command import CommandApdu, ResponseApdu
from jukicard.apdu.processor import Processor
from jukicard.apdu.smcodec import BLOCK, SM_INCORRECT, SM_MISSING, SmCodec
from jukicard.errors import (
    JukicardSecureMessagingError,
    JukicardSessionClosedError,
    UsageError,
)

__all__ = ["SM_CLA", "SM_OVERHEAD", "SmCipher", "SecureMessagingProcessor"]

log = logging.getLogger(__name__)

#: CLA of a protected command: secure messaging with the header authenticated.
SM_CLA = 0x0C
#: Bytes a protected response adds at most to the plain data (padding block, ``87 82 xx xx
#: 01``, ``99 02 SW``, ``8E 08 MAC``).
SM_OVERHEAD = 16 + 5 + 4 + 10


class _AesSm:
    """:class:`~jukicard.apdu.smcodec.SmCrypto` with ``cryptography`` (host side)."""

    def __init__(self, enc: bytes, mac: bytes) -> None:
        if len(enc) != BLOCK or len(mac) != BLOCK:
            raise JukicardSecureMessagingError("session keys are 16 bytes each")
        self._enc = algorithms.AES(bytes(enc))
        self._mac = algorithms.AES(bytes(mac))

    def __repr__(self) -> str:
        return "_AesSm(<session keys hidden>)"

    def _cbc(self, iv_block: bytes) -> Cipher[modes.CBC]:
        ecb = Cipher(self._enc, modes.ECB()).encryptor()
        return Cipher(self._enc, modes.CBC(ecb.update(iv_block) + ecb.finalize()))

    def encrypt(self, iv_block: bytes, padded: bytes) -> bytes:
        op = self._cbc(iv_block).encryptor()
        return op.update(padded) + op.finalize()

    def decrypt(self, iv_block: bytes, ciphertext: bytes) -> bytes:
        op = self._cbc(iv_block).decryptor()
        return op.update(ciphertext) + op.finalize()

    def cmac(self, data: bytes) -> bytes:
        c = CMAC(self._mac)
        c.update(data)
        return c.finalize()

    def same(self, a: bytes, b: bytes) -> bool:
        return hmac.compare_digest(a, b)


class SmCipher(SmCodec):
    """The host's secure-messaging codec over session keys *enc*, *mac* (16 bytes each).

    :raises JukicardSecureMessagingError: a key is not 16 bytes.
    """

    def __init__(self, enc: bytes, mac: bytes) -> None:
        super().__init__(_AesSm(enc, mac))


class SecureMessagingProcessor:
    """Protect commands and check responses over *inner* with *cipher*'s session keys.

    :param inner: where protected commands go (the card channel).
    :param cipher: the session keys (:class:`~jukicard.apdu.smcodec.SmCipher`).
    :param ssc: the send sequence counter's start value (0 after mutual authentication).
    """

    def __init__(self, inner: Processor, cipher: SmCipher, *, ssc: int = 0) -> None:
        self._inner = inner
        self._cipher: SmCipher | None = cipher
        self._ssc = ssc

    def __repr__(self) -> str:
        return f"SecureMessagingProcessor({'open' if self.is_open else 'closed'})"

    @property
    def is_open(self) -> bool:
        """False once closed or broken."""
        return self._cipher is not None

    @property
    def ssc(self) -> int:
        """The send sequence counter (the value of the last response)."""
        return self._ssc

    def close(self) -> None:
        """Forget the session keys (idempotent).  Python cannot wipe the key bytes; they are
        dropped here and nothing else holds them."""
        self._cipher = None

    def send(self, cmd: CommandApdu) -> ResponseApdu:
        """Send *cmd* (CLA ``00``) protected and return the checked, decrypted response.

        :raises JukicardSessionClosedError: the processor is closed.
        :raises UsageError: *cmd* is not an inter-industry CLA ``00`` command.
        :raises JukicardSecureMessagingError: the card refused the protected command
            (``6987``/``6988``, or no session ``6882``) or its response failed a check;
            the processor is closed.
        :raises TransportError: (or a subclass) the card went away; the processor is closed.
        """
        cipher = self._cipher
        if cipher is None:
            raise JukicardSessionClosedError("the secure channel is closed: authenticate again")
        if cmd.cla != 0x00:
            raise UsageError("only CLA 00 commands are sent under the jukicard protocol's SM")
        ok = False
        try:
            ssc = self._ssc + 1
            header = bytes((SM_CLA, cmd.ins, cmd.p1, cmd.p2))
            field = cipher.protect_command(ssc, header, cmd.data, cmd.le)
            want = 256 if cmd.le is None else cmd.le + SM_OVERHEAD
            wrapped = CommandApdu(SM_CLA, cmd.ins, cmd.p1, cmd.p2, field,
                                  le=256 if want <= 256 else 65536)
            resp = self._inner.send(wrapped)
            self._ssc = ssc + 1
            if not resp.data and resp.sw in (SM_MISSING, SM_INCORRECT, 0x6882):
                raise JukicardSecureMessagingError(
                    f"the card refused the protected command (SW {resp.sw:04X}); its secure "
                    "channel is gone", resp.sw)
            try:
                data = cipher.open_response(self._ssc, resp.data, resp.sw)
            except JukicardSecureMessagingError as exc:
                raise JukicardSecureMessagingError(str(exc), resp.sw) from None
            ok = True
            return ResponseApdu(data, resp.sw)
        finally:
            if not ok:
                log.info("jukicard protocol: secure channel closed after a failure")
                self.close()
