"""Group numerics on and off, side by side in one run: EventProp yinyang on the chip engine (per
batch of 22, with the float32 reference's time per batch for the ratio), gsc e-prop training on the
chip engine (12 PEs, per sample), lif_bench (12 PEs, 200 ticks, burst) and the 152-PE lif shape of
bench_kernel.py (20 ticks, burst).

Modes are interleaved rep by rep and reported as median and min wall time, so a busy machine
hurts both alike; the two modes give bit-identical results (tests/firmware_models/test_group_numerics.py).

    python benchmarks/bench_group_numerics.py [--reps 5] [--batches 3]

Run it from another checkout (PYTHONPATH=<old tree> python <this file>) to compare commits: code
without group numerics ignores the switch, so both columns then measure that code.
"""
from __future__ import annotations

import argparse
import inspect
import statistics
import time
from pathlib import Path

import numpy as np

from firmware_models.eprop import reference as eprop_reference
from firmware_models.eprop.app import ChipNetwork as EpropNetwork
from firmware_models.eprop.mapping import EpropMapping
from firmware_models.eprop.params import EpropParams
from firmware_models.eventprop import reference as R
from firmware_models.eventprop.app import ChipNetwork
from firmware_models.eventprop.mapping import EventpropMapping
from firmware_models.eventprop.params import EventpropParams
from firmware_models.lif_inference.app import load_and_place
from s2sim.config import load_arch
from s2sim.data.yinyang import to_raster
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation

REPO = Path(__file__).resolve().parents[1]
#: code from before group numerics has no switch: then both columns measure that code
SWITCH = "grouped" in inspect.signature(ChipNetwork).parameters
EPROP_SWITCH = "grouped" in inspect.signature(EpropNetwork).parameters
LIF_152 = ["network.layers=[1024,3072,3072,2560]", "mapping.neurons_per_pe=64", "network.p_connect=0.03"]


def eventprop_s_per_batch(grouped: bool, batches: int) -> float:
    hw = HwParams.from_arch(load_arch("spinnaker2"))
    p = EventpropParams()
    times, y = R.load_data(p)["train"]
    chip = ChipNetwork(Simulation(hw), p, EventpropMapping(), R.init_weights(p, 42),
                       **({"grouped": grouped} if SWITCH else {}))
    chip.run_batch(times[:22], y[:22])  # warm-up
    t0 = time.perf_counter()
    for k in range(1, batches + 1):
        chip.run_batch(times[k * 22:(k + 1) * 22], y[k * 22:(k + 1) * 22])
    return (time.perf_counter() - t0) / batches


def gsc_s_per_sample(grouped: bool, samples: int) -> float:
    """gsc (80-120-12, T = 100) e-prop training on 12 PEs, random input: wall s per sample."""
    p = EpropParams()
    rng = np.random.default_rng(0)
    w0 = eprop_reference.init_weights(p, rng)
    X = (rng.standard_normal((samples + 1, p.n_steps, p.n_in)) * 4).astype(np.float32)
    Y = rng.integers(0, p.n_out, samples + 1)
    chip = EpropNetwork(Simulation(HwParams.from_arch(load_arch("spinnaker2"))), p, EpropMapping(pes=12), w0,
                        **({"grouped": grouped} if EPROP_SWITCH else {}))
    chip.run_samples(X[:1], Y[:1], train=True)  # warm-up
    t0 = time.perf_counter()
    chip.run_samples(X[1:], Y[1:], train=True)
    return (time.perf_counter() - t0) / samples


def eventprop_reference_s_per_batch(batches: int) -> float:
    p = EventpropParams()
    times, y = R.load_data(p)["train"]
    w = R.init_weights(p, 42)
    opt = R.Adam(w, p.lr, p.weight_decay)
    t0 = time.perf_counter()
    for k in range(1, batches + 1):
        s_in = to_raster(times[k * 22:(k + 1) * 22], p.n_steps).astype(np.float32)
        _, _, g = R.loss_and_grads(w, s_in, y[k * 22:(k + 1) * 22], p)
        opt.step(w, [x / np.float32(22) for x in g])
    return (time.perf_counter() - t0) / batches


def lif_s(grouped: bool, ticks: int, sets: list[str]) -> float:
    switch = [f"firmware.params.group_numerics={grouped}"] if SWITCH else []
    _, sim, _, _ = load_and_place(REPO / "networks" / "lif_bench.yaml", ["run.simulator.noc_fidelity=burst"] + switch + sets,
                                  record=False)
    t0 = time.perf_counter()
    sim.run_ticks(ticks)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--batches", type=int, default=3)
    args = ap.parse_args()
    workloads = {
        "eventprop yinyang, s per batch of 22": lambda g: eventprop_s_per_batch(g, args.batches),
        "gsc e-prop 12 PEs, s per sample": lambda g: gsc_s_per_sample(g, 4),
        "lif_bench 12 PEs, 200 ticks burst, s": lambda g: lif_s(g, 200, []),
        "lif 152 PEs, 20 ticks burst, s": lambda g: lif_s(g, 20, LIF_152),
    }
    times: dict[tuple[str, bool], list[float]] = {(w, g): [] for w in workloads for g in (True, False)}
    ref = []
    for _ in range(args.reps):
        for name, run in workloads.items():
            for grouped in (True, False):
                times[(name, grouped)].append(run(grouped))
        ref.append(eventprop_reference_s_per_batch(args.batches))
    print(f"group numerics on vs off{'' if SWITCH else ' (this code has no switch: both columns are the same code)'}, "
          f"{args.reps} interleaved reps, wall s: median (min)")
    for name in workloads:
        on, off = times[(name, True)], times[(name, False)]
        print(f"  {name:40s} on {statistics.median(on):.4f} ({min(on):.4f})   off {statistics.median(off):.4f} "
              f"({min(off):.4f})   off/on {statistics.median(off) / statistics.median(on):.2f}")
    r = statistics.median(ref)
    on = statistics.median(times[("eventprop yinyang, s per batch of 22", True)])
    print(f"  eventprop reference, s per batch of 22      {r:.4f} ({min(ref):.4f});  chip (on) / reference "
          f"= {on / r:.1f}x")


if __name__ == "__main__":
    main()
