"""Host program for e-prop cue accumulation (spec cue_accumulation.md §5): map, load trials, train, report.

Modes
* default (``training.engine: chip``): every training trial is simulated by the per-core firmware
  (forward, eligibility, reduce, learning signal, Adam on the chip model); test accuracy after each epoch is
  evaluated with the reference forward pass (the same mathematics, vectorised) — the summary says so.
* ``--fast`` (or ``training.engine: reference``): train with the vectorised reference, then simulate
  ``--timing-samples`` training trials on the chip with the trained weights for timing, memory and energy.
"""
from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

from s2sim.apps import AppError, AppResult, RunContext
from s2sim.data.cue import CueConfig, load_cue

from . import reference as R
from .firmware import ERR_KEY, PART_KEY, SPIKE_KEY, CueEpropCore
from .mapping import INPUT_CHUNK_FRAMES, CueMapping, memory_report, pe_arrays, plan
from .params import CueEpropParams
from .training import CueTrainingConfig, epoch_order, initial_weights, train_reference

F32 = np.float32


class CueFirmwareParams(BaseModel):
    """``firmware.params``: none yet (kept so a typo there is an error, not ignored)."""

    model_config = ConfigDict(extra="forbid")


class ChipNetwork:
    """The network placed on a simulation: one CueEpropCore per PE, multicast routes, DRAM trials."""

    def __init__(self, sim, params: CueEpropParams, mapping: CueMapping, weights: dict, tick_ns: float = 1e6):
        self.sim, self.p = sim, params
        self.slices = plan(params, mapping, sim.hw)
        pes = [s.pe for s in self.slices]
        G, root = len(pes), pes[0]
        noc = sim.chip.noc
        for s in self.slices:
            for j in range(s.start, s.stop):  # one key per recurrent neuron, to every PE
                noc.add_multicast(SPIKE_KEY | j, 0xFFFFFFFF, s.pe, pes)
            if s.index:
                noc.add_multicast(PART_KEY | (s.index << 8), 0xFFFFFF00, s.pe, [root])
        noc.add_multicast(ERR_KEY, 0xFFFFFF00, root, pes)
        self.cores: list[CueEpropCore] = []
        for s in self.slices:
            fw = CueEpropCore(params, s.index, G, s.start, s.stop, pe_arrays(params, s.n, s.index == 0, G),
                              tick_ns, INPUT_CHUNK_FRAMES)
            sim.load(s.pe, fw)
            fw.load_weights(weights["w_in"], weights["w_rec"], weights["w_out"])
            self.cores.append(fw)
        self.tps = params.n_steps + 1
        self.tick_ns = tick_ns
        self.next_trial = 0

    @property
    def root(self) -> CueEpropCore:
        return self.cores[0]

    def record_rasters(self, on: bool = True) -> None:
        for fw in self.cores:
            fw.record_raster = on

    def raster(self, trial: int) -> np.ndarray:
        """z [T, n_rec] of a recorded trial (global trial index), assembled from every PE."""
        return np.concatenate([fw.rasters[trial] for fw in self.cores], axis=1)

    def run_trials(self, X: np.ndarray, Y: np.ndarray, train: bool) -> list[tuple[int, float, int, int]]:
        """Simulate the trials back to back (Adam after every ``batch`` and after the last); root's records."""
        X = np.ascontiguousarray(X, dtype=np.uint8)
        n = len(X)
        self.sim.store_dram("cue_x", X.reshape(-1))
        self.sim.store_dram("cue_labels", np.ascontiguousarray(Y, dtype=np.int64))
        for fw in self.cores:
            fw.dram_base, fw.dram_samples, fw.train = self.next_trial, n, train
        before = len(self.root.records)
        self.sim.run_ticks(n * self.tps)
        self.next_trial += n
        recs = self.root.records[before:]
        if len(recs) != n:
            late = sum(fw.late_steps for fw in self.cores)
            raise AppError(f"the root PE reported {len(recs)} of {n} trials: the work of a step does not fit "
                           f"a {self.tick_ns / 1e3:g} µs tick ({late} steps ran late); use a longer run.tick_ns")
        return recs

    def weights(self) -> dict[str, np.ndarray]:
        n_in = self.p.n_in
        w = np.concatenate([fw.w for fw in self.cores], axis=1)
        return {"w_in": w[:n_in].copy(), "w_rec": w[n_in:].copy(),
                "w_out": np.concatenate([fw.w_out for fw in self.cores]).copy()}

    @property
    def trials_run(self) -> int:
        return self.next_trial

    @property
    def late_steps(self) -> int:
        return sum(fw.late_steps for fw in self.cores)


def _sections(loaded):
    from s2sim.config import validate_section
    spec, file = loaded.spec, str(loaded.file)
    params = validate_section(CueEpropParams, spec.network, file, "network")
    mapping = validate_section(CueMapping, spec.mapping, file, "mapping")
    validate_section(CueFirmwareParams, spec.firmware.params, file, "firmware.params")
    dcfg = validate_section(CueConfig, spec.dataset, file, "dataset")
    tcfg = validate_section(CueTrainingConfig, spec.training, file, "training")
    if dcfg.n_channels != params.n_in or dcfg.n_steps != params.n_steps:
        raise AppError(f"{file}: dataset has {dcfg.n_channels} channels and {dcfg.n_steps} steps but network has "
                       f"n_in={params.n_in}, n_steps={params.n_steps}; set them to match")
    if dcfg.recall_steps != params.learn_steps:
        raise AppError(f"{file}: network.learn_steps ({params.learn_steps}) must equal dataset.recall_steps "
                       f"({dcfg.recall_steps}): the output is scored while the recall cue is on")
    return params, mapping, dcfg, tcfg


def validate(loaded) -> None:
    from s2sim.hw.params import HwParams
    params, mapping, *_ = _sections(loaded)
    plan(params, mapping, HwParams.from_arch(loaded.arch))


def run(ctx: RunContext) -> AppResult:
    params, mapping, dcfg, tcfg = _sections(ctx.loaded)
    opts = ctx.options or {}
    if opts.get("resume"):
        raise AppError("--resume: cue accumulation runs keep no checkpoints; rerun without --resume")
    sim = ctx.simulation()
    plan(params, mapping, ctx.hw)  # fail before generating data when the mapping cannot fit
    ds = load_cue(dcfg, ctx.seed)
    train, test = ds.splits["train"], ds.splits["test"]
    fast = bool(opts.get("fast")) or tcfg.engine == "reference"
    ctx.start_output()
    tick_ns = ctx.spec.run.tick_ns
    if fast:
        res = train_reference(params, tcfg, ds, ctx.seed, ctx.progress)
        weights, history = res.weights, res.history
        chip = ChipNetwork(sim, params, mapping, weights, tick_ns)
        n_t = max(1, min(int(opts.get("timing_samples") or tcfg.timing_samples), len(train)))
        adv = ctx.progress("chip timing trials", n_t)
        for i in range(n_t):
            chip.run_trials(train.X[i:i + 1], train.y[i:i + 1], train=True)
            adv(1)
        engine = f"reference (fast); chip timing on {n_t} trials (Adam after each, on a copy of the trained weights)"
    else:
        chip = ChipNetwork(sim, params, mapping, initial_weights(params, ctx.seed), tick_ns)
        history = []
        for epoch in range(tcfg.epochs):
            order = epoch_order(len(train), ctx.seed, epoch, tcfg.shuffle)
            adv = ctx.progress(f"epoch {epoch + 1}/{tcfg.epochs} (chip)", len(train))
            losses, hits = [], 0
            for a in range(0, len(order), params.batch):
                idx = order[a:a + params.batch]
                recs = chip.run_trials(train.X[idx], train.y[idx], train=True)
                losses += [r[1] for r in recs]
                hits += sum(r[2] == r[3] for r in recs)
                adv(len(idx))
            acc, loss = R.evaluate(chip.weights(), test.X, test.y, params)
            history.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)),
                            "train_accuracy": hits / len(train), "test_accuracy": acc, "test_loss": loss})
        weights = chip.weights()
        engine = "chip (every training trial simulated by the firmware); test accuracy from the reference forward pass"
    if opts.get("save_weights"):
        from s2sim.data.cache import atomic_save_npz
        atomic_save_npz(opts["save_weights"], {k: np.asarray(v, F32) for k, v in weights.items()})
    test_acc, test_loss = R.evaluate(weights, test.X, test.y, params)
    learning = {"test_accuracy": test_acc, "test_loss": test_loss,
                "online_train_accuracy": history[-1]["train_accuracy"] if history else None,
                "loss_curve": [h["train_loss"] for h in history], "epochs": len(history), "engine": engine,
                "history": history, "dataset": {"name": ds.name, "synthetic": False, "summary": ds.summary()}}
    mem = memory_report(params, chip.slices, ctx.hw)
    stats = sim.chip.stats
    worst_ns = float(stats.time_done_ns[:stats.n_rows].max()) if stats.n_rows else 0.0
    extra = {**mem, "slices": [{"pe": s.pe, "neurons": [s.start, s.stop]} for s in chip.slices],
             "chip_trials": chip.trials_run, "ticks_per_trial": chip.tps, "late_steps": chip.late_steps,
             "worst_tick_work_ns": worst_ns, "real_time": worst_ns <= tick_ns}
    notes = []
    if chip.late_steps:
        notes.append(f"{chip.late_steps} steps ran after their tick ended (not real time): spikes may have "
                     "missed the next step, so chip results can differ from the reference")
    return AppResult(sim=sim, samples=chip.trials_run, timesteps=chip.trials_run * chip.tps,
                     ticks_per_sample=chip.tps, learning=learning, extra=extra, notes=notes)
