"""Secure messaging on the 券面事項入力補助AP (text AP), host half.

The real card's mechanism (``card-security.md`` §1, measured on cards by soltia48/myna-card):

* **Key delivery.**  With the 4-digit PIN verified *in plaintext*, the host reads the
  session-key encryption key (EF ``0006``, ``A1 { 90 e, 91 n }``), draws a fresh 32-byte
  seed and sends ``80 AE 00 00`` (SET SESSION KEY, extended Lc) with the RSAES-OAEP-SHA256
  cryptogram of ``A0 22 | 80 20 | seed``.  The AES-128 session key is ``seed[:16]``.
* **Wrapping.**  CLA ``08`` (SM, no integrity); exactly ONE data object per command:
  ``86 L 01 ‖ E(data)`` for VERIFY / SELECT data, ``96 03 00 <Le hi> <Le lo>`` for READ
  BINARY (Le 0 = the whole file).  Responses carry ``86 L 01 ‖ E(data)`` + SW.
  E = AES-128-CBC with ISO/IEC 7816-4 padding (``80 00..``, always added); the IV for
  counter N is ``AES-128(key, N as 16 big-endian bytes)``, the same for a command and its
  response.
* **Counter.**  N = 1 for the first SM command after SET SESSION KEY, +1 for every SM
  command (also when the application rejects it); plain commands do not advance it.
* **Failure.**  A command the card cannot unwrap gets ``6988`` and destroys the session;
  every later SM command gets ``69FC``.

What it protects: the 個人番号 and 基本4情報 as they are read, 照合番号A/B as they are
presented.  What it does NOT protect (there is no MAC — CLA ``0C`` is refused ``6987``):

* the 4-digit PIN: it always travels in plaintext (the card requires it before SET
  SESSION KEY);
* integrity: AES-CBC without a MAC is malleable.  Flipping a ciphertext bit garbles one
  plaintext block and flips the same bit of the next one; the host notices only when the
  padding or the structure it expects breaks (tested, and the limit is shown by a test);
* status words: they are not wrapped, so a ``9000`` to a VERIFY under SM (which carries no
  data) can be forged by a man in the middle — the host then believes a wrong 照合番号 was
  accepted (the card does not; tested as a limit);
* replay in general: an old response fed back decrypts under the current counter's IV,
  which garbles its FIRST block only.  The host detects it because every response it
  accepts must unpad and, for READ BINARY, start with the EF's known tag — a check on
  structure, not a cryptographic one (a forged first block has a ~2^-16 chance);
* the retry counters: a wrong 照合番号 under SM still uses up a try;
* who is at the other end: key delivery authenticates neither side (anyone holding the
  PIN can open a session; card authentication is :meth:`TextSession.authenticate_card`).

Decisions where the reference is silent (``SM-n``; revisit against a card):

* SM-1 — one secure session per card transaction: :meth:`TextSession.secure_messaging`
  opens it inside one transaction (plaintext PIN VERIFY → EF ``0006`` → SET SESSION KEY)
  and closes the host half when the ``with`` block ends.  The card's half dies with the
  next SELECT by DF name or reset anyway.
* SM-2 — the host object is single-use and fail-closed: any failure (a ``6988`` /
  ``69FC`` / ``6987`` / ``6882`` answer, a response that does not unwrap, a status word
  that says the card did not take the APDU as sent — ``61xx``, ``67xx``, ``68xx``,
  ``6Cxx``, ``6Exx``, ``6Fxx`` —, a transport error whose effect on the card's counter is
  unknown) breaks it; later use raises
  :class:`~jukicard.errors.TextSmClosedError` without sending.  Nothing is ever re-sent
  (a re-send would desynchronise the counter; a VERIFY is never retried): the processors
  below never re-send an SM command either (:func:`~jukicard.apdu.processors.never_resent`).
* SM-3 — application errors (``6982``, ``6A82``, ``63Cx``...) come back without data and
  leave the session open: the card advanced its counter, so does the host.
* SM-4 — READ BINARY under SM asks for the whole file (Le 0 in ``96``) in one command, so
  a read is one counter step; a response to a command without Le must carry no data.
* SM-5 — SET SESSION KEY needs extended length (a 256-byte Lc); a card or path without it
  fails with :class:`~jukicard.errors.TextSmError`.
* SM-6 — only 照合番号A/B are presented under SM (P2 = ``80|SFI``, no SELECT); the 4-digit
  PIN is never sent under SM (the card needs it in plaintext first).

NOTE: the seed and the session key live only inside :class:`TextSecureMessaging`; they
appear in no repr, log line or exception message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from jukicard.apdu import sw as _sw
from jukicard.apdu.apps.spec import PinEnum, PinSpec
from jukicard.apdu.apps.text import (
    INS_SET_SESSION_KEY,
    SM_CLA,
    SM_KEY_LEN,
    SM_PADDING_INDICATOR,
    SM_SEED_LEN,
    TAG_ENCRYPTION_KEY,
    TAG_KEY_DELIVERY,
    TAG_SESSION_KEY_PUBLIC,
    TAG_SM_CRYPTOGRAM,
    TAG_SM_LE,
)
from jukicard.apdu.command import EXTENDED_MAX_LE, CommandApdu, ResponseApdu
from jukicard.apdu.smcodec import BLOCK, pad, strip_padding
from jukicard.apdu.tlv import Tlv, encode_length
from jukicard.card.codec import container, rsa_key_tlvs, rsa_numbers, rsa_public_key, tlv
from jukicard.errors import (
    BadResponse,
    FileNotFoundOnCard,
    SecurityStatusError,
    TextSmClosedError,
    TextSmDestroyedError,
    TextSmError,
    TextSmKeyRejectedError,
    TextSmResponseError,
    TlvError,
    TransportError,
    UsageError,
)

__all__ = [
    "TextSecureSession",
    "SessionKeyPublicKey",
    "TextSecureMessaging",
    "key_delivery",
    "session_key_cryptogram",
    "sm_iv",
    "SendApdu",
    "MIN_SESSION_KEY_BITS",
]

log = logging.getLogger(__name__)

#: What the processor sends through: a plain ``send`` (the channel's).
SendApdu = Callable[[CommandApdu], ResponseApdu]

#: The smallest EF ``0006`` modulus the seed is sent under (the card's key is RSA-2048).
MIN_SESSION_KEY_BITS = 2048
_WHAT_KEY = "session-key public key EF (0006)"
#: The card's answers that mean "no session any more" (``card-security.md`` §1).
_DEAD_SWS = frozenset({
    int(_sw.SW.SM_DATA_OBJECTS_INCORRECT),  # 6988: could not unwrap; destroyed
    int(_sw.SW.SM_SESSION_DESTROYED),  # 69FC: destroyed earlier
    int(_sw.SW.SM_DATA_OBJECTS_MISSING),  # 6987: integrity asked, no CCS key
    int(_sw.SW.SECURE_MESSAGING_NOT_SUPPORTED),  # 6882: no session (reset, reselected)
})
#: First status bytes that say the card did not take the wrapped APDU as sent (``61``/``6C``
#: reach this layer only from a hostile or broken card: the processors below never re-send
#: an SM command), so whether it counted it is unknown: the session ends (SM-2).
_UNKNOWN_STEP_SW1 = frozenset({0x61, 0x67, 0x68, 0x6C, 0x6E, 0x6F})


@dataclass(frozen=True)
class SessionKeyPublicKey:
    """EF ``0006`` of the text AP: ``A1 <len> { 90 <e>, 91 <n> }``, the bare RSA key SET
    SESSION KEY encrypts to (no signature: the card vouches for nothing).  Public data."""

    exponent: int
    modulus: int

    @classmethod
    def parse(cls, data: bytes) -> SessionKeyPublicKey:
        """Parse EF ``0006`` (trailing padding allowed).

        :raises BadResponse: another layout or implausible numbers.
        """
        outer, _kids = container(data, TAG_SESSION_KEY_PUBLIC, _WHAT_KEY, (0x90, 0x91))
        e, n = rsa_numbers(outer.value, _WHAT_KEY)
        return cls(e, n)

    @classmethod
    def of(cls, key: rsa.RSAPublicKey) -> SessionKeyPublicKey:
        """The EF of ``key`` (test vectors, the profile generator)."""
        nums = key.public_numbers()
        return cls(nums.e, nums.n)

    def public_key(self) -> rsa.RSAPublicKey:
        """The RSA key.

        :raises BadResponse: numbers that form no RSA key, or a modulus below
            :data:`MIN_SESSION_KEY_BITS` (the card's key is RSA-2048: a smaller one is not
            this card's, and the seed is not sent under it).
        """
        if self.modulus.bit_length() < MIN_SESSION_KEY_BITS:
            raise BadResponse(f"{_WHAT_KEY}: a {self.modulus.bit_length()}-bit modulus, "
                              f"below {MIN_SESSION_KEY_BITS} bits")
        return rsa_public_key(self.exponent, self.modulus, _WHAT_KEY)

    def __bytes__(self) -> bytes:
        return tlv(TAG_SESSION_KEY_PUBLIC, rsa_key_tlvs(self.exponent, self.modulus),
                   long_form=True)


def key_delivery(seed: bytes) -> bytes:
    """``A0 22 | 80 20 | seed``: the plaintext SET SESSION KEY encrypts (36 bytes).

    :raises UsageError: ``seed`` is not 32 bytes.
    """
    if not isinstance(seed, bytes) or len(seed) != SM_SEED_LEN:
        raise UsageError(f"the session seed is {SM_SEED_LEN} bytes")
    inner = bytes((TAG_ENCRYPTION_KEY, SM_SEED_LEN)) + seed
    return bytes((TAG_KEY_DELIVERY, len(inner))) + inner


def session_key_cryptogram(public_key: rsa.RSAPublicKey, seed: bytes) -> bytes:
    """RSAES-OAEP (SHA-256, MGF1-SHA-256, empty label) of :func:`key_delivery`."""
    return public_key.encrypt(key_delivery(seed), padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None))


def sm_iv(key: bytes, counter: int) -> bytes:
    """The IV of counter ``counter``: AES-128(key, counter as 16 big-endian bytes)."""
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # noqa: S305 - one block
    return enc.update(counter.to_bytes(BLOCK, "big")) + enc.finalize()


class _Cipher:
    """AES-128-CBC with the counter IV and ISO padding.  Holds the session key; no repr
    of it anywhere."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "_Cipher(<session key hidden>)"

    def encrypt(self, counter: int, data: bytes) -> bytes:
        enc = Cipher(algorithms.AES(self._key), modes.CBC(sm_iv(self._key, counter))).encryptor()
        return enc.update(pad(data)) + enc.finalize()

    def decrypt(self, counter: int, ciphertext: bytes) -> bytes | None:
        """The plaintext, or ``None`` if it does not unpad (or is not whole blocks)."""
        if not ciphertext or len(ciphertext) % BLOCK:
            return None
        dec = Cipher(algorithms.AES(self._key), modes.CBC(sm_iv(self._key, counter))).decryptor()
        return strip_padding(dec.update(ciphertext) + dec.finalize())


class TextSecureMessaging:
    """A processor (``send(CommandApdu) -> ResponseApdu``) that wraps plain commands in the
    text AP's secure messaging and unwraps the answers, over ``send`` (the channel's).

    Open it with :meth:`establish`.  Give it plain commands (CLA ``00``) with data or Le,
    never both: it sends CLA ``08`` with one data object and returns the plain answer.
    Application errors come back as responses (SM-3); everything else breaks it for good
    (SM-2).

    :param send: what the wrapped commands go through.
    :param key: the 16-byte AES session key (``seed[:16]``).
    """

    def __init__(self, send: SendApdu, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != SM_KEY_LEN:
            raise UsageError(f"the session key is {SM_KEY_LEN} bytes")
        self._send = send
        self._cipher: _Cipher | None = _Cipher(key)
        self._counter = 0
        self._broken = False

    @classmethod
    def establish(
        cls, send: SendApdu, public_key: rsa.RSAPublicKey, seed: bytes
    ) -> TextSecureMessaging:
        """Send SET SESSION KEY (``80 AE 00 00``, extended Lc) with ``seed`` encrypted to
        ``public_key``; the session starts at counter 0 (the first SM command is N = 1).

        :param seed: 32 fresh random bytes (the caller's CSPRNG).
        :raises SecurityStatusError: ``6982``: the PIN is not verified (in plaintext).
        :raises TextSmKeyRejectedError: ``6A80`` / ``6F00``: not this card's key.
        :raises TextSmError: the path cannot carry the extended-length command (SM-5), or
            another refusal.
        :raises TransportError: (or a subclass) the card went away.
        :raises UsageError: ``public_key`` is below :data:`MIN_SESSION_KEY_BITS` or ``seed``
            is not 32 bytes (nothing sent).
        """
        if public_key.key_size < MIN_SESSION_KEY_BITS:
            raise UsageError(f"the session-key key must have at least {MIN_SESSION_KEY_BITS} "
                             "bits")
        cryptogram = session_key_cryptogram(public_key, seed)
        resp = send(CommandApdu(0x80, INS_SET_SESSION_KEY, 0x00, 0x00, cryptogram,
                                extended=True))
        if resp.sw == _sw.SW.SECURITY_STATUS_NOT_SATISFIED:
            raise SecurityStatusError(resp.sw, b"", "SET SESSION KEY: the 4-digit PIN must "
                                      "be verified (in plaintext) first")
        if resp.sw in (_sw.SW.WRONG_DATA, _sw.SW.NO_PRECISE_DIAGNOSIS):
            raise TextSmKeyRejectedError(resp.sw, b"", "SET SESSION KEY refused: the seed "
                                         "was not encrypted to this card's session-key key")
        if resp.sw in (_sw.SW.WRONG_LENGTH, _sw.SW.CHAINING_NOT_SUPPORTED):
            raise TextSmError(resp.sw, b"", "SET SESSION KEY needs extended-length APDUs, "
                              "which this card or reader does not carry")
        if not resp.ok:
            raise TextSmError(resp.sw, b"", f"SET SESSION KEY refused (SW {resp.sw:04X})")
        log.info("text AP secure-messaging session opened")
        return cls(send, seed[:SM_KEY_LEN])

    def __repr__(self) -> str:
        return f"TextSecureMessaging(counter={self._counter}, state={self.state!r})"

    # ------------------------------------------------------------------ state
    @property
    def counter(self) -> int:
        """The counter of the last SM command sent (0 before the first)."""
        return self._counter

    @property
    def state(self) -> str:
        """``"open"``, ``"broken"`` or ``"closed"``."""
        if self._cipher is not None:
            return "open"
        return "broken" if self._broken else "closed"

    @property
    def usable(self) -> bool:
        return self._cipher is not None

    def close(self) -> None:
        """Forget the session key; later use raises :class:`TextSmClosedError`."""
        self._cipher = None

    def _break(self) -> None:
        self._broken = True
        self._cipher = None

    def fail(self, error: TextSmError) -> TextSmError:
        """Break the session and return ``error`` to raise (for checks above the
        processor, e.g. a read whose plaintext has the wrong structure)."""
        self._break()
        log.info("text AP secure-messaging session broken: %s", type(error).__name__)
        return error

    # ------------------------------------------------------------------ send
    def send(self, cmd: CommandApdu) -> ResponseApdu:
        """Wrap ``cmd``, send it once, unwrap the answer.

        :raises UsageError: ``cmd`` is not a plain command with exactly one of data / Le.
        :raises TextSmClosedError: the session is broken or closed (nothing sent).
        :raises TextSmDestroyedError: the card answered ``6988``/``69FC``/``6987``/``6882``.
        :raises TextSmResponseError: the answer does not unwrap, or its status word says the
            card did not take the command as sent (``61``/``67``/``68``/``6C``/``6E``/``6F``).
        :raises TransportError: (or a subclass) the card went away (the session breaks).
        """
        cipher = self._cipher
        if cipher is None:
            raise TextSmClosedError(0x9000, b"", "the secure-messaging session is "
                                    f"{self.state}: open a new one (nothing was sent)")
        if cmd.cla != 0x00 or bool(cmd.data) == (cmd.le is not None):
            raise UsageError("secure messaging wraps a plain command with data or Le, "
                             "not both, not neither")
        self._counter += 1
        n = self._counter
        if cmd.data:
            value = bytes((SM_PADDING_INDICATOR,)) + cipher.encrypt(n, cmd.data)
            wrapped = CommandApdu(SM_CLA, cmd.ins, cmd.p1, cmd.p2, _do(TAG_SM_CRYPTOGRAM, value))
        else:
            le = 0 if cmd.le == EXTENDED_MAX_LE else int(cmd.le or 0)
            do = _do(TAG_SM_LE, b"\x00" + le.to_bytes(2, "big"))
            wrapped = CommandApdu(SM_CLA, cmd.ins, cmd.p1, cmd.p2, do, le=EXTENDED_MAX_LE,
                                  extended=True)
        try:
            resp = self._send(wrapped)
        except TransportError:
            self._break()  # did the card count it?  Nobody knows: never go on
            raise
        except BaseException:
            self._break()
            raise
        return self._unwrap(cipher, n, resp, expect_data=cmd.le is not None)

    def _unwrap(self, cipher: _Cipher, n: int, resp: ResponseApdu, *,
                expect_data: bool) -> ResponseApdu:
        if resp.sw in _DEAD_SWS:
            raise self.fail(TextSmDestroyedError(resp.sw, b"", "the card destroyed the "
                                                 f"secure-messaging session (SW {resp.sw:04X})"))
        if resp.sw1 in _UNKNOWN_STEP_SW1:
            raise self.fail(TextSmResponseError(resp.sw, b"", "the card did not take the "
                                                f"secure-messaging command (SW {resp.sw:04X}): "
                                                "its counter may be out of step"))
        if not resp.data:
            return ResponseApdu(b"", resp.sw)
        if not expect_data:
            raise self.fail(TextSmResponseError(resp.sw, b"", "secure-messaging response "
                                                "carries data where none belongs"))
        plain = None
        try:
            objects = Tlv.parse_all(resp.data)
        except TlvError:
            objects = []
        if len(objects) == 1 and objects[0].tag == TAG_SM_CRYPTOGRAM:
            value = objects[0].value
            if value[:1] == bytes((SM_PADDING_INDICATOR,)):
                plain = cipher.decrypt(n, value[1:])
        if plain is None:
            raise self.fail(TextSmResponseError(resp.sw, b"", "secure-messaging response "
                                                "does not decrypt: tampered, replayed or out "
                                                "of step"))
        return ResponseApdu(plain, resp.sw)


def _do(tag: int, value: bytes) -> bytes:
    return bytes((tag,)) + encode_length(len(value)) + value


class TextSessionOps(Protocol):
    """What :class:`TextSecureSession` uses of its text-AP session
    (:class:`~jukicard.card.text.TextSession`)."""

    def _pin(self, pin: object) -> PinSpec: ...
    def _encode_pin(self, pin: PinSpec, value: object, *, new: bool = False) -> bytes: ...
    def _note_verify(self, pin: PinSpec, resp: ResponseApdu) -> None: ...
    def _check_read(self, resp: ResponseApdu) -> bytes | None: ...


class TextSecureSession:
    """The operations of an open secure session on the text AP (handed out by
    :meth:`TextSession.secure_messaging <jukicard.card.text.TextSession.secure_messaging>`;
    valid only inside its ``with`` block).

    Every method is one or two SM commands; once the session is broken or closed every
    method raises :class:`~jukicard.errors.TextSmClosedError` without sending (SM-2).

    :param session: the text-AP session whose transaction this runs in.
    :param sm: the open processor.
    """

    def __init__(self, session: TextSessionOps, sm: TextSecureMessaging) -> None:
        self._session = session
        self._sm = sm

    def __repr__(self) -> str:
        return f"TextSecureSession({self._sm!r})"

    @property
    def processor(self) -> TextSecureMessaging:
        """The processor (its counter and state, for diagnostics and tests)."""
        return self._sm

    @property
    def usable(self) -> bool:
        """True while the session is open."""
        return self._sm.usable

    def verify(self, pin: PinEnum, value: str) -> None:
        """Present 照合番号A or B under SM, ONCE (``08 20 00 <80|SFI>``, no SELECT; SM-6).

        :param pin: ``TextPin.MATCH_A`` or ``TextPin.MATCH_B``.
        :raises UsageError: another PIN (the 4-digit PIN is never sent under SM).
        :raises PinFormatError: wrong format — nothing sent, the session stays open.
        :raises PinError: / :raises PinBlockedError: rejected (the try is used up: SM does
            not protect the retry counter); the session stays open (SM-3).
        :raises TextSmError: (a subclass) the session broke.
        """
        spec = self._session._pin(pin)
        if spec.ef not in _SM_VERIFY_EFS:
            raise UsageError(f"{spec.label}: only 照合番号A/B are presented under secure "
                             "messaging (the 4-digit PIN goes in plaintext first)")
        raw = self._session._encode_pin(spec, value)
        resp = self._sm.send(CommandApdu(0x00, 0x20, 0x00, 0x80 | (spec.ef & 0x1F), raw))
        self._session._note_verify(spec, resp)

    def select_ef(self, fid: int, what: str = "EF") -> None:
        """SELECT ``fid`` under SM (``08 A4 02 0C``).

        :raises FileNotFoundOnCard: ``6A82``.
        :raises TextSmError: (a subclass) the session broke.
        """
        resp = self._sm.send(CommandApdu(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))
        if resp.sw == _sw.SW.FILE_NOT_FOUND:
            raise FileNotFoundOnCard(resp.sw, b"", f"{what} {fid:04X} not found")
        _sw.check(resp)

    def read_ef(self, fid: int, tag: int, what: str = "EF") -> bytes:
        """SELECT ``fid`` and READ BINARY the whole file under SM (SM-4): two counter steps.

        The plaintext must start with the BER-TLV tag ``tag`` (the EF's known structure): a
        replayed or tampered response shows this way, because its first block decrypts to
        garbage under the current counter's IV.  It then breaks the session.

        :returns: the whole EF, padding included.
        :raises SecurityStatusError: ``6982`` (no credential for it).
        :raises FileNotFoundOnCard: no such EF.
        :raises TextSmResponseError: the plaintext has the wrong structure.
        :raises TextSmError: (a subclass) the session broke.
        """
        self.select_ef(fid, what)
        resp = self._sm.send(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=EXTENDED_MAX_LE,
                                         extended=True))
        data = self._session._check_read(resp) or b""
        try:
            head: Tlv | None = Tlv.parse_first(data)[0]
        except TlvError:
            head = None
        if head is None or head.tag != tag:
            raise self._sm.fail(TextSmResponseError(0x9000, b"", f"{what}: the decrypted "
                                                    "data has the wrong structure (tampered "
                                                    "or replayed response)"))
        return data

    def read_tlv_ef(self, fid: int, tag: int, what: str = "EF") -> bytes:
        """:meth:`read_ef`, trimmed to the one BER-TLV object at its start."""
        data = self.read_ef(fid, tag, what)
        head = Tlv.parse_first(data)[0]
        return data[:len(head.header) + len(head.value)]


#: The PINs presented under SM: 照合番号A (0014) and B (0015).
_SM_VERIFY_EFS = frozenset({0x0014, 0x0015})
