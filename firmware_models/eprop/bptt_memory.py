"""What BPTT would have to keep in SRAM (``network.memory_layout: bptt``): a memory-only run, no training.

The paper's discussion point: e-prop's learning state does not grow with the number of time steps T,
BPTT's does, because the backward pass needs the forward pass's history. This module sizes BPTT for the
same network and the same "divide synapses" mapping as e-prop and places it with the chip's own SRAM
allocator (one region per array, the same code/stack reservations), so the answer is an allocator
result, not a formula.

Per PE with ``n`` recurrent neurons, BPTT keeps what e-prop keeps for the forward pass and the optimiser
(W_in, W_rec, W_out, Adam m and v, neuron state, buffers), a gradient accumulator per synapse and per
readout weight instead of the eligibility traces, the backward adjoints (δv, δa) of its neurons, and
per time step t = 1..T:

* membrane ``v_t``, adaptation ``a_t`` (ALIF only) and surrogate derivative ``ψ_t`` of its own neurons
  (float32 each: the backward pass multiplies them);
* the spikes ``z_t`` of *all* recurrent neurons (every PE receives every spike; dL/dW_rec[i, j] sums
  δ_i,t z_j,t−1), packed one bit per neuron in 32-bit words.

Input frames x_t are not kept: they are in DRAM and can be DMA'd again for the backward pass.

The run places the network on the smallest PE count >= ``mapping.pes`` whose fullest PE fits (that is
"the PE count BPTT would need", reported as ``pes_used``) and runs one empty tick so the usual summary
(memory per PE and region from the allocator) is written.
"""
from __future__ import annotations

from s2sim.apps import AppResult, RunContext
from s2sim.runtime import Firmware

from .mapping import (EpropMapping, MappingError, Region, available_bytes, learning_bytes,
                      pe_regions, slices)
from .params import EpropParams

__all__ = ["bptt_regions", "history_bytes_per_step", "pes_needed", "run", "BpttMemoryCore"]

F32 = 4


def history_bytes_per_step(params: EpropParams, n: int) -> int:
    """Bytes one PE with ``n`` neurons adds for every time step BPTT must remember."""
    per_neuron = 3 if params.neuron == "alif" else 2  # v, (a), ψ
    return F32 * per_neuron * n + F32 * _words(params.n_rec)


def _words(bits: int) -> int:
    return -(-bits // 32)


def bptt_regions(params: EpropParams, n: int, root: bool = False) -> list[Region]:
    """Every SRAM region of a PE holding ``n`` recurrent neurons under BPTT (``learning`` = grows or learns)."""
    p, T = params, params.n_steps
    eprop = pe_regions(params.model_copy(update={"memory_layout": "paper"}), n, root)
    kept = [r for r in eprop if r.category in ("weights", "optimizer", "neuron_state", "buffers")]
    r: list[Region] = list(kept)

    def add(name, count, cat, learning=True):
        r.append(Region(name, F32 * int(count), cat, learning))

    add("grad_in", p.n_in * n, "gradients")
    add("grad_rec", p.n_rec * n, "gradients")
    add("grad_out", n * p.n_out, "gradients")
    add("adjoint_v", n, "adjoint", False)
    if p.neuron == "alif":
        add("adjoint_a", n, "adjoint", False)
        add("history_a", T * n, "history")
    add("history_v", T * n, "history")
    add("history_psi", T * n, "history")
    add("history_spikes", T * _words(p.n_rec), "history")
    return r


def _fits(params: EpropParams, pes: int, hw) -> bool:
    cap = available_bytes(hw)
    return all(sum(reg.nbytes for reg in bptt_regions(params, s.n, root=s.index == 0)) <= cap
               for s in slices(params, EpropMapping(pes=pes)))


def pes_needed(params: EpropParams, hw, start: int = 1) -> int | None:
    """Smallest PE count >= ``start`` whose every PE fits BPTT, or None if none up to the chip's PEs."""
    for pes in range(max(1, start), min(params.n_rec, hw.n_pes) + 1):
        if _fits(params, pes, hw):
            return pes
    return None


class BpttMemoryCore(Firmware):
    """Holds a PE's BPTT regions in SRAM; its tick does nothing (this model sizes memory, it does not train)."""

    def __init__(self, regions: list[Region], tick_ns: float):
        self.regions, self.tick_ns = regions, tick_ns

    def on_start(self, core) -> None:
        for reg in self.regions:
            core.sram.reserve(reg.name, reg.nbytes, reg.category)
        core.set_timer(self.tick_ns, 0.0)


def _placement(params: EpropParams, mapping: EpropMapping, hw) -> EpropMapping:
    pes = pes_needed(params, hw, mapping.pes)
    if pes is None or mapping.first_pe + pes > hw.n_pes:
        one = bptt_regions(params, 1)
        raise MappingError(
            f"BPTT with T={params.n_steps} does not fit on this chip: even one neuron per PE needs "
            f"{sum(r.nbytes for r in one)} B of {available_bytes(hw)} B, or more than the "
            f"{hw.n_pes - mapping.first_pe} PEs from PE {mapping.first_pe} are needed")
    return mapping.model_copy(update={"pes": pes})


def validate(params: EpropParams, mapping: EpropMapping, hw) -> int:
    """The PEs BPTT's memory needs (a MappingError when it does not fit)."""
    return _placement(params, mapping, hw).pes


def run(ctx: RunContext, params: EpropParams, mapping: EpropMapping) -> AppResult:
    """Place BPTT's regions with the SRAM allocator on the PEs it needs; one empty tick; no training."""
    placed = _placement(params, mapping, ctx.hw)
    sim = ctx.simulation()
    ctx.start_output()
    per_pe = []
    for s in slices(params, placed):
        regions = bptt_regions(params, s.n, root=s.index == 0)
        sim.load(s.pe, BpttMemoryCore(regions, ctx.spec.run.tick_ns))
        per_pe.append({"pe": s.pe, "neurons": [s.start, s.stop], "learning_state_bytes": learning_bytes(regions),
                       "history_bytes": sum(r.nbytes for r in regions if r.category == "history")})
    sim.run_ticks(1)
    eprop = [pe_regions(params.model_copy(update={"memory_layout": "paper"}), s.n, root=s.index == 0)
             for s in slices(params, mapping)]
    extra = {"layout": "bptt", "n_steps": params.n_steps, "pes_requested": mapping.pes, "pes_needed": placed.pes,
             "learning_state_bytes": sum(p["learning_state_bytes"] for p in per_pe),
             "history_bytes": sum(p["history_bytes"] for p in per_pe),
             "history_bytes_per_step": sum(history_bytes_per_step(params, s.n) for s in slices(params, placed)),
             "eprop_learning_state_bytes": sum(learning_bytes(r) for r in eprop),
             "memory_per_pe": per_pe}
    notes = [f"memory_layout bptt: a memory-only run (BPTT is sized and placed, not trained or timed); "
             f"it needs {placed.pes} PEs for T={params.n_steps}"]
    return AppResult(sim=sim, samples=1, timesteps=1, ticks_per_sample=1, extra=extra, notes=notes)
