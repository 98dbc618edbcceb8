"""Measured agreement of s2sim with independent references (the numbers quoted in docs/fidelity.md).

Each check runs the chip simulation (per-core firmware on the simulated SpiNNaker2) and compares it
with something that does not share its code path:
  * e-prop: the spike raster and the weights after 3 online samples vs the float32 vectorised
    reference (spec eprop_gsc.md, stepwise engine);
  * EventProp: batch gradients and Adam-updated weights vs the float32 reference;
  * LIF: the spike rasters of lif_bench vs the vectorised numpy reference;
  * memory: the e-prop learning state of the 80-120-12 network vs the spec's byte count;
  * cycles: tools/tick_agreement.py (whole-tick firmware cycles vs compiled kernels).

Usage:  python benchmarks/fidelity.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tools")]

F32 = np.float32


def _hw():
    from s2sim.config import load_arch
    from s2sim.hw.params import HwParams
    return HwParams.from_arch(load_arch("spinnaker2"))


def eprop_chip_vs_reference() -> str:
    from firmware_models.eprop import reference as R
    from firmware_models.eprop.app import ChipNetwork
    from firmware_models.eprop.mapping import EpropMapping
    from firmware_models.eprop.params import EpropParams
    from s2sim.sim import Simulation

    p = EpropParams(n_steps=20)
    rng = np.random.default_rng(1)
    w0 = R.init_weights(p, rng)
    X = (rng.standard_normal((3, p.n_steps, p.n_in)) * 4).astype(F32)
    Y = rng.integers(0, p.n_out, 3)
    chip = ChipNetwork(Simulation(_hw()), p, EpropMapping(pes=12), {k: v.copy() for k, v in w0.items()})
    chip.group.record_raster = True
    chip.run_samples(X, Y, train=True, lr=0.01)
    r = R.run_sample(w0, X[0], int(Y[0]), p, train=True, engine="stepwise")
    same_raster = bool(np.array_equal(chip.group.rasters[0], r.z[0]))
    dws = []
    for starts in ([s.start for s in chip.slices], None):  # the readout added in the chip's order / one core's
        wr = {k: v.copy() for k, v in w0.items()}
        R.train_online(wr, R.Adam(wr, p), X, Y, p, 0, engine="stepwise", readout_starts=starts)
        dws.append(max(float(np.abs(chip.weights()[k] - wr[k]).max()) for k in wr))
    moved = min(float(np.abs(wr[k] - w0[k]).max()) for k in wr)
    return (f"e-prop chip vs reference (80-120-12, 12 PEs, 3 samples x 20 steps): raster identical = {same_raster}, "
            f"max |w_chip - w_ref| = {dws[0]:.1e} with the readout summed in the chip's order, {dws[1]:.1e} in one "
            f"core's (weights moved by >= {moved:.1e})")


def eventprop_chip_vs_reference() -> str:
    from firmware_models.eventprop import reference as R
    from firmware_models.eventprop.app import ChipNetwork
    from firmware_models.eventprop.mapping import EventpropMapping
    from firmware_models.eventprop.params import EventpropParams
    from s2sim.sim import Simulation

    rng = np.random.RandomState(2)
    sizes, T, B = [5, 9, 6, 2], 16, 5
    p = EventpropParams(layers=sizes, n_steps=T, t_min=1, decay="euler", loss="onchip", batch=B,
                        mu_s=[6.0] * 3, sigma_s=[3.0] * 3, lr=0.01)
    weights = R.init_weights(p, rng)
    times = rng.randint(0, T - 4, (B, sizes[0]))
    y = rng.randint(0, sizes[-1], B)
    chip = ChipNetwork(Simulation(_hw()), p, EventpropMapping(), [w.copy() for w in weights])
    chip.run_batch(times, y)
    s_in = np.zeros((B, T, sizes[0]), F32)
    s_in[np.arange(B)[:, None], times, np.arange(sizes[0])[None, :]] = 1
    _, _, rg = R.loss_and_grads([w.copy() for w in weights], s_in, y, p)
    rg = [g / F32(B) for g in rg]
    rel = max(float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)) for a, b in zip(chip.root.last_grads, rg))
    return f"EventProp chip vs reference (5-9-6-2, batch 5): max relative gradient difference = {rel:.1e}"


def lif_rasters_vs_reference() -> str:
    from firmware_models.lif_inference import reference
    from firmware_models.lif_inference.app import load_and_place, raster

    ctx, sim, built, fws = load_and_place(REPO / "networks" / "lif_bench.yaml")
    n = 100
    sim.run_ticks(n)
    ref = reference.simulate(built, n, ctx.spec.run.tick_ns)
    diff = sum(int((raster(built, fws, layer, n) != ref[layer]).sum()) for layer in range(len(built.net.layers)))
    total = sum(int(ref[layer].sum()) for layer in range(len(built.net.layers)))
    return f"lif_bench rasters vs numpy reference (100 ticks, {total} spikes): {diff} differing spike entries"


def eprop_memory() -> str:
    from firmware_models.eprop.mapping import EpropMapping, memory_report, plan
    from firmware_models.eprop.params import EpropParams

    got = {}
    for layout in ("paper", "lean", "closed_form"):
        p = EpropParams(memory_layout=layout)
        got[layout] = memory_report(p, plan(p, EpropMapping(pes=12), _hw()))["learning_state_bytes"]
    return ("e-prop learning state (80-120-12, 12 PEs): " + ", ".join(f"{k} {v:,} B" for k, v in got.items())
            + " (spec eprop_gsc.md §3.2: 695,040 / 599,040 / 503,040 B; paper: 680 KB)")


def cycles() -> str:
    import tick_agreement as ta
    rows = ta.all_rows()
    worst = max(rows, key=lambda r: abs(r.error))
    worst_total = max(ta.totals(rows), key=lambda r: abs(r.error))
    return (f"whole-tick cycles vs compiled kernels: worst phase {100 * worst.error:+.1f} % ({worst.workload}, "
            f"{worst.phase}), worst tick total {100 * worst_total.error:+.1f} % ({worst_total.workload})")


def main() -> int:
    for check in (eprop_chip_vs_reference, eventprop_chip_vs_reference, lif_rasters_vs_reference, eprop_memory, cycles):
        print(check())
    return 0


if __name__ == "__main__":
    sys.exit(main())
