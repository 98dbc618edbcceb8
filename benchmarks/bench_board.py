"""Board-scale LIF: build time, steps/s, packet deliveries/s, wall time per delivery and peak RSS.

    python benchmarks/bench_board.py [--ticks 50] [--only board|bench18k]

Each workload runs in its own process so its peak RSS is its own:
* ``board``    networks/lif_chip.yaml: 152 PEs, 38,000 neurons, ~0.62 M synapses (sparse draw).
* ``bench18k`` lif_bench scaled to 18,432 neurons on 144 PEs with ~0.62 M synapses (dense draw:
  the same weights the benchmark's recipe gives), the network the speed issue measured.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

WORKLOADS = {
    "board": ("lif_chip.yaml", []),
    "bench18k": ("lif_bench.yaml", ["network.layers=[4608,4608,4608,4608]", "mapping.neurons_per_pe=128",
                                    "network.p_connect=0.00983"]),
}


def measure(name: str, ticks: int) -> dict:
    from firmware_models.lif_inference.app import load_and_place

    file, sets = WORKLOADS[name]
    t0 = time.perf_counter()
    ctx, sim, built, _ = load_and_place(REPO / "networks" / file, sets, record=False)
    net = built.net
    t1 = time.perf_counter()
    sim.run_ticks(ticks)
    t2 = time.perf_counter()
    return {"workload": name, "pes": len(built.slices), "neurons": sum(net.layers),
            "synapses": built.n_synapses, "build_s": t1 - t0, "run_s": t2 - t1,
            "steps_s": ticks / (t2 - t1), "deliveries": sim.machine.counters.deliveries,
            "us_per_delivery": 1e6 * (t2 - t1) / max(1, sim.machine.counters.deliveries),
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=50)
    ap.add_argument("--only", choices=sorted(WORKLOADS))
    ap.add_argument("--json", action="store_true", help="print one JSON row (used per subprocess)")
    args = ap.parse_args()
    if args.json:
        print(json.dumps(measure(args.only, args.ticks)))
        return
    from rich.console import Console
    from rich.table import Table
    table = Table(title=f"board-scale LIF, {args.ticks} ticks, one process per row")
    cols = ("workload", "pes", "neurons", "synapses", "build_s", "steps_s", "deliveries",
            "us_per_delivery", "rss_mib")
    for col in cols:
        table.add_column(col, justify="right")
    for name in ([args.only] if args.only else WORKLOADS):
        out = subprocess.run([sys.executable, __file__, "--json", "--only", name, "--ticks", str(args.ticks)],
                             check=True, capture_output=True, text=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        table.add_row(*(f"{row[c]:,.2f}" if isinstance(row[c], float) else f"{row[c]:,}" if isinstance(row[c], int)
                        else str(row[c]) for c in cols))
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
