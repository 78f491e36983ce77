"""A minimal STAND-IN finger-vein renderer and device for the matcher's tests only.

It is not the simulated device (``drivers/jukicard-vein-sim``, P2's): a crude seeded line
model — two wavy trunks, bridges and side branches drawn as dark Gaussian lines on a bright
elliptical finger — with a capture variation of rotation, shift, blur and noise.  The matcher
and the evaluation are developed against it until the real simulated device lands; nothing
in ``jukicard`` imports it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy import ndimage

from jukicard.errors import LowQuality
from jukicard.operator import (
    CancelToken,
    Capture,
    CapturePurpose,
    DeviceInfo,
    Guidance,
    Imaging,
    Modality,
    PadDecision,
    PadResult,
)

SHAPE = (80, 240)
#: preset -> (rotation sigma in degrees, shift sigma as a fraction of the size, noise sigma)
STANDIN_PRESETS = {"clean": (0.5, 0.01, 2.0), "standard": (2.0, 0.02, 4.0),
                   "hard": (4.0, 0.04, 6.0)}


def _polyline(points: np.ndarray, canvas: np.ndarray, weight: float) -> None:
    seg = np.diff(points, axis=0)
    n = max(int(np.abs(seg).sum()) * 3, 2)
    t = np.linspace(0.0, len(points) - 1.0, n)
    idx = np.minimum(t.astype(int), len(points) - 2)
    frac = (t - idx)[:, None]
    pts = points[idx] * (1 - frac) + points[idx + 1] * frac
    ys, xs = np.round(pts[:, 0]).astype(int), np.round(pts[:, 1]).astype(int)
    ok = (ys >= 0) & (ys < canvas.shape[0]) & (xs >= 0) & (xs < canvas.shape[1])
    np.maximum.at(canvas, (ys[ok], xs[ok]), weight)


def vein_pattern(subject: int, shape: tuple[int, int] = SHAPE) -> np.ndarray:
    """The subject's vein centre lines (float canvas, 1 on a line) in the canonical frame."""
    rng = np.random.default_rng([12, subject])
    height, width = shape
    canvas = np.zeros(shape)
    xs = np.arange(-20, width + 20, 4, dtype=float)
    trunks = []
    for centre in (height * 0.38, height * 0.62):
        phase, freq = rng.uniform(0, 2 * math.pi, 3), rng.uniform(0.01, 0.05, 3)
        amp = rng.uniform(2, 6, 3)
        ys = centre + sum(a * np.sin(f * xs + p) for a, f, p in zip(amp, freq, phase, strict=True))
        pts = np.stack([ys, xs], axis=1)
        trunks.append(pts)
        _polyline(pts, canvas, 1.0)
    for _ in range(rng.integers(3, 6)):  # bridges between the trunks
        i = rng.integers(5, len(xs) - 15)
        j = i + rng.integers(-6, 7)
        j = int(np.clip(j, 0, len(xs) - 1))
        _polyline(np.stack([trunks[0][i], trunks[1][j]]), canvas, 1.0)
    for _ in range(rng.integers(5, 9)):  # side branches towards the edges
        t = trunks[rng.integers(0, 2)]
        i = rng.integers(0, len(xs))
        angle = rng.uniform(-1.2, 1.2) + (math.pi / 2 if rng.random() < 0.5 else -math.pi / 2)
        length = rng.uniform(15, 40)
        end = t[i] + length * np.array([math.sin(angle), math.cos(angle)])
        mid = (t[i] + end) / 2 + rng.normal(0, 3, 2)
        _polyline(np.stack([t[i], mid, end]), canvas, 0.8)
    return canvas


def render(subject: int, capture: int, preset: str = "standard",
           shape: tuple[int, int] = SHAPE) -> np.ndarray:
    """One capture (uint8) of ``subject``: the pattern under a seeded capture variation."""
    rot_sigma, shift_sigma, noise = STANDIN_PRESETS[preset]
    rng = np.random.default_rng([13, subject, capture])
    height, width = shape
    lines = ndimage.gaussian_filter(vein_pattern(subject, shape), 1.3)
    lines /= max(float(lines.max()), 1e-9)
    y = np.arange(height, dtype=float)[:, None]
    half = height * 0.36 * rng.uniform(0.97, 1.03)
    rel = np.clip(1 - ((y - (height - 1) / 2) / half) ** 2, 0, None)
    finger = 40 + 150 * np.sqrt(rel) * np.ones((1, width))
    exposure = rng.uniform(0.9, 1.1)
    img = (finger * (1 - 0.35 * lines * (rel > 0))) * exposure + 15
    theta = math.radians(rng.normal(0, rot_sigma))
    dy, dx = rng.normal(0, shift_sigma * height), rng.normal(0, shift_sigma * width)
    c, s = math.cos(theta), math.sin(theta)
    matrix = np.array([[c, s], [-s, c]])
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    offset = centre - matrix @ (centre + np.array([dy, dx]))
    img = ndimage.affine_transform(img, matrix, offset=offset, order=1, mode="constant",
                                   cval=15.0)
    img = ndimage.gaussian_filter(img, rng.uniform(0.6, 1.2))
    img = img + rng.normal(0, noise, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


class StandInVeinDevice:
    """A VeinDevice over :func:`render` for one subject (test stand-in, not the simulator).

    ``low_quality`` lists capture indices that raise :class:`LowQuality` (an FTA);
    ``attack`` makes every capture a "printed attack" that the stand-in PAD flags with
    probability ``pad_miss`` = 0.
    """

    def __init__(self, subject: int, preset: str = "standard", *,
                 low_quality: frozenset[int] = frozenset(), attack: bool = False) -> None:
        self.subject, self.preset = subject, preset
        self.low_quality, self.attack = low_quality, attack
        self._n = 0

    def open(self) -> None:
        self._n = 0

    def close(self) -> None:
        return None

    def __enter__(self) -> StandInVeinDevice:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def info(self) -> DeviceInfo:
        return DeviceInfo("stand-in", "test", str(self.subject), "0", "vein-standin", "0",
                          Modality.FINGER, Imaging.TRANSMISSION, 850, SHAPE, None,
                          quality_score=True, pad_score=True, simulated=True)

    def capture(self, purpose: CapturePurpose, timeout_s: float, *,
                guidance: Guidance | None = None, cancel: CancelToken | None = None
                ) -> Capture:
        n = self._n
        self._n += 1
        if n in self.low_quality:
            raise LowQuality("stand-in low-quality frame", quality=10)
        image: Any = render(self.subject, n, self.preset)
        pad = PadResult(0.9 if self.attack else 0.1,
                        PadDecision.ATTACK if self.attack else PadDecision.BONA_FIDE,
                        "stand-in", simulated=True)
        return Capture(purpose, image, 80, pad, str(self.subject), datetime.now(UTC))


def standin_factory(subject: int, preset: str) -> StandInVeinDevice:
    """Device factory for :func:`jukicard.operator.evaluate.evaluate` (picklable)."""
    return StandInVeinDevice(subject, preset)
