"""jukicard-vein-sim: a simulated finger-vein device for jukicard's operator check.

Synthetic only: seeded vein graphs rendered as NIR transmission images
(:mod:`jukicard_vein_sim.graph`, :mod:`jukicard_vein_sim.render`), an image-measured
quality (:mod:`jukicard_vein_sim.quality`) and the device
(:class:`~jukicard_vein_sim.device.SimulatedVeinDevice`), registered under the entry point
``sim`` of ``jukicard.vein.devices``.  It uses only ``jukicard.operator`` and
``jukicard.errors`` from jukicard.
"""

from __future__ import annotations

__version__ = "0.1.0"

from jukicard_vein_sim.device import ATTACK_SPECIES, Fault, SimulatedVeinDevice  # noqa: E402
from jukicard_vein_sim.graph import VeinGraph  # noqa: E402
from jukicard_vein_sim.render import PRESETS, CaptureParams, Preset  # noqa: E402

__all__ = ["__version__", "ATTACK_SPECIES", "Fault", "SimulatedVeinDevice", "VeinGraph",
           "PRESETS", "Preset", "CaptureParams"]
