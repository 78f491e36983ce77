"""Biometric performance figures in ISO/IEC 19795-1 vocabulary (our own code, SciPy for
the beta quantiles).

* FMR / FNMR: false-match / false-non-match rate of comparisons at a threshold (a comparison
  matches when ``score >= threshold``);
* EER: the rate where FMR and FNMR meet (mean of the two at the threshold where they are
  closest);
* :class:`Rate`: errors / trials with a Clopper–Pearson ("exact") two-sided 95 % interval,
  and for zero errors the rule-of-three bound ``≤ 3/N``;
* :func:`unlinkability`: Gomez-Barrero et al.'s global measure ``D↔sys`` ∈ [0, 1] ("General
  framework to evaluate unlinkability in biometric template protection systems", IEEE
  TIFS 13(6), 2018), from histograms of mated and non-mated scores across keys.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

__all__ = [
    "Rate",
    "clopper_pearson",
    "threshold_at_fmr",
    "zero_fmr_threshold",
    "error_rates",
    "det_points",
    "eer",
    "unlinkability",
]


def clopper_pearson(errors: int, trials: int, confidence: float = 0.95
                    ) -> tuple[float, float]:
    """The exact binomial interval for ``errors`` in ``trials``.

    :raises ValueError: ``trials`` < 1 or ``errors`` outside [0, trials].
    """
    if trials < 1 or not 0 <= errors <= trials:
        raise ValueError("need 0 <= errors <= trials and trials >= 1")
    alpha = 1.0 - confidence
    low = 0.0 if errors == 0 else float(stats.beta.ppf(alpha / 2, errors, trials - errors + 1))
    high = 1.0 if errors == trials else float(
        stats.beta.ppf(1 - alpha / 2, errors + 1, trials - errors))
    return low, high


@dataclass(frozen=True)
class Rate:
    """An error rate with its 95 % Clopper–Pearson interval.

    :ivar rule_of_three: ``3 / trials`` when ``errors == 0`` (report as "≤ 3/N"), else None.
    """

    errors: int
    trials: int
    rate: float
    ci_low: float
    ci_high: float
    rule_of_three: float | None

    @classmethod
    def of(cls, errors: int, trials: int) -> Rate:
        if trials == 0:
            return cls(errors, 0, float("nan"), float("nan"), float("nan"), None)
        low, high = clopper_pearson(errors, trials)
        return cls(int(errors), int(trials), errors / trials, low, high,
                   3.0 / trials if errors == 0 else None)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"errors": self.errors, "trials": self.trials,
                               "rate": _finite(self.rate), "ci95": [_finite(self.ci_low),
                                                                    _finite(self.ci_high)]}
        if self.rule_of_three is not None:
            out["zero_errors_bound"] = f"<= 3/{self.trials} = {self.rule_of_three:.3g}"
        return out


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def threshold_at_fmr(impostor: ArrayLike, max_fmr: float) -> float:
    """The lowest threshold whose FMR on ``impostor`` is ≤ ``max_fmr``: the next float
    above the ``⌊max_fmr·N⌋``-th highest impostor score (0-based)."""
    scores = np.sort(np.asarray(impostor, dtype=np.float64))[::-1]
    if scores.size == 0:
        raise ValueError("no impostor scores")
    allowed = min(int(math.floor(max_fmr * scores.size)), scores.size - 1)
    return float(np.nextafter(scores[allowed], math.inf))


def zero_fmr_threshold(impostor: ArrayLike) -> float:
    """The lowest threshold no impostor score reaches."""
    return float(np.nextafter(np.max(np.asarray(impostor, dtype=np.float64)), math.inf))


def error_rates(genuine: ArrayLike, impostor: ArrayLike, threshold: float
                ) -> tuple[Rate, Rate]:
    """``(FMR, FNMR)`` at ``threshold`` (match = score ≥ threshold)."""
    gen = np.asarray(genuine, dtype=np.float64)
    imp = np.asarray(impostor, dtype=np.float64)
    return (Rate.of(int((imp >= threshold).sum()), int(imp.size)),
            Rate.of(int((gen < threshold).sum()), int(gen.size)))


def det_points(genuine: ArrayLike, impostor: ArrayLike
               ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """``(thresholds, FMR, FNMR)`` at every distinct score (ascending thresholds)."""
    gen = np.sort(np.asarray(genuine, dtype=np.float64))
    imp = np.sort(np.asarray(impostor, dtype=np.float64))
    thresholds = np.unique(np.concatenate([gen, imp, [np.inf]]))
    fmr = 1.0 - np.searchsorted(imp, thresholds, side="left") / max(imp.size, 1)
    fnmr = np.searchsorted(gen, thresholds, side="left") / max(gen.size, 1)
    return thresholds, fmr, fnmr


def eer(genuine: ArrayLike, impostor: ArrayLike) -> tuple[float, float]:
    """``(EER, threshold)``: the mean of FMR and FNMR where they are closest."""
    thresholds, fmr, fnmr = det_points(genuine, impostor)
    i = int(np.argmin(np.abs(fmr - fnmr)))
    return float((fmr[i] + fnmr[i]) / 2.0), float(thresholds[i])


def unlinkability(mated: Sequence[float] | NDArray[np.float64],
                  non_mated: Sequence[float] | NDArray[np.float64], bins: int = 50
                  ) -> float:
    """Gomez-Barrero et al.'s ``D↔sys``: 0 = fully unlinkable, 1 = fully linkable.

    Mated = the same instance's templates under two keys; non-mated = different instances
    under two keys; equal priors (ω = 1).
    """
    m = np.asarray(mated, dtype=np.float64)
    n = np.asarray(non_mated, dtype=np.float64)
    lo, hi = float(min(m.min(), n.min())), float(max(m.max(), n.max()))
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    pm = np.histogram(m, edges)[0] / m.size
    pn = np.histogram(n, edges)[0] / n.size
    total = pm + pn
    # D↔(s) = (LR − 1)/(LR + 1) with LR = pm/pn, i.e. (pm − pn)/(pm + pn), clipped at 0
    local = np.clip((pm - pn) / np.where(total > 0, total, 1.0), 0.0, 1.0)
    return float((local * pm).sum())
