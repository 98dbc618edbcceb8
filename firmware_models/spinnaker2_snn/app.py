"""Host program for py-spinnaker2-style networks (``s2sim.spinnaker2``): map each population onto
PEs, build every PE's synaptic rows, fill the routing tables, run, and collect spikes and voltages.

Neurons per PE: the population's ``max_atoms_per_core`` when set (py-spinnaker2's
``set_max_atoms_per_core``); otherwise the most that fit one PE's SRAM (after code and stack) and
whose worst-case tick (every presynaptic neuron and every neuron spiking) stays within the tick at
the run's performance level, as ``lif_inference.graph_app`` sizes NIR populations.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from s2sim.apps import AppResult, RunContext

from ..lif_inference.app import run_ticks_with_progress
from ..lif_inference.graph_app import PeBudget, route_and_load
from ..lif_inference.graph_firmware import RasterSource
from ..lif_inference.network import Slice
from .firmware import MODELS, S2NeuronCore, S2Rows, slice_sram_bytes, slice_worst_tick_cycles

MAX_ATOMS_PER_CORE = 4096  # a packet key keeps 16 bits for the neuron; SRAM binds long before


@dataclass
class PopSpec:
    """One population: ``model`` is ``spike_list`` (then ``raster`` [ticks, n] bool) or a key of
    ``firmware.MODELS`` (then ``params``: per-neuron float32 vectors)."""

    name: str
    model: str
    n: int
    raster: np.ndarray | None = None
    params: dict[str, np.ndarray] = field(default_factory=dict)
    reset_by_subtraction: bool = True
    max_atoms_per_core: int | None = None


@dataclass
class ProjSpec:
    """Synapses ``pre -> post``: parallel arrays (weights already quantised, delays 0 for _no_delay)."""

    pre: str
    post: str
    pre_idx: np.ndarray
    post_idx: np.ndarray
    weight: np.ndarray
    delay: np.ndarray


@dataclass
class Mapped:
    pops: list[PopSpec]
    projs: list[ProjSpec]
    slices: dict[str, list[Slice]]
    limits: dict[str, str]

    def pop(self, name: str) -> PopSpec:
        return next(p for p in self.pops if p.name == name)


def map_network(pops: list[PopSpec], projs: list[ProjSpec], n_pes: int, budget: PeBudget) -> Mapped:
    """Slices of every population, one PE each, in the order given; ValueError if the chip is too small."""
    slices, limits, pe = {}, {}, 0
    sends = {p.pre for p in projs}
    for index, pop in enumerate(pops):
        if pop.max_atoms_per_core is not None:
            per_pe, limits[pop.name] = min(pop.max_atoms_per_core, MAX_ATOMS_PER_CORE), "set_max_atoms_per_core"
        else:
            per_pe, limits[pop.name] = atoms_per_core(pop, projs, pops, budget, pop.name in sends)
        slices[pop.name] = [Slice(pe + k, index, start, min(pop.n, start + per_pe))
                            for k, start in enumerate(range(0, pop.n, per_pe))]
        pe += len(slices[pop.name])
    if pe > n_pes:
        raise ValueError(f"the network needs {pe} PEs but the chip has {n_pes}; raise set_max_atoms_per_core "
                         "or shrink the network")
    return Mapped(pops, projs, slices, limits)


def atoms_per_core(pop: PopSpec, projs: list[ProjSpec], pops: list[PopSpec], budget: PeBudget,
                   send: bool) -> tuple[int, str]:
    """The most neurons of ``pop`` one PE holds and the limit that binds (``population``, ``sram``,
    ``cycles``, ``sram and cycles``, ``key space``)."""
    if pop.model == "spike_list":
        def fits(k: int, syn: int) -> tuple[bool, bool]:
            cycles = budget.irq_cycles + budget.cost.cycles({"load": k + 1, "int_alu": k, "loop": k}) \
                + k * budget.send_packet_cycles
            return 64 <= budget.sram_bytes, cycles <= budget.tick_cycles
        syn_cum = np.zeros(pop.n + 1, np.int64)
    else:
        kind = MODELS[pop.model]
        incoming = [p for p in projs if p.post == pop.name]
        n_pre = sum(next(q.n for q in pops if q.name == pre) for pre in {p.pre for p in incoming})
        in_degree = np.bincount(np.concatenate([p.post_idx for p in incoming] or [np.zeros(0, np.int64)]),
                                minlength=pop.n)
        syn_cum = np.concatenate([[0], np.cumsum(in_degree)])

        def fits(k: int, syn: int) -> tuple[bool, bool]:
            cycles = slice_worst_tick_cycles(budget.cost, budget.irq_cycles, budget.send_packet_cycles, kind, k,
                                             syn, n_pre, send)
            return slice_sram_bytes(kind, k, syn, n_pre) <= budget.sram_bytes, cycles <= budget.tick_cycles

    failed = None
    for k in range(min(pop.n, MAX_ATOMS_PER_CORE), 0, -1):
        lo = np.arange(0, pop.n, k)
        ok_sram, ok_cycles = fits(k, int((syn_cum[np.minimum(lo + k, pop.n)] - syn_cum[lo]).max()))
        if ok_sram and ok_cycles:
            if failed is None:
                return k, "population" if k == pop.n else "key space"
            return k, {(False, True): "sram", (True, False): "cycles"}.get(failed, "sram and cycles")
        failed = (ok_sram, ok_cycles)
    if failed[0]:  # SRAM fits one neuron but its packets alone overrun the tick: the run shows it
        return 1, "sram (the worst-case tick overruns even at one neuron per PE)"
    raise ValueError(f"population '{pop.name}': even one neuron per PE needs more SRAM than the PE's "
                     f"{budget.sram_bytes} B free")


def rows_of_slice(mapped: Mapped, post: str, s: Slice) -> tuple[S2Rows, dict[int, int]]:
    """All synapses into slice ``s`` of ``post`` as rows over one presynaptic index space (each
    presynaptic population a block, several projections from it merged), and each source PE's
    first index in that space."""
    pre_idx, post_idx, weight, delay, row_base, offset = [], [], [], [], {}, 0
    for pre in dict.fromkeys(p.pre for p in mapped.projs if p.post == post):
        for src in mapped.slices[pre]:
            row_base[src.pe] = offset + src.start
        for p in (p for p in mapped.projs if p.post == post and p.pre == pre):
            keep = (p.post_idx >= s.start) & (p.post_idx < s.stop)
            pre_idx.append(p.pre_idx[keep] + offset)
            post_idx.append(p.post_idx[keep] - s.start)
            weight.append(p.weight[keep])
            delay.append(p.delay[keep])
        offset += mapped.pop(pre).n
    if not pre_idx:
        return S2Rows(np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32),
                      np.zeros(0, np.int32)), row_base
    pre_all = np.concatenate(pre_idx)
    order = np.argsort(pre_all, kind="stable")
    indptr = np.zeros(offset + 1, np.int64)
    np.cumsum(np.bincount(pre_all, minlength=offset), out=indptr[1:])
    return S2Rows(indptr, np.concatenate(post_idx)[order].astype(np.int32),
                  np.concatenate(weight)[order].astype(np.float32),
                  np.concatenate(delay)[order].astype(np.int32)), row_base


def place(ctx: RunContext, sim, mapped: Mapped) -> dict[int, object]:
    tick_ns = ctx.spec.run.tick_ns
    sends = {p.pre for p in mapped.projs}
    firmwares = {}
    for pop in mapped.pops:
        for s in mapped.slices[pop.name]:
            if pop.model == "spike_list":
                fw = RasterSource(pop.raster[:, s.start:s.stop], tick_ns, 0.0)
            else:
                rows, row_base = rows_of_slice(mapped, pop.name, s)
                params = {k: v[s.start:s.stop] for k, v in pop.params.items()}
                fw = S2NeuronCore(s.n, MODELS[pop.model], rows, row_base, params, pop.reset_by_subtraction,
                                  tick_ns, 0.0, send=pop.name in sends)
            firmwares[s.pe] = fw
    dests = {pop.name: {t.pe for p in mapped.projs if p.pre == pop.name for t in mapped.slices[p.post]}
             for pop in mapped.pops}
    route_and_load(sim, mapped.slices, dests, firmwares)
    return firmwares


def simulate(ctx: RunContext, mapped: Mapped, n_ticks: int) -> AppResult:
    """Run ``n_ticks`` ticks; ``result.arrays`` holds ``spikes_<pop>`` [ticks, n] and ``v_<pop>``."""
    sim = ctx.simulation()
    firmwares = place(ctx, sim, mapped)
    run_ticks_with_progress(ctx, sim, n_ticks, "spinnaker2 ticks")
    arrays, spikes = {}, {}
    for pop in mapped.pops:
        raster = np.zeros((n_ticks, pop.n), bool)
        v = np.zeros((n_ticks, pop.n), np.float32)
        for s in mapped.slices[pop.name]:
            fw = firmwares[s.pe]
            for t, fired in enumerate(fw.spikes[:n_ticks]):
                raster[t, s.start + fired] = True
            if pop.model != "spike_list" and fw.voltages:
                v[:, s.start:s.stop] = np.stack(fw.voltages[:n_ticks])
        arrays[f"spikes_{pop.name}"] = raster
        if pop.model != "spike_list":
            arrays[f"v_{pop.name}"] = v
        spikes[pop.name] = int(raster.sum())
    extra = {"populations": {p.name: {"model": p.model, "neurons": p.n, "pes": len(mapped.slices[p.name]),
                                      "neurons_per_pe": max(s.n for s in mapped.slices[p.name]),
                                      "limit": mapped.limits[p.name]} for p in mapped.pops},
             "synapses": int(sum(len(p.weight) for p in mapped.projs)),
             "spikes_per_population": spikes}
    result = AppResult(sim=sim, samples=1, timesteps=n_ticks, ticks_per_sample=n_ticks, extra=extra)
    result.mapped, result.arrays = mapped, arrays
    return result
