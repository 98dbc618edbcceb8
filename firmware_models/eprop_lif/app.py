"""Host program for e-prop cue accumulation (spec cue_accumulation.md §5): map, load trials, train, report.

Modes
* default (``training.engine: chip``): every training trial is simulated by the per-core firmware
  (forward, eligibility, reduce, learning signal, Adam on the chip model); test accuracy after each epoch is
  evaluated with the reference forward pass (the same mathematics, vectorised) — the summary says so.
* ``--fast`` (or ``training.engine: reference``): train with the vectorised reference, then simulate
  ``--timing-samples`` training trials on the chip with the trained weights for timing, memory and energy.

Both write ``checkpoint.npz`` (training.py, checkpoint.py) and continue one with ``--resume``; a chip run's
checkpoints carry the run totals so the resumed summary covers the whole run.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from s2sim.apps import AppError, AppResult, RunContext
from s2sim.data.cue import CueConfig, load_cue
from s2sim.host_timer import run_until_programs_finish
from s2sim.runtime.shared import grouping_enabled

from . import reference as R
from .checkpoint import checkpoint_path, load_checkpoint
from .firmware import ERR_KEY, PART_KEY, SPIKE_KEY, CueEpropCore
from .group import CueGroup
from .mapping import INPUT_CHUNK_FRAMES, CueMapping, memory_report, pe_arrays, plan
from .params import CueEpropParams
from .training import CueTrainingConfig, ReferenceEngine, fresh_state, train

F32 = np.float32


class CueFirmwareParams(BaseModel):
    """``firmware.params``: implementation choices that change speed, not results."""

    model_config = ConfigDict(extra="forbid")

    group_numerics: bool | None = Field(
        None, description="One set of numpy calls per step for all PEs (a simulator speed trick; results are "
        "identical). Default: run.simulator.group_numerics, on unless S2SIM_GROUP_NUMERICS=0")


class ChipNetwork:
    """The network placed on a simulation: one CueEpropCore per PE, multicast routes, DRAM trials."""

    def __init__(self, sim, params: CueEpropParams, mapping: CueMapping, weights: dict, tick_ns: float = 1e6,
                 grouped: bool | None = None):
        """``grouped``: share the step's numerics over the PEs (None: the run's setting, see group.py)."""
        self.sim, self.p = sim, params
        self.slices = plan(params, mapping, sim.hw)
        pes = [s.pe for s in self.slices]
        G, root = len(pes), pes[0]
        noc = sim.machine.routing
        for s in self.slices:
            for j in range(s.start, s.stop):  # one key per recurrent neuron, to every PE
                noc.add_multicast(SPIKE_KEY | j, 0xFFFFFFFF, s.pe, pes)
            if s.index:
                noc.add_multicast(PART_KEY | (s.index << 8), 0xFFFFFF00, s.pe, [root])
        noc.add_multicast(ERR_KEY, 0xFFFFFF00, root, pes)
        arrays = [pe_arrays(params, s.n, s.index == 0, G) for s in self.slices]
        self.group = CueGroup(params, arrays, INPUT_CHUNK_FRAMES, grouping_enabled(grouped))
        self.cores: list[CueEpropCore] = []
        for s, pe_regions in zip(self.slices, arrays):
            fw = CueEpropCore(params, s.index, G, s.start, s.stop, pe_regions, tick_ns, INPUT_CHUNK_FRAMES,
                              self.group)
            sim.load(s.pe, fw)
            fw.load_weights(weights["w_in"], weights["w_rec"], weights["w_out"])
            self.cores.append(fw)
        self.tps = params.n_steps + 1
        self.tick_ns = tick_ns
        self.next_trial = 0
        self.ticks_run = 0  # timer ticks fired (more than the steps when the tick is too short)

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
        end_step = (self.next_trial + n) * self.tps
        self.sim.run_ticks(n * self.tps)
        # a tick shorter than a step's work: the steps queue behind each other and ticks are dropped, so
        # the trials need more ticks than they have steps; the host waits for the result, as on the chip
        self.ticks_run += n * self.tps + run_until_programs_finish(
            self.sim, [s.pe for s in self.slices],
            lambda: (max(end_step - fw.step for fw in self.cores), before + n - len(self.root.records)),
            patience_ns=max(self.tps * self.tick_ns, 10e6))
        self.next_trial += n
        recs = self.root.records[before:]
        if len(recs) != n:
            stuck = {s.pe: end_step - fw.step for s, fw in zip(self.slices, self.cores) if fw.step < end_step}
            raise AppError(f"the root PE reported {len(recs)} of {n} trials; steps never run, per PE: {stuck}")
        return recs

    def set_adam(self, adam: R.Adam) -> None:
        """Load an optimiser state (m, v by column/row slice; the step count and β powers as the chip keeps them)."""
        p = self.p
        m = np.concatenate([adam.m["w_in"], adam.m["w_rec"]])
        v = np.concatenate([adam.v["w_in"], adam.v["w_rec"]])
        b1 = b2 = F32(1.0)
        for _ in range(adam.steps):  # the chip's running products, rounded as it rounds them
            b1, b2 = b1 * F32(p.adam_beta1), b2 * F32(p.adam_beta2)
        for fw in self.cores:
            c = slice(fw.start, fw.stop)
            fw.adam_m[...], fw.adam_v[...] = m[:, c], v[:, c]
            fw.adam_m_out[...], fw.adam_v_out[...] = adam.m["w_out"][c], adam.v["w_out"][c]
            fw.adam_scalars[:3] = (adam.steps, b1, b2)

    def adam_state(self) -> R.Adam:
        """The chip's optimiser state as a reference ``Adam`` (copies)."""
        w = self.weights()
        adam = R.Adam(w, self.p)
        m = np.concatenate([fw.adam_m for fw in self.cores], axis=1)
        v = np.concatenate([fw.adam_v for fw in self.cores], axis=1)
        n_in = self.p.n_in
        adam.m["w_in"][...], adam.m["w_rec"][...] = m[:n_in], m[n_in:]
        adam.v["w_in"][...], adam.v["w_rec"][...] = v[:n_in], v[n_in:]
        adam.m["w_out"][...] = np.concatenate([fw.adam_m_out for fw in self.cores])
        adam.v["w_out"][...] = np.concatenate([fw.adam_v_out for fw in self.cores])
        adam.steps = int(self.root.adam_scalars[0])
        return adam

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

    def late_steps_per_pe(self) -> dict[str, int]:
        """Steps that started after the tick that triggered them ended, per PE (keys as summary ``per_pe``)."""
        return {str(s.pe): fw.late_steps for s, fw in zip(self.slices, self.cores)}


def _sections(loaded):
    from s2sim.config import validate_section
    spec, file = loaded.spec, str(loaded.file)
    params = validate_section(CueEpropParams, spec.network, file, "network")
    mapping = validate_section(CueMapping, spec.mapping, file, "mapping")
    fwp = validate_section(CueFirmwareParams, spec.firmware.params, file, "firmware.params")
    dcfg = validate_section(CueConfig, spec.dataset, file, "dataset")
    tcfg = validate_section(CueTrainingConfig, spec.training, file, "training")
    if dcfg.n_channels != params.n_in or dcfg.n_steps != params.n_steps:
        raise AppError(f"{file}: dataset has {dcfg.n_channels} channels and {dcfg.n_steps} steps but network has "
                       f"n_in={params.n_in}, n_steps={params.n_steps}; set them to match")
    if dcfg.recall_steps != params.learn_steps:
        raise AppError(f"{file}: network.learn_steps ({params.learn_steps}) must equal dataset.recall_steps "
                       f"({dcfg.recall_steps}): the output is scored while the recall cue is on")
    return params, mapping, dcfg, tcfg, fwp


#: the training options this app takes (s2sim.apps.check_run_options refuses them elsewhere)
RUN_OPTIONS = ("resume", "save_weights")

def validate(loaded) -> list[str]:
    from s2sim.apps import pes_used_line
    from s2sim.hw.params import HwParams
    params, mapping, *_ = _sections(loaded)
    hw = HwParams.from_arch(loaded.arch)
    return [pes_used_line(len(plan(params, mapping, hw)), hw.n_pes)]


class ChipEngine:
    """The chip model as a training engine: one batch of trials per call, Adam on the chip after it."""

    label = "chip"

    def __init__(self, chip: ChipNetwork) -> None:
        self.chip = chip

    def train_batch(self, X: np.ndarray, Y: np.ndarray) -> tuple[list[float], int]:
        recs = self.chip.run_trials(X, Y, train=True)
        return [r[1] for r in recs], sum(r[2] == r[3] for r in recs)

    def state(self) -> tuple[dict[str, np.ndarray], R.Adam]:
        return self.chip.weights(), self.chip.adam_state()


def run_settings(ctx: RunContext, params: CueEpropParams, dcfg: CueConfig, tcfg: CueTrainingConfig,
                 engine: str, pes: int) -> dict:
    """What changes the numerics of training: a resume must use the same (compared key by key).

    Chip training also depends on the PE count (the root sums the partial readouts in PE order, so the
    float32 rounding follows the mapping) and on the tick (a too-short one on several PEs moves spikes)."""
    chip = {"mapping.pes": pes, "run.tick_ns": ctx.spec.run.tick_ns} if engine == "chip" else {}
    return {**{f"network.{k}": v for k, v in params.model_dump().items()},
            **{f"dataset.{k}": v for k, v in dcfg.model_dump().items()},
            "run.seed": ctx.seed, "training.shuffle": tcfg.shuffle, "training.engine": engine, **chip}


def run(ctx: RunContext) -> AppResult:
    params, mapping, dcfg, tcfg, fwp = _sections(ctx.loaded)
    opts = ctx.options or {}
    sim = ctx.simulation()
    pes = len(plan(params, mapping, ctx.hw))  # fail before generating data when the mapping cannot fit
    ds = load_cue(dcfg, ctx.seed)
    train_split, test = ds.splits["train"], ds.splits["test"]
    fast = bool(opts.get("fast")) or tcfg.engine == "reference"
    settings = run_settings(ctx, params, dcfg, tcfg, "reference" if fast else "chip", pes)
    resume = opts.get("resume")
    if resume:
        try:
            start = load_checkpoint(resume, params, settings, -(-len(train_split) // params.batch))
        except ValueError as err:
            raise AppError(f"--resume: {err}") from None
        if start.epoch > tcfg.epochs:
            raise AppError(f"--resume: {checkpoint_path(resume)} has {start.epoch} epochs done but this run "
                           f"has training.epochs={tcfg.epochs}; ask for at least {start.epoch}")
    else:
        start = fresh_state(params, ctx.seed)
    carried = start.run_totals if resume and not fast else None  # run totals before the resume
    out_dir = Path(ctx.out_dir) if ctx.out_dir is not None else None
    ctx.start_output()
    tick_ns = ctx.spec.run.tick_ns
    notes = []
    if resume:
        where = (f"training was done ({start.epoch} of {tcfg.epochs} epochs), nothing left to train" if start.epoch == tcfg.epochs
                 else f"at epoch {start.epoch + 1}, batch {start.position}")
        notes.append(f"resumed from {checkpoint_path(resume)}: {where}"
                     + ("" if fast else "; the summary adds the run totals the checkpoint carried"))
    if fast:
        ref = ReferenceEngine(params, start.weights, start.adam)
        state = train(params, tcfg, ds, ctx.seed, ref, start, ctx.progress, out_dir, settings)
        weights = state.weights
        chip = ChipNetwork(sim, params, mapping, weights, tick_ns, fwp.group_numerics)
        chip.set_adam(state.adam)
        n_t = max(1, min(int(opts.get("timing_samples") or tcfg.timing_samples), len(train_split)))
        adv = ctx.progress("chip timing trials", n_t)
        for i in range(n_t):
            chip.run_trials(train_split.X[i:i + 1], train_split.y[i:i + 1], train=True)
            adv(1)
        engine = (f"reference (fast); chip timing on {n_t} trials (Adam after each, on a copy of the trained "
                  "weights and optimiser)")
    else:
        chip = ChipNetwork(sim, params, mapping, start.weights, tick_ns, fwp.group_numerics)
        chip.set_adam(start.adam)

        def totals() -> dict:  # what a checkpoint carries so a resumed run's summary covers the whole run
            return ctx.run_totals(sim, chip.trials_run, chip.trials_run * chip.tps, carried)

        state = train(params, tcfg, ds, ctx.seed, ChipEngine(chip), start, ctx.progress, out_dir, settings,
                      totals if out_dir is not None else None)
        weights = state.weights
        engine = "chip (every training trial simulated by the firmware); test accuracy from the reference forward pass"
    history = state.history
    if opts.get("save_weights"):
        from s2sim.data.cache import atomic_save_npz
        atomic_save_npz(opts["save_weights"], {k: np.asarray(v, F32) for k, v in weights.items()})
    test_acc, test_loss = R.evaluate(weights, test.X, test.y, params)
    learning = {"test_accuracy": test_acc, "test_loss": test_loss,
                "online_train_accuracy": history[-1]["train_accuracy"] if history else None,
                "loss_curve": [h["train_loss"] for h in history], "epochs": len(history), "engine": engine,
                "history": history, "dataset": {"name": ds.name, "synthetic": False, "summary": ds.summary()}}
    mem = memory_report(params, chip.slices, ctx.hw)
    stats = sim.machine.stats
    worst_ns = float(stats.time_done_ns[:stats.n_rows].max()) if stats.n_rows else 0.0
    overruns = {str(s.pe): int(sim.machine.counters.timer_overruns[s.pe]) for s in chip.slices}
    extra = {**mem, "slices": [{"pe": s.pe, "neurons": [s.start, s.stop]} for s in chip.slices],
             "chip_trials": chip.trials_run, "ticks_per_trial": chip.tps, "ticks_run": chip.ticks_run,
             "late_steps": chip.late_steps, "late_steps_per_pe": chip.late_steps_per_pe(),
             "timer_overruns_per_pe": overruns, "worst_tick_work_ns": worst_ns, "real_time": worst_ns <= tick_ns}
    if sum(overruns.values()) or chip.late_steps:
        notes.append(f"not real time at a {tick_ns / 1e3:g} µs tick: {sum(overruns.values())} timer overruns and "
                     f"{chip.late_steps} late steps (per PE in app.timer_overruns_per_pe, app.late_steps_per_pe); "
                     f"every step still ran ({chip.ticks_run} ticks for "
                     f"{chip.trials_run * chip.tps} steps)"
                     + ("; on several PEs spikes may count for another step than at a long tick, so the "
                        "results can differ from the reference" if len(chip.slices) > 1 else ""))
    resumed = {"resumed_from": str(resume), "carried": carried} if resume and not fast else {}
    return AppResult(sim=sim, samples=chip.trials_run, timesteps=chip.trials_run * chip.tps,
                     ticks_per_sample=chip.tps, learning=learning, extra=extra, notes=notes, **resumed)
