"""One run of a network, outside any command line: what ``s2sim run``, a sweep point and tools call.

``run_network(loaded, options)`` checks the network as ``s2sim validate`` does, claims the run
folder, runs the app, builds the summary (its ``simulator`` section from the switches this run
used) and writes ``timesteps.csv`` and, last and atomically, ``summary.json``. It prints nothing and
never exits: user errors are raised as the one-line exceptions of ``USER_ERRORS``, an interrupt as
``RunInterrupted`` (a ``KeyboardInterrupt`` that says whether a checkpoint was kept). The caller
decides how to show them (the CLI prints one line and exits 2 or 130; a sweep records a row).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from .apps import AppError, AppResult, RunContext, check_app, check_run_options, load_app
from .config import ConfigError, LoadedNetwork
from .config.simulator import SimulatorSettings, simulator_settings
from .data import DatasetError
from . import mpi
from .hw.board_mpi import MpiSplitError
from .hw.params import HwParams
from .hw.sram import SramOverflowError
from .mpi import MpiUnavailable
from .outdir import OutputDirError, RunDir, default_run_dir

__all__ = ["RunOptions", "RunResult", "RunInterrupted", "run_network", "USER_ERRORS", "CHECKPOINT"]

#: Problems a user fixes from one line (bad config, data, a network that does not fit, the folder).
USER_ERRORS = (ConfigError, AppError, SramOverflowError, DatasetError, OutputDirError, MpiSplitError, MpiUnavailable)
CHECKPOINT = "checkpoint.npz"


@dataclass
class RunOptions:
    """How to run (the CLI's switches); none of these changes what is simulated."""

    out_dir: Path | None = None  # None: run.out, else traces/<name>-<time>
    reference_training: bool = False  # train with the vectorised reference, time a few samples
    timing_samples: int | None = None
    resume: Path | None = None  # a run folder (or checkpoint) to continue from
    save_weights: Path | None = None
    force: bool = False  # reuse an --out folder that holds a run (its old outputs are removed)
    trace: bool = False  # write a timeline (also when run.trace is true)
    trace_pes: str | None = None
    trace_window: str | None = None
    trace_format: str = "perfetto"
    recorder: Any = None  # a ready-made trace recorder (tools); replaces trace/trace_*
    progress: bool = False  # progress bars / lines on stderr (also needs run.progress)
    console: Any = None  # where apps print their tables (None: silent)
    write_outputs: bool = True  # False: no summary files (tools that only read the simulation)
    environ: Mapping[str, str] | None = None  # where the simulator overrides are read (None: os.environ)
    out_option: str = "--out"  # how the caller names the folder in an error message


@dataclass
class RunResult:
    """What a run produced: the summary as written, its folder, the app's own result."""

    summary: dict[str, Any] | None
    out_dir: Path
    app: AppResult
    settings: SimulatorSettings
    wall_time_s: float = 0.0
    notes: list[str] = field(default_factory=list)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; ``checkpoint`` is the kept checkpoint (None: nothing was kept)."""

    def __init__(self, out_dir: Path | None, checkpoint: Path | None):
        super().__init__(str(checkpoint or out_dir or ""))
        self.out_dir = out_dir
        self.checkpoint = checkpoint


#: the files a run writes when it ends (summary.json last): removed together when one cannot be written
FINAL_OUTPUTS = ("timesteps.csv", "trace.pftrace", "trace.json", "summary.json")


def run_network(loaded: LoadedNetwork, options: RunOptions | None = None) -> RunResult:
    """Run ``loaded`` (from ``config.load_network``) into its run folder and return the result."""
    options = options or RunOptions()
    spec = loaded.spec
    settings = simulator_settings(spec.run.simulator, options.environ)
    app = load_app(spec.firmware.package)
    check_app(app, loaded)  # everything `validate` rejects is refused before any output exists
    check_run_options(app, spec.firmware.package, resume=options.resume, save_weights=options.save_weights)
    out_dir = Path(options.out_dir or (spec.run.out if spec.run.out else default_run_dir(spec.name)))
    if options.resume is not None and options.out_dir is None:
        out_dir = Path(options.resume)
    resuming = options.resume is not None and Path(options.resume).resolve() == out_dir.resolve()
    if options.save_weights is not None:
        RunDir.writable_file(options.save_weights, "--save-weights")
    if not mpi.is_root():  # one of several MPI ranks: rank 0 writes the run folder, the others only simulate
        return _run_in(loaded, app, out_dir, replace(options, write_outputs=False, progress=False), settings, None)
    run_dir = RunDir(out_dir, options.out_option if options.out_dir or options.resume is None else "--resume")
    recorder = options.recorder or _trace_recorder(options, spec.run.trace)
    run_dir.claim(force=options.force, resuming=resuming)
    try:
        return _run_in(loaded, app, out_dir, options, settings, recorder)
    except KeyboardInterrupt:
        run_dir.release_if_empty()
        kept = out_dir / CHECKPOINT
        raise RunInterrupted(out_dir, kept if kept.exists() else None) from None
    except BaseException:
        run_dir.release_if_empty()
        raise


def _run_in(loaded: LoadedNetwork, app, out_dir: Path, options: RunOptions, settings: SimulatorSettings,
            recorder) -> RunResult:
    from .profile.run_totals import merge_carried
    from .profile.summary import build_summary, write_json_atomic, write_timesteps_csv
    from .progress import progress_factory
    from .runtime.shared import RUN_GROUPING

    spec = loaded.spec

    def start_output() -> None:  # a rerun into the same folder is incomplete until done
        (out_dir / "summary.json").unlink(missing_ok=True)

    hw = HwParams.from_arch(loaded.arch)
    t0 = time.perf_counter()
    token = RUN_GROUPING.set(settings.group_numerics)
    try:
        with progress_factory(spec.run.progress and options.progress) as make_progress:
            ctx = RunContext(loaded=loaded, hw=hw, out_dir=out_dir, progress=make_progress, recorder=recorder,
                             options={"reference_training": options.reference_training,
                                      "fast": options.reference_training,  # the apps' older name
                                      "timing_samples": options.timing_samples, "resume": options.resume,
                                      "save_weights": options.save_weights, "console": options.console},
                             start_output=start_output, simulator=settings)
            result = app.run(ctx)
            start_output()  # for apps that never call it
    finally:
        RUN_GROUPING.reset(token)
    wall = time.perf_counter() - t0
    if not options.write_outputs:
        return RunResult(None, out_dir, result, settings, wall, list(result.notes))
    extra, simulator = simulator_section(result.extra, settings)
    summary = build_summary(
        result.sim, network=spec.name, arch_name=loaded.arch.name, config=loaded.resolved(),
        seed=spec.run.seed, samples=result.samples, timesteps=result.timesteps, tick_ns=spec.run.tick_ns,
        wall_time_s=wall, arch=loaded.arch, learning=result.learning, extra=extra, notes=result.notes)
    merge_carried(summary, result.carried, result.resumed_from)
    kernel_report = getattr(result.sim.machine, "kernel_report", None)  # (the counted kernel's windows)
    if kernel_report is not None:
        simulator.update(kernel_report())
    summary["simulator"] = simulator
    if result.skipped_files:
        summary["skipped_files"] = [{"file": f, "reason": r} for f, r in result.skipped_files]
    if spec.expect:
        summary["expect"] = check_expectations(spec.expect, summary)
    try:
        write_timesteps_csv(result.sim, out_dir / "timesteps.csv")
        if recorder is not None and hasattr(recorder, "write"):
            recorder.write(out_dir, summary=summary)
        write_json_atomic(summary, out_dir / "summary.json")
    except BaseException:  # a full disk half way: no cut timesteps.csv or trace is left to look like a run
        for name in FINAL_OUTPUTS:
            (out_dir / name).unlink(missing_ok=True)
        raise
    return RunResult(summary, out_dir, result, settings, wall, list(result.notes))


def simulator_section(extra: dict[str, Any], settings: SimulatorSettings) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the app's section without simulator bookkeeping, the summary's ``simulator`` section).

    The section says which kernel, numerics mode and NoC fidelity ran (and what chose each), plus the
    simulator's own counters an app reports (never chip warnings: they change no result).
    """
    from .profile.tables import SIMULATOR_COUNTERS
    app = dict(extra or {})
    counters = {name: app.pop(name) for name, _ in SIMULATOR_COUNTERS if name in app}
    section: dict[str, Any] = settings.to_json()
    section.update(counters)
    section["meaning"] = {name: text for name, text in SIMULATOR_COUNTERS if name in counters}
    return app, section


def check_expectations(expect: dict, summary: dict) -> dict:
    """Compare ``expect: {memory_total_bytes: ..., ...}`` with what the run measured."""
    measured = {"memory_total_bytes": summary["memory"]["total_bytes"],
                "max_pe_bytes": summary["memory"]["max_pe_bytes"],
                "pes_used": summary["pes_used"],
                "timestep_max_ns": summary["latency"]["timestep_ns"]["max"]}
    learning_state = (summary.get("app") or {}).get("learning_state_bytes")
    if learning_state is not None:
        measured["learning_state_bytes"] = learning_state
    out = {}
    for key, want in expect.items():
        got = measured.get(key)
        out[key] = {"expected": want, "measured": got, "ok": got is not None and got == want}
    return out


def _trace_recorder(options: RunOptions, from_config: bool):
    if not (options.trace or from_config):
        return None
    try:
        from .profile.trace import TraceRecorder
    except ImportError as err:  # an explicit error, never a silently missing feature
        raise AppError(f"--trace needs the trace writer's dependencies ({err}); "
                       "pip install 's2sim[report]'") from None
    try:
        return TraceRecorder.from_options(options.trace_pes, options.trace_window, options.trace_format)
    except ValueError as err:
        raise AppError(f"--trace options: {err}") from None
