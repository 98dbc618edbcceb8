"""Cue accumulation (7 cues, 2,250 steps): e-prop LIF test accuracy over seeds with the --fast reference.

    OPENBLAS_NUM_THREADS=1 python benchmarks/train_cue.py --seeds 0 1 2 3 4 [--n-train 200] [--epochs 10]

Each seed draws its own data (spec §5.1 generator seeded by the run seed) and weights, exactly as
``s2sim run networks/cue_accumulation.yaml --fast --set run.seed=S`` does. Prints one row per seed
and the mean ± sd of the final-epoch test accuracy; ``--json`` keeps the per-epoch histories.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from firmware_models.eprop_lif.params import CueEpropParams
from firmware_models.eprop_lif.training import CueTrainingConfig, train_reference
from s2sim.data.cue import CueConfig, load_cue


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--n-train", type=int, default=200)
    ap.add_argument("--n-test", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=None, help="override network.lr (the repo: 1e-4)")
    ap.add_argument("--json", default=None, help="write per-seed histories here")
    a = ap.parse_args()
    params = CueEpropParams(**({"lr": a.lr} if a.lr else {}))
    tcfg = CueTrainingConfig(epochs=a.epochs, engine="reference")
    rows = []
    for seed in a.seeds:
        t0 = time.perf_counter()
        ds = load_cue(CueConfig(n_train=a.n_train, n_test=a.n_test), seed)
        res = train_reference(params, tcfg, ds, seed, on_epoch=lambda r, s=seed: print(
            f"  seed {s} epoch {r['epoch']}: train {r['train_accuracy']:.3f} test {r['test_accuracy']:.3f} "
            f"loss {r['train_loss']:.3f} ({r['wall_s']:.0f} s)", flush=True))
        h = res.history
        rows.append({"seed": seed, "test_accuracy": h[-1]["test_accuracy"],
                     "best_test_accuracy": max(r["test_accuracy"] for r in h),
                     "train_accuracy": h[-1]["train_accuracy"], "wall_s": time.perf_counter() - t0, "history": h})
        print(f"seed {seed}: test {h[-1]['test_accuracy']:.3f} (epochs: "
              + " ".join(f"{r['test_accuracy']:.2f}" for r in h) + f"), train {h[-1]['train_accuracy']:.3f}, "
              f"{rows[-1]['wall_s']:.0f} s", flush=True)
    acc = np.array([r["test_accuracy"] for r in rows])
    print(f"n_train {a.n_train}, lr {params.lr}, {a.epochs} epochs: final test accuracy "
          f"{acc.mean():.3f} ± {acc.std(ddof=1) if len(acc) > 1 else 0:.3f} (min {acc.min():.3f}) over {len(acc)} seeds")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"args": vars(a), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
