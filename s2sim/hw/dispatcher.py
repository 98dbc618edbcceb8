"""The dispatcher of queueable callbacks (spin1_api semantics): priority queues, start, end, overruns.

* Callbacks with priority >= 1 (the timer tick by default) wait in bounded priority queues and run
  one at a time; a full queue is counted (``task_queue_full``) and the callback is not queued, as
  ``spin1_schedule_callback`` returns FAILURE.
* A callback's Python body runs when it *starts*; its end is its cycles at the PE's clock later,
  plus what pre-emptive work steals from it (``preemption.py``).
* A timer tick that fires while earlier work is still queued or running is a timer overrun
  (``timer_tick``): any queueable task not yet finished (the tick's callback and every task
  scheduled since, by it, by a handler or by another task) or a pre-emptive handler (packet,
  DMA done, user event) still running — whatever the timer callback itself charges.
* With nothing to do the core sleeps until the next event.
"""
from __future__ import annotations

from collections import deque
from typing import Callable

from .events import CallbackEnd

TIMER, PACKET, DMA, USER, TASK = "timer", "packet", "dma", "user", "task"


class Task:
    """A callback to run: ``fn(core, *args)`` of event ``kind`` at priority ``prio``."""

    __slots__ = ("kind", "fn", "args", "prio", "cause")

    def __init__(self, kind: str, fn: Callable, args: tuple, prio: int, cause: int | None = None):
        """``cause``: the tick whose work this is (its lag runs to this task's end); None: the tick
        current when it starts."""
        self.kind, self.fn, self.args, self.prio, self.cause = kind, fn, args, prio, cause


class RunningCallback:
    """The queueable callback under way: when it started and (so far) ends, and what it charged."""

    __slots__ = ("task", "start_ns", "end_ns", "row", "level", "cycles", "phases", "merged")

    def __init__(self, task: Task, start_ns: float, row: int, level):
        self.task, self.start_ns, self.end_ns, self.row, self.level = task, start_ns, start_ns, row, level
        self.cycles = 0.0
        self.phases: dict[str, float] = {}
        self.merged = False

    def _fields(self) -> tuple:
        return (self.task, self.start_ns, self.end_ns, self.row, self.level, self.cycles, self.phases,
                self.merged)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunningCallback) and self._fields() == other._fields()

    def copy(self) -> "RunningCallback":
        out = RunningCallback(self.task, self.start_ns, self.row, self.level)
        out.end_ns, out.cycles, out.phases, out.merged = self.end_ns, self.cycles, dict(self.phases), self.merged
        return out


class Dispatcher:
    """Queues and the running callback of one PE; ``pe`` runs bodies and books finished callbacks."""

    __slots__ = ("pe", "queues", "queue_size", "priorities", "running", "in_preempt", "tasks_outstanding",
                 "end_event")

    def __init__(self, pe, queue_count: int, queue_size: int):
        self.pe = pe
        self.end_event = CallbackEnd(pe.id)  # the record that wakes this dispatcher at a callback's end
        self.queues: list[deque[Task]] = [deque() for _ in range(queue_count)]
        self.queue_size = queue_size
        self.priorities = {TIMER: 2, PACKET: -1, DMA: 0, USER: 0}
        self.running: RunningCallback | None = None
        self.in_preempt = False  # a pre-emptive body is running: queued tasks wait for its end
        self.tasks_outstanding = 0  # queueable tasks queued or running (the current tick's work)

    @property
    def idle(self) -> bool:
        """Nothing running and nothing queued."""
        return self.running is None and not any(self.queues)

    @property
    def behind(self) -> bool:
        """Earlier work is still running or queued."""
        return self.running is not None or self.tasks_outstanding > 0 or any(self.queues)

    def timer_tick(self, on_timer: Callable, tick: int, now_ns: float) -> None:
        """A timer tick fired for a loaded PE: count an overrun, then run the timer callback at once
        (pre-emptive priority), start it (idle core) or queue it."""
        preemption = self.pe.preemption
        if self.tasks_outstanding or preemption.running_at(now_ns):
            self.pe.counters.timer_overruns[self.pe.id] += 1
        if preemption.intervals:  # keep only the pre-emptive work that may still steal time
            preemption.forget_before(now_ns)
        prio = self.priorities[TIMER]
        if prio <= 0:
            self.pe.run_preemptive(TIMER, on_timer, (tick,), now_ns)
        elif self.running is None and not any(self.queues):  # idle core: the tick runs at once
            self.tasks_outstanding += 1
            self.start(Task(TIMER, on_timer, (tick,), prio, tick), now_ns)
        else:
            self.enqueue(Task(TIMER, on_timer, (tick,), prio, tick))

    def enqueue(self, task: Task) -> bool:
        """Queue ``task`` (start it if the core is idle); False (counted) if its queue is full."""
        q = self.queues[min(task.prio, len(self.queues)) - 1]
        if len(q) >= self.queue_size:
            self.pe.counters.task_queue_full[self.pe.id] += 1
            if task.kind == TIMER:  # the tick's work never runs: it has no lag of its own
                self.pe.chip.stats.tick_not_run(task.cause, self.pe.id)
            return False
        q.append(task)
        self.tasks_outstanding += 1
        if self.running is None and not self.in_preempt:
            self.dispatch()
        return True

    def dispatch(self) -> None:
        """Start the first queued task of the highest priority, if any."""
        for q in self.queues:
            if q:
                self.start(q.popleft(), self.pe.env.now)
                return

    def dispatch_if_idle(self) -> None:
        if self.running is None:
            self.dispatch()

    def start(self, task: Task, t0: float) -> None:
        """Run a queueable callback's body now; its end is booked at start + cycles + stolen time."""
        pe = self.pe
        preemption = pe.preemption
        if preemption.intervals:
            preemption.forget_before(t0)
        running = self.running = RunningCallback(task, t0, pe.tick, pe.level)
        cycles, phases = pe.execute(task.kind, task.fn, task.args, t0, task.cause)
        end = t0 + pe.body_elapsed_ns  # its cycles at the clock each ran at (a DVFS switch inside)
        if preemption.intervals:  # pre-emptive work already booked steals from this callback
            end = preemption.end_of_callback(t0, end)
        running.end_ns, running.cycles, running.phases, running.merged = end, cycles, phases, pe.ctx.merged
        pe.count_busy(cycles, running.level)
        if not running.merged:  # (a trace recorder keeps its phases apart) they count now, as its busy cycles
            rows = pe.rows
            rows.phases_for(running.row, running.level)
            rows.add_phases(phases)
            running.merged = True
        pe.chip.events.call_at(end, self.end_event)

    def callback_end(self, now_ns: float) -> None:
        """The running callback's end time came, unless stolen time moved it: then wait for the rest."""
        running = self.running
        if running.end_ns > now_ns + 1e-9:
            self.pe.chip.events.call_at(running.end_ns, self.end_event)
            return
        self.pe.account(running.start_ns, running.end_ns, running.cycles, running.phases, running.row,
                        running.task.kind, running.merged, running.level, running.task.cause, busy_counted=True)
        self.tasks_outstanding -= 1
        self.running = None
        self.dispatch()

    def snapshot(self) -> tuple:
        running = self.running.copy() if self.running is not None else None
        return ([deque(q) for q in self.queues], dict(self.priorities), running, self.in_preempt,
                self.tasks_outstanding)

    def restore(self, snap: tuple) -> None:
        queues, priorities, running, self.in_preempt, self.tasks_outstanding = snap
        self.queues = [deque(q) for q in queues]
        self.priorities = dict(priorities)
        self.running = running.copy() if running is not None else None
