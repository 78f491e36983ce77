"""Vein enrolment and verification services (issue 12) over stand-ins for the simulated
device and the matcher (:mod:`vein_standins`) and the real SQLite store."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import pytest
from vein_standins import SECRET_MARK, FakeDeviceStandIn, FakeMatcherStandIn

from jukicard.errors import (
    CalibrationError,
    CaptureCancelled,
    CaptureTimeout,
    DeviceFault,
    DeviceRemoved,
    EnrolmentFailed,
    LowQuality,
    PresentationAttackSuspected,
    TemplateIntegrityError,
    TemplateNotFound,
    TemplateStoreError,
    UsageError,
)
from jukicard.operator import CancelToken, PadDecision, Template, TemplateFormat
from jukicard.operator.kek import KeyFile
from jukicard.operator.store import SqliteTemplateStore
from jukicard.services.vein import VeinEvent, _wipe, enrol_operator, verify_operator


class RecordingHooksStandIn:
    """Stands in for the later lockout/audit layer: records events, may refuse."""

    def __init__(self, locked: bool = False) -> None:
        self.locked = locked
        self.events: list[VeinEvent] = []

    def check(self, operator_id: str) -> None:
        if self.locked:
            raise LowQuality("locked (stand-in)")

    def record(self, event: VeinEvent) -> None:
        self.events.append(event)


@pytest.fixture
def store(tmp_path: Path) -> SqliteTemplateStore:
    return SqliteTemplateStore(tmp_path / "vein.sqlite", KeyFile.create(tmp_path / "k.key"))


@pytest.fixture
def matcher() -> FakeMatcherStandIn:
    return FakeMatcherStandIn()


def _enrol(store: SqliteTemplateStore, matcher: FakeMatcherStandIn, subject: int = 1,
           operator_id: str = "op-1", finger: int = 1) -> str:
    return enrol_operator(FakeDeviceStandIn(subject), matcher, store, operator_id, finger,
                          "admin").record_id


def test_enrol_then_verify_genuine_and_impostor(store: SqliteTemplateStore,
                                                matcher: FakeMatcherStandIn) -> None:
    device = FakeDeviceStandIn(1)
    hooks = RecordingHooksStandIn()
    enrolled = enrol_operator(device, matcher, store, "op-1", 2, "admin", captures=4,
                              hooks=hooks)
    assert (enrolled.captures, enrolled.fta_count, enrolled.qualities) == (4, 0, (80,) * 4)
    assert enrolled.matcher_id == "fake-standin" and enrolled.matcher_version == "1.0"
    assert all(c.image is None for c in device.captures)  # every capture wiped
    assert [e.kind for e in hooks.events] == ["capture"] * 4 + ["enrolled"]

    result = verify_operator(FakeDeviceStandIn(1), matcher, store, "op-1")
    assert result.match and result.score == 1.0 and result.attempts == 1
    assert result.record_id == enrolled.record_id
    assert result.achieved_fmr <= result.max_fmr == 1e-4
    assert result.pad is not None and result.pad.decision is PadDecision.BONA_FIDE
    assert result.to_json()["decision"] == "match"

    impostor = verify_operator(FakeDeviceStandIn(2), matcher, store, "op-1", attempts=2)
    assert not impostor.match and impostor.attempts == 2 and impostor.score == 0.0
    assert impostor.to_json()["decision"] == "no-match"


def test_verify_uses_every_finger_and_retries(store: SqliteTemplateStore,
                                              matcher: FakeMatcherStandIn) -> None:
    _enrol(store, matcher, subject=5, finger=1)
    second = _enrol(store, matcher, subject=1, finger=2)
    device = FakeDeviceStandIn(1, script=["impostor"])
    result = verify_operator(device, matcher, store, "op-1")
    assert result.match and result.attempts == 2 and result.record_id == second


def test_fta_is_retried_counted_and_capped(store: SqliteTemplateStore,
                                           matcher: FakeMatcherStandIn) -> None:
    result = enrol_operator(FakeDeviceStandIn(1, script=["fta", "ok", "fta"]), matcher,
                            store, "op-1", 1, "admin")
    assert result.fta_count == 2
    verified = verify_operator(FakeDeviceStandIn(1, script=["fta"] * 3), matcher, store,
                               "op-1", attempts=1)
    assert verified.match and verified.fta_count == 3 and verified.attempts == 1
    with pytest.raises(LowQuality, match="cap 2"):
        verify_operator(FakeDeviceStandIn(1, script=["fta"] * 3), matcher, store, "op-1",
                        max_fta=2)


def test_too_many_fta_at_enrolment_is_fte(store: SqliteTemplateStore,
                                          matcher: FakeMatcherStandIn) -> None:
    with pytest.raises(EnrolmentFailed, match="cap 1"):
        enrol_operator(FakeDeviceStandIn(1, script=["fta", "fta"]), matcher, store, "op-1",
                       1, "admin", max_fta=1)
    assert store.list() == []


def test_captures_the_matcher_cannot_fuse_are_fte(store: SqliteTemplateStore,
                                                  matcher: FakeMatcherStandIn) -> None:
    device = FakeDeviceStandIn(1, script=["ok", "impostor"])
    with pytest.raises(EnrolmentFailed):
        enrol_operator(device, matcher, store, "op-1", 1, "admin")
    assert store.list() == [] and all(c.image is None for c in device.captures)


@pytest.mark.parametrize("step", ["attack", "attack-raise"])
def test_presentation_attack_stops_at_once(store: SqliteTemplateStore,
                                           matcher: FakeMatcherStandIn, step: str) -> None:
    _enrol(store, matcher)
    device = FakeDeviceStandIn(1, script=[step])
    hooks = RecordingHooksStandIn()
    with pytest.raises(PresentationAttackSuspected) as info:
        verify_operator(device, matcher, store, "op-1", hooks=hooks)
    assert info.value.score is not None and info.value.score > 0.9
    assert device.script == []  # one capture only, no retry
    assert all(c.image is None for c in device.captures)
    assert [e.kind for e in hooks.events][-1] == "attack"
    with pytest.raises(PresentationAttackSuspected):
        enrol_operator(FakeDeviceStandIn(1, script=[step]), matcher, store, "op-2", 1,
                       "admin")
    assert [r[1] for r in store.list()] == ["op-1"]


@pytest.mark.parametrize(("step", "error"), [("timeout", CaptureTimeout),
                                             ("removed", DeviceRemoved),
                                             ("fault", DeviceFault)])
def test_device_failures_are_typed(store: SqliteTemplateStore, matcher: FakeMatcherStandIn,
                                   step: str, error: type[Exception]) -> None:
    _enrol(store, matcher)
    with pytest.raises(error):
        verify_operator(FakeDeviceStandIn(1, script=[step]), matcher, store, "op-1")
    with pytest.raises(error):
        enrol_operator(FakeDeviceStandIn(1, script=["ok", step]), matcher, store, "op-1", 4,
                       "admin")


def test_cancel_from_another_thread(store: SqliteTemplateStore,
                                    matcher: FakeMatcherStandIn) -> None:
    _enrol(store, matcher)
    device = FakeDeviceStandIn(1, script=["block"])
    token = CancelToken()
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            verify_operator(device, matcher, store, "op-1", cancel=token)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert device.waiting.wait(120)  # hang guard: the capture is under way
    token.cancel()
    worker.join(120)
    assert not worker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], CaptureCancelled)


def test_no_reference_is_not_found_and_tampered_is_integrity(
        store: SqliteTemplateStore, matcher: FakeMatcherStandIn) -> None:
    device = FakeDeviceStandIn(1)
    with pytest.raises(TemplateNotFound):
        verify_operator(device, matcher, store, "op-1")
    assert device.captures == []  # no capture without a reference
    store.enrol("op-1", 1, "other", Template(TemplateFormat("x", "y", 1), b"t"), "admin")
    with pytest.raises(TemplateNotFound, match="1 of another template format"):
        verify_operator(device, matcher, store, "op-1")
    store.revoke("op-1", "admin", "wrong format")
    _enrol(store, matcher)
    conn = sqlite3.connect(store.path, isolation_level=None)
    conn.execute("UPDATE template SET ciphertext = zeroblob(40)")
    conn.close()
    with pytest.raises(TemplateIntegrityError):
        verify_operator(device, matcher, store, "op-1")


def test_operating_point_and_arguments(store: SqliteTemplateStore,
                                       matcher: FakeMatcherStandIn) -> None:
    _enrol(store, matcher)
    with pytest.raises(CalibrationError):
        verify_operator(FakeDeviceStandIn(1), matcher, store, "op-1", max_fmr=1e-9)
    for kwargs in ({"attempts": 0}, {"max_fmr": 0.0}, {"max_fta": -1}):
        with pytest.raises(UsageError):
            verify_operator(FakeDeviceStandIn(1), matcher, store, "op-1", **kwargs)  # type: ignore[arg-type]
    for captures in (2, 6):
        with pytest.raises(UsageError):
            enrol_operator(FakeDeviceStandIn(1), matcher, store, "op-1", 3, "admin",
                           captures=captures)
    with pytest.raises(TemplateStoreError, match="already"):
        _enrol(store, matcher)


def test_hooks_check_runs_before_any_capture(store: SqliteTemplateStore,
                                             matcher: FakeMatcherStandIn) -> None:
    _enrol(store, matcher)
    device = FakeDeviceStandIn(1)
    with pytest.raises(LowQuality, match="locked"):
        verify_operator(device, matcher, store, "op-1",
                        hooks=RecordingHooksStandIn(locked=True))
    assert device.captures == []


def test_no_image_or_template_bytes_in_logs_reprs_errors(
        store: SqliteTemplateStore, matcher: FakeMatcherStandIn,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hooks = RecordingHooksStandIn()
    enrolled = enrol_operator(FakeDeviceStandIn(1), matcher, store, "op-1", 1, "admin",
                              hooks=hooks)
    result = verify_operator(FakeDeviceStandIn(2), matcher, store, "op-1", hooks=hooks)
    errors: list[BaseException] = []
    for step in ("attack", "timeout"):
        try:
            verify_operator(FakeDeviceStandIn(1, script=[step]), matcher, store, "op-1")
        except PresentationAttackSuspected as exc:
            errors.append(exc)
        except CaptureTimeout as exc:
            errors.append(exc)
    texts = [caplog.text, repr(enrolled), repr(result), str(result.to_json()),
             repr(hooks.events), *map(str, errors), *map(repr, errors)]
    for text in texts:
        assert "VEINSECRET" not in text and SECRET_MARK.hex() not in text


class _WipeableStandIn:
    def __init__(self) -> None:
        self.wiped = False

    def wipe(self) -> None:
        self.wiped = True


def test_features_are_wiped_after_use(store: SqliteTemplateStore,
                                      matcher: FakeMatcherStandIn,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Bare arrays are zeroed; feature objects with a ``wipe()`` (P3's VeinFeatures) have
    it called — after enrolment and after each verification capture."""
    seen: list[object] = []
    real_extract = matcher.extract

    def extract(capture: object) -> object:
        features = real_extract(capture)  # type: ignore[arg-type]
        seen.append(features)
        return features

    monkeypatch.setattr(matcher, "extract", extract)
    _enrol(store, matcher)
    verify_operator(FakeDeviceStandIn(1), matcher, store, "op-1")
    assert len(seen) == 4 and all(not f.any() for f in seen)  # type: ignore[attr-defined]
    item = _WipeableStandIn()
    _wipe([item])
    assert item.wiped


# --------------------------------------------------------------------------- review (rv-vein)
def test_an_undetermined_pad_verdict_is_never_compared(store: SqliteTemplateStore,
                                                       matcher: FakeMatcherStandIn) -> None:
    """Review finding: only an "attack" verdict stopped a capture; one the detector could
    not decide ("undetermined") was compared and could log the operator in.  Now it is a
    failure to acquire (counted, capped).  Fails on the old code: the first capture
    matched."""
    _enrol(store, matcher)
    hooks = RecordingHooksStandIn()
    result = verify_operator(FakeDeviceStandIn(1, script=["undetermined"]), matcher, store,
                             "op-1", hooks=hooks)
    assert result.match and result.fta_count == 1
    assert result.pad is not None and result.pad.decision is PadDecision.BONA_FIDE
    assert [e.kind for e in hooks.events][:2] == ["capture", "fta"]
    device = FakeDeviceStandIn(1, script=["undetermined"] * 3)
    with pytest.raises(LowQuality, match="cap 2"):
        verify_operator(device, matcher, store, "op-1", max_fta=2)
    assert all(c.image is None for c in device.captures)
    with pytest.raises(EnrolmentFailed, match="could not decide"):
        enrol_operator(FakeDeviceStandIn(1, script=["undetermined"] * 9), matcher, store,
                       "op-2", 1, "admin", max_fta=0)


@pytest.mark.parametrize("timeout_s", [float("nan"), float("inf"), 0.0, -1.0])
def test_a_timeout_must_be_finite_and_positive(store: SqliteTemplateStore,
                                               matcher: FakeMatcherStandIn,
                                               timeout_s: float) -> None:
    """Review finding: ``--timeout nan`` passed click's range check and reached the device
    (a NaN or infinite wait).  Fails on the old code (no error)."""
    _enrol(store, matcher)
    with pytest.raises(UsageError, match="timeout"):
        verify_operator(FakeDeviceStandIn(1), matcher, store, "op-1", timeout_s=timeout_s)
    with pytest.raises(UsageError, match="timeout"):
        enrol_operator(FakeDeviceStandIn(1), matcher, store, "op-2", 1, "admin",
                       timeout_s=timeout_s)
