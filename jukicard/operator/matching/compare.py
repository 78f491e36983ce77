"""Miura matching of binary vein maps, with a small rotation search, and enrolment fusion.

Miura, Nagasaka & Miyatake (2004/2007): the reference map ``R`` cropped by ``ch`` rows and
``cw`` columns on each side is slid over the probe map ``I`` (every shift within ±ch, ±cw);
``N_m`` is the largest overlap (count of vein pixels in both), and

    score = N_m / (Σ R_crop + Σ I under R_crop at the best shift)   ∈ [0, 0.5].

The sliding overlap is a cross-correlation computed with real FFTs on the map's own size:
the crop is zero-padded to the map, so the shifts of interest never wrap around.  Rotation
is the dominant capture error left after normalisation, so the probe is also tried rotated
by each angle of :attr:`CompareParams.angles` (nearest-neighbour, about the centre) and the
best score is kept.  The reference's spectrum is computed once per reference and the
probe's rotated spectra once per probe (:class:`Probe`), so a batch costs one inverse FFT
per (reference, probe, angle).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import fft, ndimage

__all__ = [
    "CompareParams",
    "Probe",
    "Reference",
    "rotate_map",
    "miura_score",
    "align",
    "fuse",
]

BoolArray = NDArray[np.bool_]
FloatArray = NDArray[np.float32]


@dataclass(frozen=True)
class CompareParams:
    """The comparator's parameters (part of the template format).

    :ivar ch: vertical search range (± rows).
    :ivar cw: horizontal search range (± columns).
    :ivar angles: probe rotations tried (degrees).
    """

    ch: int = 10
    cw: int = 30
    angles: tuple[float, ...] = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)


def rotate_map(vein_map: BoolArray, degrees: float) -> BoolArray:
    """Rotate a binary map about its centre (nearest neighbour, zero outside)."""
    if degrees == 0.0:
        return vein_map
    height, width = vein_map.shape
    theta = math.radians(degrees)
    c, s = math.cos(theta), math.sin(theta)
    matrix = np.array([[c, s], [-s, c]])
    centre = np.array([(height - 1) / 2.0, (width - 1) / 2.0])
    offset = centre - matrix @ centre
    out = ndimage.affine_transform(vein_map.astype(np.float32), matrix, offset=offset,
                                   order=0, mode="constant", cval=0.0)
    return np.asarray(out > 0.5, dtype=np.bool_)


@dataclass(frozen=True, eq=False)
class Probe:
    """A probe map prepared for comparison: its rotations, their spectra and their integral
    images (for the denominator's window sums)."""

    maps: NDArray[np.float32]          # (angles, H, W)
    spectra: NDArray[np.complex64]     # (angles, H, W//2+1)
    integral: NDArray[np.float64] = field(repr=False)  # (angles, H+1, W+1)

    @classmethod
    def prepare(cls, vein_map: BoolArray, params: CompareParams) -> Probe:
        maps = np.stack([rotate_map(vein_map, a) for a in params.angles]).astype(np.float32)
        spectra = fft.rfft2(maps, axes=(-2, -1), workers=1).astype(np.complex64)
        integral = np.zeros((maps.shape[0], maps.shape[1] + 1, maps.shape[2] + 1))
        integral[:, 1:, 1:] = maps.astype(np.float64).cumsum(1).cumsum(2)
        return cls(maps, spectra, integral)


@dataclass(frozen=True, eq=False)
class Reference:
    """A reference map prepared for comparison: its centre crop's conjugate spectrum."""

    vein_map: BoolArray
    conj_spectrum: NDArray[np.complex64]
    crop_sum: float

    @classmethod
    def prepare(cls, vein_map: BoolArray, params: CompareParams) -> Reference:
        height, width = vein_map.shape
        ch, cw = params.ch, params.cw
        crop = np.zeros((height, width), dtype=np.float32)
        crop[:height - 2 * ch, :width - 2 * cw] = vein_map[ch:height - ch, cw:width - cw]
        spectrum = np.conj(fft.rfft2(crop, workers=1)).astype(np.complex64)
        return cls(vein_map, spectrum, float(crop.sum()))


@functools.lru_cache(maxsize=4)
def _window(shape: tuple[int, int], ch: int, cw: int) -> tuple[int, int]:
    return shape[0] - 2 * ch, shape[1] - 2 * cw


def _scores(ref: Reference, probe: Probe, params: CompareParams
            ) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    """Per angle: the best score and its (dy, dx) shift index (within [0, 2ch] × [0, 2cw])."""
    height, width = ref.vein_map.shape
    ch, cw = params.ch, params.cw
    # corr[a, dy, dx] = sum_{y,x} crop[y, x] * probe_a[y + dy, x + dx]
    corr = fft.irfft2(probe.spectra * ref.conj_spectrum, s=(height, width), axes=(-2, -1),
                      workers=1)[:, :2 * ch + 1, :2 * cw + 1]
    n_angles = corr.shape[0]
    flat = corr.reshape(n_angles, -1)
    best = np.argmax(flat, axis=1)
    nm = np.rint(flat[np.arange(n_angles), best])
    dy, dx = np.divmod(best, 2 * cw + 1)
    hh, ww = _window((height, width), ch, cw)
    ii = probe.integral
    a = np.arange(n_angles)
    window = (ii[a, dy + hh, dx + ww] - ii[a, dy, dx + ww] - ii[a, dy + hh, dx]
              + ii[a, dy, dx])
    denom = ref.crop_sum + window
    score = np.where(denom > 0, nm / np.where(denom > 0, denom, 1.0), 0.0)
    return score, np.stack([dy, dx], axis=1)


def miura_score(ref: Reference, probe: Probe, params: CompareParams) -> float:
    """The Miura score of a probe against a reference, best over the rotation search."""
    scores, _ = _scores(ref, probe, params)
    return float(np.clip(scores.max(), 0.0, 0.5))


def align(ref: Reference, vein_map: BoolArray, params: CompareParams) -> BoolArray:
    """``vein_map`` rotated and shifted onto the reference's frame (best Miura alignment)."""
    probe = Probe.prepare(vein_map, params)
    scores, shifts = _scores(ref, probe, params)
    k = int(np.argmax(scores))
    dy, dx = int(shifts[k, 0]) - params.ch, int(shifts[k, 1]) - params.cw
    rotated = probe.maps[k] > 0.5
    out = np.zeros_like(rotated)
    height, width = rotated.shape
    # out[y, x] = rotated[y + dy, x + dx]
    ys, yd = (slice(dy, height), slice(0, height - dy)) if dy >= 0 else (
        slice(0, height + dy), slice(-dy, height))
    xs, xd = (slice(dx, width), slice(0, width - dx)) if dx >= 0 else (
        slice(0, width + dx), slice(-dx, width))
    out[yd, xd] = rotated[ys, xs]
    return np.asarray(out, dtype=np.bool_)


def fuse(maps: Sequence[BoolArray], params: CompareParams, min_votes: int | None = None
         ) -> BoolArray:
    """Fuse enrolment maps into one reference: align every map onto the first, keep the
    pixels at least ``min_votes`` maps agree on (default: half of them, rounded up)."""
    if not maps:
        raise ValueError("no maps to fuse")
    first = maps[0]
    ref = Reference.prepare(first, params)
    votes = first.astype(np.int16)
    for other in maps[1:]:
        votes += align(ref, other, params)
    need = min_votes if min_votes is not None else (len(maps) + 1) // 2
    return np.asarray(votes >= need, dtype=np.bool_)
