"""A PyNN-like Python API to build a spiking network and run it on the simulated chip.

Why: users of SpiNNaker2's own Python front end write ``Population`` / ``Projection`` / ``Network``
and read back ``spikes``, ``v``, ``time_done`` and ``n_packets``; the same script shape runs here,
with s2sim's profile (latency, memory, energy) as the run's summary::

    from s2sim import hardware, snn
    stim = snn.Population(4, "spike_list", {0: [1, 5], 3: [2]}, name="stim")
    lif = snn.Population(2, "lif", {"threshold": 1.0, "alpha_decay": 0.9}, name="lif", record=["spikes", "v"])
    net = snn.Network("demo")
    net.add(stim, lif, snn.Projection(stim, lif, [[0, 0, 1.5, 1], [3, 1, 0.7, 1]]))
    summary = hardware.Chip().run(net, timesteps=20, sys_tick_in_s=1e-3)
    lif.get_spikes()  # {neuron: [ticks it fired at]}

Neuron models (``params`` keys; scalars or one value per neuron):

* ``spike_list``: input; ``{neuron: [ticks]}``.
* ``dense_input``: input of real values ``{"values": array [ticks, size]}``, sent as payload packets
  that the next layer multiplies into its synaptic rows (a current ``W @ x``).
* ``lif``: ``v = alpha_decay * v + I + i_offset``; spike if ``v > threshold``; then ``v = v_reset``
  (defaults: threshold 1, alpha_decay 1, i_offset 0, v_reset 0). Only ``reset: reset_to_v_reset``.
* populations made by ``from_nir(graph)`` keep their NIR node and are discretised at the run's tick
  (``s2sim/nir_import.py``).

A projection's spikes arrive one tick later (a delay of 1, the only one supported).
"""
from __future__ import annotations

import itertools
from typing import Any, Iterable

import numpy as np
import scipy.sparse as sp

from .nir_import import LoweredGraph, NirError, lower, resolve_step
from .nir_import import Population as Lowered
from .nir_import import Projection as LoweredProjection

__all__ = ["Population", "Projection", "Network", "from_nir", "SnnError"]

RECORDABLES = ("spikes", "v", "time_done", "n_packets")
_ids = itertools.count()


class SnnError(ValueError):
    """A network the API cannot build or run, naming the population or projection."""


class Population:
    def __init__(self, size: int, neuron_model: str, params: dict | None = None, name: str | None = None,
                 record: Iterable[str] = ("spikes",)):
        self.size, self.neuron_model, self.params = int(size), neuron_model, dict(params or {})
        self.name = name or f"pop{next(_ids)}"
        self.record = list(record)
        bad = [r for r in self.record if r not in RECORDABLES]
        if bad:
            raise SnnError(f"population '{self.name}': cannot record {bad}; expected any of {list(RECORDABLES)}")
        if neuron_model not in ("spike_list", "dense_input", "lif", "nir"):
            raise SnnError(f"population '{self.name}': neuron_model {neuron_model!r}; expected 'spike_list', "
                           "'dense_input' or 'lif'")
        self._nir_node = None  # set by from_nir
        self._results: dict[str, Any] = {}

    # ---- results (filled by hardware.Chip.run) ------------------------------------------------
    def _get(self, what: str):
        if what not in self.record:
            raise SnnError(f"population '{self.name}' did not record '{what}'; add it to record=[...]")
        if what not in self._results:
            raise SnnError(f"population '{self.name}' has no '{what}' yet: run the network first")
        return self._results[what]

    def get_spikes(self) -> dict[int, list[int]]:
        """Ticks at which each neuron fired."""
        return self._get("spikes")

    def get_voltages(self) -> dict[int, list[float]]:
        """Each neuron's membrane voltage after every tick."""
        return self._get("v")

    def get_time_done_times(self) -> dict[int, list[float]]:
        """Per PE of this population: ns from each tick's start until the PE finished its work."""
        return self._get("time_done")

    def get_n_packets(self) -> dict[int, list[int]]:
        """Per PE of this population: packets received in each tick."""
        return self._get("n_packets")

    # ---- lowering -----------------------------------------------------------------------------
    def _input_raster(self, timesteps: int) -> np.ndarray:
        """A bool spike raster (``spike_list``) or float32 values (``dense_input``) for ``timesteps``."""
        if self.neuron_model == "dense_input":
            values = np.asarray(self.params.get("values"), np.float32)
            if values.ndim != 2 or values.shape[1] != self.size or not np.isfinite(values).all():
                raise SnnError(f"population '{self.name}': dense_input params {{'values': ...}} must be finite "
                               f"[ticks, {self.size}], got shape {values.shape}")
            out = np.zeros((timesteps, self.size), np.float32)
            out[:min(timesteps, len(values))] = values[:timesteps]
            return out
        raster = np.zeros((timesteps, self.size), bool)
        for neuron, ticks in self.params.items():
            if not 0 <= int(neuron) < self.size:
                raise SnnError(f"population '{self.name}': spike_list neuron {neuron} outside 0..{self.size - 1}")
            t = np.asarray(list(ticks), np.int64)
            raster[t[(t >= 0) & (t < timesteps)], int(neuron)] = True
        return raster

    def _lowered(self) -> Lowered:
        if self.neuron_model in ("spike_list", "dense_input"):
            return Lowered(self.name, "Input", self.size)
        p = {"threshold": 1.0, "alpha_decay": 1.0, "i_offset": 0.0, "v_reset": 0.0} | self.params
        if p.pop("reset", "reset_to_v_reset") != "reset_to_v_reset":
            raise SnnError(f"population '{self.name}': only reset 'reset_to_v_reset' is supported")
        unknown = set(p) - {"threshold", "alpha_decay", "i_offset", "v_reset"}
        if unknown:
            raise SnnError(f"population '{self.name}': unknown lif params {sorted(unknown)}")

        def vec(key):
            v = np.broadcast_to(np.asarray(p[key], np.float32), (self.size,)).copy()
            return v
        zeros = np.zeros(self.size, np.float32)
        return Lowered(self.name, "LIF", self.size, a=vec("alpha_decay"), g=np.ones(self.size, np.float32),
                       c=vec("i_offset"), v_threshold=vec("threshold"), v_reset=vec("v_reset"), bias=zeros)


class Projection:
    """Synapses ``pre -> post`` from ``[[pre, post, weight, delay], ...]`` (delay 1) or a dense
    ``[pre.size, post.size]`` weight matrix."""

    def __init__(self, pre: Population, post: Population, connections, name: str | None = None):
        self.pre, self.post, self.name = pre, post, name or f"{pre.name}->{post.name}"
        if isinstance(connections, np.ndarray) and connections.shape == (pre.size, post.size):
            self.weight = sp.csr_matrix(connections.T.astype(np.float32))
        else:
            conns = np.asarray(connections, np.float64).reshape(-1, np.shape(connections)[-1] if len(connections) else 4)
            if conns.shape[1] not in (3, 4):
                raise SnnError(f"projection '{self.name}': connections need [pre, post, weight(, delay)]")
            if conns.shape[1] == 4 and np.any(conns[:, 3] != 1):
                raise SnnError(f"projection '{self.name}': only delay 1 is supported")
            i, j = conns[:, 0].astype(np.int64), conns[:, 1].astype(np.int64)
            if np.any((i < 0) | (i >= pre.size)) or np.any((j < 0) | (j >= post.size)):
                raise SnnError(f"projection '{self.name}': a connection names a neuron outside "
                               f"{pre.name} (0..{pre.size - 1}) or {post.name} (0..{post.size - 1})")
            self.weight = sp.csr_matrix((conns[:, 2].astype(np.float32), (j, i)), shape=(post.size, pre.size))
        self.weight.eliminate_zeros()


class Network:
    def __init__(self, name: str = "network"):
        self.name = name
        self.populations: list[Population] = []
        self.projections: list[Projection] = []
        self._nir = None  # (graph, discretisation, dt_s or None) when built by from_nir
        self._nir_exporter: str | None = None  # exporter whose conventions from_nir corrects

    def add(self, *items: Population | Projection) -> None:
        for item in items:
            (self.populations if isinstance(item, Population) else self.projections).append(item)

    def population(self, name: str) -> Population:
        """The population called ``name``; an unknown name is a KeyError listing the known ones."""
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(f"no population {name!r}; the network has: {', '.join(p.name for p in self.populations)}")

    def lowered(self, dt_s: float) -> LoweredGraph:
        """The network as populations and synaptic matrices at tick ``dt_s`` (what the chip runs)."""
        if self._nir is not None:
            graph, method, nir_dt_s = self._nir
            try:
                return lower(graph, nir_dt_s or dt_s, method, self.name, self._nir_exporter)
            except NirError as err:
                raise SnnError(str(err)) from None
        names = [p.name for p in self.populations]
        if len(set(names)) != len(names):
            raise SnnError(f"network '{self.name}': population names must be unique, got {names}")
        pops = [p._lowered() for p in self.populations]
        if not any(p.kind == "Input" for p in pops):
            raise SnnError(f"network '{self.name}' has no spike_list or dense_input population to drive it")
        pops.sort(key=lambda p: p.kind != "Input")
        projections = []
        for proj in self.projections:
            if proj.pre not in self.populations or proj.post not in self.populations:
                raise SnnError(f"projection '{proj.name}': add both populations to the network first")
            if proj.post.neuron_model in ("spike_list", "dense_input"):
                raise SnnError(f"projection '{proj.name}': an input population takes no input")
            projections.append(LoweredProjection(proj.pre.name, proj.post.name, proj.weight))
        return LoweredGraph(pops, projections)

    def inputs(self, timesteps: int, graph: LoweredGraph) -> dict[str, np.ndarray]:
        rasters = {}
        for pop in graph.inputs:
            mine = self.population(pop.name)
            rasters[pop.name] = mine._input_raster(timesteps)
        return rasters


def from_nir(graph, discretisation: str | None = None, name: str = "nir", input_spikes=None,
             dt_s: float | None = None, exporter: str | None = None) -> Network:
    """A ``Network`` running a ``nir.NIRGraph`` (or a path to a .nir file); its Input nodes become
    input populations fed from ``input_spikes`` (``{input node: [ticks, n]}`` or one array): a raster of
    0/1 makes a ``spike_list``, any other values a ``dense_input``. Its neuron nodes become populations
    recording spikes and voltages. ``dt_s``, ``discretisation`` and ``exporter``: as ``model.dt_ns``,
    ``model.discretisation`` and ``model.exporter`` of ``s2sim run`` (None: the graph's metadata, else
    snnTorch's ``tau / r``; docs/nir.md); a graph of ``Threshold`` neurons alone runs at the tick."""
    from .nir_import import read_graph
    if not hasattr(graph, "nodes"):
        graph = read_graph(graph)
    try:
        step = resolve_step(graph, dt_s, discretisation, exporter, 0.0, name)
        probe = lower(graph, step.dt_s or 1e-3, step.method, name, step.exporter)  # names and sizes
    except NirError as err:
        raise SnnError(str(err)) from None
    dt_s, discretisation = step.dt_s or None, step.method
    net = Network(name)
    net._nir = (graph, discretisation, dt_s)
    net._nir_exporter = step.exporter
    for low in probe.populations:
        if low.kind == "Input":
            raster = input_spikes.get(low.name) if isinstance(input_spikes, dict) else input_spikes
            if raster is not None and not np.isin(np.asarray(raster), (0, 1)).all():
                values = np.asarray(raster, np.float32).reshape(len(raster), -1)
                net.add(Population(low.n, "dense_input", {"values": values}, name=low.name))
                continue
            spikes = {} if raster is None else {i: list(np.flatnonzero(np.asarray(raster)[:, i]))
                                                for i in range(np.asarray(raster).shape[1])}
            net.add(Population(low.n, "spike_list", spikes, name=low.name))
        else:
            pop = Population(low.n, "nir", name=low.name, record=list(RECORDABLES))
            pop._nir_node = graph.nodes[low.name]
            net.add(pop)
    return net
