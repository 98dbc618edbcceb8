"""What-if "how short can the tick be?": a tick shorter than a step's work finishes every sample and
reports the overruns per PE; it never aborts.

The firmware is not tick-independent, and neither is the C code it models: once steps run back to
back, the spikes of step t reach the other PEs after they started step t+1, so they count as
inputs of step t+2 and the network learns something else than at a long tick. While the chip is
compute-bound the tick only decides how many ticks the full task queue drops, so any two
too-short ticks learn the same weights.
"""
import numpy as np

from firmware_models.eprop import reference as R
from firmware_models.eprop.app import ChipNetwork
from firmware_models.eprop.mapping import EpropMapping
from firmware_models.eprop.params import EpropParams
from s2sim.config import load_arch
from s2sim.hw.params import HwParams
from s2sim.profile.summary import diagnostics_section
from s2sim.sim import Simulation

HW = HwParams.from_arch(load_arch("spinnaker2"))
P = EpropParams(n_steps=8)
N_SAMPLES = 2


def _train(tick_ns):
    rng = np.random.default_rng(3)
    w0 = R.init_weights(P, rng)
    X = (rng.standard_normal((N_SAMPLES, P.n_steps, P.n_in)) * 4).astype(np.float32)
    Y = rng.integers(0, P.n_out, N_SAMPLES)
    chip = ChipNetwork(Simulation(HW), P, EpropMapping(pes=12), {k: v.copy() for k, v in w0.items()},
                       tick_ns=tick_ns)
    recs = chip.run_samples(X, Y, train=True, lr=0.01)
    return chip, recs, w0


def test_too_short_tick_finishes_every_sample_and_reports_overruns_per_pe():
    chip, recs, w0 = _train(tick_ns=20_000.0)
    assert [r[0] for r in recs] == list(range(N_SAMPLES))  # every sample reduced once, in order
    step_work_ns = chip.sim.machine.stats.time_done_ns.max()
    assert step_work_ns > 20_000.0  # the tick really is too short for the work
    per_pe = diagnostics_section(chip.sim)["per_pe"]
    pes = [s.pe for s in chip.slices]
    assert sorted(int(pe) for pe in per_pe) == sorted(pes)
    assert all(per_pe[str(pe)]["timer_overruns"] > 0 for pe in pes)
    # every step ran: each PE's program went through all steps of both samples
    assert all(fw.step == N_SAMPLES * chip.tps for fw in chip.cores)
    for k, w in chip.weights().items():
        assert np.isfinite(w).all() and np.abs(w - w0[k]).max() > 1e-4  # it learned


def test_long_tick_has_no_overruns_and_two_too_short_ticks_learn_the_same_weights():
    long_chip, long_recs, _ = _train(tick_ns=1_000_000.0)
    assert long_chip.sim.machine.counters.total("timer_overruns", [s.pe for s in long_chip.slices]) == 0
    a, recs_a, _ = _train(tick_ns=20_000.0)
    b, recs_b, _ = _train(tick_ns=50_000.0)
    assert [r[1] for r in recs_a] == [r[1] for r in recs_b]
    for k, w in a.weights().items():
        np.testing.assert_array_equal(w, b.weights()[k])
    # not tick-independent: the long tick's first loss differs (spikes arrive one step late)
    assert long_recs[0][1] != recs_a[0][1]
