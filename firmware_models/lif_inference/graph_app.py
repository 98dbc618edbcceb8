"""Host program for an imported NIR graph: lower it, map populations onto PEs, replay the input.

Network file sections it reads::

    model:   {nir: path.nir, input: spikes.npz, discretisation: null, dt_ns: null, exporter: null}  # paths: relative to the file
    mapping: {max_atoms_per_core: null, first_pe: 0, pes_per_chip: null}

``input.npz`` holds ``input``, ``[ticks, n_in]``, for a graph with one Input node, or one array per
Input node under the node's name: a spike raster (only 0 and 1) or dense real values (any other
values; sent as payload packets, see ``graph_firmware.DenseSource``). The run writes
``nir_output.npz`` (``spikes_<pop>`` ``[ticks, n]`` and ``v_<pop>``) into the run folder and spike
counts per population into the summary.

Neurons per PE: ``mapping.max_atoms_per_core`` when set; otherwise, per population, the most that
fit one PE's SRAM (after code and stack) and whose worst-case tick (every presynaptic neuron and
every neuron spiking) stays within ``dvfs_policy.deadline_fraction`` of the tick's cycles at the run's
performance level. The summary's ``app.populations`` says which limit bound each population.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from s2sim.apps import AppError, AppResult, RunContext
from s2sim.nir_import import LoweredGraph, NirError, lower, read_graph, resolve_step
from s2sim.runtime.cost import CostModel

from .app import run_ticks_with_progress
from .graph_firmware import DenseSource, NeuronCore, RasterSource, slice_sram_bytes, slice_worst_tick_cycles
from .graph_placement import ChipGrid, place_populations
from .network import KEY_MASK, KEY_SHIFT, Slice, SynapticRows
from .params import LifFirmwareParams


#: the app sections it reads (s2sim.apps.check_app refuses the others, so a ``--set network.*``,
#: ``training.*``, ``dataset.*`` or ``firmware.params.*`` on a NIR graph is an error, not a silent no-op)
SECTIONS = ("mapping",)

MAX_ATOMS_PER_CORE = 4096  # a packet key keeps 16 bits for the neuron; SRAM binds long before


class NirModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nir: str = Field(min_length=1, description="NIR graph file (.nir, HDF5)")
    input: str | None = Field(None, description="npz with the input spike raster(s); None = <model>.npz")
    discretisation: Literal["exact", "euler"] | None = Field(
        None, description="exact: exponential decay per tick; euler: forward Euler (snnTorch's); "
        "None = the graph's metadata, else exact")
    dt_ns: float | None = Field(None, gt=0, description="integration step of the graph's dynamics; None = "
                                "the graph's metadata 'dt', else tau / r of its neurons (snnTorch's export), "
                                "else an error (docs/nir.md)")
    exporter: Literal["norse"] | None = Field(
        None, description="norse: undo Norse's export conventions (tau written as dt*tau, synaptic input "
        "unscaled); None = the graph's metadata says, else NIR's equations as written")


class NirMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_atoms_per_core: int | None = Field(
        None, ge=1, le=MAX_ATOMS_PER_CORE, description="Neurons of one population per PE; None = as many as "
        "fit a PE's SRAM and worst-case tick cycles")
    first_pe: int = Field(0, ge=0)
    pes_per_chip: int | None = Field(
        None, ge=1, description="On a board (arch.board): use at most this many PEs of each chip, so a "
        "graph spreads over more chips (None: every PE of a chip; populations go where they add the fewest "
        "chip crossings)")


@dataclass
class PeBudget:
    """What one PE offers a slice: SRAM left after code and stack, and cycles per tick."""

    sram_bytes: int
    tick_cycles: float
    cost: CostModel
    irq_cycles: float
    send_packet_cycles: float

    @classmethod
    def of(cls, hw, tick_ns: float, performance_level: str | None) -> "PeBudget":
        clock_mhz = hw.perf_level(performance_level).clock_mhz
        return cls(hw.sram_bytes - hw.code_reserve_bytes - hw.stack_reserve_bytes,
                   tick_ns * clock_mhz * 1e-3 * hw.dvfs_deadline_fraction,
                   CostModel(hw.core_cycles, hw.kernel_cycles), hw.irq_entry_cycles + hw.irq_exit_cycles,
                   hw.send_packet_cycles)


@dataclass
class MappedGraph:
    graph: LoweredGraph
    slices: dict[str, list[Slice]]  # population -> its PE slices (Slice.layer = population index)
    limits: dict[str, str] = field(default_factory=dict)  # population -> what set its neurons per PE

    @property
    def pes(self) -> list[int]:
        return [s.pe for sl in self.slices.values() for s in sl]


def map_graph(graph: LoweredGraph, mapping: NirMapping, n_pes: int, budget: PeBudget,
              dense_inputs: frozenset[str] = frozenset(), chips: ChipGrid | None = None) -> MappedGraph:
    """Split each population into slices of ``max_atoms_per_core`` neurons (or, unset, as many as
    ``budget`` allows), one PE each. ``dense_inputs``: Input nodes fed dense values (payload packets).
    ``chips``: a board's chips, populations placed the fewest chip crossings first (``graph_placement``);
    None: one chip of ``n_pes`` PEs, slices in graph order from ``mapping.first_pe``."""
    sizes, cuts, limits = [], {}, {}
    for pop in graph.populations:
        if mapping.max_atoms_per_core is not None:
            per_pe, limits[pop.name] = mapping.max_atoms_per_core, "mapping.max_atoms_per_core"
        else:
            per_pe, limits[pop.name] = atoms_per_core(graph, pop.name, budget, dense_inputs)
        cuts[pop.name] = [(start, min(pop.n, start + per_pe)) for start in range(0, pop.n, per_pe)]
        sizes.append((pop.name, pop.n, len(cuts[pop.name])))
    if chips is None:
        chips = ChipGrid(1, n_pes, (max(0, n_pes - mapping.first_pe),), (mapping.first_pe,), lambda a, b: 0)
    try:
        pes = place_populations(sizes, [(p.pre, p.post) for p in graph.projections], chips)
    except ValueError as err:
        how = (f"at {mapping.max_atoms_per_core} neurons per PE" if mapping.max_atoms_per_core
               else "at the neurons per PE that fit SRAM and the tick")
        raise ValueError(f"{err} ({how}"
                         + ("; raise mapping.max_atoms_per_core)" if mapping.max_atoms_per_core else
                            "; lengthen the tick or raise the clock)")) from None
    slices, index = {}, mapping.first_pe
    for layer, pop in enumerate(graph.populations):
        slices[pop.name] = []
        for pe, (start, stop) in zip(pes[pop.name], cuts[pop.name]):
            slices[pop.name].append(Slice(pe, layer, start, stop, index))  # index: its one-chip PE
            index += 1
    return MappedGraph(graph, slices, limits)


def atoms_per_core(graph: LoweredGraph, name: str, budget: PeBudget,
                   dense_inputs: frozenset[str] = frozenset()) -> tuple[int, str]:
    """The most neurons of population ``name`` one PE holds, and the limit that binds: ``sram``,
    ``cycles`` (worst-case tick), ``population`` (all of it fits) or ``key space``."""
    pop = graph.population(name)
    syn_cum = pay_cum = np.zeros(pop.n + 1, np.int64)  # cumulative synapses (and those fed by payloads)
    if pop.kind == "Input":  # a source keeps 64 B of state (+ a double-buffered row if dense) and sends
        dense = name in dense_inputs

        def fits(k: int, syn: int, pay: int) -> tuple[bool, bool]:
            # the scan of a dense row, or RasterSource's per-spike load/add; then a packet per neuron
            scan = {"load": k, "fcmp": k, "loop": k} if dense else {"load": k + 1, "int_alu": k, "loop": k}
            cycles = budget.irq_cycles + budget.cost.cycles(scan) + k * budget.send_packet_cycles
            return 64 + (8 * k if dense else 0) <= budget.sram_bytes, cycles <= budget.tick_cycles
    else:
        incoming = [p for p in graph.projections if p.post == name]
        n_pre = sum(p.weight.shape[1] for p in incoming)
        in_degree = sum((np.diff(p.weight.indptr) for p in incoming), np.zeros(pop.n, np.int64))
        payload_degree = sum((np.diff(p.weight.indptr) for p in incoming if p.pre in dense_inputs),
                             np.zeros(pop.n, np.int64))
        syn_cum = np.concatenate([[0], np.cumsum(in_degree)])
        pay_cum = np.concatenate([[0], np.cumsum(payload_degree)])
        has_syn, send = pop.a_syn is not None, any(p.pre == name for p in graph.projections)

        def fits(k: int, syn: int, pay: int) -> tuple[bool, bool]:
            sram = slice_sram_bytes(k, syn, n_pre, has_syn, pop.spiking)
            cycles = slice_worst_tick_cycles(budget.cost, budget.irq_cycles, budget.send_packet_cycles, k, syn,
                                             n_pre, pay, has_syn, pop.spiking, send)
            return sram <= budget.sram_bytes, cycles <= budget.tick_cycles

    def check(k: int) -> tuple[bool, bool]:
        """Every slice of ``k`` fits: both needs grow with neurons and synapses, so the bound is ``k``
        neurons with the most synapses (and payload synapses) of any slice."""
        lo = np.arange(0, pop.n, k)
        hi = np.minimum(lo + k, pop.n)
        return fits(k, int((syn_cum[hi] - syn_cum[lo]).max()), int((pay_cum[hi] - pay_cum[lo]).max()))

    top = min(pop.n, MAX_ATOMS_PER_CORE)
    failed, largest_in_sram = None, None
    for k in range(top, 0, -1):
        ok_sram, ok_cycles = check(k)
        if ok_sram and ok_cycles:
            if failed is None:
                return k, "population" if k == pop.n else "key space"
            return k, {(False, True): "sram", (True, False): "cycles"}.get(failed, "sram and cycles")
        failed = (ok_sram, ok_cycles)
        largest_in_sram = largest_in_sram or (k if ok_sram else None)
    if largest_in_sram is not None:  # splitting cannot save a tick its packets alone overrun: the run shows it
        return largest_in_sram, "sram (the worst-case tick overruns even at one neuron per PE)"
    raise ValueError(f"population '{name}' ({pop.kind}): even one neuron per PE needs more SRAM than the PE's "
                     f"{budget.sram_bytes} B free; prune its inputs")


def incoming_rows(mapped: MappedGraph, post: str) -> tuple[SynapticRows, dict[int, int]]:
    """All projections into ``post`` stacked over one presynaptic index space, and each source
    PE's first index in it (what ``LifCore`` looks a packet's row up with)."""
    graph, n_post = mapped.graph, mapped.graph.population(post).n
    blocks, row_base, offset = [], {}, 0
    for proj in (p for p in graph.projections if p.post == post):
        for s in mapped.slices[proj.pre]:
            row_base[s.pe] = offset + s.start
        blocks.append(proj.weight.T.tocsr())  # rows = presynaptic neurons
        offset += proj.weight.shape[1]
    if not blocks:
        return SynapticRows(np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32), n_post), {}
    import scipy.sparse as sp
    rows = sp.vstack(blocks, format="csr")
    rows.sort_indices()
    return SynapticRows(rows.indptr.astype(np.int64), rows.indices.astype(np.int32),
                        rows.data.astype(np.float32), n_post), row_base


def place(ctx: RunContext, sim, mapped: MappedGraph, inputs: dict[str, np.ndarray]) -> dict[int, object]:
    tick_ns = ctx.spec.run.tick_ns
    fw_params = ctx.section(LifFirmwareParams, "firmware.params")
    graph, firmwares = mapped.graph, {}
    targets: dict[str, list[str]] = {p.name: [] for p in graph.populations}
    for proj in graph.projections:
        targets[proj.pre].append(proj.post)
    for pop in graph.populations:
        rows, row_base = incoming_rows(mapped, pop.name) if pop.kind != "Input" else (None, {})
        for s in mapped.slices[pop.name]:
            # the slice's one-chip index sets its phase: a graph spread over chips runs as on one chip
            phase = (s.index * 7919 % 97) / 97 * fw_params.timer_phase_spread * tick_ns
            if pop.kind == "Input" and inputs[pop.name].dtype == bool:
                fw = RasterSource(inputs[pop.name][:, s.start:s.stop], tick_ns, phase)
            elif pop.kind == "Input":
                dram_name = f"nir_input_{pop.name}_pe{s.pe}"
                values = np.ascontiguousarray(inputs[pop.name][:, s.start:s.stop], np.float32)
                sim.store_dram(dram_name, values)
                fw = DenseSource(values, dram_name, tick_ns, phase)
            else:
                coeffs = {k: (None if getattr(pop, k) is None else getattr(pop, k)[s.start:s.stop])
                          for k in ("a", "g", "c", "a_syn", "g_syn", "v_threshold", "v_reset", "bias")}
                fw = NeuronCore(s.n, rows.columns(s.start, s.stop), row_base, coeffs, pop.spiking,
                                tick_ns, phase, send=bool(targets[pop.name]))
            firmwares[s.pe] = fw
    dests = {pop.name: {t.pe for post in targets[pop.name] for t in mapped.slices[post]} for pop in graph.populations}
    route_and_load(sim, mapped.slices, dests, firmwares)
    return firmwares


def route_and_load(sim, slices: dict[str, list[Slice]], dests: dict[str, set[int]], firmwares: dict) -> None:
    """One multicast entry per slice of each population to the PEs of its targets (``dests``), then every
    PE's program loaded: what a host does before the first tick (also for ``s2sim.spinnaker2``)."""
    for name, pes in dests.items():
        if pes:
            for s in slices[name]:
                sim.machine.routing.add_multicast(s.pe << KEY_SHIFT, KEY_MASK, s.pe, sorted(pes))
    for pe, fw in firmwares.items():
        sim.load(pe, fw)


def spike_raster(mapped: MappedGraph, firmwares: dict, pop: str, n_ticks: int) -> np.ndarray:
    out = np.zeros((n_ticks, mapped.graph.population(pop).n), bool)
    for s in mapped.slices[pop]:
        for t, fired in enumerate(firmwares[s.pe].spikes[:n_ticks]):
            out[t, s.start + fired] = True
    return out


def voltages(mapped: MappedGraph, firmwares: dict, pop: str, n_ticks: int) -> np.ndarray:
    out = np.zeros((n_ticks, mapped.graph.population(pop).n), np.float32)
    for s in mapped.slices[pop]:
        v = firmwares[s.pe].voltages[:n_ticks]
        if v:
            out[:len(v), s.start:s.stop] = np.stack(v)
    return out


def load_inputs(path: Path, graph: LoweredGraph, label: str) -> dict[str, np.ndarray]:
    """Per Input node a boolean spike raster (values 0 and 1 only) or float32 dense values, checked
    against the node's size."""
    if not path.is_file():
        raise AppError(f"{label}: model.input: no such file {path}; expected an npz with 'input' [ticks, n_in]")
    try:
        data = dict(np.load(path))
    except Exception as err:
        raise AppError(f"{label}: model.input: {path} is not a readable npz ({type(err).__name__})") from None
    out = {}
    for pop in graph.inputs:
        key = pop.name if pop.name in data else "input" if len(graph.inputs) == 1 and "input" in data else None
        if key is None:
            raise AppError(f"{label}: model.input: {path} has no array '{pop.name}'"
                           + (" or 'input'" if len(graph.inputs) == 1 else "") + f"; it has {sorted(data)}")
        r = np.asarray(data[key])
        r = r.reshape(r.shape[0], -1) if r.ndim > 2 else r
        if r.ndim != 2 or r.shape[1] != pop.n:
            raise AppError(f"{label}: model.input: '{key}' has shape {np.shape(data[key])}; expected "
                           f"[ticks, {pop.n}] for Input '{pop.name}'")
        if not np.issubdtype(r.dtype, np.number) and r.dtype != bool:
            raise AppError(f"{label}: model.input: '{key}' has dtype {r.dtype}; expected numbers")
        if not np.isfinite(r).all():
            raise AppError(f"{label}: model.input: '{key}' holds NaN or infinite values; expected a spike "
                           "raster (0/1) or finite dense values")
        if r.shape[0] == 0:
            raise AppError(f"{label}: model.input: '{key}' holds 0 ticks; expected [ticks >= 1, {pop.n}]")
        if not np.issubdtype(r.dtype, np.floating) and not np.isin(r, (0, 1)).all():
            raise AppError(f"{label}: model.input: '{key}' is an integer array with values other than 0 and 1 "
                           f"(min {r.min()}, max {r.max()}); a spike raster holds 0 and 1, dense input is float")
        out[pop.name] = r.astype(bool) if np.isin(r, (0, 1)).all() else r.astype(np.float32)
    return out


def dense_inputs(inputs: dict[str, np.ndarray]) -> frozenset[str]:
    return frozenset(name for name, r in inputs.items() if r.dtype != bool)


def _resolve(ctx: RunContext, name: str) -> Path:
    p = Path(name).expanduser()
    return p if p.is_absolute() else Path(ctx.loaded.file).parent / p


def prepare(ctx: RunContext) -> tuple[MappedGraph, dict[str, np.ndarray], NirModel]:
    label = str(ctx.loaded.file)
    model = ctx.section(NirModel, "model")
    mapping = ctx.section(NirMapping, "mapping")
    nir_path = _resolve(ctx, model.nir)
    try:
        nir_graph = read_graph(nir_path)
        step = resolve_step(nir_graph, model.dt_ns * 1e-9 if model.dt_ns else None, model.discretisation,
                            model.exporter, ctx.spec.run.tick_ns * 1e-9, str(nir_path))
        model.dt_ns, model.discretisation, model.exporter = step.dt_s * 1e9, step.method, step.exporter
        graph = lower(nir_graph, step.dt_s, step.method, str(nir_path), step.exporter)
        graph.notes.insert(0, f"NIR step dt = {step.dt_s:g} s ({step.source}), {step.method}"
                           + (f", {step.exporter} export corrected" if step.exporter else ""))
    except NirError as err:
        raise AppError(str(err)) from None
    input_path = _resolve(ctx, model.input) if model.input else nir_path.with_suffix(".npz")
    inputs = load_inputs(input_path, graph, label)
    budget = PeBudget.of(ctx.hw, ctx.spec.run.tick_ns, ctx.spec.run.performance_level)
    try:
        chips = ChipGrid.of(ctx.hw, mapping.first_pe, mapping.pes_per_chip)
        mapped = map_graph(graph, mapping, ctx.hw.n_pes, budget, dense_inputs(inputs), chips)
    except ValueError as err:
        raise AppError(f"{label}: mapping: {err}") from None
    return mapped, inputs, model


def run(ctx: RunContext) -> AppResult:
    mapped, inputs, model = prepare(ctx)
    ctx.start_output()
    result = simulate(ctx, mapped, inputs, ctx.spec.run.ticks or max(len(r) for r in inputs.values()))
    result.extra = {"nir": str(_resolve(ctx, model.nir)), "discretisation": model.discretisation,
                    "dt_ns": model.dt_ns, "exporter": model.exporter} | result.extra
    result.notes = list(result.notes or []) + mapped.graph.notes
    return result


def simulate(ctx: RunContext, mapped: MappedGraph, inputs: dict[str, np.ndarray], n_ticks: int) -> AppResult:
    """Run a mapped graph for ``n_ticks`` (shared by ``s2sim run`` and the Python API ``s2sim.snn``)."""
    sim = ctx.simulation()
    firmwares = place(ctx, sim, mapped, inputs)
    run_ticks_with_progress(ctx, sim, n_ticks, "nir graph ticks")
    graph = mapped.graph
    arrays, spikes = {}, {}
    for pop in graph.populations:
        if pop.spiking and not (pop.kind == "Input" and inputs[pop.name].dtype != bool):
            arrays[f"spikes_{pop.name}"] = spike_raster(mapped, firmwares, pop.name, n_ticks)
            spikes[pop.name] = int(arrays[f"spikes_{pop.name}"].sum())
        if pop.kind != "Input":
            arrays[f"v_{pop.name}"] = voltages(mapped, firmwares, pop.name, n_ticks)
    if ctx.out_dir is not None:
        np.savez_compressed(Path(ctx.out_dir) / "nir_output.npz", **arrays)
    extra = {"populations": {p.name: population_summary(mapped, p.name) for p in graph.populations},
             "inputs": {name: "dense" if r.dtype != bool else "spikes" for name, r in inputs.items()},
             "late_input_rows": sum(getattr(fw, "late_rows", 0) for fw in firmwares.values()),
             "synapses": int(sum(p.weight.nnz for p in graph.projections)),
             "spikes_per_population": spikes, "outputs": graph.outputs}
    result = AppResult(sim=sim, samples=1, timesteps=n_ticks, ticks_per_sample=n_ticks, extra=extra)
    result.mapped, result.arrays = mapped, arrays  # rasters and voltages, for tests and the Python API
    return result


def population_summary(mapped: MappedGraph, name: str) -> dict:
    pop, slices = mapped.graph.population(name), mapped.slices[name]
    return {"type": pop.kind, "neurons": pop.n, "pes": len(slices),
            "neurons_per_pe": max(s.n for s in slices), "limit": mapped.limits.get(name, "")}


def validate(loaded) -> list[str]:
    """``s2sim validate``: the graph lowers, fits the chip and its input matches; returns one line
    per population saying how it is mapped and which limit binds."""
    from s2sim.hw.params import HwParams
    ctx = RunContext(loaded=loaded, hw=HwParams.from_arch(loaded.arch), out_dir=None,
                     progress=lambda label, total: (lambda n: None))
    mapped, _, _ = prepare(ctx)
    from s2sim.apps import pes_used_line
    used = sum(population_summary(mapped, pop.name)["pes"] for pop in mapped.graph.populations)
    lines = [pes_used_line(used, ctx.hw.n_pes)]
    lines += [f"  {note}" for note in mapped.graph.notes]  # the step used and where it came from
    for pop in mapped.graph.populations:
        info = population_summary(mapped, pop.name)
        lines.append(f"  {pop.name} ({pop.kind}, {pop.n} neurons): {info['pes']} PE(s) of up to "
                     f"{info['neurons_per_pe']}, limited by {info['limit']}")
    return lines
