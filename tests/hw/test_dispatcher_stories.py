"""Small timing stories the suite lacked (issue 20): each fails on a one-line mutant of the rule it tells.

Times use the round numbers of the ``hw`` fixture (10 ns per core cycle; NoC: 10 ns injection, ejection
and serialisation, 50 ns per hop; DMA issue 40 ns + setup 100 ns; 2 DRAM channels of 1 B/ns, no
latency). PEs 0-3 share QPE 0's router; PEs 4-7 are on QPE 1, one hop east.
"""
from dataclasses import replace

import numpy as np
import pytest

from scripted_firmware import Scripted, sender
from s2sim.energy import energy_breakdown_j
from s2sim.sim import Simulation

TICK_NS = 1000.0


def timer_only(timer, tick_ns=TICK_NS, **callbacks):
    return Scripted(start=lambda c: c.set_timer(tick_ns), timer=timer, **callbacks)


def test_of_two_tasks_waiting_at_once_the_lower_priority_number_runs_first(make_sim):
    # The tick's callback queues a priority-3 task, then a priority-1 task; both wait for it to end.
    order = []

    def timer(core, tick):
        if tick == 0:
            core.charge_cycles("work", 10)
            core.schedule(lambda c, a: order.append(("prio3", c.now)), None, 3)
            core.schedule(lambda c, a: order.append(("prio1", c.now)) or c.charge_cycles("task", 5), None, 1)

    sim = make_sim()
    sim.load(0, timer_only(timer))
    sim.run_ticks(1)
    assert order == [("prio1", 100.0), ("prio3", 150.0)]


@pytest.mark.parametrize("kernel", ["exact", "fast"])
def test_a_handler_booked_just_before_a_tick_steals_its_whole_overlap_from_that_tick_s_callback(make_sim, kernel):
    # Tick 0 works 1 cycle, then reads 800 B: request at 10 + 40 + 100 = 150 ns, done at 950 ns.
    # The DMA-done handler (100 cycles) runs 950..1950 ns. Tick 1 fires at 1000 ns: its 50-cycle
    # callback (500 ns) is pre-empted from 1000 to 1950 and ends at 2450 ns: time_done 1450 ns.
    sim = make_sim(kernel=kernel)
    sim.store_dram("x", np.zeros(200, np.float32))
    dst = np.zeros(200, np.float32)

    def timer(core, tick):
        if tick == 0:
            core.charge_cycles("work", 1)
            core.dma_read(1, "x", 0, 200, dst)
        else:
            core.charge_cycles("work", 50)

    fw = timer_only(timer, dma=lambda c, tag: c.charge_cycles("handler", 100))
    sim.load(0, fw)
    sim.run_ticks(3)  # tick 2 (2000 ns) fires while tick 1's callback runs: it waits until 2450 ns
    assert [t for what, _, t in fw.log if what == "dma"] == [950.0]
    assert sim.chip.stats.time_done_ns[1][0] == 1450.0
    assert [t for what, tick, t in fw.log if what == "timer"] == [0.0, 1000.0, 2450.0]


def arrivals(fw):
    return [t for what, _key, t in fw.log if what == "packet"]


def test_a_burst_of_three_holds_the_shared_link_for_three_packets(make_sim):
    # PE 1 sends 3 packets to PE 4 at 0 ns: the link east of QPE 0 is busy 10..40 ns. PE 0's packet to
    # PE 5 (sent at 10 ns, at the router at 20 ns) waits for it: link 40..50, QPE 1 at 90 ns, ejected
    # 90..100, received at 110 ns. (Were the burst to hold the link for one packet: 90 ns.)
    for fidelity in ("burst", "packet"):
        sim = make_sim(fidelity)
        sim.chip.noc.add_multicast(key=0x100, mask=0xFFFFFF00, src_pe=1, dest_pes=[4])
        sim.chip.noc.add_multicast(key=0x200, mask=0xFFFFFF00, src_pe=0, dest_pes=[5])
        fws = {0: sender(0x200, 1), 1: sender(0x100, 0, n_packets=3), 4: Scripted(), 5: Scripted()}
        for pe, fw in fws.items():
            sim.load(pe, fw)
        sim.run_ticks(1)
        assert arrivals(fws[4]) == [80.0, 90.0, 100.0], fidelity
        assert arrivals(fws[5]) == [110.0], fidelity


def test_the_injection_port_is_booked_from_when_it_is_free_not_from_the_send_time(make_sim):
    # PE 0 sends 3 packets to PE 4 at 0 ns (its injection port is busy 0..30 ns), works 1 cycle and sends
    # one packet to PE 2 on its own router at 10 ns: it leaves at 30 ns, reaches the router at 40 ns and
    # PE 2 at 60 ns (injected at its send time it would arrive at 40 ns).
    def timer(core, tick):
        if tick == 0:
            for i in range(3):
                core.send_mc(0x100 + i)
            core.charge_cycles("work", 1)
            core.send_mc(0x200)

    for fidelity in ("burst", "packet"):
        sim = make_sim(fidelity)
        sim.chip.noc.add_multicast(key=0x100, mask=0xFFFFFF00, src_pe=0, dest_pes=[4])
        sim.chip.noc.add_multicast(key=0x200, mask=0xFFFFFF00, src_pe=0, dest_pes=[2])
        fws = {0: timer_only(timer, tick_ns=100_000.0), 2: Scripted(), 4: Scripted()}
        for pe, fw in fws.items():
            sim.load(pe, fw)
        sim.run_ticks(1)
        assert arrivals(fws[2]) == [60.0], fidelity


def test_a_dma_queue_of_two_takes_two_requests_behind_the_one_in_flight_and_refuses_the_next(hw):
    # spin1_api: a software queue of DMA_QUEUE_SIZE requests in front of the DMA controller.
    sim = Simulation(replace(hw, dma_queue_size=2))
    sim.store_dram("x", np.zeros(4, np.float32))
    dst = np.zeros(4, np.float32)
    accepted = []
    fw = timer_only(lambda c, t: accepted.extend(c.dma_read(i, "x", 0, 4, dst) for i in range(4)) if t == 0
                    else None)
    sim.load(0, fw)
    sim.run_ticks(1)
    assert accepted == [True, True, True, False]
    assert sim.machine.counters.dma_queue_full[0] == 1 and sim.machine.counters.dma_transfers[0] == 3
    # the refused request moved no bytes: DRAM and the PE count the 3 transfers of 16 B only
    assert sim.machine.counters.dram_bytes_read == sim.machine.counters.dma_bytes[0] == 3 * 16
    assert len([1 for what, *_ in fw.log if what == "dma"]) == 3


def test_dram_energy_counts_written_bytes_as_well_as_read_ones(make_sim):
    sim = make_sim()
    sim.store_dram("x", np.zeros(256, np.float32))
    src = np.ones(256, np.float32)
    sim.load(0, timer_only(lambda c, t: c.dma_write(1, src, "x", 0, 256) if t == 0 else None))
    sim.run_ticks(1)
    assert (sim.machine.counters.dram_bytes_read, sim.machine.counters.dram_bytes_written) == (0, 1024)
    per_byte_j = sim.hw.dram_energy_per_byte_pj * 1e-12
    assert energy_breakdown_j(sim.machine, sim.env.now)["dram"] == 1024 * per_byte_j > 0


@pytest.mark.parametrize("kernel", ["exact", "fast"])
def test_a_dma_queued_behind_another_starts_no_earlier_than_its_own_issue(make_sim, kernel):
    # Tick 0 reads 800 B (issued at 40 ns: request at 140 ns, done at 940 ns), works 1,000 cycles, then
    # reads 8 B: issued at 40 + 10,000 + 40 = 10,080 ns, at DRAM at 10,180 ns, done at 10,188 ns.
    # (Were the second to start when the first ends, it would land at 1,048 ns, before it was issued.)
    sim = make_sim(kernel=kernel)
    sim.store_dram("x", np.zeros(200, np.float32))
    dst = np.zeros(200, np.float32)

    def timer(core, tick):
        if tick == 0:
            core.dma_read(1, "x", 0, 200, dst)
            core.charge_cycles("work", 1000)
            core.dma_read(2, "x", 0, 2, dst)

    fw = timer_only(timer, tick_ns=100_000.0)
    sim.load(0, fw)
    sim.run_ticks(1)
    assert [(tag, t) for what, tag, t in fw.log if what == "dma"] == [(1, 940.0), (2, 10_188.0)]


@pytest.mark.parametrize("kernel", ["exact", "fast"])
def test_a_user_event_triggered_inside_a_callback_keeps_that_callback_s_accounting(make_sim, kernel):
    # The tick's callback works 10 cycles, triggers a user event at 100 ns, then works 1,000 cycles.
    # The user handler (500 cycles) pre-empts it 100..5,100 ns, so the callback ends at
    # 10,100 + 5,000 = 15,100 ns; the core was busy 10 + 1,000 + 500 = 1,510 cycles.
    sim = make_sim(kernel=kernel)

    def timer(core, tick):
        core.charge_cycles("work", 10)
        core.trigger_user_event(7)
        core.charge_cycles("work", 1000)

    fw = timer_only(timer, tick_ns=100_000.0, user=lambda c, arg: c.charge_cycles("user", 500))
    sim.load(0, fw)
    sim.run_ticks(1)
    pe = sim.chip.pes[0]
    assert [e for e in fw.log if e[0] == "user"] == [("user", 7, 100.0)]
    assert sim.chip.stats.time_done_ns[0][0] == 15_100.0
    assert pe.active_cycles == 1510
    sim.chip.flush_stats()
    assert pe.phase_cycles_total == {"work": 1010, "user": 500, "irq": 0}  # (no irq cost here)


@pytest.mark.parametrize("kernel", ["exact", "fast"])
def test_the_lag_of_an_overrunning_tick_runs_to_the_end_of_its_own_late_callback(make_sim, kernel):
    # 150 cycles (1.5 us) of work per 1 us tick: tick k's callback runs 1.5k .. 1.5(k + 1) us, so its
    # lag, from its start at k us, is 1.5 + 0.5k us and grows every tick (3.5 us at tick 4, not the
    # bounded 2.5 us of a callback booked to the tick current when it starts). The run stops one tick
    # after the last (8 us): ticks 0-4 finished, tick 5 was running, ticks 6 and 7 never ran.
    sim = make_sim(kernel=kernel)
    sim.load(0, timer_only(lambda c, t: c.charge_cycles("work", 150)))
    sim.run_ticks(8)
    lag = sim.chip.stats.time_done_ns[:5, 0]
    assert lag.tolist() == [1500.0 + 500.0 * k for k in range(5)]


@pytest.mark.parametrize("kernel", ["exact", "fast"])
def test_work_still_queued_or_running_when_the_run_stops_is_counted_and_its_cycles_are_busy_cycles(
        make_sim, kernel):
    # The overrunning PE above: the run stops at 8 us with tick 5's callback running (7.5..9 us) and the
    # callbacks of ticks 6 and 7 queued. They are counted, and tick 5's 150 charged cycles are busy
    # cycles as well as phase cycles (busy = sum of phases, so phase energy never exceeds active energy).
    from s2sim.profile.summary import diagnostics_section
    sim = make_sim(kernel=kernel)
    sim.load(0, timer_only(lambda c, t: c.charge_cycles("work", 150)))
    sim.run_ticks(8)
    pe = sim.chip.pes[0]
    assert pe.work_left(sim.env.now) == {"timer_ticks": 3, "tasks": 3, "handlers": 0, "dma_requests": 0}
    assert diagnostics_section(sim)["work_left_at_end"]["timer_ticks"] == 3
    assert pe.active_cycles == sum(pe.phase_cycles_total.values()) == 6 * 150


def test_a_tick_whose_callback_was_dropped_has_no_lag_and_the_latency_reports_the_ticks_that_ran(hw):
    # 1.5 us of work per 1 us tick with a queue of one task: the work falls behind, later ticks find
    # the queue full and are dropped (spin1_schedule_callback fails). Their time_done stays 0; the
    # latency section leaves them out (counted as not run) instead of reporting a median of 0.
    from s2sim.profile.summary import latency_section
    sim = Simulation(replace(hw, task_queue_size=1))
    sim.load(0, timer_only(lambda c, t: c.charge_cycles("work", 150)))
    sim.run_ticks(20)
    pe, stats = sim.chip.pes[0], sim.chip.stats
    dropped = {row for row, p in stats.not_run if p == 0}
    unfinished = set(pe.ticks_not_finished())
    assert len(dropped) == sim.machine.counters.task_queue_full[0] > 0
    ran = [r for r in range(20) if r not in dropped | unfinished]
    lags = stats.time_done_ns[ran, 0]
    assert (lags > 0).all() and (stats.time_done_ns[sorted(dropped), 0] == 0).all()
    lat = latency_section(sim, TICK_NS)
    assert lat["timesteps_not_run"] == 20 - len(ran)
    assert lat["timestep_ns"]["median"] == float(np.median(lags)) > TICK_NS
    assert lat["timestep_ns"]["min"] == lags.min() and lat["timestep_ns"]["max"] == lags.max()


@pytest.mark.parametrize("kernel", ["exact", "fast"])
def test_a_dvfs_switch_inside_a_body_keeps_the_time_its_earlier_cycles_took(kernel):
    # 100 cycles at 100 MHz (1,000 ns), a switch to 200 MHz (stall 100 ns, charged at the old clock),
    # then 100 cycles at 200 MHz (500 ns): the callback ends at 1,600 ns, and the send after the
    # switch happens at 1,600 ns. (Rescaling all 210 cycles by the new clock would give 1,050 ns.)
    from s2sim.hw.params import HwParams, PerfLevel
    hw = HwParams.from_arch(
        "spinnaker2", perf_levels=(PerfLevel("slow", 100.0, 0.8, 10.0, 1.0), PerfLevel("fast", 200.0, 0.9, 20.0, 2.0)),
        default_perf_level="slow", irq_entry_cycles=0, irq_exit_cycles=0, send_packet_cycles=0, pl_switch_ns=100.0)
    sim = Simulation(hw, kernel=kernel)
    times = []

    def timer(core, tick):
        core.charge_cycles("work", 100)
        core.set_performance_level("fast")
        core.charge_cycles("work", 100)
        times.append(core.now)

    sim.load(0, timer_only(timer, tick_ns=100_000.0))
    sim.run_ticks(1)
    assert times == [1600.0]
    assert sim.chip.stats.time_done_ns[0][0] == 1600.0


def test_a_late_callback_s_lag_runs_from_when_its_tick_fired_even_if_the_timer_was_re_armed_late(make_sim):
    # The first run drains 2,500 ns past tick 0, so tick 1 (due at 1,000 ns) fires at 2,500 ns, as
    # does tick 2 (due at 2,000 ns). Tick 1's 150 cycles run 2,500..4,000 ns, ending after tick 2
    # fired: its lag is 1,500 ns from its own start, not 3,000 ns from when it was due.
    sim = make_sim()
    sim.load(0, timer_only(lambda c, t: c.charge_cycles("work", 150)))
    sim.chip.run_ticks(1, drain_ns=2500.0)
    sim.chip.run_ticks(2, drain_ns=10_000.0)
    assert sim.chip.stats.time_done_ns[1][0] == 1500.0
