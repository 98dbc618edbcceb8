"""spin1_api dispatcher semantics: timer overruns, pre-emptive packet handlers, queue limits."""
import numpy as np
import pytest

from scripted_firmware import Scripted


def overruns(make_sim, n_ticks, timer, tick_ns=1000.0, **callbacks):
    sim = make_sim()
    sim.load(0, Scripted(start=lambda c: c.set_timer(tick_ns), timer=timer, **callbacks))
    sim.run_ticks(n_ticks)
    return sim.machine.counters.timer_overruns[0]


def test_every_tick_after_the_first_overruns_when_the_callback_outlasts_the_tick(make_sim):
    # 150 cycles x 10 ns = 1.5 us of work per 1 us tick: the work falls further behind every tick,
    # so when each later tick fires the previous one's callback is still queued or running.
    work = lambda c, t: c.charge_cycles("work", 150)  # noqa: E731
    assert overruns(make_sim, 4, work) == 3
    assert overruns(make_sim, 10, work) == 9


def test_a_callback_that_fits_its_tick_never_overruns_even_ending_as_the_next_fires(make_sim):
    assert overruns(make_sim, 4, lambda c, t: c.charge_cycles("work", 50)) == 0
    assert overruns(make_sim, 4, lambda c, t: c.charge_cycles("work", 100)) == 0  # ends at 1 us exactly


def test_a_task_the_tick_schedules_is_part_of_its_work(make_sim):
    # 50-cycle callback + a scheduled 100-cycle task = 1.5 us of work per 1 us tick.
    def timer(core, tick):
        core.charge_cycles("work", 50)
        core.schedule(lambda c, a: c.charge_cycles("task", 100), None, 1)
    assert overruns(make_sim, 4, timer) == 3
    assert overruns(make_sim, 10, timer) == 9


def test_a_task_a_handler_schedules_is_part_of_the_tick_s_work(make_sim):
    # Tick 0 starts a DMA that lands at 1140 ns; its handler (20 cycles) schedules a 300-cycle task
    # that runs 1340..4340 ns. Ticks 1 (2 us) and 2 (4 us) fire while it runs; tick 3 (6 us) does not.
    sim = make_sim()
    sim.store_dram("x", np.zeros(250, dtype=np.float32))
    dst = np.zeros(250, np.float32)

    def dma_done(core, tag):
        core.charge_cycles("handler", 20)
        core.schedule(lambda c, a: c.charge_cycles("task", 300), None, 1)

    sim.load(0, Scripted(start=lambda c: c.set_timer(2000.0),
                         timer=lambda c, t: c.dma_read(1, "x", 0, 250, dst) if t == 0 else None,
                         dma=dma_done))
    sim.run_ticks(4)
    assert sim.machine.counters.timer_overruns[0] == 2


def test_packet_handler_delays_running_callback_by_exactly_its_cycles(make_sim):
    # Receiver's tick callback: 500 cycles (5 us). A packet arrives mid-way; its handler costs 30 cycles.
    def run(with_packet):
        sim = make_sim("packet")
        sim.chip.noc.add_multicast(key=0x100, mask=0xFFFFFF00, src_pe=0, dest_pes=[4])
        tx = Scripted(start=lambda c: c.set_timer(10_000.0),
                      timer=lambda c, t: c.send_mc(0x100) if with_packet and t == 0 else None)
        rx = Scripted(start=lambda c: c.set_timer(10_000.0),
                      timer=lambda c, t: c.charge_cycles("work", 500),
                      packet=lambda c, k, p: c.charge_cycles("synapses", 30))
        sim.load(0, tx), sim.load(4, rx)
        sim.run_ticks(1)
        return sim.chip.stats.time_done_ns[0, 4]
    assert run(False) == 5000.0
    assert run(True) == 5000.0 + 30 * 10.0


def test_task_queue_overflow_is_counted(make_sim, hw):
    def flood(core, tick):
        for _ in range(hw.task_queue_size + 5):
            core.schedule(lambda c, a: c.charge_cycles("x", 1), None, 1)
    sim = make_sim()
    sim.load(0, Scripted(start=lambda c: c.set_timer(1000.0), timer=flood))
    sim.run_ticks(1)
    assert sim.machine.counters.task_queue_full[0] == 5


def test_core_sleeps_when_idle_so_busy_cycles_are_only_work(make_sim):
    sim = make_sim()
    sim.load(0, Scripted(start=lambda c: c.set_timer(1000.0), timer=lambda c, t: c.charge_cycles("w", 7)))
    sim.run_ticks(3)
    pe = sim.chip.pes[0]
    assert pe.active_cycles == 21
    assert list(sim.chip.stats.time_done_ns[:3, 0]) == [70.0, 70.0, 70.0]


def test_task_scheduled_by_a_handler_on_an_idle_core_starts_when_the_handler_returns(make_sim):
    # Tick 0 starts a DMA and returns. Its DMA-done handler (20 cycles, 200 ns) schedules a
    # 300-cycle task. As after spin1_schedule_callback in an ISR, the task runs once the handler
    # has returned, and each is booked once: 20 + 300 cycles of work, not the task twice.
    log = []
    sim = make_sim()
    sim.store_dram("x", np.zeros(250, dtype=np.float32))
    dst = np.zeros(250, np.float32)

    def task(core, arg):
        log.append(("task", core.now))
        core.charge_cycles("task", 300)

    def dma_done(core, tag):
        log.append(("dma handler", core.now))
        core.charge_cycles("handler", 20)
        core.schedule(task, None, 1)

    fw = Scripted(start=lambda c: c.set_timer(100_000.0),
                  timer=lambda c, t: c.dma_read(1, "x", 0, 250, dst), dma=dma_done)
    sim.load(0, fw)
    sim.run_ticks(1)
    # issue 4 cycles (40 ns) + setup 100 ns + 1000 B at 1 B/ns = 1140 ns; handler ends at 1340 ns
    assert log == [("dma handler", 1140.0), ("task", 1340.0)]
    pe = sim.chip.pes[0]
    assert pe.phase_cycles_total == {"dma_setup": 4, "handler": 20, "irq": 0, "task": 300}
    assert pe.active_cycles == 324
    assert sim.chip.stats.time_done_ns[0, 0] == 1340.0 + 3000.0


@pytest.mark.parametrize("kernel", ["exact", "fast"])
@pytest.mark.parametrize("timer_body_cycles", [0, 1])
def test_a_handler_still_running_when_ticks_fire_overruns_each_of_them_whatever_the_timer_body_costs(
        make_sim, kernel, timer_body_cycles):
    # Tick 0 reads 8 B (issued at 40 ns, at DRAM at 140 ns, done at 148 ns); the DMA-done handler works
    # 1,000 cycles: 148..10,148 ns. Ticks 1..10 (1..10 us) fire while it runs: 10 overruns, whether the
    # timer body is free (nothing of its own outstanding) or costs a cycle. Tick 11 (11 us) does not.
    sim = make_sim(kernel=kernel)
    sim.store_dram("x", np.zeros(2, np.float32))
    dst = np.zeros(2, np.float32)

    def timer(core, tick):
        if tick == 0:
            core.dma_read(1, "x", 0, 2, dst)
        elif timer_body_cycles:
            core.charge_cycles("work", timer_body_cycles)

    sim.load(0, Scripted(start=lambda c: c.set_timer(1000.0), timer=timer,
                         dma=lambda c, tag: c.charge_cycles("handler", 1000)))
    sim.run_ticks(12)
    assert sim.machine.counters.timer_overruns[0] == 10
