"""Fuzzing the data a run reads: npz files and wav folders are loaded or refused in one line.

Property: ``load_dataset`` returns a dataset with finite features and a non-empty training split, or
raises ``DatasetError`` (the CLI prints it as one line, exit 2) — never any other exception. A
sample goes through ``s2sim run`` end to end.
"""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from fuzz_cli import REPO, _log, invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from s2sim.data import DatasetError, load_dataset

SLOW_OK = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.function_scoped_fixture])

FEATURES = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64, np.float16, np.int32, np.uint8, np.bool_, np.complex64]),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
    elements=None)
LABELS = hnp.arrays(dtype=st.sampled_from([np.int64, np.int8, np.uint16, np.float32, np.str_]),
                    shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=6))


@st.composite
def npz_bytes(draw) -> bytes:
    """An .npz in one of the accepted layouts, with random shapes/dtypes/NaN, possibly damaged."""
    arrays = {}
    layout = draw(st.sampled_from(["valid", "xy", "splits", "random"]))
    if layout == "valid":  # a well-formed file, then maybe NaN/Inf, empty or odd labels
        n, t, f = draw(st.integers(0, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
        x = draw(hnp.arrays(np.float32, (n, t, f), elements=st.floats(-1e3, 1e3, width=32)))
        if n and draw(st.booleans()):
            x.flat[draw(st.integers(0, x.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        arrays["x"], arrays["y"] = x, draw(hnp.arrays(np.int64, (n,), elements=st.integers(-1, 4)))
    elif layout == "xy":
        arrays[draw(st.sampled_from(["x", "features"]))] = draw(FEATURES)
        arrays[draw(st.sampled_from(["y", "labels"]))] = draw(LABELS)
        if draw(st.booleans()):
            arrays["split"] = draw(hnp.arrays(dtype=st.sampled_from([np.int64, np.str_]),
                                              shape=st.integers(0, 6)))
    elif layout == "splits":
        for s in draw(st.lists(st.sampled_from(["train", "valid", "val", "test"]), min_size=1, max_size=3)):
            arrays[f"x_{s}"], arrays[f"y_{s}"] = draw(FEATURES), draw(LABELS)
    else:
        for name in draw(st.lists(st.sampled_from(["x", "y", "meta_json", "class_names", "x_train"]),
                                  max_size=3)):
            arrays[name] = draw(st.one_of(FEATURES, LABELS))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    blob = buf.getvalue()
    damage = draw(st.sampled_from(["none", "truncate", "flip", "garbage"]))
    if damage == "truncate":
        blob = blob[: draw(st.integers(0, max(0, len(blob) - 1)))]
    elif damage == "flip" and blob:
        i = draw(st.integers(0, len(blob) - 1))
        blob = blob[:i] + bytes([blob[i] ^ 0xFF]) + blob[i + 1:]
    elif damage == "garbage":
        blob = draw(st.binary(max_size=200))
    return blob


def _load_or_refuse(cfg: dict) -> None:
    try:
        ds = load_dataset(cfg, seed=0)
    except DatasetError as err:
        _log("load_dataset", 2, 0.0)
        assert "\n" not in str(err)
        return
    _log("load_dataset", 0, 0.0)
    assert len(ds.splits["train"]) > 0
    for split in ds.splits.values():
        assert np.isfinite(split.X).all()


@SLOW_OK
@given(blob=npz_bytes())
def test_any_npz_is_loaded_clean_or_refused_in_one_line(tmp_path, blob):
    path = tmp_path / "data.npz"
    path.write_bytes(blob)
    _load_or_refuse({"name": "npz", "path": str(path)})
    _load_or_refuse({"name": "npz", "path": str(path), "on_nonfinite": "zero"})


@SLOW_OK
@given(blob=npz_bytes())
def test_validate_refuses_exactly_the_npz_files_run_refuses(tmp_path, blob):
    from s2sim.data.dataset import check_source
    path = tmp_path / "data.npz"
    path.write_bytes(blob)
    section = {"name": "npz", "path": str(path)}
    outcomes = []
    for check in (lambda: check_source(section, "net.yaml"), lambda: load_dataset(section, seed=0)):
        try:
            check()
            outcomes.append("ok")
        except DatasetError as err:
            assert "\n" not in str(err)
            outcomes.append("refused")
    _log("validate_vs_run", 0 if outcomes[0] == "ok" else 2, 0.0)
    assert outcomes[0] == outcomes[1]


@SLOW_OK
@given(wavs=st.lists(st.one_of(st.binary(max_size=120),
                               st.binary(max_size=60).map(lambda b: b"RIFF\x24\x00\x00\x00WAVEfmt " + b)),
                     min_size=1, max_size=4))
def test_a_folder_of_corrupt_wavs_is_skipped_or_refused(tmp_path, wavs):
    rec = tmp_path / "fsdd"
    rec.mkdir(exist_ok=True)
    for old in rec.glob("*.wav"):
        old.unlink()
    for i, blob in enumerate(wavs):
        (rec / f"{i % 10}_fuzz_{i + 5}.wav").write_bytes(blob)
    _load_or_refuse({"name": "fsdd", "path": str(rec), "cache": False})


def _npz(path, x, y):
    np.savez(path, x_train=x, y_train=y, x_test=x, y_test=y)
    return path


@pytest.mark.parametrize("damage", ["nan", "inf", "all_nan", "truncated", "not_zip", "empty_train"])
def test_bad_data_through_run_is_one_line_exit_2(tmp_path, damage):
    x = np.random.default_rng(0).standard_normal((3, 100, 80)).astype(np.float32)
    y = np.array([0, 1, 2])
    path = tmp_path / "d.npz"
    if damage == "nan":
        x[0, 3, 4] = np.nan
    elif damage == "inf":
        x[1, 0, 0] = np.inf
    elif damage == "all_nan":
        x[:] = np.nan
    if damage == "empty_train":
        np.savez(path, x_train=x[:0], y_train=y[:0], x_test=x, y_test=y)
    else:
        _npz(path, x, y)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:300])
    elif damage == "not_zip":
        path.write_bytes(b"this is not an npz at all")
    args = ["run", str(REPO / "networks" / "gsc.yaml"), "--set", "dataset.name=npz", "--set",
            f"dataset.path={path}", "--set", "dataset.n_train=null", "--set", "dataset.n_valid=null",
            "--set", "dataset.n_test=null", "--set", "network.n_out=3", "--quiet", "--out", str(tmp_path / "run")]
    code, err, _ = invoke(args, 120.0)
    assert code == 2, err
    assert str(path) in err
    if damage in ("nan", "inf", "all_nan"):
        assert "non-finite" in err and "on_nonfinite" in err
    assert not (tmp_path / "run").exists(), "a failed run left its (empty) run directory"
