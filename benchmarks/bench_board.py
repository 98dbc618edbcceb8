"""Board-scale LIF: build time, steps/s, packet deliveries/s, wall time per delivery and peak RSS.

    python benchmarks/bench_board.py [--ticks 50] [--only board|bench18k] [--kernels counted,fast]

Each kernel runs in the same process, one after the other, after one untimed tick (the counted
kernel loads its compiled loop then); ``cpu_steps_s`` is steps per CPU-second (``process_time``).

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


def measure(name: str, ticks: int, kernel: str | None = None) -> dict:
    import os

    from firmware_models.lif_inference.app import load_and_place

    if kernel:
        os.environ["S2SIM_KERNEL"] = kernel
    file, sets = WORKLOADS[name]
    t0 = time.perf_counter()
    ctx, sim, built, _ = load_and_place(REPO / "networks" / file, sets, record=False)
    net = built.net
    t1 = time.perf_counter()
    sim.run_ticks(1)  # untimed: the counted kernel loads its compiled loop here
    delivered = sim.machine.counters.deliveries
    c2, t2 = time.process_time(), time.perf_counter()
    sim.run_ticks(ticks)
    c3, t3 = time.process_time(), time.perf_counter()
    delivered = sim.machine.counters.deliveries - delivered
    return {"workload": name, "kernel": sim.machine.kernel, "pes": len(built.slices), "neurons": sum(net.layers),
            "synapses": built.n_synapses, "build_s": t1 - t0, "run_s": t3 - t2,
            "steps_s": ticks / (t3 - t2), "cpu_steps_s": ticks / (c3 - c2), "deliveries": delivered,
            "us_per_delivery": 1e6 * (t3 - t2) / max(1, delivered),
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=50)
    ap.add_argument("--only", choices=sorted(WORKLOADS))
    ap.add_argument("--kernels", default="counted,fast", help="comma-separated simulation kernels, timed in one process")
    ap.add_argument("--json", action="store_true", help="print JSON rows (used per subprocess)")
    args = ap.parse_args()
    if args.json:
        for kernel in args.kernels.split(","):
            print(json.dumps(measure(args.only, args.ticks, kernel)))
        return
    from rich.console import Console
    from rich.table import Table
    table = Table(title=f"board-scale LIF, {args.ticks} ticks, one process per row")
    cols = ("workload", "kernel", "pes", "neurons", "synapses", "build_s", "steps_s", "cpu_steps_s", "deliveries",
            "us_per_delivery", "rss_mib")
    for col in cols:
        table.add_column(col, justify="right")
    for name in ([args.only] if args.only else WORKLOADS):
        out = subprocess.run([sys.executable, __file__, "--json", "--only", name, "--ticks", str(args.ticks),
                              "--kernels", args.kernels], check=True, capture_output=True, text=True).stdout
        for line in out.strip().splitlines():
            if not line.startswith("{"):
                continue
            row = json.loads(line)
            table.add_row(*(f"{row[c]:,.2f}" if isinstance(row[c], float) else f"{row[c]:,}"
                            if isinstance(row[c], int) else str(row[c]) for c in cols))
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
