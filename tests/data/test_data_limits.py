"""Issue 22: sizes and numbers that would exhaust memory or train on nonsense are refused before anything
is allocated, with the key and the limit named."""
import json

import numpy as np
import pytest

from s2sim.data import DatasetError, load_dataset
from s2sim.data.cache import atomic_save_npz, read_headed_npz
from s2sim.data.cue import CueConfig, load_cue
from s2sim.data.limits import MAX_CLASSES, memory_limit_bytes
from s2sim.data.synthetic import PEAK_BYTES_PER_SAMPLE


def test_a_billion_synthetic_samples_is_refused_naming_the_key_and_the_largest_allowed_count():
    with pytest.raises(DatasetError, match=r"dataset\.n_train=1,000,000,000 would need about .* GiB") as err:
        load_dataset({"name": "synthetic", "n_train": 1_000_000_000}, seed=0)
    largest = memory_limit_bytes() // PEAK_BYTES_PER_SAMPLE
    assert f"use at most {largest:,}" in str(err.value)


def test_the_largest_allowed_synthetic_count_is_not_refused_by_the_guard(monkeypatch):
    # generating it for real would take minutes: stop right after the guard let it through
    import s2sim.data.synthetic as synthetic
    allowed = memory_limit_bytes() // PEAK_BYTES_PER_SAMPLE
    reached = []
    monkeypatch.setattr(synthetic, "make_split", lambda n, seed, split: reached.append((split, n)) or
                        synthetic.Split(np.zeros((1, 1, 1)), np.zeros(1)))
    load_dataset({"name": "synthetic", "n_train": allowed, "n_valid": 1, "n_test": 1}, seed=0)
    assert ("train", allowed) in reached


def test_a_million_cue_trials_of_the_paper_length_are_refused():
    cfg = CueConfig(n_train=1_000_000)
    with pytest.raises(DatasetError, match=r"dataset\.n_train=1,000,000 would need"):
        load_cue(cfg, seed=0)


def test_an_npz_label_of_two_to_the_forty_is_refused_not_turned_into_a_trillion_classes(tmp_path):
    x = np.ones((3, 4, 2), np.float32)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.array([0, 1, 2**40]))
    with pytest.raises(DatasetError, match=r"d\.npz: labels imply 1,099,511,627,777 classes \(at most 65,536\)"):
        load_dataset({"name": "npz", "path": str(tmp_path / "d.npz")}, seed=0)


def test_the_largest_class_count_still_loads(tmp_path):
    x = np.ones((2, 4, 2), np.float32)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.array([0, MAX_CLASSES - 1]))
    assert load_dataset({"name": "npz", "path": str(tmp_path / "d.npz")}, seed=0).n_classes == MAX_CLASSES


def _checkpoint(tmp_path, **arrays):
    arrays["header_json"] = np.array(json.dumps({"format": "f", "version": 1}))
    return atomic_save_npz(tmp_path / "checkpoint.npz", arrays)


def test_a_checkpoint_with_nan_adam_moments_is_refused_naming_the_array(tmp_path):
    m = np.zeros((3, 3), np.float32)
    m[1, 2] = np.nan
    path = _checkpoint(tmp_path, w=np.ones((3, 3), np.float32), adam_m_w=m)
    with pytest.raises(ValueError, match=r"checkpoint\.npz: test checkpoint array 'adam_m_w' holds 1 non-finite"):
        read_headed_npz(path, "f", 1, "test checkpoint")


def test_a_finite_checkpoint_reads_back(tmp_path):
    path = _checkpoint(tmp_path, w=np.ones((3, 3), np.float32), steps=np.array(4))
    arrays, header = read_headed_npz(path, "f", 1, "test checkpoint")
    assert header == {"format": "f", "version": 1} and arrays["w"].sum() == 9
