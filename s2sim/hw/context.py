"""The execution context: the callback body running in Python right now, and what it has charged.

A body runs at its callback's start in simulated time; each cost it declares moves its own clock
(``now_ns``) forward. The dispatcher turns the total into the callback's duration afterwards.
A body may run another inside it (a user event triggered from a callback runs its pre-emptive
handler at once): ``PE.execute`` saves the outer body's context (``save``) and puts it back after
(``restore``), so the inner body never wipes what the outer one charged.
"""
from __future__ import annotations

from .kernel_cycles import KernelCycles


class ExecutionContext:
    """Start time, cycles so far and cycles per phase of the body that is running.

    ``ns_per_cycle`` follows the PE's performance level (``PE.set_level`` -> ``set_rate``), so a level
    switch inside a body changes the rate at which its *later* cycles advance ``now_ns``; the time
    its earlier cycles took stays (``offset_ns``), and ``elapsed_ns`` is the body's duration.
    """

    __slots__ = ("start_ns", "cycles", "phases", "kind", "merged", "ns_per_cycle", "bracket_delta", "offset_ns",
                 "_split")

    def __init__(self, ns_per_cycle: float):
        self.start_ns = 0.0
        self.cycles = 0.0
        self.phases: dict[str, float] = {}
        self.kind = ""
        self.merged = False  # the body's phases go straight into the timestep row
        self.ns_per_cycle = ns_per_cycle
        self.offset_ns = 0.0  # what a rate change inside the body keeps of its earlier cycles' time
        #: phase -> [nominal, low, high] cycles the run would have charged more under each kernel table
        self.bracket_delta: dict[str, list[float]] = {}
        #: id(costs) -> (costs, its phases as plain floats, its bracket deltas): a fixed step cost charged
        #: every tick is split once (the tuple is kept, so its id cannot be reused while cached)
        self._split: dict[int, tuple] = {}

    def open(self, kind: str, start_ns: float, phases: dict, merged: bool) -> None:
        """Start charging a body that begins at ``start_ns``; its phase cycles go into ``phases``."""
        self.start_ns, self.cycles, self.phases, self.kind, self.merged = start_ns, 0.0, phases, kind, merged
        self.offset_ns = 0.0

    def save(self) -> tuple:
        return self.start_ns, self.cycles, self.phases, self.kind, self.merged, self.offset_ns

    def restore(self, saved: tuple) -> None:
        self.start_ns, self.cycles, self.phases, self.kind, self.merged, self.offset_ns = saved

    def set_rate(self, ns_per_cycle: float) -> None:
        """The clock changes now: the cycles charged so far keep the time they took."""
        self.offset_ns += self.cycles * (self.ns_per_cycle - ns_per_cycle)
        self.ns_per_cycle = ns_per_cycle

    @property
    def now_ns(self) -> float:
        """Simulated time at this point of the running body."""
        return self.start_ns + self.offset_ns + self.cycles * self.ns_per_cycle

    @property
    def elapsed_ns(self) -> float:
        """How long the body has run so far (its cycles at the clock they ran at)."""
        return self.offset_ns + self.cycles * self.ns_per_cycle

    def add_cycles(self, phase: str, cycles: float) -> None:
        if type(cycles) is KernelCycles:
            cycles = self.book_bracket(phase, cycles)
        self.cycles += cycles
        phases = self.phases
        phases[phase] = phases.get(phase, 0.0) + cycles

    def add_phase_cycles(self, costs: tuple[tuple[str, float], ...], total: float) -> None:
        """Charge several phases at once (``total`` = their sum): a hot path's fixed step cost."""
        self.cycles += float(total)
        split = self._split.get(id(costs))
        if split is None or split[0] is not costs:
            if len(self._split) >= 64:  # fixed costs are few; a caller passing fresh tuples must not grow it
                self._split.clear()
            split = self._split[id(costs)] = self._split_costs(costs)
        phases = self.phases
        for phase, cycles in split[1]:
            phases[phase] = phases.get(phase, 0.0) + cycles
        if split[2]:
            delta = self.bracket_delta
            for phase, dn, dl, dh in split[2]:
                d = delta.get(phase)
                if d is None:
                    d = delta[phase] = [0.0, 0.0, 0.0]
                d[0] += dn
                d[1] += dl
                d[2] += dh

    @staticmethod
    def _split_costs(costs: tuple[tuple[str, float], ...]) -> tuple:
        """``costs`` as (itself, (phase, charged float) pairs, (phase, Δnominal, Δlow, Δhigh) of its kernel parts)."""
        plain, ends = [], []
        for phase, cycles in costs:
            if type(cycles) is KernelCycles:
                charged = float(cycles)
                ends.append((phase, cycles.nominal - charged, cycles.low - charged, cycles.high - charged))
                cycles = charged
            plain.append((phase, cycles))
        return costs, tuple(plain), tuple(ends)

    def book_bracket(self, phase: str, cycles: KernelCycles) -> float:
        """Book what ``cycles`` would have been under each kernel table; return the charged float
        (timing uses it alone: the bracket is a report, ``arch.cycle_model`` picks what runs)."""
        charged = float(cycles)
        d = self.bracket_delta.get(phase)
        if d is None:
            d = self.bracket_delta[phase] = [0.0, 0.0, 0.0]
        d[0] += cycles.nominal - charged
        d[1] += cycles.low - charged
        d[2] += cycles.high - charged
        return charged
