"""Image quality of a capture, measured from its pixels (0–100).

Three factors, each in ``[0, 1]``, multiplied:

* **coverage** — the finger (pixels above 30 % of the way from the dark background to
  the bright finger) covers enough of the field (a finger half out of the field fails);
* **exposure** — few finger pixels are saturated (over-exposure flattens the veins);
* **vein signal-to-noise** — the band-pass energy at vessel scale (difference of Gaussians,
  σ 1 and 3 px) against the fine-scale noise (median absolute deviation of the image
  minus its σ 1 px smoothing), inside the eroded finger region: defocus lowers the former,
  sensor noise raises the latter.

Constants were set once from the renderer's physics (finger area, noise model), never from
a matcher's scores.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["measure_quality", "quality_factors"]

#: SNR at which the vein factor reaches 1 - 1/e.
_SNR_SCALE = 2.0


def quality_factors(image: np.ndarray) -> tuple[float, float, float]:
    """``(coverage, exposure, snr)`` factors of a uint8 image (see the module docstring)."""
    f = np.asarray(image, dtype=np.float32)
    lo, hi = np.percentile(f, (5.0, 95.0))
    finger = f > lo + 0.3 * (hi - lo)
    coverage = float(np.clip((finger.mean() - 0.35) / 0.25, 0.0, 1.0))
    if not finger.any() or hi - lo < 10.0:
        return coverage, 0.0, 0.0
    saturated = float((f[finger] >= 250.0).mean())
    exposure = float(np.clip(1.0 - saturated / 0.15, 0.0, 1.0))
    core = ndimage.binary_erosion(finger, iterations=4)
    if core.sum() < 50:
        return coverage, exposure, 0.0
    band = ndimage.gaussian_filter(f, 1.0) - ndimage.gaussian_filter(f, 3.0)
    fine = f - ndimage.gaussian_filter(f, 1.0)
    noise = 1.4826 * float(np.median(np.abs(fine[core]))) + 0.5
    signal = float(band[core].std())
    snr = signal / noise
    return coverage, exposure, float(1.0 - np.exp(-snr / _SNR_SCALE))


def measure_quality(image: np.ndarray) -> int:
    """Quality 0–100 of a uint8 capture (the product of :func:`quality_factors`)."""
    c, e, s = quality_factors(image)
    return int(round(100.0 * c * e * s))
