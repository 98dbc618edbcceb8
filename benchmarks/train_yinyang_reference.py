"""Train the float32 EventProp reference on Yin-Yang (5-120-3, batch 22) and time it.

Usage: python benchmarks/train_yinyang_reference.py [--epochs 40] [--seed 42] [--decay euler]
       [--lr 0.0019] [--loss ce|onchip]

Prints per-epoch wall time, train loss/accuracy (seen while training) and
validation/test accuracy. Test = Kriener's split (1000 samples, seed 40); the
off-chip code's seed-43 test set is reported as well for comparison.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from firmware_models.eventprop import reference as R
from firmware_models.eventprop.params import EventpropParams
from s2sim.data.yinyang import latency_encode, yinyang


def main() -> None:
    """Parse options, train, print one line per epoch and a final summary."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--decay", choices=["euler", "exp"], default="euler")
    ap.add_argument("--lr", type=float, default=EventpropParams().lr)
    ap.add_argument("--loss", choices=["ce", "onchip"], default="ce")
    args = ap.parse_args()

    p = EventpropParams(epochs=args.epochs, decay=args.decay, lr=args.lr, loss=args.loss)
    data = R.load_data(p)
    X43, y43 = yinyang(1000, 43)
    test43 = (latency_encode(X43, p.n_steps, p.t_min), y43)
    weights = R.init_weights(p, args.seed)
    opt = R.Adam(weights, p.lr, p.weight_decay)
    rng = np.random.RandomState(args.seed)
    print(f"train samples {len(data['train'][1])} (exclude_ambiguous={p.exclude_ambiguous})")
    times = []
    for ep in range(p.epochs):
        t0 = time.perf_counter()
        loss, acc = R.train_epoch(weights, opt, *data["train"], p, rng)
        times.append(time.perf_counter() - t0)
        va, _ = R.evaluate(weights, *data["valid"], p)
        te, te_loss = R.evaluate(weights, *data["test"], p)
        print(f"epoch {ep + 1:2d} {times[-1]:6.2f}s train loss {loss:.4f} acc {acc:.4f} "
              f"valid {va:.4f} test {te:.4f} (loss {te_loss:.4f}) lr {opt.lr:.6f}", flush=True)
    te43, _ = R.evaluate(weights, *test43, p)
    print(f"mean epoch time {np.mean(times):.3f}s; final test acc (seed 40) {te:.4f}, "
          f"(seed 43) {te43:.4f}")


if __name__ == "__main__":
    main()
