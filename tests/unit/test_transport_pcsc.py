"""PcscTransport, list_readers and watch() driven by a scripted fake PC/SC API (no pcscd)."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from jukicard.errors import (
    CardRemovedError,
    CardResetError,
    MalformedApduError,
    NoReaderError,
    ReaderUnavailableError,
    SharingViolationError,
    TransportError,
    TransportTimeoutError,
    UsageError,
)
from jukicard.transport import pcsc_codes, pcsc_watch
from jukicard.transport.base import Transport
from jukicard.transport.events import CardInserted, CardRemoved, ReaderAdded, ReaderRemoved
from jukicard.transport.pcsc import (
    PNP_NOTIFICATION,
    PcscError,
    PcscTransport,
    PyscardApi,
    list_readers,
    map_pcsc_error,
    pcsc_code_name,
)

C = pcsc_codes._CODES
OK = 0
RESET = C["SCARD_W_RESET_CARD"]
REMOVED = C["SCARD_W_REMOVED_CARD"]
SHARING = C["SCARD_E_SHARING_VIOLATION"]
TIMEOUT = C["SCARD_E_TIMEOUT"]
ATR = bytes.fromhex("3BE000FF8131FE4514")
ATR2 = bytes.fromhex("3BDA13FF8131FB468012392F31C173C601C03B")
S = pcsc_codes  # constants


class FakeScard:
    """A scripted stand-in for :class:`PyscardApi`.

    ``script[method]`` is a queue of return values (or callables producing them) consumed
    before the default behaviour, which simulates a small pcscd: ``readers`` (list),
    ``cards`` (reader → ATR) and per-reader event ``counters``.
    """

    def __init__(self, readers: list[str] | None = None, cards: dict[str, bytes] | None = None):
        self.readers = ["Reader A 00 00", "Reader B 00 01"] if readers is None else readers
        self.cards = {"Reader A 00 00": ATR} if cards is None else cards
        self.counters: dict[str, int] = defaultdict(int)
        self.pnp_supported = True
        self.script: dict[str, list[Any]] = defaultdict(list)
        self.calls: list[tuple[Any, ...]] = []
        self.sent: list[list[int]] = []
        self.response = [0x90, 0x00]
        self.on_timeout: list[Callable[[], None]] = []
        self.stop: threading.Event | None = None
        self.contexts_open = 0

    def _scripted(self, method: str, *args: Any) -> Any:
        self.calls.append((method, *args))
        queue = self.script[method]
        if queue:
            item = queue.pop(0)
            return item(*args) if callable(item) else item
        return None

    def count(self, method: str) -> int:
        return sum(1 for c in self.calls if c[0] == method)

    def args(self, method: str) -> list[tuple[Any, ...]]:
        return [c[1:] for c in self.calls if c[0] == method]

    # -- ScardApi
    def establish_context(self) -> tuple[int, Any]:
        r = self._scripted("establish_context")
        if r is None:
            self.contexts_open += 1
        return r or (OK, "ctx")

    def release_context(self, context: Any) -> int:
        r = self._scripted("release_context", context)
        self.contexts_open -= 1
        return OK if r is None else r

    def list_readers(self, context: Any) -> tuple[int, list[str]]:
        r = self._scripted("list_readers", context)
        if r is not None:
            return r
        if not self.readers:
            return C["SCARD_E_NO_READERS_AVAILABLE"], []
        return OK, list(self.readers)

    def connect(
        self, context: Any, reader: str, share: int, protocols: int
    ) -> tuple[int, Any, int]:
        r = self._scripted("connect", context, reader, share, protocols)
        if r is not None:
            return r
        if reader not in self.cards:
            return C["SCARD_E_NO_SMARTCARD"], None, 0
        return OK, "hcard", S.SCARD_PROTOCOL_T1

    def reconnect(self, card: Any, share: int, protocols: int, init: int) -> tuple[int, int]:
        r = self._scripted("reconnect", card, share, protocols, init)
        return r or (OK, S.SCARD_PROTOCOL_T1)

    def disconnect(self, card: Any, disposition: int) -> int:
        r = self._scripted("disconnect", card, disposition)
        return OK if r is None else r

    def status(self, card: Any) -> tuple[int, str, int, int, list[int]]:
        r = self._scripted("status", card)
        return r or (OK, "Reader A 00 00", 0x34, S.SCARD_PROTOCOL_T1, list(ATR))

    def transmit(self, card: Any, protocol: int, apdu: list[int]) -> tuple[int, list[int]]:
        self.sent.append(apdu)
        r = self._scripted("transmit", card, protocol, apdu)
        return r or (OK, list(self.response))

    def begin_transaction(self, card: Any) -> int:
        r = self._scripted("begin_transaction", card)
        return OK if r is None else r

    def end_transaction(self, card: Any, disposition: int) -> int:
        r = self._scripted("end_transaction", card, disposition)
        return OK if r is None else r

    def cancel(self, context: Any) -> int:
        return OK

    def get_status_change(self, context: Any, timeout_ms: int, states: list[tuple[str, int]]):
        r = self._scripted("get_status_change", context, timeout_ms, states)
        if r is not None:
            return r
        out, changed = [], False
        for name, current in states:
            if name == PNP_NOTIFICATION:
                if not self.pnp_supported:
                    out.append((name, S.SCARD_STATE_UNKNOWN | S.SCARD_STATE_CHANGED, []))
                    changed = True
                    continue
                event = len(self.readers) << 16
            elif name not in self.readers:
                out.append((name, S.SCARD_STATE_UNKNOWN | S.SCARD_STATE_CHANGED, []))
                changed = True
                continue
            else:
                present = name in self.cards
                event = (self.counters[name] << 16) | (
                    S.SCARD_STATE_PRESENT if present else S.SCARD_STATE_EMPTY
                )
            if event != current & ~S.SCARD_STATE_CHANGED:
                event |= S.SCARD_STATE_CHANGED
                changed = True
            atr = list(self.cards.get(name, b""))
            out.append((name, event, atr))
        if changed:
            return OK, out
        if self.on_timeout:
            self.on_timeout.pop(0)()
        elif self.stop is not None:
            self.stop.set()
        return TIMEOUT, out

    # -- world changes for watch()
    def insert(self, reader: str, atr: bytes = ATR) -> None:
        self.cards[reader] = atr
        self.counters[reader] += 1

    def remove(self, reader: str) -> None:
        self.cards.pop(reader, None)
        self.counters[reader] += 1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make(api: FakeScard | None = None, **kw: Any) -> tuple[PcscTransport, FakeScard, Clock]:
    api = api or FakeScard()
    clock = Clock()
    kw.setdefault("reader", "Reader A 00 00")
    t = PcscTransport(api=api, sleep=clock.sleep, clock=clock, **kw)
    return t, api, clock


# --------------------------------------------------------------------------- constants
def test_constants_match_pyscard() -> None:
    scard = pytest.importorskip("smartcard.scard")
    for name, code in pcsc_codes._CODES.items():
        if name == "SCARD_E_UNSUPPORTED_FEATURE" or not hasattr(scard, name):
            continue  # pcsc-lite aliases it to SCARD_E_UNEXPECTED
        assert getattr(scard, name) & 0xFFFFFFFF == code, name
    for name in (
        "SCARD_S_SUCCESS", "SCARD_SCOPE_USER", "SCARD_SHARE_EXCLUSIVE", "SCARD_SHARE_SHARED",
        "SCARD_PROTOCOL_T0", "SCARD_PROTOCOL_T1", "SCARD_LEAVE_CARD", "SCARD_RESET_CARD",
        "SCARD_STATE_UNAWARE", "SCARD_STATE_IGNORE", "SCARD_STATE_CHANGED",
        "SCARD_STATE_UNKNOWN", "SCARD_STATE_UNAVAILABLE", "SCARD_STATE_EMPTY",
        "SCARD_STATE_PRESENT", "SCARD_STATE_MUTE",
    ):
        assert getattr(scard, name) == getattr(pcsc_codes, name), name
    assert scard.SCARD_PCI_T1 == pcsc_codes.SCARD_PROTOCOL_T1


def test_code_names() -> None:
    assert pcsc_code_name(RESET) == "SCARD_W_RESET_CARD"
    assert pcsc_code_name(0x80100069 - (1 << 32)) == "SCARD_W_REMOVED_CARD"  # signed form (Windows)
    assert pcsc_code_name(0x80109999) == "0x80109999"


# --------------------------------------------------------------------------- error mapping
@pytest.mark.parametrize(
    "name,error",
    [
        ("SCARD_W_REMOVED_CARD", CardRemovedError),
        ("SCARD_E_NO_SMARTCARD", CardRemovedError),
        ("SCARD_W_RESET_CARD", CardResetError),
        ("SCARD_E_READER_UNAVAILABLE", ReaderUnavailableError),
        ("SCARD_E_NO_SERVICE", ReaderUnavailableError),
        ("SCARD_E_SERVICE_STOPPED", ReaderUnavailableError),
        ("SCARD_E_UNKNOWN_READER", NoReaderError),
        ("SCARD_E_NO_READERS_AVAILABLE", NoReaderError),
        ("SCARD_E_TIMEOUT", TransportTimeoutError),
        ("SCARD_E_SHARING_VIOLATION", SharingViolationError),
        ("SCARD_F_COMM_ERROR", PcscError),
        ("SCARD_W_UNRESPONSIVE_CARD", PcscError),
    ],
)
def test_map_pcsc_error(name: str, error: type[TransportError]) -> None:
    err = map_pcsc_error(C[name], "SCardTransmit", "Reader A")
    assert type(err) is error
    assert name in str(err) and "SCardTransmit" in str(err)
    assert err.pcsc_code == C[name] and err.pcsc_name == name  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "name,error",
    [
        ("SCARD_W_REMOVED_CARD", CardRemovedError),
        ("SCARD_E_NO_SMARTCARD", CardRemovedError),
        ("SCARD_E_READER_UNAVAILABLE", ReaderUnavailableError),
        ("SCARD_E_NO_SERVICE", ReaderUnavailableError),
        ("SCARD_E_SERVICE_STOPPED", ReaderUnavailableError),
        ("SCARD_E_UNKNOWN_READER", NoReaderError),
        ("SCARD_E_TIMEOUT", TransportTimeoutError),
        ("SCARD_F_COMM_ERROR", PcscError),
        ("SCARD_E_INVALID_HANDLE", PcscError),
    ],
)
def test_transmit_error_mapping(name: str, error: type[TransportError]) -> None:
    t, api, _ = make()
    api.script["transmit"].append((C[name], []))
    with pytest.raises(error) as info:
        t.transmit(b"\x00\xb0\x00\x00\x04")
    assert type(info.value) is error
    assert name in str(info.value)
    assert api.count("reconnect") == 0
    assert t.generation == 1


@pytest.mark.parametrize(
    "name,error",
    [
        ("SCARD_E_NO_SMARTCARD", CardRemovedError),
        ("SCARD_E_READER_UNAVAILABLE", ReaderUnavailableError),
        ("SCARD_E_UNKNOWN_READER", NoReaderError),
        ("SCARD_E_TIMEOUT", TransportTimeoutError),
        ("SCARD_E_PROTO_MISMATCH", PcscError),
    ],
)
def test_connect_error_mapping_releases_context(name: str, error: type[TransportError]) -> None:
    api = FakeScard()
    api.script["connect"].append((C[name], None, 0))
    with pytest.raises(error):
        make(api)
    assert api.contexts_open == 0


def test_establish_context_failure() -> None:
    api = FakeScard()
    api.script["establish_context"].append((C["SCARD_E_NO_SERVICE"], None))
    with pytest.raises(ReaderUnavailableError, match="pcscd"):
        make(api)
    api.script["establish_context"].append((C["SCARD_E_NO_SERVICE"], None))
    with pytest.raises(ReaderUnavailableError):
        list_readers(api)


# --------------------------------------------------------------------------- readers
def test_list_readers() -> None:
    api = FakeScard()
    assert list_readers(api) == ["Reader A 00 00", "Reader B 00 01"]
    assert list_readers(FakeScard(readers=[])) == []
    api.script["list_readers"].append((C["SCARD_F_COMM_ERROR"], []))
    with pytest.raises(PcscError):
        list_readers(api)
    assert api.contexts_open == 0


@pytest.mark.parametrize(
    "reader,expected",
    [("Reader A 00 00", "Reader A 00 00"), ("B 00", "Reader B 00 01"), (1, "Reader B 00 01"),
     (0, "Reader A 00 00")],
)
def test_reader_selection(reader: str | int, expected: str) -> None:
    api = FakeScard(cards={"Reader A 00 00": ATR, "Reader B 00 01": ATR2})
    t, api, _ = make(api, reader=reader)
    assert t.reader == expected
    assert api.args("connect")[0][1] == expected


@pytest.mark.parametrize("reader", ["Reader", "Nope", 2, -1])
def test_reader_selection_errors(reader: str | int) -> None:
    api = FakeScard()
    with pytest.raises(NoReaderError):
        make(api, reader=reader)
    assert api.contexts_open == 0


def test_reader_selection_bad_type() -> None:
    with pytest.raises(UsageError):
        make(reader=1.5)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        make(share="maybe")  # type: ignore[arg-type]


def test_first_reader_with_card() -> None:
    api = FakeScard(cards={"Reader B 00 01": ATR2})
    t, api, _ = make(api, reader=None)
    assert t.reader == "Reader B 00 01"
    with pytest.raises(CardRemovedError, match="no card"):
        make(FakeScard(cards={}), reader=None)
    with pytest.raises(NoReaderError):
        make(FakeScard(readers=[]), reader=None)


# --------------------------------------------------------------------------- connect / share
def test_connect_exclusive_t1_and_atr() -> None:
    t, api, _ = make()
    assert isinstance(t, Transport)
    (ctx, reader, share, protocols), = api.args("connect")
    assert share == S.SCARD_SHARE_EXCLUSIVE and protocols == S.SCARD_PROTOCOL_T1
    assert t.share_mode == "exclusive" and t.active_protocol == "T1"
    assert t.atr == ATR and isinstance(t.atr, bytes)
    assert t.generation == 1


def test_protocol_choice() -> None:
    t, api, _ = make(protocol="any")
    assert api.args("connect")[0][3] == S.SCARD_PROTOCOL_T0 | S.SCARD_PROTOCOL_T1


def test_shared_fallback_on_sharing_violation() -> None:
    api = FakeScard()
    api.script["connect"].append((SHARING, None, 0))
    t, api, clock = make(api)
    shares = [a[2] for a in api.args("connect")]
    assert shares == [S.SCARD_SHARE_EXCLUSIVE, S.SCARD_SHARE_SHARED]
    assert t.share_mode == "shared"
    assert clock.sleeps == []


def test_sharing_violation_bounded_retry_then_success() -> None:
    api = FakeScard()
    api.script["connect"] += [(SHARING, None, 0)] * 4
    t, api, clock = make(api, sharing_timeout=1.0, retry_interval=0.25)
    assert len(clock.sleeps) == 2 and t.share_mode == "exclusive"


def test_sharing_violation_gives_up() -> None:
    api = FakeScard()
    api.script["connect"] += [(SHARING, None, 0)] * 100
    with pytest.raises(SharingViolationError):
        make(api, sharing_timeout=1.0, retry_interval=0.25)
    assert api.contexts_open == 0
    assert api.count("connect") == 10  # (1.0 / 0.25 + 1) rounds of exclusive + shared


def test_share_exclusive_only() -> None:
    api = FakeScard()
    api.script["connect"] += [(SHARING, None, 0)] * 3
    with pytest.raises(SharingViolationError):
        make(api, share="exclusive", sharing_timeout=0.1, retry_interval=0.1)
    assert {a[2] for a in api.args("connect")} == {S.SCARD_SHARE_EXCLUSIVE}


# --------------------------------------------------------------------------- transmit
def test_transmit_converts_at_the_boundary() -> None:
    t, api, _ = make()
    api.response = [0x30, 0x82, 0x90, 0x00]
    assert t.transmit(bytes.fromhex("00B0000002")) == (b"\x30\x82", 0x9000)
    assert api.sent == [[0x00, 0xB0, 0x00, 0x00, 0x02]]
    assert api.args("transmit")[0][1] == S.SCARD_PROTOCOL_T1


def test_transmit_malformed_response() -> None:
    t, api, _ = make()
    api.script["transmit"].append((OK, [0x90]))
    with pytest.raises(MalformedApduError):
        t.transmit(b"\x00\xb0\x00\x00")
    api.script["transmit"].append((OK, [0x100, 0x90, 0x00]))
    with pytest.raises(MalformedApduError):
        t.transmit(b"\x00\xb0\x00\x00")


def test_transmit_rejects_short_command_before_pcsc() -> None:
    t, api, _ = make()
    with pytest.raises(MalformedApduError):
        t.transmit(b"\x00\xb0")
    assert api.sent == []


def test_reset_reconnects_bumps_generation_and_never_resends() -> None:
    t, api, _ = make()
    api.script["transmit"].append((RESET, []))
    with pytest.raises(CardResetError):
        t.transmit(b"\x00\xa4\x04\x0c")
    assert len(api.sent) == 1  # not re-sent
    assert api.args("reconnect") == [("hcard", S.SCARD_SHARE_EXCLUSIVE, S.SCARD_PROTOCOL_T1,
                                      S.SCARD_LEAVE_CARD)]
    assert t.generation == 2
    assert t.transmit(b"\x00\xa4\x04\x0c") == (b"", 0x9000)
    assert len(api.sent) == 2


def test_reset_then_reconnect_finds_card_removed() -> None:
    t, api, _ = make()
    api.script["transmit"].append((RESET, []))
    api.script["reconnect"].append((REMOVED, 0))
    with pytest.raises(CardRemovedError):
        t.transmit(b"\x00\xa4\x04\x0c")
    assert t.generation == 2


def test_reset_inside_transaction_retakes_it() -> None:
    t, api, _ = make()
    api.script["transmit"].append((RESET, []))
    with pytest.raises(CardResetError):
        with t.transaction():
            t.transmit(b"\x00\xa4\x04\x0c")
    assert api.count("begin_transaction") == 2  # the original one and the re-take
    assert api.count("end_transaction") == 1
    assert t.transaction_depth == 0


def test_transaction_begin_end_once_when_nested() -> None:
    t, api, _ = make()
    with t.transaction():
        with t.transaction():
            t.transmit(b"\x00\xb0\x00\x00")
    assert api.count("begin_transaction") == 1
    assert api.args("end_transaction") == [("hcard", S.SCARD_LEAVE_CARD)]


def test_begin_transaction_sharing_violation_retry() -> None:
    t, api, clock = make(sharing_timeout=1.0, retry_interval=0.1)
    api.script["begin_transaction"] += [SHARING, SHARING]
    with t.transaction():
        pass
    assert api.count("begin_transaction") == 3 and len(clock.sleeps) == 2


def test_begin_transaction_sharing_violation_gives_up() -> None:
    t, api, clock = make(sharing_timeout=0.5, retry_interval=0.1)
    api.script["begin_transaction"] += [SHARING] * 100
    with pytest.raises(SharingViolationError):
        with t.transaction():
            pytest.fail("body must not run")
    assert t.transaction_depth == 0
    assert api.count("end_transaction") == 0


def test_begin_transaction_reset() -> None:
    t, api, _ = make()
    api.script["begin_transaction"].append(RESET)
    with pytest.raises(CardResetError):
        with t.transaction():
            pytest.fail("body must not run")
    assert t.generation == 2 and api.count("reconnect") == 1
    assert t.transaction_depth == 0


@pytest.mark.parametrize("name", ["SCARD_W_RESET_CARD", "SCARD_W_REMOVED_CARD",
                                  "SCARD_E_NOT_TRANSACTED"])
def test_end_transaction_tolerates_dead_card(name: str) -> None:
    t, api, _ = make()
    api.script["end_transaction"].append(C[name])
    with t.transaction():
        pass
    assert t.transaction_depth == 0


def test_end_transaction_other_error_raises() -> None:
    t, api, _ = make()
    api.script["end_transaction"].append(C["SCARD_F_COMM_ERROR"])
    with pytest.raises(PcscError):
        with t.transaction():
            pass


# --------------------------------------------------------------------------- reconnect / close
def test_public_reconnect_after_removal() -> None:
    t, api, _ = make()
    api.script["transmit"].append((REMOVED, []))
    with pytest.raises(CardRemovedError):
        t.transmit(b"\x00\xb0\x00\x00")
    t.reconnect()
    assert t.generation == 2
    assert api.args("disconnect") == [("hcard", S.SCARD_LEAVE_CARD)]
    assert api.count("connect") == 2
    t.reconnect(reset=True)
    assert api.args("reconnect")[-1][3] == S.SCARD_RESET_CARD
    assert t.generation == 3


def test_close_resets_card_and_releases_context() -> None:
    with make()[0] as t:
        api = t._api
    assert api.args("disconnect") == [("hcard", S.SCARD_RESET_CARD)]  # type: ignore[attr-defined]
    assert api.contexts_open == 0  # type: ignore[attr-defined]
    t.close()
    assert api.count("disconnect") == 1  # type: ignore[attr-defined]


def test_close_leave_card_and_inside_transaction() -> None:
    t, api, _ = make(reset_on_close=False)
    with t.transaction():
        t.close()
    assert api.count("end_transaction") == 1
    assert api.args("disconnect") == [("hcard", S.SCARD_LEAVE_CARD)]


# --------------------------------------------------------------------------- pyscard adapter
def test_pyscard_api_missing_pyscard(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "smartcard", None)
    with pytest.raises(ReaderUnavailableError, match="pip install pyscard"):
        PyscardApi()


def test_package_imports_without_pyscard() -> None:
    code = (
        "import sys; sys.modules['smartcard'] = None\n"
        "import jukicard.transport as t\n"
        "from jukicard.errors import ReaderUnavailableError\n"
        "try:\n"
        "    t.list_readers()\n"
        "except ReaderUnavailableError as e:\n"
        "    print('typed:', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert "typed: pyscard is not installed" in out.stdout


def test_pyscard_api_normalises_codes_and_wraps_exceptions() -> None:
    class FakeModule:
        SCARD_SCOPE_USER = 0

        @staticmethod
        def SCardTransmit(card: Any, proto: int, apdu: list[int]) -> tuple[int, list[int]]:
            return [0x80100068 - (1 << 32), []]  # signed 32-bit, list like pyscard

        @staticmethod
        def SCardBeginTransaction(card: Any) -> int:
            raise SystemError("bad handle")

    api = PyscardApi.__new__(PyscardApi)
    api._s = FakeModule  # type: ignore[attr-defined]
    assert api.transmit("h", 2, [0, 0, 0, 0]) == (RESET, [])
    with pytest.raises(TransportError, match="SCardBeginTransaction"):
        api.begin_transaction("h")


def test_pyscard_api_real_module_loads() -> None:
    pytest.importorskip("smartcard.scard")
    api = PyscardApi()
    code, _context = api.establish_context()
    assert isinstance(code, int)  # with no pcscd: SCARD_E_NO_SERVICE; both are fine
    if code == OK:
        api.release_context(_context)


# --------------------------------------------------------------------------- watch()
def run_watch(api: FakeScard, **kw: Any) -> list[Any]:
    stop = threading.Event()
    api.stop = stop
    clock = Clock()
    events = list(pcsc_watch.watch(stop=stop, api=api, sleep=clock.sleep, clock=clock, **kw))
    assert api.contexts_open == 0
    return events


def test_watch_initial_and_card_changes() -> None:
    api = FakeScard()
    api.on_timeout = [
        lambda: api.insert("Reader B 00 01", ATR2),
        lambda: api.remove("Reader A 00 00"),
    ]
    assert run_watch(api) == [
        ReaderAdded("Reader A 00 00"),
        CardInserted("Reader A 00 00", ATR),
        ReaderAdded("Reader B 00 01"),
        CardInserted("Reader B 00 01", ATR2),
        CardRemoved("Reader A 00 00"),
    ]
    assert all(a[1] <= 500 for a in api.args("get_status_change"))
    assert any(s[0] == PNP_NOTIFICATION for a in api.args("get_status_change") for s in a[2])


def test_watch_without_initial() -> None:
    api = FakeScard()
    api.on_timeout = [lambda: api.remove("Reader A 00 00")]
    assert run_watch(api, initial=False) == [CardRemoved("Reader A 00 00")]


def test_watch_card_swapped_with_same_atr() -> None:
    api = FakeScard()

    def swap() -> None:
        api.remove("Reader A 00 00")
        api.insert("Reader A 00 00", ATR)

    api.on_timeout = [swap]
    assert run_watch(api, initial=False) == [
        CardRemoved("Reader A 00 00"), CardInserted("Reader A 00 00", ATR)
    ]


def test_watch_reader_plugged_and_unplugged_via_pnp() -> None:
    api = FakeScard(readers=["Reader A 00 00"])

    def plug() -> None:
        api.readers.append("Reader C")
        api.insert("Reader C", ATR2)

    def unplug() -> None:
        api.readers.remove("Reader C")
        api.cards.pop("Reader C")

    api.on_timeout = [plug, unplug]
    assert run_watch(api, initial=False) == [
        ReaderAdded("Reader C"),
        CardInserted("Reader C", ATR2),
        CardRemoved("Reader C"),
        ReaderRemoved("Reader C"),
    ]


def test_watch_without_pnp_support_polls_reader_list() -> None:
    api = FakeScard(readers=["Reader A 00 00"])
    api.pnp_supported = False
    api.on_timeout = [lambda: api.readers.append("Reader D")]
    events = run_watch(api, initial=False)
    assert events == [ReaderAdded("Reader D")]
    assert api.count("list_readers") >= 3


def test_watch_no_readers_no_pnp_sleeps() -> None:
    api = FakeScard(readers=[], cards={})
    api.pnp_supported = False
    clock = Clock()
    gen = pcsc_watch.watch(timeout=2.0, api=api, sleep=clock.sleep, clock=clock, poll_interval=0.5)
    assert list(gen) == []
    assert clock.sleeps and all(s <= 0.5 for s in clock.sleeps)
    assert api.contexts_open == 0


def test_watch_timeout_ends() -> None:
    api = FakeScard()
    clock = Clock()

    def tick(context: Any, timeout_ms: int, states: Any) -> Any:
        clock.now += timeout_ms / 1000 or 0.1
        return TIMEOUT, [(n, s, []) for n, s in states]

    gen = pcsc_watch.watch(timeout=3.0, initial=False, api=api, sleep=clock.sleep, clock=clock)
    api.script["get_status_change"] += [tick] * 50
    # the first call (UNAWARE states) is answered by the scripted tick too: a TIMEOUT with
    # unknown states gives an empty snapshot, so no events at all
    assert list(gen) == []
    assert clock.now >= 3.0
    assert api.count("get_status_change") < 50


def test_watch_unknown_reader_relists_and_cancel_ends() -> None:
    api = FakeScard()
    api.script["get_status_change"] += [
        (C["SCARD_E_UNKNOWN_READER"], []),
        (C["SCARD_E_CANCELLED"], []),
    ]
    assert run_watch(api) == []
    assert api.count("list_readers") == 2


def test_watch_service_gone_raises() -> None:
    api = FakeScard()
    api.script["get_status_change"].append((C["SCARD_E_NO_SERVICE"], []))
    with pytest.raises(ReaderUnavailableError):
        run_watch(api)
    assert api.contexts_open == 0


def test_watch_close_releases_context() -> None:
    api = FakeScard()
    gen = pcsc_watch.watch(api=api)
    assert next(gen) == ReaderAdded("Reader A 00 00")
    gen.close()
    assert api.contexts_open == 0
