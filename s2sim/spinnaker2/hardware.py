"""py-spinnaker2's ``hardware`` module: ``SpiNNaker2Chip(eth_ip=...).run(net, timesteps, ...)``.

The chip is s2sim's simulated SpiNNaker2 (``s2sim.hardware.Chip`` underneath: arch, overrides,
performance level); ``eth_ip`` is accepted and ignored (said once). Each population runs as
firmware on its PEs (``firmware_models/spinnaker2_snn``), so a run fills the recordables
(``spikes``, ``v``, ``time_done``, ``n_packets``) and prints s2sim's profile: time_done per PE,
packets, SRAM and energy. ``run`` also returns the full summary dict (``s2sim run``'s
``summary.json``).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import hardware as s2hardware
from .errors import SpiNNaker2Error
from .report import print_profile
from .snn import Network, say_once

__all__ = ["SpiNNaker2Chip", "SpiNNcloud48NodeBoard"]


class SpiNNaker2Chip(s2hardware.Chip):
    """One simulated SpiNNaker2 chip. ``eth_ip``: the board's address on the real system (ignored).
    s2sim's own knobs: ``arch``, ``performance_level``, ``out_dir`` (write summary.json and
    timesteps.csv), arch ``overrides``."""

    def __init__(self, eth_ip: str | None = None, arch: str = "spinnaker2", performance_level: str | None = None,
                 out_dir: str | Path | None = None, **overrides: Any):
        if "experiment_backend_type" in overrides or "stm_ip" in overrides:
            bad = sorted(k for k in ("experiment_backend_type", "stm_ip") if k in overrides)
            raise SpiNNaker2Error(f"hardware.SpiNNaker2Chip: argument(s) {bad} are not supported by s2sim "
                                  "(there is one simulated chip); pass eth_ip or nothing")
        super().__init__(arch=arch, performance_level=performance_level, **overrides)
        self.out_dir = out_dir
        self.summary: dict | None = None
        if eth_ip is not None:
            say_once(f"eth_ip {eth_ip!r} ignored: s2sim simulates the chip")

    def run(self, net: Network, timesteps: int, sys_tick_in_s: float = 1.0e-3, debug: bool = False,
            **unsupported: Any) -> dict:
        """Simulate ``timesteps`` ticks of ``sys_tick_in_s``, fill every population's recordings,
        print the profile (per PE with ``debug``) and return the summary."""
        from firmware_models.lif_inference.graph_app import PeBudget
        from firmware_models.spinnaker2_snn.app import map_network, simulate

        if unsupported:
            raise SpiNNaker2Error(f"hardware.SpiNNaker2Chip.run: argument(s) {sorted(unsupported)} are not "
                                  "supported by s2sim; expected net, timesteps, sys_tick_in_s, debug")
        if not isinstance(net, Network):
            raise SpiNNaker2Error("hardware.SpiNNaker2Chip.run: net must be an s2sim.spinnaker2.snn.Network")
        if int(timesteps) < 1 or not sys_tick_in_s > 0:
            raise SpiNNaker2Error(f"hardware.SpiNNaker2Chip.run: timesteps {timesteps} and sys_tick_in_s "
                                  f"{sys_tick_in_s} must be positive")
        timesteps = int(timesteps)
        pops, projs = self._specs(net, timesteps)
        label = f"SpiNNaker2Chip.run({net.name})"
        ctx = self.run_context(net.name, label, timesteps, sys_tick_in_s, self.out_dir, package="spinnaker2")
        budget = PeBudget.of(ctx.hw, ctx.spec.run.tick_ns, self.performance_level)
        try:
            mapped = map_network(pops, projs, ctx.hw.n_pes, budget)
        except ValueError as err:
            raise SpiNNaker2Error(f"{label}: {err}") from None
        t0 = time.perf_counter()
        result = simulate(ctx, mapped, timesteps)
        self._fill(net, result, timesteps)
        self.summary = self.run_summary(ctx, net.name, result, timesteps, time.perf_counter() - t0)
        print_profile(self.summary, result, per_pe=debug)
        return self.summary

    @staticmethod
    def _specs(net: Network, timesteps: int):
        from firmware_models.spinnaker2_snn.app import PopSpec, ProjSpec

        names = [p.name for p in net.populations]
        if len(set(names)) != len(names):
            raise SpiNNaker2Error(f"network '{net.name}': population names must be unique, got {names}")
        pops = []
        for p in net.populations:
            if p.neuron_model == "spike_list":
                pops.append(PopSpec(p.name, p.neuron_model, p.size, raster=p.spike_raster(timesteps),
                                    max_atoms_per_core=p.max_atoms_per_core))
            else:
                params, subtract = p.neuron_params()
                pops.append(PopSpec(p.name, p.neuron_model, p.size, params=params, reset_by_subtraction=subtract,
                                    max_atoms_per_core=p.max_atoms_per_core))
        projs = []
        for proj in net.projections:
            if proj.pre not in net.populations or proj.post not in net.populations:
                raise SpiNNaker2Error(f"projection '{proj.name}': add both populations to the network first")
            projs.append(ProjSpec(proj.pre.name, proj.post.name, proj.pre_idx, proj.post_idx, proj.weight,
                                  proj.delay))
        return pops, projs

    @staticmethod
    def _fill(net: Network, result, timesteps: int) -> None:
        """Every population's recordables: spikes {neuron: [ticks]}, v {neuron: [per tick]}, and per PE
        time_done (ns from the tick's start until the PE finished) and n_packets (received)."""
        stats, slices = result.sim.machine.stats, result.mapped.slices
        done, packets = stats.time_done_ns[:timesteps], stats.packets_in[:timesteps]
        for pop in net.populations:
            spikes, v = result.arrays[f"spikes_{pop.name}"], result.arrays.get(f"v_{pop.name}")
            pes = [s.pe for s in slices[pop.name]]
            pop._results = {
                "spikes": {i: np.flatnonzero(spikes[:, i]).tolist() for i in range(pop.size)},
                "v": {} if v is None else {i: v[:, i].tolist() for i in range(pop.size)},
                "time_done": {pe: done[:, pe].tolist() for pe in pes},
                "n_packets": {pe: packets[:, pe].astype(int).tolist() for pe in pes},
            }


class SpiNNcloud48NodeBoard:
    """The 48-node board: not in s2sim yet (issue 24)."""

    def __init__(self, *args, **kwargs):
        raise SpiNNaker2Error("hardware.SpiNNcloud48NodeBoard: s2sim does not model the 48-node board yet "
                              "(issue 24); use hardware.SpiNNaker2Chip() for a one-chip network")
