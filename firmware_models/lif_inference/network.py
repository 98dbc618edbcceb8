"""Build the benchmark network (weights, placement, routing keys) from its parameters and a seed.

Shared by the host app and the numpy reference so both simulate the very same network. Weights
are kept as the chip keeps them, compressed synaptic rows (CSR), so host memory grows with the
number of synapses, not with the square of the layer sizes.
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
    index: int = -1  # its place in the network's one-chip order (``first_pe`` + ordinal); -1: ``pe``

    def __post_init__(self) -> None:
        if self.index < 0:
            self.index = self.pe

    @property
    def n(self) -> int:
        return self.stop - self.start


@dataclass
class SynapticRows:
    """One projection as compressed rows: row ``i`` (presynaptic neuron ``i``) holds the targets
    ``post[indptr[i]:indptr[i+1]]`` (ascending) with weights ``weight[...]`` (float32)."""

    indptr: np.ndarray  # int64 [n_pre + 1]
    post: np.ndarray    # int32 [nnz]
    weight: np.ndarray  # float32 [nnz]
    n_post: int
    pre: np.ndarray | None = None  # int64 [rows]: each row's presynaptic neuron (None: row i is neuron i)

    @property
    def n_pre(self) -> int:
        return len(self.indptr) - 1

    @property
    def nnz(self) -> int:
        return len(self.post)

    def columns(self, start: int, stop: int) -> "SynapticRows":
        """The rows restricted to targets in ``[start, stop)``, renumbered from 0 (one PE's slice)."""
        keep = (self.post >= start) & (self.post < stop)
        row_of = np.repeat(np.arange(self.n_pre), np.diff(self.indptr))
        counts = np.bincount(row_of[keep], minlength=self.n_pre)
        indptr = np.zeros(self.n_pre + 1, np.int64)
        np.cumsum(counts, out=indptr[1:])
        return SynapticRows(indptr, (self.post[keep] - start).astype(np.int32), self.weight[keep],
                            stop - start)

    def split_columns(self, bounds: list[tuple[int, int]], sparse: bool = False) -> list["SynapticRows"]:
        """``columns(start, stop)`` of every ``(start, stop)`` of ``bounds`` (contiguous, ascending, covering
        every target) in one pass over the synapses instead of one per slice (board-sized layers).

        ``sparse``: each slice keeps only the rows that have a synapse in it (``pre`` names their
        neurons), so its row index grows with its synapses, not with the presynaptic layer.
        """
        starts = np.asarray([a for a, _ in bounds], np.int64)
        slice_of = np.searchsorted(starts, self.post, side="right") - 1
        order = np.argsort(slice_of, kind="stable")  # row-major within each slice, as ``columns`` keeps it
        row_of = np.repeat(np.arange(self.n_pre, dtype=np.int64), np.diff(self.indptr))
        ends = np.cumsum(np.bincount(slice_of, minlength=len(bounds)))
        out, begin = [], 0
        for k, (start, stop) in enumerate(bounds):
            idx = order[begin:ends[k]]
            begin = ends[k]
            rows, post, weight = row_of[idx], (self.post[idx] - start).astype(np.int32), self.weight[idx]
            if sparse:
                pre, counts = np.unique(rows, return_counts=True)
                indptr = np.zeros(len(pre) + 1, np.int64)
                np.cumsum(counts, out=indptr[1:])
                out.append(SynapticRows(indptr, post, weight, stop - start, pre=pre))
            else:
                indptr = np.zeros(self.n_pre + 1, np.int64)
                np.cumsum(np.bincount(rows, minlength=self.n_pre), out=indptr[1:])
                out.append(SynapticRows(indptr, post, weight, stop - start))
        return out

    def dense(self) -> np.ndarray:
        """[n_pre, n_post] float32 with zeros where unconnected (for tests and small checks)."""
        out = np.zeros((self.n_pre, self.n_post), np.float32)
        row_of = np.repeat(np.arange(self.n_pre), np.diff(self.indptr))
        out[row_of, self.post] = self.weight
        return out


@dataclass
class BuiltNetwork:
    net: LifNetwork
    slices: list[Slice]
    projections: list[SynapticRows]  # projections[l]: layer l -> layer l+1
    seed: int

    @property
    def n_synapses(self) -> int:
        return sum(p.nnz for p in self.projections)

    def slices_of(self, layer: int) -> list[Slice]:
        return [s for s in self.slices if s.layer == layer]

    def slice_rows(self, layer: int, sparse: bool = False) -> list[SynapticRows]:
        """The synaptic rows of each slice of ``layer`` (> 0), in ``slices_of`` order."""
        return self.projections[layer - 1].split_columns([(s.start, s.stop) for s in self.slices_of(layer)], sparse)

    @property
    def pes(self) -> list[int]:
        return [s.pe for s in self.slices]


#: a simulator (host-memory) limit, not a hardware number: dense weight matrices are built in numpy
MAX_SYNAPSES_PER_PROJECTION = 1 << 28


def build(net: LifNetwork, mapping: LifMapping, seed: int, n_pes_available: int,
          with_weights: bool = True, pes_per_chip: int | None = None) -> BuiltNetwork:
    """Slices (one PE each) and, unless only checking the mapping (``s2sim validate``), the weights.

    Slices take the PEs in layer order, filling a chip before the next (``pes_per_chip``: the
    machine's PEs per chip, None for one chip), so each layer spans the fewest chips and only layers
    that share no chip talk over chip links. ``mapping.pes_per_chip`` fills fewer PEs per chip.
    A slice's ``index`` (its place in the one-chip order) seeds its inputs and timer phase, so a
    network spread over chips draws the same inputs as on one chip.
    """
    needed = sum(-(-size // mapping.neurons_per_pe) for size in net.layers)  # before making any slice
    place = _placement(mapping, pes_per_chip or n_pes_available)
    last = place(mapping.first_pe + needed - 1) if needed else 0
    if mapping.first_pe + needed > n_pes_available or last >= n_pes_available:
        raise ValueError(
            f"mapping needs PEs {mapping.first_pe}..{mapping.first_pe + needed - 1} ({needed} PEs at "
            f"{mapping.neurons_per_pe} neurons per PE"
            + (f", {mapping.pes_per_chip} per chip" if mapping.pes_per_chip else "")
            + f") but the {'board' if pes_per_chip and n_pes_available > pes_per_chip else 'chip'} has {n_pes_available}; "
            f"raise mapping.neurons_per_pe or shrink network.layers")
    for n_pre, n_post in zip(net.layers, net.layers[1:]):
        # the dense draw makes a number per possible synapse; the sparse one only the expected synapses
        drawn = n_pre * n_post * (net.p_connect if net.draw == "sparse" else 1.0)
        if drawn > MAX_SYNAPSES_PER_PROJECTION:
            what = "expected synapses" if net.draw == "sparse" else "synapses"
            raise ValueError(f"layers {n_pre} x {n_post} make {drawn:,.0f} {what}; the simulator "
                             f"builds at most {MAX_SYNAPSES_PER_PROJECTION:,} per layer pair (host memory)")
    slices, pe = [], mapping.first_pe
    for layer, size in enumerate(net.layers):
        for start in range(0, size, mapping.neurons_per_pe):
            slices.append(Slice(place(pe), layer, start, min(size, start + mapping.neurons_per_pe), pe))
            pe += 1
    if not with_weights:
        return BuiltNetwork(net, slices, [], seed)
    rng = np.random.default_rng([seed, 0x11F])
    projections = []
    draw = _random_rows if net.draw == "dense" else _sparse_random_rows
    for n_pre, n_post in zip(net.layers, net.layers[1:]):
        projections.append(draw(rng, n_pre, n_post, net))
    return BuiltNetwork(net, slices, projections, seed)


def _placement(mapping: LifMapping, chip_pes: int):
    """Logical PE (one-chip order) -> the machine's PE, ``mapping.pes_per_chip`` of each chip."""
    per_chip = mapping.pes_per_chip
    if per_chip is None:
        return lambda index: index
    if per_chip > chip_pes:
        raise ValueError(f"pes_per_chip {per_chip} is more than a chip's {chip_pes} PEs")
    return lambda index: index // per_chip * chip_pes + index % per_chip


#: Rows drawn per block: bounds the float64 temporaries to a few MB whatever the layer sizes.
_ROWS_PER_BLOCK = 256


def _random_rows(rng: np.random.Generator, n_pre: int, n_post: int, net: LifNetwork) -> SynapticRows:
    """Draw one projection block by block, with exactly the numbers a single dense draw gives.

    The dense recipe is ``mask = random((n_pre, n_post)) < p`` then ``normal(...)`` of the same shape,
    from one generator. Two generators walk those two stretches of the stream side by side (the
    second advanced past the mask's ``n_pre * n_post`` uniforms), and ``rng`` is left where the dense
    draw would leave it, so a network's weights do not depend on how it is built.
    """
    w_rng = np.random.Generator(type(rng.bit_generator)())
    w_rng.bit_generator.state = rng.bit_generator.state
    w_rng.bit_generator.advance(n_pre * n_post)  # one 64-bit draw per uniform double
    indptr = np.zeros(n_pre + 1, np.int64)
    posts, weights = [], []
    for r0 in range(0, n_pre, _ROWS_PER_BLOCK):
        rows = min(_ROWS_PER_BLOCK, n_pre - r0)
        mask = rng.random((rows, n_post)) < net.p_connect
        w = w_rng.normal(net.weight_mean, net.weight_std, (rows, n_post))
        w = np.round(w / net.weight_resolution) * net.weight_resolution  # fixed point: exact sums
        mask &= w != 0  # a weight that rounds to zero is no synapse: nothing to store or add
        r, c = np.nonzero(mask)
        posts.append(c.astype(np.int32))
        weights.append(w[r, c].astype(np.float32))
        np.cumsum(mask.sum(axis=1), out=indptr[r0 + 1:r0 + rows + 1])
        indptr[r0 + 1:r0 + rows + 1] += indptr[r0]
    rng.bit_generator.state = w_rng.bit_generator.state
    post = np.concatenate(posts) if posts else np.zeros(0, np.int32)
    weight = np.concatenate(weights) if weights else np.zeros(0, np.float32)
    return SynapticRows(indptr, post, weight, n_post)


def input_rng(seed: int, pe: int) -> np.random.Generator:
    """The Poisson source PE's random generator (the PE's PRNG), reproducible by the reference."""
    return np.random.default_rng([seed, 0x5EED, pe])


def _sparse_random_rows(rng: np.random.Generator, n_pre: int, n_post: int,
                        net: LifNetwork) -> SynapticRows:
    """The same connectivity law drawn in O(synapses): per row a binomial count of distinct targets.

    For board-sized networks, where the dense recipe would draw ``n_pre * n_post`` numbers for a
    few hundred thousand synapses. Other numbers than ``draw: dense``, same distribution.
    """
    counts = rng.binomial(n_post, net.p_connect, n_pre)
    posts = [np.sort(rng.choice(n_post, int(k), replace=False)) for k in counts]
    post = np.concatenate(posts).astype(np.int32) if n_pre else np.zeros(0, np.int32)
    w = rng.normal(net.weight_mean, net.weight_std, len(post))
    w = (np.round(w / net.weight_resolution) * net.weight_resolution).astype(np.float32)
    keep = w != 0  # a weight that rounds to zero is no synapse
    row_of = np.repeat(np.arange(n_pre), counts)[keep]
    indptr = np.zeros(n_pre + 1, np.int64)
    np.cumsum(np.bincount(row_of, minlength=n_pre), out=indptr[1:])
    return SynapticRows(indptr, post[keep], w[keep], n_post)
