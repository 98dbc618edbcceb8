"""Issue 10 item 3: data that would train on nonsense is refused (or, when asked, repaired and counted)."""
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from s2sim.cli import main
from s2sim.data import DatasetError, load_dataset

REPO = Path(__file__).resolve().parents[2]


def _npz(path, x, y):
    np.savez(path, x_train=x, y_train=y, x_test=x[:2], y_test=y[:2])
    return str(path)


def test_non_finite_features_are_refused_naming_file_and_count(tmp_path):
    x = np.ones((4, 5, 3), np.float32)
    x[0, 0, 0], x[1, 2, 1], x[3, 4, 2] = np.nan, np.inf, -np.inf
    path = _npz(tmp_path / "d.npz", x, np.arange(4))
    with pytest.raises(DatasetError, match=r"d\.npz: 5 non-finite feature values \(NaN/Inf: 3 in train, 2 in test\)"):
        load_dataset({"name": "npz", "path": path}, seed=0)


def test_on_nonfinite_zero_replaces_and_counts(tmp_path):
    x = np.ones((4, 5, 3), np.float32)
    x[:, 0, 0] = np.nan
    ds = load_dataset({"name": "npz", "path": _npz(tmp_path / "d.npz", x, np.arange(4)), "on_nonfinite": "zero"}, seed=0)
    assert ds.nonfinite_replaced == 6
    assert np.isfinite(ds.splits["train"].X).all() and ds.splits["train"].X[0, 0, 0] == 0
    assert "6 non-finite feature values" in ds.note


def test_an_empty_training_split_is_refused(tmp_path):
    x = np.ones((2, 5, 3), np.float32)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=x[:0], y_train=np.arange(0), x_test=x, y_test=np.arange(2))
    with pytest.raises(DatasetError, match="training split is empty"):
        load_dataset({"name": "npz", "path": str(path)}, seed=0)


@pytest.mark.parametrize("blob, what", [(b"hello, not a zip", "not an .npz archive"), (None, "damaged or truncated")])
def test_a_damaged_npz_is_one_line(tmp_path, blob, what):
    path = tmp_path / "d.npz"
    _npz(path, np.ones((3, 5, 3), np.float32), np.arange(3))
    path.write_bytes(blob if blob is not None else path.read_bytes()[:200])
    with pytest.raises(DatasetError, match=what) as err:
        load_dataset({"name": "npz", "path": str(path)}, seed=0)
    assert "\n" not in str(err.value)


def test_validate_checks_the_dataset_path_without_loading(tmp_path):
    gsc = str(REPO / "networks" / "gsc.yaml")
    res = CliRunner().invoke(main, ["validate", gsc, "--set", f"dataset={{name: npz, path: {tmp_path}/nope.npz}}"])
    assert res.exit_code == 2 and "nope.npz" in res.stderr
    res = CliRunner().invoke(main, ["validate", str(REPO / "networks" / "fsdd.yaml"),
                                    "--set", f"dataset.path={tmp_path}/missing"])
    assert res.exit_code == 2 and "missing" in res.stderr


def test_skipped_files_are_listed_in_the_summary_and_on_the_console(tmp_path, write_tone):
    rec = tmp_path / "fsdd" / "recordings"
    for name in ["1_a_7.wav", "2_b_8.wav", "1_a_0.wav", "2_b_1.wav"]:
        write_tone(rec / name, 300 * int(name[0]), 4000, rate_hz=8000)
    (rec / "3_c_9.wav").write_bytes(b"RIFF\x00\x00 broken")
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["run", str(REPO / "networks" / "fsdd.yaml"), "--out", str(out),
                                    "--set", f"dataset.path={rec.parent}", "--set", "network.n_rec=12",
                                    "--set", "training.epochs=1", "--set", "training.shuffle=false"])
    assert res.exit_code == 0, (res.output, res.exception)
    s = json.loads((out / "summary.json").read_text())
    assert [f["file"] for f in s["skipped_files"]] == ["3_c_9.wav"]
    assert "unreadable wav" in s["skipped_files"][0]["reason"]
    assert "1 input files skipped" in res.stderr and "3_c_9.wav" in res.stderr
