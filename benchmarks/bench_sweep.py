#!/usr/bin/env python3
"""What the sweep machinery costs and gains: points/min serial vs N Dask workers, overhead per point.

    python benchmarks/bench_sweep.py [--points 8] [--ticks 100] [--workers 2]

The study is lif_bench with ``--points`` seeds (identical work per point). Three measurements:

* ``bare``: each point as a plain ``s2sim run NETWORK --set ... --quiet`` subprocess, one after the other
  (what a user does by hand; includes starting Python each time);
* ``serial``: ``s2sim.sweep.run_study(workers=1)`` (no Dask, every point in this process);
* ``dask``: ``run_study(workers=N)`` on a fresh LocalCluster (cluster start-up included).

Prints points/min of each, the speed-up dask/serial (target >= 1.7x with 2 workers on 2 cores) and the
per-point overhead of the sweep vs bare runs, (serial - bare) / bare (target <= 10 %; negative = the
sweep is cheaper because it does not start Python per point). Exit 1 when a target is missed.
Numbers on a shared machine are noisy: run it on an idle one for baselines.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def study(points: int, ticks: int) -> dict:
    return {"study": "bench", "network": str(ROOT / "networks" / "lif_bench.yaml"), "set": {"run.ticks": ticks},
            "product": {"run.seed": list(range(1, points + 1))}}


def bare(points: int, ticks: int, out: Path) -> float:
    t0 = time.perf_counter()
    for seed in range(1, points + 1):
        subprocess.run([sys.executable, "-m", "s2sim.cli", "run", str(ROOT / "networks" / "lif_bench.yaml"),
                        "--set", f"run.ticks={ticks}", "--set", f"run.seed={seed}", "--out", str(out / f"p{seed}"),
                        "--quiet"], check=True, cwd=ROOT)
    return time.perf_counter() - t0


def swept(points: int, ticks: int, out: Path, workers: int) -> float:
    from s2sim.sweep import run_study
    t0 = time.perf_counter()
    frame = run_study(study(points, ticks), out=out, workers=workers)
    wall = time.perf_counter() - t0
    assert (frame["status"] == "ok").all(), frame[["point", "status", "error"]]
    return wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=8)
    ap.add_argument("--ticks", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="s2sim-bench-sweep-") as tmp:
        tmp = Path(tmp)
        t_bare = bare(args.points, args.ticks, tmp / "bare")
        t_serial = swept(args.points, args.ticks, tmp / "serial", 1)
        t_dask = swept(args.points, args.ticks, tmp / "dask", args.workers)
    per_min = {k: 60 * args.points / v for k, v in (("bare", t_bare), ("serial", t_serial), ("dask", t_dask))}
    speedup = t_serial / t_dask
    overhead = (t_serial - t_bare) / t_bare
    print(f"lif_bench, {args.points} points x {args.ticks} ticks")
    for k, v in per_min.items():
        print(f"  {k:7s} {v:6.2f} points/min")
    print(f"  speed-up {args.workers} workers / serial: {speedup:.2f}x (target >= 1.7x)")
    print(f"  sweep overhead per point vs bare s2sim run: {overhead * 100:+.1f} % (target <= 10 %)")
    return 0 if speedup >= 1.7 and overhead <= 0.10 else 1


if __name__ == "__main__":
    sys.exit(main())
