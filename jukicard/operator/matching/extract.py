"""Finger-vein feature extraction: finger mask, normalisation, Maximum Curvature, binarisation.

The pipeline (every step vectorised NumPy/SciPy, no Python loop over pixels):

1. **Finger mask** (Lee, Lee & Park 2009): the vertical gradient of the image, averaged over a
   short horizontal window, is searched column by column — its maximum in the upper half is
   the upper finger edge (background → finger), its minimum in the lower half the lower edge.
2. **Normalisation** (Huang et al. 2010): a least-squares line through the mid-points of the
   two edges is the finger's axis; the image and the mask are rotated so that the axis is
   horizontal and shifted so that it runs through the image's middle row.  This removes most
   of the in-plane rotation and the vertical shift of a capture; horizontal shift and the
   rotation left over are searched by the comparator.
3. No **CLAHE** step (not implemented): Maximum Curvature works on curvature signs and run
   widths, and its binarisation threshold is relative (a median), so a global contrast or
   exposure change does not move the map; local contrast equalisation is left for real
   sensors with uneven illumination.
4. **Maximum Curvature** (Miura, Nagasaka & Miyatake 2007, "Extraction of finger-vein
   patterns using maximum curvature points in image profiles", IEICE Trans. Inf. & Syst.;
   conference version 2005): the curvature of the Gaussian-smoothed image in four directions
   (horizontal, vertical, two diagonals); every run of positive curvature along a profile
   scores ``max curvature × run width`` at its maximum; the four scores are summed, the
   centres are connected (a pixel keeps ``min(max(two ahead), max(two behind))`` in each
   direction, the largest over directions), and the result is binarised at the median of its
   positive values (as bob.bio.vein does).

All functions are pure: the input image is not modified and no image leaves this module
except as the binary vein map (:class:`numpy.ndarray` of ``bool``).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

__all__ = [
    "ExtractionParams",
    "finger_mask",
    "normalise",
    "maximum_curvature",
    "binarise",
    "extract_map",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class ExtractionParams:
    """The extractor's parameters (part of the template format: change one, bump the version).

    :ivar sigma: the Gaussian's σ for the curvature (pixels).
    :ivar edge_window: (rows, columns) of Lee's edge mask.
    :ivar mask_erosion: pixels taken off the finger mask's border (the finger edge itself is
        a strong curvature the vein map must not contain).
    :ivar normalise: apply Huang's rotation/shift normalisation.
    """

    sigma: float = 3.0
    edge_window: tuple[int, int] = (4, 20)
    mask_erosion: int = 4
    normalise: bool = True


def finger_mask(image: NDArray[np.generic], edge_window: tuple[int, int] = (4, 20)
                ) -> tuple[BoolArray, FloatArray, FloatArray]:
    """Lee's finger mask for a horizontal finger (bright on a darker background).

    :param image: 2-D grey image.
    :param edge_window: the edge mask's (rows, columns); rows even.
    :returns: ``(mask, upper, lower)``: the boolean mask and, per column, the upper and lower
        edge rows (float).
    """
    img = np.asarray(image, dtype=np.float64)
    height = img.shape[0]
    rows, cols = edge_window
    half = max(rows // 2, 1)
    kernel = np.ones((2 * half, max(cols, 1)), dtype=np.float64)
    kernel[:half] = -1.0
    # response(y) > 0 where the image gets brighter going down (background -> finger)
    response = ndimage.correlate(img, kernel, mode="nearest")
    mid = height // 2
    upper = np.argmax(response[:mid], axis=0).astype(np.float64)
    lower = (np.argmin(response[mid:], axis=0) + mid).astype(np.float64)
    y = np.arange(height, dtype=np.float64)[:, None]
    mask = (y >= upper[None, :]) & (y <= lower[None, :])
    return mask, upper, lower


def _axis_line(upper: FloatArray, lower: FloatArray) -> tuple[float, float]:
    """Least-squares line ``y = a x + b`` through the edge mid-points (10 % trimmed at each
    end, where the finger tip and the image border disturb the edges)."""
    width = upper.shape[0]
    x = np.arange(width, dtype=np.float64)
    mid = (upper + lower) / 2.0
    trim = width // 10
    xs, ms = x[trim:width - trim], mid[trim:width - trim]
    a, b = np.polyfit(xs, ms, 1)
    # one robust pass: drop mid-points far from the first fit
    resid = np.abs(ms - (a * xs + b))
    keep = resid <= max(2.0, 2.5 * float(np.median(resid)))
    if int(keep.sum()) >= 10:
        a, b = np.polyfit(xs[keep], ms[keep], 1)
    return float(a), float(b)


def normalise(image: NDArray[np.generic], mask: BoolArray, upper: FloatArray,
              lower: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Huang's normalisation: rotate the finger's axis to horizontal, centred vertically.

    :returns: ``(image, mask)`` resampled (bilinear for the image, nearest for the mask).
    """
    img = np.asarray(image, dtype=np.float64)
    height, width = img.shape
    a, b = _axis_line(upper, lower)
    theta = math.atan(a)
    cx = (width - 1) / 2.0
    cy_src = a * cx + b
    cy_dst = (height - 1) / 2.0
    cos_t, sin_t = math.cos(theta), math.sin(theta)
    # output (row, col) -> input (row, col): rotate by theta about the axis' centre
    matrix = np.array([[cos_t, sin_t], [-sin_t, cos_t]])
    centre_out = np.array([cy_dst, cx])
    centre_in = np.array([cy_src, cx])
    offset = centre_in - matrix @ centre_out
    out = ndimage.affine_transform(img, matrix, offset=offset, order=1, mode="nearest")
    out_mask = ndimage.affine_transform(mask.astype(np.float64), matrix, offset=offset,
                                        order=0, mode="constant", cval=0.0) > 0.5
    return out, out_mask


@functools.lru_cache(maxsize=8)
def _profiles(shape: tuple[int, int]) -> tuple[NDArray[np.intp], ...]:
    """Index matrices (profiles × positions, ``-1`` = none) of the four profile directions:
    rows, columns, main diagonals (down-right), anti-diagonals (down-left)."""
    height, width = shape
    grid = np.arange(height * width, dtype=np.intp).reshape(height, width)
    rows = grid
    cols = np.ascontiguousarray(grid.T)
    i = np.arange(height, dtype=np.intp)[None, :]
    d = np.arange(-(height - 1), width, dtype=np.intp)[:, None]
    j = i + d
    diag = np.where((j >= 0) & (j < width), i * width + j, -1)
    s = np.arange(0, height + width - 1, dtype=np.intp)[:, None]
    j2 = s - i
    anti = np.where((j2 >= 0) & (j2 < width), i * width + j2, -1)
    for arr in (rows, cols, diag, anti):
        arr.setflags(write=False)
    return rows, cols, diag, anti


def _run_scores(k: FloatArray) -> FloatArray:
    """Miura's profile scores for every row of ``k``: each run of positive values scores
    ``max × width`` at its (first) maximum; everything else is 0."""
    n_prof, length = k.shape
    padded = np.zeros((n_prof, length + 1), dtype=np.float64)
    padded[:, :length] = k
    flat = padded.ravel()
    pos = flat > 0.0
    edges = np.diff(pos.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    out = np.zeros_like(flat)
    if starts.size == 0:
        return out.reshape(n_prof, length + 1)[:, :length]
    ends = np.flatnonzero(edges == -1)
    maxes = np.maximum.reduceat(flat, starts)  # a run's gap after it is <= 0
    widths = (ends - starts).astype(np.float64)
    run_id = np.cumsum(edges[:-1] == 1) - 1
    run_id = np.where(pos, run_id, 0)
    cand = np.flatnonzero(pos & (flat == maxes[run_id]))
    _, first = np.unique(run_id[cand], return_index=True)
    out[cand[first]] = maxes * widths
    return out.reshape(n_prof, length + 1)[:, :length]


def _scatter_scores(k: FloatArray, index: NDArray[np.intp], into: FloatArray) -> None:
    valid = index >= 0
    flat_k = k.ravel()
    prof = np.where(valid, flat_k[np.where(valid, index, 0)], 0.0)
    scores = _run_scores(prof)
    into.ravel()[index[valid]] += scores[valid]


def maximum_curvature(image: NDArray[np.generic], mask: BoolArray, sigma: float = 3.0
                      ) -> FloatArray:
    """Miura's Maximum Curvature: the connected vein-centre map ``G`` (float, ≥ 0).

    :param image: 2-D grey image (veins darker than the tissue around them).
    :param mask: where the finger is; curvature outside it is ignored.
    :param sigma: the Gaussian's σ in pixels.
    """
    img = np.asarray(image, dtype=np.float64)
    g = functools.partial(ndimage.gaussian_filter, img, sigma, mode="nearest")
    fx, fy = g(order=(0, 1)), g(order=(1, 0))
    fxx, fyy, fxy = g(order=(0, 2)), g(order=(2, 0)), g(order=(1, 1))
    f1 = (fx + fy) / math.sqrt(2.0)
    f2 = (fx - fy) / math.sqrt(2.0)
    f11 = 0.5 * fxx + fxy + 0.5 * fyy
    f22 = 0.5 * fxx - fxy + 0.5 * fyy
    curvatures = (
        fxx / (1.0 + fx * fx) ** 1.5,   # along rows
        fyy / (1.0 + fy * fy) ** 1.5,   # along columns
        f11 / (1.0 + f1 * f1) ** 1.5,   # along the main diagonal (down-right)
        f22 / (1.0 + f2 * f2) ** 1.5,   # along the anti-diagonal (down-left)
    )
    v = np.zeros(img.shape, dtype=np.float64)
    for k, index in zip(curvatures, _profiles(img.shape), strict=True):
        _scatter_scores(np.where(mask, k, 0.0), index, v)
    return _connect(v)


def _shifted(v: FloatArray, dy: int, dx: int) -> FloatArray:
    """``v`` moved so that ``out[y, x] = v[y + dy, x + dx]`` (zero outside)."""
    height, width = v.shape
    out = np.zeros_like(v)
    ys, yd = (slice(dy, height), slice(0, height - dy)) if dy >= 0 else (
        slice(0, height + dy), slice(-dy, height))
    xs, xd = (slice(dx, width), slice(0, width - dx)) if dx >= 0 else (
        slice(0, width + dx), slice(-dx, width))
    out[yd, xd] = v[ys, xs]
    return out


def _connect(v: FloatArray) -> FloatArray:
    """Miura's centre connection: ``C_d = min(max(V ahead 1, 2), max(V behind 1, 2))`` per
    direction, ``G = max_d C_d``."""
    best = np.zeros_like(v)
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        ahead = np.maximum(_shifted(v, dy, dx), _shifted(v, 2 * dy, 2 * dx))
        behind = np.maximum(_shifted(v, -dy, -dx), _shifted(v, -2 * dy, -2 * dx))
        np.maximum(best, np.minimum(ahead, behind), out=best)
    return best


def binarise(g: FloatArray) -> BoolArray:
    """Threshold at the median of the positive values (bob.bio.vein's rule)."""
    positive = g[g > 0.0]
    if positive.size == 0:
        return np.zeros(g.shape, dtype=np.bool_)
    return np.asarray(g > float(np.median(positive)), dtype=np.bool_)


def extract_map(image: NDArray[np.generic], params: ExtractionParams = ExtractionParams()
                ) -> BoolArray:
    """The whole pipeline: image → binary vein map (same shape as the image).

    :param image: 2-D grey image of a horizontal finger.
    :raises ValueError: for an image that is not 2-D or too small.
    """
    arr = np.asarray(image)
    if arr.ndim != 2 or min(arr.shape) < 16:
        raise ValueError("a vein image is a 2-D array of at least 16x16 pixels")
    mask, upper, lower = finger_mask(arr, params.edge_window)
    img: NDArray[np.generic] = arr
    if params.normalise:
        img, mask = normalise(arr, mask, upper, lower)
    if params.mask_erosion > 0:
        mask = ndimage.binary_erosion(mask, iterations=params.mask_erosion)
    g = maximum_curvature(img, mask, params.sigma)
    return binarise(g) & mask
