"""The batch barrier: a copy never starts a batch on weights the root has not written (batch_sync.py).

When the root's reduce and Adam overrun the weight-distribution tick, the copies wait for its ready,
the schedule moves by the stall, and training stays bit-identical to the float32 reference.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from firmware_models.eventprop import reference as R
from firmware_models.eventprop.app import ChipNetwork
from firmware_models.eventprop.batch_sync import BatchSchedule, LateSync
from firmware_models.eventprop.mapping import EventpropMapping
from firmware_models.eventprop.params import EventpropParams
from firmware_models.eventprop.training import ReferenceEngine, fresh_state
from s2sim.config import load_arch, load_network
from s2sim.run import RunOptions, run_network
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation

NETWORKS = Path(__file__).resolve().parents[3] / "networks"
ONE_CHIP = HwParams.from_arch(load_arch("spinnaker2"))


def _train_both(hw: HwParams, p: EventpropParams, batches: int, tick_ns: float, kernel: str | None = None):
    """The chip and the reference trained on the same ``batches`` batches from the same weights; per batch
    whether the weights are equal bit for bit."""
    times, y = R.load_data(p)["train"]
    weights = R.init_weights(p, 42)
    chip = ChipNetwork(Simulation(hw, kernel=kernel), p, EventpropMapping(), [w.copy() for w in weights],
                       tick_ns=tick_ns)
    ref = ReferenceEngine(p)
    ref.load(fresh_state(p, weights), 1)
    equal = []
    for b in range(batches):
        idx = slice(b * p.batch, (b + 1) * p.batch)
        chip.run_batch(times[idx], y[idx])
        ref.run_batch(times[idx], y[idx])
        equal.append(all(np.array_equal(a, r) for a, r in zip(chip.weights, ref.weights)))
    assert any(not np.array_equal(a, w) for a, w in zip(ref.weights, weights)), "vacuous: nothing learned"
    return chip, equal


def _copy_lag_ns(chip: ChipNetwork) -> float:
    """The longest a copy's PE worked into any tick (the root and reducers left out)."""
    stats = chip.sim.machine.stats.time_done_ns
    reduce_pes = {chip.plan.root, *chip.plan.reducers}
    copies = [pe.id for pe in chip.sim.machine.used_pes() if pe.id not in reduce_pes]
    return float(stats[:chip.ticks_run, copies].max())


@pytest.mark.parametrize("kernel", ["fast", None])  # None: the default (counted) kernel
def test_a_slow_root_on_one_chip_holds_the_copies_and_trains_as_the_reference(kernel):
    # 22 copies: the root's reduce and Adam take ~0.71 ms, the copies' ticks ~17 us; at a 400 us tick the
    # root's new weights land in the distribution tick, after the copies read theirs
    p = EventpropParams(batch=22, n_steps=10)
    tick_ns, batches = 400_000.0, 3
    chip, equal = _train_both(ONE_CHIP, p, batches, tick_ns, kernel)
    assert equal == [True] * batches
    stalls = chip.stalls
    assert stalls["stalled_batches"] == batches
    # each batch: the hold in the distribution tick, the weights written within it, the ready naming
    # the tick two on: the schedule moved by 2 ticks per batch, and the run fired them
    assert [s.ticks for s in chip.root.stall_log.stalls] == [2] * batches
    assert chip.ticks_run == batches * chip.K + stalls["stall_ticks"]
    assert 0 < stalls["weights_late_ns_max"] < tick_ns
    assert chip.sim.machine.counters.timer_overruns[chip.plan.root] > 0, "the root's tick should overrun"
    assert _copy_lag_ns(chip) < tick_ns, "only the root should be slow"
    counted = chip.sim.machine.kernel_report().get("counted_ticks", {}).get("counted", 0)
    if kernel is None:  # the counted kernel follows the moved schedule: every batch's 2T ticks counted
        assert counted == batches * 2 * p.n_steps, counted


def test_at_a_tick_long_enough_nothing_waits():
    """(Also: at an even n_steps the next batch starts on the other tick parity; a last-step input spike of
    batch 0 used to stay in the buffer that drives batch 1's step 1, so batch 1 left the reference.)"""
    p = EventpropParams(batch=22, n_steps=10)
    chip, equal = _train_both(ONE_CHIP, p, 2, 1_000_000.0, "fast")
    assert equal == [True, True]
    assert chip.stalls["stalled_batches"] == 0 and chip.ticks_run == 2 * chip.K


def test_88_copies_on_the_2x2_board_train_bit_identically_to_the_reference():
    """networks/yinyang_board4.yaml: the chain reduce takes ~2.6 ms, past the distribution tick; without the
    barrier batch b's forward pass read the weights after batch b-2's update."""
    loaded = load_network(NETWORKS / "yinyang_board4.yaml")
    hw = HwParams.from_arch(loaded.arch)
    p = EventpropParams(**{**loaded.spec.network, "n_steps": 10})  # fewer steps: the reduce is what matters
    chip, equal = _train_both(hw, p, 3, loaded.spec.run.tick_ns)
    assert equal == [True, True, True]
    stalls = chip.stalls
    assert stalls["stalled_batches"] == 3 and stalls["weights_late_ns_max"] > 1e6
    assert chip.ticks_run == 3 * chip.K + stalls["stall_ticks"]
    # the hold and ready crossed to chips 1 and 2 (copies and reducers there), the reducers' "written" back
    assert chip.sim.machine.link_load()["links"][(1, 0)] > 0


def test_a_hold_or_ready_that_comes_too_late_is_an_error_not_a_race():
    sched = BatchSchedule(ticks_per_batch=23, distribution_phase=22)
    with pytest.raises(LateSync, match="after the next batch started"):
        sched.hold(22, now_tick=23, where="test PE")
    sched.hold(22, now_tick=22, where="test PE")
    assert sched.idle(23) and sched.idle(24) and not sched.idle(22)
    with pytest.raises(LateSync, match="arrived in tick 25"):
        sched.resume(25, now_tick=25, where="test PE")
    sched.resume(25, now_tick=23, where="test PE")
    assert sched.offset == 3 and sched.phase(25) == 22 and sched.phase(26) == 0 and sched.idle(24)
    assert not sched.idle(25)


def test_the_copies_of_a_group_share_one_schedule_and_each_takes_the_same_hold_and_ready():
    """Grouped numerics: every member's PE hands the group's schedule the root's burst [hold, ready]."""
    sched = BatchSchedule(ticks_per_batch=23, distribution_phase=22)
    for member_now in (22, 22, 23):  # the third member's burst lands in the next tick: the group is held already
        sched.take([0, 1], [22, 24], member_now, "a layer PE")
    assert sched.offset == 2 and sched.phase(24) == 22 and sched.idle(23) and not sched.idle(24)
    with pytest.raises(LateSync, match="without its hold"):
        BatchSchedule(23, 22).resume(30, now_tick=25, where="test PE")


def test_the_summary_counts_the_stall_in_timesteps_and_says_so(tmp_path):
    """networks/yinyang.yaml (4 copies, 10 steps) at a 100 us tick: the root's reduce and Adam take ~0.28 ms."""
    sets = ["network.epochs=1", "network.batch=4", "network.n_steps=10", "training.max_batches=2",
            "run.tick_ns=100000"]
    app = run_network(load_network(NETWORKS / "yinyang.yaml", sets), RunOptions(out_dir=tmp_path, write_outputs=False)).app
    sync = app.extra["batch_sync"]
    assert sync["stalled_batches"] == 2 and sync["stall_ticks"] > 0
    assert app.timesteps == sync["ticks_run"] == 2 * app.ticks_per_sample + sync["stall_ticks"]
    assert any(note.startswith("batch barrier: in 2 of 2 batches") for note in app.notes)
