"""The card half of the **jukicard protocol**: MUTUAL AUTHENTICATE and its secure channel.

The jukicard protocol is our own (``docs/jukicard-protocol.md``, decisions JP-1..JP-9 in
:mod:`jukicard.card.mutual`); it is NOT 住基ネット's.  An application speaks it when its
profile holds a ``jukicard_protocol_key`` IEF (:class:`~jukicard.emulator.fs.ProtocolKeyIEF`:
``K_enc``, ``K_mac``, ``K_kdf`` and the failed-authentication counter).

======================  ===============================================================
``00 84`` GET CHALLENGE In a protocol application, a 16-byte challenge is also remembered
                        for one MUTUAL AUTHENTICATE (volatile: reset, power, SELECT by DF
                        name drop it) and ends any secure channel.
``00 82`` MUTUAL AUTH.  P1P2 ``00 00``, data ``E.IFD ‖ M.IFD`` (64 bytes) → ``E.ICC ‖
                        M.ICC``; ``63 Cx`` / ``69 83`` / ``69 85`` / ``67 00`` / ``6A 86``
                        / ``6A 88`` (JP-5).  Success opens the secure channel.
CLA ``0C``              :class:`JukicardSecureChannel`: checks the MAC with SSC+1, runs the
                        plain command, protects the answer with SSC+2; ``6987``/``6988``
                        destroy the channel (later protected commands get ``68 82``).
plain command           While the channel is open, any command without SM bits ends it
                        first (JP-10), then runs in plain.
======================  ===============================================================

JP-10 (review): the security status gained under the secure channel (a PIN VERIFYed under
SM) lives and dies with the channel.  The channel ends on a plain command, an SM error, a
new GET CHALLENGE, reset, power or SELECT by DF name / MF; every one of those clears the
PIN status, so a man in the middle cannot let the host VERIFY under SM and then read the
protected data with plain commands.

Uses ``cryptography`` directly with the keys of the profile (the host's keys live in a
PKCS#11 token).  The check order is: blocked, challenge pending, length, MAC, challenge.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable
from typing import ClassVar

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

from jukicard.apdu.command import CommandApdu
from jukicard.apdu.smcodec import SmCodec, kdf_input
from jukicard.apdu.sw import SW
from jukicard.emulator.fs import DedicatedFile, ProtocolKeyIEF
from jukicard.emulator.securitycmds import SecurityCommands
from jukicard.emulator.state import Handler, SwError, tries_sw
from jukicard.errors import JukicardSecureMessagingError, MalformedApduError

__all__ = ["MutualAuthCommands", "JukicardSecureChannel", "PendingChallenge"]

log = logging.getLogger("jukicard.emulator.cardos")

_CHALLENGE_LEN = 16
_ZERO_IV = bytes(16)


def _cmac(key: bytes, data: bytes) -> bytes:
    c = CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def _cbc(key: bytes, data: bytes, *, encrypt: bool, iv: bytes = _ZERO_IV) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    op = cipher.encryptor() if encrypt else cipher.decryptor()
    return op.update(data) + op.finalize()


class _CardAes:
    """The card's :class:`~jukicard.apdu.smcodec.SmCrypto` (session keys in card RAM)."""

    def __init__(self, enc: bytes, mac: bytes) -> None:
        self._enc, self._mac = enc, mac

    def __repr__(self) -> str:
        return "_CardAes(<session keys hidden>)"

    def _iv(self, block: bytes) -> bytes:
        ecb = Cipher(algorithms.AES(self._enc), modes.ECB()).encryptor()
        return ecb.update(block) + ecb.finalize()

    def encrypt(self, iv_block: bytes, padded: bytes) -> bytes:
        return _cbc(self._enc, padded, encrypt=True, iv=self._iv(iv_block))

    def decrypt(self, iv_block: bytes, ciphertext: bytes) -> bytes:
        return _cbc(self._enc, ciphertext, encrypt=False, iv=self._iv(iv_block))

    def cmac(self, data: bytes) -> bytes:
        return _cmac(self._mac, data)

    def same(self, a: bytes, b: bytes) -> bool:
        return hmac.compare_digest(a, b)


class PendingChallenge:
    """A challenge waiting for its MUTUAL AUTHENTICATE, kept in the card's volatile secure
    channel slot (so reset, power and SELECT drop it).  Not a session: protected commands
    are answered ``68 82``."""

    def __init__(self, df: DedicatedFile, challenge: bytes) -> None:
        self.df = df
        self.challenge = challenge

    def __repr__(self) -> str:
        return f"PendingChallenge({self.df.name})"

    def process(self, cmd: CommandApdu, run: Handler) -> bytes:
        raise SwError(SW.SECURE_MESSAGING_NOT_SUPPORTED, "no secure-messaging session")


class JukicardSecureChannel:
    """The card's secure channel after a successful mutual authentication (JP-7).

    :param cipher: the session keys.  :param on_break: called once when an SM error
        destroys the channel (the card then answers protected commands ``68 82``).
    """

    def __init__(self, cipher: SmCodec, on_break: Callable[[JukicardSecureChannel], None]) -> None:
        self._cipher = cipher
        self._on_break = on_break
        self.ssc = 0

    def __repr__(self) -> str:
        return f"JukicardSecureChannel(ssc={self.ssc})"

    def process(self, cmd: CommandApdu, run: Handler) -> bytes:
        """Unwrap *cmd*, run it through *run*, protect the answer (see module doc)."""
        if cmd.cla != 0x0C:
            self._on_break(self)
            raise SwError(SW.SM_DATA_OBJECTS_INCORRECT, "only CLA 0C is protected")
        try:
            data, le = self._cipher.open_command(self.ssc + 1, cmd.header, cmd.data)
        except JukicardSecureMessagingError as exc:
            self._on_break(self)
            raise SwError(exc.sw, "protected command refused; secure channel destroyed") from None
        self.ssc += 1
        try:
            plain = CommandApdu(0x00, cmd.ins, cmd.p1, cmd.p2, data, le)
            out, sw = run(plain), int(SW.SUCCESS)
        except MalformedApduError:
            out, sw = b"", int(SW.WRONG_LENGTH)
        except SwError as exc:
            out, sw = exc.data, exc.sw
        self.ssc += 1
        wrapped = self._cipher.protect_response(self.ssc, out, sw)
        if sw != SW.SUCCESS:
            raise SwError(sw, "application error under secure messaging", data=wrapped)
        return wrapped


class MutualAuthCommands(SecurityCommands):
    """MUTUAL AUTHENTICATE of the jukicard protocol, and GET CHALLENGE remembering the
    challenge in a protocol application."""

    COMMANDS: ClassVar[dict[tuple[int, int], str]] = {
        (0x00, 0x82): "_mutual_authenticate",
    }

    def _protocol_key(self) -> ProtocolKeyIEF | None:
        df = self._df
        if df is None:
            return None
        return next((f for f in df.files.values() if isinstance(f, ProtocolKeyIEF)), None)

    def _card_random(self, n: int) -> bytes:
        return self._rng.randbytes(n) if self._rng is not None else secrets.token_bytes(n)

    def _get_challenge(self, cmd: CommandApdu) -> bytes:
        challenge = super()._get_challenge(cmd)
        if self._df is not None and self._protocol_key() is not None:
            # a new challenge ends any jukicard secure channel and is the one MUTUAL
            # AUTHENTICATE may use (only a 16-byte one can be)
            self._end_protocol_channel()
            self.secure_channel = (PendingChallenge(self._df, challenge)
                                   if len(challenge) == _CHALLENGE_LEN else None)
        return challenge

    def _mutual_authenticate(self, cmd: CommandApdu) -> bytes:
        if cmd.p1 or cmd.p2:
            raise SwError(SW.INCORRECT_P1P2)
        key = self._protocol_key()
        if key is None:
            raise SwError(SW.REFERENCED_DATA_NOT_FOUND, "no jukicard protocol key here")
        if key.blocked:
            raise SwError(SW.AUTH_METHOD_BLOCKED, "jukicard protocol key blocked")
        pending = self.secure_channel
        self.secure_channel = None  # the challenge is used up, whatever happens next
        if not isinstance(pending, PendingChallenge) or pending.df is not self._df:
            raise SwError(SW.CONDITIONS_NOT_SATISFIED, "no challenge pending")
        if len(cmd.data) != 64:
            raise SwError(SW.WRONG_LENGTH)
        spec = key.spec
        e_ifd, m_ifd = cmd.data[:48], cmd.data[48:]
        plain = _cbc(spec.enc_key, e_ifd, encrypt=False)
        if not (hmac.compare_digest(_cmac(spec.mac_key, e_ifd), m_ifd)
                and hmac.compare_digest(plain[16:32], pending.challenge)):
            left = key.failed()
            log.debug("jukicard protocol: terminal cryptogram rejected, %d tries left", left)
            raise SwError(tries_sw(left), "terminal cryptogram rejected")
        key.succeeded()
        rnd_ifd, k_ifd = plain[:16], plain[32:48]
        k_icc = self._card_random(16)
        e_icc = _cbc(spec.enc_key, pending.challenge + rnd_ifd + k_icc, encrypt=True)
        context = pending.challenge + rnd_ifd + bytes(a ^ b for a, b in zip(k_ifd, k_icc,
                                                                            strict=True))
        cipher = SmCodec(_CardAes(_cmac(spec.kdf_key, kdf_input(1, context)),
                                  _cmac(spec.kdf_key, kdf_input(2, context))))
        self.secure_channel = JukicardSecureChannel(cipher, self._break_channel)
        log.debug("jukicard protocol: mutual authentication succeeded")
        return e_icc + _cmac(spec.mac_key, e_icc)

    def _break_channel(self, channel: JukicardSecureChannel) -> None:
        if self.secure_channel is channel:
            self._end_protocol_channel()

    def _end_protocol_channel(self) -> None:
        """End an open jukicard secure channel and the security status gained under it
        (JP-10); nothing else is touched."""
        if isinstance(self.secure_channel, JukicardSecureChannel):
            self.secure_channel = None
            self._verified.clear()

    def _plain_command(self) -> None:
        """Called by the dispatcher before every command without SM bits: a plain command
        ends an open jukicard secure channel (JP-10)."""
        self._end_protocol_channel()
