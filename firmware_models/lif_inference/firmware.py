"""Per-core LIF program: the canonical SpiNNaker neuron core.

* packet received (FIQ): add the presynaptic neuron's synaptic row into next tick's input buffer;
* timer tick: input -> membrane update -> threshold -> reset -> one multicast packet per spike.

Synaptic rows are stored compressed in SRAM, as sPyNNaker keeps its rows: a row index (uint32
offsets, one per presynaptic neuron), the target neurons (uint16) and the weights (float32). The
handler adds exactly those arrays, so memory is linear in synapses. Poisson input PEs draw spikes
from the PE's PRNG.
"""
from __future__ import annotations

import numpy as np

from s2sim.runtime import Core, Firmware

KEY_SHIFT = 16
#: Largest per-PE dense decode of the synaptic rows kept host-side for speed (bytes).
DENSE_DECODE_MAX_BYTES = 256 * 1024


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
    def __init__(self, n: int, rows, row_pes: dict[int, int], alpha: np.float32,
                 threshold: float, reset: str, tick_ns: float, phase_ns: float, record: bool = True,
                 send: bool = True):
        """``rows``: this PE's columns of the projection as compressed rows (``indptr``, ``post``,
        ``weight``, the host's ``network.SynapticRows``); ``row_pes``: source PE -> first pre index."""
        self.n, self.host_rows, self.row_base = n, rows, row_pes
        self.alpha, self.thr, self.reset = alpha, np.float32(threshold), reset
        self.tick_ns, self.phase_ns, self.record, self.send = tick_ns, phase_ns, record, send
        self.spikes: list[np.ndarray] = []

    def on_start(self, core: Core) -> None:
        rows = self.host_rows
        self.syn_weight = core.sram.adopt("syn_weights", rows.weight.astype(np.float32), "weights")
        self.syn_post = core.sram.adopt("syn_indices", rows.post.astype(np.uint16), "weights")
        self.row_index = core.sram.adopt("row_index", rows.indptr.astype(np.uint32), "weights")
        self.v = core.sram.alloc("v", self.n, np.float32, "state")
        self.inp = core.sram.alloc("input_buffers", (2, self.n), np.float32, "buffers")
        self.row_start = self.row_index[:-1].tolist()
        self.row_len = np.diff(self.row_index.astype(np.int64)).tolist()
        # Simulation artefact, not chip state (never charged): where it is small, a decoded dense
        # copy of the rows makes one row add a single contiguous numpy add. Large, sparse slices
        # (board-sized networks) add their few synapses one by one instead, so host memory stays
        # linear in synapses.
        if rows.n_pre * rows.n_post * 4 <= DENSE_DECODE_MAX_BYTES:
            self.dense_rows = rows.dense()
        else:
            self.dense_rows = None
            self.post_list = self.syn_post.tolist()
            self.weight_list = [np.float32(w) for w in self.syn_weight]
        del self.host_rows
        core.set_timer(self.tick_ns, self.phase_ns)

    def _pre_index(self, key: int) -> int:
        return self.row_base[key >> KEY_SHIFT] + (key & 0xFFFF)

    def _add_row(self, buf: np.ndarray, i: int) -> None:
        """Add presynaptic neuron ``i``'s row to ``buf`` (targets of one row are distinct)."""
        if self.dense_rows is not None:
            buf += self.dense_rows[i]
            return
        a = self.row_start[i]
        post, weight = self.post_list, self.weight_list
        for j in range(a, a + self.row_len[i]):
            buf[post[j]] += weight[j]

    def on_packet(self, core: Core, key: int, payload) -> None:
        i = self._pre_index(key)
        self._add_row(self.inp[(core.tick + 1) & 1], i)
        core.kernel("synapses", "event_add", self.row_len[i])
        core.charge("synapses", int_alu=3, load=1, branch=1)  # the call: setup, row lookup, return (7)

    def on_packet_burst(self, core: Core, keys, payloads) -> None:
        # All packets of a burst come from one source PE (one multicast tree).
        base = self.row_base[keys[0] >> KEY_SHIFT]
        buf, row_len = self.inp[(core.tick + 1) & 1], self.row_len
        synapses = 0
        if self.dense_rows is not None:
            rows = self.dense_rows
            for k in keys:  # one row add per packet, in arrival order, as the handler does on the chip
                i = base + (k & 0xFFFF)
                buf += rows[i]
                synapses += row_len[i]
        else:  # the same adds, synapse by synapse (inlined: this is the hot loop of board-sized runs)
            row_start, post, weight = self.row_start, self.post_list, self.weight_list
            for k in keys:
                i = base + (k & 0xFFFF)
                a, m = row_start[i], row_len[i]
                for j in range(a, a + m):
                    buf[post[j]] += weight[j]
                synapses += m
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
