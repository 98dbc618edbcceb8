"""Time-step study, learning and cost part: networks/studies/dt_eventprop.yaml, cheapest dt first.

Usage: python benchmarks/dt_eventprop.py run   [--out DIR] [--dts 8 4 2 1 0.5] [--seeds 42] [--set KEY=VALUE ...]
       python benchmarks/dt_eventprop.py table [--out DIR] [--set KEY=VALUE ...]

``run`` is ``s2sim sweep networks/studies/dt_eventprop.yaml --workers 1`` with the points reordered
(benchmarks/dt_sweep.py): every seed of dt 8, 4, 2, 1, 0.5 ms first, then 0.25 and 0.1 ms (training
cost grows as 1/dt). Same point ids and directory (default traces/study-dt_eventprop):
``s2sim sweep ... --resume`` continues it and rewrites the outputs. ``--set`` adds overrides to every
point (e.g. ``--set training.epochs=1`` for the chip-side columns only: the slowest tick hardly depends
on the trained weights); ``table`` needs the same ``--set`` as the ``run`` it reads.

``table`` prints one row per dt: final-epoch test accuracy (reference training, 40 epochs) mean ± sd,
worst seed, the mean of each seed's best epoch, seeds finished; from the chip batch (means over the finished seeds) spikes and error
events per sample, ticks per batch, slowest and median tick at each end of the cycle bracket (nominal / low /
high, docs/fidelity.md) against the dt-long timer tick and whether each end keeps real time (every
tick's work within dt), energy per sample.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from dt_sweep import accuracy_stats, accuracy_text, bracket_cells, group, mean, run_cheapest_first, sweep_rows

STUDY = Path(__file__).resolve().parents[1] / "networks" / "studies" / "dt_eventprop.yaml"
DT = "network.dt_ms"


def table(out: Path, sets: list[str] | None = None) -> str:
    lines = ["| dt ms | T | test acc mean ± sd | worst seed | best epoch (mean) | seeds done | spikes/sample | "
             "error events/sample | ticks/batch | slowest tick µs nominal / low / high | median tick µs | tick µs | "
             "real time nominal / low / high | energy/sample µJ |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = sweep_rows(STUDY, out, sets)
    for dt, done, planned in group(rows, DT):
        T = next(int(r["network.n_steps"]) for r in rows if float(r[DT]) == dt)
        tick_us = dt * 1e3
        if not done:
            lines.append(f"| {dt:g} | {T} | not run | | | 0/{planned} | | | | | | {tick_us:.0f} | | |")
            continue
        worst = accuracy_stats(done)[2]
        slowest, median, realtime = bracket_cells(done)
        lines.append(
            f"| {dt:g} | {T} | {accuracy_text(done)} | {worst:.1f} % | "
            f"{100 * mean(done, 'learning.best_test_accuracy'):.1f} % | {len(done)}/{planned} | "
            f"{mean(done, 'app.spike_packets_per_sample'):.1f} | {mean(done, 'app.error_packets_per_sample'):.1f} | "
            f"{mean(done, 'app.ticks_per_batch'):.0f} | {slowest} | {median} | {tick_us:.0f} | {realtime} | "
            f"{1e6 * mean(done, 'energy.per_sample_j'):.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["run", "table"])
    ap.add_argument("--out", type=Path, default=Path("traces") / "study-dt_eventprop", help="sweep directory")
    ap.add_argument("--dts", type=float, nargs="+", default=None, help="run only these time steps [ms]")
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="run only these seeds")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="override for every point (repeatable; table needs the run's)")
    a = ap.parse_args()
    if a.command == "run":
        run_cheapest_first(STUDY, a.out, cost=lambda axes: 1.0 / float(axes[DT]),
                           keep=lambda axes: (a.dts is None or float(axes[DT]) in a.dts)
                           and (a.seeds is None or int(axes["run.seed"]) in a.seeds), sets=a.sets)
    print(table(a.out, a.sets))


if __name__ == "__main__":
    main()
