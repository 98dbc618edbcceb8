"""``s2sim sweep STUDY.yaml`` (registered by ``s2sim.cli``): the command body lives with the sweep.

Bad input (a study or point that does not validate, --resume of a folder that is no sweep) prints
one line and exits 2 before any point runs, like every other user error of the CLI. Every user
string (study name, axis values, error messages) is printed as plain text, never read as markup.
Ctrl-C stops the whole sweep: the point being run keeps its checkpoint, ``--resume`` continues it.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from ..outdir import non_empty_path
from .execute import SCHEDULER_ENV, Progress

console = Console()
err_console = Console(stderr=True)
#: Above this many points to run, a sweep asks first (or needs --yes): thousands of runs are hours.
CONFIRM_POINTS = 200


def echo(line: Text) -> None:
    """One line on stdout, never wrapped (paths and names stay copyable)."""
    console.print(line, soft_wrap=True, highlight=False)


def plain(text: str) -> Text:
    """A line printed verbatim: ``[/]`` in a study name is text, not a rich markup tag."""
    from ..cli import one_line
    return Text(one_line(text))


def fail(message: str, code: int = 2) -> None:
    """One plain line (a path or value in the message is never read as markup), exit ``code``."""
    from ..cli import one_line
    line = Text("error:", style="bold red")
    line.append(f" {one_line(message)}")
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
            self.bar = Bar(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err_console)
            self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def __call__(self, p: Progress, message: str | None) -> None:
        if message:
            line = Text("point failed:", style="bold yellow")
            line.append(f" {message}")
            (self.bar.console if self.bar else err_console).print(line, highlight=False, soft_wrap=True)
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
@click.option("--out", type=click.Path(), callback=non_empty_path,  # a file there: prepare_out_dir says so in one line
              help="Sweep directory (default traces/study-<name>).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Local Dask worker processes (default one per core); 1 = run in this process, no Dask.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help=f"Run on an existing Dask cluster, e.g. tcp://host:8786 (default ${SCHEDULER_ENV}).")
@click.option("--resume", is_flag=True, help="Continue a sweep in --out: complete points are not run again, "
              "interrupted ones continue from their checkpoint.")
@click.option("--no-point-reports", is_flag=True, help="Skip each point's report.html (s2sim report "
              "DIR/points/<id> builds one later).")
@click.option("--yes", is_flag=True, help=f"Start a sweep of more than {CONFIRM_POINTS} points without asking.")
@click.option("--quiet", is_flag=True, help="No progress bar or table.")
def sweep(study_file: Path, out, workers, scheduler, resume, no_point_reports, yes, quiet) -> None:
    """Run every point of STUDY.yaml (one `s2sim run` each) and write results, plots and study.html."""
    from ..apps import AppError
    from ..config import ConfigError
    from .api import prepare_out_dir
    from .execute import pending_points, run_points
    from .report import write_study_outputs
    from .study import load_study
    out_dir = out
    try:
        study = load_study(study_file)
        out_dir = prepare_out_dir(study, out, resume)
        _confirm_size(study, len(pending_points(study, out_dir)), yes)
        t0 = time.perf_counter()
        with _ProgressBar(not quiet and sys.stderr.isatty()) as bar:
            progress = run_points(study, out_dir, workers=workers, scheduler=scheduler, report=bar,
                       point_reports=not no_point_reports)
        outputs = write_study_outputs(out_dir)
    except KeyboardInterrupt:
        _tables_after_interrupt(out_dir)
        fail(f"sweep interrupted; complete points are kept, an interrupted point keeps its checkpoint "
             f"(continue with: s2sim sweep {study_file} --out {out_dir or 'DIR'} --resume)", 130)
    except (ConfigError, AppError) as err:
        fail(str(err))
    except OSError as err:
        fail(f"{err.filename or out_dir or study_file}: cannot write the sweep output "
             f"({err.strerror or type(err).__name__})")
    if not quiet:
        rows = outputs["rows"]  # read back from the point folders: what results.csv says
        ok = sum(r["status"] == "ok" for r in rows)
        echo(plain(f"study {study.name}: {len(rows)} points ({progress.skipped} already complete, "
                            f"{ok - progress.skipped} run, {len(rows) - ok} failed) "
                            f"in {time.perf_counter() - t0:.1f} s"))
        echo(plain(f"results: {out_dir / 'results.csv'}; page: {outputs['html']}"))


def _confirm_size(study, to_run: int, yes: bool) -> None:
    """A big sweep starts only when the user says so (a prompt on a terminal, ``--yes`` otherwise)."""
    if to_run <= CONFIRM_POINTS or yes:
        return
    what = f"study {study.name} has {to_run} points to run (more than {CONFIRM_POINTS})"
    if sys.stdin.isatty() and sys.stderr.isatty():
        if click.confirm(f"{what}; start them?", default=False, err=True):
            return
        fail("not started", 1)
    fail(f"{what}; rerun with --yes to start them")


def _tables_after_interrupt(out_dir: Path | None) -> None:
    """results.csv as the points are now (so it agrees with their status.json); never a second error."""
    if out_dir is None:
        return
    from .report import load_sweep
    from .results import collect_rows, write_tables
    try:
        write_tables(collect_rows(load_sweep(out_dir), Path(out_dir)), Path(out_dir))
    except (OSError, ValueError, KeyError, KeyboardInterrupt):
        pass


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
    echo(plain(f"{path}: ok (study {study.name}: {len(study.points)} points over "
                        f"{', '.join(study.axis_names) or 'no axes'}; base {study.network})"))
    if len(study.points) > CONFIRM_POINTS:
        echo(plain(f"note: more than {CONFIRM_POINTS} points: s2sim sweep asks before starting "
                            "them (or give --yes)"))
    return True
