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
from rich.text import Text

from .tables import RunDirError, compare_rows, different_networks, fmt_si, load_run

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """One plain-text line (user values are never read as rich markup), then exit."""
    line = Text("error:", style="bold red")
    line.append(" " + message.replace("\r", "\\r").replace("\n", "\\n"))
    err_console.print(line, highlight=False, soft_wrap=True)
    sys.exit(code)


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--no-plots", is_flag=True, help="Tables only (no matplotlib figures).")
def report(run_dir: Path, no_plots: bool) -> None:
    """Rebuild plots, CSV tables and report.html of a finished run directory (or a sweep's study.html)."""
    from .report import matplotlib_available, write_report
    from ..sweep.report import is_sweep_dir, write_study_outputs
    if is_sweep_dir(run_dir):  # a sweep directory: results tables, plots and study.html
        console.print(Text(f"report: {write_study_outputs(run_dir, plots=not no_plots)['html']}"), soft_wrap=True)
        return
    try:
        path = write_report(run_dir, plots=not no_plots)
    except RunDirError as err:
        fail(str(err))
    if not no_plots and not matplotlib_available():
        err_console.print(Text("note: matplotlib is not installed: report without figures "
                               "(pip install matplotlib)"), highlight=False)
    console.print(Text(f"report: {path}"))


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
    t = Table(title=Text(f"s2sim compare: A = {run_a}  B = {run_b}"), title_justify="left")
    for col, just in (("section", "left"), ("metric", "left"), ("A", "right"), ("B", "right"),
                      ("change", "right")):
        t.add_column(col, justify=just, overflow="fold")
    last = None
    for r in rows:
        if r["section"] == "config":
            continue  # listed below as path = old -> new
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
        t.add_row(section, Text(r["metric"]), Text(_cell(r["a"], r["unit"])), Text(_cell(r["b"], r["unit"])),
                  Text(change, style=style) if style and change else change)
    warning = different_networks(a.summary, b.summary)
    if warning:
        say_warning(warning)
    console.print(t)
    changed = config_changes(rows)
    console.print(Text(f"config: {len(changed)} changed setting(s)" + (":" if changed else "")), style="bold")
    for line in changed:
        console.print(Text(f"  {line}"), soft_wrap=True)
    console.print("green = better, red = worse (lower is better for time, memory and energy; higher for "
                  "accuracy and slack). --all shows unchanged metrics.", style="dim")


def config_changes(rows: list[dict]) -> list[str]:
    """``path = old → new`` for every config leaf that differs (``-`` where a run lacks it)."""
    def show(v):
        return "-" if v is None else str(v)
    return [f"{r['metric']} = {show(r['a'])} → {show(r['b'])}" for r in rows if r["section"] == "config"]


def say_warning(message: str) -> None:
    line = Text("warning:", style="bold yellow")
    line.append(f" {message}")
    err_console.print(line, soft_wrap=True)
