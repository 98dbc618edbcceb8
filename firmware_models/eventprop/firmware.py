"""Per-core EventProp programs (Béna et al. 2024 discretisation, spec eventprop_yinyang.md §1.3).

One batch copy = an injector PE, one (or more) PE per weight layer, a loss PE. A root PE reduces
the copies' gradients and runs Adam. Every PE follows the same tick schedule (K = 2T + 3 ticks
per batch, phi = tick mod K):

* phi 0..T-1   forward step t = phi: I = a I + W s_in (spikes of the previous tick), V = b V + (1-b) I,
               threshold, reset; spikes leave as payload-free multicast packets. Each layer PE keeps
               only (step, neuron, I, Vpre) of its own spikes and (step, index) of its input spikes.
* phi T        loss PE: first-spike steps -> dL/dt, sent as error events (float32 payload) to the
               output layer PE.
* phi T+1..2T-1  backward step t = 2T-1-phi in reverse time: error events W^T(lV-lI) for every input
               spike at t (float32 payload, to the presynaptic PE), lI = a lI + (1-a) lV,
               lV = b lV + jump at own spikes of t+1, acc[:, i] += lI at input spikes of t.
* phi 2T       reduce: each layer PE DMA-writes acc to DRAM.
* phi 2T+1     root: DMA-reads the copies' acc one by one, sums them in copy order, dW = -tau_syn sum,
               mean over the batch, Adam, DMA-writes the new W.
* phi 2T+2     layer PEs DMA-read the new W (weight distribution). If the root's new W is not written
               by then (the reduce overran), the root holds every copy and resumes the schedule once it
               is (``batch_sync``: the schedule moves by the stall, no copy reads stale weights).

Numerics run once per tick for all copies of a layer (stacked arrays, ``LayerGroup`` on a ``TickGroup``); each
PE still charges its own cycles, SRAM and packets. Summation orders are fixed (presynaptic index
ascending, postsynaptic index ascending, copies in order) so the result is bit-identical to the
reference for one PE per layer. Firmware imports only numpy and ``s2sim.runtime``.
"""
from __future__ import annotations

import copy as copy_module
from dataclasses import dataclass
from typing import Callable

import numpy as np

from s2sim.runtime import (
    ADAM_COSTS,
    Core,
    CostTable,
    Firmware,
    TickGroup,
    jit_enabled,
    kernel_line,
    op_line,
)

from .numerics import backward_step, fire_and_record, forward_drive, index_by_step, record_input_history

from .batch_sync import (HOLD, READY, WRITTEN, BatchSchedule, Stall, StallLog, is_sync, sync_key)
from .chain_reduce import (READ_TAG, REDUCE_ADD_KERNEL, SRC_SHIFT, W_TAG, WEIGHT_FLAG, ChainCounters, Inbox,
                           RecordLayout, add_record, send_values)

F32 = np.float32
VDOT_EPS = F32(1e-10)
SPIKE_SHIFT = 16
ERR_FLAG = 1 << 31
SHAPE_FLAG = 1 << 30  # with ERR_FLAG: loss-shaping weight for the label neuron (loss PE -> output PE)
SLICE_SHIFT = 10  # error keys: ERR_FLAG | src_pe << 16 | dest_slice << 10 | local index
LOCAL_MASK = (1 << SLICE_SHIFT) - 1


# A loss PE's dL/dt rule: (first-spike steps [C, N] int64, silent = n_steps; labels [C]; n_steps)
# -> (loss [C] float32, dL/dt [C, N] float32). Any TTFS loss fits; the PE sends dL/dt of each
# output whose first spike is before the last step (silent outputs and a spike at T-1 carry none).
DlDtHook = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]


#: what a callback's numerics leave for the core to do: the cost tables it charges, in order, each with
#: its counts, then the keys it sends and their payloads (None: payload-free), in order
Work = tuple[list[tuple[str, dict]], list[int], list | None]
NO_WORK: Work = ([], [], None)


def do_work(core: Core, costs: dict, work: Work) -> None:
    """Charge ``work``'s tables (line by line, in order), then send its packets back to back."""
    charges, keys, payloads = work
    for name, counts in charges:
        costs[name].charge(**counts)
    if not keys:
        return
    if payloads is None:
        core.send_mc_many(keys)
    else:
        for key, payload in zip(keys, payloads):
            core.send_mc(key, payload)


def take_sync(core: Core, schedule: BatchSchedule, keys, payloads, where: str) -> None:
    """The root's hold or ready (``batch_sync``): a compare and a store per packet."""
    core.charge("comms", int_alu=2 * len(keys), store=len(keys))
    schedule.take(keys, payloads, core.tick, where)


class HistoryOverflow(RuntimeError):
    """A PE's spike-history buffer is full (raise mapping.history_spikes_per_neuron)."""


def layer_cost_tables(n: int, n_in: int, output_shaping: bool) -> dict[str, CostTable]:
    """Cycles of a layer PE of ``n`` neurons and ``n_in`` inputs: compiled kernels
    (firmware_models/eventprop/kernels) plus their call overheads, by what they scale with."""
    backward = [kernel_line("backward", "eventprop_adjoint_step", iterations=n),
                op_line("backward", int_alu=18, branch=1),  # the call
                op_line("backward", "own_spikes", fdiv=1, fadd=3, load=4, loop=1)]  # the jumps
    if output_shaping:  # label neuron: compare, table load, fmac
        backward.append(op_line("backward", load=2, fcmp=1, fmul=1, fadd=1))
    # per presynaptic spike one call of each column kernel (strided: 8 cycles per neuron) plus its call overhead
    backward += [kernel_line("backward", "eventprop_grad_accumulate", "input_spikes", n),  # acc[:, i] += lambda_I
                 op_line("backward", "input_spikes", int_alu=9, loop=1)]
    errors = [kernel_line("backward", "eventprop_error_out", "input_spikes", n),
              op_line("backward", "input_spikes", int_alu=8, loop=1)]
    return {
        # a batch's first tick: zero the neuron state, histories, buffers and the accumulator
        "batch_start": CostTable(op_line("forward", store=6 * n + n * n_in, loop=n)),
        # compiled eventprop_receive_spike per spike: record (step, index), then the column add (W
        # [post][pre]: stride n_in); its call overhead is 22 cycles (calibration.json)
        "receive_spikes": CostTable(kernel_line("forward", "eventprop_receive_spike", "spikes", n),
                                    op_line("forward", "spikes", load=2, store=3, int_alu=13, branch=1)),
        # compiled eventprop_forward_step and its call; a spike adds its 12-byte record
        "forward_step": CostTable(kernel_line("forward", "eventprop_forward_step", iterations=n),
                                  op_line("forward", "spikes", store=4, int_alu=1),
                                  op_line("forward", int_alu=13, branch=1)),
        "backward_step": CostTable(*backward),
        "error_events": CostTable(*errors),
        # error events in: the compiled eventprop_error_in per event, and its call
        "receive_errors": CostTable(kernel_line("backward", "eventprop_error_in", "packets"),
                                    op_line("backward", int_alu=5, branch=1)),
        # output layer: dL/dt (and shaping weights) from the loss PE stored per event
        "receive_loss": CostTable(op_line("loss", "packets", store=1, int_alu=3)),
    }


#: an injector's tick: a read pointer walks the sorted event list, one compare per tick plus one per
#: event sent
INJECT_COSTS = CostTable(op_line("forward", load=1, int_alu=1, branch=1),
                         op_line("forward", "spikes", load=2, int_alu=2, branch=1, loop=1))


def loss_cost_tables(n: int) -> dict[str, CostTable]:
    """Cycles of a loss PE for ``n`` outputs."""
    return {
        "batch_start": CostTable(op_line("loss", store=n)),  # first-spike steps back to "silent"
        "receive_spikes": CostTable(op_line("loss", "spikes", load=2, int_alu=4, store=1, branch=1)),
        # softmax over first-spike steps, its log, the regulariser, dL/dt of every output
        "loss": CostTable(op_line("loss", expf=2 * n + 1, logf=1, fdiv=n + 1, fadd=3 * n, fmul=3 * n, loop=n)),
    }


@dataclass
class Consts:
    """Float32 constants the host writes into each PE (from EventpropParams)."""

    n_steps: int
    a: F32
    oma: F32
    b: F32
    omb: F32
    theta: F32
    tau_syn_s: F32
    # loss
    loss: str
    xi: float
    ce_alpha: float
    ce_beta: float
    alpha: float
    tau0_s: float
    tau1_s: float
    dt_s: F32
    # optimiser
    lr: float
    weight_decay: float
    gamma_per_epoch: float
    # silent-neuron remedies (off: zeros): per layer lambda_I-sum per input spike of a silent
    # neuron; loss-shaping weight and its per-step table exp(-t dt / shape_tau)
    silent_acc: tuple = ()
    silent_batch: bool = False  # the rule acts on neurons silent in the whole batch (root PE)
    shape_weight: float = 0.0
    shape_table: np.ndarray | None = None

    @property
    def ticks_per_batch(self) -> int:
        return 2 * self.n_steps + 3


# ----------------------------------------------------------------------------- loss math
def loss_grad(first: np.ndarray, y: np.ndarray, c: Consts) -> tuple[np.ndarray, np.ndarray]:
    """(loss [C], dL/dt [C, N]) for first-spike steps [C, N] (silent = T); same ops as the reference."""
    T = c.n_steps
    rows = np.arange(first.shape[0])
    if c.loss == "ce":
        t = first.astype(F32)
        inv_xi = F32(1.0 / c.xi)
        z = -(t - t.min(axis=1, keepdims=True)) * inv_xi
        e = np.exp(z)
        total = e.sum(axis=1)
        prob = e / total[:, None]
        reg = t[rows, y] * F32(1.0 / c.ce_beta)
        loss = np.log(total) - z[rows, y] + F32(c.ce_alpha) * np.expm1(reg)
        grad = -inv_xi * prob
        grad[rows, y] = inv_xi * ((total - e[rows, y]) / total) \
            + F32(c.ce_alpha / c.ce_beta) * np.exp(reg)
        grad = np.where(first < T, grad, F32(0.0)).astype(F32)
        return loss.astype(F32), grad
    inv_tau0, alpha_tau1 = F32(1.0 / c.tau0_s), F32(c.alpha / c.tau1_s)
    dt_tau0, dt_tau1 = F32(c.dt_s / c.tau0_s), F32(c.dt_s / c.tau1_s)
    steps = first.astype(F32)
    reg = steps[rows, y] * dt_tau1
    z = -(steps - steps.min(axis=1, keepdims=True)) * dt_tau0
    loss = np.log(np.exp(z).sum(axis=1)) - z[rows, y] + F32(c.alpha) * np.expm1(reg)
    spiked = first < T
    ref = np.where(spiked, steps, np.inf).min(axis=1, keepdims=True)
    ref = np.where(np.isfinite(ref), ref, F32(0.0)).astype(F32)
    e = np.where(spiked, np.exp(-(steps - ref) * dt_tau0), F32(0.0)).astype(F32)
    total = np.maximum(e.sum(axis=1), F32(np.finfo(F32).tiny))
    grad = -inv_tau0 * (e / total[:, None])
    others = e.copy()
    others[rows, y] = 0.0
    grad[rows, y] = inv_tau0 * (others.sum(axis=1) / total) + alpha_tau1 * np.exp(reg)
    grad = np.where(spiked, grad, F32(0.0)).astype(F32)
    return loss.astype(F32), grad


# ------------------------------------------------------------------------- shared numerics
def _ordered_input_sum(buf: np.ndarray, W: np.ndarray) -> np.ndarray:
    """sum_i buf[:, i] W[:, :, i] over presynaptic i ascending, float32, added one term at a time
    (as the reference does): a cumulative sum is sequential by definition, so its last row is that
    sum (from +0: the trailing ``+ 0`` maps a -0 to +0 like the first add of a zeroed buffer would)."""
    active = np.flatnonzero(buf.any(axis=0))
    if not len(active):
        return np.zeros(W.shape[:2], F32)
    terms = buf[:, active].T[:, :, None] * W[:, :, active].transpose(2, 0, 1)  # [i, C, n]
    return np.add.accumulate(terms, axis=0)[-1] + F32(0.0)


def _split_by_member(rows: np.ndarray, n_members: int, values: np.ndarray) -> list[np.ndarray]:
    """``values`` cut into one view per member; ``rows`` (each value's member) is ascending."""
    bounds = np.searchsorted(rows, np.arange(n_members + 1)).tolist()
    return [values[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


class TickResult(dict):
    """A group tick's result. Its per-copy lists (``fired_by``, ``in_by``, ``errs_by``, ``n_own_by``: what each
    PE takes its share from) are split from the stacked arrays when a PE first asks (the counted kernel reads
    the arrays only)."""

    def __init__(self, n_members: int, **values):
        super().__init__(values)
        self.n_members = n_members

    def __missing__(self, key: str):
        value = self.member_lists(key)
        if value is None and key != "errs_by":
            raise KeyError(key)
        self[key] = value
        return value

    def member_lists(self, key: str):
        """The per-copy lists ``key`` (None where this tick has none)."""
        if key in self:
            return self[key]
        C = self.n_members
        if key == "fired_by" and "fired_rows" in self:
            return [f.tolist() for f in _split_by_member(self["fired_rows"], C, self["fired_idx"])]
        if key == "in_by" and "in_copy" in self:
            return _split_by_member(self["in_copy"], C, self["in_idx"])
        if key == "errs_by" and "in_copy" in self:
            return None if self["errs"] is None else _split_by_member(self["in_copy"], C, self["errs"])
        if key == "n_own_by" and "own_copy" in self:
            return np.bincount(self["own_copy"], minlength=C).tolist()
        return None


def _spread_members(out: dict, rows: np.ndarray, n_members: int) -> dict:
    """A result computed for copies ``rows`` only, its per-copy lists indexed by copy."""
    spread = dict(out)
    lists = out.member_lists if isinstance(out, TickResult) else out.get
    for key, empty in (("fired_by", []), ("in_by", []), ("errs_by", []), ("n_own_by", 0)):
        value = lists(key)
        if value is not None:
            out[key] = value
            full = [empty] * n_members
            for i, k in enumerate(rows.tolist()):
                full[k] = out[key][i]
            spread[key] = full
    return spread


class LayerGroup:
    """Stacked state of one layer slice over its members, the C copies: the ``GroupKernel`` of a
    runtime ``TickGroup`` (one numpy call per tick for all copies); with group numerics off
    (``S2SIM_GROUP_NUMERICS=0``) each copy's PE has a group of one.

    Per-member fallback (issue 20): a tick asked for some copies only (another fell behind, an
    overrun) runs the same arithmetic on those copies' rows (``_compute_members``), and an early
    result whose input changed afterwards is undone from the rows saved before the computation
    (``restore``); that copy then computes the tick alone when its PE runs it.
    """

    def __init__(self, layer: int, start: int, stop: int, n_in: int, n_copies: int, c: Consts,
                 hist_per_neuron: int, send_errors: bool, is_output: bool, first_copy: int = 0):
        """``first_copy``: the copy of member 0 (a group of one holds copy ``first_copy``)."""
        C, n = n_copies, stop - start
        self.first_copy = first_copy
        self._indexed_batch = -1
        self.layer, self.start, self.stop, self.n, self.n_in, self.C = layer, start, stop, n, n_in, C
        self.c, self.send_errors, self.is_output = c, send_errors, is_output
        self.W = np.zeros((C, n, n_in), F32)
        self.I = np.zeros((C, n), F32)
        self.V = np.zeros((C, n), F32)
        self.lV = np.zeros((C, n), F32)
        self.lI = np.zeros((C, n), F32)
        self.sin = np.zeros((2, C, n_in), F32)  # input spikes, double-buffered by tick parity
        self.err = np.zeros((2, C, n), F32)  # error events received, double-buffered
        self.gloss = np.zeros((C, n), F32)  # output layer: dL/dt of each neuron's first spike
        self.shape = np.zeros((C, n), F32)  # output layer: loss-shaping weight (label neuron only)
        self.silent_acc = F32(c.silent_acc[layer]) if c.silent_acc else F32(0.0)
        self._reduced = -1
        self.counts: np.ndarray | None = None  # batch-scope rule: fired flags + input counts [C, n + n_in]
        self.first = np.full((C, n), c.n_steps, np.int64)
        self.acc = np.zeros((C, n, n_in), F32)  # sum of lambda_I at input spikes (per copy)
        self.H, self.Hin = hist_per_neuron * n, hist_per_neuron * n_in
        self.hs_step = np.zeros((C, self.H), np.int64)
        self.hs_n = np.zeros((C, self.H), np.int64)
        self.hs_I = np.zeros((C, self.H), F32)
        self.hs_V = np.zeros((C, self.H), F32)
        self.hcount = np.zeros(C, np.int64)
        self.hi_step = np.zeros((C, self.Hin), np.int64)
        self.hi_idx = np.zeros((C, self.Hin), np.int64)
        self.hicount = np.zeros(C, np.int64)
        self.max_hist = 0
        self.max_in_hist = 0
        self.out: dict = {}
        self._out_for: list[dict] = [{}] * C  # the result each copy takes its share from
        self.indexed_for = np.full(C, -1, np.int64)  # per copy: the batch its histories were indexed for
        self.indexed_h = np.zeros(C, np.int64)  # ... and their lengths then (``_history_by_step``)
        self.indexed_hi = np.zeros(C, np.int64)
        self._finished = np.full(C, -1, np.int64)  # the reduce tick each copy applied the silent rule at
        self._before: dict[str, np.ndarray] = {}  # each copy's rows before its latest computation
        self.ticks = TickGroup(C, self)  # ready: a copy whose PE ran the tick before (``passed`` too)
        # the copies' place in the batch schedule (all members take the same hold and ready: batch_sync.py)
        self.schedule = BatchSchedule(c.ticks_per_batch, 2 * c.n_steps + 2)
        self.compiled = jit_enabled()  # the forward drive by numerics.py's compiled loop (bit-identical)

    # -- packets (called per PE by handlers) --
    #: ``_LAST_STEP``: an input spike of step T-1 would drive I[T], which no forward tick computes (the
    #: reference drops it too); left in its buffer it would drive step 1 of the next batch whenever the
    #: batch starts on the other tick parity (even T, or a stall of an odd number of ticks)
    def record_input(self, copy: int, tick: int, step: int, idx: np.ndarray) -> None:
        """Input spikes of ``step`` into next tick's buffer (not the last step's: ``_LAST_STEP``) and the
        input history."""
        if self.ticks.pending[copy] is not None:
            self.ticks.input_changed(copy, tick + 1)
        if step < self.c.n_steps - 1:  # (a spike of the last step drives no step: ``_LAST_STEP``)
            self.sin[(tick + 1) & 1, copy, idx] = 1.0
        k, m = self.hicount[copy], len(idx)
        if k + m > self.Hin:
            raise HistoryOverflow(f"layer {self.layer} copy {self.first_copy + copy}: input spike history "
                                  f"full ({self.Hin} entries); raise mapping.history_spikes_per_neuron")
        self.hi_step[copy, k:k + m] = step
        self.hi_idx[copy, k:k + m] = idx
        self.hicount[copy] = k + m
        self.max_in_hist = max(self.max_in_hist, int(k + m))

    def record_error(self, copy: int, tick: int, local: np.ndarray, values: np.ndarray) -> None:
        if self.ticks.pending[copy] is not None:
            self.ticks.input_changed(copy, tick + 1)
        np.add.at(self.err[(tick + 1) & 1, copy], local, values)

    # -- per tick, once for all copies in step --
    # -- the counted kernel: every copy's packets of one tick at once (the same numerics as each copy's
    #    handler under the nominal schedule: tests/counted/test_counted_eventprop.py holds them equal) --
    def record_inputs(self, tick: int, step: int, rows: np.ndarray, idx: np.ndarray) -> None:
        """``record_input`` of every copy in ``rows`` (ascending; each copy's ``idx`` ascending) at once."""
        if step < self.c.n_steps - 1:  # (``_LAST_STEP``)
            self.sin[(tick + 1) & 1, rows, idx] = 1.0
        if self.compiled:  # (the same slots as below, in one loop)
            full = record_input_history(rows, idx, step, self.hicount, self.hi_step, self.hi_idx)
            if full < 0:
                self._overflow(-1 - full, self.Hin, "input spike history")
        else:
            pos = self._append_slots(rows, self.hicount, self.Hin, "input spike history")
            self.hi_step[rows, pos] = step
            self.hi_idx[rows, pos] = idx
        self.max_in_hist = max(self.max_in_hist, int(self.hicount[rows].max()))

    def take_loss(self, rows: np.ndarray, local: np.ndarray, values: np.ndarray) -> None:
        """The output layer's handler of the loss PEs' dL/dt, every copy at once (without loss shaping)."""
        self.gloss[rows, local] = values

    def record_errors(self, tick: int, rows: np.ndarray, local: np.ndarray, values: np.ndarray) -> None:
        """``record_error`` of every copy in ``rows`` at once (one event per (copy, index): the adds are the same)."""
        np.add.at(self.err[(tick + 1) & 1], (rows, local), values)

    def counted_tick(self, tick: int) -> dict:
        """Every copy's PE runs ``tick`` (``LayerCore.tick_work`` of each, without the packets' keys): what each
        charges and sends, as arrays over the copies."""
        c = self.c
        T, phi = c.n_steps, self.schedule.phase(tick)
        if phi == T:
            self.ticks.passed_all(tick)
            return {"kind": None}
        if not self.ticks.run_tick_all(tick, keep=False):
            raise RuntimeError(f"layer {self.layer}: the copies were not in step at tick {tick}")
        out = self.out
        if phi == 0:
            return {"kind": "batch_start"}
        if phi < T:
            cc, jj = out["fired_rows"], out["fired_idx"]
            return {"kind": "forward", "spikes": np.bincount(cc, minlength=self.C), "rows": cc, "idx": jj}
        ci, ii = out["in_copy"], out["in_idx"]
        inputs = np.bincount(ci, minlength=self.C)
        res = {"kind": "backward", "own": np.bincount(out["own_copy"], minlength=self.C), "inputs": inputs,
               "errors": None}
        if out["errs"] is not None and len(ci):
            res["errors"] = (ci, ii, out["errs"])  # one event per input spike (one presynaptic slice)
        return res

    def step(self, copy: int, tick: int) -> dict:
        """What copy's PE needs of ``tick`` (computed by the first copy to run it, for every copy in
        step; a copy that fell behind computes its own)."""
        self.ticks.run_tick(copy, tick)
        return self._out_for[copy]

    def passed(self, copy: int, tick: int) -> None:
        """Copy's PE ran ``tick``, which has no step numerics (loss, reduce, weight ticks)."""
        self.ticks.passed(copy, tick)

    #: per-copy arrays a step changes (rows: copies), saved before each computation for ``restore``
    #: (the histories only grow: their counts are enough; buffers are saved for the tick's parity)
    #: (``hicount``: a step changes it only when it starts a batch, and input packets that land after
    #: the step grow it: restored only for a batch's first tick, whose reset emptied it)
    _SAVED = ("I", "V", "lV", "lI", "first", "gloss", "shape", "acc", "hcount", "indexed_for", "indexed_h",
              "indexed_hi")
    _MEMBER_ROWS = ("W", "I", "V", "lV", "lI", "gloss", "shape", "first", "acc", "hs_step", "hs_n", "hs_I",
                    "hs_V", "hcount", "hi_step", "hi_idx", "hicount", "indexed_for", "indexed_h", "indexed_hi")

    def compute(self, members: list[int], tick: int, keep: bool = True) -> None:
        """``keep=False``: no member's result can be undone (``TickGroup.run_tick_all``): nothing is saved."""
        rows = np.asarray(members)
        full = len(members) == self.C
        if keep:
            self._save(rows, tick, full)
        T, phi = self.c.n_steps, self.schedule.phase(tick)
        out = self._compute(tick, phi, T) if full else self._compute_members(rows, tick, phi, T)
        for k in members:
            self._out_for[k] = out
        self.out = out

    def _save(self, rows: np.ndarray, tick: int, full: bool) -> None:
        before = self._before
        current = [(name, getattr(self, name)) for name in self._SAVED]
        current += [("sin", self.sin[tick & 1]), ("err", self.err[tick & 1]), ("hicount", self.hicount)]
        for name, arr in current:
            if name not in before:
                before[name] = np.empty_like(arr)
            if full:
                np.copyto(before[name], arr)
            else:
                before[name][rows] = arr[rows]

    def restore(self, copy: int, tick: int) -> None:
        """Undo the early result of ``tick`` for ``copy`` (an input reached that tick's buffer after
        the group computed it): its rows as they were before; it computes the tick alone later."""
        before = self._before
        for name in self._SAVED:
            getattr(self, name)[copy] = before[name][copy]
        self.sin[tick & 1, copy] = before["sin"][copy]
        self.err[tick & 1, copy] = before["err"][copy]
        if self.schedule.phase(tick) == 0:
            self.hicount[copy] = before["hicount"][copy]
        self._indexed_batch = -1  # the history index is rebuilt (from each copy's frozen lengths)

    def _compute(self, tick: int, phi: int, T: int) -> dict:
        if phi < T:
            return self._forward(tick, phi)
        if T < phi < 2 * T:
            return self._backward(tick, 2 * T - 1 - phi)
        return {}

    def _compute_members(self, rows: np.ndarray, tick: int, phi: int, T: int) -> dict:
        """The tick for some copies only: their rows of the stacked arrays go through the same
        arithmetic (a group of ``len(rows)``), then back into place."""
        part = copy_module.copy(self)
        part.C = len(rows)
        part._indexed_batch = -1  # the history index is per set of copies
        for name in self._MEMBER_ROWS:
            setattr(part, name, getattr(self, name)[rows])
        part.sin, part.err = self.sin[:, rows], self.err[:, rows]
        out = part._compute(tick, phi, T)
        for name in self._MEMBER_ROWS:
            getattr(self, name)[rows] = getattr(part, name)
        self.sin[:, rows], self.err[:, rows] = part.sin, part.err
        self.max_hist, self.max_in_hist = max(self.max_hist, part.max_hist), max(self.max_in_hist, part.max_in_hist)
        return _spread_members(out, rows, self.C)

    def reset(self, tick: int) -> None:
        """Start of a batch: clear state, histories and the accumulator (its DMA write is long done);
        the buffer now filling with step-0 input spikes is kept."""
        for a in (self.I, self.V, self.lV, self.lI, self.gloss, self.shape, self.acc, self.err):
            a[...] = 0
        self.sin[tick & 1] = 0
        self.first[...] = self.c.n_steps
        self.hcount[...] = 0
        self.hicount[...] = 0

    def _forward(self, tick: int, t: int) -> dict:
        c = self.c
        buf = self.sin[tick & 1]
        if t == 0:  # V[0] = I[0] = 0; the step-0 input acts at step 1
            self.reset(tick)
            fired = np.zeros((self.C, self.n), bool)
            return TickResult(self.C, fired=fired, n_in_spikes=np.zeros(self.C, np.int64), fired_by=[[]] * self.C,
                              fired_rows=np.zeros(0, np.int64), fired_idx=np.zeros(0, np.int64))
        if self.compiled:  # the same float32 results, one loop (numerics.py)
            n_in_spikes = np.empty(self.C, np.int64)
            forward_drive(buf, self.W, self.I, self.V, c.a, c.b, c.omb, n_in_spikes)
        else:
            n_in_spikes = (buf != 0).sum(axis=1)
            drive = _ordered_input_sum(buf, self.W)
            buf[...] = 0
            self.I = c.a * self.I + drive
            self.V = c.b * self.V + c.omb * self.I
        if self.compiled:  # the threshold test and the history in one loop (the same slots as below)
            fired = np.zeros((self.C, self.n), bool)
            cc, jj = np.empty(self.C * self.n, np.int64), np.empty(self.C * self.n, np.int64)
            m = fire_and_record(self.V, self.I, c.theta, t, self.hcount, self.hs_step, self.hs_n, self.hs_I,
                                self.hs_V, self.first, self.is_output, fired, cc, jj)
            if m < 0:
                self._overflow(-1 - m, self.H, "spike history")
            cc, jj = cc[:m], jj[:m]
            if m:
                self.max_hist = max(self.max_hist, int(self.hcount.max()))
                self.V = np.where(fired, F32(0.0), self.V).astype(F32)
            return TickResult(self.C, fired=fired, n_in_spikes=n_in_spikes, fired_rows=cc, fired_idx=jj)
        fired = self.V > c.theta
        cc, jj = np.nonzero(fired)
        if len(cc):
            pos = self._append_slots(cc, self.hcount, self.H, "spike history")
            self.hs_step[cc, pos] = t
            self.hs_n[cc, pos] = jj
            self.hs_I[cc, pos] = self.I[cc, jj]
            self.hs_V[cc, pos] = self.V[cc, jj]
            self.max_hist = max(self.max_hist, int(self.hcount.max()))
            if self.is_output:
                self.first[cc, jj] = np.minimum(self.first[cc, jj], t)
            self.V = np.where(fired, F32(0.0), self.V).astype(F32)
        return TickResult(self.C, fired=fired, n_in_spikes=n_in_spikes, fired_rows=cc, fired_idx=jj)

    def _overflow(self, copy: int, capacity: int, what: str) -> None:
        raise HistoryOverflow(f"layer {self.layer} copy {self.first_copy + copy}: {what} full "
                              f"({capacity} entries); raise mapping.history_spikes_per_neuron")

    def _append_slots(self, rows: np.ndarray, count: np.ndarray, capacity: int, what: str) -> np.ndarray:
        """History slots for new entries of members ``rows`` (ascending), in order; ``count`` grows."""
        added = np.bincount(rows, minlength=self.C)
        full = np.flatnonzero(count + added > capacity)
        if len(full):
            self._overflow(int(full[0]), capacity, what)
        pos = count[rows] + np.arange(len(rows)) - (np.cumsum(added) - added)[rows]
        count += added
        return pos

    def _history_by_step(self, tick: int) -> None:
        """Index both histories by step once per batch (at its first adjoint tick): the entries of one
        step, member-ascending then in recording order (= np.nonzero of ``step == t``). Entries
        recorded later (late input packets) carry steps >= T + 1, which the adjoint never visits."""
        batch = self.schedule.batch(tick)
        if self._indexed_batch == batch:
            return
        self._indexed_batch = batch
        T = self.c.n_steps
        # each copy's histories as they were at its own first adjoint tick of this batch (a copy that
        # fell behind may already hold entries of the next batch, with small steps: not this batch's)
        first = self.indexed_for != batch
        self.indexed_for[first] = batch
        self.indexed_h[first], self.indexed_hi[first] = self.hcount[first], self.hicount[first]

        def index(steps, count, capacity):
            if self.compiled:  # (the same order, by a counting sort in one loop)
                n = int(count.sum())
                rows, cols, at = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(T + 2, np.int64)
                index_by_step(steps, count, T + 2, rows, cols, at)
                return rows, cols, at.tolist()
            rows, cols = np.nonzero(np.arange(capacity)[None, :] < count[:, None])
            s = steps[rows, cols]
            order = np.argsort(s, kind="stable")
            return rows[order], cols[order], np.searchsorted(s[order], np.arange(T + 2)).tolist()
        self._own_by_step = index(self.hs_step, self.indexed_h, self.H)
        self._in_by_step = index(self.hi_step, self.indexed_hi, self.Hin)

    def _backward(self, tick: int, t: int) -> dict:
        c = self.c
        lV, lI = self.lV, self.lI
        d = lV - lI
        self._history_by_step(tick)
        # input spikes at t (per copy)
        rows, cols, at = self._in_by_step
        ci, hi = rows[at[t]:at[t + 1]], cols[at[t]:at[t + 1]]
        ii = self.hi_idx[ci, hi]
        if self.compiled and not (self.is_output and c.shape_weight):  # the same float32 results, one loop
            rows, cols, at = self._own_by_step
            cs, hs = rows[at[t + 1]:at[t + 2]], cols[at[t + 1]:at[t + 2]]
            errs = np.empty(len(ci) if self.send_errors else 0, F32)
            new_lV, new_lI = np.empty_like(lV), np.empty_like(lI)
            backward_step(lV, lI, self.W, c.a, c.oma, c.b, c.theta, VDOT_EPS, ci, ii, errs, cs, self.hs_n[cs, hs], hs,
                          self.err[tick & 1], self.is_output, self.first, self.gloss, t + 1, self.hs_I, self.hs_V,
                          self.acc, new_lV, new_lI)
            self.lV, self.lI = new_lV, new_lI
            return TickResult(self.C, in_copy=ci, in_idx=ii, errs=errs if len(errs) else None, own_copy=cs)
        errs = None
        if self.send_errors and len(ci):
            e = np.zeros((self.C, self.n_in), F32)
            for j in range(self.n):  # postsynaptic index ascending (= reference ordered_error)
                e += d[:, j, None] * self.W[:, j, :]
            errs = e[ci, ii]
        lI_new = c.a * lI + c.oma * lV
        lV_new = c.b * lV
        # jumps at own spikes of step t+1
        rows, cols, at = self._own_by_step
        cs, hs = rows[at[t + 1]:at[t + 2]], cols[at[t + 1]:at[t + 2]]
        err_cur = self.err[tick & 1]
        if len(cs):
            js = self.hs_n[cs, hs]
            g = err_cur[cs, js].copy()
            if self.is_output:
                at_first = self.first[cs, js] == t + 1
                g = np.where(at_first, g + self.gloss[cs, js], g).astype(F32)
            vdot = (self.hs_I[cs, hs] - self.hs_V[cs, hs]) + VDOT_EPS
            lV_new[cs, js] = c.b * lV[cs, js] + (c.theta * lV[cs, js] + g) / vdot
        if self.is_output and c.shape_weight:
            # loss shaping: -dL/dV on the label neuron before its first spike (or all window)
            w = np.where(t + 1 < self.first, self.shape * c.shape_table[t + 1], F32(0.0)).astype(F32)
            lV_new = lV_new + w
        err_cur[...] = 0
        if len(ci):
            self.acc[ci, :, ii] += lI_new[ci, :]
        self.lV, self.lI = lV_new.astype(F32), lI_new.astype(F32)
        # what each member's PE needs, split once here (rows of np.nonzero come member-ascending)
        return TickResult(self.C, in_copy=ci, in_idx=ii, errs=errs, own_copy=cs)

    def finish(self, tick: int, copy: int) -> np.ndarray:
        """End of the backward pass: the silent-neuron rule adds silent_acc * (input spikes at steps
        <= T-2) to acc of each neuron with no spike; returns the silent mask [C, n] (for the cycle
        count). Applied once for the copies in step (their PE ran the last adjoint tick) when the
        first runs the reduce tick; a copy behind applies it alone when its PE gets there."""
        T = self.c.n_steps
        silent = np.ones((self.C, self.n), bool)
        valid = np.arange(self.H)[None, :] < self.hcount[:, None]
        cs, hs = np.nonzero(valid)
        silent[cs, self.hs_n[cs, hs]] = False
        if self._finished[copy] == tick or not self.silent_acc:
            return silent
        ran = self.ticks.ran
        rows = np.flatnonzero([k == copy or (self._finished[k] != tick and ran[k] == tick - 1)
                               for k in range(self.C)])
        self._finished[rows] = tick
        self._reduced = tick
        count = np.zeros((self.C, self.n_in), F32)
        ci, hi = np.nonzero((np.arange(self.Hin)[None, :] < self.hicount[:, None])
                            & (self.hi_step <= T - 2))
        np.add.at(count, (ci, self.hi_idx[ci, hi]), F32(1.0))
        if self.c.silent_batch:  # the root decides: ship spike and input counts with acc
            if self.counts is None:
                self.counts = np.zeros((self.C, self.n + self.n_in), F32)
            self.counts[rows] = np.concatenate([(~silent).astype(F32), count], axis=1)[rows]
        else:
            self.acc[rows] += self.silent_acc * (silent.astype(F32)[rows, :, None] * count[rows, None, :])
        return silent

    def grad_record(self, copy: int) -> np.ndarray:
        """What the reduce tick DMA-writes: acc, plus (batch-scope rule) fired flags and input
        counts, n * n_in (+ n + n_in) float32."""
        if self.silent_acc and self.c.silent_batch:
            return np.concatenate([self.acc[copy].ravel(), self.counts[copy]])
        return self.acc[copy]


class LossGroup:
    """Stacked loss-PE state of all copies; ``dldt_hook`` replaces the built-in loss if given."""

    def __init__(self, n_out: int, n_copies: int, c: Consts, dldt_hook: DlDtHook | None = None):
        self.c, self.C, self.n, self.dldt_hook = c, n_copies, n_out, dldt_hook
        self.first = np.full((n_copies, n_out), c.n_steps, np.int64)
        self.labels = np.zeros(n_copies, np.int64)
        self.active = np.zeros(n_copies, bool)
        self.loss = np.zeros(n_copies, F32)
        self.grad = np.zeros((n_copies, n_out), F32)

    def compute(self, tick: int, copy: int) -> None:
        """Copy's loss and dL/dt, from its first-spike times when its PE runs the loss tick (each copy
        alone: one whose PE fell behind still sees every spike that reached it)."""
        rows = slice(copy, copy + 1)
        if self.dldt_hook is None:
            loss, grad = loss_grad(self.first[rows], self.labels[rows], self.c)
        else:
            loss, grad = self.dldt_hook(self.first[rows].copy(), self.labels[rows].copy(), self.c.n_steps)
        self.loss[copy] = np.asarray(loss, F32).reshape(-1)[0]
        self.grad[copy] = np.asarray(grad, F32).reshape(-1)

    # -- the counted kernel: every copy's loss PE at once (``LossCore.tick_work``, ``take_packets``) --
    def record_first(self, phi: int, rows: np.ndarray, idx: np.ndarray) -> None:
        """First-spike steps of output spikes at step ``phi`` (one per (copy, neuron))."""
        self.first[rows, idx] = np.minimum(self.first[rows, idx], phi)

    def counted_loss(self, tick: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The loss tick of every active copy (each alone, as its PE runs it): (copies, outputs, dL/dt) of the
        error events they send (first spike before the last step; without loss shaping)."""
        T = self.c.n_steps
        for copy in np.flatnonzero(self.active).tolist():
            self.compute(tick, copy)
        rows, idx = np.nonzero((self.first < T - 1) & self.active[:, None])
        return rows, idx, self.grad[rows, idx].astype(F32)


# ------------------------------------------------------------------------------ programs
class Counters:
    """Packet counts of a whole run (host reads them)."""

    def __init__(self):
        self.spike_packets = 0
        self.error_packets = 0
        self.loss_packets = 0


class InjectorCore(Firmware):
    """Sends its copy's input spike trains (any number of spikes per channel, bias included).

    The host writes the sample as (step, channel) events, 4 B each (u16 + u16), sorted by step;
    ``capacity`` events fit in the SRAM reserved for them (``mapping.input_spikes_per_channel``
    per channel), so a latency-coded sample (one spike per channel) needs only ``4 n_in`` B.
    """

    def __init__(self, copy: int, n_in: int, c: Consts, tick_ns: float, counters: Counters,
                 capacity: int | None = None):
        self.copy, self.n_in, self.c, self.tick_ns, self.cnt = copy, n_in, c, tick_ns, counters
        self.capacity = n_in if capacity is None else capacity
        self.ev_step = np.zeros(0, np.int64)  # host writes the sample's events (none: idle)
        self.ev_chan = np.zeros(0, np.int64)
        self._at_step = [0] * (c.n_steps + 1)  # read pointer at the start of each step (simulation index)
        self.schedule = BatchSchedule(c.ticks_per_batch, 2 * c.n_steps + 2)

    def load_raster(self, raster: np.ndarray) -> None:
        """Host write of one sample: ``raster`` [n_steps, n_in] bool, any spikes per channel."""
        raster = np.asarray(raster, bool)
        if raster.shape != (self.c.n_steps, self.n_in):
            raise ValueError(f"injector copy {self.copy}: input raster shape {raster.shape}, "
                             f"expected ({self.c.n_steps}, {self.n_in})")
        step, chan = np.nonzero(raster)  # step-major: the order the timer walks them
        if len(step) > self.capacity:
            raise HistoryOverflow(f"injector copy {self.copy}: {len(step)} input spikes, room for "
                                  f"{self.capacity}; raise mapping.input_spikes_per_channel")
        self.ev_step, self.ev_chan = step.astype(np.int64), chan.astype(np.int64)
        self._at_step = np.searchsorted(self.ev_step, np.arange(self.c.n_steps + 1)).tolist()

    def on_start(self, core: Core) -> None:
        core.sram.reserve("spike_events", 4 * self.capacity, "state")
        self.pe_id = core.pe_id
        self.costs = {"inject": INJECT_COSTS.priced(core)}
        core.set_timer(self.tick_ns)

    def on_timer(self, core: Core, tick: int) -> None:
        if not self.schedule.idle(tick):
            do_work(core, self.costs, self.tick_work(tick))

    def on_packet(self, core: Core, key: int, payload) -> None:
        self.on_packet_burst(core, [key], [payload])

    def on_packet_burst(self, core: Core, keys, payloads) -> None:
        """The root's hold and ready (batch_sync.py): the only packets an injector gets."""
        take_sync(core, self.schedule, keys, payloads, f"injector of copy {self.copy}")

    def tick_work(self, tick: int) -> Work:
        """The tick without the core (the counted kernel calls it too): the step's events as packets."""
        phi = self.schedule.phase(tick)
        if phi >= self.c.n_steps:
            return NO_WORK
        lo, hi = self._at_step[phi], self._at_step[phi + 1]
        m = hi - lo
        keys = []
        if m:
            base = self.pe_id << SPIKE_SHIFT
            keys = [base | i for i in self.ev_chan[lo:hi].tolist()]
            self.cnt.spike_packets += m
        return [("inject", {"spikes": m})], keys, None


class LayerCore(Firmware):
    """One slice of one LIF layer of one copy: forward, adjoint, gradient accumulation."""

    def __init__(self, group: LayerGroup, copy: int, pre_base: dict[int, int], err_route: list,
                 dram_grad: str, dram_w: str, tick_ns: float, counters: Counters,
                 member: int | None = None):
        """``pre_base``: source PE -> first global presynaptic index of its slice;
        ``err_route``: per presynaptic slice (start, stop, slice id) for error keys;
        ``member``: this PE's row in the group's stacked arrays (default: ``copy``)."""
        self.g, self.copy, self.pre_base, self.err_route = group, copy, pre_base, err_route
        self.m = copy if member is None else member
        self.dram_grad, self.dram_w, self.tick_ns, self.cnt = dram_grad, dram_w, tick_ns, counters
        self.err_keys: list[list[int]] = []

    def on_start(self, core: Core) -> None:
        g, sr = self.g, core.sram
        n, n_in = g.n, g.n_in
        sr.reserve("weights", 4 * n * n_in, "weights")
        sr.reserve("grad_acc", 4 * n * n_in, "state")
        sr.reserve("neuron_state", 4 * 4 * n, "state")  # I, V, lambda_V, lambda_I
        sr.reserve("input_buffers", 2 * 4 * ((n_in + 31) // 32), "buffers")  # spike bitmaps
        sr.reserve("error_buffers", 2 * 4 * n, "buffers")
        # own spikes: step u16 + neuron u16 + I f32 + Vpre f32; input spikes: step u16 + index u16
        sr.reserve("spike_history", 12 * g.H, "history")
        sr.reserve("input_history", 4 * g.Hin, "history")
        if g.is_output:
            sr.reserve("loss_error", 4 * n + 2 * n, "state")
        # the keys of the error event for presynaptic neuron i (the slice that owns it, its local index)
        self.pe_id = core.pe_id
        own = ERR_FLAG | (core.pe_id << SPIKE_SHIFT)
        self.err_keys = [[own | (sl << SLICE_SHIFT) | (i - start) for start, stop, sl in self.err_route
                          if start <= i < stop] for i in range(n_in)]
        self.costs = {name: table.priced(core) for name, table in
                      layer_cost_tables(n, n_in, g.is_output and bool(g.c.shape_weight)).items()}
        core.set_timer(self.tick_ns)

    # forward spikes and backward errors arrive here
    def on_packet(self, core: Core, key: int, payload) -> None:
        self.on_packet_burst(core, [key], [payload])

    def on_packet_burst(self, core: Core, keys, payloads) -> None:
        if is_sync(keys[0]):  # a burst is one source's: the root's hold or ready
            take_sync(core, self.g.schedule, keys, payloads, f"layer {self.g.layer} PE of copy {self.copy}")
            return
        for name, counts in self.take_packets(core.tick, keys, payloads):
            self.costs[name].charge(**counts)

    def take_packets(self, tick: int, keys, payloads) -> list[tuple[str, dict]]:
        """The handler without the core (the counted kernel calls it too): spikes into the next tick's
        input buffer and history, error events into the next tick's error buffer, dL/dt from the loss
        PE; returns the cost tables to charge, in order, with their counts."""
        g, c = self.g, self.g.c
        phi = g.schedule.phase(tick)
        charges = []
        spikes = [k for k in keys if not k & ERR_FLAG]
        if spikes:
            pre_base = self.pre_base
            idx = sorted(pre_base[k >> SPIKE_SHIFT] + (k & 0xFFFF) for k in spikes)
            g.record_input(self.m, tick, phi, np.array(idx, np.int64))
            charges.append(("receive_spikes", {"spikes": len(spikes)}))
        if len(spikes) < len(keys):
            errors = [(k, p) for k, p in zip(keys, payloads) if k & ERR_FLAG]
            ek = np.array([k for k, _ in errors], np.int64)
            vals = np.array([p for _, p in errors], F32)
            local = ek & LOCAL_MASK
            if g.is_output and phi == c.n_steps:  # dL/dt (and shaping weights) from the loss PE
                if g.ticks.pending[self.m] is not None:  # the first adjoint tick reads them
                    g.ticks.input_changed(self.m, tick + 1)
                shape = (ek & SHAPE_FLAG) != 0
                g.gloss[self.m, local[~shape]] = vals[~shape]
                g.shape[self.m, local[shape]] = vals[shape]
                charges.append(("receive_loss", {"packets": len(ek)}))
            else:
                g.record_error(self.m, tick, local, vals)
                charges.append(("receive_errors", {"packets": len(ek)}))
        return charges

    def on_timer(self, core: Core, tick: int) -> None:
        g, c = self.g, self.g.c
        T = c.n_steps
        if g.schedule.idle(tick):  # waiting for the root's weights (batch_sync.py)
            g.passed(self.m, tick)
            return
        phi = g.schedule.phase(tick)
        n, n_in = g.n, g.n_in
        if phi < 2 * T:
            do_work(core, self.costs, self.tick_work(tick))
            return
        g.passed(self.m, tick)  # no step numerics this tick: the copy stays in step
        if phi == 2 * T:  # reduce: gradient accumulator -> DRAM
            size = n * n_in
            if g.silent_acc:  # silent-neuron rule: count input spikes, add to silent rows
                n_silent = int(g.finish(tick, self.m)[self.m].sum())
                n_hin = int(g.hicount[self.m])
                core.charge("backward", load=n_hin + n, int_alu=2 * n_hin, fadd=n_hin, loop=n + n_hin)
                if not c.silent_batch:
                    core.charge("backward", load=2 * n_silent * n_in, fmac=n_silent * n_in,
                                store=n_silent * n_in, loop=n_silent)
            rec = g.grad_record(self.m)
            core.dma_write(1, rec, self.dram_grad, self.copy * rec.size, rec.size)
            core.charge("reduce", int_alu=8)
        elif phi == 2 * T + 2:  # weight distribution: new W from DRAM
            size = n * n_in
            core.dma_read(2, self.dram_w, g.start * n_in, size, g.W[self.m])
            core.charge("comms", int_alu=8)

    def tick_work(self, tick: int) -> Work:
        """A forward, loss or backward tick without the core (the counted kernel calls it too)."""
        g, c = self.g, self.g.c
        T = c.n_steps
        phi = g.schedule.phase(tick)
        if phi == T:
            g.passed(self.m, tick)  # no step numerics this tick: the copy stays in step
            return NO_WORK
        out = g.step(self.m, tick)
        if phi == 0:
            return [("batch_start", {})], [], None
        if phi < T:
            fired = out["fired_by"][self.m]
            keys = []
            if fired:
                base = self.pe_id << SPIKE_SHIFT
                keys = [base | j for j in fired]
                self.cnt.spike_packets += len(fired)
            return [("forward_step", {"spikes": len(fired)})], keys, None
        ii = out["in_by"][self.m]
        charges = [("backward_step", {"own_spikes": out["n_own_by"][self.m], "input_spikes": len(ii)})]
        keys, payloads = [], []
        if out["errs"] is not None and len(ii):
            vals = out["errs_by"][self.m]
            charges.append(("error_events", {"input_spikes": len(ii)}))
            err_keys = self.err_keys
            for i, v in zip(ii.tolist(), vals):  # v: the float32 payload
                for key in err_keys[i]:
                    keys.append(key)
                    payloads.append(v)
            self.cnt.error_packets += len(keys)
        return charges, keys, payloads

    def on_dma_done(self, core: Core, tag: int) -> None:
        core.charge("comms", int_alu=4)


class LossCore(Firmware):
    """First-spike times of the output layer -> TTFS loss gradient -> error events."""

    def __init__(self, group: LossGroup, copy: int, pre_base: dict[int, int], out_route: list,
                 tick_ns: float, counters: Counters, member: int | None = None):
        self.g, self.copy, self.pre_base, self.out_route = group, copy, pre_base, out_route
        self.m = copy if member is None else member  # this PE's row in the group's arrays
        self.tick_ns, self.cnt = tick_ns, counters
        self.schedule = BatchSchedule(group.c.ticks_per_batch, 2 * group.c.n_steps + 2)

    def on_start(self, core: Core) -> None:
        core.sram.reserve("first_spikes", 4 * self.g.n, "state")
        core.sram.reserve("loss_out", 4 * self.g.n + 8, "state")
        self.pe_id = core.pe_id
        self.costs = {name: table.priced(core) for name, table in loss_cost_tables(self.g.n).items()}
        core.set_timer(self.tick_ns)

    def on_packet(self, core: Core, key: int, payload) -> None:
        self.on_packet_burst(core, [key], [payload])

    def on_packet_burst(self, core: Core, keys, payloads) -> None:
        if is_sync(keys[0]):  # the root's hold or ready
            take_sync(core, self.schedule, keys, payloads, f"loss PE of copy {self.copy}")
            return
        for name, counts in self.take_packets(core.tick, keys, payloads):
            self.costs[name].charge(**counts)

    def take_packets(self, tick: int, keys, payloads) -> list[tuple[str, dict]]:
        """The handler without the core (the counted kernel calls it too): first-spike steps."""
        g = self.g
        phi = self.schedule.phase(tick)
        for k in keys:
            j = self.pre_base[int(k) >> SPIKE_SHIFT] + (int(k) & 0xFFFF)
            g.first[self.m, j] = min(g.first[self.m, j], phi)
        return [("receive_spikes", {"spikes": len(keys)})]

    def on_timer(self, core: Core, tick: int) -> None:
        if not self.schedule.idle(tick):
            do_work(core, self.costs, self.tick_work(tick))

    def tick_work(self, tick: int) -> Work:
        """The tick without the core (the counted kernel calls it too)."""
        g, c = self.g, self.g.c
        T = c.n_steps
        phi = self.schedule.phase(tick)
        if phi == 0:
            g.first[self.m] = T
            return [("batch_start", {})], [], None
        if phi != T or not g.active[self.m]:
            return NO_WORK
        g.compute(tick, self.m)
        keys, payloads = [], []
        for j in np.flatnonzero(g.first[self.m] < T - 1):
            for start, stop, sl in self.out_route:
                if start <= j < stop:
                    keys.append(ERR_FLAG | (self.pe_id << SPIKE_SHIFT) | (sl << SLICE_SHIFT) | int(j - start))
                    payloads.append(F32(g.grad[self.m, j]))
        if c.shape_weight:  # loss shaping: the label neuron's weight, also when it is silent
            j = int(g.labels[self.m])
            for start, stop, sl in self.out_route:
                if start <= j < stop:
                    keys.append(ERR_FLAG | SHAPE_FLAG | (self.pe_id << SPIKE_SHIFT) | (sl << SLICE_SHIFT)
                                | int(j - start))
                    payloads.append(F32(c.shape_weight))
        self.cnt.loss_packets += len(keys)
        return [("loss", {})], keys, payloads


class RootCore(Firmware):
    """Gradient reduction over the copies (DMA, copy order), batch mean, Adam, new weights to DRAM.

    Cycles: each copy's partial is added with the compiled vector add (``REDUCE_ADD_KERNEL``, per
    element); Adam is the compiled kernel both e-prop firmwares charge (``ADAM_COSTS``: per weight and
    per row of W [post][pre]; its per-column signal is here the batch scale -tau_syn / copies, its
    e_acc the total, which it leaves zeroed for the next batch). The batch-scope silent rule is
    charged from operation counts (a data-dependent branch per neuron, no compiled kernel).

    On a board (``chain_reduce``): the root reads only its own chip's copies (``own_copies``), sends
    the running sum to ``chain_next`` and gets the full sum back as packets, and multicasts the new
    weights to the chips' reducers (``reducers``). On one chip none of this is used.
    """

    def __init__(self, weights: list[np.ndarray], slices: list[list[tuple[int, int]]], n_copies: int,
                 c: Consts, tick_ns: float, grad_bufs: list[list[str]], w_bufs: list[str],
                 own_copies: list[int] | None = None, chain_next: int | None = None,
                 reducers: tuple[int, ...] = (), chain_counters: ChainCounters | None = None):
        self.W = [w.copy() for w in weights]
        self.m = [np.zeros_like(w) for w in self.W]
        self.v = [np.zeros_like(w) for w in self.W]
        self.t = 0
        self.lr = c.lr
        self.n_batches = 1  # host sets it per epoch (lr schedule gamma^(t / n_batches))
        self.n_active = n_copies
        self.slices, self.C, self.c, self.tick_ns = slices, n_copies, c, tick_ns
        self.grad_bufs, self.w_bufs = grad_bufs, w_bufs
        self.jobs: list[tuple[int, int, int]] = []
        self.total: list[np.ndarray] = []
        self.slot: np.ndarray | None = None
        self.betas, self.eps = (0.9, 0.999), 1e-8
        self.last_grads: list[np.ndarray] | None = None
        # batch-scope silent rule: per copy the layer PEs append fired flags [n] + input counts [n_in]
        self.extra = [bool(c.silent_batch and c.silent_acc and c.silent_acc[l])
                      for l in range(len(self.W))]
        self.counts: dict = {}
        self.layout = RecordLayout(slices, [w.shape[1] for w in self.W], self.extra)
        self.own_copies = list(range(n_copies)) if own_copies is None else list(own_copies)
        # the full sum comes back over the links when another chip's reducer ends the chain
        self.chain_next, self.reducers = chain_next, tuple(reducers)
        self.sum_back = Inbox(self.layout.sum_values, "reduce chain sum") if reducers else None
        self.chain_cnt = chain_counters or ChainCounters()
        # the batch barrier (batch_sync.py): writes of the new weights still to finish (its own DMA writes,
        # each reducer's "written"), when the last one did, and the stalls
        self.schedule = BatchSchedule(c.ticks_per_batch, 2 * c.n_steps + 2)
        self.writes_pending = False  # from the reduce tick until the last write of its new weights
        self.writes_left = 0
        self.written_ns = 0.0
        self.stall_log = StallLog()
        self.batch_active = n_copies  # the copies of the batch being reduced (n_active when its reduce began)

    def on_start(self, core: Core) -> None:
        nbytes = sum(w.nbytes for w in self.W)
        core.sram.reserve("weights", nbytes, "weights")
        core.sram.reserve("adam_m_v", 2 * nbytes, "state")
        core.sram.reserve("grad_total", nbytes, "state")
        biggest = max((stop - start) * self.W[l].shape[1] for l, sl in enumerate(self.slices)
                      for start, stop in sl)
        core.sram.reserve("dma_slot", 4 * biggest, "buffers")
        self.adam_costs = ADAM_COSTS.priced(core)
        core.set_timer(self.tick_ns)

    def adam_counts(self) -> dict[str, int]:
        """What the compiled Adam kernel loops over: every weight, and the weight rows of W [post][pre]
        (one per postsynaptic neuron of each layer)."""
        return {"weights": sum(w.size for w in self.W), "rows": sum(w.shape[0] for w in self.W)}

    def on_timer(self, core: Core, tick: int) -> None:
        c, sched = self.c, self.schedule
        if sched.idle(tick):
            return
        phi = sched.phase(tick)
        if phi == sched.distribution_phase:
            self._check_weights_written(core, tick)
            return
        if phi != 2 * c.n_steps + 1:
            return
        self.batch_active = self.n_active
        self.writes_pending = True
        if not self.own_copies:
            return  # (no copies on the root's chip: the chain's sum arrives as packets)
        self.jobs = self.layout.jobs(self.own_copies)
        self.total = [np.zeros_like(w) for w in self.W]  # no cycles: the Adam kernel left it zeroed
        self.counts = {}
        self._next(core)

    def _record_size(self, l: int, s: int) -> tuple[int, int]:
        """(gradient values, count values) of a copy's record of slice ``s`` of layer ``l``."""
        return self.layout.size(l, s)

    def _next(self, core: Core) -> None:
        l, s, k = self.jobs[0]
        size, extra = self._record_size(l, s)
        self.slot = np.zeros(size + extra, F32)
        core.dma_read(READ_TAG, self.grad_bufs[l][s], k * (size + extra), size + extra, self.slot)

    def on_dma_done(self, core: Core, tag: int) -> None:
        if tag != READ_TAG:
            self._weights_written(core)  # one layer's new weights are in this chip's DRAM
            return
        l, s, _ = self.jobs.pop(0)
        add_record(core, self.layout, l, s, self.slot, self.total, self.counts)
        if self.jobs:
            self._next(core)
        elif self.chain_next is not None:  # the other chips add theirs and send the full sum back
            flat = self.layout.flatten(self.total, self.counts)
            self.chain_cnt.sum_packets += send_values(core, core.pe_id << SRC_SHIFT, flat)
        else:
            self._update(core)

    def on_packet(self, core: Core, key: int, payload) -> None:
        self.on_packet_burst(core, [key], [payload])

    def on_packet_burst(self, core: Core, keys, payloads) -> None:
        """The full sum from the last reducer of the chain, or a reducer's "written"."""
        if is_sync(keys[0]):
            core.charge("comms", int_alu=2 * len(keys))
            for _ in keys:
                self._weights_written(core)
            return
        n = len(keys)
        core.charge("reduce", int_alu=2 * n, store=n)
        flat = self.sum_back.take(keys, payloads)
        if flat is not None:
            core.schedule(lambda c, values: self._update_from(c, values), flat, 1)

    def _update_from(self, core: Core, flat: np.ndarray) -> None:
        self.total = [np.zeros_like(w) for w in self.W]
        self.counts = {}
        self.layout.unflatten(flat, self.total, self.counts)
        self._update(core)

    def _update(self, core: Core) -> None:
        """The batch's sum is complete: silent rule, batch mean, Adam, new weights out."""
        self._silent_batch_rule(core)
        grads = [(-self.c.tau_syn_s * tot) / F32(self.batch_active) for tot in self.total]
        self.last_grads = grads
        self._adam(grads)
        self.adam_costs.charge(**self.adam_counts())
        self.writes_left = len(self.W) + len(self.reducers)
        for l, w in enumerate(self.W):
            core.dma_write(W_TAG + l, w, self.w_bufs[l], 0, w.size)
        if self.reducers:  # the other chips' layer PEs read them from their own chip's DRAM
            flat = np.concatenate([w.reshape(-1) for w in self.W])
            self.chain_cnt.weight_packets += send_values(core, WEIGHT_FLAG | (core.pe_id << SRC_SHIFT), flat)

    # -- the batch barrier (batch_sync.py) --
    def _weights_written(self, core: Core) -> None:
        """One write of the new weights finished (a DMA write of the root's, or a reducer's "written");
        after the last, a held schedule resumes."""
        self.writes_left -= 1
        if self.writes_left:
            return
        self.written_ns = core.now
        self.writes_pending = False
        if self.schedule.held_at is not None:
            self._resume(core)

    def _check_weights_written(self, core: Core, tick: int) -> None:
        """The distribution tick: the copies read the weights now; hold them if the new ones are not
        written yet (nothing to do, and nothing charged, when they are)."""
        if not self.writes_pending and self.written_ns <= tick * self.tick_ns:
            return
        core.charge("comms", int_alu=4)
        core.send_mc(sync_key(core.pe_id, HOLD), tick)
        self.schedule.held_at = tick
        if not self.writes_pending:  # written, but after the tick started (this callback ran late)
            self._resume(core)

    def _resume(self, core: Core) -> None:
        """Everything is written: every PE runs the distribution tick again two ticks on (a tick of margin
        for the packet), then the next batch."""
        held, resume = self.schedule.held_at, core.tick + 2
        core.send_mc(sync_key(core.pe_id, READY), resume)
        self.stall_log.stalls.append(Stall(self.schedule.batch(held), held, resume,
                                           self.written_ns - held * self.tick_ns))
        self.schedule.resume(resume, core.tick, "root")

    def _silent_batch_rule(self, core: Core) -> None:
        """Batch-scope silent rule: rows of neurons no copy saw fire get silent_acc x the batch's
        input spike counts (same float32 ops as ``reference.silent_term`` on batch sums)."""
        for (l, s), cnt in self.counts.items():
            start, stop = self.slices[l][s]
            n = stop - start
            silent = (cnt[:n] == 0).astype(F32)
            self.total[l][start:stop] += F32(self.c.silent_acc[l]) * (silent[:, None] * cnt[None, n:])
            n_silent = int(silent.sum())
            core.charge("reduce", load=n + 2 * n_silent * len(cnt[n:]), fcmp=n,
                        fmac=n_silent * len(cnt[n:]), store=n_silent * len(cnt[n:]), loop=n)

    def _adam(self, grads: list[np.ndarray]) -> None:
        """torch Adam (L2 decay into the gradient), float32, identical op order to the reference."""
        self.t += 1
        b1, b2 = F32(self.betas[0]), F32(self.betas[1])
        bc1 = F32(1.0 - self.betas[0] ** self.t)
        bc2 = F32(1.0 - self.betas[1] ** self.t)
        for w, g, m, v in zip(self.W, grads, self.m, self.v):
            g = g.astype(F32) + F32(self.c.weight_decay) * w
            m *= b1
            m += (F32(1.0) - b1) * g
            v *= b2
            v += (F32(1.0) - b2) * g * g
            denom = np.sqrt(v / bc2) + F32(self.eps)
            w -= F32(self.lr) * (m / bc1) / denom
        self.lr = self.c.lr * self.c.gamma_per_epoch ** (self.t / self.n_batches)
