"""Processing element: one Cortex-M4F with spin1_api event semantics, assembled from small parts.

Where each rule lives:
* the callback body running in Python and what it charged: ``context.ExecutionContext``;
* pre-emption (pre-emptive work steals time from the running callback): ``preemption.Preemption``;
* queueable callbacks (queues, start, end, timer overruns): ``dispatcher.Dispatcher``;
* the timestep row being accumulated: ``rows.RowAccumulator``;
* the TX queue's back-pressure and the accelerators' costs: ``tx.TxQueue``, ``accelerators``;
* send loops grouped into bursts: ``bursts.SendLoops``.

This class ties them together: it runs bodies, books finished callbacks, fires the timer, hands
arriving packets to the packet path chosen at load, and keeps the performance level.

* Callbacks with priority <= 0 (packet received, by default DMA done and user events) pre-empt: they
  run at once (after any pre-emptive work already under way) and their time is *stolen* from the
  queueable callback that is running, which ends that much later.
* Callbacks with priority >= 1 (the timer tick by default) wait in the dispatcher's queues.
* With nothing to do the core sleeps; sleep time is billed at the level's sleep power.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from . import accelerators
from .context import ExecutionContext
from .kernel_cycles import KernelCycles
from .dispatcher import DMA, PACKET, TASK, TIMER, USER, Dispatcher, Task
from .params import HwParams
from .preemption import Preemption
from .rows import RowAccumulator
from .bursts import SendLoops
from .sram import Sram
from .timing_state import PeTimingState
from .tx import TxQueue

__all__ = ["PE", "PacketHooks", "Task", "TIMER", "PACKET", "DMA", "USER", "TASK"]


@dataclass(frozen=True)
class PacketHooks:
    """Which optional packet hooks a firmware declares (``runtime.api.Firmware``), read once at load.

    ``burst``: ``on_packet_burst(core, keys, payloads)``, one call per burst for one core.
    ``many``: ``on_packet_burst_many(firmwares, cores, keys, payloads)``, one call for several cores
    of this program that get the same burst, charging each core.
    ``group``: ``on_packet_burst_group(firmwares, cores, keys, payloads) -> (phase, cycles) | None``,
    the numerics of several cores at once and the cycles each core's handler charges.
    """
    burst: bool = False
    many: bool = False
    group: bool = False


class PE:
    def __init__(self, env, pe_id: int, p: HwParams, chip):
        self.env, self.id, self.p, self.chip = env, pe_id, p, chip
        self.counters = chip.counters  # the machine's record: this PE writes its own entries
        self.sram = Sram(pe_id, p.sram_bytes)
        self.level = p.perf_level(chip.perf_level_name)
        self.ns_per_cycle = self.level.ns_per_cycle
        self.firmware = None
        self.core = None  # the runtime facade, set at load
        self.hooks = PacketHooks()
        self.irq_cycles = p.irq_entry_cycles + p.irq_exit_cycles  # entry + exit of every handler
        self.ctx = ExecutionContext(self.ns_per_cycle)
        self.ctx.bracket_delta = self.counters.bracket_delta[pe_id]  # books into the machine's record
        self.body_depth = 0  # bodies running in Python now (> 1: one runs inside another)
        self.body_elapsed_ns = 0.0  # the duration of the body that returned last (``execute``)
        self.cause = -1  # the tick whose work the running body is (what it schedules or issues inherits it)
        self.dispatcher = Dispatcher(self, p.task_queue_count, p.task_queue_size)
        self.preemption = Preemption(self.dispatcher)
        self.rows = RowAccumulator(pe_id, chip.stats, self.level)
        self.tx = TxQueue(p.tx_queue_size, chip.noc.ser_ns, self.counters.tx_queue_full, pe_id)
        self.sends = SendLoops()
        # timer
        self.tick = -1
        self.tick_start_ns = 0.0
        # busy cycles per performance level (this PE's entry of ``counters.cycles_by_level``): a
        # callback's cycles count at the level it started at (its duration was computed at that level's clock)
        self.cycles_by_level: dict[str, float] = self.counters.cycles_by_level[pe_id]
        self.level_since_ns = 0.0
        self.time_by_level: dict[str, float] = {}
        # the packet path (chosen at load and when the packet priority changes)
        self.receive_packets: Callable[[list, list, float, float], None] = self._drop_packets
        self.burst_group: type | None = None  # firmware class whose group hook takes this PE's bursts
        self.burst_many: type | None = None  # firmware class whose many-cores hook takes them

    # ---- loading -------------------------------------------------------------------------------
    def load(self, firmware, core, hooks: PacketHooks) -> None:
        """Place ``firmware`` here with its facade ``core``; run its ``on_start`` (booked in row -1)."""
        self.core, self.firmware, self.hooks = core, firmware, hooks
        self._choose_packet_path()
        now = self.env.now
        cycles, phases = self.execute("start", firmware.on_start, (), now)
        self.account(now, now + cycles * self.ns_per_cycle, cycles, phases, -1, "start", self.ctx.merged)

    def set_priority(self, kind: str, priority: int) -> None:
        """spin1_callback_on: < 0 FIQ-like, 0 non-queueable, > 0 queueable."""
        self.dispatcher.priorities[kind] = priority
        if kind == PACKET:
            self._choose_packet_path()

    def _choose_packet_path(self) -> None:
        """How arriving bursts reach the firmware, from its declared hooks and the packet priority."""
        fw, hooks = self.firmware, self.hooks
        preemptive = self.dispatcher.priorities[PACKET] <= 0
        if fw is None:
            self.receive_packets = self._drop_packets
        elif not preemptive:
            self.receive_packets = self._queue_packets
        elif hooks.burst:
            self.receive_packets = self._run_burst_handler
        else:
            self.receive_packets = self._run_packet_handlers
        self.burst_group = type(fw) if fw is not None and preemptive and hooks.group else None
        self.burst_many = type(fw) if fw is not None and preemptive and hooks.many else None

    # ---- running bodies and booking them -------------------------------------------------------
    def end_body(self) -> None:
        """A body returned: count the callback, hand its send loops to the NoC."""
        self.counters.callbacks[self.id] += 1
        if self.sends.pending:
            self.chip.flush_bursts(self)

    def execute(self, kind: str, fn: Callable, args: tuple, start_ns: float,
                cause: int | None = None) -> tuple[float, dict]:
        """Run a callback body starting at ``start_ns``; returns its cycles and phase cycles.

        Without a trace recorder nobody needs one callback's phases on their own, so they are added
        straight into the timestep being accumulated (the callback's tick: a body runs at one instant).
        """
        rows, tick, level, ctx = self.rows, self.tick, self.level, self.ctx
        outer = (ctx.save(), self.cause) if self.body_depth else None  # a body running this one
        self.body_depth += 1
        self.cause = tick if cause is None else cause
        if tick != rows.row or level is not rows.level:  # a new tick, or a level switch: a new row
            rows.switch(tick, level)
        if self.chip.recorder is None:
            ctx.open(kind, start_ns, rows.phases, True)
        else:
            ctx.open(kind, start_ns, {}, False)
        fn(self.core, *args)
        self.end_body()
        self.body_depth -= 1
        cycles, phases = ctx.cycles, ctx.phases
        self.body_elapsed_ns = ctx.elapsed_ns
        if outer is not None:
            ctx.restore(outer[0])
            self.cause = outer[1]
        return cycles, phases

    def account(self, start_ns: float, end_ns: float, cycles: float, phases: dict, row: int,
                kind: str, merged: bool, level=None, cause: int | None = None,
                busy_counted: bool = False) -> None:
        """Book a finished callback: busy cycles at the level it ran at (default: the current one),
        its phases in the row it started in, and its end as the lag of the tick that caused it.

        ``merged``: its phases already went into that row (``open_context``); ``busy_counted``: its busy
        cycles were counted when its body ran (``count_busy``). ``cause``: the tick whose
        work it was (default ``row``); a callback that ran late (``cause`` < ``row``) ends that tick's
        lag, not the lag of the tick current when it started (the lag rule, docs/simulation-model.md).
        """
        level = level or self.level
        if not busy_counted:
            self.count_busy(cycles, level)
        late = cause is not None and 0 <= cause < row
        lag_row = cause if late else row
        done = end_ns - (self.tick_start_ns if lag_row == self.tick else self.chip.tick_time(self, lag_row))
        stats = self.chip.stats
        if late:
            stats.lag(lag_row, self.id, done)
        rows = self.rows
        if row != rows.row or level is not rows.level:
            # a callback of an earlier timestep ended late, or the level changed while it ran: write it
            # directly (merged: its phases are already in the record it started in)
            if row < rows.row or (row == rows.row and level is not rows.level):
                stats.work(row, self.id, 0.0 if late else done, None if merged else phases, level.name)
                self._record(kind, phases, start_ns, end_ns, cycles)
                return
            rows.switch(row, level)
        if not merged:
            rows.add_phases(phases)
        if not late and done > rows.done_ns:
            rows.done_ns = done
        if self.chip.recorder is not None:
            self._record(kind, phases, start_ns, end_ns, cycles)

    def count_busy(self, cycles: float, level) -> None:
        """Busy cycles at ``level``. A queueable callback's count when its body runs (its phases are
        charged then too), so work still running when a run stops is in both the phases and the
        busy cycles: busy cycles = the sum of phase cycles, always."""
        by_level = self.cycles_by_level
        by_level[level.name] = by_level.get(level.name, 0.0) + cycles

    def work_left(self, now_ns: float) -> dict[str, int]:
        """Work queued or running at ``now_ns`` (when a run stops): timer ticks whose callback has not
        finished (queued or running), queueable tasks of any kind, pre-emptive handlers still running,
        DMA requests queued or in flight."""
        dispatcher, running = self.dispatcher, self.dispatcher.running
        timer_ticks = sum(task.kind == TIMER for q in dispatcher.queues for task in q)
        timer_ticks += running is not None and running.task.kind == TIMER
        engine = self.chip.dmas[self.id]
        return {"timer_ticks": int(timer_ticks), "tasks": int(dispatcher.tasks_outstanding),
                "handlers": int(self.preemption.free_ns > now_ns),
                "dma_requests": len(engine.queue) + int(engine.busy)}

    def ticks_not_finished(self) -> list[int]:
        """Ticks whose timer callback is queued or running (when a run stops: they have no lag)."""
        dispatcher, running = self.dispatcher, self.dispatcher.running
        ticks = [task.cause for q in dispatcher.queues for task in q if task.kind == TIMER]
        if running is not None and running.task.kind == TIMER:
            ticks.append(running.task.cause)
        return ticks

    def _record(self, kind, phases, start_ns, end_ns, cycles) -> None:
        rec = self.chip.recorder
        if rec is not None:
            rec.callback(self.id, kind, phases, start_ns, end_ns, cycles)

    # ---- what the runtime facade uses ----------------------------------------------------------
    # (a body's cost declarations and its ``now_ns`` go straight to ``self.ctx``)

    def send(self, route, key: int, payload: Any) -> None:
        """Send one packet from the running body: its cost, TX back-pressure, then the NoC."""
        ctx = self.ctx
        ctx.add_cycles("comms", self.p.send_packet_cycles)
        t = self.tx.admit(ctx)
        self.chip.send(self, route, key, payload, t)

    def exp_accelerator(self, phase: str, n: int) -> None:
        """``n`` exponentials on the exp/log accelerator."""
        self.counters.exp_ops[self.id] += n
        self.ctx.add_cycles(phase, accelerators.exp_cycles(self.p, n))

    def mac_array(self, phase: str, n_macs: int) -> None:
        """A MAC-array job of ``n_macs`` 8-bit MACs."""
        self.counters.mac_ops[self.id] += n_macs
        self.ctx.add_cycles(phase, accelerators.mac_array_cycles(self.p, n_macs))

    def dma(self, direction: str, tag: int, buffer: str, start: int, count: int, sram_array) -> bool:
        """Queue a DMA between DRAM ``buffer`` and ``sram_array`` (``direction`` "read" = into SRAM)."""
        engine = self.chip.dmas[self.id]
        request = engine.request(direction, tag, buffer, start, count, sram_array)
        self.ctx.add_cycles("dma_setup", self.p.dma_issue_cycles)  # register writes to queue it
        request.issue_ns = self.ctx.now_ns
        request.cause = self.cause
        accepted = engine.submit(request, request.issue_ns)
        if accepted:  # a refused request (full queue) moves no bytes
            self.counters.dma_bytes[self.id] += request.nbytes
        return accepted

    def schedule(self, fn: Callable, arg: Any, priority: int) -> bool:
        """spin1_schedule_callback: queue ``fn(core, arg)``; False (counted) if the queue is full."""
        return self.dispatcher.enqueue(Task(TASK, fn, (arg,), max(1, int(priority)), self.cause))

    def switch_level_from_body(self, name: str) -> None:
        """The running body switches DVFS level: the switch stalls the core for the switch time."""
        if name != self.level.name:
            self.ctx.add_cycles("dvfs", self.p.pl_switch_ns / self.ns_per_cycle)
            self.set_level(name)

    # ---- events ----------------------------------------------------------------------------------
    def raise_event(self, kind: str, fn: Callable, args: tuple = (), at_ns: float | None = None,
                    cause: int | None = None) -> None:
        """An event for ``fn``: run it pre-emptively or queue it. ``cause``: the tick whose work raised
        it (None: the running body's, or the current tick)."""
        if cause is None:
            cause = self.cause if self.body_depth else self.tick
        prio = self.dispatcher.priorities.get(kind, 1)
        if prio <= 0:
            self.run_preemptive(kind, fn, args, self.env.now if at_ns is None else at_ns, cause)
        else:
            self.dispatcher.enqueue(Task(kind, fn, args, prio, cause))

    def run_preemptive(self, kind: str, fn: Callable, args: tuple, arrival_ns: float,
                       cause: int | None = None) -> None:
        start = self.preemption.start_at(arrival_ns)
        row = self.tick
        dispatcher = self.dispatcher
        was_in_preempt, dispatcher.in_preempt = dispatcher.in_preempt, True
        cycles, phases = self.execute(kind, fn, args, start, cause)
        dispatcher.in_preempt = was_in_preempt
        overhead = self.irq_cycles
        phases["irq"] = phases.get("irq", 0.0) + overhead
        s, e = self.preemption.book(arrival_ns, cycles + overhead, self.ns_per_cycle)
        self.account(s, e, cycles + overhead, phases, row, kind, self.ctx.merged, None, cause)
        self._dispatch_after_preempt(e)

    def _dispatch_after_preempt(self, end_ns: float) -> None:
        """A pre-emptive handler that found the core idle queued work: it starts when the handler ends.

        (spin1_schedule_callback from an ISR: the dispatcher picks the task up once the ISR returns.)
        """
        dispatcher = self.dispatcher
        if dispatcher.running is None and any(dispatcher.queues):
            self.chip.schedule_dispatch(self.id, end_ns)

    # ---- packets -----------------------------------------------------------------------------------
    def accept_packets(self, n: int) -> None:
        """Count ``n`` packets arriving at a loaded PE."""
        self.counters.packets_received[self.id] += n
        self.rows.count_in(self.tick, self.level, n)

    def _drop_packets(self, keys: list, payloads: list, first_ns: float, last_ns: float) -> None:
        """No program is loaded here: the packets are dropped."""
        self.counters.dropped_packets += len(keys)

    def _queue_packets(self, keys: list, payloads: list, first_ns: float, last_ns: float) -> None:
        """A firmware that made packet handling queueable: one task per packet."""
        self.accept_packets(len(keys))
        on_packet, prio, enqueue = self.firmware.on_packet, self.dispatcher.priorities[PACKET], self.dispatcher.enqueue
        for k, pl in zip(keys, payloads):
            enqueue(Task(PACKET, on_packet, (k, pl), prio))

    def _run_packet_handlers(self, keys: list, payloads: list, first_ns: float, last_ns: float) -> None:
        """One pre-emptive ``on_packet`` per packet, each at its arrival (evenly spread)."""
        n = len(keys)
        self.accept_packets(n)
        on_packet = self.firmware.on_packet
        step = (last_ns - first_ns) / (n - 1) if n > 1 else 0.0
        for i in range(n):
            self.run_preemptive(PACKET, on_packet, (keys[i], payloads[i]), first_ns + i * step)

    def _run_burst_handler(self, keys: list, payloads: list, first_ns: float, last_ns: float) -> None:
        """The firmware's ``on_packet_burst`` handles the whole burst in one body."""
        n = len(keys)
        row = self.tick
        start = self.begin_burst(first_ns, n)
        self.firmware.on_packet_burst(self.core, keys, payloads)
        self.finish_burst(start, first_ns, last_ns, n, row)

    def begin_burst(self, first_ns: float, n: int) -> float:
        """``n`` packets arrive from ``first_ns``: count them and open the execution context of their
        handler body (which starts after the pre-emptive work already booked); returns its start."""
        self.counters.packets_received[self.id] += n
        phases = self.rows.open_burst(self.tick, self.level, n)
        start = self.preemption.start_at(first_ns)
        if self.chip.recorder is None:
            self.ctx.open(PACKET, start, phases, True)
        else:
            self.ctx.open(PACKET, start, {}, False)
        self.dispatcher.in_preempt = True
        self.body_depth += 1
        self.cause = self.tick
        return start

    def finish_burst(self, start: float, first_ns: float, last_ns: float, n: int, row: int) -> None:
        """The burst's handler body returned: book its ``n`` handlers."""
        self.dispatcher.in_preempt = False
        self.end_body()
        self.body_depth -= 1
        ctx = self.ctx
        self._book_burst_handlers(start, first_ns, last_ns, n, ctx.cycles, ctx.phases, row, ctx.merged)

    def receive_charged(self, phase: str, cycles: float, n: int, first_ns: float, last_ns: float) -> None:
        """A burst whose handler numerics ran for a group of PEs (``on_packet_burst_group``): this PE's
        handler body only charged ``cycles`` to ``phase`` (no trace recorder: straight into the row).
        The same as ``begin_burst`` + that charge + ``finish_burst``, without opening a context."""
        if type(cycles) is KernelCycles:
            cycles = self.ctx.book_bracket(phase, cycles)
        c, i = self.counters, self.id
        c.packets_received[i] += n
        c.callbacks[i] += 1
        phases = self.rows.open_burst(self.tick, self.level, n)
        phases[phase] = phases.get(phase, 0.0) + cycles
        self._book_burst_handlers(None, first_ns, last_ns, n, cycles, phases, self.tick, True)

    def _book_burst_handlers(self, start: float | None, first_ns: float, last_ns: float, n: int,
                             cycles: float, phases: dict, row: int, merged: bool) -> None:
        """Book ``n`` handlers whose bodies charged ``cycles`` in all, each with the interrupt entry and
        exit: back to back, or each at its packet's arrival (``Preemption.book_handlers``; ``start``
        None: the first starts after the handlers already booked)."""
        overhead = self.irq_cycles
        phases["irq"] = phases.get("irq", 0.0) + overhead * n
        dur = (cycles / n + overhead) * self.ns_per_cycle
        start, free = self.preemption.book_handlers(start, first_ns, last_ns, n, dur)
        self.account(start, free, cycles + overhead * n, phases, row, PACKET, merged)
        dispatcher = self.dispatcher
        if dispatcher.running is None and any(dispatcher.queues):  # see _dispatch_after_preempt
            self.chip.schedule_dispatch(self.id, free)

    # ---- timer ----------------------------------------------------------------------------------
    def timer_fire(self, tick: int, now_ns: float) -> None:
        """Tick ``tick`` of this PE's timer at ``now_ns``: choose the level, then the dispatcher counts
        an overrun and runs, starts or queues the timer callback."""
        self.tick = tick
        self.tick_start_ns = now_ns
        policy = self.chip.dvfs_policy
        fw = self.firmware
        if policy is not None and fw is not None:
            self.set_level(policy.choose(self, tick))
        if fw is not None:  # (a PE without a program has no timer callback, and no work to overrun)
            self.dispatcher.timer_tick(fw.on_timer, tick, now_ns)

    @property
    def timer_task_pending(self) -> bool:
        """The previous tick's work is not done (what an overrun is counted on)."""
        return self.dispatcher.tasks_outstanding > 0

    @property
    def tasks_outstanding(self) -> int:
        """Queueable tasks queued or running."""
        return self.dispatcher.tasks_outstanding

    @property
    def is_behind(self) -> bool:
        """Earlier work is still running or queued (the DVFS policy then picks the fastest level)."""
        return self.dispatcher.behind

    # ---- the per-tick row --------------------------------------------------------------------------
    def row_so_far(self, row: int) -> tuple[float, float] | None:
        """(busy cycles, time done in ns) of timestep ``row`` if it is not merged into stats yet."""
        return self.rows.row_so_far(row)

    @property
    def accumulating_row(self) -> int:
        """The timestep being accumulated (-1: none yet)."""
        return self.rows.row

    def count_packets_out(self, n: int) -> None:
        self.rows.count_out(self.tick, self.level, n)

    def flush_row(self) -> None:
        """Merge the accumulated timestep into ``chip.stats`` (at the end of a run)."""
        if self.rows.row >= 0:
            self.rows.flush()

    # ---- totals ----------------------------------------------------------------------------------
    @property
    def active_cycles(self) -> float:
        """Busy cycles over the whole run, at every level."""
        return sum(self.cycles_by_level.values())

    @property
    def active_ns_by_level(self) -> dict[str, float]:
        """Busy time per performance level (cycles x that level's cycle time)."""
        p = self.p
        return {name: cyc * p.perf_level(name).ns_per_cycle for name, cyc in self.cycles_by_level.items()}

    @property
    def phase_cycles_total(self) -> dict[str, float]:
        """Cycles per phase over the whole run, up to the last merged timestep (``chip.flush_stats``)."""
        return self.chip.stats.phase_totals(self.id)

    # ---- DVFS ------------------------------------------------------------------------------------
    def set_level(self, name: str) -> None:
        level = self.p.perf_level(name)
        if level is self.level:
            return
        now = self.env.now
        self.time_by_level[self.level.name] = self.time_by_level.get(self.level.name, 0.0) + now - self.level_since_ns
        self.level_since_ns = now  # the next callback body opens a record at the new level
        self.level = level
        self.ns_per_cycle = level.ns_per_cycle
        self.ctx.set_rate(level.ns_per_cycle)

    def close_levels(self, end_ns: float) -> dict[str, float]:
        """Time spent at each performance level up to ``end_ns``."""
        out = dict(self.time_by_level)
        out[self.level.name] = out.get(self.level.name, 0.0) + max(0.0, end_ns - self.level_since_ns)
        return out

    # ---- timing state ------------------------------------------------------------------------------
    def timing_state(self) -> PeTimingState:
        """Snapshot and restore of everything that decides when this PE's work runs."""
        return PeTimingState(self)
