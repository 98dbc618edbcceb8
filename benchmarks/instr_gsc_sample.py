"""Run ``n`` gsc e-prop training samples on the chip engine (80-120-12, 12 PEs): the workload for a
load-independent instruction count per sample.

Under ``valgrind --tool=cachegrind --cache-sim=no``, (instructions of a run of 4 samples - a run of
1) / 3 is the cost of one sample, without imports and set-up (benchmarks/BASELINES.md).

Usage: PYTHONHASHSEED=0 OPENBLAS_NUM_THREADS=1 valgrind --tool=cachegrind --cache-sim=no \
       python benchmarks/instr_gsc_sample.py N [fast|exact]
"""
from __future__ import annotations

import sys

import numpy as np

from firmware_models.eprop import reference as R
from firmware_models.eprop.app import ChipNetwork
from firmware_models.eprop.mapping import EpropMapping
from firmware_models.eprop.params import EpropParams
from s2sim.config import load_arch
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation


def main(n: int, kernel: str = "fast") -> None:
    p = EpropParams()
    rng = np.random.default_rng(0)
    w0 = R.init_weights(p, rng)
    X = (rng.standard_normal((n, p.n_steps, p.n_in)) * 4).astype(np.float32)
    Y = rng.integers(0, p.n_out, n)
    hw = HwParams.from_arch(load_arch("spinnaker2"))
    chip = ChipNetwork(Simulation(hw, kernel=kernel), p, EpropMapping(pes=12), w0)
    chip.run_samples(X, Y, train=True, lr=0.01)
    print(kernel, n, "samples, time_done sum", float(chip.sim.chip.stats.time_done_ns.sum()))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "fast")
