"""The per-tick row accumulator: what one PE did in the timestep being accumulated.

Callback bodies add their phase cycles here as they run (without a trace recorder), packets in and
out are counted here, and the row is merged into ``chip.stats`` once, when the PE moves on to another
timestep or level (``switch``) or the run ends (``flush``). The DVFS policy reads the row that is not
merged yet through ``row_so_far``.
"""
from __future__ import annotations

from .tickstats import TickStats


class RowAccumulator:
    __slots__ = ("pe_id", "stats", "row", "level", "done_ns", "phases", "packets_in", "packets_out")

    def __init__(self, pe_id: int, stats: TickStats, level):
        self.pe_id, self.stats = pe_id, stats
        self.row = -1  # the timestep being accumulated (-1: none yet)
        self.level = level  # the performance level it runs at
        self.done_ns = 0.0  # when its last callback ended, from the timestep's start
        self.phases: dict[str, float] = {}
        self.packets_in = 0
        self.packets_out = 0

    def flush(self) -> None:
        """Merge the accumulated timestep into ``stats`` (on tick change and at the end of a run)."""
        if self.phases or self.packets_in or self.packets_out or self.done_ns:
            self.stats.add_row(self.row, self.pe_id, self.done_ns, self.phases, self.packets_in,
                               self.packets_out, self.level.name)
        self.phases, self.done_ns, self.packets_in, self.packets_out = {}, 0.0, 0, 0

    def switch(self, row: int, level) -> None:
        """Start accumulating timestep ``row``, which runs at ``level``."""
        self.flush()
        self.row, self.level = row, level

    def phases_for(self, row: int, level) -> dict:
        """The phase dict of timestep ``row`` at ``level`` (switching to it first if needed)."""
        if row != self.row or level is not self.level:
            self.switch(row, level)
        return self.phases

    def count_in(self, row: int, level, n: int) -> None:
        if row != self.row:
            self.switch(row, level)
        self.packets_in += n

    def open_burst(self, row: int, level, n: int) -> dict:
        """``n`` packets arrive in timestep ``row`` and a handler at ``level`` runs for them: count them,
        then return the phase dict of that timestep and level (in this order: a level switch merges
        the packets into the row they arrived in)."""
        if row != self.row:
            self.switch(row, level)
        self.packets_in += n
        if level is not self.level:
            self.switch(row, level)
        return self.phases

    def count_out(self, row: int, level, n: int) -> None:
        if row != self.row:
            self.switch(row, level)
        self.packets_out += n

    def add_phases(self, phases: dict) -> None:
        acc = self.phases
        for phase, cyc in phases.items():
            acc[phase] = acc.get(phase, 0.0) + cyc

    def row_so_far(self, row: int) -> tuple[float, float] | None:
        """(busy cycles, time done in ns) of timestep ``row`` while it is being accumulated, else None."""
        if row != self.row:
            return None
        return float(sum(self.phases.values())), float(self.done_ns)

    def snapshot(self) -> tuple:
        return self.row, self.level, self.done_ns, dict(self.phases), self.packets_in, self.packets_out

    def restore(self, snap: tuple) -> None:
        self.row, self.level, self.done_ns, phases, self.packets_in, self.packets_out = snap
        self.phases = dict(phases)
