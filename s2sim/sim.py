"""Host side of a simulation: build the chip, load firmware onto PEs, advance time.

This is what a host program does on a real board (load binaries, start, wait), so it is what
applications in ``firmware_models/*/app.py`` use to set up and drive their runs.
"""
from __future__ import annotations

import numpy as np

from . import mpi
from .hw.chip import Chip, Recorder
from .hw.params import HwParams
from .machine import Machine
from .runtime.api import Core, Firmware, packet_hooks
from .runtime.cost import CostModel


class Simulation:
    def __init__(self, hw: HwParams, noc_fidelity: str = "burst", perf_level: str | None = None,
                 recorder: Recorder | None = None, record_timesteps: int | None = None,
                 kernel: str | None = None):
        """``kernel``: ``counted``, ``fast`` or ``exact`` (default: ``$S2SIM_KERNEL``, else ``counted``);
        all give bit-identical timing: ``exact`` skips the grouped hot paths, ``counted`` runs windows
        of ticks in a compiled loop where it models the run (docs/simulation-model.md)."""
        self.hw = hw
        # the one-chip hardware model; apps, hosts and the profiler use it as ``machine`` (its
        # interface), only hardware tests reach into ``chip``
        # (a board of several chips, ``arch.board``, is the same machine with chip links: ``hw/board.py``)
        # (under MPI with several ranks, this rank's share of the board: ``hw/board_mpi.py``)
        kwargs = dict(noc_fidelity=noc_fidelity, perf_level=perf_level, recorder=recorder,
                      record_timesteps=record_timesteps, kernel=kernel)
        comm = mpi.world()
        if comm is not None:
            from .hw.board_mpi import MpiBoard, MpiSplitError
            if hw.n_chips == 1:
                raise MpiSplitError(f"{comm.Get_size()} MPI ranks split a board's chips: set arch.board.chips_x/chips_y "
                                    f"(this machine is one chip)")
            self.chip = MpiBoard(hw, comm, **kwargs)
        else:
            self.chip = (Chip if hw.n_chips == 1 else _board_class())(hw, **kwargs)
        self.machine: Machine = self.chip
        self.cost = CostModel(hw.core_cycles, hw.kernel_cycles, hw.kernel_cycles_bracket)
        self.cores: dict[int, Core] = {}

    @property
    def env(self):
        return self.machine.env

    def load(self, pe_id: int, firmware: Firmware) -> Core:
        """Place ``firmware`` on PE ``pe_id``: reserve code and stack, then run its ``on_start``."""
        if not 0 <= pe_id < self.hw.n_pes:
            raise ValueError(f"PE {pe_id} does not exist; this machine has PEs 0..{self.hw.n_pes - 1}")
        if not self.owns(pe_id):
            raise ValueError(f"PE {pe_id} runs on another MPI rank and this network's firmware does not split over "
                             "ranks (LIF inference does: it loads only the PEs a rank owns, Simulation.owns); run it "
                             "in one process, without --ranks")
        pe = self.machine.pes[pe_id]
        if pe.firmware is not None:
            raise ValueError(f"PE {pe_id} already runs {type(pe.firmware).__name__}")
        pe.sram.reserve("code", self.hw.code_reserve_bytes, "code_stack")
        pe.sram.reserve("stack", self.hw.stack_reserve_bytes, "code_stack")
        core = Core(pe, self.cost)
        self.cores[pe_id] = core
        pe.load(firmware, core, packet_hooks(firmware))
        return core

    def owns(self, pe_id: int) -> bool:
        """Whether this process runs PE ``pe_id`` (always, but under MPI: the PEs of this rank's chips).
        Hosts load firmware only on the PEs they own, and fill every routing table."""
        owns = getattr(self.machine, "owns", None)
        return True if owns is None else owns(pe_id)

    @property
    def is_root(self) -> bool:
        """The process that reports (always, but under MPI: rank 0)."""
        return getattr(self.machine, "rank", 0) == 0

    def gather(self, firmware_fields: tuple[str, ...] = ()) -> dict[int, Firmware]:
        """After a run: {PE id: firmware} of every used PE. Under MPI, rank 0 receives the other ranks'
        PEs (their stats, counters, timing and the firmware fields named), so its machine and
        ``used_pes`` show the whole board as one process would; a remote PE's firmware is a stand-in
        holding ``firmware_fields``. In one process: the loaded firmwares, nothing moves."""
        gather = getattr(self.machine, "gather", None)
        if gather is None:
            return {pe: self.machine.pes[pe].firmware for pe in self.used_pes}
        firmwares = gather(firmware_fields)
        for pe in firmwares:
            self.cores.setdefault(pe, None)  # a remote PE: no Core here
        return firmwares

    def store_dram(self, name: str, array: np.ndarray, copy_per_chip: bool = False) -> None:
        """Host writes ``array`` into DRAM under ``name`` (no simulated cost: done before the run).
        On a board every chip's DRAM holds it; ``copy_per_chip``: each chip its own copy, so what a
        PE writes there is seen only by its own chip's PEs (data that must cross chips by link)."""
        if copy_per_chip and self.hw.n_chips > 1:
            self.machine.store_dram_per_chip(name, array)
        else:
            self.machine.store_dram(name, array)

    def run_ticks(self, n_ticks: int) -> None:
        self.chip.run_ticks(n_ticks)

    @property
    def used_pes(self) -> list[int]:
        return sorted(self.cores)


def _board_class():
    from .hw.board import Board
    return Board
