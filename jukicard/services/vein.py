"""Vein (静脈認証) enrolment and 1:1 verification of an operator: the use cases over a
capture device, a matcher and a template store (issue 12).

* :func:`enrol_operator`: 3–5 captures → features (each capture wiped at once) → one fused
  template → the store.  Failures to acquire (``LowQuality``) are retried up to a cap, then
  the enrolment fails (FTE, :class:`~jukicard.errors.EnrolmentFailed`).
* :func:`verify_operator`: up to ``attempts`` captures compared with the operator's active
  references at the caller's ``max_fmr``; the result (:class:`VerifyResult`) carries the
  decision, the score, the FMR the calibration achieved, the capture's quality and its
  presentation-attack verdict **separately**, the record compared and the matcher's
  identity.  A PAD "attack" raises :class:`~jukicard.errors.PresentationAttackSuspected` at
  once; a verdict of "undetermined" is never compared: it counts as a failure to acquire,
  like quality failures, which are not mismatches (counted, capped by ``max_fta``).

The caller opens and closes the device.  No raw image leaves a capture: the services never
read pixels, and wipe each capture once the matcher has its features.

Lockout and audit (§3 of the reference) come later; their seam is :class:`VeinHooks`:
:meth:`~VeinHooks.check` runs before any capture (a locked factor raises there) and
:meth:`~VeinHooks.record` receives every :class:`VeinEvent` (no image, template or feature
data in any).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from jukicard.errors import (
    EnrolmentFailed,
    LowQuality,
    PresentationAttackSuspected,
    TemplateNotFound,
    UsageError,
)
from jukicard.operator import (
    CancelToken,
    Capture,
    CapturePurpose,
    Guidance,
    PadDecision,
    PadResult,
    TemplateRecord,
    TemplateStore,
    VeinDevice,
    VeinMatcher,
)

__all__ = [
    "DEFAULT_MAX_FMR",
    "DEFAULT_ATTEMPTS",
    "DEFAULT_MAX_FTA",
    "DEFAULT_TIMEOUT_S",
    "VeinEvent",
    "VeinHooks",
    "EnrolmentResult",
    "VerifyResult",
    "enrol_operator",
    "verify_operator",
]

log = logging.getLogger("jukicard.services.vein")

DEFAULT_MAX_FMR = 1e-4
DEFAULT_ATTEMPTS = 3
#: Failures to acquire tolerated in one enrolment or verification.
DEFAULT_MAX_FTA = 5
DEFAULT_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class VeinEvent:
    """Something the audit trail will record: ``kind`` is one of ``capture``, ``fta``,
    ``attack``, ``decision``, ``enrolled``; ``detail`` holds figures and ids only."""

    kind: str
    operator_id: str
    detail: Mapping[str, object] = field(default_factory=dict)


class VeinHooks(Protocol):
    """The seam for lockout and audit (a later issue)."""

    def check(self, operator_id: str) -> None:
        """Called before the first capture; raise to refuse (e.g. a locked vein factor)."""
        ...

    def record(self, event: VeinEvent) -> None:
        """Receives every event of the operation."""
        ...


@dataclass(frozen=True)
class EnrolmentResult:
    """A stored reference.  :ivar fta_count: captures refused for quality on the way."""

    record_id: str
    operator_id: str
    finger_id: int
    matcher_id: str
    matcher_version: str
    template_format: str
    captures: int
    fta_count: int
    qualities: tuple[int | None, ...]

    def to_json(self) -> dict[str, object]:
        return {"record_id": self.record_id, "operator_id": self.operator_id,
                "finger_id": self.finger_id, "matcher_id": self.matcher_id,
                "matcher_version": self.matcher_version,
                "template_format": self.template_format, "captures": self.captures,
                "fta_count": self.fta_count, "qualities": list(self.qualities)}


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of one verification (a decision, not an error).

    :ivar match: the decision at ``max_fmr``.
    :ivar score: the best score of the deciding capture.
    :ivar threshold: the calibration's threshold for ``max_fmr``.
    :ivar achieved_fmr: the calibration's FMR at that threshold.
    :ivar quality: the deciding capture's quality (``None``: the device gives none).
    :ivar pad: its presentation-attack verdict, apart from the match (``None``: no PAD).
    :ivar record_id: the reference that gave ``score``.
    :ivar attempts: captures compared; :ivar fta_count: captures refused for quality.
    """

    operator_id: str
    match: bool
    score: float
    threshold: float
    achieved_fmr: float
    max_fmr: float
    quality: int | None
    pad: PadResult | None
    record_id: str
    matcher_id: str
    matcher_version: str
    attempts: int
    fta_count: int

    def to_json(self) -> dict[str, object]:
        pad = None if self.pad is None else {
            "decision": self.pad.decision.value, "score": self.pad.score,
            "method": self.pad.method, "simulated": self.pad.simulated}
        return {"operator_id": self.operator_id,
                "decision": "match" if self.match else "no-match", "score": self.score,
                "threshold": self.threshold, "achieved_fmr": self.achieved_fmr,
                "max_fmr": self.max_fmr, "quality": self.quality, "pad": pad,
                "record_id": self.record_id, "matcher_id": self.matcher_id,
                "matcher_version": self.matcher_version, "attempts": self.attempts,
                "fta_count": self.fta_count}


class _Session:
    """Captures for one operation: FTA counting, the PAD check, wiping."""

    def __init__(self, device: VeinDevice, matcher: VeinMatcher, operator_id: str,
                 purpose: CapturePurpose, *, max_fta: int, timeout_s: float,
                 guidance: Guidance | None, cancel: CancelToken | None,
                 hooks: VeinHooks | None) -> None:
        self.device, self.matcher, self.operator_id = device, matcher, operator_id
        self.purpose, self.max_fta, self.timeout_s = purpose, max_fta, timeout_s
        self.guidance, self.cancel, self.hooks = guidance, cancel, hooks
        self.fta = 0
        if hooks is not None:
            hooks.check(operator_id)

    def event(self, kind: str, **detail: object) -> None:
        if self.hooks is not None:
            self.hooks.record(VeinEvent(kind, self.operator_id, detail))

    def capture(self) -> tuple[Any, int | None, PadResult | None]:
        """One usable capture's features, quality and PAD verdict.

        :raises LowQuality: more than ``max_fta`` failures to acquire.
        :raises PresentationAttackSuspected: the device or its PAD verdict says "attack".
        """
        while True:
            try:
                capture = self.device.capture(self.purpose, self.timeout_s,
                                              guidance=self.guidance, cancel=self.cancel)
                return self._features(capture)  # the matcher may find it too poor, too
            except LowQuality as exc:
                self.fta += 1
                self.event("fta", quality=exc.quality, count=self.fta)
                if self.fta > self.max_fta:
                    raise LowQuality(f"{self.fta} captures not usable (cap {self.max_fta}; "
                                     f"last: {exc})",
                                     quality=exc.quality) from None
                continue
            except PresentationAttackSuspected as exc:
                self.event("attack", score=exc.score)
                raise

    def _features(self, capture: Capture) -> tuple[Any, int | None, PadResult | None]:
        try:
            quality, pad = capture.quality, capture.pad
            self.event("capture", quality=quality,
                       pad=None if pad is None else pad.decision.value)
            if pad is not None and pad.decision is PadDecision.ATTACK:
                raise PresentationAttackSuspected(
                    f"presentation attack suspected ({pad.method})", score=pad.score)
            if pad is not None and pad.decision is not PadDecision.BONA_FIDE:
                # the detector could not decide: never compared, captured again (an FTA)
                raise LowQuality(f"presentation-attack detection could not decide "
                                 f"({pad.method}): capture not used", quality=quality)
            return self.matcher.extract(capture), quality, pad
        finally:
            capture.wipe()


def _check_counts(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"{name} must be {low}-{high}")


def _check_timeout(timeout_s: float) -> None:
    """A finite, positive number of seconds (a NaN or infinite one would reach the
    device as "wait forever" or as nonsense)."""
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) \
            or not math.isfinite(timeout_s) or timeout_s <= 0:
        raise UsageError("timeout must be a finite number of seconds above 0")


def _wipe(features: Sequence[Any]) -> None:
    """Clear features once used ("Clear Memory"; best effort, the matcher owns them): their
    ``wipe()`` if they have one, else ``fill(0)`` for a bare array."""
    for item in features:
        clear = getattr(item, "wipe", None)
        try:
            if callable(clear):
                clear()
            elif callable(fill := getattr(item, "fill", None)):
                fill(0)
        except (TypeError, ValueError):
            pass


def enrol_operator(device: VeinDevice, matcher: VeinMatcher, store: TemplateStore,
                   operator_id: str, finger_id: int, approved_by: str, *,
                   captures: int = 3, max_fta: int = DEFAULT_MAX_FTA,
                   timeout_s: float = DEFAULT_TIMEOUT_S, guidance: Guidance | None = None,
                   cancel: CancelToken | None = None,
                   hooks: VeinHooks | None = None) -> EnrolmentResult:
    """Enrol one finger of an operator (an administrator approved it: ``approved_by``).

    :param captures: enrolment captures fused into the template (3–5).
    :param max_fta: failures to acquire tolerated before the enrolment fails.
    :raises EnrolmentFailed: too many failures to acquire, or the matcher cannot make a
        template of the captures (FTE).
    :raises PresentationAttackSuspected: a capture was judged an attack (nothing stored).
    :raises CaptureTimeout, CaptureCancelled, DeviceRemoved, DeviceFault: from the device.
    :raises TemplateStoreError: the store refused (e.g. that finger is already enrolled).
    """
    _check_counts("captures", captures, 3, 5)
    _check_counts("max_fta", max_fta, 0, 100)
    _check_timeout(timeout_s)
    session = _Session(device, matcher, operator_id, CapturePurpose.ENROL, max_fta=max_fta,
                       timeout_s=timeout_s, guidance=guidance, cancel=cancel, hooks=hooks)
    features: list[Any] = []
    qualities: list[int | None] = []
    try:
        for _ in range(captures):
            try:
                feature, quality, _pad = session.capture()
            except LowQuality as exc:
                raise EnrolmentFailed(f"enrolment failed: {exc}") from exc
            features.append(feature)
            qualities.append(quality)
        template = matcher.create_template(features)
    finally:
        _wipe(features)
    record = store.enrol(operator_id, finger_id, matcher.matcher_id, template, approved_by)
    session.event("enrolled", record_id=record.record_id, finger_id=finger_id,
                  matcher_id=matcher.matcher_id, matcher_version=matcher.version,
                  approved_by=approved_by)
    log.info("enrolled record %s with matcher %s %s (%d captures, %d FTA)",
             record.record_id, matcher.matcher_id, matcher.version, captures, session.fta)
    return EnrolmentResult(record.record_id, operator_id, finger_id, matcher.matcher_id,
                           matcher.version, str(template.format), captures, session.fta,
                           tuple(qualities))


def _references(store: TemplateStore, matcher: VeinMatcher,
                operator_id: str) -> list[TemplateRecord]:
    records = store.get(operator_id)
    usable = [r for r in records if r.template.format == matcher.template_format]
    if not usable:
        other = f" ({len(records)} of another template format)" if records else ""
        raise TemplateNotFound(f"no active reference for that operator usable by matcher "
                               f"{matcher.matcher_id}{other}")
    return usable


def verify_operator(device: VeinDevice, matcher: VeinMatcher, store: TemplateStore,
                    operator_id: str, *, max_fmr: float = DEFAULT_MAX_FMR,
                    attempts: int = DEFAULT_ATTEMPTS, max_fta: int = DEFAULT_MAX_FTA,
                    timeout_s: float = DEFAULT_TIMEOUT_S, guidance: Guidance | None = None,
                    cancel: CancelToken | None = None,
                    hooks: VeinHooks | None = None) -> VerifyResult:
    """1:1 verification of an operator against their active references.

    References are loaded (and integrity-checked) before the first capture.  Each capture
    is compared with every reference; the first match ends it.

    :param max_fmr: the operating point (maximum false-match rate per comparison).
    :param attempts: captures compared before the answer is "no match" (1–10).
    :param max_fta: failures to acquire tolerated (they are not mismatches).
    :raises TemplateNotFound: no active reference of the matcher's format.
    :raises TemplateIntegrityError: every reference failed its integrity check.
    :raises PresentationAttackSuspected: a capture was judged an attack (no decision).
    :raises LowQuality: more than ``max_fta`` failures to acquire.
    :raises CalibrationError: the matcher cannot support ``max_fmr``.
    :raises CaptureTimeout, CaptureCancelled, DeviceRemoved, DeviceFault: from the device.
    """
    _check_counts("attempts", attempts, 1, 10)
    _check_counts("max_fta", max_fta, 0, 100)
    _check_timeout(timeout_s)
    if not 0.0 < max_fmr < 1.0:
        raise UsageError("max_fmr must be in (0, 1)")
    references = _references(store, matcher, operator_id)
    session = _Session(device, matcher, operator_id, CapturePurpose.VERIFY, max_fta=max_fta,
                       timeout_s=timeout_s, guidance=guidance, cancel=cancel, hooks=hooks)
    result: VerifyResult | None = None
    for attempt in range(1, attempts + 1):
        features, quality, pad = session.capture()
        try:
            scored = [(matcher.verify(r.template, features, max_fmr), r) for r in references]
        finally:
            _wipe([features])
        decision, record = max(scored, key=lambda item: (item[0].match, item[0].score))
        result = VerifyResult(operator_id, decision.match, decision.score,
                              decision.threshold, decision.achieved_fmr, decision.max_fmr,
                              quality, pad, record.record_id, matcher.matcher_id,
                              matcher.version, attempt, session.fta)
        session.event("decision", match=decision.match, score=decision.score,
                      achieved_fmr=decision.achieved_fmr, record_id=record.record_id,
                      matcher_id=matcher.matcher_id, matcher_version=matcher.version,
                      attempt=attempt)
        if decision.match:
            break
    assert result is not None  # attempts >= 1
    log.info("verification %s after %d attempt(s) (%d FTA) with matcher %s %s, record %s",
             "matched" if result.match else "did not match", result.attempts, result.fta_count,
             matcher.matcher_id, matcher.version, result.record_id)
    return result
