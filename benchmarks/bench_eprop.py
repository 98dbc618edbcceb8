"""Speed of the e-prop chip model: wall seconds per simulated training sample (12 PEs, 80-120-12, T=100).

Prints wall s/sample, the real-time factor (simulated chip seconds / wall seconds; 1 ms tick, T+1 ticks per sample)
and the ratio to the float32 reference's time per training sample (stepwise and factorized engines).
Usage: python benchmarks/bench_eprop.py [n_samples]
"""
from __future__ import annotations

import sys
import time

import numpy as np

from firmware_models.eprop import reference as R
from firmware_models.eprop.app import ChipNetwork
from firmware_models.eprop.mapping import EpropMapping
from firmware_models.eprop.params import EpropParams
from s2sim.config import load_arch
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation


def main(n: int = 20) -> dict:
    hw = HwParams.from_arch(load_arch("spinnaker2"))
    p = EpropParams()
    rng = np.random.default_rng(0)
    w0 = R.init_weights(p, rng)
    X = (rng.standard_normal((n, p.n_steps, p.n_in)) * 4).astype(np.float32)
    Y = rng.integers(0, p.n_out, n)
    chip = ChipNetwork(Simulation(hw), p, EpropMapping(pes=12), {k: v.copy() for k, v in w0.items()})
    chip.run_samples(X[:1], Y[:1], train=True, lr=0.01)  # warm-up (routes, caches)
    t0 = time.perf_counter()
    chip.run_samples(X, Y, train=True, lr=0.01)
    wall = (time.perf_counter() - t0) / n
    sim_s = (p.n_steps + 1) * 1e-3
    ref = {}
    for engine in ("stepwise", "factorized"):
        w = {k: v.copy() for k, v in w0.items()}
        t0 = time.perf_counter()
        R.train_online(w, R.Adam(w, p), X, Y, p, 0, engine=engine)
        ref[engine] = (time.perf_counter() - t0) / n
    st = chip.sim.machine.stats
    out = {"wall_s_per_sample": wall, "rtf": sim_s / wall, "ref_stepwise_s": ref["stepwise"],
           "ref_factorized_s": ref["factorized"], "ratio_to_stepwise": wall / ref["stepwise"],
           "ratio_to_factorized": wall / ref["factorized"],
           "max_tick_work_us": float(st.time_done_ns[:st.n_rows].max() / 1e3),
           "late_packet_recomputes": chip.group.late_packet_recomputes}
    print(f"chip model: {wall * 1e3:.1f} ms wall per training sample (12 PEs, T={p.n_steps}); "
          f"real-time factor {out['rtf']:.2f} (simulated {sim_s * 1e3:.0f} ms per sample)")
    print(f"reference: stepwise {ref['stepwise'] * 1e3:.1f} ms, factorized {ref['factorized'] * 1e3:.1f} ms per "
          f"sample; chip/reference = {out['ratio_to_stepwise']:.1f}x / {out['ratio_to_factorized']:.1f}x")
    print(f"max per-tick work on a PE {out['max_tick_work_us']:.0f} us; late-packet recomputes "
          f"{out['late_packet_recomputes']}")
    return out


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
