"""Time-step study, e-prop part: networks/studies/dt_eprop_fsdd.yaml (FSDD at frame hops that change T).

Usage: python benchmarks/dt_eprop_fsdd.py run   [--out DIR] [--steps 26 51 100] [--seeds 0] [--set KEY=VALUE ...]
       python benchmarks/dt_eprop_fsdd.py table [--out DIR] [--set KEY=VALUE ...]

``run`` = ``s2sim sweep networks/studies/dt_eprop_fsdd.yaml --workers 1`` with every seed of the
short T (long hops) first (benchmarks/dt_sweep.py); default directory traces/study-dt_eprop_fsdd.
``--set`` adds overrides to every point (e.g. ``--set training.epochs=1`` for the chip-side columns
only); ``table`` needs the same ``--set`` as the ``run`` it reads.
``table``: one row per hop: T, test accuracy (reference training) mean ± sd and worst seed, spikes per
sample (chip packets minus the 120 readout/error payload packets of a 12-PE training sample), slowest and
median tick at each end of the cycle bracket (nominal / low / high, docs/fidelity.md) vs the hop-long tick and whether
each end keeps real time, energy per sample.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from dt_sweep import accuracy_stats, accuracy_text, bracket_cells, group, mean, run_cheapest_first, sweep_rows

STUDY = Path(__file__).resolve().parents[1] / "networks" / "studies" / "dt_eprop_fsdd.yaml"
T_AXIS = "network.n_steps"
SAMPLE_RATE_HZ = 16_000
# per chip sample besides the spikes: 11 non-root PEs send 10 readout partials, the root 10 errors
PAYLOAD_PACKETS_PER_SAMPLE = 11 * 10 + 10


def table(out: Path, sets: list[str] | None = None) -> str:
    lines = ["| hop ms | T | test acc mean ± sd | worst seed | seeds done | spikes/sample | "
             "slowest tick µs nominal / low / high | median tick µs | tick µs | real time nominal / low / high | "
             "energy/sample mJ |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = sweep_rows(STUDY, out, sets)
    for T, done, planned in group(rows, T_AXIS):
        hop = next(int(r["dataset.hop_samples"]) for r in rows if float(r[T_AXIS]) == T)
        tick_us = 1e6 * hop / SAMPLE_RATE_HZ
        if not done:
            lines.append(f"| {1e3 * hop / SAMPLE_RATE_HZ:g} | {T:.0f} | not run | | 0/{planned} | | | | | | |")
            continue
        worst = accuracy_stats(done)[2]
        slowest, median, realtime = bracket_cells(done)
        spikes = mean(done, "traffic.packets", per="samples") - PAYLOAD_PACKETS_PER_SAMPLE
        lines.append(
            f"| {1e3 * hop / SAMPLE_RATE_HZ:g} | {T:.0f} | {accuracy_text(done)} | {worst:.1f} % | "
            f"{len(done)}/{planned} | {spikes:.0f} | {slowest} | {median} | {tick_us:.0f} | "
            f"{realtime} | {1e3 * mean(done, 'energy.per_sample_j'):.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["run", "table"])
    ap.add_argument("--out", type=Path, default=Path("traces") / "study-dt_eprop_fsdd", help="sweep directory")
    ap.add_argument("--steps", type=int, nargs="+", default=None, help="run only these T")
    ap.add_argument("--seeds", type=int, nargs="+", default=None, help="run only these seeds")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="override for every point (repeatable; table needs the run's)")
    a = ap.parse_args()
    if a.command == "run":
        run_cheapest_first(STUDY, a.out, cost=lambda axes: float(axes[T_AXIS]),
                           keep=lambda axes: (a.steps is None or int(axes[T_AXIS]) in a.steps)
                           and (a.seeds is None or int(axes["run.seed"]) in a.seeds), sets=a.sets)
    print(table(a.out, a.sets))


if __name__ == "__main__":
    main()
