"""The calibration table: score → false-match rate, shipped with the matcher as data.

A table is built from the impostor scores of the development subjects of a named dataset
(:func:`jukicard.operator.evaluate.build_calibration`; command in the matcher's module doc)
and records what it came from: dataset id, configuration hash, the SHA-256 of the scores,
impostor trial count, impostor subject-pair count, and the thresholds at the usual operating
points.  Only the upper tail of the impostor scores is kept (the part any sane ``max_fmr``
reaches).

Threshold rule: with the impostor scores sorted high to low (``s_0 ≥ s_1 ≥ …``) and
``m = ⌊max_fmr · N⌋`` false matches allowed, the threshold is the next float above ``s_m``;
the achieved FMR is the share of impostor scores at or above it (≤ ``max_fmr``).  A
``max_fmr`` below ``3 / N`` (the rule of three: zero observed errors in N trials bound the
rate only at about 3/N with 95 % confidence) raises :class:`~jukicard.errors.CalibrationError`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jukicard.errors import CalibrationError

__all__ = ["CalibrationTable", "TABLE_SCHEMA", "tail_share"]

TABLE_SCHEMA = 1
#: Share of the impostor scores kept in the table (the upper tail).
tail_share = 0.05


@dataclass(frozen=True)
class CalibrationTable:
    """Score → FMR for one matcher and template format.

    :ivar matcher_id: the matcher it calibrates.
    :ivar template_format: ``str(TemplateFormat)`` it calibrates.
    :ivar dataset: where the scores came from (id, device driver, preset, subjects, ...).
    :ivar config_hash: hash of the configuration that produced it.
    :ivar scores_sha256: SHA-256 of all impostor scores (float64, big-endian, sorted).
    :ivar impostor_trials: N, the number of impostor comparisons.
    :ivar impostor_subject_pairs: independent (reference subject, probe subject) pairs.
    :ivar tail: the highest impostor scores, high to low.
    :ivar thresholds: ``{"1e-2": t, ...}`` for reading.
    """

    matcher_id: str
    template_format: str
    dataset: dict[str, Any]
    config_hash: str
    scores_sha256: str
    impostor_trials: int
    impostor_subject_pairs: int
    tail: tuple[float, ...]
    thresholds: dict[str, float]

    @property
    def min_fmr(self) -> float:
        """The smallest ``max_fmr`` the table supports: 3 / impostor trials."""
        return 3.0 / self.impostor_trials

    def threshold_for(self, max_fmr: float) -> tuple[float, float]:
        """``(threshold, achieved_fmr)`` for a requested maximum FMR.

        :raises CalibrationError: ``max_fmr`` not in (0, 1], or below :attr:`min_fmr`.
        """
        if not isinstance(max_fmr, int | float) or not math.isfinite(max_fmr) or not (
                0.0 < max_fmr <= 1.0):
            raise CalibrationError("max_fmr must be a number in (0, 1]")
        if max_fmr < self.min_fmr:
            raise CalibrationError(
                f"max_fmr {max_fmr:g} is below what the calibration table supports "
                f"({self.min_fmr:.3g} = 3/{self.impostor_trials} impostor trials)")
        allowed = min(int(math.floor(max_fmr * self.impostor_trials)), len(self.tail) - 1)
        pivot = self.tail[allowed]
        threshold = float(np.nextafter(pivot, math.inf))
        above = sum(1 for s in self.tail if s >= threshold)
        return threshold, above / self.impostor_trials

    # ------------------------------------------------------------------ building / IO
    @classmethod
    def from_scores(cls, matcher_id: str, template_format: str,
                    impostor: Sequence[float] | NDArray[np.float64],
                    *, dataset: dict[str, Any], config_hash: str,
                    impostor_subject_pairs: int) -> CalibrationTable:
        """Build a table from all impostor scores of the calibration set."""
        scores = np.sort(np.asarray(impostor, dtype=np.float64))[::-1]
        if scores.size < 100:
            raise CalibrationError("a calibration needs at least 100 impostor scores")
        digest = hashlib.sha256(np.ascontiguousarray(scores, dtype=">f8").tobytes())
        keep = max(int(math.ceil(tail_share * scores.size)), 10)
        tail = tuple(float(s) for s in scores[:keep])
        partial = cls(matcher_id, template_format, dict(dataset), config_hash,
                      digest.hexdigest(), int(scores.size), int(impostor_subject_pairs),
                      tail, {})
        thresholds = {}
        for label, fmr in (("1e-2", 1e-2), ("1e-3", 1e-3), ("1e-4", 1e-4)):
            if fmr >= partial.min_fmr:
                thresholds[label] = partial.threshold_for(fmr)[0]
        return cls(matcher_id, template_format, dict(dataset), config_hash,
                   digest.hexdigest(), int(scores.size), int(impostor_subject_pairs), tail,
                   thresholds)

    def to_json(self) -> str:
        return json.dumps({
            "schema": TABLE_SCHEMA, "matcher_id": self.matcher_id,
            "template_format": self.template_format, "dataset": self.dataset,
            "config_hash": self.config_hash, "scores_sha256": self.scores_sha256,
            "impostor_trials": self.impostor_trials,
            "impostor_subject_pairs": self.impostor_subject_pairs,
            "thresholds": self.thresholds, "tail": list(self.tail)}, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> CalibrationTable:
        """Parse a table.

        :raises CalibrationError: malformed, another schema, or inconsistent.
        """
        try:
            raw = json.loads(text)
            if raw["schema"] != TABLE_SCHEMA:
                raise CalibrationError("calibration table of another schema")
            tail = tuple(float(s) for s in raw["tail"])
            table = cls(str(raw["matcher_id"]), str(raw["template_format"]),
                        dict(raw["dataset"]), str(raw["config_hash"]),
                        str(raw["scores_sha256"]), int(raw["impostor_trials"]),
                        int(raw["impostor_subject_pairs"]), tail,
                        {str(k): float(v) for k, v in raw["thresholds"].items()})
        except CalibrationError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CalibrationError("malformed calibration table") from exc
        if (not tail or table.impostor_trials < len(tail)
                or any(a < b for a, b in zip(tail, tail[1:], strict=False))):
            raise CalibrationError("inconsistent calibration table")
        return table

    @classmethod
    def load(cls, path: Path) -> CalibrationTable:
        """Read a table file.

        :raises CalibrationError: missing or malformed.
        """
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CalibrationError(f"calibration table {path.name} cannot be read") from exc
        return cls.from_json(text)
