"""Firmware stories: the chip's spike raster and learned weights match the float32 reference."""
import numpy as np
import pytest

from firmware_models.eprop import reference as R
from firmware_models.eprop.app import ChipNetwork
from firmware_models.eprop.mapping import EpropMapping
from firmware_models.eprop.params import EpropParams
from s2sim.config import load_arch
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation

HW = HwParams.from_arch(load_arch("spinnaker2"))


def _data(p, n, seed=1):
    rng = np.random.default_rng(seed)
    w0 = R.init_weights(p, rng)
    X = (rng.standard_normal((n, p.n_steps, p.n_in)) * 4).astype(np.float32)
    return w0, X, rng.integers(0, p.n_out, n)


def _chip(p, w0, pes=12):
    chip = ChipNetwork(Simulation(HW), p, EpropMapping(pes=pes), {k: v.copy() for k, v in w0.items()})
    chip.group.record_raster = True
    return chip


@pytest.mark.parametrize("layout,eps_a,autapse", [("paper", "repo", "keep"), ("lean", "exact", "keep"),
                                                  ("closed_form", "repo", "mask")])
def test_raster_and_weights_after_3_samples_match_reference(layout, eps_a, autapse):
    p = EpropParams(n_steps=20, memory_layout=layout, eps_a=eps_a, autapse=autapse)
    w0, X, Y = _data(p, 3)
    chip = _chip(p, w0)
    recs = chip.run_samples(X, Y, train=True, lr=0.01)
    r = R.run_sample(w0, X[0], int(Y[0]), p, train=True, engine="stepwise")
    assert r.z.sum() > 20  # the comparison means something
    assert np.array_equal(chip.group.rasters[0], r.z[0])
    assert abs(recs[0][1] - float(r.loss[0])) < 1e-5 and recs[0][2] == int(r.pred[0])
    wc = chip.weights()
    # the stepwise reference adding the readout in the chip's order (each PE's Σ_t, then the root's Σ over PEs)
    wr = {k: v.copy() for k, v in w0.items()}
    R.train_online(wr, R.Adam(wr, p), X, Y, p, 0, engine="stepwise", readout_starts=[s.start for s in chip.slices])
    for k in wr:
        assert np.abs(wc[k] - w0[k]).max() > 1e-3  # learning happened
        np.testing.assert_array_equal(wc[k], wr[k], err_msg=k)  # bit-identical
    # the same maths adding the readout Σ_t of full-width products (one core) rounds ȳ differently: ~1e-7 apart
    w1 = {k: v.copy() for k, v in w0.items()}
    R.train_online(w1, R.Adam(w1, p), X, Y, p, 0, engine="stepwise")
    assert 0 < max(np.abs(wc[k] - w1[k]).max() for k in w1) < 1e-6


def test_full_size_80_120_12_sample_matches_reference_and_is_real_time():
    p = EpropParams()
    w0, X, Y = _data(p, 1, seed=5)
    chip = _chip(p, w0)
    chip.run_samples(X, Y, train=True, lr=0.01)
    r = R.run_sample(w0, X[0], int(Y[0]), p, train=True, engine="stepwise")
    assert np.array_equal(chip.group.rasters[0], r.z[0])
    wr = {k: v.copy() for k, v in w0.items()}
    r = R.run_sample(w0, X[0], int(Y[0]), p, train=True, engine="stepwise", readout_starts=[s.start for s in chip.slices])
    R.Adam(wr, p).step(wr, r.grads(), 0.01)
    for k, v in chip.weights().items():
        np.testing.assert_array_equal(v, wr[k], err_msg=k)
    st = chip.sim.machine.stats
    assert st.time_done_ns[:st.n_rows].max() < 1e6  # every tick's work ends inside the 1 ms tick
    sent = chip.sim.machine.counters.total("packets_sent", range(12))
    assert sent >= int(r.z.sum()) + 11 * 12 + 12  # spikes + reduce + err packets


def test_inference_mode_skips_learning():
    p = EpropParams(n_steps=15)
    w0, X, Y = _data(p, 2)
    chip = _chip(p, w0)
    recs = chip.run_samples(X, Y, train=False)
    for k, v in chip.weights().items():
        assert np.array_equal(v, w0[k])
    r = R.run_sample(w0, X, Y, p, train=False)
    assert [x[2] for x in recs] == list(r.pred)
    phases = chip.sim.machine.pes[0].phase_cycles_total
    assert "eligibility" not in phases and "adam" not in phases
