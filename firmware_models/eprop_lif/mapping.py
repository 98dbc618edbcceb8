"""Placement of the cue-accumulation e-prop network: contiguous neuron slices, one PE each ("divide synapses").

PE k owns recurrent neurons [start, stop) with their whole fan-in (W_in, W_rec columns), their W_out rows,
and all eligibility, gradient and Adam state of those synapses. ``pe_arrays`` is the single list of the
arrays a core keeps: the firmware charges exactly these to its SRAM (``core.sram.alloc``, or ``adopt`` for
its row of the group numerics' stacked per-step state, the same bytes), and the host uses
the same list to check the fit before placing anything (naming the region that overflows and the
smallest PE count that fits). ``bptt_arrays`` is what BPTT would keep instead, from the same accounting.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from firmware_models.eprop.mapping import PeSlice, available_bytes, split_neurons
from s2sim.apps import AppError

from .params import CueEpropParams

#: Input frames per DMA (two-slot ring): one DMA setup per 50 ms of input.
INPUT_CHUNK_FRAMES = 50
CATEGORIES = ("weights", "optimizer", "eligibility", "neuron_state", "buffers", "history")


class CueMapping(BaseModel):
    """The ``mapping:`` section."""

    model_config = ConfigDict(extra="forbid")

    pes: int | None = Field(None, ge=1, description="PEs the neurons are divided over; null = the fewest that fit")
    first_pe: int = Field(0, ge=0)


@dataclass(frozen=True)
class ArraySpec:
    """One SRAM region: the array a core keeps (``learning`` = e-prop learning state)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    category: str
    learning: bool = False

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize


class MappingError(AppError):
    """The network does not fit the chosen mapping (names the PE, region and the smallest PE count)."""


def _common(p: CueEpropParams, n: int) -> list[ArraySpec]:
    """Weights and Adam state of a slice of ``n`` neurons (e-prop and BPTT alike)."""
    P, O = p.n_pre, p.n_out
    return [ArraySpec("w", (P, n), "float32", "weights", True),
            ArraySpec("w_out", (n, O), "float32", "weights", True),
            ArraySpec("adam_m", (P, n), "float32", "optimizer", True),
            ArraySpec("adam_v", (P, n), "float32", "optimizer", True),
            ArraySpec("adam_m_out", (n, O), "float32", "optimizer", True),
            ArraySpec("adam_v_out", (n, O), "float32", "optimizer", True),
            ArraySpec("adam_scalars", (4,), "float32", "optimizer"),  # step, β1^t, β2^t, lr
            ArraySpec("grad", (P, n), "float32", "eligibility", True),  # Σ over a batch
            ArraySpec("grad_out", (n, O), "float32", "eligibility", True)]


def _root(p: CueEpropParams, pes: int) -> list[ArraySpec]:
    return [ArraySpec("vo_parts", (pes, p.n_out), "float32", "buffers"),  # this step's partial outputs
            ArraySpec("y_sum", (p.n_out,), "float32", "buffers"),
            ArraySpec("label", (1,), "int64", "buffers")]


def pe_arrays(p: CueEpropParams, n: int, root: bool = False, pes: int = 1) -> list[ArraySpec]:
    """Every array a PE with ``n`` neurons keeps for online e-prop (in allocation order)."""
    P, O = p.n_pre, p.n_out
    out = _common(p, n) + [
        ArraySpec("ebar", (P, n), "float32", "eligibility", True),  # ē_ji, κ-filtered eligibility
        ArraySpec("eps", (P,), "float32", "eligibility", True),  # ε_i per presynaptic neuron (shared by all j)
        ArraySpec("zbar", (n,), "float32", "eligibility", True),
        ArraySpec("h", (n,), "float32", "neuron_state"),
        ArraySpec("v", (n,), "float32", "neuron_state"),
        ArraySpec("z", (n,), "uint8", "neuron_state"),
        ArraySpec("learning_signal", (n,), "float32", "neuron_state"),
        ArraySpec("vo_part", (O,), "float32", "neuron_state"),
        ArraySpec("x_ring", (2, INPUT_CHUNK_FRAMES, p.n_in), "uint8", "buffers"),
        ArraySpec("spike_buffers", (2, p.n_rec), "uint8", "buffers"),  # z of the next two steps
        ArraySpec("err", (O,), "float32", "buffers"),
    ]
    return out + (_root(p, pes) if root else [])


def bptt_arrays(p: CueEpropParams, n: int, root: bool = False, pes: int = 1) -> list[ArraySpec]:
    """What BPTT keeps instead: no eligibility, but the forward history of the whole trial for the backward
    pass: v[t] of own neurons (float32) and every presynaptic spike z_i[t], x_i[t] (bit-packed), t < T."""
    T, O = p.n_steps, p.n_out
    out = _common(p, n) + [
        ArraySpec("v_history", (T, n), "float32", "history", True),
        ArraySpec("pre_spike_history", (T, -(-p.n_pre // 8)), "uint8", "history", True),
        ArraySpec("readout_err_history", (p.learn_steps, O), "float32", "history", True),
        ArraySpec("delta", (n,), "float32", "neuron_state"),
        ArraySpec("v", (n,), "float32", "neuron_state"),
        ArraySpec("vo_part", (O,), "float32", "neuron_state"),
        ArraySpec("x_ring", (2, INPUT_CHUNK_FRAMES, p.n_in), "uint8", "buffers"),
        ArraySpec("spike_buffers", (2, p.n_rec), "uint8", "buffers"),
    ]
    return out + (_root(p, pes) if root else [])


def total_bytes(arrays: list[ArraySpec]) -> int:
    return sum(a.nbytes for a in arrays)


def slices(p: CueEpropParams, pes: int, first_pe: int = 0) -> list[PeSlice]:
    return [PeSlice(k, first_pe + k, a, b) for k, (a, b) in enumerate(split_neurons(p.n_rec, pes))]


def _overflow(p: CueEpropParams, sl: list[PeSlice], hw, arrays=pe_arrays):
    """First (slice, region, free bytes) that does not fit, allocating in order; None if all fit."""
    cap = available_bytes(hw)
    for s in sl:
        used = 0
        for a in arrays(p, s.n, root=s.index == 0, pes=len(sl)):
            if used + a.nbytes > cap:
                return s, a, cap - used
            used += a.nbytes
    return None


def smallest_fitting_pes(p: CueEpropParams, hw, arrays=pe_arrays) -> int | None:
    for pes in range(1, p.n_rec + 1):
        if _overflow(p, slices(p, pes), hw, arrays) is None:
            return pes
    return None


def plan(p: CueEpropParams, mapping: CueMapping, hw) -> list[PeSlice]:
    """The slices of this mapping, checked against the PE range and SRAM; MappingError otherwise."""
    best = smallest_fitting_pes(p, hw)
    pes = mapping.pes if mapping.pes is not None else best
    if pes is None:
        raise MappingError(f"no PE count fits {p.n_rec} neurons with {p.n_pre} inputs each "
                           f"({available_bytes(hw)} B free per PE); use a smaller network")
    if pes > p.n_rec:
        raise MappingError(f"mapping.pes = {pes} but there are only {p.n_rec} recurrent neurons to divide")
    last = mapping.first_pe + pes - 1
    if last >= hw.n_pes:
        raise MappingError(f"mapping uses PEs {mapping.first_pe}..{last} but the chip has PEs 0..{hw.n_pes - 1}")
    sl = slices(p, pes, mapping.first_pe)
    bad = _overflow(p, sl, hw)
    if bad is not None:
        s, reg, free = bad
        hint = f"the smallest PE count that fits is {best} (set mapping.pes={best})" if best else "no PE count fits"
        raise MappingError(f"PE {s.pe}: SRAM region '{reg.name}' needs {reg.nbytes} B but only {free} B of "
                           f"{available_bytes(hw)} B (SRAM minus code and stack) are free; {hint}")
    return sl


def memory_report(p: CueEpropParams, sl: list[PeSlice], hw) -> dict:
    """Bytes per PE by category for e-prop (as allocated) and for BPTT (same accounting), plus PE counts."""
    def per_pe(arrays):
        rows = []
        for s in sl:
            arr = arrays(p, s.n, root=s.index == 0, pes=len(sl))
            rows.append({"pe": s.pe, "neurons": [s.start, s.stop], "total_bytes": total_bytes(arr),
                         "learning_state_bytes": sum(a.nbytes for a in arr if a.learning),
                         "bytes_by_category": {c: sum(a.nbytes for a in arr if a.category == c) for c in CATEGORIES
                                               if any(a.category == c for a in arr)}})
        return rows
    eprop, bptt = per_pe(pe_arrays), per_pe(bptt_arrays)
    return {"per_pe": eprop, "learning_state_bytes": sum(r["learning_state_bytes"] for r in eprop),
            "available_bytes_per_pe": available_bytes(hw),
            "bptt_same_mapping_per_pe": bptt,
            "bptt_learning_state_bytes": sum(r["learning_state_bytes"] for r in bptt),
            "bptt_smallest_fitting_pes": smallest_fitting_pes(p, hw, bptt_arrays),
            "eprop_smallest_fitting_pes": smallest_fitting_pes(p, hw)}
