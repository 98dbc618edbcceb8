"""Vectorised numpy LIF over the whole network: the oracle for the firmware's spike raster.

Same equations and the same order of float32 operations per neuron as ``firmware.py``:
I[t] = sum of rows of the previous layer's spikes at t-1 (added row by row, in neuron order, as the
packets arrive); v = alpha*v + I; spike if v > threshold; reset. Poisson inputs are drawn with the same per-PE generators as the source PEs.
"""
from __future__ import annotations

import numpy as np

from .network import BuiltNetwork, input_rng
from .params import decay


def input_raster(built: BuiltNetwork, n_ticks: int, p_spike: float) -> np.ndarray:
    out = np.zeros((n_ticks, built.net.layers[0]), dtype=bool)
    for s in built.slices_of(0):
        rng = input_rng(built.seed, s.index)
        for t in range(n_ticks):
            out[t, s.start:s.stop] = rng.random(s.n) < p_spike
    return out


def simulate(built: BuiltNetwork, n_ticks: int, tick_ns: float) -> list[np.ndarray]:
    """Spike rasters [n_ticks, layer size] (bool) for every layer, layer 0 being the input."""
    net = built.net
    p_spike = net.input_rate_hz * tick_ns * 1e-9
    return forward(built, input_raster(built, n_ticks, p_spike), tick_ns)


def forward(built: BuiltNetwork, inputs: np.ndarray, tick_ns: float) -> list[np.ndarray]:
    """Spike rasters of every layer for a given input raster [n_ticks, layer 0] (bool); layer 0 is
    ``inputs`` itself. Separate from ``simulate`` so studies can feed the same spikes at any tick."""
    net = built.net
    alpha, thr = decay(net, tick_ns), np.float32(net.threshold)
    n_ticks = inputs.shape[0]
    rasters = [np.asarray(inputs, bool)]
    for layer, rows in enumerate(built.projections, start=1):
        pre = rasters[-1]
        v = np.zeros(net.layers[layer], np.float32)
        out = np.zeros((n_ticks, net.layers[layer]), bool)
        for t in range(n_ticks):
            inp = np.zeros_like(v)
            if t > 0:
                for i in np.flatnonzero(pre[t - 1]):
                    a, b = rows.indptr[i], rows.indptr[i + 1]
                    inp[rows.post[a:b]] += rows.weight[a:b]
            v *= alpha
            v += inp
            fired = v > thr
            if net.reset == "zero":
                v[fired] = 0
            else:
                v[fired] -= thr
            out[t] = fired
        rasters.append(out)
    return rasters
