"""Train the 80-120-10 ALIF network with online e-prop (reference fast path) on FSDD and report accuracy.

Usage: python benchmarks/train_fsdd.py [FSDD_PATH] [--epochs 8] [--seed 0] [--file-order]
       [--lr-init 0.01] [--lr-decay-every 2] [--input-scale none|batch_std] [--out DIR] [--resume DIR]

FSDD path: the argument, else $S2SIM_FSDD, else ../shared/datasets/fsdd relative to the repo root.
Official split (speaker index 0-4 -> test, 300; a seeded 10 % of the rest -> valid, 270; train 2,430).

The learning rule and all hyperparameters are the C code's (spec eprop_gsc.md §1.2, §2.4, §2.5: Adam
β1 0.9, β2 0.999, ε 1e-5, lr 0.01 ×0.3 every 2 epochs, one Adam step per sample, no input normalisation)
with ONE change: the train samples are shuffled every epoch (seeded), as tf2 does. FSDD's file order is
sorted by digit, so the C code's file-order online training sees ~240 samples of one class in a row and
forgets the rest (≈25 % test accuracy after 8 epochs; try ``--file-order``).
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from firmware_models.eprop.params import EpropParams  # noqa: E402
from firmware_models.eprop.training import TrainingConfig, export_weights, train_reference  # noqa: E402
from s2sim.data import load_dataset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", default=None, help="FSDD root or recordings/ folder")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--file-order", action="store_true", help="no shuffle (exactly the C code's loop)")
    ap.add_argument("--lr-init", type=float, default=None)
    ap.add_argument("--lr-decay-every", type=int, default=None)
    ap.add_argument("--input-scale", choices=["none", "batch_std"], default="none")
    ap.add_argument("--out", type=Path, default=None, help="write checkpoint.npz and weights.npz here")
    ap.add_argument("--resume", type=Path, default=None, help="continue from DIR/checkpoint.npz")
    args = ap.parse_args()

    path = args.path or os.environ.get("S2SIM_FSDD") or str(REPO.parent / "shared" / "datasets" / "fsdd")
    t_start = time.perf_counter()
    ds = load_dataset({"name": "fsdd", "path": path}, args.seed)
    t_data = time.perf_counter() - t_start
    print(f"{ds.summary()}  (features {t_data:.1f} s)", flush=True)

    params = EpropParams(n_out=ds.n_classes)
    tcfg = TrainingConfig(epochs=args.epochs, shuffle=not args.file_order, engine="reference",
                          lr_init=args.lr_init, lr_decay_every=args.lr_decay_every, input_scale=args.input_scale)
    print(f"network {params.n_in}-{params.n_rec}-{params.n_out} {params.neuron}; online Adam, "
          f"lr {tcfg.lr_init or params.lr_init} x{params.lr_decay} every "
          f"{tcfg.lr_decay_every or params.lr_decay_every} epochs; shuffle={tcfg.shuffle}; "
          f"input_scale={tcfg.input_scale}; seed {args.seed}", flush=True)

    def progress(label: str, total: int):
        print(f"{label}: {total} samples ...", file=sys.stderr, flush=True)
        return lambda n=1: None

    t_train = time.perf_counter()
    try:
        res = train_reference(params, tcfg, ds, args.seed, args.out, progress, resume_dir=args.resume)
    except KeyboardInterrupt:
        where = f"; continue with --resume {args.out}" if args.out is not None else ""
        sys.exit(f"interrupted{where}")
    train_s = time.perf_counter() - t_train
    print(f"{'epoch':>5} {'lr':>9} {'train_loss':>10} {'train_acc':>9} {'valid_acc':>9} {'test_acc':>8} {'wall_s':>7}")
    for h in res.history:
        print(f"{h['epoch']:5d} {h['lr']:9.2e} {h['train_loss']:10.4f} {h['train_accuracy']:9.4f} "
              f"{h['valid_accuracy']:9.4f} {h['test_accuracy']:8.4f} {h['wall_s']:7.1f}")
    final = res.history[-1]
    epoch_s = sum(h["wall_s"] for h in res.history)
    print(f"final test accuracy {final['test_accuracy']:.4f} (valid {final['valid_accuracy']:.4f}); "
          f"this invocation {train_s:.1f} s; epochs {epoch_s:.1f} s in all "
          f"({1e3 * epoch_s / max(res.adam.steps, 1):.2f} ms/sample incl. eval), "
          f"total wall {time.perf_counter() - t_start:.1f} s")
    if args.out is not None:
        print(f"weights: {export_weights(args.out / 'weights.npz', res.weights, res.input_scale)}")
    print("command: python " + " ".join(shlex.quote(a) for a in sys.argv))


if __name__ == "__main__":
    main()
