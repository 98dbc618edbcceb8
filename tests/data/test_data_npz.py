"""User npz files: accepted layouts round-trip; malformed ones name the bad array."""

import numpy as np
import pytest

from s2sim.data import DatasetError, load_dataset


def _xy(n=30, t=5, f=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, t, f)).astype(np.float32), np.arange(n) % 3


def test_x_y_with_string_split_round_trips(tmp_path):
    x, y = _xy()
    split = np.array(["train"] * 20 + ["validation"] * 4 + ["test"] * 6)
    np.savez(tmp_path / "d.npz", x=x, y=y, split=split, class_names=np.array(["a", "b", "c"]))
    ds = load_dataset({"name": "npz", "path": str(tmp_path / "d.npz")}, seed=0)
    assert np.array_equal(ds.splits["train"].X, x[:20]) and np.array_equal(ds.splits["test"].y, y[24:])
    assert len(ds.splits["valid"]) == 4 and ds.class_names == ["a", "b", "c"] and ds.n_classes == 3
    assert (ds.n_steps, ds.n_features) == (5, 4) and not ds.synthetic


def test_separate_arrays_and_no_split_layouts(tmp_path):
    x, y = _xy()
    np.savez(tmp_path / "s.npz", x_train=x[:20], y_train=y[:20], x_test=x[20:], y_test=y[20:])
    ds = load_dataset({"name": "npz", "path": str(tmp_path / "s.npz"), "n_train": 7}, seed=0)
    assert set(ds.splits) == {"train", "test"} and len(ds.splits["train"]) == 7
    np.savez(tmp_path / "n.npz", features=x, labels=y)
    ds = load_dataset({"name": "npz", "path": str(tmp_path / "n.npz")}, seed=0)
    assert [len(ds.splits[s]) for s in ("train", "valid", "test")] == [24, 3, 3]


@pytest.mark.parametrize("arrays, match", [
    (dict(x=np.zeros((4, 5, 6), np.int32), y=np.zeros(4, int)), "'x' must be float"),
    (dict(x=np.zeros((4, 30), np.float32), y=np.zeros(4, int)), "'x' must be 3-D"),
    (dict(x=np.zeros((4, 5, 6), np.float32), y=np.zeros(3, int)), "'y' must have shape"),
    (dict(x=np.zeros((4, 5, 6), np.float32), y=np.zeros(4)), "'y' must be integer"),
    (dict(features=np.zeros((4, 5, 6), np.float32)), "expected arrays 'x'"),
    (dict(x=np.zeros((4, 5, 6), np.float32), y=np.zeros(4, int), split=np.array(["a"] * 4)), "'split'"),
    (dict(x_train=np.zeros((4, 5, 6), np.float32)), "no matching 'y_train'"),
])
def test_malformed_files_name_the_array(tmp_path, arrays, match):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError, match=match):
        load_dataset({"name": "npz", "path": str(tmp_path / "bad.npz")}, seed=0)


def test_missing_file_and_bad_config(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_dataset({"name": "npz", "path": str(tmp_path / "none.npz")}, seed=0)
    with pytest.raises(DatasetError, match="bad dataset config"):
        load_dataset({"name": "npz", "pth": "typo"}, seed=0)
