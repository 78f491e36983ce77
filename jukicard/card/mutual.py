"""The **jukicard protocol** ("the system proves itself"), host half: ISO/IEC 9798-2
three-pass mutual authentication with AES-128, NIST SP 800-108 session keys, then ISO/IEC
7816-4 secure messaging (:mod:`jukicard.card.iso_sm`).

The jukicard protocol is OUR OWN, clearly labelled: 住基ネット's card–system protocol is not
public (``card-interface.md`` §13) and this is NOT it, nor compatible with it.  The messages,
inputs and test vectors are in ``docs/jukicard-protocol.md`` (vectors in
``vectors/protocol/``, recomputed by the tests).

The card layer does not import :mod:`jukicard.keys`: the key operations are the small
:class:`KeyOps` protocol, which :class:`jukicard.keys.KeySession` satisfies structurally
(keys are opaque handles; the master and per-card keys never reach Python).
:mod:`jukicard.services.mutual` wires the two.

Decisions (labelled ``JP-n``):

* JP-1 — name and scope: "jukicard protocol v1", for the 住基AP profile and any application
  whose card holds a protocol key (the emulator: a ``jukicard_protocol_key`` IEF in that
  application; the host: ``JukicardProtocolSession(..., application=...)``).
* JP-2 — card identification: the diversification input is the card identification number.
  It is the caller's (e.g. MF GET DATA ``0045``) or, if not given, the application's public
  key-information EF :data:`KEY_INFO_EF` (``E0 { 80 01 <version>, 81 <card id ASCII> }``).
  A card that lies about its id gets a key it does not hold and fails: the id needs no trust.
* JP-3 — per-card keys: ``K_enc``, ``K_mac``, ``K_kdf`` = ``AES-ECB(K_master, D(card id,
  purpose))`` with purposes :data:`PURPOSES` (:func:`jukicard.keys.diversification_data`),
  derived INSIDE the token (``CKM_AES_ECB_ENCRYPT_DATA``) as non-extractable session objects,
  destroyed again when the authentication ends (success or not); one card's keys open no
  other card.
* JP-4 — messages (BAC-shaped, AES, full 16-byte CMACs): ``00 84 00 00 10`` → ``RND.ICC``;
  ``00 82 00 00 40 ‖ E.IFD ‖ M.IFD ‖ 40`` with ``E.IFD = AES-CBC(K_enc, 0, RND.IFD ‖ RND.ICC
  ‖ K.IFD)``, ``M.IFD = CMAC(K_mac, E.IFD)``; the card answers ``E.ICC ‖ M.ICC`` with
  ``E.ICC = AES-CBC(K_enc, 0, RND.ICC ‖ RND.IFD ‖ K.ICC)``.  Every host computation with a
  card key (encrypt, decrypt, CMAC) runs in the token; MACs are compared in constant time.
* JP-5 — card answers: ``63 Cx`` the terminal's cryptogram failed (x tries left, counter
  already decremented), ``69 83`` blocked, ``69 85`` no challenge pending (a challenge is
  volatile, valid for one MUTUAL AUTHENTICATE in the application it was asked in), ``67 00``
  not 64 bytes, ``6A 86`` P1P2 not ``00 00``, ``6A 88`` no protocol key in the application.
  The counter (3 tries in the test profiles) resets to its maximum on success.
* JP-6 — session keys: SP 800-108 KDF in counter mode, PRF = AES-CMAC under ``K_kdf``,
  ``K(i) = CMAC(K_kdf, [i]_8 ‖ Label ‖ 00 ‖ Context ‖ [256]_16)``, ``S_enc = K(1)``,
  ``S_mac = K(2)``, Label ``"jukicard-protocol-v1 session keys"``, Context = ``RND.ICC ‖
  RND.IFD ‖ (K.IFD ⊕ K.ICC)``.  The CMAC PRF runs in the token (SoftHSM2 2.6 has no SP 800-108
  mechanism); the two derived session keys are host bytes for the session's life, because
  every protected APDU needs them and importing them back into the token would put the same
  bytes through Python anyway.  Their loss exposes one session only; the master and
  per-card keys never leave the token.
* JP-7 — secure messaging: :mod:`jukicard.apdu.smcodec` (SSC starts at 0 after every
  authentication: the session keys are fresh, so a counter value never repeats under a key).
* JP-8 — session lifetime: the card drops the channel on reset, power, SELECT by DF name or
  MF, a new GET CHALLENGE in the application, and any SM error.  The host session
  authenticates once; any failure (in the protocol, the SM, the transport) closes it and it
  refuses every later use (:class:`~jukicard.errors.JukicardSessionClosedError`); so does a
  card reset or another application's SELECT seen on the channel.
* JP-9 — randoms ``RND.IFD`` and ``K.IFD`` come from the token's generator (tests inject).
* JP-10 — (review) the card's security status gained under the secure channel (a PIN
  VERIFYed under SM) ends with the channel, and a plain command ends an open channel: a man
  in the middle cannot let the host VERIFY under SM and then read in plain.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar, Generic, Protocol, TypeVar

from jukicard.apdu import sw as _sw
from jukicard.apdu.apps import Application, PinSpec
from jukicard.apdu.apps.juki import JUKI, JukiEf, JukiPin
from jukicard.apdu.command import CommandApdu, ResponseApdu
from jukicard.apdu.smcodec import BLOCK, kdf_input
from jukicard.apdu.tlv import Tlv
from jukicard.card.channel import CardChannel
from jukicard.card.codec import first_tlv
from jukicard.card.iso_sm import SecureMessagingProcessor, SmCipher
from jukicard.card.juki_data import ResidentCode
from jukicard.card.session import ApplicationSession, Ins
from jukicard.errors import (
    BadResponse,
    JukicardProtocolError,
    JukicardSessionClosedError,
    KeyStoreError,
    MutualAuthenticationBlockedError,
    MutualAuthenticationCardError,
    MutualAuthenticationError,
    TlvError,
    UsageError,
)
from jukicard.transport.base import Transport

__all__ = [
    "PROTOCOL_NAME",
    "PROTOCOL_VERSION",
    "KEY_INFO_EF",
    "PURPOSES",
    "KeyOps",
    "KeyInfo",
    "CardKeys",
    "card_keys",
    "host_cryptogram",
    "open_card_cryptogram",
    "kdf_context",
    "derive_session_keys",
    "JukicardProtocolSession",
]

log = logging.getLogger(__name__)

PROTOCOL_NAME = "jukicard protocol v1 (our own; not 住基ネット's)"
PROTOCOL_VERSION = 1
#: The public key-information EF of a protocol application (JP-2).
KEY_INFO_EF = 0x0030
#: Diversification purposes of the three per-card keys (JP-3).
PURPOSES = ("jp1-enc", "jp1-mac", "jp1-kdf")
CHALLENGE_LEN = 16
CRYPTOGRAM_LEN = 64
_ZERO_IV = bytes(BLOCK)
_INS_MUTUAL_AUTH = 0x82
#: plain data per protected READ BINARY: keeps the protected answer a short APDU
SM_CHUNK = 208

K = TypeVar("K")


class KeyOps(Protocol[K]):
    """The key operations the protocol needs, on opaque key handles *K*.

    :class:`jukicard.keys.KeySession` (``K`` = :class:`jukicard.keys.TokenKey`) satisfies it:
    every operation runs inside the PKCS#11 token.
    """

    def diversify(self, master: K, card_id: bytes | str, *, purpose: str = ...,
                  bits: int = ...) -> K:
        """The per-card key of *card_id* for *purpose*, derived from *master*."""
        ...

    def cmac(self, key: K, data: bytes) -> bytes:
        """AES-CMAC (16 bytes)."""
        ...

    def encrypt_cbc(self, key: K, iv: bytes, data: bytes) -> bytes:
        """AES-CBC over whole blocks."""
        ...

    def decrypt_cbc(self, key: K, iv: bytes, data: bytes) -> bytes:
        """AES-CBC decryption of whole blocks."""
        ...

    def random(self, n: int) -> bytes:
        """*n* random bytes."""
        ...

    def destroy(self, key: K) -> None:
        """Forget a per-card key from :meth:`diversify` (in the token: destroy the object)."""
        ...


@dataclass(frozen=True)
class KeyInfo:
    """The key-information EF (JP-2): protocol version and card identification number."""

    version: int
    card_id: str

    @classmethod
    def parse(cls, data: bytes) -> KeyInfo:
        """:raises BadResponse: not ``E0 { 80 01 v, 81 id }`` with an ASCII id of 1-64 bytes."""
        what = "jukicard protocol key-information EF"
        outer, _rest = first_tlv(data, what)
        try:
            inner = {t.tag: t.value for t in Tlv.parse_all(outer.value)}
        except TlvError:
            raise BadResponse(f"{what}: malformed") from None
        version, card_id = inner.get(0x80, b""), inner.get(0x81, b"")
        if outer.tag != 0xE0 or len(version) != 1 or not 1 <= len(card_id) <= 64 \
                or not card_id.isascii():
            raise BadResponse(f"{what}: malformed")
        return cls(version[0], card_id.decode("ascii"))

    def __bytes__(self) -> bytes:
        body = Tlv(0x80, bytes((self.version,))).encode() + \
            Tlv(0x81, self.card_id.encode("ascii")).encode()
        return Tlv(0xE0, body).encode()


@dataclass(frozen=True)
class CardKeys(Generic[K]):
    """The three per-card key handles of one card (JP-3)."""

    card_id: str
    enc: K
    mac: K
    kdf: K


def card_keys(ops: KeyOps[K], master: K, card_id: str) -> CardKeys[K]:
    """Diversify the card's three keys from *master* (in the token).

    :raises UsageError: a bad card id.
    :raises KeyStoreError: (or a subclass) the token failed.
    """
    enc, mac, kdf = (ops.diversify(master, card_id, purpose=p) for p in PURPOSES)
    return CardKeys(card_id, enc, mac, kdf)


@contextmanager
def _card_keys_for(ops: KeyOps[K], master: K, card_id: str) -> Iterator[CardKeys[K]]:
    """:func:`card_keys` for one block, destroyed after it (JP-3: a long-lived key session
    does not collect three token objects per authentication)."""
    keys = card_keys(ops, master, card_id)
    try:
        yield keys
    finally:
        for key in (keys.enc, keys.mac, keys.kdf):
            try:
                ops.destroy(key)
            except KeyStoreError:  # never hides the outcome; the object dies with the session
                log.info("jukicard protocol: a per-card key could not be destroyed")


def host_cryptogram(ops: KeyOps[K], keys: CardKeys[K], rnd_icc: bytes, rnd_ifd: bytes,
                    k_ifd: bytes) -> bytes:
    """``E.IFD ‖ M.IFD`` (64 bytes), the data of MUTUAL AUTHENTICATE (JP-4)."""
    e_ifd = ops.encrypt_cbc(keys.enc, _ZERO_IV, rnd_ifd + rnd_icc + k_ifd)
    return e_ifd + ops.cmac(keys.mac, e_ifd)


def open_card_cryptogram(ops: KeyOps[K], keys: CardKeys[K], answer: bytes, rnd_icc: bytes,
                         rnd_ifd: bytes) -> bytes:
    """Check the card's ``E.ICC ‖ M.ICC`` and return ``K.ICC`` (JP-4).

    :raises MutualAuthenticationCardError: wrong length, wrong MAC (another key: a cloned
        card, another card's key, a tampered answer) or the wrong challenges (a replayed
        answer).
    """
    if len(answer) != CRYPTOGRAM_LEN:
        raise MutualAuthenticationCardError("the card's authentication answer is not 64 bytes")
    e_icc, m_icc = answer[:48], answer[48:]
    if not hmac.compare_digest(ops.cmac(keys.mac, e_icc), m_icc):
        raise MutualAuthenticationCardError(
            "the card did not prove it holds this card's key (wrong MAC): a cloned or "
            "foreign card, or a tampered answer")
    plain = ops.decrypt_cbc(keys.enc, _ZERO_IV, e_icc)
    if not (hmac.compare_digest(plain[:16], rnd_icc) and hmac.compare_digest(plain[16:32],
                                                                             rnd_ifd)):
        raise MutualAuthenticationCardError(
            "the card's answer does not carry this run's challenges (a replayed answer)")
    return plain[32:48]


def kdf_context(rnd_icc: bytes, rnd_ifd: bytes, k_ifd: bytes, k_icc: bytes) -> bytes:
    """``RND.ICC ‖ RND.IFD ‖ (K.IFD ⊕ K.ICC)`` (JP-6)."""
    return rnd_icc + rnd_ifd + bytes(a ^ b for a, b in zip(k_ifd, k_icc, strict=True))


def derive_session_keys(ops: KeyOps[K], keys: CardKeys[K], context: bytes) -> SmCipher:
    """SP 800-108 counter-mode KDF, CMAC PRF under ``K_kdf`` in the token (JP-6)."""
    return SmCipher(ops.cmac(keys.kdf, kdf_input(1, context)),
                    ops.cmac(keys.kdf, kdf_input(2, context)))


def _mutual_auth_error(resp: ResponseApdu) -> JukicardProtocolError:
    """The typed error of a card's refusal of MUTUAL AUTHENTICATE (JP-5)."""
    sw = resp.sw
    tries = _sw.pin_retries(sw)
    if sw == _sw.SW.AUTH_METHOD_BLOCKED or tries == 0:
        return MutualAuthenticationBlockedError(
            "the card's jukicard-protocol key is blocked (too many failed authentications)", sw)
    if tries is not None:
        return MutualAuthenticationError(
            f"the card rejected the terminal's cryptogram (wrong key), {tries} tries left",
            sw, retries_left=tries)
    if sw == _sw.SW.CONDITIONS_NOT_SATISFIED:
        return MutualAuthenticationError(
            "the card had no challenge for this authentication (reset or interleaved)", sw)
    if sw == _sw.SW.REFERENCED_DATA_NOT_FOUND:
        return MutualAuthenticationError(
            "this application has no jukicard-protocol key on this card", sw)
    return MutualAuthenticationError(f"the card refused mutual authentication (SW {sw:04X})", sw)


class JukicardProtocolSession(ApplicationSession[JukiPin]):
    """One jukicard-protocol session on an application (the 住基AP by default): mutual
    authentication once, then commands under secure messaging.

    States: ``new`` → :meth:`authenticate` → ``authenticated`` → :meth:`close` or any failure
    → ``closed``.  A closed session refuses everything (JP-8); open a new one.

    :param channel: / :param extended: see :class:`~jukicard.card.session.ApplicationSession`.
    :param application: the application configured for the protocol (default: 住基AP).
    :raises ApplicationNotFound: the application is not on this card.
    """

    APPLICATION: ClassVar[Application] = JUKI
    PINS: ClassVar[tuple[JukiPin, ...]] = tuple(JukiPin)

    def __init__(self, channel: CardChannel | Transport, *, extended: bool | None = None,
                 application: Application | None = None) -> None:
        self._app = application if application is not None else self.APPLICATION
        self._sm: SecureMessagingProcessor | None = None
        self._state = "new"
        self._card_id = ""
        super().__init__(channel, extended=extended, select=True)

    def __repr__(self) -> str:
        return f"JukicardProtocolSession({self._app.name}, {self._state})"

    @property
    def application(self) -> Application:
        return self._app

    @property
    def state(self) -> str:
        """``"new"``, ``"authenticated"`` or ``"closed"``."""
        if self._state == "authenticated" and not self._channel.selected_by(self._owner):
            self._fail("the card was reset or another application was selected")
        return self._state

    @property
    def card_id(self) -> str:
        """The card identification number the session authenticated with (``""`` before)."""
        return self._card_id

    @property
    def authenticated(self) -> bool:
        return self.state == "authenticated"

    def close(self) -> None:
        """End the session (idempotent): the session keys are dropped."""
        self._fail("closed")

    def _fail(self, why: str) -> None:
        if self._state != "closed":
            log.info("jukicard protocol session on %s closed: %s", self._app.name, why)
        self._state = "closed"
        if self._sm is not None:
            self._sm.close()
        self.forget()

    # ------------------------------------------------------------------ authentication
    def read_key_info(self) -> KeyInfo:
        """Read the key-information EF (plain; before authentication only).

        :raises JukicardSessionClosedError: the session is not new.
        :raises FileNotFoundOnCard: the application holds no protocol key information.
        """
        if self._state != "new":
            raise JukicardSessionClosedError("key information is read before authentication")
        with self._operation():
            self._select_ef(KEY_INFO_EF, "jukicard protocol key-information EF")
            data = self._read_whole("jukicard protocol key-information EF", limit=256)
        return KeyInfo.parse(data)

    def authenticate(self, ops: KeyOps[K], master: K, *, card_id: str | None = None,
                     rng: Callable[[int], bytes] | None = None) -> str:
        """Run the three-pass mutual authentication (JP-4) and open secure messaging.

        :param ops: the key operations (a :class:`jukicard.keys.KeySession`).
        :param master: the master key's handle in *ops*.
        :param card_id: the card identification number; ``None`` reads :meth:`read_key_info`.
        :param rng: source of ``RND.IFD`` and ``K.IFD`` (default: ``ops.random``).
        :returns: the card identification number authenticated (the per-card keys are
            destroyed in the token once the session keys are derived, success or not).
        :raises JukicardSessionClosedError: the session is not new (it authenticates once).
        :raises MutualAuthenticationBlockedError: the card's counter is exhausted.
        :raises MutualAuthenticationError: the card refused the terminal's cryptogram
            (``retries_left``), or (:class:`~jukicard.errors.MutualAuthenticationCardError`)
            the card failed to prove itself.
        :raises KeyStoreError: (or a subclass) the token failed.
        :raises TransportError: (or a subclass) the card went away.
        Every failure closes the session.
        """
        if self._state != "new":
            raise JukicardSessionClosedError("a jukicard protocol session authenticates once")
        try:
            if card_id is None:
                card_id = self.read_key_info().card_id
            draw = ops.random if rng is None else rng
            rnd_ifd, k_ifd = draw(CHALLENGE_LEN), draw(CHALLENGE_LEN)
            if len(rnd_ifd) != CHALLENGE_LEN or len(k_ifd) != CHALLENGE_LEN:
                raise UsageError(f"rng must return {CHALLENGE_LEN} bytes")
            with _card_keys_for(ops, master, card_id) as keys, self._operation(fresh=True):
                resp = self._send(CommandApdu(0x00, Ins.GET_CHALLENGE, le=CHALLENGE_LEN))
                _sw.check(resp)
                rnd_icc = resp.data
                if len(rnd_icc) != CHALLENGE_LEN:
                    raise MutualAuthenticationCardError("the card's challenge is not 16 bytes")
                data = host_cryptogram(ops, keys, rnd_icc, rnd_ifd, k_ifd)
                resp = self._send(CommandApdu(0x00, _INS_MUTUAL_AUTH, 0x00, 0x00, data,
                                              le=CRYPTOGRAM_LEN))
                if not resp.ok:
                    raise _mutual_auth_error(resp)
                k_icc = open_card_cryptogram(ops, keys, resp.data, rnd_icc, rnd_ifd)
                cipher = derive_session_keys(ops, keys, kdf_context(rnd_icc, rnd_ifd, k_ifd,
                                                                    k_icc))
        except BaseException:
            self._fail("authentication failed")
            raise
        self._sm = SecureMessagingProcessor(self._channel, cipher)
        self._card_id = card_id
        self._state = "authenticated"
        log.info("jukicard protocol: mutual authentication with %s succeeded", self._app.name)
        return card_id

    # ------------------------------------------------------------------ protected operations
    def _send(self, cmd: CommandApdu) -> ResponseApdu:
        if self._sm is not None:
            return self._sm.send(cmd)
        return self._channel.send(cmd)

    @contextmanager
    def _protected(self) -> Iterator[None]:
        """One operation under secure messaging: the transaction, the application still
        selected by this session (never re-selected: that would end the channel)."""
        if self.state != "authenticated":
            raise JukicardSessionClosedError(
                "the jukicard protocol session is not authenticated (never, closed, or broken "
                "by a failure, a card reset or another application's SELECT)")
        try:
            with self._channel.operation():
                if not self._channel.selected_by(self._owner):
                    raise JukicardSessionClosedError(
                        "the card was reset or another application was selected")
                yield
        except BaseException:
            self._fail("a protected operation failed")
            raise

    def verify(self, pin: JukiPin, value: str) -> None:
        """VERIFY a PIN of the application under secure messaging (the PIN travels
        encrypted); sent exactly once.

        :raises JukicardSessionClosedError: not authenticated.
        :raises PinFormatError: / :raises PinError: / :raises PinBlockedError: on VERIFY.
        """
        spec = self._pin(pin)
        raw = self._encode_pin(spec, value)
        with self._protected():
            self._verify(spec, raw)

    def _verify(self, pin: PinSpec, value: bytes) -> None:
        """SELECT the PIN IEF and VERIFY once, both protected (no re-select of the
        application: that would end the secure channel)."""
        self._select_ef(pin.ef, pin.label)
        resp = self._send(CommandApdu(0x00, Ins.VERIFY, 0x00, 0x80, value))
        self._translate_pin_sw(pin, resp)
        self._verified.add(pin)

    def read_ef(self, fid: int, *, limit: int = 0x8000) -> bytes:
        """SELECT and read a transparent EF under secure messaging (short APDUs).

        :raises JukicardSessionClosedError: not authenticated.
        :raises FileNotFoundOnCard: / :raises SecurityStatusError: as the card says.
        :raises JukicardSecureMessagingError: a protected exchange failed (session closed).
        """
        with self._protected():
            self._select_ef(fid, f"EF {fid:04X}")
            buf = bytearray()
            while len(buf) < limit:
                chunk = self._read_binary(len(buf), min(SM_CHUNK, limit - len(buf)))
                if not chunk:
                    break
                buf += chunk
                if len(chunk) < SM_CHUNK:
                    break
        return bytes(buf)

    def read_resident_code(self, pin: str | None = None) -> ResidentCode:
        """Read the 住民票コード under secure messaging (住基AP only), after VERIFY of the
        住基 PIN under secure messaging when *pin* is given.

        :raises UsageError: the session is not on the 住基AP.
        """
        if self._app != JUKI:
            raise UsageError("the 住民票コード is on the 住基AP")
        if pin is not None:
            self.verify(JukiPin.PIN, pin)
        return ResidentCode.parse(self.read_ef(JukiEf.RESIDENT_CODE, limit=256))
