"""Applications: the host programs that map a network onto the chip and drive a run.

Each firmware package has an ``app.py`` with ``run(ctx: RunContext) -> AppResult``. The CLI picks
the app from the network file's ``firmware.package`` and never needs to know what it computes.
"""
from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .hw.params import HwParams
from .sim import Simulation

APPS = {
    "lif_inference": "firmware_models.lif_inference.app",
    "eprop": "firmware_models.eprop.app",
    "eventprop": "firmware_models.eventprop.app",
    "eprop_lif": "firmware_models.eprop_lif.app",
    "nir": "firmware_models.lif_inference.graph_app",  # an imported NIR graph (s2sim/nir_import.py)
}


@dataclass
class RunContext:
    """Everything an app needs: the validated config, hardware numbers and run options."""

    loaded: Any  # s2sim.config.LoadedNetwork
    hw: HwParams
    out_dir: Path | None
    progress: Callable[[str, int], Callable[[int], None]]  # (label, total) -> advance(n)
    options: dict[str, Any] = field(default_factory=dict)  # run switches (reference_training, timing_samples, ...)
    recorder: Any = None
    # Apps call this once their inputs (config, data, --resume checkpoint) have been checked and new
    # results are about to be made: the CLI then removes an older summary.json from the run folder,
    # so a failed check loses nothing and an interrupted run leaves nothing looking complete.
    start_output: Callable[[], None] = lambda: None
    started_s: float = field(default_factory=time.perf_counter)  # wall clock at the run's start
    # the run's simulator switches (``s2sim.run`` resolves them once); None: the config's, with the environment
    simulator: Any = None

    def run_totals(self, sim: Simulation, samples: int, timesteps: int, carried: dict | None = None) -> dict:
        """What a checkpoint carries so a resumed run's summary covers the whole run.

        ``carried`` are the totals the run itself resumed from (``AppResult.carried``); store the
        result in the checkpoint and hand it back as ``AppResult.carried`` after a resume.
        """
        from .profile.run_totals import totals_so_far
        return totals_so_far(sim, samples, timesteps, time.perf_counter() - self.started_s, carried)

    @property
    def spec(self):
        return self.loaded.spec

    @property
    def seed(self) -> int:
        return self.loaded.spec.run.seed

    def simulation(self) -> Simulation:
        run = self.loaded.spec.run
        if self.simulator is None:
            from .config.simulator import simulator_settings
            self.simulator = simulator_settings(run.simulator)
        sim = Simulation(self.hw, noc_fidelity=self.simulator.noc_fidelity, perf_level=run.performance_level,
                         recorder=self.recorder, record_timesteps=run.record_timesteps,
                         kernel=self.simulator.kernel)
        if run.dvfs == "load":
            from .hw.dvfs import LoadPolicy
            sim.machine.dvfs_policy = LoadPolicy(self.hw, run.tick_ns)
        return sim

    def section(self, model, name: str):
        """Validate a free-form section of the network file with the app's own pydantic model."""
        from .config import validate_section
        data = getattr(self.loaded.spec, name) if name != "firmware.params" else self.loaded.spec.firmware.params
        return validate_section(model, data or {}, str(self.loaded.file), name)


@dataclass
class AppResult:
    sim: Simulation  # the simulation whose timing, memory and energy are reported
    samples: int  # samples whose timing was simulated
    timesteps: int  # timesteps simulated on the chip
    ticks_per_sample: int = 0
    learning: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # app-specific summary section
    notes: list[str] = field(default_factory=list)  # shown to the user (e.g. dataset fallbacks)
    resumed_from: str | None = None  # the checkpoint a resumed run continued from
    carried: dict | None = None  # run totals of the parts before the resume (RunContext.run_totals)
    skipped_files: list[tuple[str, str]] = field(default_factory=list)  # input files left out (name, reason)


class AppError(Exception):
    """A user-facing problem the app found (message is one line, naming what is wrong)."""


#: free-form sections of a network file that belong to the app; an app lists those it reads in ``SECTIONS``
APP_SECTIONS = ("network", "mapping", "dataset", "training", "firmware.params")


#: run options only a training app has (a checkpoint to continue, weights to export); an app that
#: takes them lists them in ``RUN_OPTIONS``, and ``check_run_options`` refuses them for any other
TRAINING_OPTIONS = {"resume": "--resume", "save_weights": "--save-weights"}


def check_run_options(app, package: str, **given: object) -> None:
    """A training option (``resume``, ``save_weights``) given to an app without it is a one-line error,
    not a run that exits 0 having saved or resumed nothing."""
    takes = getattr(app, "RUN_OPTIONS", ())
    for name, flag in TRAINING_OPTIONS.items():
        if given.get(name) is not None and name not in takes:
            which = [p for p in APPS if name in getattr(importlib.import_module(APPS[p]), "RUN_OPTIONS", ())]
            raise AppError(f"{flag}: '{package}' does not train, so it has nothing to "
                           f"{'resume' if name == 'resume' else 'save'} ({flag} applies to: {', '.join(which)})")


def pes_used_line(used: int, available: int) -> str:
    """The line ``s2sim validate`` prints for how much of the chip a network takes."""
    return f"  uses {used} of {available} PEs"


def check_app(app, loaded) -> list[str]:
    """Everything ``s2sim validate`` checks for an app: its sections (and no ignored ones), then its own checks.

    ``s2sim run`` calls this before creating any output, so validate and run refuse the same configs.
    Returns the lines the app's own check has to say (e.g. how a NIR graph is mapped), if any.
    """
    from .config import ConfigError
    try:
        return _check_app(app, loaded)
    except ConfigError as err:  # a value a --set gave is blamed on the --set, not on the file
        origin = loaded.origin_of(err)
        if origin is err:
            raise
        raise origin from None


def _check_app(app, loaded) -> list[str]:
    from .config import ConfigError
    used = getattr(app, "SECTIONS", APP_SECTIONS)
    for name in APP_SECTIONS:
        data = loaded.spec.firmware.params if name == "firmware.params" else getattr(loaded.spec, name)
        if data and name not in used:
            raise ConfigError(str(loaded.file), name, f"'{loaded.spec.firmware.package}' does not use this section",
                              "only " + ", ".join(used) + " (remove it)")
    notes = app.validate(loaded) if hasattr(app, "validate") else None
    if "dataset" in used and loaded.spec.dataset:
        from .data.dataset import check_source
        check_source(loaded.spec.dataset, str(loaded.file))
    return list(notes or [])


def load_app(package: str):
    module = APPS.get(package)
    if module is None:
        raise AppError(f"unknown firmware package {package!r}; expected one of: {', '.join(APPS)}")
    return importlib.import_module(module)
