"""Device factories over the simulated vein device for :mod:`jukicard.operator.evaluate`
(module-level functions, so they pickle into worker processes).

``jukicard.operator`` never imports a driver; these adapters live outside the package and
need ``jukicard-vein-sim`` installed (``pip install -e drivers/jukicard-vein-sim``).
"""

from __future__ import annotations

from jukicard_vein_sim import SimulatedVeinDevice

#: The population seed and size the evaluation uses (subjects 0-99: dev 0-49, eval 50-99).
POPULATION_SEED = 0
POPULATION = 100
#: Attack captures start here so they never reuse a bona fide capture's index.
ATTACK_INDEX = 1000


def sim_device(subject: int, preset: str) -> SimulatedVeinDevice:
    """Subject ``subject``'s finger 0 on the simulated device, from capture 0."""
    device = SimulatedVeinDevice(seed=POPULATION_SEED, preset=preset,
                                 subjects=max(POPULATION, subject + 1))
    device.present(subject, 0, capture_index=0)
    return device


def sim_attack(subject: int, preset: str, species: str) -> SimulatedVeinDevice:
    """Attack presentations (``species``, e.g. ``"printed"``) of the subject's finger 0."""
    device = SimulatedVeinDevice(seed=POPULATION_SEED, preset=preset,
                                 subjects=max(POPULATION, subject + 1))
    device.present(subject, 0, capture_index=ATTACK_INDEX, attack=species)
    return device
