"""Time-step study, learning and cost part: networks/studies/dt_eventprop.yaml, cheapest dt first.

Usage: python benchmarks/dt_eventprop.py run   [--out DIR] [--dts 8 4 2 1 0.5]
       python benchmarks/dt_eventprop.py table [--out DIR]

``run`` is ``s2sim sweep networks/studies/dt_eventprop.yaml --workers 1`` with the points reordered:
a sweep runs seed by seed, so the 10x slower dt = 0.1 ms point of seed 42 would come before any
second seed. Here every seed of dt 8, 4, 2, 1, 0.5 ms runs first, then 0.25 and 0.1 ms, so a run cut
short still has whole dt rows. Same runner, same point ids and directory (default
traces/study-dt_eventprop): ``s2sim sweep ... --resume`` continues it and rewrites the outputs.

``table`` prints the issue's table from the sweep directory, one row per dt: final-epoch test accuracy
(reference training) mean ± sd, worst seed and how many seeds finished; from the chip batch (means
over the finished seeds) spikes and error events per sample, ticks per batch, slowest tick against
the dt-long timer tick (real time holds while it is at most dt), energy per sample.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
from pathlib import Path

from s2sim.sweep import run_study
from s2sim.sweep.report import is_sweep_dir, load_sweep
from s2sim.sweep.results import collect_rows
from s2sim.sweep.study import Study, load_study

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "networks" / "studies" / "dt_eventprop.yaml"
DEFAULT_OUT = Path("traces") / "study-dt_eventprop"
DT = "network.dt_ms"


def cheapest_first(study: Study, dts: list[float] | None = None) -> Study:
    """The study's points ordered by dt, largest first (training cost grows as 1/dt); ``dts`` keeps
    only those time steps (the sweep directory still describes the whole study)."""
    points = sorted(study.points, key=lambda p: -float(p.axes[DT]))
    if dts is not None:
        points = [p for p in points if float(p.axes[DT]) in dts]
    return dataclasses.replace(study, points=points)


def run(out: Path, dts: list[float] | None) -> None:
    study = load_study(STUDY)
    run_study(cheapest_first(study, dts), out=out, workers=1,
              report=lambda progress, message: print(message or
                                                      f"{progress.done + progress.skipped}/{progress.total} "
                                                      f"points done, {progress.failed} failed",
                                                      flush=True))
    if dts is not None:  # the outputs (results.csv, plots, study.html) cover every point of the study
        from s2sim.sweep.api import prepare_out_dir
        from s2sim.sweep.report import write_study_outputs
        prepare_out_dir(study, out, resume=True)
        write_study_outputs(out)


def dt_rows(rows: list[dict]) -> list[dict]:
    """One summary per dt (finest first) from the sweep's per-point rows."""
    out = []
    for dt in sorted({float(r[DT]) for r in rows}):
        done = [r for r in rows if float(r[DT]) == dt and r["status"] == "ok"]
        accs = [float(r["learning.test_accuracy"]) for r in done]

        def mean(key: str) -> float:
            values = [float(r[key]) for r in done if r.get(key) is not None]
            return statistics.fmean(values) if values else math.nan

        total = sum(1 for r in rows if float(r[DT]) == dt)
        out.append({"dt_ms": dt, "T": next(int(r["network.n_steps"]) for r in rows if float(r[DT]) == dt),
                    "seeds": len(done), "of": total, "accs": accs,
                    "mean": statistics.fmean(accs) if accs else math.nan,
                    "sd": statistics.stdev(accs) if len(accs) > 1 else math.nan,
                    "worst": min(accs) if accs else math.nan,
                    "spikes": mean("app.spike_packets_per_sample"),
                    "errors": mean("app.error_packets_per_sample"),
                    "ticks": mean("app.ticks_per_batch"),
                    "slowest_us": mean("latency.timestep_ns.max") / 1e3,
                    "energy_uj": mean("energy.per_sample_j") * 1e6})
    return out


def table(out: Path) -> str:
    if not is_sweep_dir(out):
        raise SystemExit(f"{out}: not a sweep directory (run `python benchmarks/dt_eventprop.py run` first)")
    rows = collect_rows(load_sweep(out), out)
    lines = ["| dt ms | T | test acc mean ± sd | worst seed | seeds done | spikes/sample | "
             "error events/sample | ticks/batch | slowest tick µs | tick µs | real time | energy/sample µJ |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in dt_rows(rows):
        tick_us = r["dt_ms"] * 1e3
        if not r["seeds"]:
            lines.append(f"| {r['dt_ms']:g} | {r['T']} | not run | | 0/{r['of']} | | | | | {tick_us:.0f} | | |")
            continue
        realtime = "yes" if r["slowest_us"] <= tick_us else "no"
        lines.append(
            f"| {r['dt_ms']:g} | {r['T']} | {100 * r['mean']:.1f} ± {100 * r['sd']:.1f} % | "
            f"{100 * r['worst']:.1f} % | {r['seeds']}/{r['of']} | {r['spikes']:.1f} | {r['errors']:.1f} | "
            f"{r['ticks']:.0f} | {r['slowest_us']:.0f} | {tick_us:.0f} | {realtime} | {r['energy_uj']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["run", "table"])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="sweep directory")
    ap.add_argument("--dts", type=float, nargs="+", default=None, help="run only these time steps [ms]")
    a = ap.parse_args()
    if a.command == "run":
        run(a.out, a.dts)
    print(table(a.out))


if __name__ == "__main__":
    main()
