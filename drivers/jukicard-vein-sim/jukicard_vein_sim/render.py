"""Rendering a vein graph as a near-infrared transmission image, and the capture presets.

A capture is one draw of :class:`CaptureParams` from a :class:`Preset` (shift, rotation,
scale, roll, finger width, exposure, scattering, optical blur, sensor noise) applied to the
finger's canonical maps (:class:`FingerModel`, rendered once per finger and cached by the
device).  The pipeline, all vectorised NumPy / :mod:`scipy.ndimage`:

1. each output pixel is mapped back through the capture's similarity transform (shift,
   rotation, scale) to finger millimetres, then through the finger cylinder (width, roll)
   to the unrolled surface coordinates of the canonical maps;
2. the canonical vein absorption (vessel chord length, three depth layers) and tissue
   texture are sampled there (bilinear);
3. each depth layer is blurred by ``optical + scatter × depth`` — deeper vessels are
   blurrier, the cue a printed finger lacks;
4. Beer–Lambert transmission through a bright finger (plateau, darker edges, brighter
   joints) on a dark background, scattered veiling light, exposure, shot and read noise,
   8-bit quantisation.

A *printed attack* renders the same veins as a flat print: one blur for every depth,
paper gamma, a flat paper profile with a sharp cut edge and paper-grain texture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from jukicard_vein_sim.graph import FIELD_MM, VeinGraph

__all__ = [
    "PRESETS",
    "Preset",
    "CaptureParams",
    "FingerModel",
    "draw_params",
    "render",
    "DEGRADATIONS",
]

#: Depth layers of the canonical maps (depth bins of equal width in ``[0, 1]``).
LAYERS = 3
_LAYER_DEPTH = (np.arange(LAYERS) + 0.5) / LAYERS
#: Attenuation of blood per millimetre of vessel chord (Beer–Lambert, arbitrary units).
_MU_BLOOD = 1.3
#: Low-quality frame kinds (:func:`render` with ``degradation=``).
DEGRADATIONS = ("defocus", "overexposed", "off-centre", "noisy")


@dataclass(frozen=True)
class Preset:
    """Capture variation of one preset: standard deviations of normal draws (fractions are
    of the image size; ``shift_sigma`` applies to both axes, each in its own size).

    Fixed in the driver, never tuned to a matcher (README "Presets" gives the reasons).
    """

    name: str
    rotation_sigma_deg: float
    shift_sigma: float
    scale_sigma: float
    roll_sigma_deg: float
    width_sigma: float
    exposure_sigma: float
    optical_blur_px: float
    scatter_px: float
    veil: float
    read_noise: float


PRESETS: dict[str, Preset] = {
    p.name: p for p in (
        Preset("clean", rotation_sigma_deg=0.5, shift_sigma=0.01, scale_sigma=0.01,
               roll_sigma_deg=1.0, width_sigma=0.01, exposure_sigma=0.03,
               optical_blur_px=0.6, scatter_px=1.0, veil=0.10, read_noise=1.0),
        Preset("standard", rotation_sigma_deg=2.0, shift_sigma=0.02, scale_sigma=0.02,
               roll_sigma_deg=3.0, width_sigma=0.02, exposure_sigma=0.08,
               optical_blur_px=0.8, scatter_px=1.3, veil=0.15, read_noise=2.0),
        Preset("hard", rotation_sigma_deg=4.0, shift_sigma=0.04, scale_sigma=0.04,
               roll_sigma_deg=6.0, width_sigma=0.04, exposure_sigma=0.15,
               optical_blur_px=1.0, scatter_px=1.6, veil=0.20, read_noise=3.5),
    )
}


@dataclass(frozen=True)
class CaptureParams:
    """The variation applied to one capture (the ground truth of its pose; no pixels).

    :ivar shift_x_px: finger centre offset along the image rows' direction (pixels).
    :ivar shift_y_px: offset across (pixels, positive = down).
    :ivar rotation_deg: in-plane rotation (positive = clockwise in image coordinates).
    :ivar scale: magnification (1 = nominal; finger-to-sensor distance).
    :ivar roll_deg: rotation of the finger about its own axis.
    :ivar width_scale: finger width factor (pressure / posture).
    :ivar exposure: gain factor (1 = nominal illumination and integration time).
    :ivar optical_blur_px: blur of the optics (pixels, Gaussian σ).
    :ivar scatter_px: extra blur per unit depth from tissue scattering (Gaussian σ).
    :ivar veil: fraction of light scattered into a wide veil.
    :ivar read_noise: sensor read noise (digital numbers, σ).
    """

    shift_x_px: float
    shift_y_px: float
    rotation_deg: float
    scale: float
    roll_deg: float
    width_scale: float
    exposure: float
    optical_blur_px: float
    scatter_px: float
    veil: float
    read_noise: float


def draw_params(preset: Preset, rng: np.random.Generator,
                shape: tuple[int, int]) -> CaptureParams:
    """Draw one capture's variation (normal draws with the preset's σ)."""
    h, w = shape
    z = rng.standard_normal(7)
    return CaptureParams(
        shift_x_px=float(z[0] * preset.shift_sigma * w),
        shift_y_px=float(z[1] * preset.shift_sigma * h),
        rotation_deg=float(z[2] * preset.rotation_sigma_deg),
        scale=float(1.0 + z[3] * preset.scale_sigma),
        roll_deg=float(z[4] * preset.roll_sigma_deg),
        width_scale=float(1.0 + z[5] * preset.width_sigma),
        exposure=float(math.exp(z[6] * preset.exposure_sigma)),
        optical_blur_px=preset.optical_blur_px,
        scatter_px=preset.scatter_px,
        veil=preset.veil,
        read_noise=preset.read_noise,
    )


class FingerModel:
    """A finger's canonical maps on its unrolled surface (rendered once per finger).

    ``maps[k]`` (``k < LAYERS``) is the vessel chord length in millimetres of depth layer
    ``k``; ``maps[LAYERS]`` the tissue transmission texture (around 1).  The grid pitch is
    the output's nominal pixel pitch.
    """

    def __init__(self, graph: VeinGraph, shape: tuple[int, int], texture_seed: int) -> None:
        self.graph = graph
        self.shape = shape
        self.pitch = FIELD_MM / shape[1]  # mm per pixel at scale 1
        self.radius = graph.finger_radius_mm
        self.x0, x1 = -12.0, FIELD_MM + 12.0
        self.s0 = -math.pi / 2 * self.radius
        cols = int(math.ceil((x1 - self.x0) / self.pitch)) + 1
        rows = int(math.ceil(-2 * self.s0 / self.pitch)) + 1
        maps = np.zeros((LAYERS + 1, rows, cols), dtype=np.float32)
        self._draw_segments(maps)
        rng = np.random.Generator(np.random.PCG64(texture_seed))
        mottle = ndimage.gaussian_filter(rng.standard_normal((rows, cols)), 2.0 / self.pitch)
        mottle *= 0.05 / max(float(mottle.std()), 1e-9)
        xs = self.x0 + self.pitch * np.arange(cols)
        joints = sum(np.exp(-(((xs - j) / 3.5) ** 2)) for j in graph.joints_mm)
        maps[LAYERS] = (1.0 + mottle) * (1.0 + 0.12 * joints)[None, :]
        maps.setflags(write=False)
        self.maps = maps

    def _draw_segments(self, maps: np.ndarray) -> None:
        g = self.graph
        layer = np.minimum((g.depth * LAYERS).astype(np.intp), LAYERS - 1)
        a = (g.nodes[g.edges[:, 0]] - (self.x0, self.s0)) / self.pitch
        b = (g.nodes[g.edges[:, 1]] - (self.x0, self.s0)) / self.pitch
        rad = g.radius_mm / self.pitch
        rows, cols = maps.shape[1:]
        for k in range(len(g.edges)):
            (ax, ay), (bx, by), r = a[k], b[k], rad[k]
            c0 = max(int(min(ax, bx) - r - 1), 0)
            c1 = min(int(max(ax, bx) + r + 2), cols)
            r0 = max(int(min(ay, by) - r - 1), 0)
            r1 = min(int(max(ay, by) + r + 2), rows)
            if c0 >= c1 or r0 >= r1:
                continue
            yy, xx = np.mgrid[r0:r1, c0:c1]
            dx, dy = bx - ax, by - ay
            t = np.clip(((xx - ax) * dx + (yy - ay) * dy) / max(dx * dx + dy * dy, 1e-12),
                        0.0, 1.0)
            d2 = (xx - ax - t * dx) ** 2 + (yy - ay - t * dy) ** 2
            chord = 2.0 * self.pitch * np.sqrt(np.maximum(r * r - d2, 0.0))
            view = maps[layer[k], r0:r1, c0:c1]
            np.maximum(view, chord, out=view)


def _finger_coords(model: FingerModel, p: CaptureParams) -> tuple[np.ndarray, np.ndarray]:
    """Per output pixel: ``x`` (mm along the finger) and ``y`` (mm across, camera plane)."""
    h, w = model.shape
    a = math.radians(p.rotation_deg)
    rows = np.arange(h, dtype=np.float64)[:, None] - ((h - 1) / 2 + p.shift_y_px)
    cols = np.arange(w, dtype=np.float64)[None, :] - ((w - 1) / 2 + p.shift_x_px)
    k = model.pitch / p.scale
    x = (cols * math.cos(a) + rows * math.sin(a)) * k + FIELD_MM / 2
    y = (rows * math.cos(a) - cols * math.sin(a)) * k
    return x, y


def render(model: FingerModel, p: CaptureParams, rng: np.random.Generator, *,
           attack: str | None = None, degradation: str | None = None,
           truth: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Render one capture: ``(image uint8 (H, W), vein mask or None)``.

    :param attack: ``None`` (bona fide) or ``"printed"``.
    :param degradation: ``None`` or one of :data:`DEGRADATIONS` (a low-quality frame).
    :param truth: also return the ground-truth vein mask in image coordinates (pixels
        where the projected vessel chord is at least 0.25 mm).
    """
    if degradation == "off-centre":
        # the finger mostly out of the field: over half the height off, 10° askew
        h = model.shape[0]
        p = _replace(p, shift_y_px=math.copysign(0.55 * h, p.shift_y_px or 1.0),
                     rotation_deg=p.rotation_deg + 10.0)
    x, y = _finger_coords(model, p)
    radius = model.radius * p.width_scale * (1.0 - 0.06 * (x / FIELD_MM))  # tapers to the tip
    u = y / radius
    inside = np.clip((1.0 - np.abs(u)) * radius / 0.35, 0.0, 1.0)  # soft edge, ~0.35 mm
    if attack == "printed":
        inside = (np.abs(u) < 1.0).astype(np.float64)  # paper cut with scissors: a hard edge
    theta = np.arcsin(np.clip(u, -1.0, 1.0)) - math.radians(p.roll_deg)
    coords = np.stack([(theta * model.radius - model.s0) / model.pitch,
                       (x - model.x0) / model.pitch])
    sampled = [ndimage.map_coordinates(model.maps[k], coords, order=1, mode="nearest")
               for k in range(LAYERS + 1)]
    blur = p.optical_blur_px
    if degradation == "defocus":
        blur += 7.0
    absorb = np.zeros(model.shape, dtype=np.float64)
    for k in range(LAYERS):
        if attack == "printed":  # a flat print: every vessel equally sharp
            sigma = blur + 0.5 * p.scatter_px
        else:
            sigma = blur + p.scatter_px * float(_LAYER_DEPTH[k]) * 2.0
        absorb += ndimage.gaussian_filter(sampled[k], sigma, truncate=3.0)
    texture = sampled[LAYERS]
    if attack == "printed":
        profile = 1.0 - 0.1 * u * u
        grain = ndimage.gaussian_filter(rng.standard_normal(model.shape), 0.7)
        texture = 1.0 + 0.12 * grain / max(float(grain.std()), 1e-9)
        transmitted = profile * texture * np.exp(-_MU_BLOOD * absorb) ** 1.8  # paper gamma
    else:
        profile = 1.0 - 0.55 * np.clip(u, -1.0, 1.0) ** 4
        transmitted = profile * texture * np.exp(-_MU_BLOOD * absorb)
    light = 0.06 + inside * transmitted
    light = (1.0 - p.veil) * light + p.veil * ndimage.gaussian_filter(light, 10.0,
                                                                      truncate=2.0)
    if blur > 0.0:
        light = ndimage.gaussian_filter(light, 0.5 * blur, truncate=3.0)
    exposure = p.exposure * (3.5 if degradation == "overexposed" else 1.0)
    signal = 165.0 * exposure * light
    read = max(8.0 * p.read_noise, 20.0) if degradation == "noisy" else p.read_noise
    noise = rng.standard_normal(model.shape) * np.sqrt(read * read + 0.08 * signal)
    image = np.clip(np.rint(signal + noise), 0, 255).astype(np.uint8)
    mask = None
    if truth:
        mask = (sum(sampled[:LAYERS]) >= 0.25) & (inside > 0.5)
    return image, mask


def _replace(p: CaptureParams, **changes: float) -> CaptureParams:
    values = {**p.__dict__, **changes}
    return CaptureParams(**values)
