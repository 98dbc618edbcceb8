"""FSDD: the official split rule, a real subset, and corrupt files skipped not fatal."""

import numpy as np
import pytest

from s2sim.data import DatasetError, load_dataset
from s2sim.data.fsdd import find_recordings, official_split

from pathlib import Path

FSDD_DIR = Path(__file__).resolve().parents[2].parent / "shared/datasets/fsdd"

needs_fsdd = pytest.mark.skipif(not (FSDD_DIR / "recordings").is_dir(),
                                reason=f"FSDD not found at {FSDD_DIR} (clone free-spoken-digit-dataset there)")


@needs_fsdd
def test_official_split_rule_on_the_real_file_list():
    files = list(find_recordings(str(FSDD_DIR)).glob("*.wav"))
    splits, skipped = official_split(files, seed=0)
    assert skipped == []
    assert {k: len(v) for k, v in splits.items()} == {"train": 2430, "valid": 270, "test": 300}
    assert all(int(f.stem.split("_")[2]) <= 4 for f in splits["test"])
    assert all(int(f.stem.split("_")[2]) >= 5 for f in splits["train"] + splits["valid"])
    assert not set(splits["train"]) & set(splits["valid"])
    assert official_split(files, seed=0)[0]["valid"] == splits["valid"]  # deterministic per seed
    assert official_split(files, seed=1)[0]["valid"] != splits["valid"]


@needs_fsdd
def test_small_real_subset_loads_and_is_cached():
    cfg = {"name": "fsdd", "path": str(FSDD_DIR), "n_train": 40, "n_valid": 10, "n_test": 20}
    ds = load_dataset(cfg, seed=0)
    assert (len(ds.splits["train"]), len(ds.splits["valid"]), len(ds.splits["test"])) == (40, 10, 20)
    assert ds.n_classes == 10 and (ds.n_steps, ds.n_features) == (100, 80)
    assert not ds.synthetic and ds.skipped == []
    assert set(ds.splits["train"].y) <= set(range(10))
    again = load_dataset(cfg, seed=0)  # from the cache this time
    assert np.array_equal(again.splits["train"].X, ds.splits["train"].X)


def test_corrupt_and_empty_wavs_are_skipped_and_counted(tmp_path, write_tone):
    rec = tmp_path / "fsdd" / "recordings"
    for name in ["3_alice_0.wav", "3_alice_7.wav", "4_bob_8.wav", "4_bob_1.wav"]:
        write_tone(rec / name, 400 + 100 * int(name[0]), 3000, rate_hz=8000)
    (rec / "5_carol_9.wav").write_bytes(b"RIFF\x00\x00not really a wav")
    (rec / "6_carol_10.wav").write_bytes(b"")
    (rec / "notes.wav").write_bytes(b"x")
    ds = load_dataset({"name": "fsdd", "path": str(rec.parent), "cache": False}, seed=0)
    assert len(ds.skipped) == 3
    assert {f for f, _ in ds.skipped} == {"5_carol_9.wav", "6_carol_10.wav", "notes.wav"}
    n = sum(len(s) for s in ds.splits.values())
    assert n == 4 and len(ds.splits["test"]) == 2


def test_missing_path_names_the_env_var(tmp_path):
    with pytest.raises(DatasetError, match="S2SIM_FSDD"):
        load_dataset({"name": "fsdd"}, seed=0)
    with pytest.raises(DatasetError, match=str(tmp_path / "nope")):
        load_dataset({"name": "fsdd", "path": str(tmp_path / "nope")}, seed=0)


def test_a_longer_frame_hop_gives_fewer_steps_of_the_same_sound(tmp_path, write_tone):
    # the time-step study's knob: hop_samples sets T; the default hop is the spec's 161 samples (T = 100)
    rec = tmp_path / "fsdd" / "recordings"
    for name in ["3_alice_0.wav", "3_alice_7.wav", "4_bob_8.wav"]:
        write_tone(rec / name, 400 + 100 * int(name[0]), 6000, rate_hz=8000)
    base = {"name": "fsdd", "path": str(rec.parent), "cache": False}
    default = load_dataset(base, seed=0)
    spec_hop = load_dataset({**base, "hop_samples": 161}, seed=0)
    coarse = load_dataset({**base, "hop_samples": 640}, seed=0)
    assert default.n_steps == 100 and np.array_equal(default.splits["test"].X, spec_hop.splits["test"].X)
    assert coarse.n_steps == 26 and coarse.n_features == 80
    assert not np.isclose(coarse.splits["test"].X[:, :26], default.splits["test"].X[:, :26]).all()


def test_a_frame_hop_on_another_dataset_is_a_one_line_config_error():
    from s2sim.config import ConfigError, validate_section
    from s2sim.data import DatasetConfig
    with pytest.raises(ConfigError, match="net.yaml: dataset: hop_samples applies to the fsdd features only"):
        validate_section(DatasetConfig, {"name": "synthetic", "hop_samples": 80}, "net.yaml", "dataset")
