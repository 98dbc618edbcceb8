"""EventProp yinyang training per batch (22 copies, 5-120-3, T=27, 89 PEs, 57 ticks): the chip engine on
the counted, fast and exact kernels vs the float32 reference (``reference.loss_and_grads`` and Adam, what
``--fast`` trains with).

One process, interleaved rounds, the best round of each. Times are the process's CPU time
(``time.process_time``): on a machine shared with other jobs, wall time mostly measures them. The
kernels must give the same per-tick work and the same weights: this checks both here too. Prints CPU
ms per batch, the ratio to the reference, the real-time factor (simulated 57 ms per batch over CPU
time) and how many ticks the counted kernel counted.

Usage: OPENBLAS_NUM_THREADS=1 python benchmarks/bench_eventprop.py [n_batches] [rounds] [kernels ...]
"""
from __future__ import annotations

import sys
import time

import numpy as np

from firmware_models.eventprop import reference as R
from firmware_models.eventprop.app import ChipNetwork
from firmware_models.eventprop.mapping import EventpropMapping
from firmware_models.eventprop.params import EventpropParams
from s2sim.config import load_arch
from s2sim.data.yinyang import to_raster
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation

CLOCK = time.process_time


def chip_seconds_per_batch(kernel: str, p: EventpropParams, w0: list, times, y, n: int):
    """(CPU s per batch, per-tick time done, final weights, kernel report) of ``n`` batches after a warm-up batch."""
    chip = ChipNetwork(Simulation(HwParams.from_arch(load_arch("spinnaker2")), kernel=kernel), p,
                       EventpropMapping(), [w.copy() for w in w0])
    B = p.batch
    chip.run_batch(times[:B], y[:B])  # warm-up (routes, caches, the compiled loop)
    t0 = CLOCK()
    for k in range(1, n + 1):
        chip.run_batch(times[k * B:(k + 1) * B], y[k * B:(k + 1) * B])
    cpu = (CLOCK() - t0) / n
    st = chip.sim.machine.stats
    return cpu, st.time_done_ns[:st.n_rows].copy(), [w.copy() for w in chip.weights], chip.sim.machine.kernel_report()


def reference_seconds_per_batch(p: EventpropParams, w0: list, times, y, n: int) -> float:
    w = [x.copy() for x in w0]
    opt = R.Adam(w, p.lr, p.weight_decay)
    B = p.batch
    t0 = CLOCK()
    for k in range(1, n + 1):
        s_in = to_raster(times[k * B:(k + 1) * B], p.n_steps).astype(np.float32)
        _, _, g = R.loss_and_grads(w, s_in, y[k * B:(k + 1) * B], p)
        opt.step(w, [x / np.float32(B) for x in g])
    return (CLOCK() - t0) / n


def main(n: int = 5, rounds: int = 3, kernels: tuple[str, ...] = ("counted", "fast")) -> dict:
    p = EventpropParams()
    times, y = R.load_data(p)["train"]
    w0 = R.init_weights(p, 42)
    best: dict[str, float] = {}
    first: dict[str, tuple] = {}
    report = None
    for _ in range(rounds):
        for kernel in kernels:
            cpu, done, weights, rep = chip_seconds_per_batch(kernel, p, w0, times, y, n)
            best[kernel] = min(best.get(kernel, np.inf), cpu)
            first.setdefault(kernel, (done, weights))
            if kernel == "counted":
                report = rep
        best["reference"] = min(best.get("reference", np.inf), reference_seconds_per_batch(p, w0, times, y, n))
    base_done, base_w = first[kernels[-1]]
    for kernel in kernels:  # every kernel: the same per-tick work and the same weights
        done, weights = first[kernel]
        assert np.array_equal(done, base_done), f"{kernel}: per-tick time done differs from {kernels[-1]}"
        assert all(np.array_equal(a, b) for a, b in zip(weights, base_w)), f"{kernel}: weights differ"
    ref = best["reference"]
    sim_s = (2 * p.n_steps + 3) * 1e-3
    print(f"EventProp yinyang, {p.batch} copies, {n} batches per round, best of {rounds} interleaved rounds (CPU time)")
    for kernel in kernels:
        print(f"  chip engine, {kernel:8s} kernel: {best[kernel] * 1e3:7.1f} ms per batch, "
              f"{best[kernel] / ref:5.1f}x the reference, real-time factor {sim_s / best[kernel]:.2f}")
    print(f"  reference (--fast):            {ref * 1e3:7.1f} ms per batch")
    if report is not None:
        print(f"  counted kernel: ticks {report['counted_ticks']}, fallbacks {report['counted_fallbacks']}")
    return {"cpu_s_per_batch": best, "ratios": {k: best[k] / ref for k in kernels}, "counted_report": report}


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 5, int(args[1]) if len(args) > 1 else 3,
         tuple(args[2:]) if len(args) > 2 else ("counted", "fast"))
