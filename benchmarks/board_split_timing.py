"""lif_chip on one chip vs split 76 + 76 over two chips (and over a 5 us link): how much timing moves.

    python benchmarks/board_split_timing.py [--ticks 100]

Prints per layer the worst ``time_done`` on one chip, on two chips, the range of the per-(tick, PE)
difference, and whether the spikes are identical. Results: benchmarks/BASELINES.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

HALVES = ["arch.board.chips_x=2", "mapping.pes_per_chip=76"]


def run(sets: list[str], ticks: int):
    from firmware_models.lif_inference.app import load_and_place, raster
    _, sim, built, fws = load_and_place(REPO / "networks" / "lif_chip.yaml", sets)
    sim.run_ticks(ticks)
    rasters = [raster(built, fws, layer, ticks) for layer in range(len(built.net.layers))]
    return sim.machine.stats.time_done_ns[:ticks], built, rasters


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=100)
    ticks = ap.parse_args().ticks
    (d1, b1, r1), (d2, b2, r2) = run([], ticks), run(HALVES, ticks)
    d3, _, r3 = run(HALVES + ["arch.board.link_latency_ns=5000"], ticks)
    where = {s.index: s.pe for s in b2.slices}
    for layer in range(len(b1.net.layers)):
        sl = b1.slices_of(layer)
        one = np.stack([d1[:, s.pe] for s in sl], 1)
        two = np.stack([d2[:, where[s.index]] for s in sl], 1)
        slow = np.stack([d3[:, where[s.index]] for s in sl], 1)
        print(f"layer {layer}: worst done one chip {one.max():.1f} ns, two chips {two.max():.1f} ns, "
              f"per (tick, PE) {(two - one).min():+.1f} .. {(two - one).max():+.1f} ns; 5 us link: {slow.max():.1f} ns")
    print("spikes identical:", all(np.array_equal(a, b) for a, b in zip(r1, r2)),
          "(5 us link:", all(np.array_equal(a, b) for a, b in zip(r1, r3)), ")")


if __name__ == "__main__":
    main()
