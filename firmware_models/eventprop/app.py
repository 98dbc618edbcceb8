"""Host program for EventProp on Yin-Yang (Béna et al. 2024): map B copies, feed batches, train, report.

Modes
* ``training.engine: chip`` (default): every training batch runs on the per-core firmware (forward,
  loss, adjoint, DMA reduce, Adam on the root PE, weight distribution). Test accuracy after each
  epoch is computed with the reference forward pass on the chip's weights (same float32 maths).
* ``--fast`` (or ``training.engine: reference``): train with the vectorised reference, then simulate
  ``--timing-samples`` batches (default 1) on the chip with the trained weights for timing/energy.
  Both engines run the one loop ``training.train`` (same batches, ``max_batches``, checkpoints).

Scoring: ``test_accuracy`` counts a tie for the earliest output spike as wrong (``training.tie_rule:
wrong``, strict) or gives it to the lowest class (``argmin``, the authors' rule); the summary always
carries both, and the tie rate. ``dataset.split: authors`` scores the authors' test split.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from s2sim.apps import AppError, AppResult, RunContext
from s2sim.runtime.shared import grouping_enabled

from .batch_sync import EXACT_MASK, HOLD, HOLD_READY_MASK, WRITTEN, sync_key
from .chain_reduce import SRC_SHIFT, WEIGHT_FLAG, ChainCounters, ReducerCore
from .firmware import (ERR_FLAG, SHAPE_FLAG, SLICE_SHIFT, SPIKE_SHIFT, Consts, Counters, DlDtHook,
                       HistoryOverflow, InjectorCore, LayerCore, LayerGroup, LossCore, LossGroup, RootCore)
from .mapping import EventpropMapping, plan
from .params import EventpropParams

F32 = np.float32


class EventpropTraining(BaseModel):
    """``training`` section."""

    model_config = ConfigDict(extra="forbid")

    engine: Literal["chip", "reference"] = "chip"
    epochs: int | None = Field(None, ge=1, description="overrides network.epochs")
    max_batches: int | None = Field(None, ge=1, description="stop each epoch after this many batches")
    checkpoint_every: int = Field(20, ge=1, description="chip training: checkpoint every N batches "
                                  "(and at each epoch end and on Ctrl-C)")
    init_seed: int | None = None
    tie_rule: Literal["wrong", "argmin"] = Field(
        "wrong", description="how test_accuracy scores a sample whose earliest output spike is shared: "
        "wrong (strict) or argmin (the lowest class wins, the authors' rule); the summary gives both")


class EventpropDataset(BaseModel):
    """``dataset`` section: which Yin-Yang splits train and score the network."""

    model_config = ConfigDict(extra="forbid")

    split: Literal["kriener", "authors"] = Field(
        "kriener", description="kriener: the data set's published splits, test = 1000 samples (seed 40), "
        "unfiltered; authors: the authors' script's, test = 1000 samples (seed 43) filtered with the "
        "ambiguous-sample rule, whole batches of 256 only (768), and the last partial training batch "
        "dropped (drop_last)")


def consts(p: EventpropParams) -> Consts:
    return Consts(n_steps=p.n_steps, a=p.alpha_syn, oma=p.one_minus_alpha, b=p.beta_mem,
                  omb=p.one_minus_beta, theta=F32(p.threshold), tau_syn_s=p.tau_syn_s, loss=p.loss,
                  xi=p.xi, ce_alpha=p.ce_alpha, ce_beta=p.ce_beta, alpha=p.alpha, tau0_s=p.tau0_s,
                  tau1_s=p.tau1_s, dt_s=p.dt_s, lr=p.lr, weight_decay=p.weight_decay,
                  gamma_per_epoch=p.gamma_per_epoch, silent_acc=tuple(p.silent_acc),
                  silent_batch=p.silent_scope == "batch",
                  shape_weight=p.shape_weight, shape_table=p.shape_table)


class ChipNetwork:
    """B copies of the network + a root PE placed on one simulation.

    ``dldt_hook`` gives the loss PEs a custom TTFS loss (same signature as ``reference.DlDtHook``).
    ``grouped``: one numpy call per tick for the same PE of all copies (default: on unless
    ``S2SIM_GROUP_NUMERICS=0``); off, every PE computes alone (a group of one), with the same results.
    """

    def __init__(self, sim, p: EventpropParams, mapping: EventpropMapping, weights: list[np.ndarray],
                 tick_ns: float = 1_000_000.0, dldt_hook: DlDtHook | None = None,
                 grouped: bool | None = None):
        self.sim, self.p = sim, p
        hw = sim.hw
        sram_free = hw.sram_bytes - hw.code_reserve_bytes - hw.stack_reserve_bytes
        self.plan = plan(p.layers, p.batch, mapping, hw.n_pes, sram_free, p.n_steps, hw.pes_per_chip)
        self.c = c = consts(p)
        self.K = c.ticks_per_batch
        B, L = p.batch, len(p.layers) - 1
        self.cnt = Counters()
        slices0 = self.plan.copies[0].slices
        self.layer_slices = [[(s.start, s.stop) for s in slices0 if s.layer == l] for l in range(L)]
        self.grouped = grouping_enabled(grouped)
        members = B if self.grouped else 1
        # (layer, slice) -> the groups of that slice's PEs, one of B members or B of one
        self.slice_groups: dict[tuple[int, int], list[LayerGroup]] = {}
        for s in slices0:
            self.slice_groups[(s.layer, s.index)] = gs = [
                LayerGroup(s.layer, s.start, s.stop, p.layers[s.layer], members, c,
                           mapping.history_spikes_per_neuron or p.n_steps - 1, send_errors=s.layer > 0,
                           is_output=s.layer == L - 1, first_copy=k * members) for k in range(B // members)]
            for g in gs:
                g.W[:] = weights[s.layer][s.start:s.stop]
        self.loss_groups = [LossGroup(p.layers[-1], members, c, dldt_hook) for _ in range(B // members)]
        grad_bufs = [[f"ep_grad_l{l}_s{k}" for k in range(len(self.layer_slices[l]))] for l in range(L)]
        w_bufs = [f"ep_w_l{l}" for l in range(L)]
        # a board: each chip's DRAM holds its own copy (records and weights cross chips by link only)
        for l in range(L):
            sim.store_dram(w_bufs[l], weights[l].astype(F32).copy(), copy_per_chip=True)
            for k, (a, b) in enumerate(self.layer_slices[l]):
                extra = (b - a) + p.layers[l] if p.silent_scope == "batch" and p.silent_acc[l] else 0
                sim.store_dram(grad_bufs[l][k], np.zeros(B * ((b - a) * p.layers[l] + extra), F32),
                               copy_per_chip=True)
        noc = sim.machine.routing
        self.injectors, self.layer_cores, self.loss_cores = [], [], []
        self.chain_cnt = ChainCounters()
        self.root, self.reducers = self._load_reduce(sim, weights, grad_bufs, w_bufs, tick_ns)
        for k, cp in enumerate(self.plan.copies):
            # forward routes: injector -> layer 0 slices; layer l slices -> layer l+1 slices / loss PE
            noc.add_multicast(cp.injector << SPIKE_SHIFT, 0xFFFF0000, cp.injector,
                              [s.pe for s in cp.slices_of(0)])
            for s in cp.slices:
                nxt = [t.pe for t in cp.slices_of(s.layer + 1)] if s.layer < L - 1 else [cp.loss]
                noc.add_multicast(s.pe << SPIKE_SHIFT, 0xFFFF0000, s.pe, nxt)
                if s.layer > 0:  # backward: error events to the presynaptic slice that owns neuron i
                    for t in cp.slices_of(s.layer - 1):
                        noc.add_multicast(ERR_FLAG | (s.pe << SPIKE_SHIFT) | (t.index << SLICE_SHIFT),
                                          0xFFFFFC00, s.pe, [t.pe])
            for t in cp.slices_of(L - 1):
                for flag in (0, SHAPE_FLAG) if p.shape_weight else (0,):
                    noc.add_multicast(ERR_FLAG | flag | (cp.loss << SPIKE_SHIFT)
                                      | (t.index << SLICE_SHIFT), 0xFFFFFC00, cp.loss, [t.pe])
            inj = InjectorCore(k, p.layers[0], c, tick_ns, self.cnt,
                               capacity=mapping.input_spikes_per_channel * p.layers[0])
            sim.load(cp.injector, inj)
            self.injectors.append(inj)
            for s in cp.slices:
                if s.layer == 0:
                    pre = {cp.injector: 0}
                else:
                    pre = {t.pe: t.start for t in cp.slices_of(s.layer - 1)}
                route = ([(t.start, t.stop, t.index) for t in cp.slices_of(s.layer - 1)]
                         if s.layer > 0 else [])
                group, member = self._member(self.slice_groups[(s.layer, s.index)], k)
                fw = LayerCore(group, k, pre, route, grad_bufs[s.layer][s.index], w_bufs[s.layer], tick_ns,
                               self.cnt, member)
                sim.load(s.pe, fw)
                self.layer_cores.append(fw)
            out_route = [(t.start, t.stop, t.index) for t in cp.slices_of(L - 1)]
            group, member = self._member(self.loss_groups, k)
            lc = LossCore(group, k, {t.pe: t.start for t in cp.slices_of(L - 1)}, out_route,
                          tick_ns, self.cnt, member)
            sim.load(cp.loss, lc)
            self.loss_cores.append(lc)
        # the batch barrier (batch_sync.py): the root's hold and ready reach every copy's PEs and the reducers
        held = [pe for cp in self.plan.copies for pe in [cp.injector] + [s.pe for s in cp.slices] + [cp.loss]]
        noc.add_multicast(sync_key(self.plan.root, HOLD), HOLD_READY_MASK, self.plan.root, held + self.plan.reducers)
        for pe in self.plan.reducers:  # "written": a reducer's chip DRAM holds the new weights
            noc.add_multicast(sync_key(pe, WRITTEN), EXACT_MASK, pe, [self.plan.root])
        self.batches_run = 0
        self.samples_run = 0
        self.ticks_run = 0  # timer ticks fired: K per batch, plus the ticks the copies waited for weights

    def _load_reduce(self, sim, weights: list[np.ndarray], grad_bufs: list[list[str]], w_bufs: list[str],
                     tick_ns: float) -> tuple[RootCore, list[ReducerCore]]:
        """The root and, on a board, the chain of chip reducers (``chain_reduce``) with their routes:
        each member's running sum to the next (the last one's to the root), the root's new weights
        to every reducer."""
        plan_, c, B = self.plan, self.c, self.p.batch
        chain, noc = plan_.chain, sim.machine.routing
        root_first = bool(chain) and chain[0] == plan_.root
        nxt = {pe: (chain[i + 1] if i + 1 < len(chain) else plan_.root) for i, pe in enumerate(chain)}
        root = RootCore(weights, self.layer_slices, B, c, tick_ns, grad_bufs, w_bufs,
                        own_copies=plan_.chain_copies[0] if root_first else [],
                        chain_next=nxt[plan_.root] if root_first and plan_.reducers else None,
                        reducers=tuple(plan_.reducers), chain_counters=self.chain_cnt)
        sim.load(plan_.root, root)
        if not plan_.reducers:
            return root, []
        for pe in chain:
            noc.add_multicast(pe << SRC_SHIFT, 0xFFFF0000, pe, [nxt[pe]])
        noc.add_multicast(WEIGHT_FLAG | (plan_.root << SRC_SHIFT), 0xFFFF0000, plan_.root, plan_.reducers)
        reducers = []
        copies_of = plan_.chain_copies[1:] if root_first else plan_.chain_copies
        for i, (pe, copies) in enumerate(zip(plan_.reducers, copies_of)):
            red = ReducerCore(root.layout, copies, [w.shape for w in root.W], grad_bufs, w_bufs, nxt[pe],
                              first=i == 0 and not root_first, ticks_per_batch=self.K,
                              reduce_phase=2 * c.n_steps + 1, tick_ns=tick_ns, counters=self.chain_cnt)
            sim.load(pe, red)
            reducers.append(red)
        return root, reducers

    def _member(self, groups: list, copy: int) -> tuple:
        """(group, row) holding copy ``copy``: row ``copy`` of the one group, or row 0 of its own."""
        return (groups[0], copy) if self.grouped else (groups[copy], 0)

    @property
    def groups(self) -> dict[tuple[int, int], LayerGroup]:
        """(layer, slice) -> the group of all copies (group numerics on)."""
        if not self.grouped:
            raise AttributeError("ChipNetwork.groups: group numerics are off; use slice_groups")
        return {key: gs[0] for key, gs in self.slice_groups.items()}

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Host write of new weights into the root and every layer PE (e.g. after ``--fast`` training)."""
        self.root.W = [w.copy() for w in weights]
        for gs in self.slice_groups.values():
            for g in gs:
                g.W[:] = weights[g.layer][g.start:g.stop]

    @property
    def weights(self) -> list[np.ndarray]:
        return self.root.W

    def run_batch(self, times: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One training batch (<= B samples) of latency-coded inputs (``times`` [n, N_in] spike
        steps, one spike per channel): returns (loss [n], first-spike steps [n, N_out])."""
        from s2sim.data.yinyang import to_raster
        return self.run_batch_raster(to_raster(np.asarray(times), self.p.n_steps), labels)

    def run_batch_raster(self, raster: np.ndarray, labels: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
        """One batch of spike-train inputs: ``raster`` [n, n_steps, N_in] (any spikes per channel)."""
        n = len(labels)
        idle = np.zeros((self.p.n_steps, self.p.layers[0]), bool)
        try:
            for k, inj in enumerate(self.injectors):
                inj.load_raster(raster[k] if k < n else idle)
        except HistoryOverflow as err:
            raise AppError(f"input spikes: {err}") from None
        for k in range(self.p.batch):
            lg, m = self._member(self.loss_groups, k)
            lg.labels[m] = labels[k] if k < n else 0
            lg.active[m] = k < n
        self.root.n_active = n
        try:
            self._run_schedule(self.batches_run)
        except HistoryOverflow as err:
            raise AppError(f"spike history overflow: {err}") from None
        self.batches_run += 1
        self.samples_run += n
        rows = [self._member(self.loss_groups, k) for k in range(n)]
        return (np.array([lg.loss[m] for lg, m in rows], F32).reshape(n),
                np.array([lg.first[m] for lg, m in rows], np.int64).reshape(n, -1))

    def _run_schedule(self, batch: int) -> None:
        """Fire the ticks of batch ``batch``: its K ticks and, if the copies wait for the root's new weights
        (batch_sync.py), the ticks until they have re-read them (the batch's distribution tick, run again),
        so the next batch's samples are loaded before it starts and the root holds this batch's weights."""
        machine, sched = self.sim.machine, self.root.schedule
        end = (batch + 1) * self.K  # the tick after the batch's distribution tick
        while sched.held_at is not None or self.ticks_run < end + sched.offset:
            if self.ticks_run > end + sched.offset + 4 * self.K:
                raise RuntimeError(f"EventProp batch {batch}: the root held the copies for {4 * self.K} ticks and "
                                   "never wrote the new weights")
            n = 1 if sched.held_at is not None else end + sched.offset - self.ticks_run
            machine.run_ticks(n)
            self.ticks_run += n

    @property
    def stalls(self) -> dict:
        """How often and how long the copies waited for the root's new weights (``batch_sync.StallLog``)."""
        return self.root.stall_log.summary()

    def memory(self) -> dict:
        out = {}
        for name, pe in [("root", self.plan.root), ("injector", self.plan.copies[0].injector),
                         ("loss", self.plan.copies[0].loss)] + [("chip_reducer", r) for r in self.plan.reducers[:1]] + \
                [(f"layer{s.layer}_slice{s.index}", s.pe) for s in self.plan.copies[0].slices]:
            sr = self.sim.machine.pes[pe].sram
            out[name] = {"pe": pe, "used_bytes": sr.used_bytes, "by_category": sr.by_category()}
        return out


def _load(p: EventpropParams, split: str):
    from . import reference as R
    return R, R.load_data(p, split)


#: sections of the network file this app reads (any other non-empty one is an error)
SECTIONS = ("network", "mapping", "training", "dataset")


def run(ctx: RunContext) -> AppResult:
    from . import training as T
    p = ctx.section(EventpropParams, "network")
    mapping = ctx.section(EventpropMapping, "mapping")
    tr = ctx.section(EventpropTraining, "training")
    ds = ctx.section(EventpropDataset, "dataset")
    opts = ctx.options or {}
    fast = bool(opts.get("fast")) or tr.engine == "reference"
    epochs = p.epochs if tr.epochs is None else tr.epochs
    R, data = _load(p, ds.split)
    seed = ctx.seed if tr.init_seed is None else tr.init_seed
    settings = run_settings(ctx, tr, ds)
    if opts.get("resume"):
        try:
            state = T.load_checkpoint(opts["resume"], p, settings)
        except ValueError as err:
            raise AppError(f"--resume: {err}") from None
        carried = state.run_totals
    else:
        state = T.fresh_state(p, R.init_weights(p, seed))
        carried = None
    state.run_settings = settings
    notes = ["test accuracy: reference forward pass on the chip's weights"]
    if opts.get("resume"):
        notes.append(f"resumed at epoch {state.epoch + 1}, batch {state.position}"
                     + ("" if fast else "; the summary adds the run totals the checkpoint carried"
                        if carried else "; timing, energy and traffic cover the resumed part only"))
    tick_ns = ctx.spec.run.tick_ns
    sim = ctx.simulation()
    try:
        chip = ChipNetwork(sim, p, mapping, state.weights, tick_ns)
    except ValueError as err:
        raise AppError(f"{ctx.loaded.file}: mapping: {err}") from None
    times, y = data["train"]
    out_dir = Path(ctx.out_dir) if ctx.out_dir is not None else None
    ctx.start_output()
    engine = T.ReferenceEngine(p) if fast else T.ChipEngine(chip)
    totals = None if fast else (lambda: ctx.run_totals(sim, chip.samples_run, chip.ticks_run, carried))
    state = T.train(engine, state, data, p, seed, epochs, tr.max_batches, ctx.progress, out_dir,
                    tr.checkpoint_every, totals, drop_last=ds.split == "authors", tie_rule=tr.tie_rule)
    weights = state.weights
    if fast:  # the chip model simulates a few batches with the trained weights, for timing and energy
        chip.set_weights(weights)
        n_timing = int(opts.get("timing_samples") or 1)
        order = np.random.RandomState(seed + 1).permutation(len(y))
        for k in range(n_timing):
            idx = order[k * p.batch:(k + 1) * p.batch]
            chip.run_batch(times[idx], y[idx])
    if opts.get("save_weights"):
        T.export_weights(Path(opts["save_weights"]), weights)
    history = state.history
    sc = R.score(weights, *data["test"], p)
    te = sc.accuracy(tr.tie_rule)
    extra = profile(chip, p, ctx)
    extra["engine"] = "reference (--fast), chip timing only" if fast else "chip"
    extra["final_test_acc"] = te
    learning = {"history": history, "test_accuracy": te,
                "best_test_accuracy": max([h["test_acc"] for h in history], default=te),
                "strict_test_accuracy": sc.strict, "argmin_test_accuracy": sc.argmin,
                "test_tie_rate": sc.tie_rate, "tie_rule": tr.tie_rule,
                "dataset": {"name": "yinyang", "split": ds.split, "test_samples": sc.samples}}
    notes.append(f"test accuracy on {sc.samples} samples ({ds.split} split): {sc.strict:.2%} with ties "
                 f"counted wrong, {sc.argmin:.2%} with ties to the lowest class (the authors' rule); "
                 f"{sc.tie_rate:.2%} of samples tie; test_accuracy uses training.tie_rule={tr.tie_rule}")
    resumed = {"resumed_from": str(opts["resume"]), "carried": carried} if opts.get("resume") and not fast else {}
    stalls = chip.stalls
    if stalls["stalled_batches"]:
        notes.append(f"batch barrier: in {stalls['stalled_batches']} of {chip.batches_run} batches the copies waited "
                     f"for the root's new weights, {stalls['stall_ticks']} ticks in all (weights written up to "
                     f"{stalls['weights_late_ns_max'] / 1e6:.3f} ms after the distribution tick started); "
                     "extra.batch_sync")
    return AppResult(sim=sim, samples=chip.samples_run, timesteps=chip.ticks_run,
                     ticks_per_sample=chip.K, learning=learning, extra=extra, notes=notes, **resumed)


def run_settings(ctx: RunContext, tr: EventpropTraining, ds: EventpropDataset) -> dict:
    """Settings outside ``network`` that change what training computes: a resume must use the same."""
    return {"run.seed": ctx.seed, "training.init_seed": tr.init_seed, "training.max_batches": tr.max_batches,
            "dataset.split": ds.split}


def profile(chip: ChipNetwork, p: EventpropParams, ctx: RunContext) -> dict:
    """Per-phase latency, memory, packets and history bytes per sample (AppResult.extra)."""
    n = max(chip.samples_run, 1)
    tick_ms = ctx.spec.run.tick_ns * 1e-6
    T = p.n_steps
    phase_cycles: dict[str, float] = {}
    for pe in chip.sim.machine.used_pes():
        for ph, cyc in pe.phase_cycles_total.items():
            phase_cycles[ph] = phase_cycles.get(ph, 0.0) + cyc
    n_hidden_dense = sum(p.layers[1:-1]) * T  # every presynaptic (non-input) neuron at every step
    err = chip.cnt.error_packets / n
    spikes = chip.cnt.spike_packets / n
    own = sum(max(g.max_hist for g in gs) for gs in chip.slice_groups.values())
    inp = sum(max(g.max_in_hist for g in gs) for gs in chip.slice_groups.values())
    board = {}
    if chip.plan.reducers:  # a board: the cross-chip reduce chain and its packets (chain_reduce.py)
        # (every batch's reduce ends within the run: a held batch runs until its weights are written)
        board = {"reduce_chain": {"pes": chip.plan.chain, "root": chip.plan.root,
                                  "sum_packets_sent": chip.chain_cnt.sum_packets,
                                  "weight_packets_sent": chip.chain_cnt.weight_packets}}
    return {
        **board,
        # the copies' waits for the root's new weights (batch_sync.py): ticks fired = K per batch + stall_ticks
        "batch_sync": {**chip.stalls, "ticks_run": chip.ticks_run},
        "copies": p.batch, "pes_per_copy": chip.plan.pes_per_copy, "pes_total": chip.plan.n_pes,
        "ticks_per_batch": chip.K,
        "latency_ms_per_batch": {"forward": T * tick_ms, "loss": tick_ms, "backward": (T - 1) * tick_ms,
                                 "reduce_update_distribute": 3 * tick_ms},
        "latency_ms_per_sample": {"forward": T * tick_ms / p.batch,
                                  "backward": (T - 1) * tick_ms / p.batch,
                                  "update": 3 * tick_ms / p.batch},
        "cycles_per_sample_by_phase": {k: v / n for k, v in phase_cycles.items()},
        "spike_packets_per_sample": spikes,
        "error_packets_per_sample": err,
        "loss_error_packets_per_sample": chip.cnt.loss_packets / n,
        "error_events_dense_equivalent_per_sample": n_hidden_dense,
        "error_ratio_to_dense": err / n_hidden_dense if n_hidden_dense else None,
        "max_history_entries_per_copy": {"own_spikes": own, "input_spikes": inp},
        "history_bytes_per_sample_max": 12 * own + 4 * inp,
        "memory_per_pe": chip.memory(),
    }


#: the training options this app takes (s2sim.apps.check_run_options refuses them elsewhere)
RUN_OPTIONS = ("resume", "save_weights")

def validate(loaded) -> list[str]:
    """Check the app's sections (``s2sim validate``) without running anything."""
    from s2sim.config import validate_section
    from s2sim.hw.params import HwParams
    file = str(loaded.file)
    p = validate_section(EventpropParams, loaded.spec.network, file, "network")
    mapping = validate_section(EventpropMapping, loaded.spec.mapping, file, "mapping")
    validate_section(EventpropTraining, loaded.spec.training, file, "training")
    validate_section(EventpropDataset, loaded.spec.dataset, file, "dataset")
    hw = HwParams.from_arch(loaded.arch)
    try:
        placed = plan(p.layers, p.batch, mapping, hw.n_pes,
                      hw.sram_bytes - hw.code_reserve_bytes - hw.stack_reserve_bytes, p.n_steps, hw.pes_per_chip)
    except ValueError as err:
        raise AppError(f"{file}: mapping: {err}") from None
    from s2sim.apps import pes_used_line
    return [pes_used_line(placed.n_pes, hw.n_pes)]
