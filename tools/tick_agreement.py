"""Whole-tick agreement: the cycles the firmware charges per phase vs the compiled kernels.

For one tick of each workload (the gsc e-prop PE slices, the Yin-Yang EventProp layer PEs, the
lif_bench PEs) this runs the real firmware on a simulation, reads the cycles it charged per phase,
and computes what the compiled C kernels (``firmware_models/<algo>/kernels``, analysed by
``tools/calibrate_kernels.py``) cost for the same loop bounds and the same data-dependent counts
(spikes received, neurons over threshold, own spikes, error packets), observed in that tick:

    kernel cycles = call overhead + sum over loops (iterations x cycles per iteration)
                    + conditional-block executions x extra cycles + calls x callee cycles

Only the phases the kernels cover are compared (dispatcher, packet send and DMA bookkeeping —
``irq``, ``comms``, ``input_dma``, ``dma_setup`` — are not kernels). The tick total is the sum of
the compared phases.

Usage:  python tools/tick_agreement.py   (prints the markdown table used in docs/fidelity.md)
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tools"), str(REPO)]

from calibrate_kernels import KERNELS, load_calibration  # noqa: E402

F32 = np.float32
SPECS = {k.name: k for k in KERNELS}


class CompiledCost:
    """Cycles of one call of a compiled kernel, from the calibration documents and the arch table
    (callee cycles: ``core_cycles.expf``/``logf`` and ``accelerators.exp_latency_cycles``)."""

    def __init__(self, hw):
        self.kernels = {name: e for doc in load_calibration().values() for name, e in doc["kernels"].items()}
        self.callee = {"expf": hw.core_cycles["expf"], "logf": hw.core_cycles["logf"],
                       "exp_accel": hw.exp_latency_cycles}

    def _calls(self, calls: dict[str, int]) -> float:
        return sum(n * self.callee[name] for name, n in calls.items())

    def __call__(self, name: str, events: int = 0, **counts: int) -> float:
        """One call of kernel ``name``; ``counts`` = iterations of each loop per entry of its parent
        loop (by the loop names in ``calibrate_kernels.KERNELS``); ``events`` = executions of the
        loops' conditional block (e.g. neurons over threshold)."""
        e, spec = self.kernels[name], SPECS[name]
        if set(counts) != set(spec.loops):
            raise ValueError(f"{name}: give counts for loops {spec.loops}, got {sorted(counts)}")
        total = e["call_overhead_cycles"] + self._calls(e["calls_per_call"])
        for loop in spec.loops:
            lp = e["loops"][loop]
            runs, parent = counts[loop], lp.get("parent")
            while parent:
                runs *= counts[parent]
                parent = e["loops"][parent].get("parent")
            total += runs * (lp["cycles_per_iteration"] + self._calls(lp["calls_per_iteration"]))
            total += events * lp.get("conditional_extra_cycles", 0.0)
        return total


@dataclass
class Row:
    workload: str
    pe: int
    tick: int
    phase: str
    firmware: float
    compiled: float
    counts: str = ""  # the data-dependent counts of this PE's tick

    @property
    def error(self) -> float:
        """Firmware relative to compiled code (negative: the firmware charges too little)."""
        return (self.firmware - self.compiled) / self.compiled


def _hw():
    from s2sim.config import load_arch
    from s2sim.hw.params import HwParams
    return HwParams.from_arch(load_arch("spinnaker2"))


def _phase(sim, row: int, pe: int, phase: str) -> float:
    arr = sim.machine.stats.phase_cycles.get(phase)
    return float(arr[row, pe]) if arr is not None else 0.0


# ---------------------------------------------------------------------------------------------------------
# workloads

def gsc_rows(layout: str = "paper", exp_impl: str = "software", tick: int = 2) -> list[Row]:
    """e-prop 80-120-12 on 12 PEs (networks/gsc.yaml), one training time step."""
    from firmware_models.eprop import reference as R
    from firmware_models.eprop.app import ChipNetwork
    from firmware_models.eprop.mapping import EpropMapping
    from firmware_models.eprop.params import EpropParams
    from s2sim.sim import Simulation

    hw = _hw()
    cost = CompiledCost(hw)
    p = EpropParams(n_steps=4, memory_layout=layout, exp_impl=exp_impl)
    rng = np.random.default_rng(1)
    w0 = R.init_weights(p, rng)
    x = (rng.standard_normal((1, p.n_steps, p.n_in)) * 4).astype(F32)
    chip = ChipNetwork(Simulation(hw), p, EpropMapping(pes=12), w0)
    chip.run_samples(x, np.array([3]), train=True, lr=0.01)
    m, n_out = p.n_in + p.n_rec, p.n_out
    surrogate = "eprop_surrogate_accel" if exp_impl == "accelerator" else "eprop_surrogate_expf"
    rows = []
    for s in chip.slices:
        n = s.stop - s.start
        eligibility = {"paper": cost("eprop_eligibility_paper", post=n, pre=m),
                       "lean": cost("eprop_eligibility_pre_post", post=n, pre=m) + cost("eprop_eps_v", pre=m),
                       "closed_form": cost("eprop_eligibility_closed_form", post=n, pre=m)
                       + cost("eprop_eps_v", pre=m)}[layout] + cost("eprop_autapse_zero", neuron=n)
        compiled = {"forward": cost("dense_mac", post=n, pre=m),
                    "neuron": cost("eprop_neuron_update", neuron=n),
                    "surrogate": cost(surrogate, neuron=n),
                    "eligibility": eligibility,
                    "readout": cost("eprop_readout", out=n_out, neuron=n)}
        name = f"gsc ({layout}, {exp_impl} exp)"
        rows += [Row(name, s.pe, tick, ph, _phase(chip.sim, tick, s.pe, ph), c, f"n = {n}")
                 for ph, c in compiled.items()]
    return rows


def yinyang_rows() -> list[Row]:
    """EventProp 5-120-3 (networks/yinyang.yaml, 2 batch copies): each layer PE of copy 0 at its busiest
    forward tick (most input spikes) and its busiest adjoint tick (most presynaptic spikes to revisit)."""
    from firmware_models.eventprop import reference as R
    from firmware_models.eventprop.app import ChipNetwork
    from firmware_models.eventprop.mapping import EventpropMapping
    from firmware_models.eventprop.params import EventpropParams
    from s2sim.config import load_network
    from s2sim.sim import Simulation

    hw = _hw()
    cost = CompiledCost(hw)
    net = dict(load_network(REPO / "networks" / "yinyang.yaml").raw["network"])
    net["batch"] = 2
    p = EventpropParams(**net)
    rng = np.random.RandomState(0)
    weights = R.init_weights(p, rng)
    times = rng.randint(p.t_min, p.n_steps - 8, (p.batch, p.layers[0]))
    chip = ChipNetwork(Simulation(hw), p, EventpropMapping(), weights)
    outs: dict[tuple, dict] = {}
    for g in chip.groups.values():  # keep what each layer's tick computed for its cores (any kernel)
        def compute(members, tick, _g=g, _compute=g.compute, **kwargs):
            _compute(members, tick, **kwargs)
            outs[(id(_g), tick)] = _g.out
        g.compute = compute
    chip.run_batch(times, np.array([0, 1]))
    st, T = chip.sim.machine.stats, p.n_steps
    rows = []
    for fw in (f for f in chip.layer_cores if f.copy == 0):
        pe, g, n = fw_pe(chip, fw), fw.g, fw.g.n
        name = f"yinyang layer {g.layer + 1} ({n} neurons)"
        t_fwd = max(range(1, T), key=lambda t: (int(st.packets_in[t, pe] + st.packets_out[t, pe]), t))
        received, fired = int(st.packets_in[t_fwd, pe]), int(st.packets_out[t_fwd, pe])
        compiled_fwd = received * cost("eventprop_receive_spike", post=n) \
            + cost("eventprop_forward_step", neuron=n, events=fired)
        rows.append(Row(name, pe, t_fwd, "forward", _phase(chip.sim, t_fwd, pe, "forward"), compiled_fwd,
                        f"{received} spikes in, {fired} fired"))
        backward = [t for t in range(T + 1, 2 * T) if (id(g), t) in outs]
        t_bwd = max(backward, key=lambda t: (int((outs[(id(g), t)]["in_copy"] == fw.copy).sum())
                                             + int((outs[(id(g), t)]["own_copy"] == fw.copy).sum())
                                             + int(st.packets_in[t, pe]), t))
        out = outs[(id(g), t_bwd)]
        n_own = int((out["own_copy"] == fw.copy).sum())
        n_ii = int((out["in_copy"] == fw.copy).sum())
        errors_in = int(st.packets_in[t_bwd, pe])
        compiled_bwd = (cost("eventprop_error_in", packet=errors_in) if errors_in else 0.0) \
            + cost("eventprop_adjoint_step", neuron=n) + cost("eventprop_adjoint_jump", spike=n_own) \
            + n_ii * cost("eventprop_grad_accumulate", post=n) \
            + (n_ii * cost("eventprop_error_out", post=n) if out["errs"] is not None else 0.0)
        rows.append(Row(name, pe, t_bwd, "backward", _phase(chip.sim, t_bwd, pe, "backward"), compiled_bwd,
                        f"{errors_in} errors in, {n_own} own spikes, {n_ii} input spikes"))
    return rows


def fw_pe(chip, fw) -> int:
    return next(pe for pe, core in chip.sim.cores.items() if core._pe.firmware is fw)


def lif_rows(tick: int = 15) -> list[Row]:
    """lif_bench (256-512-512-256, 128 neurons per PE): the PEs of layers 2 and 3 at one tick."""
    from firmware_models.lif_inference.app import load_and_place
    from firmware_models.lif_inference.firmware import LifCore

    ctx, sim, built, fws = load_and_place(REPO / "networks" / "lif_bench.yaml")
    sim.run_ticks(tick + 2)
    cost = CompiledCost(ctx.hw)
    rows = []
    for s in built.slices:
        fw = fws[s.pe]
        if s.layer < 2 or not isinstance(fw, LifCore):
            continue  # layer 1's sources are Poisson generators that keep no spike record
        received = [(src, i) for src, base in fw.row_base.items() for i in fws[src].spikes[tick]]
        if len(received) != int(sim.machine.stats.packets_in[tick, s.pe]):
            raise RuntimeError(f"PE {s.pe}: spikes sent to it in tick {tick} differ from the packets it got")
        synapses = sum(cost("event_add", synapse=int(fw.row_len[fw.row_base[src] + i])) for src, i in received)
        fired = len(fw.spikes[tick])
        name, counts = f"lif_bench layer {s.layer}", f"{len(received)} spikes in, {fired} fired"
        rows.append(Row(name, s.pe, tick, "synapses", _phase(sim, tick, s.pe, "synapses"), synapses, counts))
        rows.append(Row(name, s.pe, tick, "neuron", _phase(sim, tick, s.pe, "neuron"),
                        cost("lif_neuron_update", neuron=s.n, events=fired), counts))
    return rows


def totals(rows: list[Row]) -> list[Row]:
    """Per (workload, PE, tick): the tick total over the compared phases."""
    out: dict[tuple, Row] = {}
    for r in rows:
        t = out.setdefault((r.workload, r.pe, r.tick), Row(r.workload, r.pe, r.tick, "total", 0.0, 0.0, r.counts))
        t.firmware += r.firmware
        t.compiled += r.compiled
    return list(out.values())


def all_rows() -> list[Row]:
    return gsc_rows("paper") + gsc_rows("lean") + gsc_rows("closed_form", "accelerator") + yinyang_rows() + lif_rows()


def markdown(rows: list[Row]) -> str:
    lines = ["| workload | PE | tick | counts | phase | firmware cycles | compiled cycles | error |",
             "|---|---|---|---|---|---|---|---|"]
    seen = set()
    for r in rows:
        key = (r.workload, r.phase, r.counts, round(r.firmware, 3), round(r.compiled, 3))
        if key in seen:  # identical PE slices with identical counts: one row
            continue
        seen.add(key)
        lines.append(f"| {r.workload} | {r.pe} | {r.tick} | {r.counts} | {r.phase} | {r.firmware:,.0f} "
                     f"| {r.compiled:,.0f} | {100 * r.error:+.1f} % |")
    return "\n".join(lines)


def main() -> int:
    rows = all_rows()
    print(markdown(rows))
    print()
    print(markdown(totals(rows)))
    worst = max(rows, key=lambda r: abs(r.error))
    worst_total = max(totals(rows), key=lambda r: abs(r.error))
    print(f"\nworst phase {100 * worst.error:+.1f} % ({worst.workload}, {worst.phase}); "
          f"worst tick total {100 * worst_total.error:+.1f} % ({worst_total.workload}, PE {worst_total.pe})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
