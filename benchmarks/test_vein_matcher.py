"""mc-miura speed: one enrolment (3 captures) + one verification, against same-run baselines.

``python3 -m pytest benchmarks/test_vein_matcher.py --benchmark-only``.  Images come from
the simulated device (rendered before timing).  The issue's target is ≤ 150 ms for enrol +
verify on the reference machine; nothing here asserts on time — the ratio table in the
terminal summary reports it (see conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from jukicard.operator import Capture, CapturePurpose
from jukicard.operator.matching import MaxCurvatureMiura

sim = pytest.importorskip("jukicard_vein_sim")
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    device = sim.SimulatedVeinDevice(seed=0, preset="standard", subjects=10)
    return [device.render_truth(3, 0, k)[0] for k in range(4)]


def _capture(image: np.ndarray) -> Capture:
    return Capture(CapturePurpose.ENROL, image.copy(), 80, None, "bench", datetime.now(UTC))


def _enrol_verify(matcher: MaxCurvatureMiura, images: list[np.ndarray]) -> bool:
    template = matcher.create_template([matcher.extract(_capture(i)) for i in images[:3]])
    return matcher.verify(template, matcher.extract(_capture(images[3])), 1e-3).match


def _baseline_numpy(image: np.ndarray) -> float:
    """A fixed NumPy workload of about the matcher's size: one 2-D FFT of the image."""
    return float(np.abs(np.fft.rfft2(image.astype(np.float64))).sum())


def test_baseline_trivial_call(measure: Callable[..., Any]) -> None:
    measure("baseline: trivial Python call", "", lambda: None, baseline="call")


def test_baseline_numpy_fft(measure: Callable[..., Any], images: list[np.ndarray]) -> None:
    measure("baseline: NumPy rfft2 80x240", "vein", _baseline_numpy, images[0],
            baseline="execute")


@pytest.mark.parametrize("protected", [False, True], ids=["plain", "protected"])
def test_enrol_and_verify(measure: Callable[..., Any], images: list[np.ndarray],
                          protected: bool) -> None:
    matcher = MaxCurvatureMiura(KEY if protected else None)
    assert measure(f"mc-miura enrol(3)+verify {'protected' if protected else 'plain'}",
                   "vein", _enrol_verify, matcher, images)


@pytest.mark.parametrize("step", ["extract", "compare"])
def test_steps(measure: Callable[..., Any], images: list[np.ndarray], step: str) -> None:
    matcher = MaxCurvatureMiura()
    feats = [matcher.extract(_capture(i)) for i in images]
    template = matcher.create_template(feats[:3])
    fn = {"extract": lambda: matcher.extract(_capture(images[3])),
          "compare": lambda: matcher.compare(template, feats[3])}[step]
    measure(f"mc-miura {step}", "vein", fn)
