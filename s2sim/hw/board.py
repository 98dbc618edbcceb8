"""A board of chips as one machine: every chip's PEs on one schedule, joined by chip-to-chip links.

The chips share one SimPy environment and one event queue, so the board is a ``Chip`` whose PEs are
numbered machine-wide (``chip * pes_per_chip + local``; a multicast key ``pe << 16`` names its source
PE board-wide) and whose network is ``BoardNoC`` (each chip's mesh plus the chip links). What is
per chip stays per chip: each chip has its own DRAM (a PE's DMA reaches its own chip's DRAM; the
host writes a buffer into every chip's DRAM), its own baseline power (``energy.py``), and its own
routing tables (routers are named by chip). Hosts, apps and the profiler see one ``Machine``.
With ``board.chips_x = chips_y = 1`` none of this is used: ``s2sim.sim`` builds a plain ``Chip``.
"""
from __future__ import annotations

from .board_layout import BoardLayout
from .board_noc import BoardNoC
from .chip import Chip
from .dram import Dram
from .params import HwParams


class Board(Chip):
    """Chips on a board (``arch.board``), one machine; see the module docstring."""

    def __init__(self, p: HwParams, **kwargs):
        super().__init__(p, **kwargs)
        self.layout = BoardLayout(p)
        self.noc = BoardNoC(p, self.counters, self.layout)
        self.drams = [Dram(p) for _ in range(p.n_chips)]
        self.dram = self.drams[0]
        for dma in self.dmas:
            dma.dram = self.drams[dma.pe.id // p.pes_per_chip]

    @property
    def n_chips(self) -> int:
        return self.layout.n_chips

    def chip_of(self, pe_id: int) -> int:
        return pe_id // self.p.pes_per_chip

    def set_timer(self, pe, period_ns: float, phase_ns: float = 0.0) -> None:
        if self.noc.tick_ns is None:  # chip-link loads are binned by the first timer period set
            self.noc.tick_ns = period_ns
        super().set_timer(pe, period_ns, phase_ns)

    def store_dram(self, name: str, array) -> None:
        """Host writes ``array`` into every chip's DRAM (each chip's PEs read their own)."""
        for dram in self.drams:
            dram.store(name, array)

    def store_dram_per_chip(self, name: str, array) -> None:
        """Host writes a copy of ``array`` into each chip's DRAM: a PE's write there stays on its chip."""
        for dram in self.drams:
            dram.store(name, array.copy())

    # ---- what the profiler reads of a board ------------------------------------------------------
    def link_load(self) -> dict:
        """Chip-to-chip traffic: packets per directed link, in total and per timestep."""
        noc = self.noc
        return {"links": {link: n for link, n in sorted(noc.link_packets.items())},
                "per_tick": {link: dict(sorted(ticks.items())) for link, ticks in sorted(noc.link_tick_packets.items())},
                "crossings": noc.chip_link_crossings, "tick_ns": noc.tick_ns,
                "packet_ns": noc.link_ser_ns}
