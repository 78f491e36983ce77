"""Secure messaging of the emulated 券面事項入力補助AP (text AP): the card half.

======================  ===============================================================
``80 AE 00 00`` SET     Lc = the RSA cryptogram (extended).  Text AP only: the session-key
SESSION KEY             IEF's access condition (the 4-digit PIN) is checked BEFORE
                        anything is decrypted (``6982``); a cryptogram >= the modulus
                        ``6F00``; an OAEP failure or any delivery but ``A0 { 80 20 }``
                        ``6A80``.  共通カードAP / 券面事項確認AP ``66F1``; other APs
                        (JPKI, 住基) ``6982``.
CLA ``08``              one data object: ``86 L 01 ‖ E(data)`` (VERIFY, SELECT...) or
                        ``96 03 00 Le`` (READ BINARY); the answer ``86 L 01 ‖ E(data)``.
======================  ===============================================================

The rules (``card-security.md`` §1, measured on cards):

* the counter N: 1 for the first SM command after SET SESSION KEY, +1 for every SM command
  the card receives in the session — also when the application then rejects it (``6984``,
  ``6982``...); plain commands do not advance it;
* a command the card cannot unwrap — the wrong tag for the command, a second data object
  (even a copy), a padding indicator other than ``01``, padding that does not strip (the
  symptom of a wrong N) — gets ``6988`` and destroys the session; every later SM command
  gets ``69FC`` (until a reset or a SELECT by DF name removes the session);
* CLA ``0C`` (integrity) gets ``6987``: there is no CCS key.  Another SM CLA gets ``6882``.

Emulator decisions (labelled, revisit against a card):

* SM-E1 — the private half of EF ``0006`` lives in a key IEF of the profile,
  :data:`SESSION_KEY_IEF` (``0016``: the real card's reference is not public); its
  access condition is the one SET SESSION KEY checks.
* SM-E2 — a ``6987`` (CLA ``0C``) and a ``6882`` neither advance N nor destroy the
  session; application errors are answered with the plain status word and no data.
* SM-E3 — a READ BINARY Le of 0 means the whole file from the offset (the reference:
  "0 = whole file, filler included").
* SM-E4 — an SM CLA with no session open (:func:`no_session_error`), on every application
  and at the MF alike: READ BINARY and VERIFY under CLA ``08``/``0C`` get ``69FC``, anything
  else (SELECT first) ``6882``.  The reference measured JPKI ``08`` READ → ``69FC``; the
  older README gives SELECT → ``6882`` and READ/VERIFY under ``08``/``0C`` → ``69FC``
  without naming an application, and no application is reported to answer otherwise.

NOTE: the seed and the session key are never logged; the channel's repr shows the counter
only.
"""

from __future__ import annotations

import logging
from typing import ClassVar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from jukicard.apdu.apps import App
from jukicard.apdu.apps.text import (
    SM_CLA,
    SM_CLA_WITH_INTEGRITY,
    SM_KEY_LEN,
    SM_PADDING_INDICATOR,
    SM_SEED_LEN,
    TAG_ENCRYPTION_KEY,
    TAG_KEY_DELIVERY,
    TAG_SM_CRYPTOGRAM,
    TAG_SM_LE,
)
from jukicard.apdu.command import EXTENDED_MAX_LE, CommandApdu
from jukicard.apdu.smcodec import BLOCK, pad, strip_padding
from jukicard.apdu.sw import SW
from jukicard.apdu.tlv import Tlv
from jukicard.emulator.fs import KeyIEF
from jukicard.emulator.state import CardState, Handler, SwError
from jukicard.errors import TlvError

__all__ = ["SESSION_KEY_IEF", "TextSmCommands", "TextSecureChannel", "no_session_error"]

log = logging.getLogger("jukicard.emulator.cardos")

#: The key IEF holding the private half of EF ``0006`` (SM-E1; emulator only).
SESSION_KEY_IEF = 0x0016
#: Applications answering SET SESSION KEY with ``66F1`` (the others: ``6982``).
_NO_SESSION_KEY_FUNCTION = frozenset({App.COMMON.aid, App.VISUAL.aid})
_READ_BINARY = 0xB0
_VERIFY = 0x20


def no_session_error(cmd: CommandApdu) -> SwError:
    """The answer to a command with SM bits in its CLA when no session is open (SM-E4):
    ``69FC`` for READ BINARY / VERIFY under CLA ``08`` or ``0C``, ``6882`` otherwise."""
    if cmd.cla in (SM_CLA, SM_CLA_WITH_INTEGRITY) and cmd.ins in (_READ_BINARY, _VERIFY):
        return SwError(SW.SM_SESSION_DESTROYED, "no secure-messaging session")
    return SwError(SW.SECURE_MESSAGING_NOT_SUPPORTED, "no secure-messaging session")


def _aes_cbc(key: bytes, counter: int, data: bytes, *, decrypt: bool) -> bytes:
    """AES-128-CBC, IV = AES-128(key, counter as 16 big-endian bytes), no padding."""
    ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - the IV block
    iv = ecb.update(counter.to_bytes(BLOCK, "big")) + ecb.finalize()
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    op = cipher.decryptor() if decrypt else cipher.encryptor()
    return op.update(data) + op.finalize()


class TextSecureChannel:
    """The card half of one session (a :class:`~jukicard.emulator.state.SecureChannel`).

    :param key: the 16-byte AES session key.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        #: N of the last SM command received (0: none yet)
        self.counter = 0
        #: True once a command failed to unwrap: every SM command then gets ``69FC``
        self.destroyed = False

    def __repr__(self) -> str:
        return f"TextSecureChannel(counter={self.counter}, destroyed={self.destroyed})"

    def process(self, cmd: CommandApdu, run: Handler) -> bytes:
        """Unwrap ``cmd``, run the plain command, wrap its answer (see module doc)."""
        if self.destroyed:
            raise SwError(SW.SM_SESSION_DESTROYED, "SM session destroyed")
        if cmd.cla == SM_CLA_WITH_INTEGRITY:
            raise SwError(SW.SM_DATA_OBJECTS_MISSING, "no CCS key: integrity not available")
        if cmd.cla != SM_CLA:
            raise SwError(SW.SECURE_MESSAGING_NOT_SUPPORTED, "SM CLA other than 08")
        self.counter += 1
        n = self.counter
        plain = self._unwrap(cmd, n)
        data = run(plain)  # an SwError passes through: N has advanced all the same
        if not data:
            return b""
        value = bytes((SM_PADDING_INDICATOR,)) + _aes_cbc(self._key, n, pad(data),
                                                          decrypt=False)
        return Tlv(TAG_SM_CRYPTOGRAM, value).encode()

    def _destroy(self, reason: str) -> SwError:
        self.destroyed = True
        return SwError(SW.SM_DATA_OBJECTS_INCORRECT, f"SM session destroyed: {reason}")

    def _unwrap(self, cmd: CommandApdu, n: int) -> CommandApdu:
        try:
            objects = Tlv.parse_all(cmd.data)
        except TlvError:
            raise self._destroy("malformed data objects") from None
        if len(objects) != 1:
            raise self._destroy("not exactly one data object")
        obj = objects[0]
        want = TAG_SM_LE if cmd.ins == _READ_BINARY else TAG_SM_CRYPTOGRAM
        if obj.tag != want:
            raise self._destroy("wrong data object for the command")
        if want == TAG_SM_LE:
            if len(obj.value) != 3 or obj.value[0] != 0x00:
                raise self._destroy("malformed Le object")
            le = int.from_bytes(obj.value[1:], "big") or EXTENDED_MAX_LE
            return CommandApdu(0x00, cmd.ins, cmd.p1, cmd.p2, le=le)
        value = obj.value
        ct = value[1:]
        if value[:1] != bytes((SM_PADDING_INDICATOR,)) or not ct or len(ct) % BLOCK:
            raise self._destroy("bad padding indicator or cryptogram length")
        body = strip_padding(_aes_cbc(self._key, n, ct, decrypt=True))
        if body is None:
            raise self._destroy("padding does not strip (wrong counter?)")
        return CommandApdu(0x00, cmd.ins, cmd.p1, cmd.p2, body)


class TextSmCommands(CardState):
    """SET SESSION KEY (``80 AE``); the session it opens is a :class:`TextSecureChannel`."""

    COMMANDS: ClassVar[dict[tuple[int, int], str]] = {
        (0x80, 0xAE): "_set_session_key",
    }

    def _set_session_key(self, cmd: CommandApdu) -> bytes:
        if cmd.p1 or cmd.p2:
            raise SwError(SW.INCORRECT_P1P2)
        df = self._df
        ef = df.get(SESSION_KEY_IEF) if df is not None else None
        if not isinstance(ef, KeyIEF):
            if df is not None and df.aid in _NO_SESSION_KEY_FUNCTION:
                raise SwError(SW.SESSION_KEY_NOT_SUPPORTED, "no session-key function")
            raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED, "no session key here")
        if not ef.use.satisfied_by(self._verified):  # before anything is decrypted
            raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED, "PIN not verified")
        self.secure_channel = None  # a new SET SESSION KEY replaces any session
        key = ef.spec.key
        if not cmd.data or int.from_bytes(cmd.data, "big") >= key.public_key().public_numbers().n:
            raise SwError(SW.NO_PRECISE_DIAGNOSIS, "cryptogram not below the modulus")
        try:
            delivery = key.decrypt(cmd.data, padding.OAEP(
                mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(),
                label=None))
        except ValueError:
            raise SwError(SW.WRONG_DATA, "OAEP decryption failed") from None
        head = bytes((TAG_KEY_DELIVERY, 2 + SM_SEED_LEN, TAG_ENCRYPTION_KEY, SM_SEED_LEN))
        if len(delivery) != len(head) + SM_SEED_LEN or not delivery.startswith(head):
            raise SwError(SW.WRONG_DATA, "not the encryption-key delivery form")
        self.secure_channel = TextSecureChannel(delivery[len(head):len(head) + SM_KEY_LEN])
        log.debug("SM session opened")
        return b""
