"""The counted kernel on cue accumulation (``s2sim/counted/cue.py``): a trial's steps before the learning
window are counted (the group's own step computes them first, input prefetch DMAs included; the compiled
loop times them, one spike handler per packet), its first step, the learning window and the learning tick
run event-driven, and the run is the exact kernel's, bit for bit: every timing result, the root's records
and the trained weights and Adam state.
"""
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests" / "tools"))

import timing_fingerprint as tf  # noqa: E402
from test_timing_fingerprint import first_difference  # noqa: E402

from s2sim.counted.codes import R_TIMER, R_UNMODELLED, REASONS  # noqa: E402
from forcing import stop_at_the_third_tick  # noqa: E402

#: steps per trial (3 input chunks of 50 frames: the step entering chunk 1 prefetches chunk 2, counted)
#: and the learning window's length
N_STEPS, LEARN_STEPS = 130, 10
#: counted per trial: steps 1 .. learn_start - 2 (step 0 issues the root's label DMA; from learn_start - 1
#: on a step sends its partial readout to the root)
COUNTED_PER_TRIAL = N_STEPS - LEARN_STEPS - 2


def cue_network(kernel: str, seed: int = 0, tick_ns: float = 1e6, fractional_cycles: bool = False,
                grouped: bool = True):
    """The shipped network's 40-100-2 on 4 PEs, shorter trials, fresh weights, and random input spikes.
    ``fractional_cycles``: the DMA issue and the forward/readout kernel not whole cycles (the sums of a
    step's charges then round, so their order shows)."""
    from firmware_models.eprop_lif.app import ChipNetwork
    from firmware_models.eprop_lif.mapping import CueMapping
    from firmware_models.eprop_lif.params import CueEpropParams
    from firmware_models.eprop_lif.training import fresh_state
    from s2sim.config import load_arch
    from s2sim.hw.params import HwParams
    from s2sim.sim import Simulation

    p = CueEpropParams(n_steps=N_STEPS, learn_steps=LEARN_STEPS, batch=2)
    start = fresh_state(p, seed)
    hw = HwParams.from_arch(load_arch("spinnaker2"))
    if fractional_cycles:
        hw = dataclasses.replace(hw, dma_issue_cycles=9.4, kernel_cycles={**hw.kernel_cycles, "event_add": 10.1})
    net = ChipNetwork(Simulation(hw, kernel=kernel), p, CueMapping(),
                      start.weights, tick_ns, grouped)
    net.set_adam(start.adam)
    rng = np.random.default_rng(seed)
    X = (rng.random((3, N_STEPS, p.n_in)) < 0.05).astype(np.uint8)
    return net, X, np.array([0, 1, 1])


def train_then_test(kernel: str, tick_ns: float = 1e6, fractional_cycles: bool = False, grouped: bool = True):
    """Two training trials (one batch: Adam at the second's learning tick), then a test trial."""
    net, X, y = cue_network(kernel, tick_ns=tick_ns, fractional_cycles=fractional_cycles, grouped=grouped)
    net.record_rasters()
    records = net.run_trials(X[:2], y[:2], train=True)
    records += net.run_trials(X[2:], y[2:], train=False)
    adam = net.adam_state()
    g = net.group
    shared = all(fw.pending is g.pending is g.ticks.pending and np.shares_memory(fw.ebar, g.ebar)
                 and np.shares_memory(fw.spike_buffers, g.spike_buffers) for fw in net.cores)
    return (tf.timing_results(net.sim), net.weights(), records, net.sim.machine.kernel_report(),
            [adam.m[k] for k in sorted(adam.m)], shared, [net.raster(trial) for trial in range(3)])


def assert_same_run(exact, counted):
    assert first_difference(exact[0], counted[0]) is None, first_difference(exact[0], counted[0])
    for name in exact[1]:
        np.testing.assert_array_equal(exact[1][name], counted[1][name])
    assert exact[2] == counted[2] and len(exact[2]) == 3  # each trial's window loss, prediction, label
    for m_exact, m_counted in zip(exact[4], counted[4]):
        np.testing.assert_array_equal(m_exact, m_counted)
    assert counted[5], "a core's pending list or state views no longer the group's"
    for r_exact, r_counted in zip(exact[6], counted[6]):  # every recurrent spike of every step
        np.testing.assert_array_equal(r_exact, r_counted)
    assert sum(r.sum() for r in exact[6]) > 0


def test_steps_before_the_learning_window_are_counted_and_the_run_stays_the_exact_kernels():
    exact, counted = train_then_test("exact"), train_then_test("counted")
    assert_same_run(exact, counted)
    assert any(np.any(exact[1][name] != cue_network("exact")[0].weights()[name]) for name in exact[1])  # it learnt
    ticks = counted[3]["counted_ticks"]
    assert ticks["counted"] == 3 * COUNTED_PER_TRIAL
    assert ticks["event_driven"] == 3 * (N_STEPS + 1 - COUNTED_PER_TRIAL)
    assert set(counted[3]["counted_fallbacks"]) == {REASONS[R_UNMODELLED]}


def test_with_group_numerics_off_every_pe_computes_alone_and_the_run_is_the_same():
    """``group_numerics: false``: the counted steps compute each PE's numerics on its own rows, as each PE's
    callback does: the same timing and training as the exact kernel's (grouped or not)."""
    exact, counted = train_then_test("exact"), train_then_test("counted", grouped=False)
    assert_same_run(exact, counted)
    assert counted[3]["counted_ticks"]["counted"] == 3 * COUNTED_PER_TRIAL


def test_a_steps_charges_add_up_in_the_firmwares_call_order():
    """With cycle figures that are not whole numbers, a step's DMA issue, forward and readout kernels, sends
    and fixed phases round as the firmware's calls add them one after another: still the exact kernel's."""
    exact = train_then_test("exact", fractional_cycles=True)
    counted = train_then_test("counted", fractional_cycles=True)
    for run in (exact, counted):  # run totals: a counted window's rows are summed as one batch, which may
        for pe in run[0]["pe"].values():  # round otherwise in the last bit (``TickStats.add_block``)
            pe.pop("phase_totals")
    assert_same_run(exact, counted)
    assert counted[3]["counted_ticks"]["counted"] == 3 * COUNTED_PER_TRIAL


def stop_after_the_counted_prefetch(kernel: str, ticks: int = 52):
    """One training trial run as two calls: the DRAM channels, each PE's pre-emption and DMA counters after
    ``ticks`` ticks (step 50 entered chunk 1 and prefetched chunk 2, counted), then the trial's timing."""
    net, X, y = cue_network(kernel, seed=3)
    sim, chip = net.sim, net.sim.machine
    run_ticks, middle = sim.run_ticks, {}

    def in_two_calls(n):
        if middle:
            return run_ticks(n)
        run_ticks(ticks)
        c = chip.counters
        middle.update(dram=list(chip.dram.channel_free_ns), free=[pe.preemption.free_ns for pe in chip.used_pes()],
                      dma=[list(c.dma_transfers), list(c.dma_bytes), c.dram_bytes_read])
        run_ticks(n - ticks)

    sim.run_ticks = in_two_calls
    net.run_trials(X[:1], y[:1], train=True)
    return middle, tf.timing_results(sim), chip.kernel_report()


def test_input_prefetches_book_the_dram_channels_as_the_exact_kernel_does():
    exact, counted = stop_after_the_counted_prefetch("exact"), stop_after_the_counted_prefetch("counted")
    assert counted[2]["counted_ticks"]["counted"] == COUNTED_PER_TRIAL
    assert exact[0]["dma"][2] > 0 and max(exact[0]["dram"]) > 0
    assert counted[0] == exact[0]
    assert first_difference(exact[1], counted[1]) is None, first_difference(exact[1], counted[1])


@pytest.mark.parametrize("reason", [R_TIMER, R_UNMODELLED])
def test_a_fallback_in_the_middle_of_a_window_undoes_its_numerics_and_stays_exact(monkeypatch, reason):
    """The loop claims an overrun (or a DMA it does not model) at a window's third tick: the window's
    numerics (already run for all its ticks: spikes filed, ē and v moved on, a prefetch landed) are put back,
    its first two ticks are rerun and committed, the third runs event-driven; the group's shared lists and
    views stay shared."""
    exact = train_then_test("exact")
    forced = stop_at_the_third_tick(monkeypatch, 4, reason)
    counted = train_then_test("counted")
    assert len(forced) == 4
    assert_same_run(exact, counted)
    report = counted[3]
    assert report["counted_fallbacks"][REASONS[reason]] >= 4
    assert report["counted_windows"]["cut_short"] >= 4
    assert report["counted_ticks"]["counted"] == 3 * COUNTED_PER_TRIAL - 4


def test_a_tick_the_learning_tick_overruns_falls_back_until_quiescent_and_stays_exact():
    """At a 250 µs tick the learning tick's Adam runs into the next tick: the work behind it runs
    event-driven (work carried over), counting resumes once the chip is quiescent again, although the
    programs' own step count now lags the timer's."""
    exact, counted = train_then_test("exact", tick_ns=250e3), train_then_test("counted", tick_ns=250e3)
    assert_same_run(exact, counted)
    assert any(exact[0]["pe"][str(pe)]["counters"]["timer_overruns"] for pe in exact[0]["pes"])
    report = counted[3]
    assert report["counted_fallbacks"]["work carried over from the ticks before"] > 0
    assert 3 * COUNTED_PER_TRIAL - 3 <= report["counted_ticks"]["counted"] < 3 * COUNTED_PER_TRIAL


def test_the_cue_golden_run_counts_its_steps_and_gives_the_golden_digest():
    """tools/timing_fingerprint.py's cue_accumulation (40 steps, a 10-step window, one chip trial after the
    reference training): steps 1 .. 28 counted, the golden digest bit for bit."""
    path, sets, options = tf.small_run("cue_accumulation")
    with tf.kernel_env("counted"):
        result = tf.run_network(path, sets, options)
    report = result.sim.machine.kernel_report()
    assert report["counted_ticks"] == {"counted": 40 - 10 - 2, "event_driven": 10 + 3}
    _, digests = tf.golden_for("cue_accumulation")
    assert tf.digest(tf.timing_results(result.sim)) == digests["digest"]
