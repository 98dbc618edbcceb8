"""``s2sim sweep STUDY.yaml`` (registered by ``s2sim.cli``): the command body lives with the sweep.

Bad input (a study or point that does not validate, --resume of a folder that is no sweep) prints
one line and exits 2 before any point runs, like every other user error of the CLI.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from .execute import SCHEDULER_ENV, Progress

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """One plain line (a path or value in the message is never read as markup), exit ``code``."""
    line = Text("error:", style="bold red")
    line.append(f" {message}")
    err_console.print(line, highlight=False, soft_wrap=True)
    sys.exit(code)


class _ProgressBar:
    """Rich bar: points done / running / failed and an ETA; one line per failed point."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.task = None

    def __enter__(self) -> "_ProgressBar":
        if self.enabled:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            self.bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err_console)
            self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def __call__(self, p: Progress, message: str | None) -> None:
        if message:
            (self.bar.console if self.bar else err_console).print(f"[bold yellow]point failed:[/] {message}",
                                                                  highlight=False, soft_wrap=True)
        if self.bar is None:
            return
        text = f"points: {p.done} done, {p.running} running, {p.failed} failed" + (
            f", {p.skipped} already complete" if p.skipped else "")
        if self.task is None:
            # the ETA counts only points run now (skipped ones would make it look too fast)
            self.task = self.bar.add_task(text, total=p.total - p.skipped)
        self.bar.update(self.task, description=text, completed=p.done + p.failed)


@click.command()
@click.argument("study_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Sweep directory (default traces/study-<name>).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Local Dask worker processes (default one per core); 1 = run in this process, no Dask.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help=f"Run on an existing Dask cluster, e.g. tcp://host:8786 (default ${SCHEDULER_ENV}).")
@click.option("--resume", is_flag=True, help="Continue a sweep in --out: complete points are not run again.")
@click.option("--quiet", is_flag=True, help="No progress bar or table.")
def sweep(study_file: Path, out, workers, scheduler, resume, quiet) -> None:
    """Run every point of STUDY.yaml (one `s2sim run` each) and write results, plots and study.html."""
    from ..apps import AppError
    from ..config import ConfigError
    from .api import prepare_out_dir
    from .execute import run_points
    from .report import write_study_outputs
    from .study import load_study
    try:
        study = load_study(study_file)
        out_dir = prepare_out_dir(study, out, resume)
        t0 = time.perf_counter()
        with _ProgressBar(not quiet and sys.stderr.isatty()) as bar:
            progress = run_points(study, out_dir, workers=workers, scheduler=scheduler, report=bar)
        outputs = write_study_outputs(out_dir)
    except KeyboardInterrupt:
        fail("interrupted; complete points are kept (rerun with --resume)", 130)
    except (ConfigError, AppError) as err:
        fail(str(err))
    except OSError as err:
        fail(f"{study_file}: {err}")
    if not quiet:
        console.print(f"study {study.name}: {len(study.points)} points ({progress.skipped} already complete, "
                      f"{progress.done} run, {progress.failed} failed) in {time.perf_counter() - t0:.1f} s")
        console.print(f"results: {out_dir / 'results.csv'}; page: {outputs['html']}")


def validate_study(path: Path, sets: tuple[str, ...]) -> bool:
    """``s2sim validate STUDY.yaml``: validate every point; False when ``path`` is not a study file."""
    from ..config import ConfigError
    from .study import is_study_file, load_study
    if not is_study_file(path):
        return False
    if sets:
        fail(f"{path}: --set does not apply to a study file; put fixed overrides under its 'set:' key")
    try:
        study = load_study(path)
    except ConfigError as err:
        fail(str(err))
    console.print(f"{path}: ok (study {study.name}: {len(study.points)} points over "
                  f"{', '.join(study.axis_names) or 'no axes'}; base {study.network})")
    return True
