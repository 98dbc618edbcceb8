"""Speed of the EventProp chip model: wall seconds per simulated training batch (22 copies, 5-120-3, T=27).

Prints wall s/batch, the real-time factor (simulated chip seconds / wall seconds; 1 ms tick,
2T+3 = 57 ticks per batch) and the ratio to the float32 reference's time per batch.
Usage: python benchmarks/bench_eventprop.py [n_batches]
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


def main(n: int = 10) -> dict:
    hw = HwParams.from_arch(load_arch("spinnaker2"))
    p = EventpropParams()
    times, y = R.load_data(p)["train"]
    w0 = R.init_weights(p, 42)
    chip = ChipNetwork(Simulation(hw), p, EventpropMapping(), [w.copy() for w in w0])
    chip.run_batch(times[:22], y[:22])  # warm-up
    t0 = time.perf_counter()
    for k in range(1, n + 1):
        chip.run_batch(times[k * 22:(k + 1) * 22], y[k * 22:(k + 1) * 22])
    wall = (time.perf_counter() - t0) / n
    sim_s = chip.K * 1e-3
    w = [x.copy() for x in w0]
    opt = R.Adam(w, p.lr, p.weight_decay)
    t0 = time.perf_counter()
    for k in range(1, n + 1):
        s_in = to_raster(times[k * 22:(k + 1) * 22], p.n_steps).astype(np.float32)
        _, _, g = R.loss_and_grads(w, s_in, y[k * 22:(k + 1) * 22], p)
        opt.step(w, [x / np.float32(22) for x in g])
    ref = (time.perf_counter() - t0) / n
    out = {"wall_s_per_batch": wall, "rtf": sim_s / wall, "ref_s_per_batch": ref, "ratio": wall / ref,
           "spike_packets_per_sample": chip.cnt.spike_packets / chip.samples_run,
           "error_packets_per_sample": chip.cnt.error_packets / chip.samples_run}
    print(f"chip model: {wall * 1e3:.1f} ms wall per batch of 22 ({chip.plan.n_pes} PEs, {chip.K} ticks); "
          f"real-time factor {out['rtf']:.2f} (simulated {sim_s * 1e3:.0f} ms per batch)")
    print(f"reference: {ref * 1e3:.1f} ms per batch; chip/reference = {out['ratio']:.1f}x")
    print(f"packets per sample: spikes {out['spike_packets_per_sample']:.1f}, "
          f"errors {out['error_packets_per_sample']:.1f}")
    return out


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
