"""Rebuild the mc-miura calibration tables shipped in jukicard/operator/matching/data/.

    pip install -e drivers/jukicard-vein-sim
    PYTHONPATH=$PWD:$PWD/benchmarks flock /tmp/jukicard-heavy.lock \\
        python3 benchmarks/vein_calibration.py [--preset standard] [--workers 2]

Development subjects 0–49 of the simulated device (population seed 0, finger 0, preset
``standard``), 16 captures each: references fused from captures 0–2, impostor probes from
captures 3–15 of every other subject — 50 × 49 × 13 = 31 850 impostor trials, so the tables
support ``max_fmr`` down to 3/31 850 ≈ 9.4e-5 (the login policy's default is 1e-4).  Two
tables: the plain map format and the Bloom-filter protected format (calibrated under
:data:`jukicard.operator.evaluate.CALIBRATION_KEY`).  Subjects 50–99 are never used here:
they are the evaluation set.  Takes about a minute on 2 cores.
"""

from __future__ import annotations

import argparse

from jukicard_vein_sim import __version__ as sim_version
from vein_devices import POPULATION_SEED, sim_device

from jukicard.operator.evaluate import build_calibration
from jukicard.operator.matching.matcher import PLAIN_FORMAT, PROTECTED_FORMAT, calibration_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--preset", default="standard")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--captures", type=int, default=16)
    args = parser.parse_args()
    dataset = (f"jukicard-vein-sim {sim_version} population-seed {POPULATION_SEED} finger 0 "
               f"preset {args.preset} dev subjects 0-49")
    for fmt, protected in ((PLAIN_FORMAT, False), (PROTECTED_FORMAT, True)):
        table = build_calibration(args.preset, calibration_path(fmt),
                                  device_factory=sim_device, dataset_id=dataset,
                                  captures=args.captures, workers=args.workers,
                                  protected=protected)
        print(f"{fmt}: {table.impostor_trials} impostor trials, thresholds "
              f"{table.thresholds}")


if __name__ == "__main__":
    main()
