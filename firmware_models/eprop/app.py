"""Host program for e-prop keyword spotting (Rostami et al. 2022): map, load, feed samples, train, report.

Modes
* default (``training.engine: chip``): every training sample is simulated by the per-core firmware (forward,
  eligibility, reduce, learning signal, Adam on the chip model). Accuracy on the splits is evaluated with the
  reference forward pass (the same mathematics, vectorised) — the summary says so.
* ``--fast`` (or ``training.engine: reference``): train with the vectorised reference (training.py), then
  simulate ``--timing-samples`` training samples on the chip with the trained weights for timing/energy.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from s2sim.apps import AppError, AppResult, RunContext

from .firmware import ERR_KEY, REDUCE_KEY, SPIKE_KEY, EpropCore, EpropGroup
from .mapping import INPUT_CHUNK_FRAMES, EpropMapping, memory_report, pe_regions, plan
from .params import EpropParams
from .reference import lr_for_epoch

F32 = np.float32


class EpropFirmwareParams(BaseModel):
    """``firmware.params``: implementation choices that change cost, not results."""

    model_config = ConfigDict(extra="forbid")

    recurrent: Literal["dense", "event"] = Field(
        "dense", description="dense recurrent MAC every step (the C code) or event-driven adds per received spike")
    checkpoint_every: int = Field(200, ge=1, description="chip training: checkpoint every N samples")


class ChipNetwork:
    """The e-prop network placed on a simulation: one EpropCore per PE, routes, DRAM buffers."""

    def __init__(self, sim, params: EpropParams, mapping: EpropMapping, weights: dict,
                 tick_ns: float = 1_000_000.0, recurrent: str = "dense"):
        self.sim, self.p = sim, params
        self.slices = plan(params, mapping, sim.hw)
        self.group = EpropGroup(params, [(s.start, s.stop) for s in self.slices])
        self.group.set_weights(weights)
        self.tps = params.n_steps + 1
        pes = [s.pe for s in self.slices]
        root = pes[0]
        noc = sim.chip.noc
        for s in self.slices:
            for j in range(s.start, s.stop):  # one key per recurrent neuron, to every PE
                noc.add_multicast(SPIKE_KEY | j, 0xFFFFFFFF, s.pe, pes)
            noc.add_multicast(REDUCE_KEY | (s.index << 8), 0xFFFFFF00, s.pe, [root])
        noc.add_multicast(ERR_KEY, 0xFFFFFF00, root, pes)
        self.cores: list[EpropCore] = []
        for s in self.slices:
            regs = [(r.name, r.nbytes, r.category) for r in pe_regions(params, s.n, root=s.index == 0)]
            fw = EpropCore(self.group, s.index, pes, regs, tick_ns, 0.0, recurrent, INPUT_CHUNK_FRAMES)
            sim.load(s.pe, fw)
            self.cores.append(fw)
        self.next_sample = 0
        self.samples_run = 0

    @property
    def root(self) -> EpropCore:
        return self.cores[0]

    def set_adam(self, adam) -> None:
        self.group.set_adam(adam.m, adam.v, adam.beta1_power, adam.beta2_power)

    def get_adam(self, adam) -> None:
        m, v, b1p, b2p = self.group.adam_state()
        for k in m:
            adam.m[k][...] = m[k]
            adam.v[k][...] = v[k]
        adam.beta1_power, adam.beta2_power = b1p, b2p
        adam.steps = int(round(np.log(float(b1p)) / np.log(float(adam.b1)))) - 1 if float(adam.b1) > 0 else 0

    def run_samples(self, X: np.ndarray, Y: np.ndarray, train: bool, lr: float | None = None) -> list[tuple]:
        """Simulate ``len(X)`` samples back to back; returns the root's (sample, loss, pred, label) records."""
        X = np.ascontiguousarray(X, dtype=F32)
        if X.ndim == 2:
            X, Y = X[None], np.atleast_1d(Y)
        n = len(X)
        self.sim.store_dram("eprop_x", X.reshape(-1))
        self.sim.store_dram("eprop_labels", np.ascontiguousarray(Y, dtype=np.int64))
        for fw in self.cores:
            fw.dram_base, fw.dram_samples = self.next_sample, n
        self.group.train = train
        if lr is not None:
            self.group.lr = F32(lr)
        before = len(self.root.records)
        self.sim.run_ticks(n * self.tps)
        self.next_sample += n
        self.samples_run += n
        recs = self.root.records[before:]
        if len(recs) != n:
            raise AppError(f"the root PE reported {len(recs)} of {n} samples (timing overrun?)")
        return recs

    def weights(self) -> dict:
        return self.group.weights()


# ---------------------------------------------------------------------------------------------------------------
def _adam_copy(chip: ChipNetwork, like):
    """A snapshot of the chip's Adam state (m, v, powers) as a reference ``Adam``."""
    from copy import deepcopy
    snap = deepcopy(like)
    chip.get_adam(snap)
    return snap


def _training_module():
    try:
        from . import training
    except ImportError as err:  # written by a sibling helper
        raise AppError(f"firmware_models.eprop.training is not available ({err})") from None
    return training


def _sections(ctx_or_loaded):
    from s2sim.config import validate_section
    loaded = ctx_or_loaded.loaded if isinstance(ctx_or_loaded, RunContext) else ctx_or_loaded
    spec, file = loaded.spec, str(loaded.file)
    tr = _training_module()
    from s2sim.data import DatasetConfig
    params = validate_section(EpropParams, spec.network, file, "network")
    mapping = validate_section(EpropMapping, spec.mapping, file, "mapping")
    fwp = validate_section(EpropFirmwareParams, spec.firmware.params, file, "firmware.params")
    dcfg = validate_section(DatasetConfig, spec.dataset, file, "dataset")
    tcfg = validate_section(tr.TrainingConfig, spec.training, file, "training")
    return params, mapping, fwp, dcfg, tcfg


def validate(loaded) -> None:
    from s2sim.hw.params import HwParams
    params, mapping, *_ = _sections(loaded)
    plan(params, mapping, HwParams.from_arch(loaded.arch))


def _load_data(ctx: RunContext, dcfg, params: EpropParams):
    from s2sim.data import load_dataset
    bar = {}

    def progress(done, total, what):
        if "adv" not in bar:
            bar["adv"], bar["done"] = ctx.progress(f"dataset: {what}", total), 0
        bar["adv"](done - bar["done"])
        bar["done"] = done

    ds = load_dataset(dcfg, ctx.seed, progress)
    if ds.n_features != params.n_in or ds.n_steps != params.n_steps:
        raise AppError(f"{ctx.loaded.file}: dataset {ds.name} has T={ds.n_steps}, F={ds.n_features} but network has "
                       f"n_steps={params.n_steps}, n_in={params.n_in}; set network.n_steps/n_in to match")
    if ds.n_classes > params.n_out:
        raise AppError(f"{ctx.loaded.file}: dataset {ds.name} has {ds.n_classes} classes but network.n_out = "
                       f"{params.n_out}; set network.n_out: {ds.n_classes}")
    return ds


def _check_resume_dir(tr, resume):
    """The checkpoint ``--resume`` names, or a one-line AppError saying why it cannot be used."""
    try:
        ck = tr.load_checkpoint(Path(resume))
    except ValueError as err:
        raise AppError(f"--resume: {err}") from None
    if ck is None:
        raise AppError(f"--resume {resume}: no checkpoint.npz there")
    return ck


def run(ctx: RunContext) -> AppResult:
    tr = _training_module()
    params, mapping, fwp, dcfg, tcfg = _sections(ctx)
    sim = ctx.simulation()
    plan(params, mapping, ctx.hw)  # fail before loading data when the mapping cannot fit
    ds = _load_data(ctx, dcfg, params)
    from .reference import Adam
    opts = ctx.options or {}
    fast = bool(opts.get("fast")) or tcfg.engine == "reference"
    out_dir = Path(ctx.out_dir) if ctx.out_dir is not None else None
    weights = tr.initial_weights(params, tcfg, ctx.seed)
    notes = [ds.note] if ds.note else []
    train = ds.splits["train"]
    history: list[dict] = []
    if fast:
        if opts.get("resume"):
            _check_resume_dir(tr, opts["resume"])
        ctx.start_output()
        try:
            res = tr.train_reference(params, tcfg, ds, ctx.seed, out_dir, ctx.progress,
                                     resume_dir=opts.get("resume"))
        except ValueError as err:  # the checkpoint's settings do not fit this run
            if not opts.get("resume"):
                raise
            raise AppError(f"--resume: {err}") from None
        weights, adam, history = res.weights, res.adam, list(res.history)
        chip = ChipNetwork(sim, params, mapping, weights, ctx.spec.run.tick_ns, fwp.recurrent)
        chip.set_adam(adam)
        n_t = int(opts.get("timing_samples") or tcfg.timing_samples)
        n_t = max(1, min(n_t, len(train)))
        adv = ctx.progress("chip timing samples", n_t)
        for i in range(n_t):
            chip.run_samples(train.X[i:i + 1], train.y[i:i + 1], train=True,
                             lr=lr_for_epoch(params, max(0, len(history) - 1)))
            adv(1)
        engine = "reference (fast); chip timing on %d samples" % n_t
        final = weights  # the reported accuracies belong to the reference-trained weights
    else:
        adam = Adam(weights, params)
        start_epoch, position = 0, 0
        part_losses: list[float] = []
        part_correct: list[bool] = []
        carried = None  # run totals of the parts before a resume (merged into the summary)
        if opts.get("resume"):
            ck = _check_resume_dir(tr, opts["resume"])
            carried = (ck.meta or {}).get("run_totals")
            weights, adam, start_epoch, history, position = ck[:5]
            history = list(history)
            part_losses = [float(x) for x in ck.epoch_losses]
            part_correct = [bool(x) for x in ck.epoch_correct]
        chip = ChipNetwork(sim, params, mapping, weights, ctx.spec.run.tick_ns, fwp.recurrent)
        chip.set_adam(adam)
        ctx.start_output()
        n = len(train)
        chunk = 8  # samples per host call; a checkpoint never holds a half-trained chunk
        for epoch in range(start_epoch, tcfg.epochs):
            lr = lr_for_epoch(params, epoch)
            order = np.arange(n)
            if tcfg.shuffle:
                order = np.random.default_rng([ctx.seed, epoch]).permutation(n)
            adv = ctx.progress(f"epoch {epoch + 1}/{tcfg.epochs} (chip)", n)
            adv(position)
            losses, correct = part_losses, part_correct
            since_ckpt = 0
            def totals():
                return ctx.run_totals(sim, chip.samples_run, chip.samples_run * chip.tps, carried)
            good = (chip.weights(), _adam_copy(chip, adam), position, list(losses), list(correct), totals())
            try:
                for a in range(position, n, chunk):
                    idx = order[a:a + chunk]
                    recs = chip.run_samples(train.X[idx], train.y[idx], train=True, lr=lr)
                    losses += [r[1] for r in recs]
                    correct += [r[2] == r[3] for r in recs]
                    adv(len(idx))
                    since_ckpt += len(idx)
                    good = (chip.weights(), _adam_copy(chip, adam), a + len(idx), list(losses), list(correct),
                            totals() if out_dir is not None else None)
                    if out_dir is not None and tcfg.checkpoint and since_ckpt >= fwp.checkpoint_every and a + len(idx) < n:
                        tr.save_checkpoint(out_dir, good[0], good[1], epoch, history, good[2],
                                           epoch_losses=np.array(good[3]), epoch_correct=np.array(good[4]),
                                           meta={"run_totals": good[5]})
                        since_ckpt = 0
            except KeyboardInterrupt:
                if out_dir is not None and tcfg.checkpoint:
                    tr.save_checkpoint(out_dir, good[0], good[1], epoch, history, good[2],
                                       epoch_losses=np.array(good[3]), epoch_correct=np.array(good[4]),
                                       meta={"run_totals": good[5]})
                raise
            weights = chip.weights()
            chip.get_adam(adam)
            ev = tr.evaluate_splits(weights, ds, params)
            history.append({"epoch": epoch, "lr": float(lr), "train_loss": float(np.mean(losses)),
                            "train_accuracy": float(np.mean(correct)),
                            "valid_accuracy": ev.get("valid_accuracy"), "test_accuracy": ev.get("test_accuracy")})
            position, part_losses, part_correct = 0, [], []
            if out_dir is not None and tcfg.checkpoint:
                tr.save_checkpoint(out_dir, weights, adam, epoch + 1, history, meta={"run_totals": totals()})
        engine = "chip (every training sample simulated by the firmware); accuracy evaluated with the reference forward pass"
        final = chip.weights()
    if opts.get("save_weights"):
        tr.export_weights(Path(opts["save_weights"]), final)
    ev = tr.evaluate_splits(final, ds, params)
    learning = {
        "train_accuracy": ev.get("train_accuracy"),
        "valid_accuracy": ev.get("valid_accuracy"),
        "test_accuracy": ev.get("test_accuracy"),
        "online_train_accuracy": history[-1]["train_accuracy"] if history else None,
        "loss_curve": [h.get("train_loss") for h in history],
        "epochs": len(history), "engine": engine, "history": history,
        "dataset": {"name": ds.name, "synthetic": ds.synthetic, "note": ds.note, "summary": ds.summary()},
    }
    mem = memory_report(params, chip.slices)
    g = chip.group
    extra = {
        "learning_state_bytes": mem["learning_state_bytes"],
        "learning_state_bytes_spec": params.memory_bytes(),
        "layout": params.memory_layout,
        "recurrent": fwp.recurrent,
        "slices": [{"pe": s.pe, "neurons": [s.start, s.stop]} for s in chip.slices],
        "memory_per_pe": mem["per_pe"],
        "late_packet_recomputes": g.late_packet_recomputes,
        "late_learning": g.late_learning,
        "chip_samples": chip.samples_run,
        "ticks_per_sample": chip.tps,
    }
    resumed = {} if fast or not opts.get("resume") else {"resumed_from": str(opts["resume"]), "carried": carried}
    return AppResult(sim=sim, samples=chip.samples_run, timesteps=chip.samples_run * chip.tps,
                     ticks_per_sample=chip.tps, learning=learning, extra=extra, notes=notes,
                     skipped_files=list(ds.skipped), **resumed)
