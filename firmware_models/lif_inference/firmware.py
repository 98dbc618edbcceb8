"""Per-core LIF program: the canonical SpiNNaker neuron core.

* packet received (FIQ): add the presynaptic neuron's synaptic row into next tick's input buffer;
* timer tick: input -> membrane update -> threshold -> reset -> one multicast packet per spike.

Synaptic rows are stored compressed (CSR: post index + weight) in SRAM, as sPyNNaker keeps its
rows; a decoded dense copy is kept host-side only to vectorise the arithmetic (not charged, it is a
simulation artefact, not chip state). Poisson input PEs draw spikes from the PE's PRNG.
"""
from __future__ import annotations

import numpy as np

from s2sim.runtime import Core, Firmware

KEY_SHIFT = 16


class PoissonSource(Firmware):
    def __init__(self, n: int, p_spike: float, rng: np.random.Generator, tick_ns: float, phase_ns: float):
        self.n, self.p, self.rng = n, p_spike, rng
        self.tick_ns, self.phase_ns = tick_ns, phase_ns
        self.spikes: list[np.ndarray] = []

    def on_start(self, core: Core) -> None:
        core.sram.reserve("source_state", 64, "state")
        core.set_timer(self.tick_ns, self.phase_ns)

    def on_timer(self, core: Core, tick: int) -> None:
        fired = np.flatnonzero(self.rng.random(self.n) < self.p)
        core.charge("input", int_alu=4 * self.n, int_mul=self.n, loop=self.n)  # KISS PRNG + compare
        base = core.pe_id << KEY_SHIFT
        for i in fired:
            core.send_mc(base | int(i))
        self.spikes.append(fired)


class LifCore(Firmware):
    def __init__(self, n: int, rows: np.ndarray, row_pes: dict[int, int], alpha: np.float32,
                 threshold: float, reset: str, tick_ns: float, phase_ns: float, record: bool = True,
                 send: bool = True):
        """``rows``: dense [n_pre, n] decoded weights; ``row_pes``: source PE -> first pre index."""
        self.n, self.rows, self.row_base = n, rows, row_pes
        self.alpha, self.thr, self.reset = alpha, np.float32(threshold), reset
        self.tick_ns, self.phase_ns, self.record, self.send = tick_ns, phase_ns, record, send
        self.nnz_per_row = (rows != 0).sum(axis=1)
        self.nnz_list = self.nnz_per_row.tolist()
        self.spikes: list[np.ndarray] = []

    def on_start(self, core: Core) -> None:
        nnz = int(self.nnz_per_row.sum())
        core.sram.reserve("syn_weights", 4 * nnz, "weights")
        core.sram.reserve("syn_indices", 2 * nnz, "weights")
        core.sram.reserve("row_index", 4 * (len(self.nnz_per_row) + 1), "weights")
        self.v = core.sram.alloc("v", self.n, np.float32, "state")
        self.inp = core.sram.alloc("input_buffers", (2, self.n), np.float32, "buffers")
        core.set_timer(self.tick_ns, self.phase_ns)

    def _pre_index(self, key: int) -> int:
        return self.row_base[key >> KEY_SHIFT] + (key & 0xFFFF)

    def on_packet(self, core: Core, key: int, payload) -> None:
        i = self._pre_index(key)
        self.inp[(core.tick + 1) & 1] += self.rows[i]
        core.kernel("synapses", "event_add", int(self.nnz_per_row[i]))
        core.charge("synapses", int_alu=3, load=1, branch=1)  # the call: setup, row lookup, return (7)

    def on_packet_burst(self, core: Core, keys, payloads) -> None:
        # All packets of a burst come from one source PE (one multicast tree).
        first = keys[0]
        base = self.row_base[first >> KEY_SHIFT]
        buf, rows, nnz = self.inp[(core.tick + 1) & 1], self.rows, self.nnz_list
        synapses = 0
        for k in keys:  # one row add per packet, as the handler does on the chip
            i = base + (k & 0xFFFF)
            buf += rows[i]
            synapses += nnz[i]
        core.kernel("synapses", "event_add", synapses)
        core.charge("synapses", int_alu=3 * len(keys), load=len(keys), branch=len(keys))  # one call per row

    def on_timer(self, core: Core, tick: int) -> None:
        n, buf = self.n, self.inp[tick & 1]
        v = self.v
        v *= self.alpha
        v += buf
        buf[:] = 0
        fired = np.flatnonzero(v > self.thr)
        if self.reset == "zero":
            v[fired] = 0
        else:
            v[fired] -= self.thr
        # compiled lif_neuron_update (firmware_models/lif_inference/kernels); a spike adds the
        # subtract and the fired-list store
        core.kernel("neuron", "lif_neuron_update", n)
        core.charge("neuron", fadd=len(fired), store=len(fired))
        if self.send:  # the output layer has no downstream PEs: its spikes are only recorded
            base = core.pe_id << KEY_SHIFT
            for i in fired:
                core.send_mc(base | int(i))
        if self.record:
            self.spikes.append(fired)
