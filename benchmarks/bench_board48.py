"""The 48-chip board at lif_chip's density (networks/lif_board48.yaml): build time, ticks per
CPU-second and peak RSS on the event-driven kernel, one process (or MPI ranks: ``--ranks``).

    python benchmarks/bench_board48.py [--ticks 3] [--chips 48|4|2] [--ranks N]

``--chips 4`` (2 x 2) or ``--chips 2`` (2 x 1) runs the same density on fewer chips (layers scaled by
chips / 48, ``p_connect`` scaled back so fan-in stays 4 and 24), for quick checks. CPU time is
``time.process_time`` of this process (the machine is shared: never compare wall time across runs);
``ticks_wall_s`` is the wall time of the ticks (with ranks, each rank's, waits included). The kernel
is the run's (``S2SIM_KERNEL=fast`` for the event-driven one, which MPI ranks run).
``--ranks N`` reruns this script under ``mpirun -n N`` (the board split over N processes,
s2sim/hw/board_mpi.py) and reports each rank's CPU per tick and RSS; the run's numbers are identical.
Results: benchmarks/BASELINES.md.
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
sys.path.insert(0, str(REPO))
NETWORK = REPO / "networks" / "lif_board48.yaml"
SHAPES = {48: (8, 6), 4: (2, 2), 2: (2, 1)}


def scaled_sets(chips: int) -> list[str]:
    """Overrides that shrink the 48-chip network to ``chips`` chips at the same density."""
    if chips == 48:
        return []
    x, y = SHAPES[chips]
    inputs, lif = 96000 * chips // 48, 576000 * chips // 48
    return [f"arch.board.chips_x={x}", f"arch.board.chips_y={y}", f"network.layers=[{inputs},{lif},{lif},{lif}]",
            f"network.p_connect={24 / lif!r}"]


def measure(chips: int, ticks: int) -> dict | None:
    from firmware_models.lif_inference.app import load_and_place
    from s2sim import mpi

    c0 = time.process_time()
    ctx, sim, built, _ = load_and_place(NETWORK, scaled_sets(chips), record=False)
    c1 = time.process_time()
    rss_built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    per_tick, wall = [], time.perf_counter()
    for _ in range(ticks):
        t = time.process_time()
        sim.run_ticks(1)
        per_tick.append(time.process_time() - t)
    wall = time.perf_counter() - wall
    rank_row = {"build_cpu_s": round(c1 - c0, 1), "tick_cpu_s": [round(t, 2) for t in per_tick],
                "ticks_cpu_s": round(sum(per_tick), 2), "ticks_wall_s": round(wall, 2),
                "ticks_per_cpu_s": round(ticks / sum(per_tick), 3), "rss_after_build_mib": round(rss_built),
                "rss_peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "windows": getattr(sim.machine, "windows", None), "booking": getattr(sim.machine, "booking", None)}
    sim.gather()
    comm = mpi.world()
    ranks = comm.gather(rank_row, root=0) if comm is not None else [rank_row]
    if not sim.is_root:
        return None
    machine = sim.machine
    load = machine.link_load()
    peak = max((max(t.values()) for t in load["per_tick"].values()), default=0)
    return {"chips": chips, "ticks": ticks, "pes": len(built.slices), "neurons": sum(built.net.layers),
            "synapses": built.n_synapses, "deliveries": machine.counters.deliveries,
            "spikes": machine.counters.total("packets_sent"), "link_crossings": load["crossings"],
            "peak_link_packets_per_tick": peak, "end_ns": sim.env.now, "ranks": ranks}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=3)
    ap.add_argument("--chips", type=int, default=48, choices=sorted(SHAPES))
    ap.add_argument("--ranks", type=int, default=1, help="run under mpirun with this many ranks")
    args = ap.parse_args()
    if args.ranks > 1:
        from s2sim.mpi import mpirun_command
        cmd = mpirun_command(args.ranks, [])[:-2] + [str(Path(__file__).resolve()), "--chips", str(args.chips),
                                                      "--ticks", str(args.ticks)]
        sys.exit(subprocess.call(cmd, cwd=REPO))
    row = measure(args.chips, args.ticks)
    if row is not None:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
