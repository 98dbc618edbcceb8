"""Fuzzing NIR models: graphs built with the ``nir`` package with random shapes, NaN/Inf/zero/negative
parameters and mismatched edges, and input rasters with bad dtypes, values or no ticks, through
``s2sim validate`` and ``s2sim run MODEL.nir`` in-process.

Property: exit 0 with a sane summary (finite, positive energy and latency, a raster of the ticks run), or
exit 2 and one ``error:`` line — never a traceback, a hang, or a run of NaN weights that exits 0.
"""
from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from fuzz_cli import invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

nir = pytest.importorskip("nir")

SLOW_OK = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.function_scoped_fixture])
#: a parameter value: mostly sane, sometimes NaN / Inf / zero / negative / huge
PARAM = st.one_of(st.floats(0.001, 0.05), st.floats(0.001, 0.05), st.floats(0.001, 0.05),
                  st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.02, 1e30, -1e-12, 1e-30]))
WEIGHT = st.one_of(st.floats(-1, 1), st.floats(-1, 1), st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1e30]))


#: set per graph by nir_model: a "sane" graph (about half) gets no bad value, shape or edge, so that the
#: accepted path (run, summary) is exercised as much as the refusals
_SANE = {"on": False}


def _vec_any(draw, n: int, elements, size_jitter: bool = True) -> np.ndarray:
    """n values of one drawn element (a NIR file's parameter vectors are usually uniform), sometimes the wrong length."""
    sane = _SANE["on"]
    if size_jitter and not sane and not draw(st.integers(0, 7)):
        n = draw(st.sampled_from([0, 1, n + 1, max(0, n - 1)]))
    value = draw(elements)
    if sane and not (math.isfinite(value) and 1e-4 < abs(value) < 1e4):
        value = 0.02 if value != 0.0 else 0.0
    if sane:
        value = abs(value)
    v = np.full(n, value, dtype=np.float32 if draw(st.booleans()) else np.float64)
    if n and not sane and not draw(st.integers(0, 5)):
        v[draw(st.integers(0, n - 1))] = draw(st.sampled_from([np.nan, np.inf, 0.0, -1.0]))
    return v


def _neuron(draw, n: int):
    """A neuron node of n neurons (the nir package refuses parameter vectors of unequal lengths itself)."""
    try:
        return _neuron_of(draw, n, jitter=True)
    except (AssertionError, ValueError):
        return _neuron_of(draw, n, jitter=False)


def _neuron_of(draw, n: int, jitter: bool):
    def _vec(draw, n, elements):
        return _vec_any(draw, n, elements, jitter)
    kind = draw(st.sampled_from(["LIF", "IF", "CubaLIF", "LI"]))
    thr = st.one_of(st.floats(0.1, 2.0), st.sampled_from([math.nan, math.inf, 0.0, -1.0]))
    if kind == "LIF":
        return nir.LIF(tau=_vec(draw, n, PARAM), r=_vec(draw, n, st.one_of(st.floats(1, 30), PARAM)),
                       v_leak=_vec(draw, n, st.just(0.0)), v_threshold=_vec(draw, n, thr),
                       v_reset=_vec(draw, n, st.just(0.0)))
    if kind == "IF":
        return nir.IF(r=_vec(draw, n, st.one_of(st.floats(1, 30), PARAM)), v_threshold=_vec(draw, n, thr),
                      v_reset=_vec(draw, n, st.just(0.0)))
    if kind == "CubaLIF":
        return nir.CubaLIF(tau_mem=_vec(draw, n, PARAM), tau_syn=_vec(draw, n, PARAM),
                           r=_vec(draw, n, st.floats(1, 30)), v_leak=_vec(draw, n, st.just(0.0)),
                           v_threshold=_vec(draw, n, thr), v_reset=_vec(draw, n, st.just(0.0)),
                           w_in=_vec(draw, n, st.just(1.0)))
    return nir.LI(tau=_vec(draw, n, PARAM), r=_vec(draw, n, st.floats(1, 30)), v_leak=_vec(draw, n, st.just(0.0)))


@st.composite
def nir_model(draw) -> tuple[dict, list, int, dict]:
    """(nodes, edges, n_in, graph metadata) of an Input -> Linear/Affine -> neurons (-> Linear -> neurons) -> Output graph."""
    _SANE["on"] = sane = draw(st.booleans())
    n_in = draw(st.integers(1, 6))
    sizes = [n_in] + draw(st.lists(st.integers(1, 8), min_size=1, max_size=2))
    nodes: dict = {"in": nir.Input(np.array([n_in]))}
    edges, prev = [], "in"
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        rows = b if sane or draw(st.integers(0, 9)) else draw(st.integers(1, 9))      # sometimes the wrong shape
        cols = a if sane or draw(st.integers(0, 9)) else draw(st.integers(1, 9))
        w = np.full((rows, cols), draw(st.floats(-1, 1) if sane else WEIGHT), np.float32)
        if w.size and not sane and draw(st.booleans()):
            w.flat[draw(st.integers(0, w.size - 1))] = draw(WEIGHT)
        nodes[f"fc{i}"] = (nir.Affine(w, _vec_any(draw, rows, WEIGHT, False)) if draw(st.booleans()) else nir.Linear(w))
        nodes[f"n{i}"] = _neuron(draw, b)
        if sane and isinstance(nodes[f"n{i}"], nir.LI) and i < len(sizes) - 2:  # LI may only feed the Output
            nodes[f"n{i}"] = nir.IF(r=np.ones(b), v_threshold=np.ones(b), v_reset=np.zeros(b))
        edges += [(prev, f"fc{i}"), (f"fc{i}", f"n{i}")]
        prev = f"n{i}"
    nodes["out"] = nir.Output(np.array([sizes[-1]]))
    edges.append((prev, "out"))
    for _ in range(0 if sane else draw(st.integers(0, 2))):               # mismatched or dangling edges
        kind = draw(st.sampled_from(["ghost", "self", "drop", "reverse"]))
        if kind == "ghost":
            edges.append((draw(st.sampled_from(list(nodes))), "ghost"))
        elif kind == "self":
            name = draw(st.sampled_from(list(nodes)))
            edges.append((name, name))
        elif kind == "drop" and edges:
            edges.pop(draw(st.integers(0, len(edges) - 1)))
        elif edges:
            i = draw(st.integers(0, len(edges) - 1))
            edges[i] = edges[i][::-1]
    metadata = {"dt": 1e-3} if sane else draw(st.sampled_from([{}, {"dt": 1e-3}, {"dt": 0.0}, {"dt": -1e-3},
                                                                {"dt": math.nan}, {"dt": "x"}, {"dt": 1e9},
                                                                {"dt": 1e-3, "discretisation": "rk4"}]))
    return nodes, edges, n_in, metadata


@st.composite
def raster(draw, n_in: int):
    """The input raster: mostly 0/1 spikes of the right width, sometimes a bad dtype, value, shape or length."""
    ticks = draw(st.sampled_from([1, 5, 12] if _SANE["on"] else [0, 1, 5, 12]))
    kind = "ok" if _SANE["on"] else draw(st.sampled_from(["ok", "float", "negative", "nan", "wide", "1d", "3d", "str", "huge_int"]))
    x = (np.random.default_rng(draw(st.integers(0, 3))).random((ticks, n_in)) < 0.4).astype(np.uint8)
    if kind == "float":
        return x.astype(np.float32) * draw(st.sampled_from([0.5, 1.0, 2.0]))
    if kind == "negative":
        return x.astype(np.int16) * -1
    if kind == "nan":
        y = x.astype(np.float64)
        if y.size:
            y.flat[0] = np.nan
        return y
    if kind == "wide":
        return np.ones((ticks, n_in + 3), np.uint8)
    if kind == "1d":
        return x.reshape(-1)
    if kind == "3d":
        return x[None]
    if kind == "str":
        return x.astype(str)
    if kind == "huge_int":
        return x.astype(np.int64) * 2**40
    return x


def _write(folder: Path, nodes: dict, edges: list, metadata: dict, x: np.ndarray | None) -> Path:
    model = folder / "model.nir"
    nir.write(model, nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False))
    if x is not None:
        np.savez(folder / "model.npz", input=x)
    return model


def _sane(run_dir: Path, ticks: int) -> None:
    """An accepted model's summary: parseable JSON, finite positive energy and latency over the ticks it ran."""
    summary = json.loads((run_dir / "summary.json").read_text(), parse_constant=lambda c: pytest.fail(f"bare {c}"))
    assert summary["timesteps"] == ticks > 0
    assert 0 < summary["energy"]["total_j"] < math.inf
    assert 0 < summary["latency"]["timestep_ns"]["max"] < math.inf
    out = np.load(run_dir / "nir_output.npz")
    for key in out.files:
        assert np.isfinite(out[key]).all() and out[key].shape[0] == ticks, key


@SLOW_OK
@given(data=st.data())
def test_a_random_nir_model_runs_sanely_or_is_refused_in_one_line(tmp_path, data):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    nodes, edges, n_in, metadata = data.draw(nir_model())
    x = data.draw(raster(n_in))
    try:
        model = _write(folder, nodes, edges, metadata, x)
    except Exception:  # the nir package itself cannot write this graph: nothing for s2sim to read
        return
    code, err, _ = invoke(["validate", str(model)], 30.0)
    if code == 2:
        return
    code, err, _ = invoke(["run", str(model), "--quiet", "--out", str(folder / "run"), "--set", "run.progress=false"],
                          120.0)
    if code == 0:
        _sane(folder / "run", len(x))
    else:
        assert not (folder / "run" / "summary.json").exists(), "a refused run left a summary"


@SLOW_OK
@given(blob=st.one_of(st.binary(max_size=300), st.just(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)),
       raster_blob=st.one_of(st.none(), st.binary(max_size=200)))
def test_a_file_that_is_no_nir_graph_is_refused_in_one_line(tmp_path, blob, raster_blob):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    (folder / "model.nir").write_bytes(blob)
    if raster_blob is not None:
        (folder / "model.npz").write_bytes(raster_blob)
    code, _, _ = invoke(["validate", str(folder / "model.nir")], 30.0)
    assert code == 2
