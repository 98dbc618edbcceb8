"""Yin-Yang generator (spec eventprop_yinyang.md §3.1) and latency encoding (§1.3)."""

from __future__ import annotations

import numpy as np
import pytest

from s2sim.data.yinyang import (exclude_ambiguous, latency_encode, to_raster, which_class,
                                yinyang, yinyang_splits)


def _spec_transcription(size: int, seed: int):
    """The §3.1 procedure written out inline, as an independent check of the RNG call order."""
    rng = np.random.RandomState(seed)
    out = []
    for _ in range(size):
        goal = rng.randint(3)
        while True:
            x, y = rng.rand(2) * 2 * 0.5
            if np.sqrt((x - 0.5) ** 2 + (y - 0.5) ** 2) > 0.5:
                continue
            d_r, d_l = np.hypot(x - 0.75, y - 0.5), np.hypot(x - 0.25, y - 0.5)
            if d_r < 0.1 or d_l < 0.1:
                c = 2
            else:
                c = int(d_r <= 0.1 or 0.1 < d_l <= 0.25 or (y > 0.5 and d_r > 0.25))
            if c == goal:
                out.append((x, y, c))
                break
    return out


def test_first_samples_follow_the_generator_call_order():
    X, y = yinyang(20, 42)
    ref = _spec_transcription(20, 42)
    np.testing.assert_array_equal(X[:, 0], np.float32([r[0] for r in ref]))
    np.testing.assert_array_equal(X[:, 1], np.float32([r[1] for r in ref]))
    assert y.tolist() == [r[2] for r in ref]


def test_structure_balance_and_circle():
    X, y = yinyang(600, 42)
    assert X.dtype == np.float32 and X.shape == (600, 4) and y.dtype == np.int64
    np.testing.assert_allclose(X[:, 2], 1 - X[:, 0], atol=1e-7)
    np.testing.assert_allclose(X[:, 3], 1 - X[:, 1], atol=1e-7)
    r = np.hypot(X[:, 0].astype(float) - 0.5, X[:, 1].astype(float) - 0.5)
    assert r.max() <= 0.5 + 1e-6
    frac = np.bincount(y, minlength=3) / len(y)
    assert np.all(np.abs(frac - 1 / 3) < 0.06), frac
    assert all(which_class(a, b) == c for a, b, c in zip(X[:, 0].astype(float),
                                                          X[:, 1].astype(float), y))


def test_determinism_and_seed_dependence():
    a, ya = yinyang(50, 7)
    b, yb = yinyang(50, 7)
    c, _ = yinyang(50, 8)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("x,y,cls", [
    (0.75, 0.5, 2), (0.25, 0.5, 2),      # dot centres
    (0.5, 0.9, 1),                        # upper half, far from both dots
    (0.5, 0.1, 0),                        # lower half, far from both dots
    (0.25, 0.7, 1),                       # ring around the left dot (0.1 < d_l <= 0.25)
    (0.75, 0.7, 0),                       # upper half but inside the right ring (d_r <= 0.25)
    (0.75, 0.3, 0),                       # ring around the right dot, lower half
])
def test_class_rule_on_hand_picked_points(x, y, cls):
    assert which_class(x, y) == cls


def test_splits_sizes_and_seeds():
    splits = yinyang_splits()
    assert {k: len(v[1]) for k, v in splits.items()} == {"train": 5000, "valid": 1000, "test": 1000}
    np.testing.assert_array_equal(splits["test"][0], yinyang(1000, 40)[0])
    np.testing.assert_array_equal(splits["train"][0][:10], yinyang(10, 42)[0])


def test_latency_edge_cases():
    X = np.array([[1.0, 0.0, 0.5, 0.009], [0.01, 0.99, 0.25, 0.75]], np.float32)
    t = latency_encode(X, T=27, t_min=2)
    # x=1 -> t_min; x=0 and x<0.01 -> round(2 + 0.99*24 = 25.76) = 26; x=0.5 -> 14; bias at 0
    assert t.tolist() == [[2, 26, 14, 26, 0], [round(2 + 24 * 0.99), 2, 20, 8, 0]]
    assert latency_encode(np.zeros((1, 4), np.float32), T=10, t_min=1)[0, 0] == 9  # 1+0.99*8
    assert t.dtype == np.int64


@pytest.mark.parametrize("T,t_min,name", [(3, 2, "T"), (27, -1, "t_min"), (5, 4, "T")])
def test_encoding_parameter_errors(T, t_min, name):
    with pytest.raises(ValueError, match=name):
        latency_encode(np.zeros((1, 4), np.float32), T=T, t_min=t_min)


def test_raster_places_one_spike_per_input():
    times = np.array([[3, 0, 26], [1, 1, 2]])
    r = to_raster(times, 27)
    assert r.dtype == np.uint8 and r.shape == (2, 27, 3)
    assert r.sum() == 6 and r[0, 3, 0] == r[0, 0, 1] == r[0, 26, 2] == r[1, 2, 2] == 1
    with pytest.raises(ValueError):
        to_raster(np.array([[27]]), 27)


def test_exclude_ambiguous_drops_only_0_1_collisions():
    times = np.array([[1, 2], [1, 2], [1, 2], [3, 4], [3, 4], [5, 6], [5, 6]])
    y = np.array([0, 1, 2, 0, 2, 1, 1])
    assert exclude_ambiguous(times, y).tolist() == [False, False, False, True, True, True, True]


def test_exclude_ambiguous_on_train_split():
    X, y = yinyang(5000, 42)
    t = latency_encode(X)
    keep = exclude_ambiguous(t, y)
    assert 0 < (~keep).sum() < 500
    kept = {}
    for row, c in zip(map(tuple, t[keep]), y[keep]):
        kept.setdefault(row, set()).add(int(c))
    assert not any({0, 1} <= s for s in kept.values())
