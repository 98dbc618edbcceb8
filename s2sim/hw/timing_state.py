"""One PE's timing state as a value: what a kernel that runs a stretch speculatively restores when
it has to fall back to the exact path."""
from __future__ import annotations


class PeTimingState:
    """Everything that decides when one PE's work runs and what it books: ``snapshot()`` takes a copy,
    ``restore(snap)`` puts it back (a kernel that runs a stretch speculatively falls back with it).

    Not included: the firmware's own state (numerics), and shared chip state (the event queue, NoC
    links, DRAM channels). A running callback's phase dict, when its phases went straight into its row,
    is copied separately from the row (it is never read again: see ``PE.account``).
    """

    def __init__(self, pe):
        self.pe = pe

    def snapshot(self) -> tuple:
        pe = self.pe
        return (pe.dispatcher.snapshot(), pe.preemption.snapshot(), pe.rows.snapshot(), pe.tx.snapshot(),
                pe.sends.snapshot(), pe.tick, pe.tick_start_ns, pe.level, pe.level_since_ns,
                dict(pe.time_by_level), pe.counters.snapshot_pe(pe.id))

    def restore(self, snap: tuple) -> None:
        pe = self.pe
        (dispatcher, preemption, rows, tx, sends, pe.tick, pe.tick_start_ns, level, pe.level_since_ns,
         time_by_level, counters) = snap
        pe.dispatcher.restore(dispatcher)
        pe.preemption.restore(preemption)
        pe.rows.restore(rows)
        pe.tx.restore(tx)
        pe.sends.restore(sends)
        pe.level = level
        pe.ns_per_cycle = pe.ctx.ns_per_cycle = level.ns_per_cycle
        pe.time_by_level = dict(time_by_level)
        pe.counters.restore_pe(pe.id, counters)  # its counters, busy cycles by level, bracket cycles
