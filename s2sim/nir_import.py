"""Read a NIR graph and lower it to populations of discretised neurons joined by synaptic matrices.

Why: networks trained elsewhere (snnTorch, Norse, Sinabs, ...) are exported as the Neuromorphic
Intermediate Representation; this module turns one into what the LIF inference firmware runs.

Lowering. Nodes are of two kinds:

* **populations** -- ``Input`` (replays a spike raster) and the neuron nodes ``LIF``, ``CubaLIF``,
  ``IF``, ``LI``, ``CubaLI`` and ``Threshold``: each becomes a population of PE-mapped neurons;
* **linear maps** -- ``Affine``, ``Linear``, ``Scale``, ``Flatten`` and ``Conv2d``: every path of
  linear maps from a population to a neuron node is multiplied out into one synaptic matrix
  (``post x pre``, kept sparse: only non-zero weights become synapses), and biases on the way
  become a constant input to the target neurons. Several edges into one node are summed, as NIR says.

``Output`` records what feeds it. Non-spiking neurons (``LI``, ``CubaLI``) may only feed ``Output``:
their voltages are recorded, not sent. Any other node type is an error naming the node and type.

Discretisation at the tick ``dt`` (``exact``, the default, or ``euler``), per neuron, in this order
each tick, with ``S`` the synaptic input of the tick (weighted spikes sent in the previous tick,
plus the biases):

* synaptic current (``CubaLIF``, ``CubaLI``): ``I = a_syn * I + g_syn * S`` with
  exact: ``a_syn = exp(-dt/tau_syn)``, ``g_syn = (1 - a_syn) * w_in``;
  euler: ``a_syn = 1 - dt/tau_syn``, ``g_syn = dt/tau_syn * w_in``.
  Without a synapse state the drive is ``I = S``.
* membrane: ``v = a * v + (c + g * I)`` with, for ``LIF``/``LI``/Cuba* (``tau = tau_mem``)
  exact: ``a = exp(-dt/tau)``, ``g = (1 - a) * r``, ``c = (1 - a) * v_leak``;
  euler: ``a = 1 - dt/tau``, ``g = dt/tau * r``, ``c = dt/tau * v_leak``.
  ``IF``: ``a = 1``, ``g = dt * r``, ``c = 0`` (both). ``Threshold``: ``a = 0``, ``g = 1``, ``c = 0``.
* spike if ``v > v_threshold``, then ``v = v_reset`` for the neurons that fired.

"exact" integrates each linear ODE exactly with its input held over the tick (the synapse first,
then the membrane with the new current); "euler" is forward Euler, which is what snnTorch's
``Leaky``/``Synaptic`` compute when exported with ``r = tau/dt`` and ``w_in = tau_syn/dt``.
A spike crosses one projection per tick, as on the chip: population ``k`` sees at tick ``t`` the
spikes its sources fired at tick ``t - 1``.

The step ``dt`` and the method (``resolve_step``): the run's ``model.dt_ns`` / ``model.discretisation``
when set; else the graph's metadata (``dt`` in seconds, ``discretisation``; ``graph_settings``); else,
when the graph has LIF/CubaLIF neurons and every neuron with a time constant has the same ``tau / r``
(and not all ``r`` are 1), that ratio with ``euler``: snnTorch's exporter writes ``r = tau / dt`` for its discrete ``Leaky``/``Synaptic`` (1e-4 s)
and no metadata. Otherwise a graph whose dynamics depend on the step is refused with a one-line error
naming ``model.dt_ns``; only a graph of ``Threshold`` neurons runs at the tick without one.
Forward Euler is refused where it is unstable (``dt > 2 tau``) and noted where it is inaccurate
(``dt > tau``: the decay factor is negative or zero). Non-finite parameters are refused with the node
and field named.

``exporter: norse`` undoes two conventions of Norse's exporter (1.1): it writes ``tau = dt / tau_inv``,
i.e. ``dt * tau``, so tau is divided by the step (default Norse's 1 ms); and Norse adds a spike's weight to
the synaptic current unscaled (``i = (1 - dt/tau_syn) i + x``) where NIR's ``CubaLIF`` scales it by
``dt/tau_syn`` (euler) or ``1 - exp(-dt/tau_syn)`` (exact), so the synaptic gain is ``w_in`` itself.
Norse integrates with forward Euler, the default method then.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp

__all__ = ["NirError", "Population", "Projection", "LoweredGraph", "Step", "read_graph", "lower", "graph_settings",
           "resolve_step", "EXPORTERS"]

Discretisation = Literal["exact", "euler"]
NEURON_TYPES = ("LIF", "CubaLIF", "IF", "LI", "CubaLI", "Threshold")
LINEAR_TYPES = ("Affine", "Linear", "Scale", "Flatten", "Conv2d")
SPIKING = ("LIF", "CubaLIF", "IF", "Threshold")
TIMED = ("LIF", "CubaLIF", "LI", "CubaLI")  # neurons with a membrane time constant
EXPORTERS = ("norse",)  # exporters whose conventions ``lower`` corrects
NORSE_DT_S = 1e-3  # Norse's default step (LIFParameters / to_nir dt)


class NirError(Exception):
    """A NIR graph s2sim cannot run, in one line naming the file, node and what is wrong."""


@dataclass
class Population:
    """One NIR population node, discretised: per-neuron float32 coefficients (see module doc)."""

    name: str
    kind: str  # NIR node type ("Input" for the spike source)
    n: int
    a: np.ndarray | None = None
    g: np.ndarray | None = None
    c: np.ndarray | None = None
    a_syn: np.ndarray | None = None  # None: no synaptic current state
    g_syn: np.ndarray | None = None
    v_threshold: np.ndarray | None = None
    v_reset: np.ndarray | None = None
    bias: np.ndarray | None = None  # constant part of S (biases of the linear maps feeding it)

    @property
    def spiking(self) -> bool:
        return self.kind == "Input" or self.kind in SPIKING


@dataclass
class Projection:
    """Synapses from ``pre`` to ``post``: ``weight[post_neuron, pre_neuron]`` (sparse, float32)."""

    pre: str
    post: str
    weight: sp.csr_matrix


@dataclass
class LoweredGraph:
    populations: list[Population]  # sources first, then in an order where every pre comes first
    projections: list[Projection]
    outputs: dict[str, str] = field(default_factory=dict)  # Output node -> population it records
    notes: list[str] = field(default_factory=list)  # warnings about the discretisation, for the summary

    def population(self, name: str) -> Population:
        """The population called ``name``; an unknown name is a KeyError listing the known ones."""
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(f"no population {name!r}; the network has: {', '.join(p.name for p in self.populations)}")

    @property
    def inputs(self) -> list[Population]:
        return [p for p in self.populations if p.kind == "Input"]


def read_graph(path: str | Path):
    """``nir.read`` with file problems turned into one-line errors."""
    try:
        import nir
    except ImportError:
        raise NirError("reading NIR files needs the 'nir' package (pip install 's2sim[nir]')") from None
    p = Path(path)
    if not p.is_file():
        raise NirError(f"{path}: no such NIR file")
    try:
        return nir.read(p, type_check=False)  # sizes are checked here, edge by edge, by lower()
    except Exception as err:  # h5py/nir raise many types for a damaged or foreign file
        raise NirError(f"{path}: not a readable NIR graph ({type(err).__name__}: {err})") from None


def graph_settings(graph, label: str = "graph") -> tuple[float | None, str | None]:
    """``(dt_s, discretisation)`` from the graph's metadata (keys ``dt``, ``discretisation`` or
    ``discretization``), None where it says nothing."""
    meta = getattr(graph, "metadata", None) or {}

    def text(v):
        return v.decode() if isinstance(v, bytes) else str(v)
    dt = meta.get("dt")
    if dt is not None:
        try:
            dt = float(np.asarray(dt).reshape(-1)[0])
        except (TypeError, ValueError, IndexError):
            dt = -1.0
        if not dt > 0:
            raise NirError(f"{label}: graph metadata 'dt' is {meta['dt']!r}; expected a positive step in seconds")
    method = meta.get("discretisation", meta.get("discretization"))
    if method is not None:
        method = text(method)
        if method not in ("exact", "euler"):
            raise NirError(f"{label}: graph metadata 'discretisation' is {method!r}; expected 'exact' or 'euler'")
    return dt, method


@dataclass
class Step:
    """The integration step and method a graph runs with, and where they came from."""

    dt_s: float
    method: str
    source: str  # "model.dt_ns", "graph metadata", "tau / r (snnTorch's export)", "Norse's default", "the tick"
    exporter: str | None = None


def snntorch_step(graph) -> float | None:
    """``tau / r`` when the graph has LIF/CubaLIF neurons, every neuron with a time constant has the same
    ratio (relative 1e-4) and not all ``r`` are 1: the step snnTorch's exporter wrote into them
    (``r = tau / dt``); else None."""
    ratios, gains = [], []
    for node in graph.nodes.values():
        kind = type(node).__name__
        if kind not in TIMED:
            continue
        tau = np.asarray(node.tau if kind in ("LIF", "LI") else node.tau_mem, np.float64).reshape(-1)
        r = np.asarray(node.r, np.float64).reshape(-1)
        with np.errstate(all="ignore"):
            ratios.append(tau / r)
        gains.append(r)
    if not ratios or not any(type(n).__name__ in ("LIF", "CubaLIF") for n in graph.nodes.values()):
        return None  # snnTorch exports its spiking neurons (Leaky, Synaptic) as LIF / CubaLIF
    ratio = np.concatenate([np.broadcast_to(x, np.shape(x)).reshape(-1) for x in ratios])
    r = np.concatenate(gains)
    if not (np.isfinite(ratio).all() and (ratio > 0).all()) or np.all(r == 1.0):
        return None
    mid = float(np.median(ratio))
    if np.abs(ratio - mid).max() > 1e-4 * mid:
        return None
    return float(f"{mid:.6g}")  # float32 tau and r leave ~1e-7 relative noise: 1.0000003e-4 -> 1e-4


def detected_exporter(graph) -> str | None:
    """``norse`` when the graph's metadata names Norse (keys ``exporter``/``exported_by``); else None."""
    meta = getattr(graph, "metadata", None) or {}
    said = " ".join(str(v.decode() if isinstance(v, bytes) else v) for k, v in meta.items()
                    if k in ("exporter", "exported_by"))
    return "norse" if "norse" in said.lower() else None


def needs_step(graph) -> bool:
    """Whether the graph's dynamics depend on the step (any neuron but ``Threshold``)."""
    return any(type(n).__name__ in TIMED + ("IF",) for n in graph.nodes.values())


def resolve_step(graph, dt_s: float | None, method: str | None, exporter: str | None, tick_s: float,
                 label: str = "graph") -> Step:
    """The step and method to lower ``graph`` with (module doc); a one-line ``NirError`` when the graph
    does not say its step and the run does not either."""
    if exporter is not None and exporter not in EXPORTERS:
        raise NirError(f"{label}: model.exporter {exporter!r}; expected one of {', '.join(EXPORTERS)} or none")
    meta_dt, meta_method = graph_settings(graph, label)
    exporter = exporter or detected_exporter(graph)
    if exporter == "norse":
        if dt_s:
            return Step(dt_s, method or meta_method or "euler", "model.dt_ns", exporter)
        return Step(meta_dt or NORSE_DT_S, method or meta_method or "euler",
                    "graph metadata" if meta_dt else "Norse's default", exporter)
    if dt_s:
        return Step(dt_s, method or meta_method or "exact", "model.dt_ns")
    if meta_dt:
        return Step(meta_dt, method or meta_method or "exact", "graph metadata")
    inferred = snntorch_step(graph)
    if inferred is not None:
        return Step(inferred, method or meta_method or "euler", "tau / r (snnTorch's export)")
    if needs_step(graph):
        lower(graph, 1e-3, "exact", label)  # a graph s2sim cannot run at all says so first
        raise NirError(f"{label}: the graph does not say its time step (no 'dt' in its metadata, and tau / r "
                       "differs between its neurons, as no snnTorch export does); set model.dt_ns (and "
                       "model.discretisation), or model.exporter=norse for a Norse export")
    return Step(tick_s, method or meta_method or "exact", "the tick")


def lower(graph, dt_s: float, method: Discretisation = "exact", label: str = "graph",
          exporter: str | None = None) -> LoweredGraph:
    """Turn a ``nir.NIRGraph`` into populations and projections at the step ``dt_s`` (seconds);
    ``exporter``: correct that exporter's conventions (module doc)."""
    if method not in ("exact", "euler"):
        raise NirError(f"{label}: discretisation {method!r}; expected 'exact' or 'euler'")
    if exporter is not None and exporter not in EXPORTERS:
        raise NirError(f"{label}: exporter {exporter!r}; expected one of {', '.join(EXPORTERS)} or none")
    notes: list[str] = []
    nodes, edges = dict(graph.nodes), list(graph.edges)
    for name, node in nodes.items():
        kind = type(node).__name__
        if kind not in ("Input", "Output") + NEURON_TYPES + LINEAR_TYPES:
            raise NirError(f"{label}: node '{name}' has unsupported type {kind}; supported: "
                           + ", ".join(("Input", "Output") + NEURON_TYPES + LINEAR_TYPES))
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    for src, dst in edges:
        for end in (src, dst):
            if end not in nodes:
                raise NirError(f"{label}: edge ({src!r}, {dst!r}) names no node {end!r}")
        preds[dst].append(src)
    kinds = {n: type(node).__name__ for n, node in nodes.items()}
    pops = {n: _population(n, node, kinds[n], dt_s, method, label, exporter, notes)
            for n, node in nodes.items() if kinds[n] == "Input" or kinds[n] in NEURON_TYPES}

    cache: dict[str, tuple[dict[str, sp.csr_matrix], np.ndarray]] = {}

    def affine_of(name: str, stack: tuple[str, ...] = ()) -> tuple[dict[str, sp.csr_matrix], np.ndarray]:
        """Node ``name``'s output as ``sum_p M_p @ spikes_p + bias`` over populations ``p``."""
        if name in pops:
            n = pops[name].n
            return {name: sp.identity(n, np.float64, format="csr")}, np.zeros(n)
        if name in cache:
            return cache[name]
        if name in stack:
            raise NirError(f"{label}: node '{name}' is in a loop of linear maps with no neuron in it")
        if not preds[name]:
            raise NirError(f"{label}: node '{name}' ({kinds[name]}) has no input edge")
        mats, bias = _summed([affine_of(p, stack + (name,)) for p in preds[name]], name, label)
        cache[name] = _apply(nodes[name], kinds[name], name, mats, bias, label)
        return cache[name]

    projections: list[Projection] = []
    for name, pop in pops.items():
        if pop.kind == "Input":
            continue
        if not preds[name]:
            raise NirError(f"{label}: node '{name}' ({pop.kind}) has no input edge")
        mats, bias = _summed([affine_of(p) for p in preds[name]], name, label)
        if len(bias) != pop.n:
            raise NirError(f"{label}: node '{name}' ({pop.kind}) has {pop.n} neurons but its input has "
                           f"{len(bias)} values")
        pop.bias = bias.astype(np.float32)
        for pre, m in mats.items():
            if not pops[pre].spiking:
                raise NirError(f"{label}: node '{pre}' ({pops[pre].kind}) is not spiking, so it can only "
                               f"feed an Output, not '{name}'")
            weight = sp.csr_matrix(m, dtype=np.float32)
            weight.eliminate_zeros()
            projections.append(Projection(pre, name, weight))
    outputs = {}
    for name, kind in kinds.items():
        if kind != "Output":
            continue
        if len(preds[name]) != 1 or preds[name][0] not in pops:
            raise NirError(f"{label}: Output '{name}' must be fed by exactly one neuron or Input node, "
                           f"got {preds[name] or 'none'}")
        outputs[name] = preds[name][0]
    order = _topological(pops, projections, label)
    return LoweredGraph([pops[n] for n in order], projections, outputs, notes)


# ---- populations ---------------------------------------------------------------------------------
def _population(name: str, node, kind: str, dt_s: float, method: str, label: str, exporter: str | None = None,
                notes: list[str] | None = None) -> Population:
    if kind == "Input":
        return Population(name, kind, _size(node.input_type.get("input"), name, label))

    def vec(attr: str, n: int | None = None) -> np.ndarray:
        v = _finite(getattr(node, attr), name, kind, attr, label).reshape(-1)
        if n is not None and v.size == 1:
            v = np.full(n, v.item())
        if n is not None and v.size != n:
            raise NirError(f"{label}: node '{name}' ({kind}): {attr} has {v.size} values; expected {n}")
        return v

    def time_constant(attr: str, n: int) -> np.ndarray:
        tau = vec(attr, n)
        _positive(tau, name, kind, attr, label)
        if exporter == "norse":  # Norse wrote dt / tau_inv = dt * tau
            tau = tau / dt_s
        if method == "euler":
            _euler_check(tau, dt_s, name, kind, attr, label, notes)
        return tau

    if kind == "Threshold":
        thr = vec("threshold")
        n = thr.size
        return Population(name, kind, n, a=_f32(np.zeros(n)), g=_f32(np.ones(n)), c=_f32(np.zeros(n)),
                          v_threshold=_f32(thr), v_reset=_f32(np.zeros(n)))
    n = vec("r").size
    for attr in ("tau", "tau_mem", "tau_syn", "v_leak", "v_threshold", "v_reset", "w_in"):
        if hasattr(node, attr):
            n = max(n, vec(attr).size)
    r = vec("r", n)
    if kind == "IF":
        a, g, c = np.ones(n), dt_s * r, np.zeros(n)
    else:
        tau = time_constant("tau" if kind in ("LIF", "LI") else "tau_mem", n)
        a, k = _decay(tau, dt_s, method)
        g, c = k * r, k * vec("v_leak", n)
    pop = Population(name, kind, n, a=_f32(a), g=_f32(g), c=_f32(c))
    if kind in ("CubaLIF", "CubaLI"):
        tau_syn = time_constant("tau_syn", n)
        a_syn, k_syn = _decay(tau_syn, dt_s, method)
        w_in = vec("w_in", n)
        pop.a_syn, pop.g_syn = _f32(a_syn), _f32(w_in if exporter == "norse" else k_syn * w_in)
    if kind in SPIKING:
        pop.v_threshold, pop.v_reset = _f32(vec("v_threshold", n)), _f32(vec("v_reset", n))
    return pop


def _finite(value, name: str, kind: str, attr: str, label: str) -> np.ndarray:
    """``value`` as float64, refused with the node and field named when any entry is NaN or infinite."""
    try:
        v = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        raise NirError(f"{label}: node '{name}' ({kind}): {attr} is not numeric") from None
    if not np.isfinite(v).all():
        bad = "NaN" if np.isnan(v).any() else "infinite"
        raise NirError(f"{label}: node '{name}' ({kind}): {attr} holds {bad} values; expected finite numbers")
    return v


def _euler_check(tau: np.ndarray, dt_s: float, name: str, kind: str, attr: str, label: str,
                 notes: list[str] | None) -> None:
    """Forward Euler multiplies the state by ``1 - dt/tau`` per step: refused where that exceeds 1 in
    magnitude (``dt > 2 tau``, the state grows without bound), noted where it is <= 0 (``dt >= tau``)."""
    worst = float(dt_s / tau.min())
    if worst > 2.0:
        raise NirError(f"{label}: node '{name}' ({kind}): euler is unstable at dt = {dt_s:g} s with {attr} = "
                       f"{tau.min():g} s (dt/tau = {worst:.3g} > 2); set model.discretisation=exact or a "
                       "smaller model.dt_ns" + (" (model.exporter=norse for a Norse export)" if worst > 20 else ""))
    if worst >= 1.0 and notes is not None:
        notes.append(f"node '{name}' ({kind}): euler at dt/{attr} = {worst:.3g} >= 1 is inaccurate (the decay "
                     "factor 1 - dt/tau is <= 0); model.discretisation=exact integrates it exactly")


def _decay(tau: np.ndarray, dt_s: float, method: str) -> tuple[np.ndarray, np.ndarray]:
    """(state decay per tick, input gain per tick before ``r``/``w_in``) of ``tau x' = -x + u``."""
    if method == "exact":
        a = np.exp(-dt_s / tau)
        return a, 1.0 - a
    return 1.0 - dt_s / tau, dt_s / tau


def _positive(tau: np.ndarray, name: str, kind: str, attr: str, label: str) -> None:
    if not np.all(tau > 0):
        raise NirError(f"{label}: node '{name}' ({kind}): {attr} must be > 0, got {tau.min():g}")


def _f32(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float32)


def _size(shape, name: str, label: str) -> int:
    if shape is None:
        raise NirError(f"{label}: Input '{name}' has no input shape")
    return int(np.prod(np.asarray(shape, np.int64)))


# ---- linear maps ---------------------------------------------------------------------------------
def _summed(terms, name: str, label: str):
    mats: dict[str, sp.csr_matrix] = {}
    bias = None
    for m, b in terms:
        if bias is not None and len(b) != len(bias):
            raise NirError(f"{label}: node '{name}' sums inputs of {len(bias)} and {len(b)} values")
        bias = b if bias is None else bias + b
        for pre, mat in m.items():
            mats[pre] = mat if pre not in mats else mats[pre] + mat
    return mats, bias


def _apply(node, kind: str, name: str, mats, bias, label: str):
    """Compose one linear node after the affine expression ``(mats, bias)`` of its input."""
    n_in = len(bias)
    if kind == "Flatten":
        return mats, bias
    if kind == "Scale":
        s = _finite(node.scale, name, kind, "scale", label).reshape(-1)
        if s.size not in (1, n_in):
            raise NirError(f"{label}: node '{name}' (Scale) has {s.size} factors for {n_in} inputs")
        s = np.broadcast_to(s, (n_in,))
        d = sp.diags(s, format="csr")
        return {p: d @ m for p, m in mats.items()}, s * bias
    if kind == "Conv2d":
        w, b = _conv2d_matrix(node, name, n_in, label)
    else:
        w = _finite(node.weight, name, kind, "weight", label)
        if w.ndim != 2 or w.shape[1] != n_in:
            raise NirError(f"{label}: node '{name}' ({kind}) weight has shape {w.shape}; expected "
                           f"(n_out, {n_in})")
        w = sp.csr_matrix(w)
        b = _finite(node.bias, name, kind, "bias", label).reshape(-1) if kind == "Affine" else np.zeros(w.shape[0])
        if b.size == 1:
            b = np.full(w.shape[0], b.item())
    return {p: sp.csr_matrix(w @ m) for p, m in mats.items()}, w @ bias + b


def _conv2d_matrix(node, name: str, n_in: int, label: str) -> tuple[sp.csr_matrix, np.ndarray]:
    """The 2-D convolution as a sparse (C_out*H_out*W_out) x (C_in*H*W) matrix, channel-major."""
    w = _finite(node.weight, name, "Conv2d", "weight", label)
    _finite(node.bias, name, "Conv2d", "bias", label)
    c_out, c_in_g, kh, kw = w.shape
    h, wd = (int(x) for x in np.asarray(node.input_shape).reshape(-1)[-2:])
    groups = int(node.groups)
    c_in = c_in_g * groups
    if c_in * h * wd != n_in:
        raise NirError(f"{label}: node '{name}' (Conv2d) expects {c_in}x{h}x{wd} inputs, got {n_in}")
    sh, sw = _pair(node.stride)
    dh, dw = _pair(node.dilation)
    if isinstance(node.padding, str):
        raise NirError(f"{label}: node '{name}' (Conv2d) padding {node.padding!r}; expected integers")
    ph, pw = _pair(node.padding)
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    rows, cols, vals = [], [], []
    oy, ox = np.meshgrid(np.arange(ho), np.arange(wo), indexing="ij")
    for co in range(c_out):
        g0 = (co // (c_out // groups)) * c_in_g
        for ci in range(c_in_g):
            for ky in range(kh):
                for kx in range(kw):
                    iy, ix = oy * sh - ph + ky * dh, ox * sw - pw + kx * dw
                    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < wd)
                    rows.append((co * ho + oy[ok]) * wo + ox[ok])
                    cols.append(((g0 + ci) * h + iy[ok]) * wd + ix[ok])
                    vals.append(np.full(ok.sum(), w[co, ci, ky, kx]))
    m = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(c_out * ho * wo, n_in))  # duplicates (none here) would be summed
    bias = np.repeat(np.broadcast_to(np.asarray(node.bias, np.float64).reshape(-1), (c_out,)), ho * wo)
    return m, bias


def _pair(x) -> tuple[int, int]:
    a = np.asarray(x).reshape(-1)
    return (int(a[0]), int(a[0])) if a.size == 1 else (int(a[0]), int(a[1]))


def _topological(pops: dict[str, Population], projections: list[Projection], label: str) -> list[str]:
    """Sources first; a recurrent graph keeps file order for the rest (all run in parallel anyway)."""
    order = [n for n, p in pops.items() if p.kind == "Input"]
    if not order:
        raise NirError(f"{label}: the graph has no Input node")
    rest = [n for n in pops if n not in order]
    placed = set(order)
    while rest:
        ready = [n for n in rest if all(pr.pre in placed or pr.pre == n
                                        for pr in projections if pr.post == n)] or rest[:1]
        order.append(ready[0])
        placed.add(ready[0])
        rest.remove(ready[0])
    return order
