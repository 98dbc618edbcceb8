"""The simulated chip for the Python API (``s2sim.snn``): ``Chip(arch=...).run(net, timesteps)``.

A run is the same simulation ``s2sim run`` does for a NIR graph (``graph_app.simulate``): the
network is lowered to populations and synaptic rows, mapped ``max_atoms_per_core`` neurons per PE
(None: as many as fit a PE's SRAM and worst-case tick), and run as LIF inference firmware;
``run`` returns the usual summary (latency, memory, energy).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from .snn import Network, SnnError

__all__ = ["Chip"]


class Chip:
    def __init__(self, arch: str = "spinnaker2", max_atoms_per_core: int | None = None,
                 performance_level: str | None = None, **overrides: Any):
        """``overrides``: nested arch values, as a network file's ``arch_overrides``."""
        self.arch, self.overrides = arch, overrides
        self.max_atoms_per_core, self.performance_level = max_atoms_per_core, performance_level

    def run(self, net: Network, timesteps: int, sys_tick_in_s: float = 1e-3,
            out_dir: str | Path | None = None) -> dict:
        """Simulate ``timesteps`` ticks, fill the populations' recordings, return the summary.

        ``out_dir``: also write ``summary.json``, ``timesteps.csv`` and ``nir_output.npz`` there.
        """
        from firmware_models.lif_inference.graph_app import NirMapping, PeBudget, dense_inputs, map_graph, simulate

        if timesteps < 1 or sys_tick_in_s <= 0:
            raise SnnError(f"run: timesteps {timesteps} and sys_tick_in_s {sys_tick_in_s} must be positive")
        label = f"Chip.run({net.name})"
        ctx = self.run_context(net.name, label, timesteps, sys_tick_in_s, out_dir)
        graph = net.lowered(sys_tick_in_s)
        inputs = net.inputs(timesteps, graph)
        budget = PeBudget.of(ctx.hw, ctx.spec.run.tick_ns, self.performance_level)
        try:
            mapped = map_graph(graph, NirMapping(max_atoms_per_core=self.max_atoms_per_core), ctx.hw.n_pes, budget,
                               dense_inputs(inputs))
        except ValueError as err:
            raise SnnError(f"{label}: {err}") from None
        t0 = time.perf_counter()
        result = simulate(ctx, mapped, inputs, timesteps)
        if net._nir is not None:  # a NIR graph: say how its dynamics were discretised
            _, method, dt_s = net._nir
            result.extra = {"discretisation": method, "dt_ns": (dt_s or sys_tick_in_s) * 1e9} | result.extra
        self._fill(net, result, timesteps)
        return self.run_summary(ctx, net.name, result, timesteps, time.perf_counter() - t0)

    def run_context(self, name: str, label: str, timesteps: int, sys_tick_in_s: float,
                    out_dir: str | Path | None, package: str = "nir"):
        """The ``RunContext`` of a Python-API run (also used by ``s2sim.spinnaker2``): this chip's
        arch and overrides, ``timesteps`` ticks of ``sys_tick_in_s``; ``label`` names it in errors."""
        from .apps import RunContext
        from .config import NetworkFile, validate_section
        from .config.arch_loader import load_arch_layers
        from .config.network import LoadedNetwork
        from .hw.params import HwParams

        raw = {"name": name, "arch": self.arch, "firmware": {"package": package},
               "arch_overrides": self.overrides,
               "run": {"tick_ns": float(sys_tick_in_s * 1e9), "ticks": int(timesteps), "progress": False,
                       "performance_level": self.performance_level}}
        spec = validate_section(NetworkFile, raw, label, "")
        layers = [(self.overrides, label, label, "overrides")] if self.overrides else []
        loaded = LoadedNetwork(file=Path(label), raw=raw, spec=spec, arch=load_arch_layers(self.arch, layers))
        ctx = RunContext(loaded=loaded, hw=HwParams.from_arch(loaded.arch), out_dir=Path(out_dir) if out_dir else None,
                         progress=lambda label, total: (lambda n=1: None))
        if ctx.out_dir is not None:
            ctx.out_dir.mkdir(parents=True, exist_ok=True)
        return ctx

    @staticmethod
    def run_summary(ctx, name: str, result, timesteps: int, wall_time_s: float) -> dict:
        """The run's summary (latency, memory, energy), also written to ``ctx.out_dir`` if set."""
        from .profile.summary import build_summary, write_json_atomic, write_timesteps_csv

        loaded = ctx.loaded
        summary = build_summary(result.sim, network=name, arch_name=loaded.arch.name, config=loaded.resolved(),
                                seed=0, samples=1, timesteps=timesteps, tick_ns=ctx.spec.run.tick_ns,
                                wall_time_s=wall_time_s, arch=loaded.arch, extra=result.extra)
        if ctx.out_dir is not None:
            write_timesteps_csv(result.sim, ctx.out_dir / "timesteps.csv")
            write_json_atomic(summary, ctx.out_dir / "summary.json")
        return summary

    @staticmethod
    def _fill(net: Network, result, timesteps: int) -> None:
        stats, mapped = result.sim.machine.stats, result.mapped
        done, packets = stats.time_done_ns[:timesteps], stats.packets_in[:timesteps]
        for pop in net.populations:
            spikes = result.arrays.get(f"spikes_{pop.name}")
            v = result.arrays.get(f"v_{pop.name}")
            pes = [s.pe for s in mapped.slices[pop.name]]
            pop._results = {
                "spikes": {} if spikes is None else {i: np.flatnonzero(spikes[:, i]).tolist()
                                                     for i in range(pop.size)},
                "v": {} if v is None else {i: v[:, i].tolist() for i in range(pop.size)},
                "time_done": {pe: done[:, pe].tolist() for pe in pes},
                "n_packets": {pe: packets[:, pe].astype(int).tolist() for pe in pes},
            }
