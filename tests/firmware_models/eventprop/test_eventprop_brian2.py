"""Forward pass vs brian2 exact integration (ground-truth pattern of time_discretization.md §4).

brian2 integrates dI/dt = -I/tau_syn, dV/dt = (-V + I)/tau_mem exactly (dt = 0.01 ms),
threshold V > 1, reset V = 0, and each input spike at coarse step k is delivered
with a 1 ms synaptic delay, mirroring the reference's one-step delay
(I[k+1] = a I[k] + w s_in[k]). The reference runs with decay='exp' at dt = 1 ms.

What must correspond, and why:
* Current: with the 1 ms delay the reference I[t] *is* brian2's I at t (just after
  deliveries), because both decay by exp(-dt/tau_syn) per ms. Checked to 1e-4.
* Spikes: the reference's V[t] = b V[t-1] + (1-b) I[t] integrates I[t], which in the
  brian2 run is the current flowing during (t, t+1], so the step index s stands for
  the crossing brian2 makes near s + 1 ms; i.e. the reference is brian2 without the
  delay, with the current held at its left-endpoint value over each step.
  We therefore compare s*dt with (t_brian - 1 ms): same spike counts, within one step.
* Regime: one spike per neuron with a clear threshold crossing (the TTFS regime
  of the Yin-Yang network: input totals 7.5..9 per neuron, crossing a few ms after
  the volley, residual current after the reset too weak to fire again). With
  stronger drive the reset-to-grid quantisation lets the discrete neuron fire an
  extra spike (seen at totals >= ~9.5) and in bursting regimes spike trains drift
  apart by several ms after a few spikes; that is the 1 ms discretisation, not a
  bug, and a comparison there would say nothing about the implementation.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from firmware_models.eventprop import reference as R
from firmware_models.eventprop.params import EventpropParams

pytestmark = pytest.mark.skipif(importlib.util.find_spec("brian2") is None,
                                reason="brian2 not installed")
T = 27


def _brian2(w: np.ndarray, spikes: list[tuple[int, int]]) -> dict:
    """brian2 in this process (numpy < 2.4 is pinned in the test extras for brian2's ptp)."""
    cfg = dict(w=w.tolist(), spikes=[list(s) for s in spikes], tau_syn_ms=5.0, tau_mem_ms=20.0,
               T=T, dt_fine_ms=0.01)
    return _run_brian2(cfg)


def _run_brian2(cfg: dict) -> dict:
    """Exact-integration LIF layer; each input spike at coarse step k reaches I at k+1 ms."""
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    b2.defaultclock.dt = cfg["dt_fine_ms"] * b2.ms
    w = np.asarray(cfg["w"], dtype=float)
    n_out, n_in = w.shape
    tau_syn, tau_mem = cfg["tau_syn_ms"] * b2.ms, cfg["tau_mem_ms"] * b2.ms
    G = b2.NeuronGroup(n_out, "dI/dt = -I/tau_syn : 1\ndV/dt = (-V + I)/tau_mem : 1",
                       threshold="V > 1", reset="V = 0", method="exact",
                       namespace={"tau_syn": tau_syn, "tau_mem": tau_mem})
    idx = [int(i) for i, _ in cfg["spikes"]]
    times = [float(k) * b2.ms for _, k in cfg["spikes"]]
    inp = b2.SpikeGeneratorGroup(n_in, idx, times)
    S = b2.Synapses(inp, G, "w : 1", on_pre="I_post += w", delay=1.0 * b2.ms)
    S.connect()  # all-to-all, synapse k = (i, j) with i the input
    S.w[:] = w[S.j[:], S.i[:]]
    spk = b2.SpikeMonitor(G)
    # sample I half a fine step after each coarse grid point: the delivery at k ms is
    # applied after the state update of that fine step
    mon = b2.StateMonitor(G, "I", record=True, dt=1.0 * b2.ms, when="end")
    b2.run(cfg["T"] * b2.ms)
    return {"spike_i": [int(i) for i in spk.i[:]],
            "spike_t_ms": [float(t) for t in spk.t[:] / b2.ms],
            "I_grid": np.asarray(mon.I[:]).tolist()}


def _reference(w: np.ndarray, spikes: list[tuple[int, int]]) -> R.LayerRecord:
    p = EventpropParams(layers=[w.shape[1], w.shape[0]], n_steps=T, t_min=0, decay="exp",
                        tau_syn_ms=5.0, tau_mem_ms=20.0, mu_s=[1.0], sigma_s=[1.0])
    s_in = np.zeros((1, T, w.shape[1]), np.float32)
    for i, k in spikes:
        s_in[0, k, i] = 1.0
    return R.forward([w.astype(np.float32)], s_in, p)[0]


def _compare(w: np.ndarray, spikes: list[tuple[int, int]]) -> None:
    out = _brian2(w, spikes)
    rec = _reference(w, spikes)
    np.testing.assert_allclose(rec.I[0].T, np.array(out["I_grid"]), rtol=1e-4, atol=1e-4)
    t_b = np.array(out["spike_t_ms"])
    i_b = np.array(out["spike_i"])
    n_spikes = 0
    for j in range(w.shape[0]):
        ref_steps = np.flatnonzero(rec.spikes[0, :, j])
        b_times = np.sort(t_b[i_b == j]) - 1.0  # minus the 1 ms synaptic delay
        assert len(ref_steps) == len(b_times), (j, ref_steps, b_times)
        assert np.all(np.abs(ref_steps * 1.0 - b_times) < 1.0), (j, ref_steps, b_times)
        n_spikes += len(ref_steps)
    assert n_spikes >= w.shape[0], "vacuous comparison: some neuron never fired"


@pytest.mark.parametrize("w", [7.5, 8.0, 9.0])
def test_single_neuron_matches_brian2(w):
    """One input spike at step 2; the neuron crosses once, 2-5 ms later."""
    _compare(np.array([[w]]), [(0, 2)])


def test_layer_5_to_4_matches_brian2():
    """5 inputs spiking once at steps 2..5 into 4 neurons with drive totals in 7.5..9."""
    rng = np.random.RandomState(3)
    w = rng.uniform(0.5, 1.0, (4, 5))
    w *= rng.uniform(7.5, 9.0, (4, 1)) / w.sum(axis=1, keepdims=True)
    spikes = [(i, int(rng.randint(2, 6))) for i in range(5)]
    _compare(w, spikes)
