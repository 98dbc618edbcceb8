"""Per-core LIF program: the canonical SpiNNaker neuron core.

* packet received (FIQ): add the presynaptic neuron's synaptic row into next tick's input buffer;
* timer tick: input -> membrane update -> threshold -> reset -> one multicast packet per spike.

Synaptic rows are stored compressed in SRAM, as sPyNNaker keeps its rows: a row index (uint32
offsets, one per presynaptic neuron), the target neurons (uint16) and the weights (float32). The
handler adds exactly those arrays, so memory is linear in synapses. Poisson input PEs draw spikes
from the PE's PRNG.

Group numerics (a speed trick of the simulator, not of the chip): the PEs of one layer keep their
membrane and input buffers as slices of one stacked array (``LifGroup``), so the tick's neuron
update runs as one numpy call for all of them; each PE still owns and is charged for its slice,
declares its own cycles and sends its own spikes. ``S2SIM_GROUP_NUMERICS=0`` (or
``firmware.params.group_numerics: false``) makes every PE update alone, with identical results.
"""
from __future__ import annotations

from array import array
from bisect import bisect_left

import numpy as np

from s2sim.runtime import Core, CostTable, Firmware, TickGroup, kernel_line, op_line

KEY_SHIFT = 16
#: Largest per-PE dense decode of the synaptic rows kept host-side for speed (bytes).
DENSE_DECODE_MAX_BYTES = 256 * 1024


F32 = np.float32

#: Receiving packets: each adds its row (the compiled event_add per synapse) in a call of 7 cycles.
SYNAPSE_COSTS = CostTable(kernel_line("synapses", "event_add", "synapses"),
                          op_line("synapses", "rows", int_alu=3, load=1, branch=1))
#: ``mapping.row_index: sparse``: a packet first finds its row by binary search over the row keys.
SEARCH_COSTS = CostTable(op_line("synapses", "search_steps", int_alu=2, load=1, branch=1))
#: The timer tick: the compiled lif_neuron_update; a spike adds the subtract and the fired-list store.
NEURON_COSTS = CostTable(kernel_line("neuron", "lif_neuron_update", "neurons"),
                         op_line("neuron", "spikes", fadd=1, store=1))
#: A Poisson source's tick: a KISS PRNG draw and a compare per neuron.
INPUT_COSTS = CostTable(op_line("input", "neurons", int_alu=4, int_mul=1, loop=1))


def lif_update(v: np.ndarray, buf: np.ndarray, alpha: np.float32, thr: np.float32, reset: str) -> np.ndarray:
    """One tick of LIF neurons, any leading shape: leak, add the input buffer (then cleared),
    threshold, reset. Returns the spike mask. Elementwise, so a stack of PEs gets each PE's result."""
    v *= alpha
    v += buf
    buf[...] = 0
    fired = v > thr
    if reset == "zero":
        v[fired] = 0
    else:
        v[fired] -= thr
    return fired


class LifGroup:
    """Membranes and input buffers of one layer's PEs whose timers fire together, stacked
    ``[member, neuron]`` (rows padded to the largest slice with neurons that never fire): the
    ``GroupKernel`` of a ``TickGroup`` that runs ``lif_update`` once per tick for all of them.

    The first member to run tick t updates every member that ran t - 1 and whose timer is at t - 1
    (about to fire at this same instant) or at t. Their input buffers for t normally receive
    nothing more. If a packet still reaches a member's buffer of t before its PE ran the tick (it
    arrived before its timer fired, or in an overrun, when the next tick reuses the buffer of the
    same parity), or the PE runs another tick first, the early update is undone from the saved
    state and the PE redoes it alone when it runs: the result is always what it computes alone.
    """

    def __init__(self, sizes: list[int], alpha: np.float32, threshold: float, reset: str):
        G, n = len(sizes), max(sizes)
        self.sizes, self.alpha, self.thr, self.reset = sizes, alpha, F32(threshold), reset
        self.v = np.zeros((G, n), F32)
        self.inp = np.zeros((2, G, n), F32)  # input buffers by tick parity
        self._v_before = np.zeros((G, n), F32)  # for undoing an early update
        self._inp_before = np.zeros((G, n), F32)
        self._cores: list = [None] * G
        self._fired: list = [None] * G
        self.ticks = TickGroup(G, self, ready=self._timer_due)
        self.pending = self.ticks.pending  # per member: tick updated early, not yet run by its PE

    @property
    def updates(self) -> int:
        return self.ticks.updates

    @property
    def redone(self) -> int:
        return self.ticks.redone

    def join(self, member: int, core: Core) -> None:
        self._cores[member] = core

    def _timer_due(self, member: int, tick: int) -> bool:
        """Member's PE ran ``tick`` - 1 and its timer is at ``tick`` - 1 (about to fire at this
        instant) or at ``tick``."""
        return self.ticks.ran[member] == tick - 1 and tick - 1 <= self._cores[member].tick <= tick

    def run_tick(self, member: int, tick: int) -> np.ndarray:
        """Member's spikes (local indices) of ``tick``, updating it (and every member ready) if needed."""
        self.ticks.run_tick(member, tick)
        return self._fired[member]

    def before_write(self, member: int, buffer_tick: int) -> None:
        """A packet handler is about to add to member's input buffer of ``buffer_tick`` (handlers
        call it only while ``pending[member]`` is set: the common case costs one list lookup)."""
        self.ticks.input_changed(member, buffer_tick)

    # ---- GroupKernel --------------------------------------------------------------------------------
    def compute(self, members: list[int], tick: int) -> None:
        buffers = self.inp[tick & 1]
        if len(members) == len(self.sizes):  # the whole group: in place
            np.copyto(self._v_before, self.v)
            np.copyto(self._inp_before, buffers)
            fired = lif_update(self.v, buffers, self.alpha, self.thr, self.reset)
        else:
            rows = np.asarray(members)
            v, buf = self.v[rows], buffers[rows]
            self._v_before[rows] = v
            self._inp_before[rows] = buf
            fired = lif_update(v, buf, self.alpha, self.thr, self.reset)
            self.v[rows] = v
            buffers[rows] = 0
        who, idx = np.nonzero(fired)
        bounds = np.searchsorted(who, np.arange(len(members) + 1)).tolist()
        for r, j in enumerate(members):
            self._fired[j] = idx[bounds[r]:bounds[r + 1]]

    def restore(self, member: int, tick: int) -> None:
        self.v[member] = self._v_before[member]
        self.inp[tick & 1, member] = self._inp_before[member]  # nothing was added since: see before_write


class PoissonSource(Firmware):
    def __init__(self, n: int, p_spike: float, rng: np.random.Generator, tick_ns: float, phase_ns: float):
        self.n, self.p, self.rng = n, p_spike, rng
        self.tick_ns, self.phase_ns = tick_ns, phase_ns
        self.spikes: list[np.ndarray] = []

    def on_start(self, core: Core) -> None:
        core.sram.reserve("source_state", 64, "state")
        self.input_costs = INPUT_COSTS.priced(core)
        core.set_timer(self.tick_ns, self.phase_ns)

    def on_timer(self, core: Core, tick: int) -> None:
        fired = np.flatnonzero(self.rng.random(self.n) < self.p)
        self.input_costs.charge(neurons=self.n)
        if len(fired):
            base = core.pe_id << KEY_SHIFT
            core.send_mc_many([base | i for i in fired.tolist()])
        self.spikes.append(fired)


class LifCore(Firmware):
    def __init__(self, n: int, rows, row_pes: dict[int, int], alpha: np.float32,
                 threshold: float, reset: str, tick_ns: float, phase_ns: float, record: bool = True,
                 send: bool = True, group: LifGroup | None = None, member: int = 0):
        """``rows``: this PE's columns of the projection as compressed rows (``indptr``, ``post``,
        ``weight``, the host's ``network.SynapticRows``); ``row_pes``: source PE -> first pre index;
        ``group``: the layer's ``LifGroup`` this PE is row ``member`` of (None: it computes alone)."""
        self.n, self.host_rows, self.row_base = n, rows, row_pes
        self.group, self.member = group, member
        self.pending = None if group is None else group.pending  # the group's early updates, by member
        self.alpha, self.thr, self.reset = alpha, np.float32(threshold), reset
        self.tick_ns, self.phase_ns, self.record, self.send = tick_ns, phase_ns, record, send
        self.spikes: list[np.ndarray] = []

    def on_start(self, core: Core) -> None:
        self.synapse_costs, self.neuron_costs = SYNAPSE_COSTS.priced(core), NEURON_COSTS.priced(core)
        rows = self.host_rows
        self.syn_weight = core.sram.adopt("syn_weights", rows.weight.astype(np.float32), "weights")
        self.syn_post = core.sram.adopt("syn_indices", rows.post.astype(np.uint16), "weights")
        self.row_index = core.sram.adopt("row_index", rows.indptr.astype(np.uint32), "weights")
        self.row_keys = None  # sparse row index: the presynaptic neurons with a row here, ascending
        if rows.pre is not None:
            keys = core.sram.adopt("row_keys", rows.pre.astype(np.uint32), "weights")
            # searched with bisect: a compact array, not a dict (board-sized runs hold ~6,000 rows on
            # each of thousands of PEs, where a dict of Python ints took most of the host memory)
            self.row_keys = array("I", keys.tobytes())
            self.search_steps = int(np.ceil(np.log2(len(keys) + 1)))
            self.search_costs = SEARCH_COSTS.priced(core)
        if self.group is None:
            self.v = core.sram.alloc("v", self.n, np.float32, "state")
            self.inp = core.sram.alloc("input_buffers", (2, self.n), np.float32, "buffers")
        else:  # this PE's slices of the layer's stacked arrays
            self.v = core.sram.adopt("v", self.group.v[self.member, :self.n], "state")
            self.inp = core.sram.adopt("input_buffers", self.group.inp[:, self.member, :self.n], "buffers")
            self.group.join(self.member, core)
        if self.row_keys is None:
            self.row_start = self.row_index[:-1].tolist()
            self.row_len = np.diff(self.row_index.astype(np.int64)).tolist()
        else:  # compact too (the same numbers; read one at a time by the sparse handler)
            self.row_start = array("I", self.row_index[:-1].tobytes())
            self.row_len = array("I", np.diff(self.row_index).astype(np.uint32).tobytes())
        # Simulation artefact, not chip state (never charged): where it is small, a decoded dense
        # copy of the rows makes one row add a single contiguous numpy add. Large, sparse slices
        # (board-sized networks) add their few synapses one by one instead, so host memory stays
        # linear in synapses.
        if rows.pre is None and rows.n_pre * rows.n_post * 4 <= DENSE_DECODE_MAX_BYTES:
            self.dense_rows = rows.dense()
        else:
            self.dense_rows = None
            self.post_list = self.syn_post.tolist()
            weights = self.syn_weight.tolist()
            one = {w: np.float32(w) for w in set(weights)}  # one object per distinct weight (fixed point: few)
            self.weight_list = [one[w] for w in weights]
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
        if self.row_keys is not None:
            return self.on_packet_burst(core, [key], [payload])
        if self.pending is not None and self.pending[self.member] is not None:
            self.group.before_write(self.member, core.tick + 1)
        i = self._pre_index(key)
        self._add_row(self.inp[(core.tick + 1) & 1], i)
        self.synapse_costs.charge(synapses=self.row_len[i], rows=1)

    def on_packet_burst(self, core: Core, keys, payloads) -> None:
        # All packets of a burst come from one source PE (one multicast tree).
        if self.pending is not None and self.pending[self.member] is not None:
            self.group.before_write(self.member, core.tick + 1)
        if self.row_keys is not None:
            return self._burst_sparse_index(core, keys)
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
        self.synapse_costs.charge(synapses=synapses, rows=len(keys))

    def _burst_sparse_index(self, core: Core, keys) -> None:
        """``mapping.row_index: sparse``: each packet's row found by binary search (a neuron with no
        synapse here has none: the search alone is charged), then added synapse by synapse."""
        base = self.row_base[keys[0] >> KEY_SHIFT]
        row_keys = self.row_keys
        # all keys of a burst come from one source PE (same upper bits): the rows they can hit lie
        # in [lo, hi), usually a few, often none
        lo = bisect_left(row_keys, base)
        hi = bisect_left(row_keys, base + (max(keys) & 0xFFFF) + 1, lo)
        synapses = 0
        if lo < hi:
            synapses = self._add_found_rows(self.inp[(core.tick + 1) & 1], keys, base, lo, hi)
        self.search_costs.charge(search_steps=self.search_steps * len(keys))
        self.synapse_costs.charge(synapses=synapses, rows=len(keys))

    def _add_found_rows(self, buf: np.ndarray, keys, base: int, lo: int, hi: int) -> int:
        """Add the rows of the packets whose neuron has one in ``row_keys[lo:hi]``, in arrival order;
        the synapses added."""
        row_keys, row_start, row_len = self.row_keys, self.row_start, self.row_len
        post, weight = self.post_list, self.weight_list
        synapses = 0
        for k in keys:
            pre = base + (k & 0xFFFF)
            i = bisect_left(row_keys, pre, lo, hi)
            if i == hi or row_keys[i] != pre:
                continue
            a, m = row_start[i], row_len[i]
            for j in range(a, a + m):
                buf[post[j]] += weight[j]
            synapses += m
        return synapses

    def on_timer(self, core: Core, tick: int) -> None:
        n = self.n
        if self.group is None:
            fired = np.flatnonzero(lif_update(self.v, self.inp[tick & 1], self.alpha, self.thr, self.reset))
        else:
            fired = self.group.run_tick(self.member, tick)
        self.neuron_costs.charge(neurons=n, spikes=len(fired))
        if self.send and len(fired):  # the output layer has no downstream PEs: its spikes are only recorded
            base = core.pe_id << KEY_SHIFT
            core.send_mc_many([base | i for i in fired.tolist()])
        if self.record:
            self.spikes.append(fired)
