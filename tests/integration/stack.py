"""Helpers (no pytest) for the pcscd + vpcd + emulator-bridge stack.

Shared by ``tests/integration/conftest.py`` and ``benchmarks/conftest.py`` (which loads this
file by path).  pyscard is used directly here only to watch reader state; the library's own
PC/SC access in tests goes through :mod:`jukicard.transport.pcsc`.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VSTACK = ROOT / ".ci" / "vstack.sh"
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
BASE_PORT = 35963  # 0x8C7B, /etc/reader.conf.d/vpcd; slot n listens on BASE_PORT + n
READER_FMT = "Virtual PCD 00 {slot:02d}"
PROFILE_DIR = ROOT / "vectors" / "cards"
VSTACK_DIR = Path(os.environ.get("VSTACK_DIR", "/tmp/vstack-run"))

# Generous bounds for start-up waits (never used as assertions on speed).
STACK_TIMEOUT = 30.0
CARD_TIMEOUT = 20.0


class StackUnavailable(RuntimeError):
    """pcscd / vpcd / the emulator cannot be had on this machine."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


# --------------------------------------------------------------------------- pyscard helpers
def pcsc_readers() -> list[str]:
    from smartcard.System import readers

    return [str(r) for r in readers()]


def card_state(reader: str, timeout_ms: int = 0) -> int:
    """The PC/SC event state of *reader* (``SCARD_STATE_*`` bits).

    With *timeout_ms*, block in pcscd until the state changes or the time is up.
    """
    from smartcard import scard

    rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if rc != scard.SCARD_S_SUCCESS:
        raise StackUnavailable(f"SCardEstablishContext: {scard.SCardGetErrorMessage(rc)}")
    try:
        rc, states = scard.SCardGetStatusChange(ctx, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
        if rc != scard.SCARD_S_SUCCESS:
            raise StackUnavailable(f"SCardGetStatusChange: {scard.SCardGetErrorMessage(rc)}")
        state = states[0][1]
        if timeout_ms:
            current = state & ~scard.SCARD_STATE_CHANGED
            rc, states = scard.SCardGetStatusChange(ctx, timeout_ms, [(reader, current)])
            if rc == scard.SCARD_S_SUCCESS:
                state = states[0][1]
        return int(state)
    finally:
        scard.SCardReleaseContext(ctx)


def card_present(reader: str) -> bool:
    from smartcard import scard

    return bool(card_state(reader) & scard.SCARD_STATE_PRESENT)


def wait_card(
    reader: str,
    present: bool,
    timeout: float = CARD_TIMEOUT,
    proc: subprocess.Popen | None = None,
) -> bool:
    """Wait until pcscd reports a card (or no card) in *reader*; False on time-out."""
    deadline = time.monotonic() + timeout
    while True:
        if card_present(reader) == present:
            return True
        if proc is not None and proc.poll() is not None:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        card_state(reader, timeout_ms=int(min(left, 0.5) * 1000))


# --------------------------------------------------------------------------- pcscd
def _vstack(action: str) -> subprocess.CompletedProcess[str]:
    # VSTACK_USER = this process: our claim on the shared pcscd, released by stop_stack().
    env = {**os.environ, "VSTACK_USER": str(os.getpid())}
    return subprocess.run(
        ["bash", str(VSTACK), action],
        capture_output=True,
        text=True,
        timeout=STACK_TIMEOUT,
        stdin=subprocess.DEVNULL,
        env=env,
    )


def ensure_stack() -> tuple[bool, list[str]]:
    """Make sure pcscd with vpcd runs, starting it with ``.ci/vstack.sh up`` if needed.

    As root, ``up`` is always called: it starts pcscd or reuses the running one, and takes a
    claim for this process so that a concurrent run does not stop pcscd under us.

    :returns: ``(claimed, reader names)``; when ``claimed``, call :func:`stop_stack` at the
        end (it stops pcscd only if vstack started it and no other run still uses it).
    :raises StackUnavailable: not installed, not root, or start failed.
    """
    if shutil.which("pcscd") is None or not VPCD_DRIVER.exists():
        raise StackUnavailable(
            "pcscd / vsmartcard-vpcd not installed (run: bash .ci/vstack.sh install)"
        )
    if shutil.which("bash") is None or not VSTACK.exists():
        raise StackUnavailable(f"{VSTACK} missing")
    claimed = False
    if os.geteuid() == 0:
        up = _vstack("up")
        if up.returncode != 0:
            raise StackUnavailable(f"vstack up failed:\n{up.stderr.strip()}")
        claimed = True
    elif _vstack("status").returncode != 0:
        raise StackUnavailable("pcscd is not running and only root can start it")
    try:
        try:
            names = pcsc_readers()
        except Exception as exc:  # pyscard raises its own exception types
            raise StackUnavailable(f"PC/SC not usable: {exc}") from exc
        if READER_FMT.format(slot=0) not in names:
            raise StackUnavailable(f"no vpcd reader among {names}")
    except BaseException:
        if claimed:
            stop_stack()
        raise
    return claimed, names


def stop_stack() -> None:
    """Release our claim; vstack stops pcscd only if it started it and nobody else uses it."""
    _vstack("down")


# --------------------------------------------------------------------------- the bridge
@dataclass
class Bridge:
    """The emulator bridge (``python -m jukicard.emulator``) on one vpcd slot.

    Removal / insertion go through the bridge's own control: ``SIGUSR1`` toggles
    removed/inserted (the bridge closes its vpcd socket, which vpcd reports as a removal, and
    connects again on the next toggle).
    """

    proc: subprocess.Popen
    slot: int
    profile_path: Path
    log_path: Path
    removed: bool = field(default=False)
    slot_lock: int | None = field(default=None, repr=False)
    stats_path: Path | None = field(default=None)

    @property
    def port(self) -> int:
        return BASE_PORT + self.slot

    @property
    def reader(self) -> str:
        return READER_FMT.format(slot=self.slot)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _toggle(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"bridge exited ({self.proc.returncode}):\n{self.log_tail()}")
        self.proc.send_signal(signal.SIGUSR1)

    def remove(self, wait: bool = True) -> None:
        """Pull the card out of the virtual reader (and wait until pcscd sees it gone)."""
        if not self.removed:
            self._toggle()
            self.removed = True
        if wait and not wait_card(self.reader, False):
            raise RuntimeError(f"card still present in {self.reader}:\n{self.log_tail()}")

    def insert(self, wait: bool = True) -> None:
        """Put the card back (and wait until pcscd sees it)."""
        if self.removed:
            self._toggle()
            self.removed = False
        if wait and not wait_card(self.reader, True, proc=self.proc):
            raise RuntimeError(f"card not back in {self.reader}:\n{self.log_tail()}")

    def stats(self) -> dict[str, int]:
        """The card's counters (``CardStats``), from the emulator's ``--stats-file``.

        The emulator rewrites the file before it answers each APDU, so the counters include
        every command whose response the client has seen.
        """
        if self.stats_path is None:
            raise RuntimeError("this bridge was started without a stats file")
        return dict(json.loads(self.stats_path.read_text(encoding="utf-8")))

    def _terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def swap(self, profile_path: Path, log_path: Path, stats_path: Path | None = None) -> None:
        """Put another card into the same slot: stop this emulator, wait until pcscd sees
        the slot empty, and start a new emulator with *profile_path* (fresh PIN counters).
        The slot lock stays held; this object then describes the new emulator.

        :raises RuntimeError: the slot did not empty or the new card did not appear in time.
        """
        self._terminate()
        if not wait_card(self.reader, False):
            raise RuntimeError(f"card still present in {self.reader} after the emulator "
                               f"stopped:\n{self.log_tail()}")
        new = start_bridge(profile_path, log_path, slot=self.slot, stats_path=stats_path)
        self.proc, self.profile_path, self.log_path = new.proc, profile_path, log_path
        self.stats_path, self.removed = stats_path, False

    def stop(self) -> None:
        try:
            self._terminate()
        finally:
            if self.slot_lock is not None:
                os.close(self.slot_lock)  # releases the flock
                self.slot_lock = None


def _lock_slot(slot: int) -> int | None:
    """Take the per-slot lock (held while our bridge uses the slot); None if taken."""
    VSTACK_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(VSTACK_DIR / f"vpcd-slot-{slot}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def reserve_slot() -> tuple[int, int | None]:
    """A vpcd slot for our bridge: ``(slot, lock fd)``.

    A slot is free when no other test run holds its lock (``VSTACK_DIR/vpcd-slot-N.lock``,
    so two concurrent runs never pick the same slot) and no card is in its reader (an emulator
    started by hand).  ``JUKICARD_VPCD_SLOT=0|1`` forces a slot (no lock taken).
    """
    forced = os.environ.get("JUKICARD_VPCD_SLOT")
    if forced is not None:
        return int(forced), None
    for slot in (0, 1):
        fd = _lock_slot(slot)
        if fd is None:
            continue
        if not card_present(READER_FMT.format(slot=slot)):
            return slot, fd
        os.close(fd)
    raise StackUnavailable("both vpcd slots are in use (other test runs or emulators)")


def start_bridge(
    profile_path: Path,
    log_path: Path,
    slot: int | None = None,
    stats_path: Path | None = None,
) -> Bridge:
    """Start the bridge subprocess and wait until pcscd sees its card.

    With *stats_path*, the emulator keeps its card counters there (``--stats-file``), read
    with :meth:`Bridge.stats`.

    :raises StackUnavailable: no free vpcd slot.
    :raises RuntimeError: the bridge exited or no card appeared in time.
    """
    lock: int | None = None
    if slot is None:
        slot, lock = reserve_slot()
    cmd = [
        sys.executable, "-m", "jukicard.emulator",
        "--port", str(BASE_PORT + slot),
        "--profile", str(profile_path),
        "--reconnect",
    ]
    if stats_path is not None:
        cmd += ["--stats-file", str(stats_path)]
    try:
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except BaseException:
        if lock is not None:
            os.close(lock)
        raise
    bridge = Bridge(
        proc=proc, slot=slot, profile_path=profile_path, log_path=log_path, slot_lock=lock,
        stats_path=stats_path,
    )
    if not wait_card(bridge.reader, True, proc=proc):
        code = proc.poll()
        bridge.stop()
        raise RuntimeError(
            f"emulator bridge did not bring a card into {bridge.reader!r} "
            f"(exit code {code}):\n{bridge.log_tail()}"
        )
    return bridge
