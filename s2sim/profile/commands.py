"""``s2sim report RUN_DIR`` and ``s2sim compare RUN_A RUN_B`` (registered by ``s2sim.cli``).

Bad input (not a run directory, a run from an incompatible version) prints one line and exits 2,
like every other user error of the CLI.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from .tables import RunDirError, compare_rows, fmt_si, load_run

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--no-plots", is_flag=True, help="Tables only (no matplotlib figures).")
def report(run_dir: Path, no_plots: bool) -> None:
    """Rebuild plots, CSV tables and report.html of a finished run directory (or a sweep's study.html)."""
    from .report import matplotlib_available, write_report
    from ..sweep.report import is_sweep_dir, write_study_outputs
    if is_sweep_dir(run_dir):  # a sweep directory: results tables, plots and study.html
        console.print(f"report: {write_study_outputs(run_dir, plots=not no_plots)['html']}")
        return
    try:
        path = write_report(run_dir, plots=not no_plots)
    except RunDirError as err:
        fail(str(err))
    if not no_plots and not matplotlib_available():
        err_console.print("[bold yellow]note:[/] matplotlib is not installed: report without figures "
                          "(pip install 's2sim[report]')", highlight=False)
    console.print(f"report: {path}")


def _cell(value, unit: str) -> str:
    return fmt_si(value, unit)


@click.command()
@click.argument("run_a", type=click.Path(path_type=Path))
@click.argument("run_b", type=click.Path(path_type=Path))
@click.option("--all", "show_all", is_flag=True, help="Also show metrics that did not change.")
def compare(run_a: Path, run_b: Path, show_all: bool) -> None:
    """Show side by side what changed from RUN_A to RUN_B (memory, latency, energy, accuracy, config)."""
    try:
        a, b = load_run(run_a), load_run(run_b)
    except RunDirError as err:
        fail(str(err))
    rows = compare_rows(a.summary, b.summary)
    t = Table(title=f"s2sim compare: A = {run_a}  B = {run_b}", title_justify="left")
    for col, just in (("section", "left"), ("metric", "left"), ("A", "right"), ("B", "right"),
                      ("change", "right")):
        t.add_column(col, justify=just, overflow="fold")
    last = None
    for r in rows:
        changed = r["a"] != r["b"]
        if not changed and not show_all and r["section"] not in ("run",):
            continue
        if r["rel"] is None:
            change = "" if not changed else "changed"
        else:
            change = f"{r['rel'] * 100:+.1f} %" if r["rel"] not in (float("inf"),) else "new"
        style = {True: "green", False: "red"}.get(r["better"], "")
        section = r["section"] if r["section"] != last else ""
        last = r["section"]
        t.add_row(section, r["metric"], _cell(r["a"], r["unit"]), _cell(r["b"], r["unit"]),
                  f"[{style}]{change}[/]" if style and change else change)
    console.print(t)
    console.print("green = better, red = worse (lower is better for time, memory and energy; higher for "
                  "accuracy and slack). --all shows unchanged metrics.", style="dim")
