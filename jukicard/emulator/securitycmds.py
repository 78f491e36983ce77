"""Security commands of the emulated card: GET CHALLENGE, VERIFY, CHANGE REFERENCE DATA and
COMPUTE DIGITAL SIGNATURE.

======================  ===============================================================
``00 84`` GET CHALLENGE Le 1..256 random bytes (deterministic with a seed).
``00 20`` VERIFY        P2 = 80 (current PIN IEF) or 80|SFI; no data = status ``63 Cx``.
``00 24`` CHANGE REF.   P1=01: new value, PIN must be verified; P1=00: old ‖ new
                        (fixed-length PINs); the new value must fit the PIN's format.
``80 2A`` SIGN          COMPUTE DIGITAL SIGNATURE, P1 = scheme 00..05 (below, else
                        ``6A86``); P2 = 80 on the current key IEF, 80|SFI on the key IEF
                        ``00 <SFI>`` of the application (``97`` auth ``0017``, ``9A`` sign
                        ``001A``; no SELECT, the current EF stays), 00 on the
                        application's default key (``defaultkey``).
======================  ===============================================================

Signing schemes (P1, ``card-security.md`` §5):

=====  ==============================================================================
``00`` PKCS#1 v1.5 over the data as given (1..k-11 bytes; the host sends a DigestInfo)
``01`` SHA-256 of the message, PKCS#1 v1.5 over the bare 32-byte hash
``02`` 32-byte hash wrapped in a SHA-256 DigestInfo, PKCS#1 v1.5
``03`` SHA-256 of the message wrapped in a DigestInfo, PKCS#1 v1.5
``04`` RSASSA-PSS over a 32-byte hash (SHA-256, MGF1-SHA-256)
``05`` SHA-256 of the message, RSASSA-PSS
=====  ==============================================================================

- **SIGN-1** (PSS salt): the reference gives SHA-256/MGF1-SHA-256 but no salt length; the
  emulator uses a random 32-byte salt (= the hash length, the ``rsa`` crate's ``Pss``
  default the reference's client verifies with).  PSS signatures are therefore random even
  on a seeded card.  The host accepts any salt length (:mod:`jukicard.card.signscheme`).
- **SIGN-2** (bad input, the reference names ``6985`` and ``6700`` without saying which is
  which): no data, or more than k-11 bytes for P1 ``00``, is ``67 00``; data that is not a
  32-byte hash for P1 ``02``/``04`` is ``69 85``.  Access is checked before length, as for
  P1 ``00`` before.

SIGN pads what the client sends with PKCS#1 v1.5 type 01, as the card does.  When that is a
DER DigestInfo (what OpenSC and jukicard send), ``cryptography`` signs it: the padded block is
byte-identical.  Only for other data (clients that have the card sign arbitrary bytes) does the
emulator compute ``m^d mod n`` itself with Python's ``pow`` — ``cryptography`` offers no raw
RSA private operation.  That path is NOT constant time and is for tests only.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from typing import ClassVar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from jukicard.apdu.command import CommandApdu
from jukicard.apdu.sw import SW
from jukicard.emulator.defaultkey import default_signing_key
from jukicard.emulator.fs import KeyIEF, PinCheck
from jukicard.emulator.state import CardState, SwError, tries_sw
from jukicard.errors import tries_left_text

__all__ = ["SecurityCommands", "raw_pkcs1_sign"]

log = logging.getLogger("jukicard.emulator.cardos")


class SecurityCommands(CardState):
    """GET CHALLENGE / VERIFY / CHANGE REFERENCE DATA / COMPUTE DIGITAL SIGNATURE."""

    COMMANDS: ClassVar[dict[tuple[int, int], str]] = {
        (0x00, 0x84): "_get_challenge",
        (0x00, 0x20): "_verify",
        (0x00, 0x24): "_change_reference_data",
        (0x80, 0x2A): "_compute_signature",
    }

    # ------------------------------------------------------------------ GET CHALLENGE
    def _get_challenge(self, cmd: CommandApdu) -> bytes:
        if cmd.p1 or cmd.p2:
            raise SwError(SW.INCORRECT_P1P2)
        if cmd.data or cmd.le is None or cmd.le > 256:
            raise SwError(SW.WRONG_LENGTH)
        if self._rng is not None:
            return self._rng.randbytes(cmd.le)
        return secrets.token_bytes(cmd.le)

    # ------------------------------------------------------------------ VERIFY
    def _verify(self, cmd: CommandApdu) -> bytes:
        if cmd.p1 != 0x00:
            raise SwError(SW.INCORRECT_P1P2)
        pin = self._pin_reference(cmd.p2)  # a stray Le is ignored
        if not cmd.data:
            # status query: ALWAYS 63 Cx, even when verified (x = max) or blocked (x = 0);
            # OpenSC's pkcs15 bind aborts on anything else.
            raise SwError(tries_sw(pin.tries_left))
        result = pin.check(cmd.data)
        if result == PinCheck.OK:
            self._verified.add(pin.fid)
            log.debug("PIN %04X verified", pin.fid)
            return b""
        if result == PinCheck.BLOCKED:
            raise SwError(SW.REFERENCE_DATA_NOT_USABLE)
        if result == PinCheck.BAD_LENGTH:
            raise SwError(SW.WRONG_LENGTH, "PIN length outside the allowed range")
        self._verified.discard(pin.fid)
        log.debug("PIN %04X wrong, %s", pin.fid, tries_left_text(pin.tries_left))
        raise SwError(tries_sw(pin.tries_left))

    # ------------------------------------------------------------------ CHANGE REFERENCE DATA
    def _change_reference_data(self, cmd: CommandApdu) -> bytes:
        """``00 24 01 80 <new>`` (after VERIFY) or ``00 24 00 80 <old ‖ new>``.

        The new value must fit the PIN's format (its facts, or printable ASCII within the
        length limits): ``67 00`` for a wrong length, ``6A 80`` for anything else, and
        nothing changes.  ``old ‖ new`` is split at the PIN's *public* fixed length; for a
        PIN whose length varies it is refused (``6A 86``) whatever the data, so the answer
        never depends on the length of the stored value.
        """
        if cmd.p1 not in (0x00, 0x01):
            raise SwError(SW.INCORRECT_P1P2)
        if not cmd.data:
            raise SwError(SW.WRONG_LENGTH)
        pin = self._pin_reference(cmd.p2)
        if pin.blocked:
            raise SwError(SW.REFERENCE_DATA_NOT_USABLE)
        if cmd.p1 == 0x01:
            if pin.fid not in self._verified:
                raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED)
            new = cmd.data
        else:  # old ‖ new: the old value is checked like a VERIFY
            n = pin.fixed_length
            if n is None:
                raise SwError(SW.INCORRECT_P1P2, "old ‖ new needs a fixed-length PIN")
            if len(cmd.data) <= n:
                raise SwError(SW.WRONG_LENGTH)
            old, new = cmd.data[:n], cmd.data[n:]
            result = pin.check(old)
            if result == PinCheck.BLOCKED:
                raise SwError(SW.REFERENCE_DATA_NOT_USABLE)
            if result != PinCheck.OK:
                self._verified.discard(pin.fid)
                raise SwError(tries_sw(pin.tries_left))
            self._verified.add(pin.fid)
        problem = pin.new_value_problem(new)
        if problem is not None:
            length_ok = pin.length_ok(new)
            raise SwError(SW.WRONG_DATA if length_ok else SW.WRONG_LENGTH,
                          "new PIN does not fit the PIN's format")
        pin.set_value(new)
        log.info("PIN %04X changed", pin.fid)
        return b""

    # ------------------------------------------------------------------ SIGN
    def _compute_signature(self, cmd: CommandApdu) -> bytes:
        if cmd.p1 > _LAST_SCHEME:
            raise SwError(SW.INCORRECT_P1P2)
        ef = self._signing_key(cmd.p2)
        if not ef.use.satisfied_by(self._verified):
            raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED)
        signature = _scheme_signature(cmd.p1, ef, cmd.data)
        self.stats.signatures += 1
        return signature  # returned even without Le (lenient, like real cards)

    def _signing_key(self, p2: int) -> KeyIEF:
        """The key IEF P2 names: ``00`` default key, ``80`` current EF, ``80|SFI``."""
        ef: object
        if p2 == 0x00:  # the AP's default key where it has one (defaultkey.py)
            ef = default_signing_key(self._df)
            if ef is None:
                raise SwError(SW.INCORRECT_P1P2)
        elif p2 == 0x80:
            ef = self._ef
            if ef is None:
                raise SwError(SW.COMMAND_NOT_ALLOWED_NO_EF)
        elif 0x81 <= p2 <= 0x9E:
            ef = self._df.by_sfi(p2 & 0x1F) if self._df is not None else None
            if ef is None:
                raise SwError(SW.REFERENCED_DATA_NOT_FOUND)
        else:
            raise SwError(SW.INCORRECT_P1P2)
        if not isinstance(ef, KeyIEF):
            raise SwError(SW.COMMAND_INCOMPATIBLE_WITH_FILE)
        return ef


#: Highest P1 (signing scheme) the card knows.
_LAST_SCHEME = 0x05
#: SIGN-1: SHA-256, MGF1-SHA-256, 32-byte salt.
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def _scheme_signature(p1: int, key: KeyIEF, data: bytes) -> bytes:
    """The signature of ``data`` under scheme ``p1`` (00..05) with ``key`` (SIGN-1, SIGN-2)."""
    if not data:
        raise SwError(SW.WRONG_LENGTH)
    if p1 == 0x00:
        if len(data) > key.spec.key_bytes - 11:
            raise SwError(SW.WRONG_LENGTH)
        return _raw_rsa_pkcs1_sign(key, data)
    if p1 in (0x02, 0x04) and len(data) != 32:
        raise SwError(SW.CONDITIONS_NOT_SATISFIED, "not a 32-byte hash")
    private = key.spec.key
    if p1 == 0x01:
        return raw_pkcs1_sign(private, hashlib.sha256(data).digest())
    if p1 == 0x02:
        return private.sign(data, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    if p1 == 0x03:
        return private.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if p1 == 0x04:
        return private.sign(data, _PSS, Prehashed(hashes.SHA256()))
    return private.sign(data, _PSS, hashes.SHA256())


#: DigestInfo prefixes (RFC 8017 §9.2 note 1): SEQUENCE { AlgorithmIdentifier with NULL
#: parameters, OCTET STRING } up to the digest, per hash, with the digest length.
_DIGEST_INFO_PREFIXES: dict[bytes, tuple[Callable[[], hashes.HashAlgorithm], int]] = {
    bytes.fromhex("3021300906052b0e03021a05000414"): (hashes.SHA1, 20),
    bytes.fromhex("302d300d06096086480165030402040500041c"): (hashes.SHA224, 28),
    bytes.fromhex("3031300d060960864801650304020105000420"): (hashes.SHA256, 32),
    bytes.fromhex("3041300d060960864801650304020205000430"): (hashes.SHA384, 48),
    bytes.fromhex("3051300d060960864801650304020305000440"): (hashes.SHA512, 64),
}


def _raw_rsa_pkcs1_sign(key: KeyIEF, data: bytes) -> bytes:
    """PKCS#1 v1.5 type-01 padding over ``data`` as given, then the RSA private operation.

    A canonical DigestInfo is signed by ``cryptography`` (same padded block); anything else
    takes the test-only ``pow`` path (NOT constant time).
    """
    for prefix, (hash_cls, size) in _DIGEST_INFO_PREFIXES.items():
        if len(data) == len(prefix) + size and data.startswith(prefix):
            return key.spec.key.sign(data[len(prefix):], padding.PKCS1v15(),
                                     Prehashed(hash_cls()))
    return _pow_pkcs1_sign(key, data)


def _pow_pkcs1_sign(key: KeyIEF, data: bytes) -> bytes:
    """Type-01 padding and ``m^d mod n`` (:func:`raw_pkcs1_sign`) with the key of ``key``."""
    return raw_pkcs1_sign(key.spec.key, data)


def raw_pkcs1_sign(private_key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """Type-01 padding over ``data`` as given and ``m^d mod n`` by CRT with Python's ``pow``
    (test-only, NOT constant time; checked with the public exponent before it is returned).
    Also what the test-vector generator signs the 券面AP's three-digest DigestInfo with
    (``cryptography`` signs only a DigestInfo of one hash)."""
    k = (private_key.key_size + 7) // 8
    if len(data) > k - 11:
        raise SwError(SW.WRONG_LENGTH)
    em = b"\x00\x01" + b"\xff" * (k - 3 - len(data)) + b"\x00" + data
    priv = private_key.private_numbers()
    pub = priv.public_numbers
    m = int.from_bytes(em, "big")
    m1 = pow(m, priv.dmp1, priv.p)
    m2 = pow(m, priv.dmq1, priv.q)
    h = (priv.iqmp * (m1 - m2)) % priv.p
    s = m2 + h * priv.q
    if pow(s, pub.e, pub.n) != m:  # fault check, cheap with e = 65537
        raise SwError(SW.NO_PRECISE_DIAGNOSIS, "RSA self-check failed")
    return s.to_bytes(k, "big")
