"""The 静脈認証 (vein) plugin API: what a capture device, a matcher and a template store
provide, and the data objects that pass between them (issue 12).

The shape follows BioAPI (ISO/IEC 19784-1) units — sensor → :class:`VeinDevice`, processing
and matching → :class:`VeinMatcher`, archive → :class:`TemplateStore` — with BioAPI's
threshold semantics: the caller asks for a **maximum false-match rate** and the matcher
reports the rate it achieved (the team's vein-authentication developer reference, §2).

Rules every plugin and every caller keeps:

* **Raw images never leave the plugins.**  A :class:`Capture` goes from the device to the
  matcher through the library, which never reads its pixels; its ``repr`` shows none, and
  :meth:`Capture.wipe` zeroes the buffer once the matcher has extracted its features
  ("Clear Memory").  Templates and features are opaque too (``repr`` shows sizes only).
* **Every failure is typed** — no device, timeout, cancelled, finger removed, low quality
  (FTA), attack suspected, enrolment failure (FTE), a template of another format, an
  operating point the calibration cannot support — from the :class:`~jukicard.errors.VeinError`
  family, never a silent pass and never a bare exception.
* **Presentation-attack detection is separate from the match**: a capture carries its own
  :class:`PadResult`; a matcher never folds it into the score.
* Plugins are found by entry point (:data:`DEVICE_GROUP`, :data:`MATCHER_GROUP`,
  :data:`STORE_GROUP`) and admitted only through an allow-list (name, distribution,
  version).

This module is the public API drivers import (``drivers/*`` may import only
``jukicard.operator``'s public API and ``jukicard.errors``).
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "DEVICE_GROUP",
    "MATCHER_GROUP",
    "STORE_GROUP",
    "CapturePurpose",
    "Modality",
    "Imaging",
    "PadDecision",
    "DeviceInfo",
    "PadResult",
    "Capture",
    "TemplateFormat",
    "Template",
    "Decision",
    "TemplateRecord",
    "CancelToken",
    "Guidance",
    "VeinDevice",
    "VeinMatcher",
    "TemplateStore",
]

#: Entry-point groups the plugin registry reads.
DEVICE_GROUP = "jukicard.vein.devices"
MATCHER_GROUP = "jukicard.vein.matchers"
STORE_GROUP = "jukicard.vein.stores"


class CapturePurpose(enum.Enum):
    """Why a capture is taken (devices may guide the user differently)."""

    ENROL = "enrol"
    VERIFY = "verify"


class Modality(enum.Enum):
    FINGER = "finger"
    PALM = "palm"
    BACK_OF_HAND = "back-of-hand"
    WRIST = "wrist"


class Imaging(enum.Enum):
    TRANSMISSION = "transmission"
    REFLECTION = "reflection"


class PadDecision(enum.Enum):
    """A presentation-attack detector's verdict (ISO/IEC 30107-1 vocabulary)."""

    BONA_FIDE = "bona-fide"
    ATTACK = "attack"
    UNDETERMINED = "undetermined"


@dataclass(frozen=True)
class DeviceInfo:
    """What a device is and can do (field names after ISO/IEC 39794-9 where one exists).

    Capability flags: ``raw_image`` (captures carry an image), ``template_only`` (vendor
    templates only), ``on_device_store``, ``on_device_match``, ``quality_score``,
    ``pad_score``, ``secure_channel``, ``result_mac`` (on-device decisions carry a MAC; the
    policy refuses on-device decisions without one).  ``simulated`` is True for a device
    that images no real finger: every figure it yields is labelled simulated.
    """

    vendor: str
    model: str
    serial: str
    firmware: str
    driver_name: str
    driver_version: str
    modality: Modality
    imaging: Imaging
    wavelength_nm: int | None
    image_size: tuple[int, int] | None  # (height, width) in pixels
    resolution_ppi: int | None
    raw_image: bool = True
    template_only: bool = False
    on_device_store: bool = False
    on_device_match: bool = False
    quality_score: bool = False
    pad_score: bool = False
    secure_channel: bool = False
    result_mac: bool = False
    simulated: bool = False


@dataclass(frozen=True)
class PadResult:
    """The presentation-attack verdict of one capture, separate from any match.

    :ivar score: the detector's score in [0, 1], higher = more likely an attack.
    :ivar decision: its decision at the device's own operating point.
    :ivar method: what produced it (e.g. ``"sim-depth-blur"``).
    :ivar simulated: True when it comes from a simulated device (never a liveness claim).
    """

    score: float
    decision: PadDecision
    method: str
    simulated: bool = False


@dataclass(eq=False)
class Capture:
    """One capture: a grey image (``uint8``, 2-D NumPy array) or a vendor template, with
    its quality and presentation-attack result.

    Mutable only so :meth:`wipe` can clear the buffer; ``repr`` never shows pixels or
    template bytes.

    :ivar purpose: enrol or verify.
    :ivar image: the image, or ``None`` for a template-only device (and after :meth:`wipe`).
    :ivar vendor_template: ``(format, bytes)`` from a template-only device, else ``None``.
    :ivar quality: 0–100, or ``None`` if the device gives none.
    :ivar pad: the PAD result, or ``None`` if the device has no PAD.
    :ivar device_serial: the device that took it.
    :ivar taken_at: when (timezone-aware).
    """

    purpose: CapturePurpose
    image: Any | None
    quality: int | None
    pad: PadResult | None
    device_serial: str
    taken_at: datetime
    vendor_template: tuple[TemplateFormat, bytes] | None = None

    def wipe(self) -> None:
        """Zero the image buffer (and drop the vendor template); idempotent."""
        image = self.image
        if image is not None:
            try:
                image.fill(0)
            except (AttributeError, TypeError, ValueError):  # read-only / not an array
                pass
        self.image = None
        self.vendor_template = None

    def __repr__(self) -> str:
        shape = getattr(self.image, "shape", None)
        body = f"image {shape}" if shape is not None else (
            "vendor template" if self.vendor_template is not None else "wiped")
        return (f"Capture({self.purpose.value}, {body}, quality={self.quality}, "
                f"pad={self.pad.decision.value if self.pad else None})")


@dataclass(frozen=True)
class TemplateFormat:
    """Who defines a template's bytes and which version: a template of another format or
    version is rejected, never compared."""

    owner: str
    type: str
    version: int

    def __str__(self) -> str:
        return f"{self.owner}/{self.type}/v{self.version}"


@dataclass(frozen=True)
class Template:
    """A biometric reference as the matcher encodes it (opaque bytes; ``repr`` shows the
    format and size only)."""

    format: TemplateFormat
    data: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"Template({self.format}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class Decision:
    """A 1:1 verification decision at the caller's operating point.

    :ivar match: True when ``score >= threshold``.
    :ivar score: the comparison score (higher = more similar).
    :ivar threshold: the threshold the calibration gave for ``max_fmr``.
    :ivar achieved_fmr: the calibration's false-match rate at that threshold.
    :ivar max_fmr: what the caller asked for.
    """

    match: bool
    score: float
    threshold: float
    achieved_fmr: float
    max_fmr: float


@dataclass(frozen=True)
class TemplateRecord:
    """A stored, integrity-checked reference (what :meth:`TemplateStore.get` returns)."""

    record_id: str
    operator_id: str
    finger_id: int
    matcher_id: str
    template: Template
    created_at: datetime
    approved_by: str
    revoked: bool = False


class CancelToken:
    """Cancels a capture from another thread: ``token.cancel()``; devices poll
    :attr:`cancelled` (or wait on it) and raise :class:`~jukicard.errors.CaptureCancelled`."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True if cancelled."""
        return self._event.wait(timeout)


#: Receives user guidance events ("place finger", "move", "hold still") — BioAPI's GUI
#: callbacks.  Never receives image data.
Guidance = Callable[[str], None]


@runtime_checkable
class VeinDevice(Protocol):
    """One capture device (one object per physical reader).

    ``open()``/``close()`` (``close`` idempotent; also a context manager).  ``capture``
    raises :class:`~jukicard.errors.CaptureTimeout`, :class:`~jukicard.errors.CaptureCancelled`,
    :class:`~jukicard.errors.DeviceRemoved`, :class:`~jukicard.errors.LowQuality` (FTA),
    :class:`~jukicard.errors.PresentationAttackSuspected` or
    :class:`~jukicard.errors.DeviceFault`.
    """

    def open(self) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> VeinDevice: ...

    def __exit__(self, *exc: object) -> None: ...

    def info(self) -> DeviceInfo: ...

    def capture(self, purpose: CapturePurpose, timeout_s: float, *,
                guidance: Guidance | None = None,
                cancel: CancelToken | None = None) -> Capture: ...


@runtime_checkable
class VeinMatcher(Protocol):
    """Feature extraction, template creation and comparison.

    ``extract`` wipes nothing itself (the caller wipes the capture after it);
    ``create_template`` fuses 3–5 enrolment features and raises
    :class:`~jukicard.errors.EnrolmentFailed` (FTE) for a set it cannot use; ``compare`` is
    deterministic (higher = more similar) and raises
    :class:`~jukicard.errors.TemplateFormatError` for another format; ``verify`` maps
    ``max_fmr`` to a threshold through the calibration table shipped with the matcher and
    raises :class:`~jukicard.errors.CalibrationError` when the table cannot support it
    (``max_fmr`` below 3 / impostor trials of the table).
    """

    matcher_id: str
    version: str
    template_format: TemplateFormat

    def extract(self, capture: Capture) -> Any: ...

    def create_template(self, features: Sequence[Any]) -> Template: ...

    def compare(self, template: Template, features: Any) -> float: ...

    def verify(self, template: Template, features: Any, max_fmr: float) -> Decision: ...


@runtime_checkable
class TemplateStore(Protocol):
    """Protected storage of references: encrypted and MACed under a deployment key, the
    identity bound in (AAD), integrity checked on load — a record that fails is
    :class:`~jukicard.errors.TemplateIntegrityError` and counts as "no reference", never as
    a match.  Revocation destroys the record's key (crypto-shredding) and leaves a tombstone.
    """

    def enrol(self, operator_id: str, finger_id: int, matcher_id: str, template: Template,
              approved_by: str) -> TemplateRecord: ...

    def get(self, operator_id: str) -> list[TemplateRecord]: ...

    def revoke(self, record_or_operator_id: str, approved_by: str, reason: str) -> int: ...

    def list(self) -> list[tuple[str, str, int, bool]]: ...

    def rotate_keys(self) -> int: ...
