"""The emulated card operating system: a pure ``execute(bytes) -> bytes``.

Commands are dispatched through a handler table keyed by (CLA class, INS).  Handlers return
response data (status ``90 00``) or raise :class:`SwError`; the status word is added in ONE
place, :meth:`CardOS.execute`, which never raises and never returns fewer than 2 bytes.  The
card never emits ``61xx``/``6Cxx`` (clients on T=1 never send GET RESPONSE).

The commands live in mixins over :class:`~jukicard.emulator.state.CardState`, one module per
command set: :mod:`~jukicard.emulator.filecmds` (SELECT, READ BINARY, READ RECORD) and
:mod:`~jukicard.emulator.securitycmds` (GET CHALLENGE, VERIFY, CHANGE REFERENCE DATA,
COMPUTE DIGITAL SIGNATURE); each declares its ``(CLA class, INS)`` table in ``COMMANDS``.
Decisions are in ``card-interface.md`` §5 and §14.

A command with secure-messaging bits in its CLA goes to the open
:class:`~jukicard.emulator.state.SecureChannel` (installed by the command that opens a
session, cleared by reset, power events and SELECT by DF name), which unwraps it, runs the
plain command through the same table and wraps the answer.  With no session open such a
command is answered ``69 FC`` (READ BINARY, VERIFY) or ``68 82``
(:func:`~jukicard.emulator.textsm.no_session_error`).
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable
from pathlib import Path

from jukicard.apdu.command import CommandApdu
from jukicard.apdu.processors import PIN_INS
from jukicard.apdu.sw import SW
from jukicard.emulator.filecmds import FileCommands
from jukicard.emulator.fs import DedicatedFile, ElementaryFile, FileSystem, PinIEF
from jukicard.emulator.identitycmds import IdentityCommands
from jukicard.emulator.mutualauth import MutualAuthCommands
from jukicard.emulator.profile import CardProfile, load_profile
from jukicard.emulator.securitycmds import SecurityCommands
from jukicard.emulator.state import CardStats, Handler, SwError
from jukicard.emulator.textsm import TextSmCommands, no_session_error
from jukicard.errors import MalformedApduError

__all__ = ["SW", "SwError", "CardStats", "CardOS", "CommandLog"]

log = logging.getLogger(__name__)

#: Optional hook called with (command bytes, response bytes) after every APDU.
#: NOTE: command bytes include PIN values; the hook is for tests only.
CommandLog = Callable[[bytes, bytes], None]


class CardOS(FileCommands, MutualAuthCommands, SecurityCommands, IdentityCommands,
             TextSmCommands):
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
        self.secure_channel = None
        self._handlers: dict[tuple[int, int], Handler] = {}
        for cls in reversed(type(self).__mro__):
            for key, name in vars(cls).get("COMMANDS", {}).items():
                self._handlers[key] = getattr(self, name)

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
                data, sw = exc.data, exc.sw
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
        self.secure_channel = None

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
        secured = bool(cmd.cla & 0x0C) and cmd.cla != 0xFF and not cmd.cla & 0x60
        # a bad CLA is answered before a length problem
        cla_class = None if secured else self._cla_class(cmd.cla)
        if cmd.is_extended and not self.extended_length:
            raise SwError(SW.WRONG_LENGTH, "extended length disabled")
        if cla_class is None:
            channel = self.secure_channel
            if channel is None:
                raise no_session_error(cmd)
            return channel.process(cmd, self._run_plain)
        self._plain_command()
        return self._handle(cla_class, cmd)

    def _run_plain(self, cmd: CommandApdu) -> bytes:
        """Run a command a secure channel unwrapped (no SM bits) through the handler
        table."""
        return self._handle(self._cla_class(cmd.cla), cmd)

    def _handle(self, cla_class: int, cmd: CommandApdu) -> bytes:
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
