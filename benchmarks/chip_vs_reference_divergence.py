"""Why the chip engine's trained weights leave ``--reference-training``'s: the divergence sample by sample.

Trains NETWORK (its shipped YAML, same seed, shuffle and lr schedule) with the chip engine (every sample
simulated by the firmware) and with three references, and after every training sample compares each
reference's weights with the chip's (max |dW| over w_in, w_rec, w_out):

* ``ordered``: the stepwise reference adding the readout in the chip's order (``readout_starts``: each PE's
  Σ_t over its neurons, then the root's Σ over PEs). Expected: 0 at every sample (bit-identical).
* ``stepwise``: the same recursions, readout summed over all neurons per step (one core's order).
* ``fast``: the factorized reference, what ``--reference-training`` runs.
* ``ulp``: ``ordered`` started from the initial weights each moved one ulp up or down (seeded), then computed
  in the chip's order: how training itself amplifies a rounding-sized difference (a finite-time Lyapunov
  exponent), with no engine difference at all. (One weight moved alone is rounded away: its effect on v is
  below v's own ulp.)

Printed per engine: the first sample that differs, the samples where max |dW| first passes 1e-6 / 1e-4 /
1e-2 / 1e-1, the first sample with a spike that differs from the chip's (the ordered reference's rasters,
bit-identical to the chip's, stand for them), the growth rate while all spikes are still the same (the slope of
ln max|dW| per sample up to that sample, and the samples per 10x), and the final max |dW| per array.
Results: benchmarks/BASELINES.md; the explanation: docs/fidelity.md.

Usage: python benchmarks/chip_vs_reference_divergence.py fsdd gsc [--epochs 2] [--n-train N]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from firmware_models.eprop import reference as R  # noqa: E402
from firmware_models.eprop import training as tr  # noqa: E402
from firmware_models.eprop.app import ChipEngine, ChipNetwork, _sections  # noqa: E402
from firmware_models.eprop.mapping import plan  # noqa: E402
from s2sim.config import load_network  # noqa: E402
from s2sim.data import load_dataset  # noqa: E402
from s2sim.hw.params import HwParams  # noqa: E402
from s2sim.sim import Simulation  # noqa: E402

THRESHOLDS = (1e-6, 1e-4, 1e-2, 1e-1)


class Recorder:
    """Wraps a training engine: one sample per call, the flattened weights after each (float32 rows)."""

    def __init__(self, inner, n_samples: int):
        self.inner, self.label, self.chunk = inner, inner.label, 1
        self.rows: np.ndarray | None = None
        self.n, self.n_samples = 0, n_samples

    def load(self, weights, adam):
        self.inner.load(weights, adam)

    def train_samples(self, X, y, lr):
        out = self.inner.train_samples(X, y, lr)
        w, _ = self.inner.state()
        flat = np.concatenate([w[k].ravel() for k in R.WEIGHT_KEYS])
        if self.rows is None:
            self.rows = np.empty((self.n_samples, flat.size), np.float32)
        self.rows[self.n] = flat
        self.n += 1
        return out

    def state(self):
        return self.inner.state()


class RasterKeeping(tr.ReferenceEngine):
    """The reference engine, keeping each sample's spike raster (packed) to find the first spike that differs."""

    def __init__(self, *args):
        super().__init__(*args)
        self.rasters: list[bytes] = []

    def train_samples(self, X, y, lr):
        losses, correct = np.zeros(len(X), np.float32), np.zeros(len(X), bool)
        for i in range(len(X)):
            r = R.run_sample(self.weights, X[i], int(y[i]), self.p, train=True, engine=self.engine,
                             readout_starts=self.readout_starts)
            self.adam.step(self.weights, r.grads(), lr)
            losses[i], correct[i] = r.loss[0], r.pred[0] == y[i]
            self.rasters.append(np.packbits(r.z[0]).tobytes())
        return losses, correct


def first_spike_difference(a: list[bytes], b: list[bytes]) -> int | None:
    """The first sample (1-based) whose spike raster differs, or None."""
    return next((i + 1 for i, (x, y) in enumerate(zip(a, b)) if x != y), None)


def setup(network: str, sets: list[str]):
    loaded = load_network(ROOT / "networks" / f"{network}.yaml", sets)
    params, mapping, fwp, dcfg, tcfg = _sections(loaded)
    tcfg = tcfg.model_copy(update={"checkpoint": False})
    ds = load_dataset(dcfg, loaded.spec.run.seed)
    return loaded, params, mapping, fwp, tcfg, ds


def run_engine(name: str, loaded, params, mapping, fwp, tcfg, ds) -> tuple[Recorder, float, list[int]]:
    seed = loaded.spec.run.seed
    start = tr.start_training(params, tcfg, ds, seed, None)
    n_total = len(ds.splits["train"]) * tcfg.epochs
    hw = HwParams.from_arch(loaded.arch)
    starts = [s.start for s in plan(start.params, mapping, hw)]  # the first neuron of each PE's slice
    if name == "chip":
        chip = ChipNetwork(Simulation(hw), start.params, mapping, start.weights, loaded.spec.run.tick_ns,
                           fwp.recurrent, fwp.group_numerics)
        engine = ChipEngine(chip, start.params)
    elif name == "fast":
        engine = RasterKeeping(start.params)
    elif name == "stepwise":
        engine = RasterKeeping(start.params, "stepwise")
    else:  # ordered, ulp
        engine = RasterKeeping(start.params, "stepwise", starts)
        if name == "ulp":  # every weight one ulp up or down (seeded): no engine difference, a rounding-sized nudge
            rng = np.random.default_rng(0)
            for w in start.weights.values():
                w[...] = np.nextafter(w, np.where(rng.random(w.shape) < 0.5, np.inf, -np.inf).astype(np.float32))
    rec = Recorder(engine, n_total)
    t0 = time.process_time()
    tr.train(start, rec, None)
    rec.rasters = getattr(engine, "rasters", None)
    rec.inner = None  # the chip model's per-tick records take far more memory than the weight rows kept here
    return rec, time.process_time() - t0, starts


def curve(chip: np.ndarray, other: np.ndarray) -> np.ndarray:
    return np.array([float(np.abs(chip[i] - other[i]).max()) for i in range(len(chip))])


def describe(d: np.ndarray, flip: int | None) -> str:
    """Threshold crossings, and the growth rate while every spike is still the same (before sample ``flip``)."""
    nz = np.flatnonzero(d)
    if not len(nz):
        return "bit-identical at every sample"
    parts = [f"first differs after sample {nz[0] + 1} ({d[nz[0]]:.2g})"]
    for th in THRESHOLDS:
        hit = np.flatnonzero(d > th)
        parts.append(f">{th:g} at {hit[0] + 1}" if len(hit) else f"never >{th:g}")
    end = (flip - 2) if flip else len(d) - 1  # the last sample with the same spikes everywhere
    if end > nz[0] and d[end] > 0:
        rate = (np.log(d[end]) - np.log(d[nz[0]])) / (end - nz[0])
        parts.append(f"same-spike growth {rate:.3f}/sample over samples {nz[0] + 1}-{end + 1}"
                     + (f" (x10 per {np.log(10) / rate:.0f} samples)" if rate > 0 else ""))
    return ", ".join(parts)


def per_array(chip_row: np.ndarray, row: np.ndarray, shapes: dict[str, tuple]) -> str:
    out, at = [], 0
    for k in R.WEIGHT_KEYS:
        n = int(np.prod(shapes[k]))
        d = np.abs(chip_row[at:at + n] - row[at:at + n]).max()
        out.append(f"{k} {d:.3g} ({d / max(np.abs(chip_row[at:at + n]).max(), 1e-30):.3g})")
        at += n
    return ", ".join(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("networks", nargs="+")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--n-train", type=int, default=None)
    ap.add_argument("--engines", default="ordered,stepwise,fast,ulp")
    ap.add_argument("--fsdd-path", default=str(ROOT.parent / "shared" / "datasets" / "fsdd"))
    args = ap.parse_args()
    for network in args.networks:
        sets = [f"training.epochs={args.epochs}"]
        if args.n_train:
            sets.append(f"dataset.n_train={args.n_train}")
        if network == "fsdd":
            sets.append(f"dataset.path={args.fsdd_path}")
        cfg = setup(network, sets)
        chip, cpu, starts = run_engine("chip", *cfg)
        shapes = {k: v.shape for k, v in R.init_weights(cfg[1], np.random.default_rng(0)).items()}
        print(f"{network}: {chip.n} training samples ({args.epochs} epochs), PE slices start at {starts}; "
              f"chip engine {cpu:.0f} s CPU", flush=True)
        ordered_rasters = None
        for name in args.engines.split(","):
            rec, cpu, _ = run_engine(name, *cfg)
            d = curve(chip.rows, rec.rows)
            first = None
            if name == "ordered":  # bit-identical to the chip: its rasters stand for the chip's
                ordered_rasters = rec.rasters if not d.any() else None
            elif ordered_rasters is not None:
                first = first_spike_difference(ordered_rasters, rec.rasters)
            print(f"  {name:9s} ({cpu:.0f} s CPU): {describe(d, first)}", flush=True)
            if first:
                print(f"            first spike that differs from the chip's: sample {first}"
                      + (f" (max|dW| {d[first - 2]:.2g} before it, {d[first - 1]:.2g} after)" if first > 1 else ""))
            marks = [m for m in (1, 10, 20, 50, 100, 150, 200, 300, 500, 1000, 2000) if m <= len(d)]
            print("            max|dW| after n samples: " + ", ".join(f"{m}: {d[m - 1]:.2g}" for m in marks)
                  + f", end ({len(d)}): {d[-1]:.2g}")
            print(f"            at the end: {per_array(chip.rows[-1], rec.rows[-1], shapes)}", flush=True)
            if name == "ulp":  # the nudge vs the unperturbed ordered run (which equals the chip's)
                print("            (ulp is compared with the chip run, which the ordered reference equals)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
