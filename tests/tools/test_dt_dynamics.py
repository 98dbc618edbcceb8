"""The time-step study's dynamics part: s2sim's discrete LIF forward vs brian2 at two time steps.

Same continuous-time inputs for both; the discrete model puts an input in the tick that holds it
and a spike at s dt. brian2 here steps 10 us (the study script uses 1 us) to keep the test short;
its spike times are then exact to 0.01 ms, far below the tolerances below.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("brian2") is None,
                                reason="brian2 not installed (test extra)")
TOOL = Path(__file__).resolve().parents[2] / "tools" / "dt_dynamics.py"


def _tool():
    spec = importlib.util.spec_from_file_location("dt_dynamics", TOOL)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the file runs
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def rows():
    D = _tool()
    return D.study([0.1, 1.0], n_samples=6, lif_ms=60.0, lif_layers=[256, 128, 64], fine_dt_us=10.0)


def _row(rows, net, dt, layer):
    return next(r for r in rows if r["network"] == net and r["dt_ms"] == dt and r["layer"] == layer)


def test_fine_step_reproduces_brian2_counts_and_first_spikes(rows):
    for net in ("eventprop_yinyang", "lif_bench"):
        r = _row(rows, net, 0.1, 1)
        assert r["spikes_ref"] > 20, f"{net}: too few spikes to say anything"
        assert r["count_match"] >= 0.98, r
        assert r["first_err_mean_ms"] <= 0.3, r  # a few steps of 0.1 ms
        assert abs(r["spikes_dt"] - r["spikes_ref"]) <= 0.05 * r["spikes_ref"], r


def test_coarse_step_drifts_further_from_brian2(rows):
    for net in ("eventprop_yinyang", "lif_bench"):
        fine, coarse = _row(rows, net, 0.1, 1), _row(rows, net, 1.0, 1)
        assert coarse["first_err_mean_ms"] > 2 * fine["first_err_mean_ms"]
        assert coarse["first_err_mean_ms"] <= 3.0  # still within a few 1 ms steps
        assert coarse["count_match"] <= fine["count_match"]
