"""Test-only stand-ins for the vein plugins other parts of issue 12 provide — the simulated
device (``drivers/jukicard-vein-sim``, P2) and the matcher (``jukicard.operator.matching``,
P3) — and a helper that installs a throwaway distribution (a real ``.dist-info`` with an
``entry_points.txt``) so the registry finds them through :mod:`importlib.metadata`, as it
finds real plugins.

The stand-ins are deliberately trivial: an "image" is a constant-pattern array per subject,
the "template" is its bytes, two captures match when their bytes are equal.  Their bytes
carry :data:`SECRET_MARK` so the tests can check no image or template byte reaches a log
line, an exception message or a ``repr``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from jukicard.errors import (
    CalibrationError,
    CaptureCancelled,
    CaptureTimeout,
    DeviceFault,
    DeviceRemoved,
    EnrolmentFailed,
    LowQuality,
    PresentationAttackSuspected,
    TemplateFormatError,
)
from jukicard.operator import (
    CancelToken,
    Capture,
    CapturePurpose,
    Decision,
    DeviceInfo,
    Guidance,
    Imaging,
    Modality,
    PadDecision,
    PadResult,
    Template,
    TemplateFormat,
)

#: Bytes every stand-in image and template carries (must never be seen outside them).
SECRET_MARK = b"VEINSECRET"
STANDIN_FORMAT = TemplateFormat("jukicard-test", "standin", 1)
#: The most the stand-in calibration can support (3 / 3,000,000 impostor trials).
MIN_FMR = 1e-6


def image_for(subject: int) -> np.ndarray:
    """The stand-in "image" of a subject: SECRET_MARK then the subject number, repeated."""
    row = np.frombuffer(SECRET_MARK + bytes([subject % 256]) * 6, dtype=np.uint8)
    return np.tile(row, (4, 1)).copy()


class FakeDeviceStandIn:
    """Stands in for P2's simulated device.

    :param subject: whose finger is presented (an int).
    :param script: one step per capture, then ``ok`` forever: ``ok``, ``fta`` (LowQuality),
        ``attack`` (a capture whose PAD verdict is attack), ``undetermined`` (PAD could
        not decide), ``attack-raise`` (the device
        raises it), ``timeout``, ``removed``, ``fault``, ``impostor`` (another subject's
        finger), ``block`` (waits for the cancel token, then CaptureCancelled).
    :param pad: False for a device without PAD (captures carry ``pad=None``).
    """

    def __init__(self, subject: int = 1, script: Sequence[str] = (), pad: bool = True,
                 quality: int = 80, simulated: bool = True) -> None:
        self.simulated = simulated
        self.subject = subject
        self.script = list(script)
        self.pad = pad
        self.quality = quality
        self.captures: list[Capture] = []
        self.opened = 0
        self.closed = 0
        self.waiting = threading.Event()

    def __repr__(self) -> str:
        return f"FakeDeviceStandIn(subject={self.subject})"

    def present(self, subject: int, finger: int = 0, *, attack: str | None = None) -> None:
        """Like the simulated device's: whose finger; an attack species makes every
        following capture an attack."""
        if attack is not None and attack != "printed":
            raise ValueError(f"unknown attack species {attack!r}")
        self.subject = subject
        if attack is not None:
            self.script = ["attack"] * 10

    def open(self) -> None:
        self.opened += 1

    def close(self) -> None:
        self.closed += 1

    def __enter__(self) -> FakeDeviceStandIn:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def info(self) -> DeviceInfo:
        return DeviceInfo("jukicard-test", "stand-in", "SN-1", "0", "fake-standin", "1.0",
                          Modality.FINGER, Imaging.TRANSMISSION, 850, (4, 16), None,
                          quality_score=True, pad_score=self.pad, simulated=self.simulated)

    def capture(self, purpose: CapturePurpose, timeout_s: float, *,
                guidance: Guidance | None = None,
                cancel: CancelToken | None = None) -> Capture:
        step = self.script.pop(0) if self.script else "ok"
        if guidance is not None:
            guidance("place finger")
        if step == "fta":
            raise LowQuality("capture quality too low", quality=10)
        if step == "attack-raise":
            raise PresentationAttackSuspected("printed finger suspected", score=0.97)
        if step == "timeout":
            raise CaptureTimeout(f"no finger within {timeout_s} s")
        if step == "removed":
            raise DeviceRemoved("device unplugged")
        if step == "fault":
            raise DeviceFault("sensor fault")
        if step == "block":
            assert cancel is not None, "a blocking capture needs a cancel token"
            self.waiting.set()
            cancel.wait(300)  # hang guard only; the test cancels
            raise CaptureCancelled("capture cancelled")
        subject = self.subject + 1000 if step == "impostor" else self.subject
        verdict = {"attack": PadDecision.ATTACK, "undetermined": PadDecision.UNDETERMINED
                   }.get(step, PadDecision.BONA_FIDE)
        pad = PadResult(0.95 if step == "attack" else 0.02, verdict, "standin-pad",
                        simulated=True) if self.pad else None
        capture = Capture(purpose, image_for(subject), self.quality, pad, "SN-1",
                          datetime.now(UTC))
        self.captures.append(capture)
        return capture


class FakeMatcherStandIn:
    """Stands in for P3's matcher: features are the image's bytes; equal bytes score 1."""

    matcher_id = "fake-standin"
    version = "1.0"
    template_format = STANDIN_FORMAT

    def __init__(self, protection_key: bytes | None = None) -> None:
        self.protection_key = protection_key  # taken as P3's matcher takes it; unused

    def __repr__(self) -> str:
        return "FakeMatcherStandIn()"

    def extract(self, capture: Capture) -> Any:
        if capture.image is None:
            raise TemplateFormatError("no image to extract from")
        return np.array(capture.image, copy=True)

    def create_template(self, features: Sequence[Any]) -> Template:
        blobs = {bytes(f.tobytes()) for f in features}
        if len(blobs) != 1:
            raise EnrolmentFailed("enrolment captures disagree")
        return Template(STANDIN_FORMAT, blobs.pop())

    def compare(self, template: Template, features: Any) -> float:
        if template.format != STANDIN_FORMAT:
            raise TemplateFormatError(f"template format {template.format} is not "
                                      f"{STANDIN_FORMAT}")
        return 1.0 if template.data == bytes(features.tobytes()) else 0.0

    def verify(self, template: Template, features: Any, max_fmr: float) -> Decision:
        if max_fmr < MIN_FMR:
            raise CalibrationError(f"max_fmr {max_fmr:g} below what the calibration "
                                   f"supports ({MIN_FMR:g})")
        score = self.compare(template, features)
        return Decision(score >= 0.5, score, 0.5, MIN_FMR, max_fmr)


# --------------------------------------------------------------------------- distributions
def install_distribution(site: Path, distribution: str, version: str,
                         entry_points: Mapping[str, Mapping[str, str]],
                         modules: Mapping[str, str] | None = None) -> Path:
    """Write a minimal installed distribution into ``site`` (a directory the caller puts on
    ``sys.path``): ``<name>-<version>.dist-info/{METADATA,entry_points.txt}`` and optional
    top-level modules (``{module name: source}``).  Returns the dist-info directory."""
    site.mkdir(parents=True, exist_ok=True)
    info = site / f"{distribution.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n",
        encoding="utf-8")
    lines = []
    for group, items in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{name} = {value}" for name, value in items.items()]
        lines.append("")
    (info / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
    for name, source in (modules or {}).items():
        (site / f"{name}.py").write_text(source, encoding="utf-8")
    return info
