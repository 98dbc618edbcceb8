"""A fixed workload for a load-independent instruction count: ``gsc N`` runs N gsc e-prop training
samples on the chip engine (80-120-12, 12 PEs), ``lif N`` runs N ticks of lif_bench (12 PEs, burst).

Under valgrind, (instructions of a run of 4 samples - a run of 1) / 3 is the cost of one sample,
without imports and set-up (likewise ticks); benchmarks/BASELINES.md records the figures.

Usage: PYTHONHASHSEED=0 OPENBLAS_NUM_THREADS=1 valgrind --tool=cachegrind --cache-sim=no \
       python benchmarks/instr_workload.py {gsc|lif} N [fast|exact]
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from firmware_models.eprop import reference as R
from firmware_models.eprop.app import ChipNetwork
from firmware_models.eprop.mapping import EpropMapping
from firmware_models.eprop.params import EpropParams
from firmware_models.lif_inference.app import load_and_place
import s2sim
from s2sim.config import load_arch
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation

REPO = Path(s2sim.__file__).resolve().parents[1]  # the checkout whose s2sim runs


def gsc(n: int, kernel: str) -> float:
    p = EpropParams()
    rng = np.random.default_rng(0)
    w0 = R.init_weights(p, rng)
    X = (rng.standard_normal((n, p.n_steps, p.n_in)) * 4).astype(np.float32)
    Y = rng.integers(0, p.n_out, n)
    hw = HwParams.from_arch(load_arch("spinnaker2"))
    chip = ChipNetwork(Simulation(hw, kernel=kernel), p, EpropMapping(pes=12), w0)
    chip.run_samples(X, Y, train=True, lr=0.01)
    return float(chip.sim.machine.stats.time_done_ns.sum())


def lif(n: int, kernel: str) -> float:
    os.environ["S2SIM_KERNEL"] = kernel  # the chip reads it when the network is placed
    _, sim, _, _ = load_and_place(REPO / "networks" / "lif_bench.yaml", ["run.noc_fidelity=burst"], record=False)
    sim.run_ticks(n)
    return float(sim.machine.stats.time_done_ns.sum())


if __name__ == "__main__":
    workload, n = sys.argv[1], int(sys.argv[2])
    kernel = sys.argv[3] if len(sys.argv) > 3 else "fast"
    print(workload, n, kernel, "time_done sum", {"gsc": gsc, "lif": lif}[workload](n, kernel))
