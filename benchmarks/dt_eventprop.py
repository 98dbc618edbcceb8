"""Time-step study, learning and cost part: networks/studies/dt_eventprop.yaml, cheapest dt first.

Usage: python benchmarks/dt_eventprop.py run   [--out DIR] [--dts 8 4 2 1 0.5]
       python benchmarks/dt_eventprop.py table [--out DIR]

``run`` is ``s2sim sweep networks/studies/dt_eventprop.yaml --workers 1`` with the points reordered
(benchmarks/dt_sweep.py): every seed of dt 8, 4, 2, 1, 0.5 ms first, then 0.25 and 0.1 ms (training
cost grows as 1/dt). Same point ids and directory (default traces/study-dt_eventprop):
``s2sim sweep ... --resume`` continues it and rewrites the outputs.

``table`` prints one row per dt: final-epoch test accuracy (reference training, 40 epochs) mean ± sd,
worst seed, the mean of each seed's best epoch, seeds finished; from the chip batch (means over the finished seeds) spikes and error
events per sample, ticks per batch, slowest tick against the dt-long timer tick (real time holds
while it is at most dt), energy per sample.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from dt_sweep import accuracy_stats, accuracy_text, group, mean, run_cheapest_first, sweep_rows

STUDY = Path(__file__).resolve().parents[1] / "networks" / "studies" / "dt_eventprop.yaml"
DT = "network.dt_ms"


def table(out: Path) -> str:
    lines = ["| dt ms | T | test acc mean ± sd | worst seed | best epoch (mean) | seeds done | spikes/sample | "
             "error events/sample | ticks/batch | slowest tick µs | tick µs | real time | energy/sample µJ |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = sweep_rows(STUDY, out)
    for dt, done, planned in group(rows, DT):
        T = next(int(r["network.n_steps"]) for r in rows if float(r[DT]) == dt)
        tick_us = dt * 1e3
        if not done:
            lines.append(f"| {dt:g} | {T} | not run | | | 0/{planned} | | | | | {tick_us:.0f} | | |")
            continue
        worst = accuracy_stats(done)[2]
        slowest_us = mean(done, "latency.timestep_ns.max") / 1e3
        lines.append(
            f"| {dt:g} | {T} | {accuracy_text(done)} | {worst:.1f} % | "
            f"{100 * mean(done, 'learning.best_test_accuracy'):.1f} % | {len(done)}/{planned} | "
            f"{mean(done, 'app.spike_packets_per_sample'):.1f} | {mean(done, 'app.error_packets_per_sample'):.1f} | "
            f"{mean(done, 'app.ticks_per_batch'):.0f} | {slowest_us:.0f} | {tick_us:.0f} | "
            f"{'yes' if slowest_us <= tick_us else 'no'} | {1e6 * mean(done, 'energy.per_sample_j'):.2f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["run", "table"])
    ap.add_argument("--out", type=Path, default=Path("traces") / "study-dt_eventprop", help="sweep directory")
    ap.add_argument("--dts", type=float, nargs="+", default=None, help="run only these time steps [ms]")
    a = ap.parse_args()
    if a.command == "run":
        run_cheapest_first(STUDY, a.out, cost=lambda axes: 1.0 / float(axes[DT]),
                           keep=None if a.dts is None else lambda axes: float(axes[DT]) in a.dts)
    print(table(a.out))


if __name__ == "__main__":
    main()
