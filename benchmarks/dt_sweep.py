"""What the two time-step studies' drivers share: run a study cheapest point first, and group its rows.

``s2sim sweep`` runs points in file order, seed by seed (the product axis is the outer loop), so one
seed's slowest point comes before any second seed. ``run_cheapest_first`` runs the same study through
the same sweep API (same point ids, same directory, resumable with ``s2sim sweep ... --resume``) with
the points sorted by a cost axis, so a run cut short still has whole rows of every seed.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
import sys
from pathlib import Path
from typing import Callable

import yaml

from s2sim.config.errors import ConfigError
from s2sim.sweep import run_study
from s2sim.sweep.api import prepare_out_dir
from s2sim.sweep.report import is_sweep_dir, write_study_outputs
from s2sim.sweep.study import Study, load_study

#: the ends of the cycle bracket, fastest first (s2sim/profile/bracket.py; docs/fidelity.md)
ENDS = ("nominal", "low", "high")


def load_with(study_file: Path, sets: list[str] | None = None) -> Study:
    """The study file with ``KEY=VALUE`` overrides added to its ``set`` (same axes and point layout), e.g.
    ``training.epochs=1`` for a short run that measures only the chip-side columns. ``run`` and ``table``
    of one sweep directory take the same overrides (the point ids depend on them)."""
    if not sets:
        return load_study(study_file)
    spec = yaml.safe_load(study_file.read_text())
    for item in sets:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            print(f"--set {item!r}: expected KEY=VALUE, e.g. training.epochs=1", file=sys.stderr)
            raise SystemExit(2)
        spec.setdefault("set", {})[key.strip()] = yaml.safe_load(value)
    try:
        return load_study(spec, base_dir=study_file.parent)
    except ConfigError as err:  # a bad override: one line naming the study file and the point
        print(f"{study_file.name} with --set {' '.join(sets)}: {err.key or ''}: {err.problem}", file=sys.stderr)
        raise SystemExit(2) from None


def cheapest_first(study: Study, cost: Callable[[dict], float], keep: Callable[[dict], bool] | None = None) -> Study:
    """The study with its points sorted by ``cost(axes)`` (stable: seeds stay in order), optionally filtered."""
    points = sorted(study.points, key=lambda p: cost(p.axes))
    if keep is not None:
        points = [p for p in points if keep(p.axes)]
    return dataclasses.replace(study, points=points)


def run_cheapest_first(study_file: Path, out: Path, cost: Callable[[dict], float],
                       keep: Callable[[dict], bool] | None = None, sets: list[str] | None = None) -> None:
    """Run the (kept) points serially, cheapest first; the outputs always describe the whole study."""
    study = load_with(study_file, sets)

    def report(progress, message) -> None:
        print(message or f"{progress.done + progress.skipped}/{progress.total} points done, "
                         f"{progress.failed} failed", flush=True)

    run_study(cheapest_first(study, cost, keep), out=out, workers=1, report=report)


def sweep_rows(study_file: Path, out: Path, sets: list[str] | None = None) -> list[dict]:
    """The rows of every point of the study file (with the ``run``'s overrides), after rewriting the
    sweep's outputs (study.json, results.csv, plots, study.html) for the whole study, finished or not."""
    if not is_sweep_dir(out):
        raise SystemExit(f"{out}: not a sweep directory (run the driver's `run` first)")
    prepare_out_dir(load_with(study_file, sets), out, resume=True)
    return write_study_outputs(out)["rows"]


def bracket_cells(rows: list[dict]) -> tuple[str, str, str]:
    """The slowest and the median tick at each end of the cycle bracket (µs, means over the rows) and
    whether that end keeps real time in every row (summary.json ``latency.bracket``), each as
    ``"a / b / c"`` in ``ENDS`` order. An end a run could not estimate (it overran its tick: summary.json
    gives only the charged end) is ``-``, and not real time."""
    cells: dict[str, list[str]] = {"max": [], "median": []}
    realtime = []
    for end in ENDS:
        for stat, out in cells.items():
            us = mean(rows, f"latency.bracket.timestep_ns.{end}.{stat}") / 1e3
            out.append("-" if math.isnan(us) else f"{us:.0f}" if us >= 100 else f"{us:.1f}")
        realtime.append("yes" if all(r.get(f"latency.bracket.realtime.{end}") is True for r in rows) else "no")
    return " / ".join(cells["max"]), " / ".join(cells["median"]), " / ".join(realtime)


def group(rows: list[dict], axis: str) -> list[tuple[float, list[dict], int]]:
    """(axis value, finished rows, points planned) per value of ``axis``, ascending."""
    out = []
    for value in sorted({float(r[axis]) for r in rows}):
        planned = [r for r in rows if float(r[axis]) == value]
        out.append((value, [r for r in planned if r["status"] == "ok"], len(planned)))
    return out


def mean(rows: list[dict], key: str, per: str | None = None) -> float:
    """Mean of ``key`` over the rows (divided by ``per`` row by row); nan when none has it."""
    values = [float(r[key]) / (float(r[per]) if per else 1.0) for r in rows
              if r.get(key) is not None and (per is None or r.get(per))]
    return statistics.fmean(values) if values else math.nan


def accuracy_text(rows: list[dict]) -> str:
    """``mean ± sd %`` of the test accuracy (just the value for one seed)."""
    acc, sd, _ = accuracy_stats(rows)
    return f"{acc:.1f} %" if math.isnan(sd) else f"{acc:.1f} ± {sd:.1f} %"


def accuracy_stats(rows: list[dict]) -> tuple[float, float, float]:
    """(mean, sd, worst) of learning.test_accuracy in %; sd nan for a single seed."""
    accs = [100 * float(r["learning.test_accuracy"]) for r in rows]
    if not accs:
        return math.nan, math.nan, math.nan
    return statistics.fmean(accs), statistics.stdev(accs) if len(accs) > 1 else math.nan, min(accs)
