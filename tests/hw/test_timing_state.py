"""A PE's timing state can be snapshotted and restored: a kernel that runs a stretch of work
speculatively (and finds it cannot finish it) puts every PE back as it was and runs the exact path,
and the run goes on as if nothing had happened.

The story: PE 0 sends a burst to PE 1 at every tick while PE 1 runs a long timer callback, so the
packets pre-empt it and steal time from it. The run pauses with PE 1's callback still running. At the
pause, a speculative detour touches every part of the timing state (pre-emption bookings that steal
from the running callback, queued work, row counts, the TX queue, send loops, the level, counters);
restoring the snapshot afterwards must give the same run as no detour at all.
"""
from dataclasses import replace

import numpy as np
import pytest

from scripted_firmware import Scripted
from s2sim.hw.dispatcher import Task
from s2sim.hw.params import PerfLevel
from s2sim.sim import Simulation

KEY = 0x100
PERIOD_NS = 100_000.0


def build(hw):
    hw = replace(hw, perf_levels=hw.perf_levels + (PerfLevel("slow", 50.0, 0.6, 5.0, 0.5),))
    sim = Simulation(hw)
    sim.chip.noc.add_multicast(key=KEY, mask=0xFFFFFF00, src_pe=0, dest_pes=[1])

    def send_burst(core, tick):
        core.charge_cycles("work", 200)
        for i in range(4):
            core.send_mc(KEY + i)

    def long_tick(core, tick):
        core.charge_cycles("work", 3000)
        core.send_p2p(0, key=tick)

    sim.load(0, Scripted(start=lambda c: c.set_timer(PERIOD_NS), timer=send_burst,
                         packet=lambda c, k, p: c.charge_cycles("rx", 10)))
    sim.load(1, Scripted(start=lambda c: c.set_timer(PERIOD_NS), timer=long_tick,
                         packet=lambda c, k, p: c.charge_cycles("rx", 50)))
    return sim


def pause_mid_callback(sim):
    """Two ticks, stopping 10 us into tick 1: PE 1's 30 us callback is still running."""
    sim.chip.run_ticks(2, drain_ns=10_000.0)
    assert sim.chip.pes[1].dispatcher.running is not None


def speculate(sim):
    """What a speculative kernel might have done to every PE before giving up."""
    for pe in sim.chip.pes[:2]:
        now = sim.env.now
        pe.preemption.book_handlers(now, now, now + 500.0, 5, 120.0)  # steals from the running callback
        pe.preemption.book(now + 1_000.0, 300.0, pe.ns_per_cycle)
        pe.dispatcher.queues[0].append(Task("task", lambda core, arg: None, (None,), 1))
        pe.dispatcher.tasks_outstanding += 1
        pe.accept_packets(7)
        pe.count_packets_out(3)
        pe.rows.done_ns = 99_999.0
        pe.rows.phases["spec"] = 1e6
        pe.ctx.open("spec", now, {}, False)
        pe.tx.admit(pe.ctx)
        pe.tx.free_ns += 5_000.0
        pe.sends.add(sim.chip.noc.p2p_route(pe.id, 1 - pe.id), 1, None, now, 1.0, 1.0)
        pe.counters.timer_overruns[pe.id] += 1
        pe.set_level("slow")
        pe.tick += 3
        pe.cycles_by_level["slow"] = 123.0


def outcome(sim):
    sim.chip.flush_stats()
    view = sim.chip.stats.view()
    pes = sim.chip.pes[:2]
    return {"log": [fw.log for fw in (sim.chip.pes[0].firmware, sim.chip.pes[1].firmware)],
            "stats": {k: np.asarray(v).tolist() for k, v in view.items()},
            "counters": [sim.chip.counters.of(pe.id) for pe in pes],
            "cycles": [dict(sim.chip.counters.cycles_by_level[pe.id]) for pe in pes],
            "levels": [pe.close_levels(sim.env.now) for pe in pes], "now": sim.env.now,
            "dropped": sim.chip.counters.dropped_packets}


def run(hw, detour: str):
    sim = build(hw)
    pause_mid_callback(sim)
    if detour != "none":
        states = [pe.timing_state() for pe in sim.chip.pes]
        snaps = [state.snapshot() for state in states]
        speculate(sim)
        if detour == "restored":
            for state, snap in zip(states, snaps):
                state.restore(snap)
    sim.chip.run_ticks(3)
    return outcome(sim)


def test_restoring_a_snapshot_after_a_speculative_detour_gives_the_undisturbed_run(hw):
    undisturbed = run(hw, "none")
    assert run(hw, "restored") == undisturbed


def test_the_detour_would_change_the_run_without_the_restore(hw):
    """(So the test above can fail: the detour touches state that matters.)"""
    assert run(hw, "kept") != run(hw, "none")


@pytest.mark.parametrize("part", ["dispatcher", "preemption", "rows", "tx", "sends"])
def test_the_restore_puts_back_every_part_the_detour_changed(hw, part):
    sim = build(hw)
    pause_mid_callback(sim)
    pes = sim.chip.pes
    snaps = [pe.timing_state().snapshot() for pe in pes]
    kept = [getattr(pe, part).snapshot() for pe in pes]
    speculate(sim)
    speculated = [getattr(pe, part).snapshot() for pe in pes]
    for pe, snap in zip(pes, snaps):
        pe.timing_state().restore(snap)
    assert [getattr(pe, part).snapshot() for pe in pes] == kept
    assert speculated[:2] != kept[:2]
