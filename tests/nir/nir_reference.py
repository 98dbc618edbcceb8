"""An independent numpy interpreter of NIR graphs: the oracle for the imported-graph firmware.

It reads each node's own parameters and applies NIR's equations node by node (``W @ x + b``, a
direct 2-D cross-correlation loop, ...), sharing no code with ``s2sim/nir_import.py``. Time is
discretised as that module documents: every neuron node sees at tick ``t`` what its source
populations emitted at ``t - 1``; the synaptic current is updated before the membrane; float32 state.
"""
from __future__ import annotations

import numpy as np

NEURONS = ("LIF", "CubaLIF", "IF", "LI", "CubaLI", "Threshold")


def simulate(graph, inputs: dict[str, np.ndarray], dt_s: float, method: str = "exact"):
    """``{population: (spikes [T, n] bool or None, v [T, n] float32 or None)}``."""
    nodes = graph.nodes
    preds = {n: [s for s, d in graph.edges if d == n] for n in nodes}
    kind = {n: type(node).__name__ for n, node in nodes.items()}
    pops = [n for n in nodes if kind[n] in NEURONS]
    n_ticks = len(next(iter(inputs.values())))
    size = {n: nodes[n].output_type["output"].prod() for n in pops}
    state = {n: {"v": np.zeros(size[n], np.float32), "i": np.zeros(size[n], np.float32)} for n in pops}
    prev = {n: np.zeros(size[n]) for n in pops} | {n: np.zeros(inputs[n].shape[1]) for n in inputs}
    out = {n: ([], []) for n in pops}

    def value(name: str) -> np.ndarray:
        if name in prev:
            return prev[name]
        x = sum(value(p) for p in preds[name])
        node = nodes[name]
        if kind[name] == "Affine":
            return node.weight @ x + node.bias
        if kind[name] == "Linear":
            return node.weight @ x
        if kind[name] == "Scale":
            return node.scale * x
        if kind[name] == "Flatten":
            return x.reshape(-1)
        if kind[name] == "Conv2d":
            return conv2d(node, x)
        raise AssertionError(f"reference has no rule for {kind[name]}")

    for t in range(n_ticks):
        now = {}
        for n in pops:
            s = sum(value(p) for p in preds[n]).astype(np.float32)
            now[n] = step(nodes[n], kind[n], state[n], s, dt_s, method)
            fired = now[n] if kind[n] not in ("LI", "CubaLI") else None
            out[n][0].append(fired)
            out[n][1].append(state[n]["v"].copy())
        prev = {n: now[n].astype(np.float64) for n in pops} | {n: inputs[n][t].astype(np.float64) for n in inputs}
    return {n: (None if out[n][0][0] is None else np.array(out[n][0]), np.array(out[n][1])) for n in pops}


def decay(tau, dt_s, method):
    tau = np.asarray(tau, np.float64)
    a = np.exp(-dt_s / tau) if method == "exact" else 1 - dt_s / tau
    return a, (1 - a) if method == "exact" else dt_s / tau


def step(node, kind, st, s, dt_s, method):
    """One tick of one neuron node; returns its spikes (or its voltage for LI/CubaLI)."""
    f32 = np.float32

    def p(attr):  # a parameter, flattened as the node's neurons are
        return np.asarray(getattr(node, attr), np.float64).reshape(-1)
    if kind == "Threshold":
        st["v"] = s.copy()
        return s > p("threshold").astype(f32)
    drive = s
    if kind in ("CubaLIF", "CubaLI"):
        a_syn, k_syn = decay(p("tau_syn"), dt_s, method)
        st["i"] = st["i"] * f32(a_syn) + (k_syn * p("w_in")).astype(f32) * s
        drive = st["i"]
    if kind == "IF":
        a, g, c = f32(1), (dt_s * p("r")).astype(f32), f32(0)
    else:
        a, k = decay(p("tau") if kind in ("LIF", "LI") else p("tau_mem"), dt_s, method)
        a, g, c = a.astype(f32), (k * p("r")).astype(f32), (k * p("v_leak")).astype(f32)
    st["v"] = st["v"] * a + (c + g * drive)
    if kind in ("LI", "CubaLI"):
        return st["v"]
    fired = st["v"] > p("v_threshold").astype(f32)
    st["v"] = np.where(fired, p("v_reset").astype(f32), st["v"]).astype(f32)
    return fired


def conv2d(node, x):
    """Cross-correlation as torch/NIR define it, by direct loops (groups = 1)."""
    c_in, h, w = node.input_shape if len(node.input_shape) == 3 else (None, *node.input_shape)
    wt = node.weight
    c_out, _, kh, kw = wt.shape
    x = x.reshape(-1, h, w)
    (sh, sw), (ph, pw), (dh, dw) = (np.broadcast_to(np.asarray(v), (2,)) for v in
                                    (node.stride, node.padding, node.dilation))
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
    ho, wo = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((c_out, ho, wo))
    for co in range(c_out):
        for i in range(ho):
            for j in range(wo):
                patch = xp[:, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
                y[co, i, j] = (patch * wt[co]).sum() + np.broadcast_to(node.bias, (c_out,))[co]
    return y.reshape(-1)
