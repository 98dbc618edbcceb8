"""Processing element: an event dispatcher with spin1_api semantics around one Cortex-M4F.

* Callbacks with priority <= 0 (packet received, by default DMA done and user events) pre-empt: they
  run at once (after any pre-emptive work already under way) and their time is *stolen* from the
  queueable callback that is running, which ends that much later.
* Callbacks with priority >= 1 (the timer tick by default) wait in bounded priority queues and run
  one at a time; a full queue is counted (``task_queue_full``) and the callback is not queued, as
  ``spin1_schedule_callback`` returns FAILURE.
* A timer tick that fires while the previous tick's work is still queued or running is counted as a
  timer overrun; that work is the tick's callback and every queueable task scheduled since (by it,
  by a handler or by another task), i.e. any queueable task not yet finished.
* With nothing to do the core sleeps; sleep time is billed at the level's sleep power.

The Python body of a callback runs when the callback *starts*; it declares its cost through the
runtime, and the dispatcher turns the cycles into the callback's duration at the PE's clock.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable

from .kernel_cycles import KernelCycles
from .params import HwParams
from .sram import Sram

TIMER, PACKET, DMA, USER, TASK = "timer", "packet", "dma", "user", "task"


class _Task:
    __slots__ = ("kind", "fn", "args", "prio")

    def __init__(self, kind: str, fn: Callable, args: tuple, prio: int):
        self.kind, self.fn, self.args, self.prio = kind, fn, args, prio


class PE:
    def __init__(self, env, pe_id: int, p: HwParams, chip):
        self.env, self.id, self.p, self.chip = env, pe_id, p, chip
        self.sram = Sram(pe_id, p.sram_bytes)
        self.level = p.perf_level(chip.perf_level_name)
        self.ns_per_cycle = self.level.ns_per_cycle
        self.firmware = None
        self.core = None  # the runtime facade, set by the runtime
        self.priorities = {TIMER: 2, PACKET: -1, DMA: 0, USER: 0}
        self.irq_cycles = p.irq_entry_cycles + p.irq_exit_cycles  # entry + exit of every handler
        self.queues = [deque() for _ in range(p.task_queue_count)]
        self.running: _Task | None = None
        self.cb_start = self.cb_end = 0.0
        self._cb_row = -1
        self._cb_phases: dict[str, float] = {}
        self.preempt: list[tuple[float, float]] = []  # booked pre-emptive intervals (start, end)
        self.preempt_free = 0.0
        # execution context of the callback body that is running in Python right now
        self.ctx_start = 0.0
        self.ctx_cycles = 0.0
        self.ctx_phases: dict[str, float] = {}
        self.ctx_kind = ""
        self.ctx_merged = False  # the body's phases go straight into the timestep row
        self.in_preempt = False  # a pre-emptive body is running: queued tasks wait for its end
        # timer
        self.tick = -1
        self.tick_start_ns = 0.0
        self.tasks_outstanding = 0  # queueable tasks queued or running (the current tick's work)
        # comms
        self.tx_free_ns = 0.0
        self.pending_bursts: dict[Any, list] = {}  # route -> burst of the send loop under way
        self.closed_bursts: list[tuple[Any, list]] = []  # earlier send loops of the running body
        self.last_send_ns = -1.0
        #: phase -> cycles the run would have charged more under the nominal/low/high kernel table
        self.bracket_delta: dict[str, list[float]] = {}
        # counters
        self.c = dict(timer_overruns=0, task_queue_full=0, tx_queue_full=0, packets_sent=0,
                      packets_received=0, callbacks=0, exp_ops=0, mac_ops=0, dma_bytes=0, late_packets=0)
        # busy cycles per performance level: a callback's cycles count at the level it started at
        # (its duration was computed at that level's clock)
        self._cycles_by_level: dict[str, float] = {}
        self._cb_level = self.level
        self.level_since_ns = 0.0
        self.time_by_level: dict[str, float] = {}
        # what this PE did in the timestep being accumulated (merged into chip.stats per row)
        self.acc_row = -1
        self.acc_level = self.level  # the level the accumulated timestep runs at
        self.acc_done_ns = 0.0
        self.acc_phases: dict[str, float] = {}
        self.acc_in = 0
        self.acc_out = 0

    # ---- execution context (used by the runtime facade) -------------------------------------
    @property
    def now_ns(self) -> float:
        """Simulated time at this point of the running callback body."""
        return self.ctx_start + self.ctx_cycles * self.ns_per_cycle

    def _book_bracket(self, phase: str, cycles: KernelCycles) -> float:
        """Book what ``cycles`` would have been under each kernel table; return the charged float."""
        charged = float(cycles)
        d = self.bracket_delta.get(phase)
        if d is None:
            d = self.bracket_delta[phase] = [0.0, 0.0, 0.0]
        d[0] += cycles.nominal - charged
        d[1] += cycles.low - charged
        d[2] += cycles.high - charged
        return charged

    def add_cycles(self, phase: str, cycles: float) -> None:
        if type(cycles) is KernelCycles:
            cycles = self._book_bracket(phase, cycles)
        self.ctx_cycles += cycles
        phases = self.ctx_phases
        phases[phase] = phases.get(phase, 0.0) + cycles

    def add_phase_cycles(self, costs: tuple[tuple[str, float], ...], total: float) -> None:
        """Charge several phases at once (``total`` = their sum): a hot path's fixed step cost."""
        self.ctx_cycles += float(total)
        phases = self.ctx_phases
        for phase, cycles in costs:
            if type(cycles) is KernelCycles:
                cycles = self._book_bracket(phase, cycles)
            phases[phase] = phases.get(phase, 0.0) + cycles

    def _open_context(self, kind: str, start_ns: float) -> dict:
        """Start charging a callback body; return the dict its phase cycles go to.

        Without a trace recorder nobody needs one callback's phases on their own, so they are added
        straight into the timestep being accumulated (the callback's tick: a body runs at one instant).
        """
        if self.tick != self.acc_row or self.level is not self.acc_level:  # new tick, or a level switch
            self._switch_row(self.tick, self.level)
        self.ctx_merged = self.chip.recorder is None
        phases = self.acc_phases if self.ctx_merged else {}
        self.ctx_start, self.ctx_cycles, self.ctx_phases, self.ctx_kind = start_ns, 0.0, phases, kind
        return phases

    @property
    def active_cycles(self) -> float:
        """Busy cycles over the whole run, at every level."""
        return sum(self.cycles_by_level.values())

    @property
    def cycles_by_level(self) -> dict[str, float]:
        """Busy cycles per performance level."""
        return self._cycles_by_level

    @property
    def active_ns_by_level(self) -> dict[str, float]:
        """Busy time per performance level (cycles x that level's cycle time)."""
        p = self.p
        return {name: cyc * p.perf_level(name).ns_per_cycle for name, cyc in self.cycles_by_level.items()}

    @property
    def active_pj(self) -> float:
        """Active (dynamic) core energy: busy cycles x the energy per cycle of their level."""
        p = self.p
        return sum(cyc * p.perf_level(name).active_energy_per_cycle_pj
                   for name, cyc in self.cycles_by_level.items())

    def _execute(self, kind: str, fn: Callable, args: tuple, start_ns: float):
        self._open_context(kind, start_ns)
        fn(self.core, *args)
        self.c["callbacks"] += 1
        if self.pending_bursts:
            self.chip.flush_bursts(self)
        return self.ctx_cycles, self.ctx_phases

    def _account(self, start_ns: float, end_ns: float, cycles: float, phases: dict, row: int,
                 kind: str, merged: bool, level=None) -> None:
        """Book a finished callback: busy cycles at the level it ran at (default: the current one),
        and the end time in the row it started in.

        ``merged``: its phases already went into that row (``_open_context``).
        """
        level = level or self.level
        by_level = self._cycles_by_level
        by_level[level.name] = by_level.get(level.name, 0.0) + cycles
        if row != self.acc_row or level is not self.acc_level:
            # a callback of an earlier timestep ended late, or the level changed while it ran: write it
            # directly (merged: its phases are already in the record it started in)
            if row < self.acc_row or (row == self.acc_row and level is not self.acc_level):
                tick_start = self.chip.tick_time(self, row)
                self.chip.stats.work(row, self.id, end_ns - tick_start, None if merged else phases, level.name)
                self._record(kind, phases, start_ns, end_ns, cycles)
                return
            self._switch_row(row, level)
        acc = self.acc_phases
        if not merged:
            for phase, cyc in phases.items():
                acc[phase] = acc.get(phase, 0.0) + cyc
        done = end_ns - (self.tick_start_ns if row == self.tick else self.chip.tick_time(self, row))
        if done > self.acc_done_ns:
            self.acc_done_ns = done
        if self.chip.recorder is not None:
            self._record(kind, phases, start_ns, end_ns, cycles)

    def _record(self, kind, phases, start_ns, end_ns, cycles) -> None:
        rec = self.chip.recorder
        if rec is not None:
            rec.callback(self.id, kind, phases, start_ns, end_ns, cycles)

    @property
    def phase_cycles_total(self) -> dict[str, float]:
        """Cycles per phase over the whole run, up to the last merged timestep (``chip.flush_stats``)."""
        return self.chip.stats.phase_totals(self.id)

    def flush_row(self) -> None:
        """Merge the accumulated timestep into ``chip.stats`` (on tick change and at the end of a run)."""
        if self.acc_phases or self.acc_in or self.acc_out or self.acc_done_ns:
            self.chip.stats.add_row(self.acc_row, self.id, self.acc_done_ns, self.acc_phases,
                                    self.acc_in, self.acc_out, self.acc_level.name)
        self.acc_phases, self.acc_done_ns, self.acc_in, self.acc_out = {}, 0.0, 0, 0

    def _switch_row(self, row: int, level) -> None:
        """Start accumulating timestep ``row``, which runs at ``level``."""
        self.flush_row()
        self.acc_row, self.acc_level = row, level

    def count_packets_out(self, n: int) -> None:
        if self.tick != self.acc_row:
            self._switch_row(self.tick, self.level)
        self.acc_out += n

    # ---- enqueueing -------------------------------------------------------------------------
    def raise_event(self, kind: str, fn: Callable, args: tuple = (), at_ns: float | None = None) -> None:
        prio = self.priorities.get(kind, 1)
        if prio <= 0:
            self._run_preemptive(kind, fn, args, self.env.now if at_ns is None else at_ns)
        else:
            self.enqueue(_Task(kind, fn, args, prio))

    def enqueue(self, task: _Task) -> bool:
        q = self.queues[min(task.prio, len(self.queues)) - 1]
        if len(q) >= self.p.task_queue_size:
            self.c["task_queue_full"] += 1
            return False
        q.append(task)
        self.tasks_outstanding += 1
        if self.running is None and not self.in_preempt:
            self._dispatch()
        return True

    def _dispatch_after_preempt(self, end_ns: float) -> None:
        """A pre-emptive handler that found the core idle queued work: it starts when the handler ends.

        (spin1_schedule_callback from an ISR: the dispatcher picks the task up once the ISR returns.)
        """
        if self.running is None and any(self.queues):
            self.chip.call_at(end_ns, self._dispatch_if_idle)

    def _dispatch_if_idle(self) -> None:
        if self.running is None:
            self._dispatch()

    # ---- pre-emptive handlers -----------------------------------------------------------------
    def book_preempt(self, arrival_ns: float, cycles: float) -> tuple[float, float]:
        """Reserve core time for a pre-emptive handler; delay the running callback by it."""
        start = arrival_ns if arrival_ns > self.preempt_free else self.preempt_free
        end = start + cycles * self.ns_per_cycle
        self.preempt_free = end
        self.preempt.append((start, end))
        if self.running is not None and start < self.cb_end:
            self.cb_end += end - start
        return start, end

    def _run_preemptive(self, kind: str, fn: Callable, args: tuple, arrival_ns: float) -> None:
        start = arrival_ns if arrival_ns > self.preempt_free else self.preempt_free
        row = self.tick
        self.in_preempt = True
        cycles, phases = self._execute(kind, fn, args, start)
        self.in_preempt = False
        overhead = self.irq_cycles
        phases["irq"] = phases.get("irq", 0.0) + overhead
        s, e = self.book_preempt(arrival_ns, cycles + overhead)
        self._account(s, e, cycles + overhead, phases, row, kind, self.ctx_merged)
        self._dispatch_after_preempt(e)

    def accept_packets(self, n: int) -> bool:
        """Count ``n`` arriving packets; False if no program is loaded here (they are dropped)."""
        if self.firmware is None:
            self.chip.noc.dropped += n
            return False
        self.c["packets_received"] += n
        if self.tick != self.acc_row:
            self._switch_row(self.tick, self.level)
        self.acc_in += n
        return True

    def begin_burst(self, first_ns: float) -> float:
        """Open the execution context of a burst handler (starts after pending pre-emptive work)."""
        start = first_ns if first_ns > self.preempt_free else self.preempt_free
        self._open_context(PACKET, start)
        self.in_preempt = True
        return start

    def _book_handlers(self, start: float, first_ns: float, last_ns: float, n: int, dur: float) -> float:
        """Place ``n`` pre-emptive handlers of ``dur`` ns each for packets arriving evenly from ``first_ns``
        to ``last_ns``; each delays a running queueable callback it overlaps. Returns when the last ends."""
        step = (last_ns - first_ns) / (n - 1) if n > 1 else 0.0
        running = self.running is not None
        if step <= dur:  # each packet arrives before the previous handler ends: back to back
            free = start + n * dur
            self.preempt.append((start, free))
            if running and start < self.cb_end:
                self.cb_end += n * dur
        else:
            free, intervals = self.preempt_free, self.preempt
            for i in range(n):
                arrival = first_ns + i * step
                s = arrival if arrival > free else free
                free = s + dur
                intervals.append((s, free))
                if running and s < self.cb_end:
                    self.cb_end += dur
        self.preempt_free = free
        return free

    def finish_burst(self, start: float, first_ns: float, last_ns: float, n: int, row: int) -> None:
        """Book ``n`` handlers whose total cost the body declared: back to back, or each at its arrival."""
        self.in_preempt = False
        self.c["callbacks"] += 1
        if self.pending_bursts:
            self.chip.flush_bursts(self)
        cycles, phases = self.ctx_cycles, self.ctx_phases
        overhead = self.irq_cycles
        phases["irq"] = phases.get("irq", 0.0) + overhead * n
        dur = (cycles / n + overhead) * self.ns_per_cycle
        free = self._book_handlers(start, first_ns, last_ns, n, dur)
        self._account(start, free, cycles + overhead * n, phases, row, PACKET, self.ctx_merged)
        self._dispatch_after_preempt(free)

    def charged_burst(self, phase: str, cycles: float, n: int, first_ns: float, last_ns: float) -> None:
        """Fast kernel: a burst of ``n`` packets whose handler body only charged ``cycles`` to ``phase``
        (its numerics ran for the whole group beforehand, ``on_packet_burst_group``).

        The same arithmetic, in the same order, as ``accept_packets`` + ``begin_burst`` + a body that
        charges once + ``finish_burst``, without the per-callback context: only for a chip without a
        trace recorder (phases go straight into the timestep being accumulated).
        """
        if type(cycles) is KernelCycles:
            cycles = self._book_bracket(phase, cycles)
        c = self.c
        c["packets_received"] += n
        tick, level = self.tick, self.level
        if tick != self.acc_row:
            self._switch_row(tick, level)
        self.acc_in += n
        start = first_ns if first_ns > self.preempt_free else self.preempt_free
        if level is not self.acc_level:
            self._switch_row(tick, level)
        acc = self.acc_phases
        acc[phase] = acc.get(phase, 0.0) + cycles
        c["callbacks"] += 1
        overhead = self.irq_cycles
        acc["irq"] = acc.get("irq", 0.0) + overhead * n
        dur = (cycles / n + overhead) * self.ns_per_cycle
        running = self.running is not None
        free = self._book_handlers(start, first_ns, last_ns, n, dur)
        by_level = self._cycles_by_level
        by_level[level.name] = by_level.get(level.name, 0.0) + (cycles + overhead * n)
        done = free - self.tick_start_ns
        if done > self.acc_done_ns:
            self.acc_done_ns = done
        if not running and any(self.queues):
            self.chip.call_at(free, self._dispatch_if_idle)

    def receive_packets(self, keys: list, payloads: list, first_ns: float, last_ns: float) -> None:
        """Deliver a burst of packets whose arrivals spread evenly from ``first_ns`` to ``last_ns``."""
        n = len(keys)
        if not self.accept_packets(n):
            return
        fw = self.firmware
        prio = self.priorities[PACKET]
        if prio > 0:  # a firmware may make packet handling queueable
            for k, pl in zip(keys, payloads):
                self.enqueue(_Task(PACKET, fw.on_packet, (k, pl), prio))
            return
        burst = getattr(fw, "on_packet_burst", None)
        if burst is not None:
            row = self.tick
            start = self.begin_burst(first_ns)
            burst(self.core, keys, payloads)
            self.finish_burst(start, first_ns, last_ns, n, row)
            return
        step = (last_ns - first_ns) / (n - 1) if n > 1 else 0.0
        for i in range(n):
            self._run_preemptive(PACKET, fw.on_packet, (keys[i], payloads[i]), first_ns + i * step)

    def receive_packets_fast(self, keys: list, payloads: list, first_ns: float, last_ns: float) -> None:
        """Fast kernel (no trace recorder): ``receive_packets`` for a firmware with a pre-emptive
        ``on_packet_burst``, its bookkeeping inlined; every other case takes the exact path."""
        fw = self.firmware
        burst = getattr(fw, "on_packet_burst", None)
        if burst is None or self.priorities[PACKET] > 0:
            self.receive_packets(keys, payloads, first_ns, last_ns)
            return
        n = len(keys)
        self.c["packets_received"] += n
        tick = self.tick
        if tick != self.acc_row:
            self._switch_row(tick, self.level)
        self.acc_in += n
        start = first_ns if first_ns > self.preempt_free else self.preempt_free
        self._open_context(PACKET, start)
        self.in_preempt = True
        burst(self.core, keys, payloads)
        self.finish_burst(start, first_ns, last_ns, n, tick)

    # ---- queueable dispatcher -------------------------------------------------------------------
    def _dispatch(self) -> None:
        for q in self.queues:
            if q:
                self._start(q.popleft())
                return
        # nothing to do: the core sleeps until the next event

    def _start(self, task: _Task) -> None:
        """Run a queueable callback's body now; its end is booked at start + cycles + stolen time."""
        t0 = self.env.now
        if self.preempt and self.preempt[-1][1] <= t0:
            self.preempt.clear()
        self.running = task
        self._cb_row, self._cb_level = self.tick, self.level
        cycles, phases = self._execute(task.kind, task.fn, task.args, t0)
        end = t0 + cycles * self.ns_per_cycle
        for s, e in self.preempt:  # pre-emptive work already booked steals from this callback
            if e <= t0:
                continue
            s = s if s > t0 else t0
            if s < end:
                end += e - s
        self.cb_start, self.cb_end = t0, end
        self._cb_cycles, self._cb_phases, self._cb_merged = cycles, phases, self.ctx_merged
        self.chip.call_at(end, self._on_callback_end)

    def _on_callback_end(self) -> None:
        now = self.env.now
        if self.cb_end > now + 1e-9:  # stolen time moved the end: wait for the rest
            self.chip.call_at(self.cb_end, self._on_callback_end)
            return
        task = self.running
        self._account(self.cb_start, self.cb_end, self._cb_cycles, self._cb_phases, self._cb_row, task.kind,
                      self._cb_merged, self._cb_level)
        self.tasks_outstanding -= 1
        self.running = None
        self._dispatch()

    # ---- timer ----------------------------------------------------------------------------------
    def timer_fire(self, tick: int) -> None:
        self.tick = tick
        self.tick_start_ns = self.env.now
        policy = self.chip.dvfs_policy
        if policy is not None and self.firmware is not None:
            self.set_level(policy.choose(self, tick))
        if self.tasks_outstanding:
            self.c["timer_overruns"] += 1
        fw = self.firmware
        if fw is None:
            return
        self.enqueue_timer(tick)

    def timer_fire_fast(self, tick: int, now: float) -> None:
        """Fast kernel: ``timer_fire`` for a PE without DVFS policy whose timer callback is queueable.

        An idle core starts the tick at once: the same steps as ``enqueue_timer`` + ``_start``
        without the calls between them; otherwise the exact path queues it.
        """
        self.tick = tick
        self.tick_start_ns = now
        if self.tasks_outstanding:
            self.c["timer_overruns"] += 1
        fw = self.firmware
        if fw is None:
            return
        prio = self.priorities[TIMER]
        if prio <= 0 or self.running is not None or self.in_preempt or any(self.queues):
            self.enqueue_timer(tick)
            return
        task = _Task(TIMER, fw.on_timer, (tick,), prio)
        self.tasks_outstanding += 1
        preempt = self.preempt
        if preempt and preempt[-1][1] <= now:
            preempt.clear()
        self.running = task
        self._cb_row, self._cb_level = tick, self.level
        self._open_context(TIMER, now)
        fw.on_timer(self.core, tick)
        self.c["callbacks"] += 1
        if self.pending_bursts:
            self.chip.flush_bursts(self)
        cycles = self.ctx_cycles
        end = now + cycles * self.ns_per_cycle
        for s, e in preempt:  # pre-emptive work already booked steals from this callback
            if e <= now:
                continue
            s = s if s > now else now
            if s < end:
                end += e - s
        self.cb_start, self.cb_end = now, end
        self._cb_cycles, self._cb_phases, self._cb_merged = cycles, self.ctx_phases, self.ctx_merged
        self.chip.call_at(end, self._on_callback_end)

    @property
    def timer_task_pending(self) -> bool:
        """The previous tick's work is not done (what an overrun is counted on)."""
        return self.tasks_outstanding > 0

    def enqueue_timer(self, tick: int) -> bool:
        prio = self.priorities[TIMER]
        if prio <= 0:
            self._run_preemptive(TIMER, self.firmware.on_timer, (tick,), self.env.now)
            return False
        task = _Task(TIMER, self.firmware.on_timer, (tick,), prio)
        if self.running is None and not any(self.queues):  # idle core: the tick runs at once
            self.tasks_outstanding += 1
            self._start(task)
            return True
        return self.enqueue(task)

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

    def close_levels(self, end_ns: float) -> dict[str, float]:
        """Time spent at each performance level up to ``end_ns``."""
        out = dict(self.time_by_level)
        out[self.level.name] = out.get(self.level.name, 0.0) + max(0.0, end_ns - self.level_since_ns)
        return out
