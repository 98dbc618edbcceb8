"""Kernel speed: SimPy events/s, packet deliveries/s and timesteps/s of lif_bench at 1, 12 and 152
PEs in both NoC fidelities, printed as one table (all rows from one run of this script).

    python benchmarks/bench_kernel.py [--ticks 100]

Target (issue #2): >= 200,000 packet deliveries per second in ``burst`` fidelity at 152 PEs.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from firmware_models.lif_inference.app import place
from firmware_models.lif_inference.network import build
from firmware_models.lif_inference.params import LifMapping, LifNetwork
from s2sim.apps import RunContext
from s2sim.config import load_network
from s2sim.hw.params import HwParams

REPO = Path(__file__).resolve().parents[1]

#: (label, layers, neurons per PE): 1 PE runs a single LIF population fed by a local Poisson
#: source on the same chip (2 PEs, of which 1 LIF); 12 is the default lif_bench; 152 fills the chip.
SHAPES = {
    1: ([128, 256], 256, 0.1),
    12: ([256, 512, 512, 256], 128, 0.1),
    152: ([1024, 3072, 3072, 2560], 64, 0.03),  # sparser: 3072-neuron fan-in must fit in SRAM
}


def measure(n_pes: int, fidelity: str, ticks: int) -> dict:
    layers, npp, p_connect = SHAPES[n_pes]
    sets = [f"run.simulator.noc_fidelity={fidelity}", f"network.layers={layers}", f"mapping.neurons_per_pe={npp}",
            f"network.p_connect={p_connect}"]
    loaded = load_network(REPO / "networks" / "lif_bench.yaml", sets)
    ctx = RunContext(loaded=loaded, hw=HwParams.from_arch(loaded.arch), out_dir=None,
                     progress=lambda label, total: (lambda n=1: None))
    net, mapping = ctx.section(LifNetwork, "network"), ctx.section(LifMapping, "mapping")
    built = build(net, mapping, ctx.seed, ctx.hw.n_pes)
    sim = ctx.simulation()
    place(ctx, sim, built, record=False)
    t0 = time.perf_counter()
    sim.run_ticks(ticks)
    wall = time.perf_counter() - t0
    return {"pes": len(built.slices), "events_s": sim.env.events_scheduled / wall,
            "deliveries_s": sim.machine.counters.deliveries / wall, "timesteps_s": ticks / wall,
            "deliveries": sim.machine.counters.deliveries, "rtf": ticks * ctx.spec.run.tick_ns * 1e-9 / wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=100)
    args = ap.parse_args()
    table = Table(title=f"s2sim kernel speed, lif_bench, {args.ticks} ticks (one run)")
    for col in ("PEs (LIF+source)", "fidelity", "SimPy events/s", "deliveries/s", "timesteps/s",
                "deliveries", "real-time factor"):
        table.add_column(col, justify="right")
    for n in SHAPES:
        for fidelity in ("burst", "packet"):
            r = measure(n, fidelity, args.ticks)
            table.add_row(str(r["pes"]), fidelity, f"{r['events_s']:,.0f}", f"{r['deliveries_s']:,.0f}",
                          f"{r['timesteps_s']:,.1f}", f"{r['deliveries']:,}", f"{r['rtf']:.3f}")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
