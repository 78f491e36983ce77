"""Render time of the simulated vein device (jukicard-vein-sim, issue 12).

``python3 -m pytest benchmarks/test_vein_sim.py --benchmark-only -s``

Timed: one 80×240 capture render (params draw, warp, depth blur, noise, quantisation) of a
cached finger, and the quality measure, each against a same-run baseline: filling an
80×240 uint8 array from ``np.random`` (a ratio, not microseconds, is the figure to compare
across machines).  The finger model (graph + canonical maps, once per finger) is timed
too.  Nothing here asserts on time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from jukicard_vein_sim.device import SimulatedVeinDevice
from jukicard_vein_sim.graph import graph_rng, make_graph
from jukicard_vein_sim.quality import measure_quality
from jukicard_vein_sim.render import PRESETS, FingerModel, draw_params, render

MEDIANS: dict[str, float] = {}


def _record(benchmark: Any, name: str) -> None:
    MEDIANS[name] = float(benchmark.stats.stats.median)
    base = MEDIANS.get("baseline")
    if base and name != "baseline":
        print(f"\n{name}: median {MEDIANS[name] * 1e3:.2f} ms = "
              f"{MEDIANS[name] / base:,.0f}× the np.random 80×240 fill")


def test_baseline_random_fill(benchmark: Any) -> None:
    rng = np.random.default_rng(0)
    out = benchmark(lambda: rng.integers(0, 256, (80, 240), dtype=np.uint8))
    assert out.shape == (80, 240)
    _record(benchmark, "baseline")


@pytest.mark.parametrize("preset", ["standard"])
def test_render_one_capture(benchmark: Any, preset: str) -> None:
    model = FingerModel(make_graph(graph_rng(0, 1, 0)), (80, 240), 1)
    rng = np.random.default_rng(0)

    def one() -> np.ndarray:
        image, _ = render(model, draw_params(PRESETS[preset], rng, (80, 240)), rng)
        return image

    assert one().dtype == np.uint8
    benchmark(one)
    _record(benchmark, f"render ({preset})")


def test_device_capture(benchmark: Any) -> None:
    from jukicard.operator import CapturePurpose

    dev = SimulatedVeinDevice(seed=0, subjects=2)
    dev.open()
    dev.present(1, 0)
    cap = benchmark(dev.capture, CapturePurpose.VERIFY, 1.0)
    assert cap.quality is not None
    _record(benchmark, "device.capture (render + quality + PAD)")


def test_quality_measure(benchmark: Any) -> None:
    dev = SimulatedVeinDevice(seed=0, subjects=2)
    image, _mask, _p = dev.render_truth(1, 0, 0)
    assert benchmark(measure_quality, image) > 0
    _record(benchmark, "quality measure")


def test_finger_model_once_per_finger(benchmark: Any) -> None:
    counter = iter(range(10**6))
    benchmark(lambda: FingerModel(make_graph(graph_rng(0, next(counter), 0)), (80, 240), 1))
    _record(benchmark, "finger model (graph + canonical maps)")
