"""Evaluation metrics on hand-computed score sets, and a 10-subject smoke evaluation over
the STAND-IN device (tests/vein_standin.py; the simulated device is P2's driver)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from vein_standin import StandInVeinDevice, standin_factory

from jukicard.operator.evaluate import evaluate, unlinkability_figures
from jukicard.operator.metrics import (
    Rate,
    clopper_pearson,
    det_points,
    eer,
    error_rates,
    threshold_at_fmr,
    unlinkability,
    zero_fmr_threshold,
)


def test_eer_on_a_hand_computed_set() -> None:
    genuine = [0.6, 0.7, 0.8, 0.9]
    impostor = [0.1, 0.2, 0.3, 0.65]
    # at t = 0.65: FMR = 1/4 (0.65 >= t), FNMR = 1/4 (0.6 < t): they meet
    assert eer(genuine, impostor) == (0.25, 0.65)
    assert eer([0.9, 0.8], [0.1, 0.2])[0] == 0.0


def test_det_points_and_error_rates() -> None:
    thresholds, fmr, fnmr = det_points([0.5, 0.7], [0.2, 0.6])
    assert list(thresholds) == [0.2, 0.5, 0.6, 0.7, np.inf]
    assert list(fmr) == [1.0, 0.5, 0.5, 0.0, 0.0]
    assert list(fnmr) == [0.0, 0.0, 0.5, 0.5, 1.0]
    f, n = error_rates([0.5, 0.7], [0.2, 0.6], 0.6)
    assert (f.errors, f.trials, n.errors, n.trials) == (1, 2, 1, 2)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (7, 700), (10, 10), (3, 69300)])
def test_clopper_pearson_matches_scipy(k: int, n: int) -> None:
    expected = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    low, high = clopper_pearson(k, n)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_zero_errors_report_rule_of_three() -> None:
    r = Rate.of(0, 700)
    assert r.rule_of_three == 3 / 700
    assert r.as_dict()["zero_errors_bound"].startswith("<= 3/700")
    assert Rate.of(2, 700).rule_of_three is None


def test_thresholds_from_impostor_scores() -> None:
    imp = np.arange(100) / 100.0  # 0.00 … 0.99
    t = threshold_at_fmr(imp, 0.05)  # 5 allowed: just above 0.94
    assert 0.94 < t < 0.9400001
    assert int((imp >= t).sum()) == 5
    t0 = zero_fmr_threshold(imp)
    assert 0.99 < t0 and not (imp >= t0).any()


def test_unlinkability_extremes() -> None:
    rng = np.random.default_rng(1)
    same = rng.normal(0, 1, 5000)
    assert unlinkability(same[:2500], same[2500:]) < 0.1
    assert unlinkability(rng.normal(10, 1, 500), rng.normal(0, 1, 500)) == 1.0


def test_smoke_evaluation_on_the_standin_device(tmp_path: Path) -> None:
    result = evaluate("standard", 10, 5, tmp_path, device_factory=standin_factory, workers=1,
                      attack_factory=_standin_attack, attack_species=["printed"],
                      attacks_per_subject=1)
    figures = json.loads(result.json_path.read_text())
    assert figures == json.loads(json.dumps(result.figures, sort_keys=True))
    assert figures["simulated"] is True and "SIMULATED" in figures["pad"]["label"]
    assert len(figures["config_hash"]) == 64
    ev = figures["eval"]
    # 5 eval subjects (seeds 5-9): 5 references x 10 probes
    assert ev["counts"] == {"genuine_trials": 10, "impostor_trials": 40,
                            "genuine_subjects": 5, "impostor_subject_pairs": 20}
    assert 0.0 <= ev["eer"] <= 0.5
    assert "1e-2" in ev["operating_points"] and "zero_fmr" in ev["operating_points"]
    assert figures["pad"]["apcer"]["printed"]["errors"] == 0
    assert result.det_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result.det_csv.read_text().startswith("threshold,fmr,fnmr\n")
    # bit-reproducible: same configuration, same figures
    again = evaluate("standard", 10, 5, tmp_path / "again", device_factory=standin_factory,
                     workers=1, attack_factory=_standin_attack, attack_species=["printed"],
                     attacks_per_subject=1)
    assert again.figures == result.figures


def _standin_attack(subject: int, preset: str, species: str) -> StandInVeinDevice:
    return StandInVeinDevice(subject, preset, attack=True)


def _flaky(subject: int, preset: str) -> StandInVeinDevice:
    # subject 5: capture 1 fails (enrolment short -> FTE); subject 6: probe 4 fails (FTA)
    bad = {5: frozenset({1}), 6: frozenset({4})}.get(subject, frozenset())
    return StandInVeinDevice(subject, preset, low_quality=bad)


def test_smoke_evaluation_counts_fta_and_fte(tmp_path: Path) -> None:
    ev = evaluate("clean", 10, 5, tmp_path, device_factory=_flaky, workers=1
                  ).figures["eval"]
    assert ev["fta"]["errors"] == 2 and ev["fta"]["trials"] == 25
    assert ev["fta_reasons"] == {"LowQuality": 2}
    assert ev["fte"]["errors"] == 1 and ev["fte"]["trials"] == 5
    # 4 references; probes: 2 each from subjects 5, 7, 8, 9 and 1 from subject 6
    assert ev["counts"]["genuine_trials"] == 7
    assert ev["counts"]["impostor_trials"] == 4 * 9 - 7


def test_evaluation_refuses_a_useless_configuration(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        evaluate("clean", 2, 5, tmp_path, device_factory=standin_factory)


def test_unlinkability_figures_on_the_standin_device() -> None:
    fig = unlinkability_figures("standard", range(6), device_factory=standin_factory)
    assert fig["subjects"] == 6 and fig["non_mated_trials"] == 30
    # cross-key scores of the same finger are as low as those of different fingers
    assert fig["mated_max"] < 0.1 and fig["non_mated_max"] < 0.1
    assert 0.0 <= fig["d_sys"] <= 1.0
