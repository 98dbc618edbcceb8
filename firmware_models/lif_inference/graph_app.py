"""Host program for an imported NIR graph: lower it, map populations onto PEs, replay the input.

Network file sections it reads::

    model:   {nir: path.nir, input: spikes.npz, discretisation: exact}   # paths: relative to the file
    mapping: {max_atoms_per_core: 128, first_pe: 0}

``input.npz`` holds ``input``, a spike raster ``[ticks, n_in]`` (0/1) for a graph with one Input node,
or one raster per Input node under the node's name. The run writes ``nir_output.npz`` (``spikes_<pop>``
``[ticks, n]`` and ``v_<pop>``) into the run folder and spike counts per population into the summary.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from s2sim.apps import AppError, AppResult, RunContext
from s2sim.nir_import import LoweredGraph, NirError, lower, read_graph

from .app import run_ticks_with_progress
from .graph_firmware import NeuronCore, RasterSource
from .network import KEY_MASK, KEY_SHIFT, Slice, SynapticRows
from .params import LifFirmwareParams


class NirModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nir: str = Field(min_length=1, description="NIR graph file (.nir, HDF5)")
    input: str | None = Field(None, description="npz with the input spike raster(s); None = <model>.npz")
    discretisation: Literal["exact", "euler"] = Field(
        "exact", description="exact: exponential decay per tick; euler: forward Euler (snnTorch's)")


class NirMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_atoms_per_core: int = Field(128, ge=1, le=4096, description="Neurons of one population per PE")
    first_pe: int = Field(0, ge=0)


@dataclass
class MappedGraph:
    graph: LoweredGraph
    slices: dict[str, list[Slice]]  # population -> its PE slices (Slice.layer = population index)

    @property
    def pes(self) -> list[int]:
        return [s.pe for sl in self.slices.values() for s in sl]


def map_graph(graph: LoweredGraph, mapping: NirMapping, n_pes: int) -> MappedGraph:
    """Split each population into slices of at most ``max_atoms_per_core`` neurons, one PE each."""
    slices, pe = {}, mapping.first_pe
    for index, pop in enumerate(graph.populations):
        slices[pop.name] = []
        for start in range(0, pop.n, mapping.max_atoms_per_core):
            slices[pop.name].append(Slice(pe, index, start, min(pop.n, start + mapping.max_atoms_per_core)))
            pe += 1
    if pe > n_pes:
        raise ValueError(f"the graph needs PEs {mapping.first_pe}..{pe - 1} at {mapping.max_atoms_per_core} "
                         f"neurons per PE but the chip has {n_pes}; raise mapping.max_atoms_per_core")
    return MappedGraph(graph, slices)


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
            phase = (s.pe * 7919 % 97) / 97 * fw_params.timer_phase_spread * tick_ns
            if pop.kind == "Input":
                fw = RasterSource(inputs[pop.name][:, s.start:s.stop], tick_ns, phase)
            else:
                coeffs = {k: (None if getattr(pop, k) is None else getattr(pop, k)[s.start:s.stop])
                          for k in ("a", "g", "c", "a_syn", "g_syn", "v_threshold", "v_reset", "bias")}
                fw = NeuronCore(s.n, rows.columns(s.start, s.stop), row_base, coeffs, pop.spiking,
                                tick_ns, phase, send=bool(targets[pop.name]))
            firmwares[s.pe] = fw
    for pop in graph.populations:
        dests = sorted({t.pe for post in targets[pop.name] for t in mapped.slices[post]})
        if dests:
            for s in mapped.slices[pop.name]:
                sim.chip.noc.add_multicast(s.pe << KEY_SHIFT, KEY_MASK, s.pe, dests)
    for pe, fw in firmwares.items():
        sim.load(pe, fw)
    return firmwares


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
    """One boolean raster per Input node, checked against the node's size."""
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
        if not np.isin(r, (0, 1)).all():
            raise AppError(f"{label}: model.input: '{key}' holds values other than 0 and 1; expected a "
                           "spike raster")
        out[pop.name] = r.astype(bool)
    return out


def _resolve(ctx: RunContext, name: str) -> Path:
    p = Path(name).expanduser()
    return p if p.is_absolute() else Path(ctx.loaded.file).parent / p


def prepare(ctx: RunContext) -> tuple[MappedGraph, dict[str, np.ndarray], NirModel]:
    label = str(ctx.loaded.file)
    model = ctx.section(NirModel, "model")
    mapping = ctx.section(NirMapping, "mapping")
    nir_path = _resolve(ctx, model.nir)
    try:
        graph = lower(read_graph(nir_path), ctx.spec.run.tick_ns * 1e-9, model.discretisation, str(nir_path))
        mapped = map_graph(graph, mapping, ctx.hw.n_pes)
    except NirError as err:
        raise AppError(str(err)) from None
    except ValueError as err:
        raise AppError(f"{label}: mapping: {err}") from None
    input_path = _resolve(ctx, model.input) if model.input else nir_path.with_suffix(".npz")
    return mapped, load_inputs(input_path, graph, label), model


def run(ctx: RunContext) -> AppResult:
    mapped, inputs, model = prepare(ctx)
    ctx.start_output()
    result = simulate(ctx, mapped, inputs, ctx.spec.run.ticks or max(len(r) for r in inputs.values()))
    result.extra = {"nir": str(_resolve(ctx, model.nir)), "discretisation": model.discretisation} | result.extra
    return result


def simulate(ctx: RunContext, mapped: MappedGraph, inputs: dict[str, np.ndarray], n_ticks: int) -> AppResult:
    """Run a mapped graph for ``n_ticks`` (shared by ``s2sim run`` and the Python API ``s2sim.snn``)."""
    sim = ctx.simulation()
    firmwares = place(ctx, sim, mapped, inputs)
    run_ticks_with_progress(ctx, sim, n_ticks, "nir graph ticks")
    graph = mapped.graph
    arrays, spikes = {}, {}
    for pop in graph.populations:
        if pop.spiking:
            arrays[f"spikes_{pop.name}"] = spike_raster(mapped, firmwares, pop.name, n_ticks)
            spikes[pop.name] = int(arrays[f"spikes_{pop.name}"].sum())
        if pop.kind != "Input":
            arrays[f"v_{pop.name}"] = voltages(mapped, firmwares, pop.name, n_ticks)
    if ctx.out_dir is not None:
        np.savez_compressed(Path(ctx.out_dir) / "nir_output.npz", **arrays)
    extra = {"populations": {p.name: {"type": p.kind, "neurons": p.n, "pes": len(mapped.slices[p.name])}
                             for p in graph.populations},
             "synapses": int(sum(p.weight.nnz for p in graph.projections)),
             "spikes_per_population": spikes, "outputs": graph.outputs}
    result = AppResult(sim=sim, samples=1, timesteps=n_ticks, ticks_per_sample=n_ticks, extra=extra)
    result.mapped, result.arrays = mapped, arrays  # rasters and voltages, for tests and the Python API
    return result


def validate(loaded) -> None:
    """``s2sim validate``: the graph lowers, fits the chip and its input matches."""
    from s2sim.hw.params import HwParams
    ctx = RunContext(loaded=loaded, hw=HwParams.from_arch(loaded.arch), out_dir=None,
                     progress=lambda label, total: (lambda n: None))
    prepare(ctx)
