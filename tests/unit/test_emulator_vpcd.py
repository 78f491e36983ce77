"""Unit tests for the vpcd bridge, against a fake vpcd server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jukicard.emulator import CardOS, CardProfile, VpcdBridge
from jukicard.emulator.sample import JPKI_AID, new_key_pem, sample_profile_json

REPO = Path(__file__).resolve().parents[2]
WAIT = 10.0  # generous bound for blocking waits; never asserted on


# --------------------------------------------------------------------------- fake vpcd
class FakeVpcd:
    """The server side of the vpcd protocol, as pcscd's vpcd would speak it."""

    def __init__(self, port: int = 0) -> None:
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", port))
        self.srv.listen(4)
        self.srv.settimeout(WAIT)
        self.port = self.srv.getsockname()[1]

    def accept(self) -> socket.socket:
        conn, _ = self.srv.accept()
        conn.settimeout(WAIT)
        return conn

    def close(self) -> None:
        self.srv.close()

    @staticmethod
    def _recv_exact(conn: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            part = conn.recv(n - len(buf))
            if not part:
                raise EOFError
            buf += part
        return buf

    @classmethod
    def recv_frame(cls, conn: socket.socket) -> bytes:
        (n,) = struct.unpack(">H", cls._recv_exact(conn, 2))
        return cls._recv_exact(conn, n)

    @staticmethod
    def send_frame(conn: socket.socket, payload: bytes, split: bool = False) -> None:
        header = struct.pack(">H", len(payload))
        if split:  # old vpcd: two writes
            conn.sendall(header)
            conn.sendall(payload)
        else:
            conn.sendall(header + payload)

    def atr(self, conn: socket.socket) -> bytes:
        self.send_frame(conn, b"\x04")
        return self.recv_frame(conn)

    def apdu(self, conn: socket.socket, hexstr: str, split: bool = False) -> bytes:
        self.send_frame(conn, bytes.fromhex(hexstr), split)
        return self.recv_frame(conn)

    @staticmethod
    def is_closed(conn: socket.socket) -> bool:
        try:
            return conn.recv(1) == b""
        except ConnectionResetError:
            return True


@pytest.fixture(scope="module")
def profile_json() -> dict:
    pem = new_key_pem(1024)
    return sample_profile_json(auth_key_pem=pem, sign_key_pem=pem)


@pytest.fixture
def card(profile_json: dict) -> CardOS:
    return CardOS(CardProfile.from_json(profile_json))


@pytest.fixture
def vpcd() -> Iterator[FakeVpcd]:
    v = FakeVpcd()
    yield v
    v.close()


class Running:
    def __init__(self, bridge: VpcdBridge, events: queue.Queue[str]) -> None:
        self.bridge, self.events = bridge, events

    def wait_event(self, name: str) -> None:
        while True:
            if self.events.get(timeout=WAIT) == name:
                return


@pytest.fixture
def run_bridge(card: CardOS, vpcd: FakeVpcd) -> Iterator:
    started: list[VpcdBridge] = []

    def start(**kw: object) -> Running:
        events: queue.Queue[str] = queue.Queue()
        kw.setdefault("retry_interval", 0.05)
        b = VpcdBridge(card, "127.0.0.1", vpcd.port, on_event=events.put, **kw)  # type: ignore
        b.start()
        started.append(b)
        return Running(b, events)

    yield start
    for b in started:
        b.stop()
        b.join(WAIT)


# --------------------------------------------------------------------------- protocol
def test_atr_and_control_bytes(card: CardOS, vpcd: FakeVpcd, run_bridge) -> None:
    run_bridge()
    conn = vpcd.accept()
    assert vpcd.atr(conn) == bytes.fromhex("3BE000FF8131FE4514")
    for ctrl in (b"\x01", b"\x02", b"\x00", b"\x01", b"\x07"):  # no reply to these
        vpcd.send_frame(conn, ctrl)
    assert vpcd.atr(conn) == card.atr  # the next frame back is the ATR, nothing before it
    assert (card.stats.power_ons, card.stats.resets, card.stats.power_offs) == (2, 1, 1)
    assert card.powered


def test_insertion_sequence_then_apdus(card: CardOS, vpcd: FakeVpcd, run_bridge) -> None:
    run_bridge()
    conn = vpcd.accept()
    for ctrl in (b"\x04", b"\x04", b"\x01", b"\x04"):
        vpcd.send_frame(conn, ctrl)
        if ctrl == b"\x04":
            assert vpcd.recv_frame(conn) == card.atr
    assert vpcd.apdu(conn, f"00A4040C0A{JPKI_AID}") == b"\x90\x00"
    assert vpcd.apdu(conn, "00A4020C020018") == b"\x90\x00"
    assert vpcd.apdu(conn, "00200080") == b"\x63\xc3"
    assert vpcd.apdu(conn, "00A4020C02000A", split=True) == b"\x90\x00"
    resp = vpcd.apdu(conn, "00B00000000800")  # extended Le 2048
    assert resp[-2:] == b"\x90\x00" and len(resp) == 1571 + 2
    assert vpcd.apdu(conn, "00A4040006A00000000101") == b"\x6a\x82"


def test_power_off_clears_card_state(card: CardOS, vpcd: FakeVpcd, run_bridge) -> None:
    run_bridge()
    conn = vpcd.accept()
    vpcd.send_frame(conn, b"\x01")
    assert vpcd.apdu(conn, f"00A4040C0A{JPKI_AID}") == b"\x90\x00"
    assert vpcd.apdu(conn, "00A4020C020018") == b"\x90\x00"
    assert vpcd.apdu(conn, "002000800431323334") == b"\x90\x00"
    vpcd.send_frame(conn, b"\x00")
    vpcd.send_frame(conn, b"\x01")
    assert vpcd.apdu(conn, "00A4020C020017") == b"\x6a\x82"  # no DF selected any more
    assert vpcd.apdu(conn, f"00A4040C0A{JPKI_AID}") == b"\x90\x00"
    assert vpcd.apdu(conn, "00A4020C020017") == b"\x90\x00"
    assert vpcd.apdu(conn, "802A0080012000") == b"\x69\x82"


def test_malformed_apdu_still_gets_a_status_word(vpcd: FakeVpcd, run_bridge) -> None:
    run_bridge()
    conn = vpcd.accept()
    assert vpcd.apdu(conn, "00B0") == b"\x67\x00"
    vpcd.send_frame(conn, b"")  # zero-length frame: ignored
    assert vpcd.apdu(conn, "00840000") == b"\x67\x00"


class _BigCard:
    atr = bytes.fromhex("3BE000FF8131FE4514")

    def execute(self, apdu: bytes) -> bytes:
        return bytes(70000) + b"\x90\x00" if apdu[1] == 0xB0 else b""

    def power_on(self) -> None: ...

    def power_off(self) -> None: ...

    def reset(self) -> None: ...


def test_unframeable_responses_become_6700(vpcd: FakeVpcd) -> None:
    bridge = VpcdBridge(_BigCard(), "127.0.0.1", vpcd.port)
    bridge.start()
    try:
        conn = vpcd.accept()
        assert vpcd.apdu(conn, "00B00000000000") == b"\x67\x00"
        assert vpcd.apdu(conn, "00A4000000") == b"\x67\x00"  # empty would mean "removed"
    finally:
        bridge.stop()
        bridge.join(WAIT)


# --------------------------------------------------------------------------- socket details
class _RecordingSocket:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.calls: list[tuple] = []

    def setsockopt(self, level: int, opt: int, value: int) -> None:
        self.calls.append(("setsockopt", level, opt, value))

    def recv(self, n: int) -> bytes:
        self.calls.append(("recv", n))
        return self.chunks.pop(0) if self.chunks else b""

    def sendall(self, data: bytes) -> None:
        self.calls.append(("sendall", bytes(data)))


@pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"), reason="Linux only")
def test_quickack_rearmed_before_every_recv() -> None:
    s = _RecordingSocket([b"\x00", b"\x05\x00", b"\xa4"])
    assert VpcdBridge._recv_exact(s, 4) == b"\x00\x05\x00\xa4"  # type: ignore[arg-type]
    quickack = ("setsockopt", socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    assert s.calls == [quickack, ("recv", 4), quickack, ("recv", 3), quickack, ("recv", 1)]


def test_reply_is_one_write() -> None:
    s = _RecordingSocket([])
    VpcdBridge._send(s, b"\x90\x00")  # type: ignore[arg-type]
    assert s.calls == [("sendall", b"\x00\x02\x90\x00")]


def test_tcp_nodelay_is_set(vpcd: FakeVpcd, run_bridge) -> None:
    r = run_bridge()
    conn = vpcd.accept()  # keep a reference: a collected socket would close
    assert r.bridge.wait_connected(WAIT)
    with r.bridge._lock:
        sock = r.bridge._sock
        assert sock is not None
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    assert vpcd.atr(conn)


# --------------------------------------------------------------------------- insert / remove
def test_remove_closes_socket_and_insert_reconnects(card: CardOS, vpcd: FakeVpcd,
                                                    run_bridge) -> None:
    r = run_bridge()
    conn = vpcd.accept()
    vpcd.send_frame(conn, b"\x01")
    assert vpcd.apdu(conn, f"00A4040C0A{JPKI_AID}") == b"\x90\x00"
    r.bridge.remove()
    r.wait_event("removed")
    assert vpcd.is_closed(conn)  # vpcd sees the card removed
    assert not r.bridge.inserted
    assert card.current_df is None
    r.bridge.remove()  # idempotent
    r.bridge.insert()
    conn2 = vpcd.accept()
    r.wait_event("connected")
    assert vpcd.atr(conn2) == card.atr
    assert vpcd.apdu(conn2, "00A4020C020018") == b"\x6a\x82"  # fresh card state
    assert r.bridge.connections == 2


def test_toggle(vpcd: FakeVpcd, run_bridge) -> None:
    r = run_bridge()
    conn = vpcd.accept()
    r.bridge.toggle()
    assert vpcd.is_closed(conn)
    r.bridge.toggle()
    conn2 = vpcd.accept()
    assert vpcd.atr(conn2)


def test_reset_clears_volatile_state(card: CardOS, vpcd: FakeVpcd, run_bridge) -> None:
    r = run_bridge()
    conn = vpcd.accept()
    assert vpcd.apdu(conn, f"00A4040C0A{JPKI_AID}") == b"\x90\x00"
    r.bridge.reset()
    r.wait_event("reset")
    assert vpcd.apdu(conn, "00A4020C020018") == b"\x6a\x82"


def test_vpcd_going_away_without_reconnect_ends_run(vpcd: FakeVpcd, run_bridge) -> None:
    r = run_bridge(reconnect=False)
    conn = vpcd.accept()
    conn.close()
    r.wait_event("disconnected")
    r.wait_event("stopped")
    r.bridge.join(WAIT)
    assert not r.bridge._thread.is_alive()  # type: ignore[union-attr]


def test_vpcd_going_away_with_reconnect(card: CardOS, vpcd: FakeVpcd, run_bridge) -> None:
    r = run_bridge(reconnect=True)
    vpcd.accept().close()
    r.wait_event("disconnected")
    conn = vpcd.accept()
    assert vpcd.atr(conn) == card.atr


def test_reconnect_waits_for_vpcd_to_come_up(card: CardOS) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    events: queue.Queue[str] = queue.Queue()
    bridge = VpcdBridge(card, "127.0.0.1", port, reconnect=True, retry_interval=0.05,
                        on_event=events.put)
    bridge.start()
    try:
        server = FakeVpcd(port)
        try:
            conn = server.accept()
            assert server.atr(conn) == card.atr
        finally:
            server.close()
    finally:
        bridge.stop()
        bridge.join(WAIT)


def test_no_vpcd_without_reconnect_raises(card: CardOS) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(ConnectionError):
        VpcdBridge(card, "127.0.0.1", port).run()


def test_stop_ends_run(vpcd: FakeVpcd, run_bridge) -> None:
    r = run_bridge()
    conn = vpcd.accept()
    r.bridge.stop()
    r.wait_event("stopped")
    assert vpcd.is_closed(conn)


# --------------------------------------------------------------------------- command line
@pytest.fixture
def profile_path(tmp_path: Path, profile_json: dict) -> Path:
    p = tmp_path / "card.json"
    p.write_text(json.dumps(profile_json), encoding="utf-8")
    return p


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, "-m", "jukicard.emulator", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


class _Lines:
    """Read a child's stdout lines in a thread, so waiting for one can time out."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.q: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None
        stream = proc.stdout
        threading.Thread(target=lambda: [self.q.put(x) for x in stream], daemon=True).start()

    def expect(self, event: str) -> None:
        try:
            line = self.q.get(timeout=WAIT)
        except queue.Empty:
            pytest.fail(f"no {event!r} line from the emulator")
        assert line.strip() == f"jukicard-emulator: {event}", line


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="POSIX signals")
def test_cli_serves_card_and_obeys_signals(vpcd: FakeVpcd, profile_path: Path) -> None:
    proc = _spawn("--profile", str(profile_path), "--port", str(vpcd.port), "--short-apdu")
    lines = _Lines(proc)
    try:
        conn = vpcd.accept()
        lines.expect("connected")
        assert vpcd.atr(conn) == bytes.fromhex("3BE000FF8131FE4514")
        vpcd.send_frame(conn, b"\x01")
        assert vpcd.apdu(conn, f"00A4040C0A{JPKI_AID}") == b"\x90\x00"
        assert vpcd.apdu(conn, "00A4020C02000A") == b"\x90\x00"
        assert vpcd.apdu(conn, "00B00000000800") == b"\x67\x00"  # --short-apdu
        proc.send_signal(signal.SIGUSR2)  # reset
        lines.expect("reset")
        assert vpcd.apdu(conn, "00B0000004") == b"\x69\x86"
        proc.send_signal(signal.SIGUSR1)  # remove
        lines.expect("removed")
        assert vpcd.is_closed(conn)
        proc.send_signal(signal.SIGUSR1)  # insert
        lines.expect("inserted")
        conn2 = vpcd.accept()
        lines.expect("connected")
        assert vpcd.atr(conn2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT) == 0
        lines.expect("stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_bad_profile_exits_2(tmp_path: Path) -> None:
    """A missing profile is the operator's mistake: a usage error, exit 2 (issue 8 review;
    it exited 1, like a vpcd that cannot be reached)."""
    proc = _spawn("--profile", str(tmp_path / "absent.json"), "--port", "1")
    _, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 2 and "cannot read" in err


def test_cli_no_vpcd_exits_1(profile_path: Path) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    proc = _spawn("--profile", str(profile_path), "--port", str(port))
    _, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 1 and "cannot connect" in err


def test_cli_bad_arguments_exit_2(profile_path: Path) -> None:
    proc = _spawn("--profile", str(profile_path), "--atr", "zz")
    proc.communicate(timeout=WAIT)
    assert proc.returncode == 2
    proc = _spawn()
    proc.communicate(timeout=WAIT)
    assert proc.returncode == 2


def test_bridge_thread_safety_of_control_calls(card: CardOS, vpcd: FakeVpcd, run_bridge) -> None:
    r = run_bridge()
    conn = vpcd.accept()
    done = threading.Event()

    def flap() -> None:
        for _ in range(20):
            r.bridge.reset()
        done.set()

    t = threading.Thread(target=flap)
    t.start()
    for _ in range(50):
        assert vpcd.apdu(conn, "0084000008")[-2:] == b"\x90\x00"
    t.join(WAIT)
    assert done.is_set()


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="POSIX signals")
def test_cli_survives_a_burst_of_signals(vpcd: FakeVpcd, profile_path: Path) -> None:
    """Control signals never deadlock the process (no lock is taken inside a handler)."""
    proc = _spawn("--profile", str(profile_path), "--port", str(vpcd.port), "--reconnect")
    lines = _Lines(proc)
    try:
        conns = [vpcd.accept()]
        lines.expect("connected")
        for i in range(200):
            proc.send_signal(signal.SIGUSR2 if i % 3 else signal.SIGUSR1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    del conns


def test_cli_exits_0_when_vpcd_goes_away(vpcd: FakeVpcd, profile_path: Path) -> None:
    proc = _spawn("--profile", str(profile_path), "--port", str(vpcd.port))
    try:
        vpcd.accept().close()
        assert proc.wait(WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_operator_lines_are_written_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each operator line is ONE write, newline included.  Fails on the old code: print()
    wrote the text and the newline separately, so 'inserted' (signal handler) and
    'connected' (serving thread) could run together on one line (seen in a suite run)."""
    import io

    from jukicard.emulator.__main__ import main

    class Writes(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[str] = []

        def write(self, s: str) -> int:
            self.calls.append(s)
            return super().write(s)

    err = Writes()
    monkeypatch.setattr("sys.stderr", err)
    assert main(["--profile", str(tmp_path / "absent.json"), "--port", "1"]) == 2
    lines = [c for c in err.calls if "jukicard-emulator:" in c]
    assert lines and all(c.endswith("\n") and c.count("\n") == 1 for c in lines), err.calls
