"""Build the benchmark network (weights, placement, routing keys) from its parameters and a seed.

Shared by the host app and the numpy reference so both simulate the very same network.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import LifMapping, LifNetwork

KEY_SHIFT = 16  # key = (pe << 16) | local neuron index; routing masks on the PE part
KEY_MASK = 0xFFFF0000


@dataclass
class Slice:
    """The neurons of one layer that one PE simulates."""

    pe: int
    layer: int
    start: int
    stop: int

    @property
    def n(self) -> int:
        return self.stop - self.start


@dataclass
class BuiltNetwork:
    net: LifNetwork
    slices: list[Slice]
    weights: list[np.ndarray]  # weights[l]: [layers[l], layers[l+1]] float32, 0 where unconnected
    seed: int

    def slices_of(self, layer: int) -> list[Slice]:
        return [s for s in self.slices if s.layer == layer]

    @property
    def pes(self) -> list[int]:
        return [s.pe for s in self.slices]


#: a simulator (host-memory) limit, not a hardware number: dense weight matrices are built in numpy
MAX_SYNAPSES_PER_PROJECTION = 1 << 28


def build(net: LifNetwork, mapping: LifMapping, seed: int, n_pes_available: int,
          with_weights: bool = True) -> BuiltNetwork:
    """Slices (one PE each) and, unless only checking the mapping (``s2sim validate``), the weights."""
    needed = sum(-(-size // mapping.neurons_per_pe) for size in net.layers)  # before making any slice
    if mapping.first_pe + needed > n_pes_available:
        raise ValueError(
            f"mapping needs PEs {mapping.first_pe}..{mapping.first_pe + needed - 1} ({needed} PEs at "
            f"{mapping.neurons_per_pe} neurons per PE) but the chip has {n_pes_available}; "
            f"raise mapping.neurons_per_pe or shrink network.layers")
    for n_pre, n_post in zip(net.layers, net.layers[1:]):
        if n_pre * n_post > MAX_SYNAPSES_PER_PROJECTION:
            raise ValueError(f"layers {n_pre} x {n_post} make {n_pre * n_post:,} synapses; the simulator "
                             f"builds at most {MAX_SYNAPSES_PER_PROJECTION:,} per layer pair (host memory)")
    slices, pe = [], mapping.first_pe
    for layer, size in enumerate(net.layers):
        for start in range(0, size, mapping.neurons_per_pe):
            slices.append(Slice(pe, layer, start, min(size, start + mapping.neurons_per_pe)))
            pe += 1
    if not with_weights:
        return BuiltNetwork(net, slices, [], seed)
    rng = np.random.default_rng([seed, 0x11F])
    weights = []
    for n_pre, n_post in zip(net.layers, net.layers[1:]):
        mask = rng.random((n_pre, n_post)) < net.p_connect
        w = rng.normal(net.weight_mean, net.weight_std, (n_pre, n_post))
        w = np.round(w / net.weight_resolution) * net.weight_resolution  # fixed point: exact sums
        weights.append((w * mask).astype(np.float32))
    return BuiltNetwork(net, slices, weights, seed)


def input_rng(seed: int, pe: int) -> np.random.Generator:
    """The Poisson source PE's random generator (the PE's PRNG), reproducible by the reference."""
    return np.random.default_rng([seed, 0x5EED, pe])
