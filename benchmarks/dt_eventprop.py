"""Time-step study, learning and cost part, on the points of networks/studies/dt_eventprop.yaml.

Usage: python benchmarks/dt_eventprop.py [--epochs 40] [--seeds 42 43 44 45 46] [--dts 1 2 4 8]
       [--out DIR]

A stopgap until ``s2sim sweep networks/studies/dt_eventprop.yaml`` is on this branch: it reads the
study file's ``set`` and ``zip`` axes (so the points are the study's), runs ``s2sim run --quiet``
once per (dt, seed) point, one after the other, and prints a table: test accuracy mean ± sd over the
seeds, and from the chip batch of the first seed: spikes and error events per sample, ticks per
batch, slowest tick vs the dt-long timer tick (real time holds while it is below dt), energy per
sample. ``--epochs 0`` gives the cost columns at the initial weights in a few minutes.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "networks" / "studies" / "dt_eventprop.yaml"


def points(study: Path, dts: list[float] | None) -> list[list[str]]:
    """``--set`` lists of the study's zipped dt axis (the ``run.seed`` product is ours to choose)."""
    spec = yaml.safe_load(study.read_text())
    base = [f"{k}={json.dumps(v)}" for k, v in spec.get("set", {}).items()]
    zipped = spec["zip"]
    n = len(next(iter(zipped.values())))
    out = []
    for i in range(n):
        if dts is not None and zipped["network.dt_ms"][i] not in dts:
            continue
        out.append(base + [f"{k}={json.dumps(v[i])}" for k, v in zipped.items()])
    return out


def run_point(network: Path, sets: list[str], out: Path) -> dict:
    cmd = [sys.executable, "-m", "s2sim.cli", "run", str(network), "--quiet", "--out", str(out)]
    for s in sets:
        cmd += ["--set", s]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        return {"error": (res.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads((out / "summary.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44, 45, 46])
    ap.add_argument("--dts", type=float, nargs="+", default=None)
    ap.add_argument("--out", default=None, help="keep the run folders here (default: temporary)")
    a = ap.parse_args()
    network = (STUDY.parent / yaml.safe_load(STUDY.read_text())["network"]).resolve()
    root = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="dt_eventprop_"))
    print("| dt ms | T | test acc (mean ± sd) | seeds | spikes/sample | error events/sample | "
          "ticks/batch | slowest tick us | tick us | real time | energy/sample uJ |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for sets in points(STUDY, a.dts):
        dt = float(next(s for s in sets if s.startswith("network.dt_ms=")).split("=")[1])
        T = int(next(s for s in sets if s.startswith("network.n_steps=")).split("=")[1])
        accs, first = [], None
        for seed in a.seeds:
            d = root / f"dt{dt:g}_seed{seed}"
            summ = run_point(network, sets + [f"run.seed={seed}", f"training.epochs={a.epochs}"], d)
            if "error" in summ:
                print(f"| {dt:g} | {T} | error: {summ['error']} |")
                break
            accs.append(summ["learning"]["test_accuracy"])
            first = first or summ
        if first is None:
            continue
        app, lat = first["app"], first["latency"]["timestep_ns"]
        slow_us, tick_us = lat["max"] / 1e3, dt * 1e3
        acc = f"{100 * np.mean(accs):.1f} ± {100 * np.std(accs, ddof=1) if len(accs) > 1 else 0:.1f} %"
        print(f"| {dt:g} | {T} | {acc} | {len(accs)} | {app['spike_packets_per_sample']:.1f} | "
              f"{app['error_packets_per_sample']:.1f} | {app['ticks_per_batch']} | {slow_us:.0f} | "
              f"{tick_us:.0f} | {'yes' if slow_us <= tick_us else 'LOST'} | "
              f"{first['energy']['per_sample_j'] * 1e6:.2f} |", flush=True)


if __name__ == "__main__":
    main()
