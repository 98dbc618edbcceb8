"""Per-(timestep, PE) counters: what ``timesteps.csv`` and the latency report are built from.

Rows grow on demand; recording is a few array writes per callback, cheap enough to be always on.
"""
from __future__ import annotations

import numpy as np


class TickStats:
    def __init__(self, n_pes: int, rows: int = 64):
        self.n_pes = n_pes
        self.n_rows = 0  # highest tick index seen + 1
        self.time_done_ns = np.zeros((rows, n_pes))
        self.busy_cycles = np.zeros((rows, n_pes))
        self.packets_in = np.zeros((rows, n_pes), dtype=np.int64)
        self.packets_out = np.zeros((rows, n_pes), dtype=np.int64)
        self.phase_cycles: dict[str, np.ndarray] = {}

    def _ensure(self, row: int) -> None:
        if row >= self.time_done_ns.shape[0]:
            new = max(row + 1, 2 * self.time_done_ns.shape[0])
            for name in ("time_done_ns", "busy_cycles", "packets_in", "packets_out"):
                old = getattr(self, name)
                grown = np.zeros((new, self.n_pes), dtype=old.dtype)
                grown[: old.shape[0]] = old
                setattr(self, name, grown)
            for phase, old in self.phase_cycles.items():
                grown = np.zeros((new, self.n_pes))
                grown[: old.shape[0]] = old
                self.phase_cycles[phase] = grown
        if row >= self.n_rows:
            self.n_rows = row + 1

    def work(self, row: int, pe: int, done_ns: float, phases: dict[str, float]) -> None:
        """Record one callback of tick ``row`` on ``pe`` ending ``done_ns`` after the tick started."""
        self.add_row(row, pe, done_ns, phases, 0, 0)

    def add_row(self, row: int, pe: int, done_ns: float, phases: dict[str, float],
                packets_in: int, packets_out: int) -> None:
        """Merge what a PE accumulated for one timestep (see ``PE.flush_row``)."""
        if row < 0:
            return
        self._ensure(row)
        if done_ns > self.time_done_ns[row, pe]:
            self.time_done_ns[row, pe] = done_ns
        total = 0.0
        for phase, cycles in phases.items():
            arr = self.phase_cycles.get(phase)
            if arr is None:
                arr = self.phase_cycles[phase] = np.zeros(self.time_done_ns.shape)
            arr[row, pe] += cycles
            total += cycles
        self.busy_cycles[row, pe] += total
        self.packets_in[row, pe] += packets_in
        self.packets_out[row, pe] += packets_out

    def packet_in(self, row: int, pe: int, n: int = 1) -> None:
        if row >= 0:
            self._ensure(row)
            self.packets_in[row, pe] += n

    def packet_out(self, row: int, pe: int, n: int = 1) -> None:
        if row >= 0:
            self._ensure(row)
            self.packets_out[row, pe] += n

    def view(self, rows: slice | None = None) -> dict[str, np.ndarray]:
        rows = rows or slice(0, self.n_rows)
        out = {"time_done_ns": self.time_done_ns[rows], "busy_cycles": self.busy_cycles[rows],
               "packets_in": self.packets_in[rows], "packets_out": self.packets_out[rows]}
        for phase, arr in self.phase_cycles.items():
            out[f"cycles_{phase}"] = arr[rows]
        return out
