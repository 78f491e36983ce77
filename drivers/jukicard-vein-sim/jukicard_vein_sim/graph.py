"""The vein-graph model: one seeded, synthetic vein network per (subject, finger).

Geometry follows the finger-vein generators of FVeinSyn (Hillerström et al.): two main
trunks run along the finger, bridges join them, and side branches leave them by a branching
random walk; every segment has its own radius and depth.  Nothing here is measured from a
real finger: the graph is *synthetic* and exists so that a matcher can be exercised and so
that extractor tests have a ground truth.

Coordinates are millimetres on the finger's surface, unrolled: ``x`` along the finger (the
imaged field spans ``0 … FIELD_MM``; the graph runs a little beyond it so that shifted
captures still show veins at the borders) and ``s`` the arc length around the finger from
its palmar midline (``-π/2·R … π/2·R`` is the half of the finger the camera sees).  A point
``(x, s)`` projects to ``y = R·sin(s / R)`` across the image (the renderer adds roll).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["FIELD_MM", "TRUNK", "BRIDGE", "BRANCH", "VeinGraph", "make_graph", "graph_rng"]

#: Length of finger the default 80×240 image spans (millimetres; 0.25 mm per pixel).
FIELD_MM = 60.0
#: Segment kinds (:attr:`VeinGraph.kind`).
TRUNK, BRIDGE, BRANCH = 0, 1, 2

#: Stream tag of the graph generator in the seed sequence (captures use other tags).
_GRAPH_STREAM = 0x6772


def graph_rng(seed: int, subject: int, finger: int) -> np.random.Generator:
    """The generator of one finger's graph: a function of (seed, subject, finger) only."""
    return np.random.Generator(np.random.PCG64(
        np.random.SeedSequence([int(seed), int(subject), int(finger), _GRAPH_STREAM])))


@dataclass(frozen=True, eq=False)
class VeinGraph:
    """A vein network: nodes, segments between them, a radius and a depth per segment.

    :ivar nodes: ``(N, 2)`` float64, ``(x, s)`` in millimetres (see the module docstring).
    :ivar edges: ``(M, 2)`` int, node indices of each segment.
    :ivar radius_mm: ``(M,)`` vessel radius of each segment.
    :ivar depth: ``(M,)`` relative depth under the skin in ``[0, 1]`` (deeper = more
        scattering, so more blur in a bona fide capture).
    :ivar kind: ``(M,)`` :data:`TRUNK`, :data:`BRIDGE` or :data:`BRANCH`.
    :ivar finger_radius_mm: the finger's radius (the renderer's cylinder).
    :ivar joints_mm: ``x`` of the two interphalangeal joints (brighter bands in the image).
    """

    nodes: np.ndarray
    edges: np.ndarray
    radius_mm: np.ndarray
    depth: np.ndarray
    kind: np.ndarray
    finger_radius_mm: float
    joints_mm: tuple[float, float]
    degree: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for arr in (self.nodes, self.edges, self.radius_mm, self.depth, self.kind):
            arr.setflags(write=False)
        degree = np.bincount(self.edges.ravel(), minlength=len(self.nodes))
        degree.setflags(write=False)
        object.__setattr__(self, "degree", degree)

    def projected_mm(self, roll_rad: float = 0.0, width_scale: float = 1.0) -> np.ndarray:
        """Nodes as ``(x, y)`` millimetres in the camera's plane (``y`` across the finger)."""
        radius = self.finger_radius_mm * width_scale
        theta = self.nodes[:, 1] / self.finger_radius_mm + roll_rad
        return np.column_stack([self.nodes[:, 0], radius * np.sin(theta)])

    def segment_lengths(self) -> np.ndarray:
        a, b = self.nodes[self.edges[:, 0]], self.nodes[self.edges[:, 1]]
        return np.hypot(*(b - a).T)

    def __repr__(self) -> str:
        return (f"VeinGraph({len(self.nodes)} nodes, {len(self.edges)} segments, "
                f"finger radius {self.finger_radius_mm:.1f} mm)")


class _Builder:
    def __init__(self, rng: np.random.Generator, finger_radius: float) -> None:
        self.rng = rng
        self.radius = finger_radius
        self.smax = 0.9 * finger_radius * math.pi / 2  # veins the camera can see
        self.nodes: list[tuple[float, float]] = []
        self.edges: list[tuple[int, int]] = []
        self.seg_radius: list[float] = []
        self.seg_depth: list[float] = []
        self.seg_kind: list[int] = []

    def node(self, x: float, s: float) -> int:
        self.nodes.append((x, s))
        return len(self.nodes) - 1

    def segment(self, a: int, b: int, radius: float, depth: float, kind: int) -> None:
        self.edges.append((a, b))
        self.seg_radius.append(radius)
        self.seg_depth.append(float(np.clip(depth, 0.0, 1.0)))
        self.seg_kind.append(kind)

    def walk(self, start: int, heading: float, length: float, radius: float, depth: float,
             kind: int, *, step: float = 1.2, wiggle: float = 0.12, pull: float = 0.0,
             taper: float = 0.0, end_radius: float = 0.2) -> list[int]:
        """A persistent random walk from node *start*; returns its node chain."""
        rng = self.rng
        chain = [start]
        x, s = self.nodes[start]
        home = heading
        travelled = 0.0
        while travelled < length:
            heading = heading + pull * (home - heading) + rng.normal(0.0, wiggle)
            x += step * math.cos(heading)
            s += step * math.sin(heading)
            if abs(s) > self.smax:
                break
            if kind == TRUNK:  # trunks stay clear of the edges: steer back
                s = float(np.clip(s, -0.7 * self.smax, 0.7 * self.smax))
            nxt = self.node(x, s)
            r = max(end_radius, radius * (1.0 - taper * travelled / max(length, 1e-9)))
            self.segment(chain[-1], nxt, r, depth + rng.normal(0.0, 0.03), kind)
            chain.append(nxt)
            travelled += step
        return chain


def make_graph(rng: np.random.Generator) -> VeinGraph:
    """Draw one finger's vein graph from *rng* (use :func:`graph_rng` for a seeded one)."""
    finger_radius = float(rng.uniform(6.8, 8.2))
    b = _Builder(rng, finger_radius)
    x0, x1 = -10.0, FIELD_MM + 10.0
    # Two main trunks, one each side of the midline, along the whole finger.
    trunks: list[list[int]] = []
    trunk_radius: list[float] = []
    for side in (-1.0, 1.0):
        s0 = side * float(rng.uniform(0.12, 0.4)) * b.smax
        radius = float(rng.uniform(0.55, 0.85))
        depth = float(rng.uniform(0.35, 0.8))
        start = b.node(x0, s0)
        chain = b.walk(start, float(rng.normal(0.0, 0.1)), x1 - x0, radius, depth, TRUNK,
                       step=1.5, wiggle=0.09, pull=0.25, taper=0.3, end_radius=0.35)
        trunks.append(chain)
        trunk_radius.append(radius)
    # Bridges between the trunks (a bowed polyline from one trunk to the other).
    for _ in range(int(rng.integers(2, 5))):
        ia = int(rng.integers(3, len(trunks[0]) - 3))
        a = trunks[0][ia]
        xa = b.nodes[a][0]
        target_x = xa + float(rng.uniform(-8.0, 8.0))
        cand = trunks[1]
        ib = int(np.argmin([abs(b.nodes[n][0] - target_x) for n in cand]))
        end = cand[ib]
        (ax, as_), (bx, bs) = b.nodes[a], b.nodes[end]
        bow = float(rng.normal(0.0, 2.0))
        radius = 0.65 * min(trunk_radius) * float(rng.uniform(0.8, 1.1))
        depth = float(rng.uniform(0.3, 0.7))
        pts = int(max(3, math.hypot(bx - ax, bs - as_) // 1.5))
        prev = a
        for k in range(1, pts):
            t = k / pts
            nx = ax + t * (bx - ax) + bow * math.sin(math.pi * t) + rng.normal(0.0, 0.25)
            ns = as_ + t * (bs - as_) + rng.normal(0.0, 0.25)
            cur = b.node(nx, ns)
            b.segment(prev, cur, radius, depth, BRIDGE)
            prev = cur
        b.segment(prev, end, radius, depth, BRIDGE)
    # Side branches: a branching random walk from the trunks (and from branches).
    stack: list[tuple[int, float, int]] = []
    for _ in range(int(rng.integers(10, 18))):
        chain = trunks[int(rng.integers(0, 2))]
        at = chain[int(rng.integers(2, len(chain) - 2))]
        stack.append((at, trunk_radius[0 if chain is trunks[0] else 1], 0))
    while stack:
        at, parent_radius, level = stack.pop()
        outward = math.copysign(1.0, b.nodes[at][1] or 1.0)
        if rng.random() < 0.45:
            outward = -outward
        forward = 0.0 if rng.random() < 0.7 else math.pi
        angle = math.radians(float(rng.uniform(25.0, 65.0)))
        heading = forward + outward * (angle if forward == 0.0 else -angle)
        radius = max(0.3, parent_radius * float(rng.uniform(0.55, 0.85)))
        chain = b.walk(at, heading, float(rng.uniform(6.0, 24.0)), radius,
                       float(rng.uniform(0.1, 0.9)), BRANCH, taper=0.4, end_radius=0.22)
        if level < 2 and len(chain) > 4:
            for _ in range(int(rng.binomial(2, 0.35))):
                stack.append((chain[int(rng.integers(2, len(chain) - 1))], radius, level + 1))
    joints = (float(rng.uniform(12.0, 20.0)), float(rng.uniform(40.0, 48.0)))
    return VeinGraph(
        nodes=np.asarray(b.nodes, dtype=np.float64),
        edges=np.asarray(b.edges, dtype=np.intp),
        radius_mm=np.asarray(b.seg_radius, dtype=np.float64),
        depth=np.asarray(b.seg_depth, dtype=np.float64),
        kind=np.asarray(b.seg_kind, dtype=np.int8),
        finger_radius_mm=finger_radius,
        joints_mm=joints,
    )
