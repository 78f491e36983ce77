"""SimulatedVeinDevice: the VeinDevice protocol, determinism, faults, PAD, cancel, no
pixels in repr or logs."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
from jukicard_vein_sim import Fault, SimulatedVeinDevice
from jukicard_vein_sim.quality import measure_quality

from jukicard.errors import (
    CaptureCancelled,
    CaptureTimeout,
    DeviceFault,
    DeviceRemoved,
    LowQuality,
    PresentationAttackSuspected,
    VeinDeviceError,
)
from jukicard.operator import CancelToken, CapturePurpose, PadDecision, VeinDevice

ENROL, VERIFY = CapturePurpose.ENROL, CapturePurpose.VERIFY


def _images(seed: int, subject: int, finger: int, n: int, preset: str = "standard"
            ) -> list[bytes]:
    with SimulatedVeinDevice(seed=seed, preset=preset, subjects=10) as dev:
        dev.present(subject, finger)
        return [dev.capture(ENROL, 1.0).image.tobytes() for _ in range(n)]


def test_is_a_vein_device_and_says_it_is_simulated() -> None:
    dev = SimulatedVeinDevice(seed=1)
    assert isinstance(dev, VeinDevice)
    info = dev.info()
    assert info.simulated and info.pad_score and info.quality_score and info.raw_image
    assert info.image_size == (80, 240) and info.driver_name == "jukicard-vein-sim"


def test_same_seed_same_bytes_and_captures_differ() -> None:
    a = _images(7, 3, 1, 3)
    assert a == _images(7, 3, 1, 3)
    assert len(set(a)) == 3  # each capture of the finger is a different image
    assert a[0] != _images(8, 3, 1, 1)[0] and a[0] != _images(7, 4, 1, 1)[0]


def test_a_capture_depends_on_its_index_only_not_on_history() -> None:
    with SimulatedVeinDevice(seed=7, subjects=10) as dev:
        dev.present(5, 0)
        dev.capture(ENROL, 1.0)
        dev.present(3, 1)  # another finger in between does not disturb finger (5, 0)
        dev.capture(ENROL, 1.0)
        dev.inject(Fault.TIMEOUT)
        with pytest.raises(CaptureTimeout):
            dev.capture(ENROL, 1.0)
        dev.present(5, 0)
        second = dev.capture(VERIFY, 1.0).image.tobytes()
        dev.present(5, 0, capture_index=1)
        again = dev.capture(VERIFY, 1.0).image.tobytes()
    assert second == again


def test_capture_carries_measured_quality_and_a_simulated_pad() -> None:
    with SimulatedVeinDevice(seed=2, subjects=5) as dev:
        dev.present(1, 0)
        caps = [dev.capture(ENROL, 1.0) for _ in range(5)]
    for cap in caps:
        assert cap.image.dtype == np.uint8 and cap.image.shape == (80, 240)
        assert cap.quality == measure_quality(cap.image) >= dev.min_quality
        assert cap.pad is not None and cap.pad.simulated and cap.pad.decision is \
            PadDecision.BONA_FIDE
        assert cap.device_serial == dev.serial and cap.taken_at.tzinfo is not None
    assert len({c.quality for c in caps}) > 1  # a measure, not a constant


@pytest.mark.parametrize("preset", ["clean", "standard", "hard"])
def test_low_quality_frames_are_really_degraded(preset: str) -> None:
    """Each injected low-quality frame is measured below the minimum (every degradation
    kind shows up over the run); bona fide frames of the same fingers pass (``hard`` may
    fail a few: its exposure spread saturates some frames, a real failure to acquire)."""
    dev = SimulatedVeinDevice(seed=3, preset=preset, subjects=20)
    bona_fide_fta = 0
    with dev:
        for subject in range(20):
            dev.present(subject, 0)
            dev.inject(Fault.LOW_QUALITY)
            with pytest.raises(LowQuality) as info:
                dev.capture(VERIFY, 1.0)
            assert info.value.quality is not None and info.value.quality < dev.min_quality
            try:
                dev.capture(VERIFY, 1.0)
            except LowQuality:
                bona_fide_fta += 1
    assert bona_fide_fta <= (2 if preset == "hard" else 0)


def test_faults_are_typed() -> None:
    with SimulatedVeinDevice(seed=4, subjects=3) as dev:
        with pytest.raises(CaptureTimeout):
            dev.capture(ENROL, 5.0)  # nobody presents
        dev.present(0, 0)
        dev.inject(Fault.TIMEOUT, Fault.REMOVED, Fault.DEVICE_FAULT)
        for error in (CaptureTimeout, DeviceRemoved, DeviceFault):
            with pytest.raises(error):
                dev.capture(ENROL, 5.0)
        assert dev.capture(ENROL, 5.0).image is not None  # the queue is spent
        dev.withdraw()
        with pytest.raises(CaptureTimeout):
            dev.capture(ENROL, 5.0)
        token = CancelToken()
        token.cancel()
        dev.present(0, 0)
        with pytest.raises(CaptureCancelled):
            dev.capture(ENROL, 5.0, cancel=token)
    with pytest.raises(DeviceFault):
        dev.capture(ENROL, 5.0)  # closed
    for bad in ((3, 0), (0, 10), (-1, 0)):
        with pytest.raises(ValueError):
            dev.present(*bad)


def test_pad_scores_separate_prints_from_bona_fide() -> None:
    bona, attack = [], []
    with SimulatedVeinDevice(seed=5, subjects=40) as dev:
        for subject in range(40):
            dev.present(subject, 0)
            bona.append(dev.capture(VERIFY, 1.0).pad)
            dev.inject(Fault.PRINTED_ATTACK)
            attack.append(dev.capture(VERIFY, 1.0).pad)
    assert np.mean([p.score for p in attack]) - np.mean([p.score for p in bona]) > 0.5
    assert sum(p.decision is PadDecision.ATTACK for p in attack) >= 36
    assert sum(p.decision is PadDecision.ATTACK for p in bona) <= 4


def test_a_print_is_rendered_as_a_print() -> None:
    """The printed attack is a different image of the same veins (paper gamma, flat
    profile), not the bona fide image with another label."""
    with SimulatedVeinDevice(seed=5, subjects=2) as dev:
        dev.present(1, 0, capture_index=0)
        bona = dev.capture(VERIFY, 1.0).image.astype(float)
        dev.present(1, 0, capture_index=0, attack="printed")
        printed = dev.capture(VERIFY, 1.0).image.astype(float)
    lap = lambda f: np.abs(f[1:-1, 1:-1] * 4 - f[:-2, 1:-1] - f[2:, 1:-1]  # noqa: E731
                           - f[1:-1, :-2] - f[1:-1, 2:]).mean()
    assert lap(printed) > 1.5 * lap(bona)  # paper grain


def test_raise_on_attack() -> None:
    with SimulatedVeinDevice(seed=6, subjects=2, raise_on_attack=True) as dev:
        dev.present(0, 0, attack="printed")
        with pytest.raises(PresentationAttackSuspected) as info:
            for _ in range(5):
                dev.capture(VERIFY, 1.0)
    assert info.value.score is not None and info.value.score >= dev.pad_threshold


def test_cancel_from_another_thread_ends_a_waiting_capture() -> None:
    """A capture waiting out a (real-time) timeout of 10 minutes ends as CaptureCancelled
    when another thread cancels it."""
    dev = SimulatedVeinDevice(seed=1, subjects=2, time_scale=1.0)
    token = CancelToken()
    outcome: list[BaseException] = []
    started = threading.Event()

    def run() -> None:
        started.set()
        try:
            dev.capture(ENROL, 600.0, guidance=None, cancel=token)
        except VeinDeviceError as exc:
            outcome.append(exc)

    with dev:
        dev.inject(Fault.TIMEOUT)
        worker = threading.Thread(target=run)
        worker.start()
        started.wait(5)
        token.cancel()
        worker.join(60)
    assert not worker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], CaptureCancelled)


def test_guidance_events_and_no_pixels_in_repr_or_logs(caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    events: list[str] = []
    caplog.set_level(logging.DEBUG, logger="jukicard_vein_sim")
    with SimulatedVeinDevice(seed=9, subjects=2) as dev:
        dev.present(1, 1)
        cap = dev.capture(ENROL, 1.0, guidance=events.append)
        text = repr(cap) + repr(dev) + repr(dev.ground_truth(1, 1)) + caplog.text
        text += repr(dev.last_params) + repr(dev.info())
    assert events[0] == "place finger" and "hold still" in events
    assert "array" not in text and "[" not in text.replace("[]", "")
    pixels = cap.image.tobytes()
    for k in range(0, 40 * 240, 240 * 8):  # no run of 8 pixel values in decimal
        row = " ".join(str(v) for v in pixels[k:k + 8])
        assert row not in text and ", ".join(str(v) for v in pixels[k:k + 8]) not in text
    assert "quality=" in caplog.text
    cap.wipe()
    assert cap.image is None and "wiped" in repr(cap)
