"""The ``Machine`` interface: what hosts, apps and the profiler may use of the simulated hardware.

Everything outside ``s2sim/hw`` reads the machine through this interface (``Simulation.machine``),
never through the one-chip model's internals, so a board of several chips (or a compiled counted
kernel) can stand behind it: PEs are numbered machine-wide, the counters are one record
(``s2sim.hw.counters.Counters``) and the per-timestep stats one table (``s2sim.hw.tickstats.TickStats``).
``s2sim.hw.chip.Chip`` implements it for one chip, ``s2sim.hw.board.Board`` for a board of chips
(``arch.board``), which adds ``n_chips``, ``chip_of(pe)`` and ``link_load()`` (chip-to-chip traffic).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from .hw.counters import Counters
    from .hw.params import HwParams, PerfLevel
    from .hw.sram import Sram
    from .hw.tickstats import TickStats


class Routing(Protocol):
    """The multicast routing tables: where a key sent by a PE goes."""

    def add_multicast(self, key: int, mask: int, src_pe: int, dest_pes: Sequence[int]) -> None:
        """Fill the tables so packets whose key matches ``key``/``mask`` from ``src_pe`` reach ``dest_pes``."""


class MachinePE(Protocol):
    """What a host may read of one PE (its counters are in ``Machine.counters``, by ``id``)."""

    id: int
    sram: "Sram"
    level: "PerfLevel"  # the performance level it runs at now
    firmware: Any  # the program loaded here, or None

    def close_levels(self, end_ns: float) -> dict[str, float]:
        """Time spent at each performance level up to ``end_ns``."""

    @property
    def tasks_outstanding(self) -> int:
        """Queueable tasks queued or running."""

    @property
    def phase_cycles_total(self) -> dict[str, float]:
        """Cycles per phase over the whole run."""

    def ticks_not_finished(self) -> list[int]:
        """Ticks that fired but whose callback had not finished when the run stopped."""

    def work_left(self, now_ns: float) -> dict[str, int]:
        """Work queued or running at ``now_ns`` (timer ticks, tasks, handlers, DMA requests): at the end
        of a run, what it stopped before finishing."""


@runtime_checkable
class Machine(Protocol):
    """One simulated machine: its PEs (ids machine-wide), routing, counters and per-timestep stats."""

    p: "HwParams"  # the hardware parameters
    pes: Sequence[MachinePE]  # indexed by PE id
    counters: "Counters"  # every count of the run, one record (``s2sim.hw.counters``)
    stats: "TickStats"  # per (timestep, PE) time done, busy cycles, packets, phases
    env: Any  # the SimPy environment (``env.now``: simulated time in ns)
    kernel: str  # the simulation kernel running it (``fast``, ``exact`` or ``counted``)
    fidelity: str  # packet delivery fidelity (``burst`` or ``packet``)
    perf_level_name: str  # the performance level PEs start at
    dvfs_policy: Any  # None (fixed level) or an object with ``choose(pe, tick) -> level name``

    @property
    def routing(self) -> Routing:
        """The multicast routing tables."""

    def used_pes(self) -> list:
        """The PEs that run a program (the others are powered off)."""

    def flush_stats(self) -> None:
        """Merge the timesteps PEs are still accumulating into ``stats`` (``run_ticks`` does it at its end)."""

    def store_dram(self, name: str, array: "np.ndarray") -> None:
        """Host writes ``array`` into DRAM under ``name`` (before the run: no simulated cost)."""

    def kernel_report(self) -> dict:
        """What the simulation kernel did, for the summary's ``simulator`` section (the counted kernel:
        windows and ticks on each path, and why it fell back; {} for the event-driven kernels)."""
