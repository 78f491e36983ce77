"""The jukicard protocol (our own card–system mutual authentication + secure messaging; NOT
住基ネット's): what it costs against a plain read, in-process and through pcscd + vpcd.

``python3 -m pytest benchmarks/test_jukicard_protocol.py --benchmark-only -p no:randomly``
(``-s`` prints the ratio table; ``JUKICARD_BENCH_JP_MD=/tmp/jp.md`` writes it as Markdown).

Measured on the 住基AP of ``juki-01`` with the keys in a throwaway SoftHSM2 token:

* ``plain read`` (the baseline of each transport): SELECT EF ``0030`` + READ BINARY (23 B),
  unprotected, on a selected application;
* ``SM read``: the same two commands under secure messaging on an authenticated session;
* ``auth + SM read``: a new session: SELECT of the application, key-information read, three
  key diversifications in the token, GET CHALLENGE, MUTUAL AUTHENTICATE (the host's
  cryptogram, check and KDF in the token), then the SM read.

Every figure reported is a ratio to the plain read of the same transport in the same run.
The outcome of each timed call is checked; its time never is.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import platform
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jukicard.apdu.command import CommandApdu
from jukicard.card.channel import CardChannel
from jukicard.card.mutual import KEY_INFO_EF, JukicardProtocolSession, KeyInfo
from jukicard.keys import KeySession, KeyStore, TokenKey

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "vectors" / "cards" / "juki-01.json"
JUKI_AID = bytes.fromhex("D3921000310001010401")
CARD_ID = "TESTJUKI00000001"
#: (transport, what) -> median seconds
MEDIANS: dict[tuple[str, str], float] = {}


def _load(name: str, path: Path) -> Any:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


stack = _load("jukicard_it_stack", ROOT / "tests" / "integration" / "stack.py")  # = conftest's
softhsm = _load("softhsm_support", ROOT / "tests" / "softhsm_support.py")


@pytest.fixture(scope="module")
def token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from softhsm.build_token(tmp_path_factory)


@pytest.fixture(scope="module")
def keys(token: Any) -> Iterator[KeySession]:
    with KeyStore.open(token) as ks:
        yield ks


@pytest.fixture(scope="module")
def master(keys: KeySession) -> TokenKey:
    return keys.key(softhsm.PROTOCOL_MASTER_LABEL)


@pytest.fixture(scope="module")
def in_process() -> Iterator[Any]:
    from jukicard.emulator.cardos import CardOS
    from jukicard.transport.loopback import LoopbackTransport

    t = LoopbackTransport(CardOS(PROFILE))
    yield t
    t.close()


@pytest.fixture(scope="module")
def vpcd(vpcd_stack: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from jukicard.transport import pcsc

    bridge = stack.start_bridge(PROFILE, tmp_path_factory.mktemp("jp-bridge") / "log")
    try:
        t = pcsc.PcscTransport(bridge.reader, share="exclusive")
        yield t
        t.close()
    finally:
        bridge.stop()


def _measure(benchmark: Any, transport: str, what: str, fn: Callable[[], Any]) -> Any:
    benchmark.group = f"jukicard protocol ({transport})"
    benchmark.extra_info["transport"] = transport
    result = benchmark(fn)
    if benchmark.stats is not None:
        MEDIANS[(transport, what)] = benchmark.stats.stats.median
    return result


def _plain_read(t: Any) -> Callable[[], bytes]:
    channel = CardChannel.of(t)
    assert channel.send(CommandApdu(0x00, 0xA4, 0x04, 0x0C, JUKI_AID)).sw == 0x9000

    def read() -> bytes:
        assert channel.send(CommandApdu(0x00, 0xA4, 0x02, 0x0C, b"\x00\x30")).sw == 0x9000
        resp = channel.send(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256))
        assert resp.sw == 0x9000
        return resp.data

    return read


def _sm_read(t: Any, keys: KeySession, master: TokenKey) -> Callable[[], bytes]:
    s = JukicardProtocolSession(t)
    s.authenticate(keys, master)
    return lambda: s.read_ef(KEY_INFO_EF)


def _auth_and_read(t: Any, keys: KeySession, master: TokenKey) -> Callable[[], bytes]:
    def run() -> bytes:
        s = JukicardProtocolSession(t)
        s.authenticate(keys, master)
        data = s.read_ef(KEY_INFO_EF)
        s.close()
        return data

    return run


def _transport(request: pytest.FixtureRequest, name: str) -> Any:
    return request.getfixturevalue("in_process" if name == "in-process" else "vpcd")


@pytest.mark.parametrize("where", ["in-process", "vpcd"])
def test_plain_read(benchmark: Any, request: pytest.FixtureRequest, where: str) -> None:
    data = _measure(benchmark, where, "plain read", _plain_read(_transport(request, where)))
    assert KeyInfo.parse(data).card_id == CARD_ID


@pytest.mark.parametrize("where", ["in-process", "vpcd"])
def test_sm_read(benchmark: Any, request: pytest.FixtureRequest, keys: KeySession,
                 master: TokenKey, where: str) -> None:
    data = _measure(benchmark, where, "SM read", _sm_read(_transport(request, where), keys,
                                                          master))
    assert KeyInfo.parse(data).card_id == CARD_ID


@pytest.mark.parametrize("where", ["in-process", "vpcd"])
def test_auth_and_sm_read(benchmark: Any, request: pytest.FixtureRequest, keys: KeySession,
                          master: TokenKey, where: str) -> None:
    data = _measure(benchmark, where, "auth + SM read",
                    _auth_and_read(_transport(request, where), keys, master))
    assert KeyInfo.parse(data).card_id == CARD_ID


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    """After the module: the ratio table (stdout with ``-s``; ``JUKICARD_BENCH_JP_MD``)."""
    yield
    rows = ["| transport | operation | median µs | / plain read |", "|---|---|---|---|"]
    for (where, what), median in sorted(MEDIANS.items()):
        base = MEDIANS.get((where, "plain read"))
        ratio = f"{median / base:,.1f}×" if base else "n/a"
        rows.append(f"| {where} | {what} | {median * 1e6:,.0f} | {ratio} |")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    text = f"Measured {dt.date.today().isoformat()} on {machine}\n\n" + "\n".join(rows) + "\n"
    print("\n" + text)
    out = os.environ.get("JUKICARD_BENCH_JP_MD")
    if out:
        Path(out).write_text(text, encoding="utf-8")
