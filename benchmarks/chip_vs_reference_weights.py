"""How far the chip engine's trained weights are from ``--reference-training``'s, at shipped sizes.

Trains NETWORK for EPOCHS epochs twice with the same seed — on the chip model (every training sample
simulated) and with the vectorised reference — saves both weight sets (``--save-weights``) and prints
max |dW|, max |dW| / max |W| per weight array, and the wall time of each: the end-to-end view through the CLI.
Why the two end far apart (float32 roundings amplified by training; bit-identical in the chip's order) is
measured sample by sample in benchmarks/chip_vs_reference_divergence.py and explained in docs/fidelity.md.

Usage: python benchmarks/chip_vs_reference_weights.py fsdd gsc [--epochs 2]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def train(network: str, epochs: int, out: Path, reference: bool) -> tuple[dict[str, np.ndarray], float]:
    weights = out / ("reference.npz" if reference else "chip.npz")
    cmd = [sys.executable, "-m", "s2sim.cli", "run", str(ROOT / "networks" / f"{network}.yaml"), "--quiet", "--force",
           "--out", str(out / ("ref" if reference else "chip")), "--set", f"training.epochs={epochs}",
           "--save-weights", str(weights)] + (["--reference-training"] if reference else [])
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    with np.load(weights) as z:
        return {k: z[k] for k in z.files}, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("networks", nargs="+")
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()
    for network in args.networks:
        with tempfile.TemporaryDirectory() as tmp:
            chip, t_chip = train(network, args.epochs, Path(tmp), reference=False)
            ref, t_ref = train(network, args.epochs, Path(tmp), reference=True)
        print(f"{network}, {args.epochs} epochs: chip {t_chip:.0f} s, reference {t_ref:.0f} s")
        for k in sorted(ref):
            d = float(np.abs(chip[k] - ref[k]).max())
            print(f"  {k:12s} max|dW| {d:.3g}  relative {d / max(float(np.abs(ref[k]).max()), 1e-30):.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
