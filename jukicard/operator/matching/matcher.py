"""``MaxCurvatureMiura``: the default vein matcher plugin (entry point ``mc-miura`` in
``jukicard.vein.matchers``).

Extraction is Maximum Curvature after Lee's finger mask and Huang's normalisation
(:mod:`.extract`); comparison is Miura matching with a ±3° rotation search (:mod:`.compare`);
enrolment aligns 3–5 captures onto the first and keeps the pixels most of them agree on.
With a ``protection_key`` the matcher stores and compares Bloom-filter protected references
(:mod:`.protect`) — a separate template format with its own calibration table.

Template formats (a template of any other format, version or protection key is refused
with :class:`~jukicard.errors.TemplateFormatError`, never compared):

* ``jukicard/mc-miura-map/v1``: ``b"JVMC" | 0x01 | height:u16 | width:u16 | packbits(map)``;
* ``jukicard/mc-miura-bloom/v1``: ``b"JVBF" | 0x01 | key_id:8 | height:u16 | width:u16 |
  packbits(filters)``.

Calibration tables ship in ``jukicard/operator/matching/data/`` and are rebuilt by
``python3 benchmarks/vein_calibration.py`` (development subjects 0–49 of the simulated
device; see that script).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from jukicard.errors import (
    CalibrationError,
    EnrolmentFailed,
    LowQuality,
    TemplateFormatError,
)
from jukicard.operator.api import Capture, Decision, Template, TemplateFormat
from jukicard.operator.matching.calibration import CalibrationTable
from jukicard.operator.matching.compare import (
    CompareParams,
    Probe,
    Reference,
    fuse,
    miura_score,
)
from jukicard.operator.matching.extract import ExtractionParams, extract_map
from jukicard.operator.matching.protect import (
    BloomParams,
    ProtectionKey,
    bits_per_template,
    dice_scores,
    encode,
    encode_candidates,
)

__all__ = ["MaxCurvatureMiura", "VeinFeatures", "PLAIN_FORMAT", "PROTECTED_FORMAT",
           "DATA_DIR", "calibration_path"]

PLAIN_FORMAT = TemplateFormat("jukicard", "mc-miura-map", 1)
PROTECTED_FORMAT = TemplateFormat("jukicard", "mc-miura-bloom", 1)
DATA_DIR = Path(__file__).resolve().parent / "data"
_TABLE_FILES = {PLAIN_FORMAT: "calibration-mc-miura-map-v1.json",
                PROTECTED_FORMAT: "calibration-mc-miura-bloom-v1.json"}
_HEAD = struct.Struct(">4sBHH")


def calibration_path(fmt: TemplateFormat) -> Path:
    """Where the shipped calibration table of a template format lives."""
    return DATA_DIR / _TABLE_FILES[fmt]


_MAGIC = {PLAIN_FORMAT: b"JVMC", PROTECTED_FORMAT: b"JVBF"}
#: A map with fewer vein pixels than this share is a failure to acquire (no finger, blank).
MIN_VEIN_SHARE = 0.005
#: Each enrolment capture must reach this Miura score against the first one.
MIN_ENROL_AGREEMENT = 0.10

BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class VeinFeatures:
    """Features of one capture: the normalised binary vein map (``repr`` shows the shape
    only; the map is biometric data)."""

    vein_map: BoolArray = field(repr=False)

    def __repr__(self) -> str:
        return f"VeinFeatures({self.vein_map.shape[0]}x{self.vein_map.shape[1]})"

    def wipe(self) -> None:
        """Zero the map in place."""
        self.vein_map.fill(False)


class MaxCurvatureMiura:
    """Maximum Curvature extraction + Miura matching (implements
    :class:`jukicard.operator.VeinMatcher`).

    :param protection_key: the deployment key (≥ 16 bytes) for protected templates; ``None``
        stores the (fused) binary map, to be protected by the store's encryption only.
    :param calibration: a calibration table to use instead of the shipped one (tests,
        re-calibration); loaded lazily otherwise.
    """

    matcher_id = "mc-miura"
    version = "1.0.0"

    def __init__(self, protection_key: bytes | None = None, *,
                 calibration: CalibrationTable | None = None) -> None:
        self.extraction = ExtractionParams()
        self.comparison = CompareParams()
        self.bloom = BloomParams()
        self._key = ProtectionKey(protection_key) if protection_key is not None else None
        self.template_format: TemplateFormat = (
            PROTECTED_FORMAT if self._key is not None else PLAIN_FORMAT)
        self._calibration = calibration

    def __repr__(self) -> str:
        return f"MaxCurvatureMiura({self.template_format})"

    @property
    def protected(self) -> bool:
        return self._key is not None

    # ------------------------------------------------------------------ extraction
    def extract(self, capture: Capture) -> VeinFeatures:
        """The binary vein map of a capture (the caller wipes the capture afterwards).

        :raises TemplateFormatError: the capture has no raw image (template-only device,
            or already wiped).
        :raises LowQuality: no usable vein pattern (a failure to acquire).
        """
        image = capture.image
        if image is None or getattr(image, "ndim", 0) != 2:
            raise TemplateFormatError(
                "mc-miura needs a 2-D grey image; the capture carries none")
        try:
            vein_map = extract_map(np.asarray(image), self.extraction)
        except ValueError as exc:
            raise LowQuality("image too small for vein extraction") from exc
        if float(vein_map.mean()) < MIN_VEIN_SHARE:
            raise LowQuality("no vein pattern found in the capture")
        return VeinFeatures(vein_map)

    # ------------------------------------------------------------------ enrolment
    def create_template(self, features: Sequence[Any]) -> Template:
        """Fuse 3–5 enrolment captures into one reference.

        :raises EnrolmentFailed: fewer than 3 or more than 5, of mixed shapes, or captures
            that do not agree with each other (a failure to enrol).
        """
        maps = [self._map_of(f) for f in features]
        if not 3 <= len(maps) <= 5:
            raise EnrolmentFailed("enrolment needs 3 to 5 captures")
        if len({m.shape for m in maps}) != 1:
            raise EnrolmentFailed("enrolment captures of different sizes")
        first = Reference.prepare(maps[0], self.comparison)
        for other in maps[1:]:
            if miura_score(first, Probe.prepare(other, self.comparison),
                           self.comparison) < MIN_ENROL_AGREEMENT:
                raise EnrolmentFailed("the enrolment captures do not agree (same finger?)")
        fused = fuse(maps, self.comparison)
        if float(fused.mean()) < MIN_VEIN_SHARE:
            raise EnrolmentFailed("the fused reference has too little vein pattern")
        return self._encode(fused)

    def _encode(self, fused: BoolArray) -> Template:
        height, width = fused.shape
        if self._key is None:
            body = np.packbits(fused).tobytes()
            head = _HEAD.pack(_MAGIC[PLAIN_FORMAT], 1, height, width)
            return Template(PLAIN_FORMAT, head + body)
        bits = encode(fused, self._key, self.bloom)
        head = _HEAD.pack(_MAGIC[PROTECTED_FORMAT], 1, height, width)
        return Template(PROTECTED_FORMAT,
                        head[:5] + self._key.key_id + head[5:] + np.packbits(bits).tobytes())

    def _decode(self, template: Template) -> tuple[tuple[int, int], BoolArray]:
        """``(map shape, map or filter bits)``.

        :raises TemplateFormatError: another format/version/key, or malformed bytes.
        """
        if not isinstance(template, Template) or template.format != self.template_format:
            raise TemplateFormatError(
                f"template format {getattr(template, 'format', '?')} is not "
                f"{self.template_format}")
        data = template.data
        key_id = b""
        if self._key is not None:
            key_id, data = data[5:13], data[:5] + data[13:]
        if len(data) < _HEAD.size:
            raise TemplateFormatError("template too short")
        magic, version, height, width = _HEAD.unpack_from(data)
        if magic != _MAGIC[self.template_format] or version != 1 or height < 16 or width < 16:
            raise TemplateFormatError("template header does not match its format")
        if self._key is not None and key_id != self._key.key_id:
            raise TemplateFormatError(
                "template was protected under another deployment key (revoked or foreign)")
        n_bits = height * width if self._key is None else self._bloom_bits((height, width))
        body = np.frombuffer(data, dtype=np.uint8, offset=_HEAD.size)
        if body.size != (n_bits + 7) // 8:
            raise TemplateFormatError("template length does not match its header")
        bits = np.unpackbits(body, count=n_bits).astype(np.bool_)
        if self._key is None:
            return (height, width), bits.reshape(height, width)
        return (height, width), bits

    def _bloom_bits(self, shape: tuple[int, int]) -> int:
        return bits_per_template(shape, self.bloom)

    @staticmethod
    def _map_of(features: Any) -> BoolArray:
        if not isinstance(features, VeinFeatures):
            raise TemplateFormatError("features were not produced by mc-miura")
        return features.vein_map

    # ------------------------------------------------------------------ comparison
    def compare(self, template: Template, features: Any) -> float:
        """Similarity of a probe to a reference (deterministic; plain: [0, 0.5],
        protected: [0, 1]).

        :raises TemplateFormatError: template of another format/version/key, or features
            of another matcher or shape.
        """
        return float(self.score_matrix([template], [features])[0, 0])

    def score_matrix(self, templates: Sequence[Template], features: Sequence[Any]
                     ) -> NDArray[np.float64]:
        """Scores of every (template, probe) pair: shape (templates, probes).  Same values
        as :meth:`compare`, computed with each reference and probe prepared once.

        :raises TemplateFormatError: as :meth:`compare`.
        """
        decoded = [self._decode(t) for t in templates]
        maps = [self._map_of(f) for f in features]
        for shape, _ in decoded:
            if any(m.shape != shape for m in maps):
                raise TemplateFormatError("probe and reference maps differ in size")
        out = np.zeros((len(decoded), len(maps)), dtype=np.float64)
        if not decoded or not maps:
            return out
        if self._key is None:
            refs = [Reference.prepare(m, self.comparison) for _, m in decoded]
            for j, m in enumerate(maps):
                probe = Probe.prepare(m, self.comparison)
                for i, ref in enumerate(refs):
                    out[i, j] = miura_score(ref, probe, self.comparison)
            return out
        ref_bits = np.stack([b for _, b in decoded]).astype(np.float32)
        for j, m in enumerate(maps):
            cand = encode_candidates(m, self._key, self.bloom).astype(np.float32)
            out[:, j] = dice_scores(ref_bits, cand)
        return out

    # ------------------------------------------------------------------ decision
    @property
    def calibration(self) -> CalibrationTable:
        """The calibration table for this template format.

        :raises CalibrationError: missing, malformed, or for another matcher/format.
        """
        if self._calibration is None:
            self._calibration = CalibrationTable.load(calibration_path(self.template_format))
        table = self._calibration
        if (table.matcher_id != self.matcher_id
                or table.template_format != str(self.template_format)):
            raise CalibrationError("calibration table is for another matcher or format")
        return table

    def verify(self, template: Template, features: Any, max_fmr: float) -> Decision:
        """1:1 decision at the caller's maximum FMR.

        :raises CalibrationError: ``max_fmr`` outside (0, 1] or below 3 / impostor trials of
            the calibration table.
        :raises TemplateFormatError: as :meth:`compare`.
        """
        threshold, achieved = self.calibration.threshold_for(max_fmr)
        score = self.compare(template, features)
        return Decision(score >= threshold, score, threshold, achieved, max_fmr)
