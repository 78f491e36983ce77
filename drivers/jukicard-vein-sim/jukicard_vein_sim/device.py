"""The simulated finger-vein device: a :class:`jukicard.operator.VeinDevice` that images
seeded synthetic fingers (see ``README.md``).

Who presents and what goes wrong is scripted by the caller::

    dev = SimulatedVeinDevice(seed=7, preset="standard", subjects=100)
    with dev:
        dev.present(12, finger=1)                 # subject 12's finger 1 is on the sensor
        cap = dev.capture(CapturePurpose.ENROL, 10.0)
        dev.inject(Fault.LOW_QUALITY, Fault.TIMEOUT)  # the next two captures fail so
        dev.present(12, 1, attack="printed")      # a print of that finger

Every frame's randomness is a function of ``(seed, subject, finger, capture index)`` only
(plus the attack species and fault kind), never of global state or call order across
fingers: capture ``k`` of a finger is the same image whatever was captured before.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from jukicard.errors import (
    CaptureCancelled,
    CaptureTimeout,
    DeviceFault,
    DeviceRemoved,
    LowQuality,
    PresentationAttackSuspected,
)
from jukicard.operator import (
    CancelToken,
    Capture,
    CapturePurpose,
    DeviceInfo,
    Guidance,
    Imaging,
    Modality,
    PadDecision,
    PadResult,
)
from jukicard_vein_sim import __version__
from jukicard_vein_sim.graph import VeinGraph, graph_rng, make_graph
from jukicard_vein_sim.quality import measure_quality
from jukicard_vein_sim.render import (
    DEGRADATIONS,
    PRESETS,
    CaptureParams,
    FingerModel,
    draw_params,
    render,
)

__all__ = ["SimulatedVeinDevice", "Fault", "ATTACK_SPECIES", "PAD_METHOD", "capture_rng"]

log = logging.getLogger("jukicard_vein_sim")

#: Simulated presentation-attack species.
ATTACK_SPECIES = ("printed",)
#: ``PadResult.method`` of the simulated detector.
PAD_METHOD = "sim-print-detector"
_CAPTURE_STREAM = 0x6361
_PAD_STREAM = 0x7061
_ATTACK_TAG = {None: 0, "printed": 1}


class Fault(enum.Enum):
    """A fault injected into the next capture (:meth:`SimulatedVeinDevice.inject`)."""

    #: no finger within the timeout → :class:`~jukicard.errors.CaptureTimeout`
    TIMEOUT = "timeout"
    #: the finger is lifted mid-capture → :class:`~jukicard.errors.DeviceRemoved`
    REMOVED = "removed"
    #: a really degraded frame (defocus, over-exposure, off-centre, noise; chosen by the
    #: capture's seed) → quality below the minimum → :class:`~jukicard.errors.LowQuality`
    LOW_QUALITY = "low-quality"
    #: a printed copy of the presented finger (PAD says attack, usually)
    PRINTED_ATTACK = "printed-attack"
    #: the driver fails → :class:`~jukicard.errors.DeviceFault`
    DEVICE_FAULT = "device-fault"


@dataclass(frozen=True)
class _Presentation:
    subject: int
    finger: int
    attack: str | None


def capture_rng(seed: int, subject: int, finger: int, index: int, stream: int,
                tag: int = 0) -> np.random.Generator:
    """The generator of one capture: a function of its identity only."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        [int(seed), int(subject), int(finger), int(index), stream, tag])))


class SimulatedVeinDevice:
    """A simulated NIR transmission finger-vein reader (synthetic images, no hardware).

    :param seed: the population seed (a different seed = different people).
    :param preset: ``"clean"``, ``"standard"`` or ``"hard"`` (capture variation).
    :param subjects: subjects ``0 … subjects-1`` exist.
    :param fingers: fingers per subject (``0 … fingers-1``).
    :param image_size: ``(height, width)``; 80×240 by default.
    :param min_quality: captures measured below it raise :class:`LowQuality`.
    :param pad_threshold: PAD scores at or above it are decided ``ATTACK``.
    :param raise_on_attack: raise :class:`PresentationAttackSuspected` on an attack verdict
        instead of returning the capture with it (default: return it; the policy decides).
    :param time_scale: real seconds waited per simulated second of a timeout (0 = none:
        tests never sleep; a waiting capture still honours ``cancel``).
    """

    def __init__(self, seed: int = 0, preset: str = "standard", subjects: int = 100, *,
                 fingers: int = 10, image_size: tuple[int, int] = (80, 240),
                 min_quality: int = 35, pad_threshold: float = 0.5,
                 raise_on_attack: bool = False, time_scale: float = 0.0) -> None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r} (one of {sorted(PRESETS)})")
        if seed < 0 or subjects < 1 or fingers < 1:
            raise ValueError("seed must be ≥ 0, subjects and fingers ≥ 1")
        self.seed = int(seed)
        self.preset = PRESETS[preset]
        self.subjects = int(subjects)
        self.fingers = int(fingers)
        self.image_size = (int(image_size[0]), int(image_size[1]))
        self.min_quality = int(min_quality)
        self.pad_threshold = float(pad_threshold)
        self.raise_on_attack = raise_on_attack
        self.time_scale = float(time_scale)
        self.serial = f"SIM-{self.seed:08X}"
        self._lock = threading.Lock()
        self._open = False
        self._presentation: _Presentation | None = None
        self._next_index: dict[tuple[int, int], int] = {}
        self._faults: deque[Fault] = deque()
        self._models: dict[tuple[int, int], FingerModel] = {}
        self.last_params: CaptureParams | None = None
        self.last_index: int | None = None

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        self._open = True

    def close(self) -> None:
        self._open = False

    def __enter__(self) -> SimulatedVeinDevice:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def info(self) -> DeviceInfo:
        return DeviceInfo(
            vendor="jukicard (simulated)", model="vein-sim", serial=self.serial,
            firmware=f"preset-{self.preset.name}", driver_name="jukicard-vein-sim",
            driver_version=__version__, modality=Modality.FINGER,
            imaging=Imaging.TRANSMISSION, wavelength_nm=850, image_size=self.image_size,
            resolution_ppi=round(25.4 * self.image_size[1] / 60.0),
            raw_image=True, quality_score=True, pad_score=True, simulated=True)

    def __repr__(self) -> str:
        state = "open" if self._open else "closed"
        return (f"SimulatedVeinDevice(seed={self.seed}, preset={self.preset.name!r}, "
                f"subjects={self.subjects}, {state})")

    # ------------------------------------------------------------------ scripting
    def present(self, subject: int, finger: int = 0, *, capture_index: int | None = None,
                attack: str | None = None) -> None:
        """Put a finger on the sensor for the following captures.

        :param capture_index: the index of the next capture of this finger (each finger
            counts its own captures from 0; every rendered frame takes one index).
        :param attack: ``None`` (bona fide) or an :data:`ATTACK_SPECIES` name: every
            capture is then that attack on this finger.
        """
        if not (0 <= subject < self.subjects and 0 <= finger < self.fingers):
            raise ValueError(f"no such subject/finger ({subject}, {finger}) on this device")
        if attack is not None and attack not in ATTACK_SPECIES:
            raise ValueError(f"unknown attack species {attack!r} (one of {ATTACK_SPECIES})")
        with self._lock:
            self._presentation = _Presentation(int(subject), int(finger), attack)
            if capture_index is not None:
                if capture_index < 0:
                    raise ValueError("capture_index must be ≥ 0")
                self._next_index[(subject, finger)] = int(capture_index)

    def withdraw(self) -> None:
        """Nobody presents: the next captures time out (simulated)."""
        with self._lock:
            self._presentation = None

    def inject(self, *faults: Fault) -> None:
        """Queue faults: each applies to one following capture, in order."""
        with self._lock:
            self._faults.extend(Fault(f) for f in faults)

    def ground_truth(self, subject: int, finger: int = 0) -> VeinGraph:
        """The finger's vein graph (for extractor tests; a function of the seed only)."""
        return self._model(subject, finger).graph

    def render_truth(self, subject: int, finger: int, capture_index: int
                     ) -> tuple[np.ndarray, np.ndarray, CaptureParams]:
        """Capture ``capture_index`` of a finger, bona fide, without faults or the device's
        state: ``(image, ground-truth vein mask, params)`` for extractor tests."""
        model = self._model(subject, finger)
        rng = capture_rng(self.seed, subject, finger, capture_index, _CAPTURE_STREAM)
        params = draw_params(self.preset, rng, self.image_size)
        image, mask = render(model, params, rng, truth=True)
        assert mask is not None
        return image, mask, params

    def _model(self, subject: int, finger: int) -> FingerModel:
        key = (int(subject), int(finger))
        model = self._models.get(key)
        if model is None:
            rng = graph_rng(self.seed, *key)
            graph = make_graph(rng)
            model = FingerModel(graph, self.image_size, int(rng.integers(2**63)))
            if len(self._models) >= 256:
                self._models.pop(next(iter(self._models)))
            self._models[key] = model
        return model

    # ------------------------------------------------------------------ capture
    def capture(self, purpose: CapturePurpose, timeout_s: float, *,
                guidance: Guidance | None = None,
                cancel: CancelToken | None = None) -> Capture:
        """Take one capture of the presented finger (see :class:`VeinDevice`).

        :raises CaptureTimeout: nobody presents, or an injected timeout.
        :raises CaptureCancelled: ``cancel`` was set (before or while waiting).
        :raises DeviceRemoved: an injected removal.
        :raises LowQuality: the measured quality is below ``min_quality``.
        :raises PresentationAttackSuspected: attack verdict and ``raise_on_attack``.
        :raises DeviceFault: the device is not open, or an injected fault.
        """
        say = guidance or (lambda _event: None)
        if not self._open:
            raise DeviceFault("the simulated vein device is not open")
        if cancel is not None and cancel.cancelled:
            raise CaptureCancelled("capture cancelled")
        with self._lock:
            fault = self._faults.popleft() if self._faults else None
            who = self._presentation
        say("place finger")
        if fault is Fault.TIMEOUT or who is None:
            self._wait(timeout_s, cancel)
            raise CaptureTimeout(f"no finger presented within {timeout_s:g} s (simulated)")
        if fault is Fault.DEVICE_FAULT:
            raise DeviceFault("simulated device fault")
        if fault is Fault.REMOVED:
            raise DeviceRemoved("the finger was removed during the capture (simulated)")
        say("hold still")
        attack = "printed" if fault is Fault.PRINTED_ATTACK else who.attack
        with self._lock:
            key = (who.subject, who.finger)
            index = self._next_index.get(key, 0)
            self._next_index[key] = index + 1
        model = self._model(*key)
        rng = capture_rng(self.seed, who.subject, who.finger, index, _CAPTURE_STREAM,
                          _ATTACK_TAG[attack])
        params = draw_params(self.preset, rng, self.image_size)
        degradation = None
        if fault is Fault.LOW_QUALITY:
            degradation = DEGRADATIONS[int(rng.integers(len(DEGRADATIONS)))]
        image, _ = render(model, params, rng, attack=attack, degradation=degradation)
        if cancel is not None and cancel.cancelled:
            image.fill(0)
            raise CaptureCancelled("capture cancelled")
        self.last_params, self.last_index = params, index
        quality = measure_quality(image)
        pad = self._pad(who, index, attack)
        log.debug("simulated capture: preset=%s quality=%d pad=%s", self.preset.name,
                  quality, pad.decision.value)
        if pad.decision is PadDecision.ATTACK and self.raise_on_attack:
            image.fill(0)
            raise PresentationAttackSuspected("presentation attack suspected (simulated PAD)",
                                              score=pad.score)
        if pad.decision is not PadDecision.ATTACK and quality < self.min_quality:
            image.fill(0)
            say("move finger")
            raise LowQuality(f"capture quality {quality} below {self.min_quality}",
                             quality=quality)
        say("remove finger")
        return Capture(purpose=CapturePurpose(purpose), image=image, quality=quality,
                       pad=pad, device_serial=self.serial, taken_at=datetime.now(UTC))

    def _pad(self, who: _Presentation, index: int, attack: str | None) -> PadResult:
        """The simulated detector: a seeded score, Beta(2, 12) for bona fide presentations
        and Beta(12, 2) for prints (it stands in for a vendor's PAD; it is no liveness
        test)."""
        rng = capture_rng(self.seed, who.subject, who.finger, index, _PAD_STREAM,
                          _ATTACK_TAG[attack])
        score = float(rng.beta(12.0, 2.0) if attack else rng.beta(2.0, 12.0))
        decision = PadDecision.ATTACK if score >= self.pad_threshold else PadDecision.BONA_FIDE
        return PadResult(score=round(score, 4), decision=decision, method=PAD_METHOD,
                         simulated=True)

    def _wait(self, timeout_s: float, cancel: CancelToken | None) -> None:
        """Wait out a simulated timeout (``timeout_s × time_scale`` real seconds)."""
        wait = max(0.0, timeout_s * self.time_scale)
        if cancel is not None and cancel.wait(wait):
            raise CaptureCancelled("capture cancelled")
        if cancel is None and wait > 0:
            threading.Event().wait(wait)
