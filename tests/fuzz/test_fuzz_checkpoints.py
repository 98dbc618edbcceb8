"""Fuzzing checkpoints: ``s2sim run ... --resume DIR`` of the three training apps (e-prop on GSC, EventProp
on Yin-Yang, cue accumulation) from a real checkpoint with one damage: NaN/Inf in an array, a wrong shape
or dtype, a missing array, a corrupt header, truncated or flipped bytes.

Property: refused with exit 2 and one ``error:`` line naming the checkpoint file; or (a harmless change)
exit 0 with a summary that is valid JSON and weights that are finite. Never a traceback, never a resumed
run of NaN weights.
"""
from __future__ import annotations

import io
import json
import math
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fuzz_cli import REPO, invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SLOW_OK = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.function_scoped_fixture])


def _sets(*pairs: str) -> list[str]:
    return [a for p in pairs for a in ("--set", p)]


#: each app's tiny training run (the same settings for the run that makes the checkpoint and the resume)
APPS = {
    "eprop": [str(REPO / "networks" / "gsc.yaml"), *_sets("network.n_rec=12", "dataset.n_train=3",
                                                           "dataset.n_valid=2", "dataset.n_test=2")],
    "eventprop": [str(REPO / "networks" / "yinyang.yaml"), *_sets("network.batch=2", "network.layers=[5,8,3]",
                                                                  "training.max_batches=2")],
    "cue": [str(REPO / "networks" / "cue_accumulation.yaml"), "--fast", "--timing-samples", "1",
            *_sets("dataset.n_cues=2", "dataset.t_wait_steps=60", "dataset.recall_steps=30", "network.n_steps=360",
                   "network.learn_steps=30", "network.n_rec=20", "dataset.n_train=4", "dataset.n_test=4")],
}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, bytes]:
    """One real 1-epoch checkpoint per app (the bytes of checkpoint.npz)."""
    out = {}
    for app, args in APPS.items():
        run_dir = tmp_path_factory.mktemp(app)
        code, err, _ = invoke(["run", *args, "--quiet", "--set", "training.epochs=1", "--set", "run.progress=false",
                               "--out", str(run_dir / "run")], 300.0)
        assert code == 0, err
        out[app] = (run_dir / "run" / "checkpoint.npz").read_bytes()
    return out


def _arrays(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@st.composite
def damage(draw, arrays: dict[str, np.ndarray]) -> tuple[str, dict | bytes]:
    """(what was done, the new arrays or raw bytes) for one damage to a checkpoint's arrays."""
    keys = sorted(k for k in arrays if k != "header_json")
    floats = [k for k in keys if arrays[k].dtype.kind == "f" and arrays[k].size]
    kind = draw(st.sampled_from(["nonfinite", "nonfinite", "shape", "dtype", "drop", "header", "bytes"]))
    a = dict(arrays)
    if kind == "nonfinite" and floats:
        key = draw(st.sampled_from(floats))
        x = a[key].copy()
        idx = draw(st.integers(0, x.size - 1))
        x.flat[idx] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        a[key] = x
        return f"nonfinite {key}", a
    if kind == "shape":
        key = draw(st.sampled_from(keys))
        x = a[key]
        a[key] = draw(st.sampled_from([x.reshape(-1)[:-1] if x.size else np.zeros(3), x[None, ...],
                                       np.zeros((0,) + x.shape[1:], x.dtype), np.zeros((7, 3), x.dtype)]))
        return f"shape {key}", a
    if kind == "dtype":
        key = draw(st.sampled_from(keys))
        a[key] = a[key].astype(draw(st.sampled_from([str, np.complex64, np.bool_, np.int8, np.uint64])))
        return f"dtype {key}", a
    if kind == "drop":
        key = draw(st.sampled_from(keys + ["header_json"]))
        del a[key]
        return f"drop {key}", a
    if kind == "header":
        header = json.loads(str(a["header_json"]))
        how = draw(st.sampled_from(["not_json", "list", "format", "version", "params", "nan", "epoch", "position"]))
        if how == "not_json":
            a["header_json"] = np.array('{"format": "')
            return "header not_json", a
        if how == "list":
            header = [1, 2]
        elif how == "format":
            header["format"] = "something-else"
        elif how == "version":
            header["version"] = draw(st.sampled_from([0, 99, "1", None]))
        elif how == "params":
            for k in ("params", "settings", "run_settings", "history"):
                header.pop(k, None)
        elif how == "nan":
            header["epoch"] = math.nan
        else:
            header[how] = draw(st.sampled_from([-1, 10**9, "x", None, 1.5]))
        a["header_json"] = np.array(json.dumps(header))
        return f"header {how}", a
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    blob = buf.getvalue()
    how = draw(st.sampled_from(["truncate", "flip", "garbage", "empty", "not_zip_member"]))
    if how == "truncate":
        blob = blob[: draw(st.integers(0, len(blob) - 1))]
    elif how == "flip":
        i = draw(st.integers(0, len(blob) - 1))
        blob = blob[:i] + bytes([blob[i] ^ 0xFF]) + blob[i + 1:]
    elif how == "garbage":
        blob = draw(st.binary(max_size=200))
    elif how == "empty":
        blob = b""
    else:  # a zip with a member that is no .npy
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("header_json.npy", b"not an array")
        blob = buf.getvalue()
    return f"bytes {how}", blob


def _sane_resume(run_dir: Path) -> None:
    json.loads((run_dir / "summary.json").read_text(), parse_constant=lambda c: pytest.fail(f"bare {c}"))
    for key, x in _arrays((run_dir / "checkpoint.npz").read_bytes()).items():
        if x.dtype.kind in "fc":
            assert np.isfinite(x).all(), f"resumed into non-finite {key}"


@settings(SLOW_OK, max_examples=24 if settings.default.max_examples <= 40 else 150)
@given(app=st.sampled_from(sorted(APPS)), data=st.data())
def test_a_damaged_checkpoint_is_refused_naming_the_file(checkpoints, tmp_path, app, data):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    what, new = data.draw(damage(_arrays(checkpoints[app])))
    path = folder / "checkpoint.npz"
    if isinstance(new, bytes):
        path.write_bytes(new)
    else:
        np.savez(path, **new)
    code, err, _ = invoke(["run", *APPS[app], "--quiet", "--set", "training.epochs=2", "--set", "run.progress=false",
                           "--resume", str(folder)], 300.0)
    if code == 2:
        assert str(path) in err or str(folder) in err, (what, err)
        assert not (folder / "summary.json").exists(), (what, "a refused resume wrote a summary")
    else:
        _sane_resume(folder)


def test_the_fuzzed_checkpoints_are_real_and_resumable(checkpoints, tmp_path):
    """The undamaged checkpoint resumes (so a refusal above is the damage, not the set-up)."""
    folder = tmp_path / "ok"
    folder.mkdir()
    (folder / "checkpoint.npz").write_bytes(checkpoints["eventprop"])
    code, err, _ = invoke(["run", *APPS["eventprop"], "--quiet", "--set", "training.epochs=2", "--set",
                           "run.progress=false", "--resume", str(folder)], 300.0)
    assert code == 0, err
    _sane_resume(folder)
