"""The 48-chip board at lif_chip's density (networks/lif_board48.yaml): build time, ticks per
CPU-second and peak RSS in one process (or MPI ranks: ``--ranks``), on the kernel ``--kernel`` names.

    python benchmarks/bench_board48.py [--ticks 3] [--chips 48|12|4|2] [--ranks N] [--kernel counted|fast|exact]
                                       [--window 64]

``--chips 12`` (4 x 3), ``--chips 4`` (2 x 2) or ``--chips 2`` (2 x 1) run the same density on fewer chips (layers scaled by
chips / 48, ``p_connect`` scaled back so fan-in stays 4 and 24), for quick checks. CPU time is
``time.process_time`` of this process (the machine is shared: never compare wall time across runs);
``ticks_wall_s`` is the wall time of the ticks (with ranks, each rank's, waits included). The kernel
is the run's (``S2SIM_KERNEL=fast`` for the event-driven one, which MPI ranks run).
``--ranks N`` reruns this script under ``mpirun -n N`` (the board split over N processes,
s2sim/hw/board_mpi.py) and reports each rank's CPU per tick and RSS; the run's numbers are identical
(MPI ranks run the event-driven kernel whatever ``--kernel`` says). ``--kernel`` (default ``counted``,
as ``$S2SIM_KERNEL``): the counted kernel runs windows of ticks, so ``--window`` ticks go into one call
after the first tick (its first window compiles nothing when numba's cache is warm, but pays the
model's build); per-tick CPU is then the call's CPU / its ticks.
Results: benchmarks/BASELINES.md.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
NETWORK = REPO / "networks" / "lif_board48.yaml"
SHAPES = {48: (8, 6), 12: (4, 3), 4: (2, 2), 2: (2, 1)}


def scaled_sets(chips: int) -> list[str]:
    """Overrides that shrink the 48-chip network to ``chips`` chips at the same density."""
    if chips == 48:
        return []
    x, y = SHAPES[chips]
    inputs, lif = 96000 * chips // 48, 576000 * chips // 48
    return [f"arch.board.chips_x={x}", f"arch.board.chips_y={y}", f"network.layers=[{inputs},{lif},{lif},{lif}]",
            f"network.p_connect={24 / lif!r}"]


def measure(chips: int, ticks: int, window: int) -> dict | None:
    from firmware_models.lif_inference.app import load_and_place
    from s2sim import mpi

    c0 = time.process_time()
    ctx, sim, built, _ = load_and_place(NETWORK, scaled_sets(chips), record=False)
    c1 = time.process_time()
    rss_built = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    per_tick, wall = [], time.perf_counter()
    done = 0
    while done < ticks:  # the first tick alone (the counted kernel builds its model in it), then windows
        step = 1 if done == 0 else min(window, ticks - done)
        t = time.process_time()
        sim.run_ticks(step)
        per_tick.extend([(time.process_time() - t) / step] * step)
        done += step
    wall = time.perf_counter() - wall
    rank_row = {"build_cpu_s": round(c1 - c0, 1), "tick_cpu_s": [round(t, 4) for t in per_tick],
                "ticks_cpu_s": round(sum(per_tick), 2), "ticks_wall_s": round(wall, 2),
                "ticks_per_cpu_s": round(ticks / sum(per_tick), 3),
                # after the first tick (the counted kernel builds its model in it)
                "later_ticks_per_cpu_s": round((ticks - 1) / sum(per_tick[1:]), 2) if ticks > 1 else None,
                "rss_after_build_mib": round(rss_built),
                "rss_peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "windows": getattr(sim.machine, "windows", None), "booking": getattr(sim.machine, "booking", None),
                "kernel": sim.machine.kernel, "counted": sim.machine.kernel_report() or None}
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
    ap.add_argument("--kernel", choices=("counted", "fast", "exact"), default="counted")
    ap.add_argument("--window", type=int, default=64, help="ticks per run_ticks call after the first")
    args = ap.parse_args()
    os.environ["S2SIM_KERNEL"] = args.kernel
    if args.ranks > 1:
        from s2sim.mpi import mpirun_command
        cmd = mpirun_command(args.ranks, [])[:-2] + [str(Path(__file__).resolve()), "--chips", str(args.chips),
                                                      "--ticks", str(args.ticks),
                                                      "--kernel", args.kernel, "--window", str(args.window)]
        sys.exit(subprocess.call(cmd, cwd=REPO))
    row = measure(args.chips, args.ticks, args.window)
    if row is not None:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
