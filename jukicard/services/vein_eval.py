"""Use case: evaluate the vein matcher on a simulated capture device (``jukicard operator
vein evaluate``).

The device is a plugin admitted by the allow-list, loaded again inside each worker process
(:class:`SimulatedPopulation` is a picklable factory holding only names and the allow-list),
so neither this module nor :mod:`jukicard.operator.evaluate` imports a driver.  Only a
simulated device can be evaluated: the protocol scripts who presents which finger
(``present(subject, finger, capture_index=…, attack=…)``), which a real reader cannot do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from jukicard.errors import EnrolmentFailed, PluginError, UsageError
from jukicard.operator.api import DEVICE_GROUP, VeinDevice
from jukicard.operator.evaluate import EvaluationResult, evaluate
from jukicard.operator.plugins import AllowList, instantiate, load_plugin

__all__ = ["PRESETS", "SimulatedPopulation", "run_evaluation"]

#: The presets the simulated device defines (its own, never tuned to the matcher).
PRESETS = ("clean", "standard", "hard")
#: Attack captures start here so they never reuse a bona fide capture's index.
ATTACK_INDEX = 1000


@dataclass(frozen=True)
class SimulatedPopulation:
    """``(subject, preset[, species]) -> VeinDevice`` over an allow-listed simulated device.

    :ivar device: the device plugin's entry-point name.
    :ivar allow: the allow-list it must be on.
    :ivar seed: the population seed.
    :ivar population: at least this many subjects exist (the device's ``subjects``).
    """

    device: str
    allow: AllowList
    seed: int = 0
    population: int = 100

    def open(self, subject: int, preset: str, species: str | None = None) -> VeinDevice:
        """The device with ``subject``'s finger 0 presented from capture 0 (or, for an
        attack species, from :data:`ATTACK_INDEX`).

        :raises PluginError: the plugin is not a simulated device with ``present()``.
        """
        plugin = load_plugin(DEVICE_GROUP, self.device, self.allow)
        device: Any = instantiate(plugin, {"seed": self.seed, "preset": preset,
                                           "subjects": max(self.population, subject + 1)})
        present = getattr(device, "present", None)
        if not callable(present) or not device.info().simulated:
            raise PluginError(f"device plugin {self.device!r} is not a simulated device: "
                              "only a simulated device can be evaluated")
        if species is None:
            present(subject, 0, capture_index=0)
        else:
            present(subject, 0, capture_index=ATTACK_INDEX, attack=species)
        return cast(VeinDevice, device)

    def __call__(self, subject: int, preset: str, species: str | None = None) -> VeinDevice:
        return self.open(subject, preset, species)


def run_evaluation(*, device: str, allow: AllowList, preset: str, subjects: int = 100,
                   captures: int = 10, enrol: int = 3, out_dir: Path, workers: int = 2,
                   protected: bool = False, attack_species: tuple[str, ...] = ("printed",),
                   seed: int = 0) -> EvaluationResult:
    """Run the enrol/probe evaluation (:func:`jukicard.operator.evaluate.evaluate`) on the
    allow-listed simulated ``device``; results JSON, DET PNG and CSV go to ``out_dir``.

    :raises UsageError: an unknown preset, fewer than 4 subjects, no probe capture, fewer
        than 1 worker, an output directory that cannot be written.
    :raises PluginError: the device plugin cannot be loaded or is not simulated.
    :raises EnrolmentFailed: every capture or enrolment failed (nothing to compare).
    """
    if preset not in PRESETS:
        raise UsageError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    if subjects < 4 or not 3 <= enrol < captures or workers < 1:
        raise UsageError("need at least 4 subjects, 3 or more enrolment captures, more "
                         "captures than enrolment ones and at least 1 worker")
    try:  # before the work: a run of minutes must not fail at its last step
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"output directory {out_dir}: cannot be written "
                         f"({exc.strerror or type(exc).__name__})") from None
    population = SimulatedPopulation(device, allow, seed=seed, population=max(100, subjects))
    population.open(0, preset).close()  # fail here, typed, not inside a worker
    try:
        return evaluate(preset, subjects, captures, out_dir, device_factory=population,
                        enrol=enrol, workers=workers, protected=protected,
                        attack_factory=population if attack_species else None,
                        attack_species=attack_species,
                        dataset_id=f"{device}:seed={seed}:population={max(100, subjects)}")
    except ValueError as exc:  # evaluate's "no comparison could be made"
        raise EnrolmentFailed(f"evaluation: {exc}") from None
