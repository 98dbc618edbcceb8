"""EventProp's gradient reduce across the chips of a board: a chain of reducer PEs in copy order.

On one chip the root PE DMA-reads every copy's gradient record and adds them in copy order. On a
board the copies of chip c write their records into chip c's DRAM, which only chip c's PEs read, so
the records' sum has to cross the chip links. It does so as a **chain**, not a tree: the root (or,
if the root's chip holds no copies, the first chip's reducer) sums its chip's records, sends the
running sum as packets over the chip link to the next chip's reducer PE, which adds its own chip's
records in copy order and passes the sum on; the last chain member sends the full sum to the root,
which runs Adam and multicasts the new weights to every reducer, which DMA-writes them into its
chip's DRAM for the layer PEs' weight distribution tick and then tells the root so (one "written"
packet, ``batch_sync``): the root holds the copies until every chip's DRAM has the new weights.

Why a chain: the reference (and the one-chip root) adds the copies' gradients in copy order in
float32, ((p0 + p1) + p2) + ..., and float addition is not associative; a tree (each chip summing
its own copies, the root summing the chips) rounds differently and trains to other weights. The chain
keeps the order, so a board trains bit-identically to one chip; its cost is that the chips' reads do
not overlap (as they did not for the one root reading every copy).

Packets carry one float32 each (a 96-bit chip-link packet: 32-bit key, 32-bit payload). Keys:
``src_pe << 16 | i & 0xFFFF`` for the running sum, ``WEIGHT_FLAG | src_pe << 16 | i & 0xFFFF`` for
the new weights; ``i`` counts the values in the order sent and the receiver checks it (a route
delivers one source's packets in order). The root and reducers send no spikes or errors, so their
``pe << 16`` keys are free. Firmware: imports only numpy and ``s2sim.runtime``.
"""
from __future__ import annotations

import numpy as np

from s2sim.runtime import Core, Firmware

from .batch_sync import WRITTEN, BatchSchedule, is_sync, sync_key

F32 = np.float32
SRC_SHIFT = 16
WEIGHT_FLAG = 1 << 31
INDEX_MASK = 0xFFFF
#: a chain member adds each copy's DMA-read record (gradient rows, then counts) into its sum: a float
#: vector add, ``total[j] += partial[j]``, the compiled code of eprop_kernels.c:event_add_dense
REDUCE_ADD_KERNEL = "event_add_dense"
#: DMA tags of the reduce: a copy's record read; layer l's new weights written (``W_TAG + l``)
READ_TAG, W_TAG = 10, 11


class RecordLayout:
    """What a copy's record holds for each (layer, slice): the gradient rows (n x n_in), then, with the
    batch-scope silent rule, its fired flags [n] and input counts [n_in]; and where it sits in DRAM."""

    def __init__(self, slices: list[list[tuple[int, int]]], n_in: list[int], extra: list[bool]):
        self.slices, self.n_in, self.extra = slices, n_in, extra
        self.keys = [(l, s) for l, sl in enumerate(slices) for s in range(len(sl))]

    def size(self, l: int, s: int) -> tuple[int, int]:
        """(gradient values, count values) of the record of slice ``s`` of layer ``l``."""
        start, stop = self.slices[l][s]
        n = stop - start
        return n * self.n_in[l], (n + self.n_in[l] if self.extra[l] else 0)

    @property
    def sum_values(self) -> int:
        """Values in a running sum (every record of one copy, end to end)."""
        return sum(sum(self.size(l, s)) for l, s in self.keys)

    def jobs(self, copies: list[int]) -> list[tuple[int, int, int]]:
        """(layer, slice, copy) reads of a chain member, in the one-chip root's order."""
        return [(l, s, k) for l, s in self.keys for k in copies]

    def flatten(self, total: list[np.ndarray], counts: dict) -> np.ndarray:
        """The running sum as the values sent, (layer, slice) by (layer, slice)."""
        parts = []
        for l, s in self.keys:
            start, stop = self.slices[l][s]
            size, extra = self.size(l, s)
            parts.append(total[l][start:stop].reshape(-1))
            if extra:
                parts.append(counts.get((l, s), np.zeros(extra, F32)))
        return np.concatenate(parts).astype(F32, copy=False)

    def unflatten(self, flat: np.ndarray, total: list[np.ndarray], counts: dict) -> None:
        """Set ``total`` rows and ``counts`` from received values (the inverse of ``flatten``)."""
        at = 0
        for l, s in self.keys:
            start, stop = self.slices[l][s]
            size, extra = self.size(l, s)
            total[l][start:stop] = flat[at:at + size].reshape(stop - start, -1)
            at += size
            if extra:
                counts[(l, s)] = flat[at:at + extra].copy()
                at += extra


class Inbox:
    """Values arriving as packets from one source, in the order sent (checked by their keys)."""

    def __init__(self, n: int, what: str):
        self.values = np.zeros(n, F32)
        self.count, self.what = 0, what

    def take(self, keys, payloads) -> np.ndarray | None:
        """Store a burst's values; the full vector once the last one arrived (and start over)."""
        values, count = self.values, self.count
        for key, value in zip(keys, payloads):
            if key & INDEX_MASK != count & INDEX_MASK:
                raise RuntimeError(f"{self.what}: value {key & INDEX_MASK} arrived where "
                                   f"{count & INDEX_MASK} was due (packets out of order)")
            values[count] = value
            count += 1
        if count < len(values):
            self.count = count
            return None
        self.count = 0
        return values.copy()


def send_values(core: Core, base_key: int, values: np.ndarray) -> int:
    """Send ``values`` as one float32 packet each (a load and a send per value); returns the count."""
    n = len(values)
    core.charge("reduce", load=n, int_alu=n, loop=n)
    for i, value in enumerate(values.tolist()):
        core.send_mc(base_key | (i & INDEX_MASK), F32(value))
    return n


class ChainCounters:
    """Packets of the cross-chip reduce (host reads them)."""

    def __init__(self):
        self.sum_packets = 0  # running-sum values sent along the chain
        self.weight_packets = 0  # new-weight values the root multicast to the reducers


class ReducerCore(Firmware):
    """A chip's link in the reduce chain: add this chip's copies' records to the running sum, pass it
    on; write the root's new weights into this chip's DRAM (see the module docstring)."""

    def __init__(self, layout: RecordLayout, copies: list[int], w_shapes: list[tuple[int, int]],
                 grad_bufs: list[list[str]], w_bufs: list[str], next_pe: int, first: bool,
                 ticks_per_batch: int, reduce_phase: int, tick_ns: float, counters: ChainCounters):
        """``copies``: the copies whose records this chip's DRAM holds; ``next_pe``: where the sum goes
        (the next reducer, or the root); ``first``: the chain starts here (no sum arrives)."""
        self.layout, self.copies, self.w_shapes = layout, copies, w_shapes
        self.grad_bufs, self.w_bufs, self.next_pe, self.first = grad_bufs, w_bufs, next_pe, first
        self.K, self.reduce_phase, self.tick_ns, self.cnt = ticks_per_batch, reduce_phase, tick_ns, counters
        self.sum_in = Inbox(layout.sum_values, "reduce chain sum")
        self.w_in = Inbox(sum(a * b for a, b in w_shapes), "new weights")
        self.total: list[np.ndarray] = []
        self.counts: dict = {}
        self.jobs: list[tuple[int, int, int]] = []
        self.slot = np.zeros(0, F32)
        self.new_w: list[np.ndarray] = []
        self.schedule = BatchSchedule(ticks_per_batch, reduce_phase + 1)  # the root's hold and ready move it
        self.writes_left = 0

    def on_start(self, core: Core) -> None:
        lay = self.layout
        core.sram.reserve("grad_total", 4 * lay.sum_values, "state")
        core.sram.reserve("dma_slot", 4 * max(sum(lay.size(l, s)) for l, s in lay.keys), "buffers")
        core.sram.reserve("weights_in", 4 * len(self.w_in.values), "buffers")
        core.set_timer(self.tick_ns)

    def on_timer(self, core: Core, tick: int) -> None:
        sched = self.schedule
        if self.first and not sched.idle(tick) and sched.phase(tick) == self.reduce_phase:
            self._start(core, None)

    def on_packet(self, core: Core, key: int, payload) -> None:
        self.on_packet_burst(core, [key], [payload])

    def on_packet_burst(self, core: Core, keys, payloads) -> None:
        n = len(keys)
        if is_sync(keys[0]):  # the root's hold or ready (batch_sync.py)
            core.charge("comms", int_alu=2 * n, store=n)
            self.schedule.take(keys, payloads, core.tick, f"chip reducer PE {core.pe_id}")
            return
        core.charge("reduce", int_alu=2 * n, store=n)
        for weights, inbox, then in ((True, self.w_in, self._write_weights), (False, self.sum_in, self._start)):
            mine = [(k, v) for k, v in zip(keys, payloads) if bool(k & WEIGHT_FLAG) == weights]
            flat = inbox.take([k for k, _ in mine], [v for _, v in mine]) if mine else None
            if flat is not None:
                core.schedule(lambda c, values, then=then: then(c, values), flat, 1)

    def _start(self, core: Core, incoming: np.ndarray | None) -> None:
        lay = self.layout
        self.total = [np.zeros(shape, F32) for shape in self.w_shapes]
        self.counts = {}
        if incoming is not None:
            lay.unflatten(incoming, self.total, self.counts)
        self.jobs = lay.jobs(self.copies)
        self._next(core)

    def _next(self, core: Core) -> None:
        l, s, k = self.jobs[0]
        size, extra = self.layout.size(l, s)
        self.slot = np.zeros(size + extra, F32)
        core.dma_read(READ_TAG, self.grad_bufs[l][s], k * (size + extra), size + extra, self.slot)

    def on_dma_done(self, core: Core, tag: int) -> None:
        if tag != READ_TAG:  # a layer's new weights are in this chip's DRAM; after the last, tell the root
            self.writes_left -= 1
            if not self.writes_left:
                core.send_mc(sync_key(core.pe_id, WRITTEN))
            return
        l, s, _ = self.jobs.pop(0)
        add_record(core, self.layout, l, s, self.slot, self.total, self.counts)
        if self.jobs:
            self._next(core)
            return
        flat = self.layout.flatten(self.total, self.counts)
        self.cnt.sum_packets += send_values(core, core.pe_id << SRC_SHIFT, flat)

    def _write_weights(self, core: Core, flat: np.ndarray) -> None:
        at = 0
        self.new_w = []
        self.writes_left = len(self.w_shapes)
        for l, (n, n_in) in enumerate(self.w_shapes):
            w = flat[at:at + n * n_in].reshape(n, n_in).copy()
            at += n * n_in
            self.new_w.append(w)
            core.dma_write(W_TAG + l, w, self.w_bufs[l], 0, w.size)


def add_record(core: Core, layout: RecordLayout, l: int, s: int, slot: np.ndarray,
               total: list[np.ndarray], counts: dict) -> None:
    """Add one copy's record to the running sum (the compiled vector add, per element)."""
    start, stop = layout.slices[l][s]
    size, extra = layout.size(l, s)
    total[l][start:stop] += slot[:size].reshape(stop - start, -1)
    core.kernel("reduce", REDUCE_ADD_KERNEL, slot.size)
    if extra:
        counts[(l, s)] = counts.get((l, s), np.zeros(extra, F32)) + slot[size:]
