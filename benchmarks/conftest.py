"""Fixtures and the ratio report for the transport benchmarks.

Run with ``python3 -m pytest benchmarks --benchmark-only`` (not part of the test command).

Every benchmark goes through :func:`measure`, which records the median and the 99th
percentile of its rounds.  At the end a table reports each result as a ratio against the
baselines measured in the same run (a trivial Python call, and ``CardOS.execute`` called
directly), so numbers from different machines can be compared.  Nothing here asserts on time:
a vpcd median of 5 ms or more is only flagged (that is the 44 ms Nagle / delayed-ACK pitfall
of virtual-card-stack.md §6 coming back).  Set ``JUKICARD_BENCH_MD=path`` to also write the
table as Markdown (to paste into benchmarks/README.md).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import math
import os
import platform
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROFILE = os.environ.get("JUKICARD_BENCH_PROFILE", "mynumber-01")

#: Flag (never assert) a vpcd median at or above this (seconds).
VPCD_FLAG_S = 5e-3


def _load_stack() -> Any:
    name = "jukicard_it_stack"
    if name in sys.modules:
        return sys.modules[name]
    path = ROOT / "tests" / "integration" / "stack.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


stack = _load_stack()


# --------------------------------------------------------------------------- recording
@dataclass(frozen=True)
class Result:
    layer: str
    apdu: str
    rounds: int
    iterations: int
    median: float  # seconds per call
    p99: float
    baseline: str | None = None  # "call" | "execute" | None

    @property
    def name(self) -> str:
        return f"{self.layer}: {self.apdu}" if self.apdu else self.layer


#: (layer, apdu) -> Result, filled by :func:`measure`.
RESULTS: dict[tuple[str, str], Result] = {}


def percentile(data: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of *data*."""
    ordered = sorted(data)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@pytest.fixture
def measure(benchmark: Any) -> Callable[..., Any]:
    """``measure(layer, apdu_name, fn, *args, baseline=None)``: benchmark ``fn(*args)``.

    ``baseline="call"`` marks the trivial-call baseline, ``baseline="execute"`` the
    ``CardOS.execute`` baseline (one per APDU); every result is divided by both.

    Each round's time is per call (pytest-benchmark divides by the iterations it
    calibrated; calls of a few µs or more run one iteration per round, so their p99 is a
    per-call p99).
    """

    def run(
        layer: str, apdu: str, fn: Callable[..., Any], *args: Any, baseline: str | None = None
    ) -> Any:
        benchmark.group = apdu or layer
        benchmark.extra_info["layer"] = layer
        result = benchmark(fn, *args)
        meta = benchmark.stats
        if meta is not None and meta.stats.data:
            data = list(meta.stats.data)
            RESULTS[(layer, apdu)] = Result(
                layer=layer,
                apdu=apdu,
                rounds=len(data),
                iterations=int(meta.iterations),
                median=percentile(data, 50),
                p99=percentile(data, 99),
                baseline=baseline,
            )
        return result

    return run


def _fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:,.2f}"


def _table() -> list[str]:
    call = next((r for r in RESULTS.values() if r.baseline == "call"), None)
    execute_by_apdu = {r.apdu: r for r in RESULTS.values() if r.baseline == "execute"}
    rows = [
        "| layer | APDU | rounds × iterations | median µs | p99 µs | median / trivial call "
        "| median / CardOS.execute (same APDU) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sorted(RESULTS.values(), key=lambda r: (r.apdu, r.median)):
        execute = execute_by_apdu.get(r.apdu)
        ratio_call = f"{r.median / call.median:,.0f}×" if call else "n/a"
        ratio_exec = f"{r.median / execute.median:,.1f}×" if execute and r.apdu else "—"
        rows.append(
            f"| {r.layer} | {r.apdu or '—'} | {r.rounds} × {r.iterations} | {_fmt_us(r.median)} "
            f"| {_fmt_us(r.p99)} | {ratio_call} | {ratio_exec} |"
        )
    return rows


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RESULTS:
        return
    tr = terminalreporter
    tr.section("jukicard round trips (ratios against baselines of this run)")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    tr.write_line(f"{dt.date.today().isoformat()} — {machine}")
    for line in _table():
        tr.write_line(line)
    for r in RESULTS.values():
        if "vpcd" in r.layer and r.median >= VPCD_FLAG_S:
            tr.write_line(
                f"WARNING: {r.name}: median {r.median * 1e3:.1f} ms ≥ 5 ms — the 44 ms "
                "vpcd Nagle/delayed-ACK pitfall (virtual-card-stack.md §6)?",
                yellow=True,
            )
    out = os.environ.get("JUKICARD_BENCH_MD")
    if out:
        Path(out).write_text(
            f"Measured {dt.date.today().isoformat()} on {machine}\n\n" + "\n".join(_table()) + "\n",
            encoding="utf-8",
        )


# --------------------------------------------------------------------------- cards
@pytest.fixture(scope="session")
def profile_path() -> Path:
    path = ROOT / "vectors" / "cards" / f"{PROFILE}.json"
    if not path.is_file():
        pytest.skip(f"card profile {path} missing (python -m jukicard.testing.pkigen)")
    return path


@pytest.fixture
def cardos(profile_path: Path) -> Any:
    """A fresh, powered emulated card (in-process)."""
    from jukicard.emulator.cardos import CardOS

    card = CardOS(profile_path)
    card.power_on()
    return card


@pytest.fixture(scope="session")
def vpcd_stack() -> Iterator[None]:
    """pcscd + vpcd for the whole run, started (and later stopped) only if needed.  One
    fixture for every benchmark module: a module that stopped pcscd when it finished took
    the stack away from the modules after it."""
    try:
        claimed, _names = stack.ensure_stack()
    except stack.StackUnavailable as exc:
        pytest.skip(f"vpcd stack unavailable: {exc}")
    try:
        yield
    finally:
        if claimed:
            stack.stop_stack()


@pytest.fixture(scope="session")
def vpcd_bridge(vpcd_stack: None, profile_path: Path,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The emulator bridge serving :data:`PROFILE` on the shared stack."""
    bridge = stack.start_bridge(profile_path, tmp_path_factory.mktemp("bridge") / "log")
    try:
        yield bridge
    finally:
        bridge.stop()
