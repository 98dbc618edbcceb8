"""The machine's counters, in one record: what every kernel writes and the summary and energy read.

One ``Counters`` per machine (today one chip; a board of chips, or a compiled kernel, writes the same
record). Per-PE counters are lists indexed by PE id (a list element is the cheapest thing Python can
increment on the per-packet and per-callback paths); the NoC, DRAM and fabric counts are plain
numbers. Readers use ``array``, ``total`` and ``of`` instead of walking PEs.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

#: Per-PE event counts (what a PE's timing state snapshots with it).
PE_COUNTERS: tuple[str, ...] = (
    "timer_overruns",    # a timer tick fired while the previous tick's work was not done
    "task_queue_full",   # a queueable callback was refused (its task queue was full)
    "tx_queue_full",     # a send stalled the core (TX queue full)
    "packets_sent",      # packets this PE's bodies sent
    "packets_received",  # packets that reached a loaded PE's handlers
    "callbacks",         # callback bodies run
    "exp_ops",           # exponentials on the exp/log accelerator
    "mac_ops",           # 8-bit MACs on the MAC array
    "dma_bytes",         # bytes of the DMA requests this PE issued
    "late_packets",      # packets arriving in a later timestep of the receiver than they were sent in
)

#: Per-PE DMA engine counts.
DMA_COUNTERS: tuple[str, ...] = (
    "dma_transfers",     # transfers the engine started
    "dma_bytes_moved",   # bytes of those transfers
    "dma_queue_full",    # requests refused (DMA queue full)
)

#: Machine-wide counts: the NoC, DRAM and the fabric that delivers packets.
MACHINE_COUNTERS: tuple[str, ...] = (
    "dropped_packets",   # packets no route delivered, or that reached a PE without a program
    "copies_sent",       # packet copies sent: one per PE a route reaches, one more if part of it drops
    "deliveries",        # packet copies handed to destination PEs (one per packet per destination)
    "packets_routed",    # packets that entered the NoC (once per send, however many destinations)
    "packet_hops",       # packets x router-to-router links they crossed
    "dram_bytes_read",   # bytes DMA requests read from DRAM
    "dram_bytes_written",  # bytes DMA requests wrote to DRAM
)


class Counters:
    """Every count of one run of one machine. Besides the named counts, per PE: ``cycles_by_level[pe]``
    its busy cycles per performance level (a callback counts at the level it started at), and
    ``bracket_delta[pe]`` per phase the [nominal, low, high] cycles more it would have charged under
    each kernel cycle table (``ExecutionContext.book_bracket``; the latency bracket reads it)."""

    __slots__ = ("n_pes", "cycles_by_level", "bracket_delta") + PE_COUNTERS + DMA_COUNTERS + MACHINE_COUNTERS

    def __init__(self, n_pes: int):
        self.n_pes = n_pes
        for name in PE_COUNTERS + DMA_COUNTERS:
            setattr(self, name, [0] * n_pes)
        for name in MACHINE_COUNTERS:
            setattr(self, name, 0)
        self.cycles_by_level: list[dict[str, float]] = [{} for _ in range(n_pes)]
        self.bracket_delta: list[dict[str, list[float]]] = [{} for _ in range(n_pes)]

    # ---- reading ---------------------------------------------------------------------------------
    def array(self, name: str) -> np.ndarray:
        """A per-PE counter as an int64 array indexed by PE id."""
        if name not in PE_COUNTERS and name not in DMA_COUNTERS:
            raise KeyError(f"{name!r} is not a per-PE counter ({', '.join(PE_COUNTERS + DMA_COUNTERS)})")
        return np.asarray(getattr(self, name), dtype=np.int64)

    def total(self, name: str, pes: Iterable[int] | None = None) -> int:
        """A per-PE counter summed over ``pes`` (default: every PE), or a machine-wide count."""
        if name in MACHINE_COUNTERS:
            if pes is not None:
                raise KeyError(f"{name!r} is machine-wide: it has no per-PE values")
            return int(getattr(self, name))
        values = self.array(name)
        return int(values.sum() if pes is None else values[list(pes)].sum())

    def of(self, pe: int) -> dict[str, int]:
        """One PE's event counters by name (``PE_COUNTERS``)."""
        return {name: getattr(self, name)[pe] for name in PE_COUNTERS}

    def active_cycles(self, pe: int) -> float:
        """Busy cycles of ``pe`` over the whole run, at every level."""
        return sum(self.cycles_by_level[pe].values())

    def machine(self) -> dict[str, int]:
        """The machine-wide counts by name."""
        return {name: int(getattr(self, name)) for name in MACHINE_COUNTERS}

    # ---- one PE's share, as a value (``PeTimingState``) ----------------------------------------------
    def snapshot_pe(self, pe: int) -> tuple:
        return (tuple(getattr(self, name)[pe] for name in PE_COUNTERS), dict(self.cycles_by_level[pe]),
                {phase: list(d) for phase, d in self.bracket_delta[pe].items()})

    def restore_pe(self, pe: int, snap: tuple) -> None:
        values, by_level, bracket = snap
        for name, value in zip(PE_COUNTERS, values):
            getattr(self, name)[pe] = value
        # in place: the PE and its execution context book into these very dicts
        self.cycles_by_level[pe].clear()
        self.cycles_by_level[pe].update(by_level)
        self.bracket_delta[pe].clear()
        self.bracket_delta[pe].update({phase: list(d) for phase, d in bracket.items()})
