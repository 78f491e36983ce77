"""Technology evaluation of the vein matcher on a (simulated) capture device, in ISO/IEC
19795-1 vocabulary.

Protocol (the team's vein-authentication developer reference, §6): subjects are split, never
samples — the first half (seeds ``0 … n/2−1``, *development*) picks the thresholds, the
second half (*evaluation*) reports.  **Enrol/probe**: captures ``0 … enrol−1`` of a subject
are fused into its reference (an enrolment transaction), captures ``enrol … captures−1`` are
its probes; every reference is compared with every probe of the same set (genuine: same
subject, impostor: another).  Reported: EER; FNMR at FMR 1e-2 and 1e-3 (1e-4 only with
≥ 30 000 impostor trials) at the thresholds chosen on the development set, with the FMR
they reach on the evaluation set; the zero-FMR threshold; FTA (captures, including
matcher-side quality failures) and FTE (enrolment transactions); Clopper–Pearson 95 %
intervals; zero errors as ``≤ 3/N``; subject-level counts beside comparison counts; a DET
curve (PNG and CSV); PAD figures (ISO/IEC 30107-3 BPCER, APCER per species, IAPAR) **labelled
simulated**; the configuration's SHA-256.  Work is spread over ``workers`` processes
(``spawn``: a script calling this needs the ``if __name__ == "__main__":`` guard); the
device comes from a picklable ``device_factory(subject, preset)`` so this module never
imports a driver.

Entry points: :func:`evaluate` (the CLI's ``jukicard operator vein evaluate``),
:func:`build_calibration` (the matcher's shipped calibration tables).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jukicard.errors import (
    CaptureTimeout,
    DeviceRemoved,
    EnrolmentFailed,
    LowQuality,
    PresentationAttackSuspected,
    TemplateFormatError,
)
from jukicard.operator.api import (
    CapturePurpose,
    PadDecision,
    Template,
    VeinDevice,
)
from jukicard.operator.matching.calibration import CalibrationTable
from jukicard.operator.matching.compare import fuse
from jukicard.operator.matching.matcher import MaxCurvatureMiura, VeinFeatures
from jukicard.operator.matching.protect import ProtectionKey, encode
from jukicard.operator.metrics import (
    Rate,
    det_points,
    eer,
    error_rates,
    threshold_at_fmr,
    unlinkability,
    zero_fmr_threshold,
)

__all__ = ["DeviceFactory", "AttackFactory", "EvaluationResult", "evaluate",
           "build_calibration", "unlinkability_figures", "CALIBRATION_KEY"]

#: ``device_factory(subject_seed, preset) -> VeinDevice`` (picklable: module-level).
DeviceFactory = Callable[[int, str], VeinDevice]
#: ``attack_factory(subject_seed, preset, species) -> VeinDevice`` giving attack captures.
AttackFactory = Callable[[int, str, str], VeinDevice]
#: The fixed key the protected format is calibrated and evaluated under (a test key: the
#: score distribution does not depend on which key, the deployment's own key stays secret).
CALIBRATION_KEY = b"jukicard mc-miura-bloom calibration key v1"
FMR_POINTS = (("1e-2", 1e-2), ("1e-3", 1e-3), ("1e-4", 1e-4))
TIMEOUT_S = 5.0


# --------------------------------------------------------------------------- acquisition
@dataclass
class _Subject:
    """One subject's acquisition: packed reference/probe maps and counts (picklable)."""

    subject: int
    template: Template | None = None
    probes: list[tuple[int, bytes]] = field(default_factory=list)  # (capture, packbits)
    shape: tuple[int, int] = (0, 0)
    attempts: int = 0
    fta: int = 0
    fta_reasons: dict[str, int] = field(default_factory=dict)
    fte: bool = False
    bona_fide: int = 0
    bona_fide_flagged: int = 0


def _matcher(protected: bool) -> MaxCurvatureMiura:
    return MaxCurvatureMiura(CALIBRATION_KEY if protected else None)


def _acquire(job: tuple[DeviceFactory, int, str, int, int, bool]) -> _Subject:
    factory, subject, preset, captures, enrol, protected = job
    matcher = _matcher(protected)
    out = _Subject(subject)
    enrol_features: list[VeinFeatures] = []
    with factory(subject, preset) as device:
        for n in range(captures):
            purpose = CapturePurpose.ENROL if n < enrol else CapturePurpose.VERIFY
            out.attempts += 1
            try:
                capture = device.capture(purpose, TIMEOUT_S)
            except PresentationAttackSuspected:
                out.bona_fide += 1
                out.bona_fide_flagged += 1
                _count(out, "pad-flagged")
                continue
            except (LowQuality, CaptureTimeout, DeviceRemoved) as exc:
                _count(out, type(exc).__name__)
                continue
            out.bona_fide += 1
            if capture.pad is not None and capture.pad.decision is PadDecision.ATTACK:
                out.bona_fide_flagged += 1
            try:
                features = matcher.extract(capture)
            except (LowQuality, TemplateFormatError) as exc:
                _count(out, type(exc).__name__)
                continue
            finally:
                capture.wipe()
            out.shape = features.vein_map.shape
            if n < enrol:
                enrol_features.append(features)
            else:
                out.probes.append((n, np.packbits(features.vein_map).tobytes()))
    if len(enrol_features) < enrol:
        out.fte = True
    else:
        try:
            out.template = matcher.create_template(enrol_features)
        except EnrolmentFailed:
            out.fte = True
    for f in enrol_features:
        f.wipe()
    return out


def _count(out: _Subject, reason: str) -> None:
    out.fta += 1
    out.fta_reasons[reason] = out.fta_reasons.get(reason, 0) + 1


def _unpack(shape: tuple[int, int], packed: bytes) -> VeinFeatures:
    bits = np.unpackbits(np.frombuffer(packed, dtype=np.uint8), count=shape[0] * shape[1])
    return VeinFeatures(bits.astype(np.bool_).reshape(shape))


def _score(job: tuple[bool, list[Template], tuple[int, int], list[bytes]]
           ) -> NDArray[np.float64]:
    protected, templates, shape, probes = job
    return _matcher(protected).score_matrix(templates, [_unpack(shape, p) for p in probes])


def _run(fn: Callable[[Any], Any], jobs: Sequence[Any], workers: int) -> list[Any]:
    if workers <= 1 or len(jobs) <= 1:
        return [fn(j) for j in jobs]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        return list(pool.map(fn, jobs, chunksize=max(1, len(jobs) // (4 * workers))))


@dataclass(frozen=True)
class _Scores:
    genuine: NDArray[np.float64]
    impostor: NDArray[np.float64]
    subjects: list[_Subject]
    impostor_subject_pairs: int
    genuine_subjects: int


def _collect(factory: DeviceFactory, seeds: Sequence[int], preset: str, captures: int,
             enrol: int, protected: bool, workers: int) -> _Scores:
    subjects = _run(_acquire, [(factory, s, preset, captures, enrol, protected)
                               for s in seeds], workers)
    refs = [s for s in subjects if s.template is not None]
    probes = [(s.subject, p) for s in subjects for _, p in s.probes]
    shape = next((s.shape for s in subjects if s.shape != (0, 0)), (0, 0))
    if not refs or not probes:
        empty = np.zeros(0)
        return _Scores(empty, empty, subjects, 0, 0)
    n_chunks = max(1, min(len(refs), 2 * max(workers, 1)))
    chunks = [refs[i::n_chunks] for i in range(n_chunks)]
    blocks = _run(_score, [(protected, [r.template for r in c], shape, [p for _, p in probes])
                           for c in chunks], workers)
    probe_owner = np.array([o for o, _ in probes])
    genuine: list[NDArray[np.float64]] = []
    impostor: list[NDArray[np.float64]] = []
    for chunk, block in zip(chunks, blocks, strict=True):
        for ref, row in zip(chunk, block, strict=True):
            same = probe_owner == ref.subject
            genuine.append(row[same])
            impostor.append(row[~same])
    owners = {o for o, _ in probes}
    pairs = sum(len(owners - {r.subject}) for r in refs)
    return _Scores(np.concatenate(genuine), np.concatenate(impostor), subjects, pairs,
                   sum(1 for r in refs if r.subject in owners))


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class EvaluationResult:
    """What :func:`evaluate` measured: ``figures`` (the JSON document) and where it wrote
    its files.  ``elapsed_s`` is not part of the (reproducible) JSON."""

    figures: dict[str, Any]
    json_path: Path
    det_png: Path
    det_csv: Path
    elapsed_s: float


def _config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def _operating_points(dev: _Scores, ev: _Scores) -> dict[str, Any]:
    points: dict[str, Any] = {}
    for label, fmr in FMR_POINTS:
        if fmr * dev.impostor.size < 3 and label != "1e-2":
            continue
        if label == "1e-4" and ev.impostor.size < 30_000:
            continue
        t = threshold_at_fmr(dev.impostor, fmr)
        fmr_rate, fnmr_rate = error_rates(ev.genuine, ev.impostor, t)
        t_post = threshold_at_fmr(ev.impostor, fmr)
        points[label] = {"threshold_from_dev": t, "fnmr": fnmr_rate.as_dict(),
                         "fmr_on_eval": fmr_rate.as_dict(),
                         "a_posteriori": {"threshold": t_post, "fnmr": error_rates(
                             ev.genuine, ev.impostor, t_post)[1].as_dict()}}
    t0 = zero_fmr_threshold(dev.impostor)
    fmr0, fnmr0 = error_rates(ev.genuine, ev.impostor, t0)
    t0_post = zero_fmr_threshold(ev.impostor)
    points["zero_fmr"] = {"threshold_from_dev": t0, "fnmr": fnmr0.as_dict(),
                          "fmr_on_eval": fmr0.as_dict(),
                          "a_posteriori": {"threshold": t0_post, "fnmr": error_rates(
                              ev.genuine, ev.impostor, t0_post)[1].as_dict()}}
    return points


def _acquisition_figures(subjects: Sequence[_Subject]) -> dict[str, Any]:
    attempts = sum(s.attempts for s in subjects)
    reasons: dict[str, int] = {}
    for s in subjects:
        for k, v in s.fta_reasons.items():
            reasons[k] = reasons.get(k, 0) + v
    return {"fta": Rate.of(sum(s.fta for s in subjects), attempts).as_dict(),
            "fta_reasons": dict(sorted(reasons.items())),
            "fte": Rate.of(sum(1 for s in subjects if s.fte), len(subjects)).as_dict()}


def _write_det(genuine: NDArray[np.float64], impostor: NDArray[np.float64], title: str,
               png: Path, csv: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from scipy import stats

    thresholds, fmr, fnmr = det_points(genuine, impostor)
    with csv.open("w", encoding="utf-8") as fh:
        fh.write("threshold,fmr,fnmr\n")
        for t, a, b in zip(thresholds, fmr, fnmr, strict=True):
            fh.write(f"{t!r},{a!r},{b!r}\n")
    eps = 1e-5
    x = stats.norm.ppf(np.clip(fmr, eps, 1 - eps))
    y = stats.norm.ppf(np.clip(fnmr, eps, 1 - eps))
    ticks = [1e-4, 1e-3, 1e-2, 5e-2, 0.2, 0.5]
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.plot(x, y, lw=1.5)
    pos = stats.norm.ppf(ticks)
    labels = [f"{100 * t:g}" for t in ticks]
    ax.set_xticks(pos, labels)
    ax.set_yticks(pos, labels)
    ax.set_xlim(pos[0], pos[-1])
    ax.set_ylim(pos[0], pos[-1])
    ax.set_xlabel("FMR (%)")
    ax.set_ylabel("FNMR (%)")
    ax.set_title(title.replace(", ", ",\n", 1), fontsize=9)  # two lines: fits the 5-inch plot
    ax.grid(True, ls=":")
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


def _pad_figures(attack_factory: AttackFactory | None, species: Sequence[str],
                 ev: _Scores, preset: str, threshold: float, protected: bool,
                 attacks_per_subject: int) -> dict[str, Any]:
    bona = sum(s.bona_fide for s in ev.subjects)
    flagged = sum(s.bona_fide_flagged for s in ev.subjects)
    out: dict[str, Any] = {"label": "SIMULATED — tests the policy code, not real liveness",
                           "bpcer": Rate.of(flagged, bona).as_dict(), "apcer": {}}
    if attack_factory is None:
        return out
    matcher = _matcher(protected)
    refs = {s.subject: s.template for s in ev.subjects if s.template is not None}
    iapar_hits = iapar_trials = 0
    for sp in species:
        accepted = total = 0
        for subject, template in refs.items():
            with attack_factory(subject, preset, sp) as device:
                for _ in range(attacks_per_subject):
                    total += 1
                    try:
                        capture = device.capture(CapturePurpose.VERIFY, TIMEOUT_S)
                    except PresentationAttackSuspected:
                        iapar_trials += 1
                        continue
                    except (LowQuality, CaptureTimeout, DeviceRemoved):
                        continue
                    passed = capture.pad is None or capture.pad.decision is not (
                        PadDecision.ATTACK)
                    try:
                        features = matcher.extract(capture)
                    except (LowQuality, TemplateFormatError):
                        features = None
                    finally:
                        capture.wipe()
                    iapar_trials += 1
                    if passed:
                        accepted += 1
                        if features is not None and matcher.compare(
                                template, features) >= threshold:
                            iapar_hits += 1
        out["apcer"][sp] = Rate.of(accepted, total).as_dict()
    out["iapar_at_fmr_1e-3"] = Rate.of(iapar_hits, iapar_trials).as_dict()
    return out


def evaluate(preset: str, subjects: int, captures: int, out_dir: Path, *,
             device_factory: DeviceFactory, enrol: int = 3, workers: int = 2,
             protected: bool = False, attack_factory: AttackFactory | None = None,
             attack_species: Sequence[str] = (), attacks_per_subject: int = 2,
             dataset_id: str = "") -> EvaluationResult:
    """Run the enrol/probe evaluation and write ``results.json``, ``det.png``, ``det.csv``.

    :param preset: the device preset (passed to the factory; recorded).
    :param subjects: number of subjects; seeds ``0 … subjects/2−1`` are development,
        the rest evaluation.
    :param captures: captures per subject (``enrol`` fused, the rest probes).
    :param out_dir: where to write (created).
    :param device_factory: ``(subject_seed, preset) -> VeinDevice``; picklable.
    :param protected: evaluate the Bloom-filter protected format instead of the plain one.
    :param attack_factory: optional ``(subject, preset, species) -> VeinDevice`` for the
        simulated PAD figures.
    :param dataset_id: a name for the data source (recorded in the configuration).
    :raises ValueError: fewer than 4 subjects or no probe capture.
    """
    if subjects < 4 or captures <= enrol:
        raise ValueError("need at least 4 subjects and more captures than enrolment ones")
    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    matcher = _matcher(protected)
    half = subjects // 2
    config = {"protocol": "enrol/probe", "preset": preset, "subjects": subjects,
              "dev_seeds": [0, half - 1], "eval_seeds": [half, subjects - 1],
              "captures": captures, "enrol_captures": list(range(enrol)),
              "matcher": {"id": matcher.matcher_id, "version": matcher.version,
                          "template_format": str(matcher.template_format),
                          "protected": protected},
              "dataset_id": dataset_id or getattr(device_factory, "__qualname__", "?"),
              "attack_species": list(attack_species),
              "attacks_per_subject": attacks_per_subject if attack_factory else 0}
    dev = _collect(device_factory, range(half), preset, captures, enrol, protected, workers)
    ev = _collect(device_factory, range(half, subjects), preset, captures, enrol, protected,
                  workers)
    if ev.genuine.size == 0 or dev.impostor.size == 0:
        raise ValueError("no comparisons could be made (every capture or enrolment failed)")
    e, e_thr = eer(ev.genuine, ev.impostor)
    points = _operating_points(dev, ev)
    png, csv = out_dir / "det.png", out_dir / "det.csv"
    chash = _config_hash(config)
    _write_det(ev.genuine, ev.impostor,
               f"SIMULATED data — {preset}, {subjects - half} eval subjects, "
               f"{matcher.template_format}", png, csv)
    t3 = points.get("1e-3", points["1e-2"])["threshold_from_dev"]
    figures = {
        "simulated": True,
        "note": "synthetic finger-vein images from a simulated device; not a claim about "
                "real fingers or devices",
        "config": config, "config_hash": chash,
        "eval": {"eer": e, "eer_threshold": e_thr,
                 "counts": {"genuine_trials": int(ev.genuine.size),
                            "impostor_trials": int(ev.impostor.size),
                            "genuine_subjects": ev.genuine_subjects,
                            "impostor_subject_pairs": ev.impostor_subject_pairs},
                 "operating_points": points,
                 **_acquisition_figures(ev.subjects)},
        "dev": {"eer": eer(dev.genuine, dev.impostor)[0] if dev.genuine.size else None,
                "counts": {"genuine_trials": int(dev.genuine.size),
                           "impostor_trials": int(dev.impostor.size),
                           "impostor_subject_pairs": dev.impostor_subject_pairs},
                **_acquisition_figures(dev.subjects)},
        "pad": _pad_figures(attack_factory, attack_species, ev, preset, t3, protected,
                            attacks_per_subject),
        "files": {"det_png": png.name, "det_csv": csv.name},
    }
    json_path = out_dir / "results.json"
    json_path.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n",
                         encoding="utf-8")
    return EvaluationResult(figures, json_path, png, csv, time.perf_counter() - start)


def build_calibration(preset: str, out: Path, *, device_factory: DeviceFactory,
                      dataset_id: str, subjects: int = 50, captures: int = 16,
                      enrol: int = 3, workers: int = 2, protected: bool = False
                      ) -> CalibrationTable:
    """Build and write the matcher's calibration table from development subjects
    ``0 … subjects−1``: references from captures ``0 … enrol−1``, impostor probes from
    captures ``enrol … captures−1`` of every other subject (50 × 49 × 13 = 31 850 impostor
    trials by default, enough for ``max_fmr`` 1e-4)."""
    matcher = _matcher(protected)
    config = {"purpose": "calibration", "preset": preset, "subjects": [0, subjects - 1],
              "captures": captures, "enrol": enrol, "dataset_id": dataset_id,
              "template_format": str(matcher.template_format)}
    scores = _collect(device_factory, range(subjects), preset, captures, enrol, protected,
                      workers)
    table = CalibrationTable.from_scores(
        matcher.matcher_id, str(matcher.template_format), scores.impostor,
        dataset={"id": dataset_id, "preset": preset, "subjects": f"0-{subjects - 1}",
                 "captures": captures, "genuine_trials": int(scores.genuine.size)},
        config_hash=_config_hash(config),
        impostor_subject_pairs=scores.impostor_subject_pairs)
    out.write_text(table.to_json(), encoding="utf-8")
    return table


def unlinkability_figures(preset: str, seeds: Sequence[int], *,
                          device_factory: DeviceFactory, enrol: int = 3,
                          keys: tuple[bytes, bytes] = (b"unlinkability key A, 32 bytes..",
                                                       b"unlinkability key B, 32 bytes..")
                          ) -> dict[str, Any]:
    """Cross-key comparison of protected references (ISO/IEC 30136 unlinkability, measured
    as Gomez-Barrero et al.'s ``D↔sys``): every subject's fused reference is protected
    under two keys; *mated* = the same subject across the keys, *non-mated* = different
    subjects across the keys; the score is the protected-domain Dice score.  For scale the
    same-key genuine scores are not part of this (see the protected evaluation)."""
    matcher = _matcher(False)
    key_a, key_b = ProtectionKey(keys[0]), ProtectionKey(keys[1])
    refs_a: list[NDArray[np.float64]] = []
    refs_b: list[NDArray[np.float64]] = []
    for seed in seeds:
        maps = []
        with device_factory(seed, preset) as device:
            for _ in range(enrol):
                try:
                    capture = device.capture(CapturePurpose.ENROL, TIMEOUT_S)
                    try:
                        maps.append(matcher.extract(capture).vein_map)
                    finally:
                        capture.wipe()
                except (LowQuality, CaptureTimeout, DeviceRemoved, TemplateFormatError,
                        PresentationAttackSuspected):
                    continue
        if len(maps) < enrol:
            continue
        fused = fuse(maps, matcher.comparison)
        refs_a.append(encode(fused, key_a).astype(np.float64))
        refs_b.append(encode(fused, key_b).astype(np.float64))
    a, b = np.stack(refs_a), np.stack(refs_b)
    dice = 2.0 * (a @ b.T) / (a.sum(1)[:, None] + b.sum(1)[None, :])
    mated = np.diag(dice)
    non_mated = dice[~np.eye(len(dice), dtype=np.bool_)]
    return {"subjects": len(mated), "mated_trials": int(mated.size),
            "non_mated_trials": int(non_mated.size),
            "mated_mean": float(mated.mean()), "mated_max": float(mated.max()),
            "non_mated_mean": float(non_mated.mean()),
            "non_mated_max": float(non_mated.max()),
            "d_sys": unlinkability(mated, non_mated, bins=20)}
