"""The embedded dataset is deterministic, balanced, learnable, and not trivially so."""

import numpy as np

from s2sim.data import load_dataset


def _nearest_mean_accuracy(train, test, feats):
    a, b = feats(train), feats(test)
    mu = np.stack([a[train.y == c].mean(0) for c in range(12)])
    return float((((b[:, None] - mu[None]) ** 2).sum(-1).argmin(1) == test.y).mean())


def test_deterministic_balanced_and_shaped():
    a = load_dataset({"name": "synthetic"}, seed=1)
    b = load_dataset({"name": "synthetic"}, seed=1)
    c = load_dataset({"name": "synthetic"}, seed=2)
    assert {k: len(v) for k, v in a.splits.items()} == {"train": 600, "valid": 120, "test": 240}
    assert a.synthetic and a.n_classes == 12 and (a.n_steps, a.n_features) == (100, 80)
    assert np.array_equal(a.splits["test"].X, b.splits["test"].X)
    assert not np.array_equal(a.splits["test"].X, c.splits["test"].X)
    assert np.bincount(a.splits["train"].y).tolist() == [50] * 12
    assert a.splits["train"].X.dtype == np.float32 and np.isfinite(a.splits["train"].X).all()


def test_sizes_are_overridable():
    ds = load_dataset({"name": "synthetic", "n_train": 24, "n_valid": 12, "n_test": 36}, seed=0)
    assert [len(ds.splits[s]) for s in ("train", "valid", "test")] == [24, 12, 36]


def test_learnable_but_not_by_a_time_averaged_template():
    ds = load_dataset({"name": "synthetic"}, seed=0)
    tr, te = ds.splits["train"], ds.splits["test"]
    linear = _nearest_mean_accuracy(tr, te, lambda s: s.X.mean(1))
    assert 0.3 < linear < 0.8  # far above chance (1/12) but rising/falling pairs get confused
    # a random ReLU layer read out over time (a crude 1-layer RNN) separates the pairs
    rng = np.random.default_rng(0)
    w, bias = rng.normal(0, 80 ** -0.5, (80, 120)), rng.normal(0, 0.5, 120)
    hidden = lambda s: np.maximum(s.X @ w + bias, 0).mean(1)
    A, B = hidden(tr), hidden(te)
    m, sd = A.mean(0), A.std(0) + 1e-9
    A, B = (A - m) / sd, (B - m) / sd
    readout = np.linalg.solve(A.T @ A + 10 * np.eye(120), A.T @ np.eye(12)[tr.y])
    nonlinear = float(((B @ readout).argmax(1) == te.y).mean())
    assert nonlinear > 0.7 and nonlinear > linear + 0.15
