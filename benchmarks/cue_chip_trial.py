"""CPU time of cue-accumulation chip-engine trials (networks/cue_accumulation.yaml as shipped: 4 PEs,
2,250 steps + 1 learning tick per trial), with group numerics on and off, and on with the numpy
statements instead of the compiled loop (``numpy``: ``S2SIM_JIT=0``).

    OPENBLAS_NUM_THREADS=1 python benchmarks/cue_chip_trial.py [--trials 2] [--modes on off numpy]

Builds the chip network from the shipped file's network section and seed-0 weights, trains ``--trials``
trials (Adam after each batch) and prints the process CPU time per trial for each mode, plus a digest
of the trained weights (the modes must print the same digest). CPU time, not wall time: the machine
may be shared. One unprinted trial first loads numba's cached loops (once per process, ~0.5 s).
"""
from __future__ import annotations

import argparse
import hashlib
import inspect
import os
import time
from pathlib import Path

import numpy as np

from firmware_models.eprop_lif.app import ChipNetwork
from firmware_models.eprop_lif.mapping import CueMapping
from firmware_models.eprop_lif.params import CueEpropParams
from firmware_models.eprop_lif.training import fresh_state
from s2sim.config import load_arch, load_network
from s2sim.data.cue import CueConfig, load_cue
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation

REPO = Path(__file__).resolve().parents[1]


def run_trials(grouped: bool, trials: int) -> tuple[float, str]:
    spec = load_network(REPO / "networks" / "cue_accumulation.yaml").raw
    params = CueEpropParams(**spec["network"])
    ds = load_cue(CueConfig(**{k: v for k, v in spec["dataset"].items()}), 0)
    hw = HwParams.from_arch(load_arch("spinnaker2"))
    sim = Simulation(hw)
    start = fresh_state(params, 0)
    extra = {"grouped": grouped} if "grouped" in inspect.signature(ChipNetwork).parameters else {}
    chip = ChipNetwork(sim, params, CueMapping(**(spec.get("mapping") or {})), start.weights, 1e6, **extra)
    chip.set_adam(start.adam)
    train = ds.splits["train"]
    t0 = time.process_time()
    chip.run_trials(train.X[:trials], train.y[:trials], train=True)
    cpu_s = (time.process_time() - t0) / trials
    digest = hashlib.sha256(b"".join(np.ascontiguousarray(w).tobytes()
                                     for _, w in sorted(chip.weights().items()))).hexdigest()[:16]
    return cpu_s, digest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=2)
    ap.add_argument("--modes", nargs="+", choices=["on", "off", "numpy"], default=["on", "off"])
    a = ap.parse_args()
    run_trials(True, 1)  # warm-up: numba loads the compiled loops once per process
    for mode in a.modes:
        os.environ["S2SIM_JIT"] = "0" if mode == "numpy" else "1"
        cpu_s, digest = run_trials(mode != "off", a.trials)
        print(f"group numerics {mode:3s}: {cpu_s:6.2f} s CPU per trial ({a.trials} trials), weights {digest}",
              flush=True)


if __name__ == "__main__":
    main()
