"""GSC from a tiny fake folder: classes, list-based splits, silence, determinism, fallback."""

import numpy as np
import pytest
from scipy.io import wavfile

from s2sim.data import DatasetError, load_dataset, prepare_gsc
from s2sim.data import gsc
from s2sim.data.gsc import CLASS_NAMES, silence_crop


WORDS = {"yes": 300, "no": 500, "go": 900, "bed": 1300, "cat": 1700}  # bed, cat -> unknown


@pytest.fixture
def fake_gsc(tmp_path, monkeypatch, write_tone):
    monkeypatch.setattr(gsc, "N_SILENCE", {"train": 6, "valid": 3, "test": 0})
    root = tmp_path / "gsc"
    valid, test = [], []
    for w, f in WORDS.items():
        for i in range(4):
            rel = f"{w}/spk{i}_nohash_0.wav"
            write_tone(root / rel, f, 9000 + 2000 * i, seed=i)
            (valid if i == 2 else test if i == 3 else []).append(rel)
    noise_dir = root / "_background_noise_"
    noise_dir.mkdir()
    for k in range(2):  # sample value = index, so a crop reveals where it came from
        wavfile.write(noise_dir / f"noise{k}.wav", 16000, np.arange(200_000, dtype=np.int32) + k)
    (root / "validation_list.txt").write_text("\n".join(valid) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    return root


def test_classes_splits_and_silence(fake_gsc):
    ds = load_dataset({"name": "gsc", "path": str(fake_gsc)}, seed=0)
    assert ds.n_classes == 12 and ds.class_names == CLASS_NAMES and not ds.synthetic
    counts = {s: np.bincount(v.y, minlength=12) for s, v in ds.splits.items()}
    assert counts["train"].tolist() == [4, 6, 2, 2, 0, 0, 0, 0, 0, 0, 0, 2]  # 2 per word, 6 silence
    assert counts["valid"].tolist() == [2, 3, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    assert counts["test"][1] == 0 and counts["test"].sum() == 5            # no silence in test
    assert ds.splits["train"].X.shape[1:] == (100, 80) and ds.skipped == []


def test_deterministic_per_seed(fake_gsc):
    cfg = {"name": "gsc", "path": str(fake_gsc), "cache": False}
    a, b = load_dataset(cfg, seed=5), load_dataset(cfg, seed=5)
    c = load_dataset(cfg, seed=6)
    assert np.array_equal(a.splits["train"].X, b.splits["train"].X)
    assert not np.array_equal(a.splits["train"].X, c.splits["train"].X)


def test_silence_train_and_valid_use_disjoint_noise(fake_gsc):
    noise = sorted((fake_gsc / "_background_noise_").glob("*.wav"))
    boundary = int(0.9 * 200_000)
    for k in range(20):
        tr, _ = silence_crop(noise, "train", k, seed=0)
        va, _ = silence_crop(noise, "valid", k, seed=0)
        assert len(tr) == len(va) == 16000
        assert tr.max() - 1 < boundary <= va.min()
    assert np.array_equal(silence_crop(noise, "train", 3, 0)[0], silence_crop(noise, "train", 3, 0)[0])


def test_spec_silence_counts_are_the_defaults():
    assert gsc.N_SILENCE == {"train": 2300, "valid": 260, "test": 0}  # the fixture patches it smaller


def test_prepared_npz_is_readable_by_path(fake_gsc, tmp_path):
    out = prepare_gsc(fake_gsc, tmp_path / "prep", seed=0)
    assert out.exists() and not list(out.parent.glob("*.tmp"))
    ds = load_dataset({"name": "gsc", "path": str(out), "n_train": 5}, seed=0)
    assert len(ds.splits["train"]) == 5 and ds.name == "gsc"


def test_missing_gsc_falls_back_loudly_to_synthetic(tmp_path):
    ds = load_dataset({"name": "gsc", "path": str(tmp_path / "absent"), "n_train": 24,
                       "n_valid": 12, "n_test": 12}, seed=0)
    assert ds.synthetic and "NOT GSC" in ds.note and "synthetic" in ds.name
    assert str(tmp_path / "absent") in ds.name and len(ds.splits["train"]) == 24


def test_missing_gsc_with_fallback_error_raises(tmp_path):
    with pytest.raises(DatasetError, match="GSC not found"):
        load_dataset({"name": "gsc", "path": str(tmp_path / "absent"), "fallback": "error"}, seed=0)
