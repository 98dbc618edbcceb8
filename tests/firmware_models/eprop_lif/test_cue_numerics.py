"""Cue accumulation's compiled trace-and-gradient loop (firmware_models/eprop_lif/numerics.py) is a speed
trick only: it gives what group.py's numpy statements give, bit for bit, on random float32 state in and
out of the learning window; and chip training gives the same weights, Adam state, rasters and timing
with the loop on and off (``S2SIM_JIT=0``)."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_models.eprop_lif import numerics as nm
from firmware_models.eprop_lif.app import ChipNetwork
from firmware_models.eprop_lif.mapping import CueMapping
from firmware_models.eprop_lif.params import CueEpropParams
from firmware_models.eprop_lif.training import fresh_state
from s2sim.config import load_arch
from s2sim.data.cue import CueConfig, load_cue
from s2sim.hw.params import HwParams
from s2sim.runtime import NUMBA_AVAILABLE
from s2sim.sim import Simulation

F32 = np.float32


@pytest.mark.parametrize("window", [False, True])
def test_the_trace_and_gradient_loop_is_the_numpy_statements_bit_for_bit(window):
    rng = np.random.default_rng(4)
    members, pre, neurons = 3, 45, 9
    state = {"ebar": rng.standard_normal((members, pre, neurons)).astype(F32),
             "grad": rng.standard_normal((members, pre, neurons)).astype(F32)}
    loop_state = {k: v.copy() for k, v in state.items()}
    ebar0, grad0 = state["ebar"].copy(), state["grad"].copy()
    kappa = F32(0.951229)
    for _ in range(3):
        eps = (rng.random((members, pre)) * 3).astype(F32)
        h = (rng.random((members, neurons)) * 0.3).astype(F32)
        L = rng.standard_normal((members, neurons)).astype(F32)
        scratch = np.empty_like(state["ebar"])
        nm.trace_and_gradient_numpy(eps, h, state["ebar"], kappa, window, L, state["grad"], scratch)
        nm.trace_and_gradient(eps, h, loop_state["ebar"], kappa, window, L, loop_state["grad"])
        for name in state:
            assert np.array_equal(state[name].view(np.uint32), loop_state[name].view(np.uint32)), name
    # not vacuous: the traces moved, and the gradient moved exactly in the window
    assert not np.array_equal(loop_state["ebar"], ebar0)
    assert np.array_equal(loop_state["grad"], grad0) is (not window)


def cue_training(monkeypatch, compiled: bool) -> dict:
    """Three training trials of a small cue network on 3 PEs (Adam after each batch of 2 and at the end)."""
    monkeypatch.setenv("S2SIM_JIT", "1" if compiled else "0")
    p = CueEpropParams(n_steps=120, learn_steps=30, n_rec=20, batch=2, lr=1e-2, init_gains=[1.0, 0.5, 0.5])
    ds = load_cue(CueConfig(n_cues=2, t_wait_steps=60, recall_steps=30, n_train=3, n_test=0), 3)
    start = fresh_state(p, 3)
    sim = Simulation(HwParams.from_arch(load_arch("spinnaker2")))
    chip = ChipNetwork(sim, p, CueMapping(pes=3), start.weights, 1_000_000.0)
    assert chip.group.compiled is compiled
    chip.set_adam(start.adam)
    chip.record_rasters()
    records = chip.run_trials(ds.splits["train"].X[:3], ds.splits["train"].y[:3], train=True)
    adam = chip.adam_state()
    st = sim.machine.stats
    return {"records": records, "weights": chip.weights(), "w0": start.weights, "m": adam.m, "v": adam.v,
            "rasters": [chip.raster(s) for s in range(3)], "time_done_ns": st.time_done_ns[:st.n_rows].copy()}


@pytest.mark.skipif(not NUMBA_AVAILABLE, reason="the compiled loop needs numba (the numpy path is the other side)")
def test_cue_chip_training_is_bit_identical_with_the_compiled_loop_and_with_numpy(monkeypatch):
    compiled, numpy_only = cue_training(monkeypatch, True), cue_training(monkeypatch, False)
    assert compiled["records"] == numpy_only["records"]
    for part in ("weights", "m", "v"):
        for name, a in compiled[part].items():
            assert np.array_equal(a.view(np.uint32), numpy_only[part][name].view(np.uint32)), (part, name)
    assert any(np.abs(compiled["weights"][k] - compiled["w0"][k]).max() > 0 for k in compiled["weights"])
    assert all(np.array_equal(a, b) for a, b in zip(compiled["rasters"], numpy_only["rasters"]))
    assert any(r.any() for r in compiled["rasters"]), "vacuous: no neuron ever fired"
    assert np.array_equal(compiled["time_done_ns"], numpy_only["time_done_ns"])
