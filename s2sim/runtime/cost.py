"""Cost model: declared operation counts -> Cortex-M4F cycles, and cost tables declared once.

Firmware does its numerics in numpy and declares what a real core would have executed, e.g.
``core.charge("eligibility", fmac=3*n, fmul=2*n, load=4*n, store=3*n, loop=n)``. Cycles are the
dot product of those counts with the architecture's per-op table, or a calibrated per-kernel
figure (``core.kernel("eligibility", "eprop_eligibility_post_pre", n)``) where one exists.
Kernel costs carry the cycle bracket (``KernelCycles``: nominal, low and high tables) so every run
can report its latency at each end without running again.

A callback whose cost has a fixed shape declares it once as a ``CostTable``: lines of (phase, what
the line scales with, operations or calibrated kernel per unit). The table is data: a callback
charges from it (``table.charge(core, spikes=n)``), and a compiled kernel that only counts can read
the same lines (``table.lines``) instead of re-deriving the firmware's arithmetic. Kernel lines
keep the bracket: a priced kernel line is ``KernelCycles`` and sums and products keep it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol

from ..hw.kernel_cycles import KernelCycles


class CostModel:
    def __init__(self, op_cycles: Mapping[str, float], kernel_cycles: Mapping[str, float],
                 kernel_bracket: Mapping[str, tuple[float, float, float]] | None = None):
        # kept, not copied: the arch's tables log reads of overridden entries (HwParams.unread_overrides)
        self.op_cycles = op_cycles
        self.kernel_cycles = kernel_cycles
        #: name -> (nominal, low, high) cycles per iteration; without it kernels charge plain floats
        self.kernel_bracket = kernel_bracket

    def cycles(self, ops: Mapping[str, float]) -> float:
        table, total = self.op_cycles, 0.0
        for op, count in ops.items():
            per = table.get(op)
            if per is None:
                known = ", ".join(sorted(table))
                raise KeyError(f"unknown operation '{op}' in a cost declaration; expected one of: {known}")
            total += per * count
        return total

    def kernel(self, name: str, iterations: float) -> float:
        per = self.kernel_cycles.get(name)
        if per is None:
            known = ", ".join(sorted(self.kernel_cycles)) or "(none)"
            raise KeyError(f"unknown kernel '{name}'; the architecture calibrates: {known}")
        ends = self.kernel_bracket.get(name) if self.kernel_bracket else None
        if ends is None:
            return per * iterations
        nominal, low, high = ends
        return KernelCycles(per * iterations, nominal * iterations, low * iterations, high * iterations)


class Pricer(Protocol):
    """What a table is priced with: the firmware's ``Core`` (its ``cost``/``kernel_cost``/``exp_cost``)."""

    def cost(self, **ops: float) -> float: ...

    def kernel_cost(self, name: str, iterations: float) -> float: ...

    def exp_cost(self, n: int, accelerator: bool = False) -> float: ...


@dataclass(frozen=True)
class Line:
    """One line of a cost table: ``phase`` takes, per unit of ``per`` (a named count; ``None``: once
    per call), the operations ``ops``, or ``iterations`` of the calibrated kernel ``kernel``, or
    ``iterations`` software exponentials (``kernel="expf"``)."""
    phase: str
    per: str | None = None
    ops: Mapping[str, float] = field(default_factory=dict)
    kernel: str | None = None
    iterations: float = 1

    def cycles(self, price: Pricer, counts: Mapping[str, float]) -> float:
        """Cycles of this line for ``counts`` (the same arithmetic as charging it by hand)."""
        units = 1 if self.per is None else counts[self.per]
        if self.kernel == "expf":
            return price.exp_cost(self.iterations * units)
        if self.kernel is not None:
            return price.kernel_cost(self.kernel, self.iterations * units)
        return price.cost(**{op: k * units for op, k in self.ops.items()})


def op_line(phase: str, per: str | None = None, **per_unit: float) -> Line:
    """A line of operation counts, e.g. ``op_line("comms", per="spikes", int_alu=3, store=1)``."""
    return Line(phase, per, per_unit)


def kernel_line(phase: str, name: str, per: str | None = None, iterations: float = 1) -> Line:
    """A line of a calibrated kernel, e.g. ``kernel_line("neuron", "lif_neuron_update", per="neurons")``."""
    return Line(phase, per, kernel=name, iterations=iterations)


def expf_line(phase: str, per: str | None = None, iterations: float = 1) -> Line:
    """A line of software ``expf`` calls (the exp accelerator counts its operations: charge it by hand)."""
    return Line(phase, per, kernel="expf", iterations=iterations)


class CostTable:
    """The cycles of one kind of callback, declared once as data (``lines``; the named counts they
    scale with in ``counts``). ``priced(core)`` binds it to a core's cost model for charging."""

    def __init__(self, *lines: Line):
        self.lines = lines
        self.counts = tuple(dict.fromkeys(line.per for line in lines if line.per is not None))

    def priced(self, core) -> "PricedTable":
        return PricedTable(self, core)


class PricedTable:
    """A cost table priced with one core's cost model.

    Each line is resolved once into (cycles per operation, operations per unit) pairs, so charging it
    for a count is the same arithmetic as ``core.charge``/``core.kernel`` with the counts written out
    (a sum over the operations, in declaration order, of cycles x (per-unit count x units)): the same
    cycles bit for bit. ``charge`` charges line by line, as those calls in a row would; ``phases``
    merges the lines per phase for ``core.charge_phases`` (a hot path's fixed step in one call).
    """

    def __init__(self, table: CostTable, core):
        self.table, self.core = table, core
        self._lines: list[tuple[str, str | None, tuple[tuple[float, float], ...]]] = []
        for line in table.lines:
            if line.kernel == "expf":
                terms = ((core.exp_cost(1), line.iterations),)
            elif line.kernel is not None:
                terms = ((core.kernel_cost(line.kernel, 1), line.iterations),)
            else:
                terms = tuple((core.cost(**{op: 1}), k) for op, k in line.ops.items())
            self._lines.append((line.phase, line.per, terms))
        self._phases: dict[tuple, tuple[tuple[tuple[str, float], ...], float]] = {}

    @property
    def resolved_lines(self) -> tuple[tuple[str, str | None, tuple[tuple[float, float], ...]], ...]:
        """Each line as (phase, count it scales with or None, ((cycles per operation, operations per
        unit), ...)): what ``charge`` multiplies out, for a kernel that only counts (the cycles per
        operation of a kernel line are ``KernelCycles``, carrying the bracket)."""
        return tuple(self._lines)

    def cycles_by_line(self, **counts: float) -> list[tuple[str, float]]:
        """(phase, cycles) of every line, in declaration order."""
        out = []
        for phase, per, terms in self._lines:
            units = 1 if per is None else counts[per]
            cycles = 0.0
            for per_op, k in terms:
                cycles += per_op * (k * units)
            out.append((phase, cycles))
        return out

    def phases(self, **counts: float) -> tuple[tuple[tuple[str, float], ...], float]:
        """(phase, cycles) summed per phase in order of first appearance, and their total (cached per counts:
        meant for fixed costs)."""
        key = tuple(counts.items())
        got = self._phases.get(key)
        if got is None:
            merged: dict[str, float] = {}
            for phase, cycles in self.cycles_by_line(**counts):
                merged[phase] = merged.get(phase, 0.0) + cycles
            got = self._phases[key] = (tuple(merged.items()), sum(merged.values()))
        return got

    def charge(self, **counts: float) -> None:
        """Charge every line (one ``charge_cycles`` per line, in declaration order)."""
        charge = self.core.charge_cycles
        for phase, per, terms in self._lines:
            units = 1 if per is None else counts[per]
            cycles = 0.0
            for per_op, k in terms:
                cycles += per_op * (k * units)
            charge(phase, cycles)

    def total(self, **counts: float) -> float:
        """All lines' cycles for ``counts``, summed per phase first (as ``phases``), uncached."""
        merged: dict[str, float] = {}
        for phase, cycles in self.cycles_by_line(**counts):
            merged[phase] = merged.get(phase, 0.0) + cycles
        return sum(merged.values())
