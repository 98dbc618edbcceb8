"""What-if "how short can the tick be?" for cue accumulation: a tick shorter than a step's work finishes every
trial and reports the overruns and late steps per PE; it never aborts.

The program counts its own steps, so a dropped or late tick never loses a step; the host keeps the timer
running until every PE has run them all. On one PE nothing crosses PEs unsynchronised (its own spikes and
errors arrive while the step that sent them still runs), so the short tick changes the timing only. On
several PEs the PEs run at their own pace before the learning window and spikes can count for another step
than at a long tick: the run learns something else (documented in firmware.py, pinned here).
"""
import numpy as np

from firmware_models.eprop_lif import reference as R
from firmware_models.eprop_lif.app import ChipNetwork
from firmware_models.eprop_lif.mapping import CueMapping
from firmware_models.eprop_lif.params import CueEpropParams
from s2sim.config import load_arch
from s2sim.data.cue import CueConfig, load_cue
from s2sim.hw.params import HwParams
from s2sim.profile.summary import diagnostics_section
from s2sim.sim import Simulation

HW = HwParams.from_arch(load_arch("spinnaker2"))
CFG = CueConfig(n_cues=2, t_wait_steps=60, recall_steps=30, n_train=4, n_test=0)
P = CueEpropParams(n_steps=CFG.n_steps, learn_steps=30, n_rec=20, batch=2, lr=1e-2, init_gains=(1.0, 0.5, 0.5))
LONG_NS, SHORT_NS = 1_000_000.0, 20_000.0


def _train(pes, tick_ns):
    ds = load_cue(CFG, 3)
    w0 = R.init_weights(P, np.random.default_rng(3))
    chip = ChipNetwork(Simulation(HW), P, CueMapping(pes=pes), {k: v.copy() for k, v in w0.items()}, tick_ns)
    chip.record_rasters()
    X, Y = ds.splits["train"].X, ds.splits["train"].y
    recs = chip.run_trials(X[:2], Y[:2], train=True) + chip.run_trials(X[2:], Y[2:], train=True)  # two batches
    return chip, recs, w0


def _overruns(chip):
    return {s.pe: chip.sim.machine.counters.timer_overruns[s.pe] for s in chip.slices}


def test_too_short_tick_finishes_every_trial_and_reports_overruns_and_late_steps_per_pe():
    chip, recs, w0 = _train(pes=3, tick_ns=SHORT_NS)
    assert [r[0] for r in recs] == [0, 1, 2, 3]  # every trial scored once, in order
    assert chip.sim.machine.stats.time_done_ns.max() > SHORT_NS  # the tick really is too short for the work
    assert all(fw.step == 4 * chip.tps for fw in chip.cores)  # every PE ran every step of every trial
    assert chip.ticks_run > 4 * chip.tps  # ... with more ticks than steps (dropped ticks)
    per_pe = diagnostics_section(chip.sim)["per_pe"]
    assert sorted(per_pe) == sorted(str(s.pe) for s in chip.slices)
    assert all(per_pe[str(pe)]["timer_overruns"] == n > 0 for pe, n in _overruns(chip).items())
    assert all(n > 0 for n in chip.late_steps_per_pe().values())
    for k, w in chip.weights().items():
        assert np.isfinite(w).all() and np.abs(w - w0[k]).max() > 1e-3  # it learned


def test_long_tick_has_no_overruns_and_one_pe_learns_the_same_at_a_too_short_tick():
    long_chip, long_recs, _ = _train(pes=1, tick_ns=LONG_NS)
    assert set(_overruns(long_chip).values()) == {0} and long_chip.late_steps == 0
    assert long_chip.ticks_run == 4 * long_chip.tps
    short_chip, short_recs, _ = _train(pes=1, tick_ns=SHORT_NS)
    assert _overruns(short_chip)[0] > 0 and short_chip.late_steps > 0
    assert short_recs == long_recs  # losses, predictions, labels
    for s in range(4):
        assert np.array_equal(short_chip.raster(s), long_chip.raster(s))
    for k, w in long_chip.weights().items():
        assert np.array_equal(short_chip.weights()[k], w)


def test_on_several_pes_a_too_short_tick_learns_something_else():
    long_chip, long_recs, _ = _train(pes=3, tick_ns=LONG_NS)
    assert set(_overruns(long_chip).values()) == {0} and long_chip.late_steps == 0
    short_chip, short_recs, _ = _train(pes=3, tick_ns=SHORT_NS)
    # the fastest PE (6 of 20 neurons) drifts ahead before the learning window: spikes count a step off
    assert not np.array_equal(short_chip.raster(0), long_chip.raster(0))
    assert [r[1] for r in short_recs] != [r[1] for r in long_recs]
