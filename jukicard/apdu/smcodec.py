"""The byte formats of the **jukicard protocol**'s secure messaging (ISO/IEC 7816-4 §10),
shared by the host half (:mod:`jukicard.card.iso_sm`) and the emulated card
(:mod:`jukicard.emulator.mutualauth`).

The jukicard protocol is our own (``docs/jukicard-protocol.md``); it is NOT 住基ネット's,
whose card-system protocol is not public.  Pure framing, no I/O and no cryptography of its own:
the AES-128 operations come from an :class:`SmCrypto` (the host's in
:mod:`jukicard.card.iso_sm`, the emulated card's in :mod:`jukicard.emulator.mutualauth`,
both over ``cryptography``; the ``apdu`` layer imports no third-party package).

* **SSC** — the send sequence counter, a 16-byte big-endian integer; 0 after mutual
  authentication, incremented before every protected command and before every protected
  response (the first command uses 1, its response 2).
* **Encryption** — ``IV = AES-ECB(S_enc, SSC)``; ``AES-CBC(S_enc, IV, pad(data))`` with
  ISO/IEC 7816-4 padding (``80 00…``, always added).  Carried as ``87 L 01 ‖ ciphertext``.
* **MAC** — the first 8 bytes of ``AES-CMAC(S_mac, pad(SSC ‖ M))`` where ``M`` is
  ``pad(CLA INS P1 P2) ‖ DO87 ‖ DO97`` for a command and ``DO87 ‖ DO99`` for a response
  (the ICAO 9303-11 AES layout).  Carried as ``8E 08 ‖ MAC``, always last.
* **Le** — ``97 01 Le`` (``00`` = 256) or ``97 02 Le Le`` (``00 00`` = 65536).
* **Status** — the response carries ``99 02 SW1 SW2``; it must equal the response's own SW.

Order is fixed: a command holds ``[87] [97] 8E``, a response ``[87] 99 8E``; anything else
(another tag, a repeat, a wrong padding indicator) is refused.  Every failure raises
:class:`~jukicard.errors.JukicardSecureMessagingError` whose ``sw`` is what a card answers:
``6987`` when the MAC object is missing, ``6988`` for everything else.
"""

from __future__ import annotations

from typing import Protocol

from jukicard.apdu.tlv import Tlv
from jukicard.errors import JukicardSecureMessagingError, TlvError

__all__ = [
    "BLOCK",
    "MAC_LEN",
    "KDF_LABEL",
    "SM_MISSING",
    "SM_INCORRECT",
    "pad",
    "strip_padding",
    "unpad",
    "kdf_input",
    "ssc_block",
    "SmCrypto",
    "SmCodec",
]

BLOCK = 16
MAC_LEN = 8
SM_MISSING = 0x6987
SM_INCORRECT = 0x6988
#: SP 800-108 label of the session-key derivation (decision JP-6).
KDF_LABEL = b"jukicard-protocol-v1 session keys"
#: bits of keying material derived (S_enc ‖ S_mac), the ``[L]_2`` of the fixed input.
KDF_BITS = 256
_TAG_ENC, _TAG_LE, _TAG_SW, _TAG_MAC = 0x87, 0x97, 0x99, 0x8E


def _fail(message: str, sw: int = SM_INCORRECT) -> JukicardSecureMessagingError:
    return JukicardSecureMessagingError(message, sw)


def pad(data: bytes) -> bytes:
    """ISO/IEC 7816-4 padding: ``80`` then ``00`` to a whole block (always added).  The one
    padding of both secure-messaging schemes (the jukicard protocol and the text AP's)."""
    data = bytes(data) + b"\x80"
    return data + b"\x00" * (-len(data) % BLOCK)


def strip_padding(data: bytes) -> bytes | None:
    """Remove ISO/IEC 7816-4 padding, or ``None`` when there is none: no ``80`` marker in the
    last block (what a wrong key or counter gives).  Each scheme decides what that means."""
    stripped = data.rstrip(b"\x00")
    if not stripped.endswith(b"\x80") or len(data) - len(stripped) >= BLOCK:
        return None
    return stripped[:-1]


def unpad(data: bytes) -> bytes:
    """Remove ISO/IEC 7816-4 padding (the jukicard protocol).

    :raises JukicardSecureMessagingError: no ``80`` marker in the last block.
    """
    stripped = strip_padding(data)
    if stripped is None:
        raise _fail("secure messaging: bad padding")
    return stripped


def kdf_input(counter: int, context: bytes) -> bytes:
    """The NIST SP 800-108 counter-mode PRF input ``[i]_8 ‖ Label ‖ 00 ‖ Context ‖ [L]_16``
    (decision JP-6; the PRF is AES-CMAC under the card's KDF key)."""
    return (bytes((counter,)) + KDF_LABEL + b"\x00" + bytes(context)
            + KDF_BITS.to_bytes(2, "big"))


def ssc_block(ssc: int) -> bytes:
    """The send sequence counter as the 16-byte block the IV and MAC use.

    :raises JukicardSecureMessagingError: the counter is exhausted (2^128).
    """
    if not 0 <= ssc < 1 << 128:
        raise _fail("secure messaging: send sequence counter exhausted")
    return ssc.to_bytes(BLOCK, "big")


def _le_bytes(le: int) -> bytes:
    if le <= 256:
        return bytes((le & 0xFF,))
    return (le & 0xFFFF).to_bytes(2, "big")


def _dos(data: bytes, allowed: tuple[int, ...], what: str) -> dict[int, Tlv]:
    """The data objects of *data* in the fixed order *allowed* (each at most once, 8E last)."""
    try:
        found = Tlv.parse_all(data)
    except TlvError:
        raise _fail(f"secure messaging: {what} is not BER-TLV") from None
    if not found or found[-1].tag != _TAG_MAC:
        raise _fail(f"secure messaging: {what} has no MAC object (8E) last", SM_MISSING)
    out: dict[int, Tlv] = {}
    pos = 0
    for tlv in found:
        if tlv.tag not in allowed[pos:]:
            raise _fail(f"secure messaging: unexpected or repeated data object in {what}")
        pos = allowed.index(tlv.tag) + 1
        out[tlv.tag] = tlv  # kept as parsed: the MAC covers the bytes as sent
    return out


def _raw(dos: dict[int, Tlv], tag: int) -> bytes:
    return dos[tag].encode() if tag in dos else b""


class SmCrypto(Protocol):
    """The AES-128 operations of one secure channel (session keys ``S_enc``, ``S_mac``)."""

    def encrypt(self, iv_block: bytes, padded: bytes) -> bytes:
        """``AES-CBC(S_enc, IV = AES-ECB(S_enc, iv_block), padded)``."""
        ...

    def decrypt(self, iv_block: bytes, ciphertext: bytes) -> bytes:
        """The inverse of :meth:`encrypt` (padding left on)."""
        ...

    def cmac(self, data: bytes) -> bytes:
        """``AES-CMAC(S_mac, data)`` (16 bytes)."""
        ...

    def same(self, a: bytes, b: bytes) -> bool:
        """Constant-time comparison."""
        ...


class SmCodec:
    """The framing of one secure channel over its :class:`SmCrypto`.

    NOTE: the crypto object holds session keys; ``repr`` never shows them.
    """

    def __init__(self, crypto: SmCrypto) -> None:
        self._crypto = crypto

    def __repr__(self) -> str:
        return f"{type(self).__name__}(<session keys hidden>)"

    # ------------------------------------------------------------------ primitives
    def encrypt(self, ssc: int, data: bytes) -> bytes:
        """``AES-CBC(S_enc, IV(ssc), pad(data))``."""
        return self._crypto.encrypt(ssc_block(ssc), pad(data))

    def decrypt(self, ssc: int, ciphertext: bytes) -> bytes:
        """Inverse of :meth:`encrypt`.

        :raises JukicardSecureMessagingError: not whole blocks, or bad padding.
        """
        if not ciphertext or len(ciphertext) % BLOCK:
            raise _fail("secure messaging: ciphertext is not whole blocks")
        return unpad(self._crypto.decrypt(ssc_block(ssc), bytes(ciphertext)))

    def mac(self, ssc: int, message: bytes) -> bytes:
        """``AES-CMAC(S_mac, pad(SSC ‖ message))[:8]``."""
        return self._crypto.cmac(pad(ssc_block(ssc) + bytes(message)))[:MAC_LEN]

    def _check_mac(self, ssc: int, message: bytes, mac: bytes, what: str) -> None:
        if not self._crypto.same(self.mac(ssc, message), mac):
            raise _fail(f"secure messaging: wrong MAC on the {what}")

    # ------------------------------------------------------------------ command
    def protect_command(self, ssc: int, header: bytes, data: bytes, le: int | None) -> bytes:
        """The data field ``[87] [97] 8E`` of the protected command.

        :param header: ``CLA INS P1 P2`` as sent (CLA with the SM bits, ``0C``).
        """
        do87 = Tlv(_TAG_ENC, b"\x01" + self.encrypt(ssc, data)).encode() if data else b""
        do97 = Tlv(_TAG_LE, _le_bytes(le)).encode() if le is not None else b""
        mac = self.mac(ssc, pad(header) + do87 + do97)
        return do87 + do97 + Tlv(_TAG_MAC, mac).encode()

    def open_command(self, ssc: int, header: bytes, field: bytes) -> tuple[bytes, int | None]:
        """Check and decrypt a protected command's data field: ``(data, Le)``.

        :raises JukicardSecureMessagingError: objects missing (``sw`` 6987) or wrong (6988).
        """
        dos = _dos(field, (_TAG_ENC, _TAG_LE, _TAG_MAC), "command")
        self._check_mac(ssc, pad(header) + _raw(dos, _TAG_ENC) + _raw(dos, _TAG_LE),
                        dos[_TAG_MAC].value, "command")
        le: int | None = None
        if _TAG_LE in dos:
            raw = dos[_TAG_LE].value
            if len(raw) not in (1, 2):
                raise _fail("secure messaging: Le object is 1 or 2 bytes")
            value = int.from_bytes(raw, "big")
            le = value or (256 if len(raw) == 1 else 65536)
        return self._open_enc(ssc, dos), le

    def _open_enc(self, ssc: int, dos: dict[int, Tlv]) -> bytes:
        if _TAG_ENC not in dos:
            return b""
        value = dos[_TAG_ENC].value
        if value[:1] != b"\x01":
            raise _fail("secure messaging: padding indicator must be 01")
        return self.decrypt(ssc, value[1:])

    # ------------------------------------------------------------------ response
    def protect_response(self, ssc: int, data: bytes, sw: int) -> bytes:
        """The data field ``[87] 99 8E`` of a protected response with status *sw*."""
        do87 = Tlv(_TAG_ENC, b"\x01" + self.encrypt(ssc, data)).encode() if data else b""
        do99 = Tlv(_TAG_SW, sw.to_bytes(2, "big")).encode()
        return do87 + do99 + Tlv(_TAG_MAC, self.mac(ssc, do87 + do99)).encode()

    def open_response(self, ssc: int, field: bytes, sw: int) -> bytes:
        """Check and decrypt a protected response (its data field and trailer *sw*).

        :raises JukicardSecureMessagingError: a missing or wrong object, a wrong MAC, or a
            status object that differs from the trailer.
        """
        dos = _dos(field, (_TAG_ENC, _TAG_SW, _TAG_MAC), "response")
        if _TAG_SW not in dos:
            raise _fail("secure messaging: response has no status object (99)", SM_MISSING)
        self._check_mac(ssc, _raw(dos, _TAG_ENC) + _raw(dos, _TAG_SW), dos[_TAG_MAC].value,
                        "response")
        if dos[_TAG_SW].value != sw.to_bytes(2, "big"):
            raise _fail("secure messaging: the protected status differs from the trailer")
        return self._open_enc(ssc, dos)
