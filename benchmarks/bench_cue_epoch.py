"""CPU time of a cue-accumulation training epoch: the chip engine on the ``counted`` and ``fast`` kernels
and the ``--fast`` reference, interleaved in one process (networks/cue_accumulation.yaml as shipped: 4 PEs,
2,250 steps + 1 learning tick per trial, batch 5, 200 training trials per epoch).

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_cue_epoch.py [--trials 10] [--rounds 2] [--record-timesteps 20000]

Each round trains ``--trials`` trials (a whole number of batches) from the seed-0 weights on each kernel and
with the reference, and prints the process CPU time per trial and scaled to an epoch of 200 trials, the
trained weights' digest (the two kernels must print the same) and how many ticks the counted kernel
counted. Timesteps are kept in detail up to ``run.record_timesteps``' default (20,000: 9 trials), as in
``s2sim run``; ``--record-timesteps 100`` measures the trials after that (an epoch's other 191). CPU time, not wall time: the machine may be shared. One unprinted trial per kernel first loads
numba's cached loops (once per process).
"""
from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np

from firmware_models.eprop_lif.app import ChipNetwork
from firmware_models.eprop_lif.mapping import CueMapping
from firmware_models.eprop_lif.params import CueEpropParams
from firmware_models.eprop_lif.training import ReferenceEngine, fresh_state
from s2sim.config import load_arch, load_network
from s2sim.data.cue import CueConfig, load_cue
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation

REPO = Path(__file__).resolve().parents[1]
EPOCH_TRIALS = 200
#: timesteps kept in detail, as ``s2sim run`` keeps them (``run.record_timesteps``' default): an epoch's
#: later trials only update the per-PE maximum
RECORD_TIMESTEPS = 20_000


def digest(weights: dict) -> str:
    return hashlib.sha256(b"".join(np.ascontiguousarray(w).tobytes() for _, w in sorted(weights.items()))).hexdigest()[:16]


def setup():
    spec = load_network(REPO / "networks" / "cue_accumulation.yaml").raw
    params = CueEpropParams(**spec["network"])
    ds = load_cue(CueConfig(**spec["dataset"]), 0)
    return spec, params, ds.splits["train"]


def chip_trials(kernel: str, trials: int, spec, params, train,
                record_timesteps: int = RECORD_TIMESTEPS) -> tuple[float, str, dict]:
    """CPU seconds per chip-engine training trial on ``kernel``, the weights' digest, the kernel report."""
    start = fresh_state(params, 0)
    sim = Simulation(HwParams.from_arch(load_arch("spinnaker2")), kernel=kernel, record_timesteps=record_timesteps)
    chip = ChipNetwork(sim, params, CueMapping(**(spec.get("mapping") or {})), start.weights, 1e6)
    chip.set_adam(start.adam)
    t0 = time.process_time()
    for b in range(0, trials, params.batch):  # as training.py: one call per batch
        chip.run_trials(train.X[b:b + params.batch], train.y[b:b + params.batch], train=True)
    cpu_s = (time.process_time() - t0) / trials
    return cpu_s, digest(chip.weights()), sim.machine.kernel_report()


def reference_trials(trials: int, params, train) -> float:
    """CPU seconds per trial of the ``--fast`` reference (one ``train_batch`` per batch)."""
    start = fresh_state(params, 0)
    engine = ReferenceEngine(params, start.weights, start.adam)
    t0 = time.process_time()
    for b in range(0, trials, params.batch):
        engine.train_batch(train.X[b:b + params.batch], train.y[b:b + params.batch])
    return (time.process_time() - t0) / trials


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10, help="trials per measurement (a multiple of the batch, 5)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--record-timesteps", type=int, default=RECORD_TIMESTEPS,
                    help="timesteps kept in detail (run.record_timesteps; a small value: an epoch's later trials)")
    a = ap.parse_args()
    spec, params, train = setup()
    if a.trials % params.batch:
        ap.error(f"--trials must be a multiple of the batch ({params.batch})")
    for kernel in ("counted", "fast"):  # warm-up: numba's cached loops, once per process
        chip_trials(kernel, 1, spec, params, train)
    reference_trials(params.batch, params, train)
    for r in range(a.rounds):
        rows = {}
        for kernel in ("counted", "fast"):
            cpu_s, dig, report = chip_trials(kernel, a.trials, spec, params, train, a.record_timesteps)
            rows[kernel] = cpu_s
            ticks = report.get("counted_ticks", {})
            print(f"round {r}: chip {kernel:7s} {cpu_s:6.3f} s CPU per trial, epoch of {EPOCH_TRIALS} "
                  f"{cpu_s * EPOCH_TRIALS:6.1f} s; weights {dig}; ticks {ticks}", flush=True)
        ref = reference_trials(a.trials, params, train)
        print(f"round {r}: --fast reference {ref:6.3f} s CPU per trial, epoch {ref * EPOCH_TRIALS:6.1f} s; "
              f"counted / fast {rows['counted'] / rows['fast']:.2f}, counted / reference {rows['counted'] / ref:.1f}, "
              f"fast / reference {rows['fast'] / ref:.1f}", flush=True)


if __name__ == "__main__":
    main()
