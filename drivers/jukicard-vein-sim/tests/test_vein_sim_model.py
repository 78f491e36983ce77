"""The vein-graph model and the renderer of jukicard-vein-sim: determinism, ground-truth
sanity, presets' measured variation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from jukicard_vein_sim.device import SimulatedVeinDevice
from jukicard_vein_sim.graph import BRANCH, BRIDGE, FIELD_MM, TRUNK, graph_rng, make_graph
from jukicard_vein_sim.render import PRESETS, draw_params


def test_same_seed_gives_the_same_graph_and_other_fingers_differ() -> None:
    a = make_graph(graph_rng(5, 3, 1))
    b = make_graph(graph_rng(5, 3, 1))
    assert np.array_equal(a.nodes, b.nodes) and np.array_equal(a.edges, b.edges)
    for other in (graph_rng(5, 3, 2), graph_rng(5, 4, 1), graph_rng(6, 3, 1)):
        c = make_graph(other)
        assert len(c.nodes) != len(a.nodes) or not np.allclose(c.nodes, a.nodes)


@pytest.mark.parametrize("subject", range(8))
def test_ground_truth_graph_is_a_plausible_finger(subject: int) -> None:
    g = make_graph(graph_rng(0, subject, 0))
    kinds = np.bincount(g.kind, minlength=3)
    assert kinds[TRUNK] >= 2 * 40 and kinds[BRIDGE] >= 2 and kinds[BRANCH] >= 10
    assert g.edges.min() >= 0 and g.edges.max() < len(g.nodes)
    assert np.all(g.edges[:, 0] != g.edges[:, 1])
    # connected: every node reachable from node 0 (trunks joined by bridges)
    seen, todo = {0}, [0]
    adj: dict[int, list[int]] = {}
    for u, v in g.edges.tolist():
        adj.setdefault(u, []).append(v)
        adj.setdefault(v, []).append(u)
    while todo:
        for w in adj.get(todo.pop(), []):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    assert len(seen) == len(g.nodes)
    # trunks span the field, veins stay on the visible half of the finger
    trunk_nodes = g.nodes[np.unique(g.edges[g.kind == TRUNK])]
    assert trunk_nodes[:, 0].min() < 0 and trunk_nodes[:, 0].max() > FIELD_MM
    assert np.abs(g.nodes[:, 1]).max() <= math.pi / 2 * g.finger_radius_mm
    assert 0.2 <= g.radius_mm.min() and g.radius_mm.max() <= 0.9
    assert np.all((0 <= g.depth) & (g.depth <= 1))
    # branches are thinner than the trunks they leave
    assert g.radius_mm[g.kind == BRANCH].mean() < g.radius_mm[g.kind == TRUNK].mean()
    assert np.all(g.segment_lengths() < 4.0)  # polylines, not long straight chords
    assert "nodes" in repr(g)


def test_rendered_truth_mask_covers_the_dark_pixels() -> None:
    """The ground-truth vein mask of a clean capture marks pixels darker than their
    surroundings: the renderer draws the graph it exposes, where it says."""
    dev = SimulatedVeinDevice(seed=1, preset="clean", subjects=4)
    for subject in range(4):
        image, mask, _ = dev.render_truth(subject, 0, 0)
        f = image.astype(float)
        from scipy import ndimage

        local = f - ndimage.uniform_filter(f, 15)
        finger = ndimage.binary_erosion(f > 60, iterations=3)
        assert mask.sum() > 200
        assert local[mask & finger].mean() < -4.0
        assert local[~mask & finger].mean() > 0.0


def _centreline(image: np.ndarray) -> tuple[float, float]:
    """Estimate the finger's axis from the image alone: the angle (degrees, clockwise in
    image coordinates) and the row offset at the centre column of the line through the
    midpoints of the finger's upper and lower edges, column by column."""
    f = image.astype(float)
    lo, hi = np.percentile(f, (5, 95))
    finger = f > lo + 0.3 * (hi - lo)
    rows = np.arange(f.shape[0])[:, None]
    top = np.where(finger, rows, f.shape[0]).min(0)
    bottom = np.where(finger, rows, -1).max(0)
    ok = (top > 0) & (bottom < f.shape[0] - 1)  # both edges inside the field
    cols = np.arange(f.shape[1])[ok] - (f.shape[1] - 1) / 2
    slope, icpt = np.polyfit(cols, (top[ok] + bottom[ok]) / 2, 1)
    return math.degrees(math.atan(slope)), icpt - (f.shape[0] - 1) / 2


@pytest.mark.parametrize("preset", ["clean", "standard", "hard"])
def test_presets_measured_variation_matches_their_sigma(preset: str) -> None:
    """Over 200 captures the applied rotation and shifts have the preset's σ (within the
    95 % band of a sample standard deviation), and the rotation and across-shift the image
    shows (estimated from the finger's outline) follow the applied ones."""
    p = PRESETS[preset]
    rng = np.random.Generator(np.random.PCG64(42))
    draws = [draw_params(p, rng, (80, 240)) for _ in range(200)]
    band = 1.96 / math.sqrt(2 * 199)
    for values, sigma in (([d.rotation_deg for d in draws], p.rotation_sigma_deg),
                          ([d.shift_x_px for d in draws], p.shift_sigma * 240),
                          ([d.shift_y_px for d in draws], p.shift_sigma * 80)):
        assert abs(np.std(values, ddof=1) / sigma - 1.0) < band
    dev = SimulatedVeinDevice(seed=2, preset=preset, subjects=30)
    applied, seen = [], []
    for subject in range(30):
        image, _mask, params = dev.render_truth(subject, 0, 0)
        angle, offset = _centreline(image)
        applied.append((params.rotation_deg, params.shift_y_px))
        seen.append((angle, offset))
    applied_a, seen_a = np.array(applied), np.array(seen)
    err = seen_a - applied_a
    # the outline estimate is perturbed by veins on the edge: judge the typical capture
    assert np.median(np.abs(err[:, 0])) < 0.25 and np.median(np.abs(err[:, 1])) < 0.5
    assert np.corrcoef(seen_a[:, 0], applied_a[:, 0])[0, 1] > 0.9
    measured = np.std(seen_a[:, 0], ddof=1)
    assert 0.6 * p.rotation_sigma_deg < measured < 1.5 * p.rotation_sigma_deg
