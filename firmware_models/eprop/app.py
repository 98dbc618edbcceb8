"""Host program for e-prop keyword spotting (Rostami et al. 2022): map, load, feed samples, train, report.

Modes
* default (``training.engine: chip``): every training sample is simulated by the per-core firmware (forward,
  eligibility, reduce, learning signal, Adam on the chip model). Accuracy on the splits is evaluated with the
  reference forward pass (the same mathematics, vectorised) — the summary says so.
* ``--fast`` (or ``training.engine: reference``): train with the vectorised reference, then simulate
  ``--timing-samples`` training samples on the chip with the trained weights for timing/energy.

Both run the one training loop of ``training.train``; the engine (``ChipEngine`` or ``training.ReferenceEngine``)
is the only difference.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from s2sim.apps import AppError, AppResult, RunContext
from s2sim.host_timer import run_until_programs_finish
from s2sim.runtime.shared import grouping_enabled

from . import training as tr
from .firmware import ERR_KEY, REDUCE_KEY, SPIKE_KEY, EpropCore, EpropGroup
from .mapping import INPUT_CHUNK_FRAMES, EpropMapping, MappingError, memory_report, plan
from .params import EpropParams
from .reference import Adam, lr_for_epoch

F32 = np.float32


class EpropFirmwareParams(BaseModel):
    """``firmware.params``: implementation choices that change cost, not results."""

    model_config = ConfigDict(extra="forbid")

    recurrent: Literal["dense", "event"] = Field(
        "dense", description="dense recurrent MAC every step (the C code) or event-driven adds per received spike")
    group_numerics: bool | None = Field(
        None, description="One numpy call per tick for all PEs (a simulator speed trick; results are identical). "
        "Default: on unless the environment sets S2SIM_GROUP_NUMERICS=0")


class ChipNetwork:
    """The e-prop network placed on a simulation: one EpropCore per PE, routes, DRAM buffers."""

    def __init__(self, sim, params: EpropParams, mapping: EpropMapping, weights: dict,
                 tick_ns: float = 1_000_000.0, recurrent: str = "dense", grouped: bool | None = None):
        """``grouped``: share the numerics over the PEs (None: unless S2SIM_GROUP_NUMERICS=0)."""
        self.sim, self.p = sim, params
        self.slices = plan(params, mapping, sim.hw)
        self.group = EpropGroup(params, [(s.start, s.stop) for s in self.slices], grouped=grouping_enabled(grouped))
        self.group.set_weights(weights)
        self.tps = params.n_steps + 1
        pes = [s.pe for s in self.slices]
        root = pes[0]
        noc = sim.machine.routing
        for s in self.slices:
            for j in range(s.start, s.stop):  # one key per recurrent neuron, to every PE
                noc.add_multicast(SPIKE_KEY | j, 0xFFFFFFFF, s.pe, pes)
            noc.add_multicast(REDUCE_KEY | (s.index << 8), 0xFFFFFF00, s.pe, [root])
        noc.add_multicast(ERR_KEY, 0xFFFFFF00, root, pes)
        self.cores: list[EpropCore] = []
        for s in self.slices:
            fw = EpropCore(self.group, s.index, pes, tick_ns, 0.0, recurrent, INPUT_CHUNK_FRAMES)
            sim.load(s.pe, fw)
            self.cores.append(fw)
        self.next_sample = 0
        self.samples_run = 0

    @property
    def root(self) -> EpropCore:
        return self.cores[0]

    def set_adam(self, adam) -> None:
        self.group.set_adam(adam.m, adam.v, adam.beta1_power, adam.beta2_power, adam.steps)

    def get_adam(self, adam) -> None:
        """Copy the chip's optimiser state (m, v, powers and the stored step count) into a reference ``Adam``."""
        m, v, b1p, b2p, steps = self.group.adam_state()
        for k in m:
            adam.m[k][...] = m[k]
            adam.v[k][...] = v[k]
        adam.beta1_power, adam.beta2_power, adam.steps = b1p, b2p, steps

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
        end_step = (self.next_sample + n) * self.tps
        self.sim.run_ticks(n * self.tps)
        self._finish_steps(end_step, before + n)
        self.next_sample += n
        self.samples_run += n
        recs = self.root.records[before:]
        if len(recs) != n:
            raise AppError(f"the root PE reported {len(recs)} of {n} samples")
        return recs

    def _finish_steps(self, end_step: int, n_records: int) -> None:
        """Keep the timer running until every PE has run every step of the chunk and its work is done.

        With a tick shorter than a step's work (an overrun every tick) the steps queue behind each
        other and the full task queue drops ticks, so the chunk needs more ticks than it has steps:
        the host waits for the result, as on the chip. A no-op when the work kept up with the ticks.
        """
        run_until_programs_finish(
            self.sim, [s.pe for s in self.slices],
            lambda: (max(end_step - fw.step for fw in self.cores), n_records - len(self.root.records)),
            patience_ns=max(self.tps * self.cores[0].tick_ns, 10e6))  # far longer than any step

    def weights(self) -> dict:
        return self.group.weights()


class ChipEngine:
    """The chip model as a training engine: every sample simulated by the firmware, 8 samples per host call."""

    label, chunk = "chip", 8

    def __init__(self, chip: ChipNetwork, params: EpropParams, totals: Callable[[], dict] | None = None) -> None:
        self.chip, self.p, self.totals = chip, params, totals

    def checkpoint_meta(self) -> dict:
        """Run totals (counters, energy, latency) so far, carried by each checkpoint into a resumed summary."""
        return {"run_totals": self.totals()} if self.totals is not None else {}

    def load(self, weights: dict, adam: Adam) -> None:
        self.chip.group.set_weights(weights)
        self.chip.set_adam(adam)

    def train_samples(self, X: np.ndarray, y: np.ndarray, lr: np.float32) -> tuple[np.ndarray, np.ndarray]:
        recs = self.chip.run_samples(X, y, train=True, lr=lr)
        return np.array([r[1] for r in recs], F32), np.array([r[2] == r[3] for r in recs], bool)

    def state(self) -> tuple[dict, Adam]:
        weights = self.chip.weights()
        adam = Adam(weights, self.p)
        self.chip.get_adam(adam)
        return weights, adam


# ---------------------------------------------------------------------------------------------------------------
def _sections(ctx_or_loaded):
    from s2sim.config import validate_section
    loaded = ctx_or_loaded.loaded if isinstance(ctx_or_loaded, RunContext) else ctx_or_loaded
    spec, file = loaded.spec, str(loaded.file)
    from s2sim.data import DatasetConfig
    params = validate_section(EpropParams, spec.network, file, "network")
    mapping = validate_section(EpropMapping, spec.mapping, file, "mapping")
    fwp = validate_section(EpropFirmwareParams, spec.firmware.params, file, "firmware.params")
    dcfg = validate_section(DatasetConfig, spec.dataset, file, "dataset")
    tcfg = validate_section(tr.TrainingConfig, spec.training, file, "training")
    return params, mapping, fwp, dcfg, tcfg


#: the training options this app takes (s2sim.apps.check_run_options refuses them elsewhere)
RUN_OPTIONS = ("resume", "save_weights")

def validate(loaded) -> list[str]:
    from s2sim.apps import pes_used_line
    from s2sim.hw.params import HwParams
    params, mapping, *_ = _sections(loaded)
    hw = HwParams.from_arch(loaded.arch)
    if params.memory_layout == "bptt":  # memory-only BPTT sizing: bptt_memory.py
        from .bptt_memory import validate as validate_bptt
        return [pes_used_line(validate_bptt(params, mapping, hw), hw.n_pes)]
    return [pes_used_line(len(_planned(params, mapping, hw, loaded.file)), hw.n_pes)]


def _planned(params: EpropParams, mapping: EpropMapping, hw, file) -> list:
    """``plan``, its one-line error naming the network file and the section."""
    try:
        return plan(params, mapping, hw)
    except MappingError as err:
        raise MappingError(f"{file}: mapping: {err}") from None


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


def run(ctx: RunContext) -> AppResult:
    params, mapping, fwp, dcfg, tcfg = _sections(ctx)
    if params.memory_layout == "bptt":  # memory-only BPTT sizing: bptt_memory.py
        from .bptt_memory import run as run_bptt
        return run_bptt(ctx, params, mapping)
    sim = ctx.simulation()
    _planned(params, mapping, ctx.hw, ctx.loaded.file)  # fail before loading data when the mapping cannot fit
    ds = _load_data(ctx, dcfg, params)
    opts = ctx.options or {}
    fast = bool(opts.get("fast")) or tcfg.engine == "reference"
    out_dir = Path(ctx.out_dir) if ctx.out_dir is not None else None
    resume = opts.get("resume")
    try:  # every input (init file, checkpoint) is checked before the run folder is touched
        start = tr.start_training(params, tcfg, ds, ctx.seed, out_dir, Path(resume) if resume else None)
    except ValueError as err:
        raise AppError(f"--resume: {err}" if resume else str(err)) from None
    p, data = start.params, start.dataset  # lr overrides applied; inputs scaled as training sees them
    notes = [ds.note] if ds.note else []
    carried = start.resumed_meta.get("run_totals") if resume else None  # totals before the resume
    ctx.start_output()
    if fast:
        res = tr.train(start, tr.ReferenceEngine(p), ctx.progress)
        chip = ChipNetwork(sim, p, mapping, res.weights, ctx.spec.run.tick_ns, fwp.recurrent, fwp.group_numerics)
        chip.set_adam(res.adam)
        train = data.splits["train"]
        n_t = int(opts.get("timing_samples") or tcfg.timing_samples)
        n_t = max(1, min(n_t, len(train)))
        adv = ctx.progress("chip timing samples", n_t)
        for i in range(n_t):
            chip.run_samples(train.X[i:i + 1], train.y[i:i + 1], train=True,
                             lr=lr_for_epoch(p, max(0, len(res.history) - 1)))
            adv(1)
        engine = "reference (fast); chip timing on %d samples" % n_t
    else:
        chip = ChipNetwork(sim, p, mapping, start.weights, ctx.spec.run.tick_ns, fwp.recurrent, fwp.group_numerics)

        def totals() -> dict:  # what a checkpoint carries so a resumed run's summary covers the whole run
            return ctx.run_totals(sim, chip.samples_run, chip.samples_run * chip.tps, carried)

        res = tr.train(start, ChipEngine(chip, p, totals if out_dir is not None else None), ctx.progress)
        engine = "chip (every training sample simulated by the firmware); accuracy evaluated with the reference forward pass"
    notes += res.notes
    history = res.history
    final = res.weights  # the reported accuracies belong to the trained weights (the chip's own in chip mode)
    if opts.get("save_weights"):
        tr.export_weights(Path(opts["save_weights"]), final, res.input_scale)
    ev = tr.evaluate_splits(final, data, p)
    learning = {
        "train_accuracy": ev.get("train_accuracy"),
        "valid_accuracy": ev.get("valid_accuracy"),
        "test_accuracy": ev.get("test_accuracy"),
        "online_train_accuracy": history[-1]["train_accuracy"] if history else None,
        "loss_curve": [h.get("train_loss") for h in history],
        "epochs": len(history), "engine": engine, "history": history,
        "dataset": {"name": ds.name, "synthetic": ds.synthetic, "note": ds.note, "summary": ds.summary()},
    }
    mem = memory_report(p, chip.slices, {s.pe: sim.machine.pes[s.pe].sram for s in chip.slices})
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
