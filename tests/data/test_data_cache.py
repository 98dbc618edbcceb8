"""The cache key tracks its inputs, and writes are atomic."""

import os

import numpy as np
import pytest

from s2sim.data.cache import atomic_save_npz, cache_dir, cache_key, file_fingerprints, read_dataset, save_dataset
from s2sim.data import load_dataset


def test_cache_dir_follows_env(tmp_path):
    assert cache_dir() == tmp_path / "cache"


def test_key_changes_with_file_mtime_params_and_seed(tmp_path):
    f = tmp_path / "a.wav"
    f.write_bytes(b"123")
    k = cache_key("fsdd", file_fingerprints([f]), {"n_fft": 480}, 0)
    assert k == cache_key("fsdd", file_fingerprints([f]), {"n_fft": 480}, 0)
    assert k != cache_key("fsdd", file_fingerprints([f]), {"n_fft": 512}, 0)
    assert k != cache_key("fsdd", file_fingerprints([f]), {"n_fft": 480}, 1)
    os.utime(f, ns=(1, 1))
    assert k != cache_key("fsdd", file_fingerprints([f]), {"n_fft": 480}, 0)


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_save_npz(tmp_path / "x.npz", {"a": np.zeros(3)})
    assert list(tmp_path.iterdir()) == []


def test_dataset_round_trip(tmp_path):
    ds = load_dataset({"name": "synthetic", "n_train": 12, "n_valid": 12, "n_test": 12}, seed=0)
    ds.skipped = [("f.wav", "empty")]
    back = read_dataset(save_dataset(tmp_path / "d.npz", ds))
    assert back.name == ds.name and back.synthetic and back.skipped == [("f.wav", "empty")]
    assert np.array_equal(back.splits["valid"].X, ds.splits["valid"].X)
