"""Host side of a simulation: build the chip, load firmware onto PEs, advance time.

This is what a host program does on a real board (load binaries, start, wait), so it is what
applications in ``firmware_models/*/app.py`` use to set up and drive their runs.
"""
from __future__ import annotations

import numpy as np

from .hw.chip import Chip, Recorder
from .hw.params import HwParams
from .machine import Machine
from .runtime.api import Core, Firmware, packet_hooks
from .runtime.cost import CostModel


class Simulation:
    def __init__(self, hw: HwParams, noc_fidelity: str = "burst", perf_level: str | None = None,
                 recorder: Recorder | None = None, record_timesteps: int | None = None,
                 kernel: str | None = None):
        """``kernel``: ``fast`` or ``exact`` (default: ``$S2SIM_KERNEL``, else ``fast``); both give
        bit-identical timing, ``exact`` skips the grouped hot paths (docs/simulation-model.md)."""
        self.hw = hw
        # the one-chip hardware model; apps, hosts and the profiler use it as ``machine`` (its
        # interface), only hardware tests reach into ``chip``
        # (a board of several chips, ``arch.board``, is the same machine with chip links: ``hw/board.py``)
        machine_class = Chip if hw.n_chips == 1 else _board_class()
        self.chip = machine_class(hw, noc_fidelity=noc_fidelity, perf_level=perf_level, recorder=recorder,
                                  record_timesteps=record_timesteps, kernel=kernel)
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
        pe = self.machine.pes[pe_id]
        if pe.firmware is not None:
            raise ValueError(f"PE {pe_id} already runs {type(pe.firmware).__name__}")
        pe.sram.reserve("code", self.hw.code_reserve_bytes, "code_stack")
        pe.sram.reserve("stack", self.hw.stack_reserve_bytes, "code_stack")
        core = Core(pe, self.cost)
        self.cores[pe_id] = core
        pe.load(firmware, core, packet_hooks(firmware))
        return core

    def store_dram(self, name: str, array: np.ndarray) -> None:
        """Host writes ``array`` into DRAM under ``name`` (no simulated cost: done before the run)."""
        self.machine.store_dram(name, array)

    def run_ticks(self, n_ticks: int) -> None:
        self.chip.run_ticks(n_ticks)

    @property
    def used_pes(self) -> list[int]:
        return sorted(self.cores)


def _board_class():
    from .hw.board import Board
    return Board
