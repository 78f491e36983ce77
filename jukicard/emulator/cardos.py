"""The emulated card operating system: a pure ``execute(bytes) -> bytes``.

Commands are dispatched through a handler table keyed by (CLA class, INS).  Handlers return
response data (status ``90 00``) or raise :class:`SwError`; the status word is added in ONE
place, :meth:`CardOS.execute`, which never raises and never returns fewer than 2 bytes.  The
card never emits ``61xx``/``6Cxx`` (clients on T=1 never send GET RESPONSE).

Supported commands (see ``card-interface.md`` §5, decisions in §14):

======================  ===============================================================
``00 A4`` SELECT        P1=04 by DF name (P2=0C none, 00 FCI ``6F``, 04 FCP ``62``);
                        P1=02 EF in current DF (data = 2-byte FID; P2=00/04 → FCP);
                        P1=00 with ``3F00``/no data = MF, other FID = as P1=02.
``00 B0`` READ BINARY   15-bit offset in P1P2, or SFI form (P1 = 80|SFI, offset in P2).
``00 B2`` READ RECORD   P2 = 04 (current EF) or SFI<<3|04; also mode 05 (P1..last).
``00 84`` GET CHALLENGE Le 1..256 random bytes (deterministic with a seed).
``00 20`` VERIFY        P2 = 80 (current PIN IEF) or 80|SFI; no data = status ``63 Cx``.
``00 24`` CHANGE REF.   P1=01: new value, PIN must be verified; P1=00: old ‖ new
                        (fixed-length PINs); the new value must fit the PIN's format.
``80 2A`` SIGN          COMPUTE DIGITAL SIGNATURE, P1P2 = 00 80 on the current key IEF,
                        00 00 on the application's default key (``defaultkey``).
======================  ===============================================================

SIGN pads what the client sends with PKCS#1 v1.5 type 01, as the card does.  When that is a
DER DigestInfo (what OpenSC and jukicard send), ``cryptography`` signs it: the padded block is
byte-identical.  Only for other data (clients that have the card sign arbitrary bytes) does the
emulator compute ``m^d mod n`` itself with Python's ``pow`` — ``cryptography`` offers no raw
RSA private operation.  That path is NOT constant time and is for tests only.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from jukicard.apdu.command import CommandApdu
from jukicard.apdu.processors import PIN_INS
from jukicard.apdu.sw import SW
from jukicard.emulator.defaultkey import default_signing_key
from jukicard.emulator.fs import (
    BinaryEF,
    DedicatedFile,
    ElementaryFile,
    FileSystem,
    KeyIEF,
    PinCheck,
    PinIEF,
    RecordEF,
)
from jukicard.emulator.profile import CardProfile, load_profile
from jukicard.errors import CardError, MalformedApduError, tries_left_text

__all__ = ["SW", "SwError", "CardStats", "CardOS", "CommandLog"]

log = logging.getLogger(__name__)

#: Optional hook called with (command bytes, response bytes) after every APDU.
#: NOTE: command bytes include PIN values; the hook is for tests only.
CommandLog = Callable[[bytes, bytes], None]


def _tries_sw(tries_left: int) -> int:
    return 0x63C0 | min(tries_left, 0x0F)


class SwError(CardError):
    """Raised by command handlers; turned into the response status word by ``execute``."""

    def __init__(self, sw: int, reason: str = "") -> None:
        super().__init__(int(sw), b"", reason or f"SW {int(sw):04X}")
        self.reason = reason


@dataclass
class CardStats:
    """Counters of what the card received.

    :ivar apdus: every command APDU passed to ``execute``.
    :ivar verify_with_data: VERIFY (INS 20) APDUs carrying data, whatever the outcome —
        i.e. PIN submissions.
    :ivar verify_status_queries: VERIFY APDUs without data (retry-counter queries).
    :ivar change_reference_data: CHANGE REFERENCE DATA (INS 24) APDUs.
    :ivar signatures: signatures actually computed.
    :ivar power_ons / power_offs / resets: power events.
    """

    apdus: int = 0
    verify_with_data: int = 0
    verify_status_queries: int = 0
    change_reference_data: int = 0
    signatures: int = 0
    power_ons: int = 0
    power_offs: int = 0
    resets: int = 0

    def clear(self) -> None:
        """Set every counter back to zero."""
        for f in fields(self):
            setattr(self, f.name, 0)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


Handler = Callable[[CommandApdu], bytes]


class CardOS:
    """An emulated JPKI / My Number / Juki card.

    :param profile: a :class:`CardProfile`, or a profile path / bare name for
        :func:`load_profile`.
    :param extended_length: override the profile's ``extended_length`` (False = answer every
        extended-length APDU with ``67 00``).
    :param atr: override the profile's ATR.
    :param challenge_seed: override the profile's GET CHALLENGE seed (None = profile's, else
        a CSPRNG).
    :param command_log: optional ``(command, response)`` hook called after every APDU.
        NOTE: it sees PIN values; use it in tests only.
    :raises ProfileError: if a profile name/path cannot be loaded.

    PIN values and counters persist for the life of the object ("EEPROM");
    :meth:`to_profile` exports them.  The selected DF/EF and verified PINs are volatile and
    are cleared by :meth:`power_on`, :meth:`power_off` and :meth:`reset`.  Thread-safe: one
    lock serialises ``execute`` and the power methods.
    """

    def __init__(
        self,
        profile: CardProfile | str | os.PathLike[str],
        *,
        extended_length: bool | None = None,
        atr: bytes | None = None,
        challenge_seed: int | None = None,
        command_log: CommandLog | None = None,
    ) -> None:
        if not isinstance(profile, CardProfile):
            profile = load_profile(profile if isinstance(profile, Path) else os.fspath(profile))
        self.profile = profile
        self.fs = FileSystem(profile)
        self.extended_length = (profile.extended_length if extended_length is None
                                else extended_length)
        self._atr = bytes(atr) if atr is not None else profile.atr
        seed = challenge_seed if challenge_seed is not None else profile.challenge_seed
        self._rng: random.Random | None = random.Random(seed) if seed is not None else None
        self.command_log = command_log
        self.stats = CardStats()
        self.powered = False
        self._lock = threading.RLock()
        self._df: DedicatedFile | None = None
        self._ef: ElementaryFile | None = None
        self._verified: set[int] = set()  # PIN fids verified in the current DF
        self._handlers: dict[tuple[int, int], Handler] = {
            (0x00, 0xA4): self._select,
            (0x00, 0xB0): self._read_binary,
            (0x00, 0xB2): self._read_record,
            (0x00, 0x84): self._get_challenge,
            (0x00, 0x20): self._verify,
            (0x00, 0x24): self._change_reference_data,
            (0x80, 0x2A): self._compute_signature,
        }

    # ------------------------------------------------------------------ card interface
    @property
    def atr(self) -> bytes:
        """The answer to reset."""
        return self._atr

    def power_on(self) -> None:
        """Cold start: volatile state cleared."""
        with self._lock:
            self._clear_volatile()
            self.powered = True
            self.stats.power_ons += 1

    def power_off(self) -> None:
        """Power off: volatile state cleared."""
        with self._lock:
            self._clear_volatile()
            self.powered = False
            self.stats.power_offs += 1

    def reset(self) -> None:
        """Warm reset: volatile state cleared, the card stays powered."""
        with self._lock:
            self._clear_volatile()
            self.powered = True
            self.stats.resets += 1

    def to_profile(self) -> CardProfile:
        """The profile with the current PIN values and retry counters."""
        with self._lock:
            return self.fs.to_profile()

    @property
    def current_df(self) -> DedicatedFile | None:
        return self._df

    @property
    def current_ef(self) -> ElementaryFile | None:
        return self._ef

    @property
    def verified_pins(self) -> frozenset[int]:
        """FIDs of the PINs verified in the current DF."""
        return frozenset(self._verified)

    def pin(self, app: str, fid: int) -> PinIEF:
        """The PIN IEF ``fid`` of application ``app`` (for tests: counters, blocking).

        :raises KeyError: if there is no such PIN.
        """
        p = self.fs.df(app).pin(fid)
        if p is None:
            raise KeyError(fid)
        return p

    def execute(self, apdu: bytes) -> bytes:
        """Process one command APDU and return the response (data + SW1 SW2).

        Never raises for any input; malformed APDUs get ``67 00``.
        """
        with self._lock:
            self.stats.apdus += 1
            raw = _as_bytes(apdu)
            try:
                if raw is None:
                    raise SwError(SW.WRONG_LENGTH, "not a byte string")
                data = self._dispatch(raw)
                sw: int = SW.SUCCESS
            except SwError as exc:
                data, sw = b"", exc.sw
            except Exception:  # a bug in a handler must not kill the bridge
                log.exception("emulator handler failed")
                data, sw = b"", SW.NO_PRECISE_DIAGNOSIS
            response = data + int(sw).to_bytes(2, "big")
            if log.isEnabledFor(logging.DEBUG):
                log.debug("APDU %s -> %d bytes, SW %04X", _describe(raw), len(data), sw)
        if self.command_log is not None:
            try:
                self.command_log(raw if raw is not None else b"", response)
            except Exception:
                log.exception("command_log hook failed")
        return response

    # ------------------------------------------------------------------ dispatch
    def _clear_volatile(self) -> None:
        self._df = None
        self._ef = None
        self._verified.clear()

    def _dispatch(self, raw: bytes) -> bytes:
        try:
            cmd = CommandApdu.decode(raw)
        except MalformedApduError:
            raise SwError(SW.WRONG_LENGTH, "malformed APDU") from None
        if cmd.ins == 0x20:
            if cmd.data:
                self.stats.verify_with_data += 1
            else:
                self.stats.verify_status_queries += 1
        elif cmd.ins == 0x24:
            self.stats.change_reference_data += 1
        cla_class = self._cla_class(cmd.cla)
        if cmd.is_extended and not self.extended_length:
            raise SwError(SW.WRONG_LENGTH, "extended length disabled")
        handler = self._handlers.get((cla_class, cmd.ins))
        if handler is None:
            raise SwError(SW.INS_NOT_SUPPORTED)
        return handler(cmd)

    @staticmethod
    def _cla_class(cla: int) -> int:
        """00 (inter-industry) or 80 (proprietary); channel/SM/chaining bits refused."""
        if cla == 0xFF:
            raise SwError(SW.CLA_NOT_SUPPORTED)
        if cla & 0x40 and not cla & 0x80:  # further inter-industry class: channels 4..19
            raise SwError(SW.LOGICAL_CHANNEL_NOT_SUPPORTED)
        if cla & 0x60:  # RFU / other proprietary classes
            raise SwError(SW.CLA_NOT_SUPPORTED)
        if cla & 0x03:
            raise SwError(SW.LOGICAL_CHANNEL_NOT_SUPPORTED)
        if cla & 0x0C:
            raise SwError(SW.SECURE_MESSAGING_NOT_SUPPORTED)
        if cla & 0x10:
            raise SwError(SW.CHAINING_NOT_SUPPORTED)
        return cla & 0x80

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _tlv(tag: int, value: bytes) -> bytes:
        n = len(value)
        if n < 0x80:
            length = bytes((n,))
        elif n < 0x100:
            length = bytes((0x81, n))
        else:
            length = bytes((0x82,)) + n.to_bytes(2, "big")
        return bytes((tag,)) + length + value

    @staticmethod
    def _fit(data: bytes, le: int | None) -> bytes:
        return data if le is None else data[:le]

    def _need_df(self) -> DedicatedFile:
        if self._df is None:
            raise SwError(SW.FILE_NOT_FOUND, "no application selected")
        return self._df

    def _pin_reference(self, p2: int) -> PinIEF:
        """Resolve the P2 of VERIFY / CHANGE REFERENCE DATA to a PIN IEF."""
        if p2 == 0x80:
            if self._ef is None:
                raise SwError(SW.COMMAND_NOT_ALLOWED_NO_EF)
            if not isinstance(self._ef, PinIEF):
                raise SwError(SW.COMMAND_INCOMPATIBLE_WITH_FILE)
            return self._ef
        if 0x81 <= p2 <= 0x9E:
            df = self._df
            pin = df.pin(p2 & 0x1F) if df is not None else None
            if pin is None:
                raise SwError(SW.REFERENCED_DATA_NOT_FOUND)
            return pin
        raise SwError(SW.INCORRECT_P1P2)

    def _fcp(self, ef: ElementaryFile) -> bytes:
        if isinstance(ef, BinaryEF):
            descriptor = 0x01
        elif isinstance(ef, RecordEF):
            descriptor = 0x04
        else:
            descriptor = 0x08  # internal EF
        size = min(ef.size, 0xFFFF)
        body = (self._tlv(0x80, size.to_bytes(2, "big")) + self._tlv(0x82, bytes((descriptor,)))
                + self._tlv(0x83, ef.fid.to_bytes(2, "big")))
        return self._tlv(0x62, body)

    # ------------------------------------------------------------------ SELECT
    def _select(self, cmd: CommandApdu) -> bytes:
        p1, p2 = cmd.p1, cmd.p2
        if p2 & 0x03 or p2 & 0xF0 or (p2 & 0x0C) == 0x08:
            raise SwError(SW.INCORRECT_P1P2)  # only "first occurrence" and FCI/FCP/none
        if p1 == 0x04:
            if not cmd.data:
                raise SwError(SW.WRONG_LENGTH)
            df = self.fs.find_df(cmd.data)
            if df is None:
                raise SwError(SW.FILE_NOT_FOUND)
            self._df, self._ef = df, None
            self._verified.clear()  # SELECT by DF name clears the security state
            if p2 == 0x0C:
                return b""
            if p2 == 0x04:
                body = self._tlv(0x82, b"\x38") + self._tlv(0x84, df.aid)
                return self._fit(self._tlv(0x62, body), cmd.le)
            return self._fit(self._tlv(0x6F, self._tlv(0x84, df.aid)), cmd.le)
        if p1 == 0x00 and cmd.data in (b"", b"\x3f\x00"):
            self._df, self._ef = None, None  # MF: no EFs in this model
            self._verified.clear()
            return b""
        if p1 in (0x00, 0x02):
            if len(cmd.data) != 2:
                raise SwError(SW.WRONG_LENGTH)
            df = self._need_df()
            ef = df.get(int.from_bytes(cmd.data, "big"))
            if ef is None:
                raise SwError(SW.FILE_NOT_FOUND)
            self._ef = ef
            if p2 == 0x0C:
                return b""
            return self._fit(self._fcp(ef), cmd.le)
        raise SwError(SW.INCORRECT_P1P2)

    def _resolve_sfi(self, sfi: int) -> ElementaryFile:
        df = self._need_df()
        ef = df.by_sfi(sfi)
        if ef is None:
            raise SwError(SW.FILE_NOT_FOUND)
        self._ef = ef  # SFI access makes the EF current (ISO 7816-4)
        return ef

    # ------------------------------------------------------------------ READ BINARY
    def _read_binary(self, cmd: CommandApdu) -> bytes:
        if cmd.data or cmd.le is None:
            raise SwError(SW.WRONG_LENGTH)
        if cmd.p1 & 0x80:
            if cmd.p1 & 0x60 or not 1 <= cmd.p1 & 0x1F <= 30:
                raise SwError(SW.INCORRECT_P1P2)
            ef: ElementaryFile | None = self._resolve_sfi(cmd.p1 & 0x1F)
            offset = cmd.p2
        else:
            ef = self._ef
            offset = (cmd.p1 << 8) | cmd.p2
        if ef is None:
            raise SwError(SW.COMMAND_NOT_ALLOWED_NO_EF)
        if not isinstance(ef, BinaryEF):
            raise SwError(SW.COMMAND_INCOMPATIBLE_WITH_FILE)
        if not ef.read.satisfied_by(self._verified):
            raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED)
        if offset >= ef.size:
            raise SwError(SW.WRONG_P1P2)
        return ef.data[offset:offset + cmd.le]

    # ------------------------------------------------------------------ READ RECORD
    def _read_record(self, cmd: CommandApdu) -> bytes:
        if cmd.data or cmd.le is None:
            raise SwError(SW.WRONG_LENGTH)
        mode, sfi = cmd.p2 & 0x07, cmd.p2 >> 3
        if mode not in (0x04, 0x05) or sfi == 31 or cmd.p1 == 0:
            raise SwError(SW.INCORRECT_P1P2)
        ef = self._resolve_sfi(sfi) if sfi else self._ef
        if ef is None:
            raise SwError(SW.COMMAND_NOT_ALLOWED_NO_EF)
        if not isinstance(ef, RecordEF):
            raise SwError(SW.COMMAND_INCOMPATIBLE_WITH_FILE)
        if not ef.read.satisfied_by(self._verified):
            raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED)
        if cmd.p1 > len(ef.records):
            raise SwError(SW.RECORD_NOT_FOUND)
        if mode == 0x04:
            data = ef.records[cmd.p1 - 1]
        else:
            data = b"".join(ef.records[cmd.p1 - 1:])
        return data[:cmd.le]

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
            raise SwError(_tries_sw(pin.tries_left))
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
        raise SwError(_tries_sw(pin.tries_left))

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
                raise SwError(_tries_sw(pin.tries_left))
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
        # P2 00: the AP's default key where it has one (defaultkey.py)
        ef = default_signing_key(self._df) if (cmd.p1, cmd.p2) == (0x00, 0x00) else None
        if ef is None:
            if (cmd.p1, cmd.p2) != (0x00, 0x80):
                raise SwError(SW.INCORRECT_P1P2)
            ef = self._ef
        if ef is None:
            raise SwError(SW.COMMAND_NOT_ALLOWED_NO_EF)
        if not isinstance(ef, KeyIEF):
            raise SwError(SW.COMMAND_INCOMPATIBLE_WITH_FILE)
        if not ef.use.satisfied_by(self._verified):
            raise SwError(SW.SECURITY_STATUS_NOT_SATISFIED)
        k = ef.spec.key_bytes
        if not 1 <= len(cmd.data) <= k - 11:
            raise SwError(SW.WRONG_LENGTH)
        signature = _raw_rsa_pkcs1_sign(ef, cmd.data)
        self.stats.signatures += 1
        return signature  # returned even without Le (lenient, like real cards)


#: DigestInfo prefixes (RFC 8017 §9.2 note 1): SEQUENCE { AlgorithmIdentifier with NULL
#: parameters, OCTET STRING } up to the digest, per hash, with the digest length.
_DIGEST_INFO_PREFIXES: dict[bytes, tuple[Callable[[], hashes.HashAlgorithm], int]] = {
    bytes.fromhex("3021300906052b0e03021a05000414"): (hashes.SHA1, 20),
    bytes.fromhex("302d300d06096086480165030402040500041c"): (hashes.SHA224, 28),
    bytes.fromhex("3031300d060960864801650304020105000420"): (hashes.SHA256, 32),
    bytes.fromhex("3041300d060960864801650304020205000430"): (hashes.SHA384, 48),
    bytes.fromhex("3051300d060960864801650304020305000440"): (hashes.SHA512, 64),
}


def _describe(raw: bytes | None) -> str:
    """A command for the debug log: its header, and its size unless it may carry a PIN
    (:data:`~jukicard.apdu.processors.PIN_INS`: the size of a PIN command is the PIN's
    length).  Never raises."""
    if raw is None:
        return "(not bytes)"
    head = raw[:4].hex().upper()
    if len(raw) >= 2 and raw[1] in PIN_INS:
        return head
    return f"{head} ({len(raw)} bytes)"


def _as_bytes(apdu: object) -> bytes | None:
    """``apdu`` as bytes, or ``None`` if it is not a byte string (or a list of byte
    values, as pyscard passes them); never raises."""
    if isinstance(apdu, (bytes, bytearray, memoryview)):
        return bytes(apdu)
    if isinstance(apdu, (list, tuple)):
        try:
            return bytes(apdu)
        except (TypeError, ValueError):
            return None
    return None


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
    """Type-01 padding and ``m^d mod n`` by CRT with Python's ``pow`` (test-only, NOT
    constant time; checked with the public exponent before it is returned)."""
    k = key.spec.key_bytes
    em = b"\x00\x01" + b"\xff" * (k - 3 - len(data)) + b"\x00" + data
    priv = key.spec.key.private_numbers()
    pub = priv.public_numbers
    m = int.from_bytes(em, "big")
    m1 = pow(m, priv.dmp1, priv.p)
    m2 = pow(m, priv.dmq1, priv.q)
    h = (priv.iqmp * (m1 - m2)) % priv.p
    s = m2 + h * priv.q
    if pow(s, pub.e, pub.n) != m:  # fault check, cheap with e = 65537
        raise SwError(SW.NO_PRECISE_DIAGNOSIS, "RSA self-check failed")
    return s.to_bytes(k, "big")
