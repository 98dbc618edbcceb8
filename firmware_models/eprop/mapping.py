""""Divide synapses" mapping of the e-prop network onto PEs (Rostami et al. 2022; spec eprop_gsc.md §3.2).

PE k owns a contiguous slice of the recurrent neurons together with their whole fan-in (the W_in and W_rec
columns), their W_out rows, and all eligibility and Adam state of those synapses. Every PE receives every
recurrent spike (multicast, one key per neuron) and the input frame x_t (DMA from DRAM).

``pe_regions`` lists every SRAM region of one PE *before* anything is placed, so a mapping that does not fit is
reported with the region that overflows and the smallest PE count that fits.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from s2sim.apps import AppError

from .params import EpropParams

#: Input frames fetched per DMA (double-buffered): one DMA setup per chunk instead of per frame.
INPUT_CHUNK_FRAMES = 5

CATEGORIES = ("weights", "optimizer", "eligibility", "neuron_state", "buffers")
# Multicast keys: spikes carry the global neuron index; reduce/err packets carry member and output index.
SPIKE_KEY = 0x0E000000
REDUCE_KEY = 0x0E100000
ERR_KEY = 0x0E200000
KEY_TYPE_MASK = 0xFFF00000


class EpropMapping(BaseModel):
    """The ``mapping:`` section."""

    model_config = ConfigDict(extra="forbid")

    pes: int = Field(12, ge=1, description="PEs the recurrent neurons are divided over")
    first_pe: int = Field(0, ge=0, description="first PE used; PEs first_pe .. first_pe+pes-1")
    strategy: Literal["divide_synapses"] = "divide_synapses"


@dataclass(frozen=True)
class Region:
    name: str
    nbytes: int
    category: str
    learning: bool  # counted in the §3.2 learning state (W, m, v, ε, ē, E per synapse; W_out, m, v, G per readout)


@dataclass(frozen=True)
class PeSlice:
    index: int  # member index 0..pes-1
    pe: int
    start: int  # first recurrent neuron (global index)
    stop: int

    @property
    def n(self) -> int:
        return self.stop - self.start


class MappingError(AppError):
    """The network does not fit the chosen mapping (names the PE, the region and the smallest PE count)."""


def split_neurons(n_rec: int, pes: int) -> list[tuple[int, int]]:
    """Contiguous, as even as possible slices (the first ``n_rec % pes`` get one neuron more)."""
    if pes < 1:
        raise MappingError("mapping.pes must be >= 1")
    if pes > n_rec:
        raise MappingError(f"mapping.pes = {pes} but there are only {n_rec} recurrent neurons to divide")
    base, extra = divmod(n_rec, pes)
    out, start = [], 0
    for k in range(pes):
        stop = start + base + (1 if k < extra else 0)
        out.append((start, stop))
        start = stop
    return out


def slices(params: EpropParams, mapping: EpropMapping) -> list[PeSlice]:
    return [PeSlice(k, mapping.first_pe + k, a, b) for k, (a, b) in enumerate(split_neurons(params.n_rec, mapping.pes))]


def pe_regions(params: EpropParams, n: int, root: bool = False, n_pes: int = 1) -> list[Region]:
    """Every SRAM region (bytes) of a PE holding ``n`` recurrent neurons, for ``params.memory_layout``.

    Learning state per §3.2: paper = W, m, v, ε^v, ε^a, ē, E per synapse; lean = ε^v per presynaptic neuron
    instead of per synapse; closed_form = also no ē. Plus W_out, m_out, v_out, G_out per readout weight.
    This is the plan checked before anything is placed; the firmware allocates its regions from the arrays it
    keeps (``EpropCore.sram_regions``) and a test holds the two equal, region by region.
    """
    p, f = params, 4
    n_in, n_rec, n_out, n_pre = p.n_in, p.n_rec, p.n_out, p.n_in + p.n_rec
    lay = p.memory_layout
    r: list[Region] = []

    def add(name, count, cat, learning=False):
        r.append(Region(name, f * int(count), cat, learning))

    add("w_in", n_in * n, "weights", True)
    add("w_rec", n_rec * n, "weights", True)
    add("w_out", n * n_out, "weights", True)
    add("adam_m_in", n_in * n, "optimizer", True)
    add("adam_v_in", n_in * n, "optimizer", True)
    add("adam_m_rec", n_rec * n, "optimizer", True)
    add("adam_v_rec", n_rec * n, "optimizer", True)
    add("adam_m_out", n * n_out, "optimizer", True)
    add("adam_v_out", n * n_out, "optimizer", True)
    add("adam_scalars", 9, "optimizer")  # β1^t, β2^t, step count, lr, β1, β2, 1−β1, 1−β2, ε
    if lay == "paper":
        add("eps_v_in", n_in * n, "eligibility", True)
        add("eps_v_rec", n_rec * n, "eligibility", True)
    else:
        add("eps_v_in_vec", n_in, "eligibility")  # one per presynaptic neuron (§3.2 lean)
        add("eps_v_rec_vec", n_rec, "eligibility")
    add("eps_a_in", n_in * n, "eligibility", True)
    add("eps_a_rec", n_rec * n, "eligibility", True)
    if lay != "closed_form":
        add("ebar_in", n_in * n, "eligibility", True)
        add("ebar_rec", n_rec * n, "eligibility", True)
    else:
        add("closed_form_w", p.n_steps, "eligibility")
    add("E_in", n_in * n, "eligibility", True)
    add("E_rec", n_rec * n, "eligibility", True)
    add("grad_out", n * n_out, "eligibility", True)
    # neuron vectors: v, b, A, I, v_s, z, z̄, Σz̄, ψ, β, the hoisted coefficients d, c, p, q, (1−ρ)β and L
    for name in ("v", "b", "thr_a", "i_syn", "v_s", "z", "zbar", "zbar_sum", "psi", "beta", "coef_d",
                 "coef_c", "coef_p", "coef_q", "coef_rho_beta", "learning_signal"):
        add(f"n_{name}", n, "neuron_state")
    if p.eps_a == "exact":  # ψ_{t−1} coefficients of the TU Graz lag
        add("n_coef_d_prev", n, "neuron_state")
        add("n_coef_c_prev", n, "neuron_state")
    add("neuron_scalars", 14, "neuron_state")  # α, 1−α, ρ, 1−ρ, (1−α)(1−ρ), κ, v_th, T, 5 surrogate, 2λ
    add("x_chunks", 2 * INPUT_CHUNK_FRAMES * n_in, "buffers")  # two DMA'd chunks of input frames
    add("x_buffers", 2 * n_in, "buffers")  # the frame of this tick and of the next
    add("spike_buffers", 2 * n_rec, "buffers")  # received z_{t−1} double buffer
    add("y_partial", n_out, "buffers")  # Σ_t y_t of this PE's neurons
    add("err_buffer", n_out, "buffers")
    if root:
        add("reduce_buffer", n_pes * n_out, "buffers")  # one partial Σ_t y_t per PE
        add("softmax", n_out, "buffers")
        add("label", 2, "buffers")
    return r


def learning_bytes(regions: list[Region]) -> int:
    return sum(r.nbytes for r in regions if r.learning)


def available_bytes(hw) -> int:
    return int(hw.sram_bytes - hw.code_reserve_bytes - hw.stack_reserve_bytes)


def _overflow(params: EpropParams, sl: list[PeSlice], hw) -> tuple[PeSlice, Region, int] | None:
    """First (slice, region, free bytes) that does not fit, allocating regions in order."""
    cap = available_bytes(hw)
    for s in sl:
        used = 0
        for reg in pe_regions(params, s.n, root=s.index == 0, n_pes=len(sl)):
            if used + reg.nbytes > cap:
                return s, reg, cap - used
            used += reg.nbytes
    return None


def smallest_fitting_pes(params: EpropParams, hw, start: int = 1, first_pe: int = 0,
                         limit: int | None = None) -> int | None:
    """Smallest PE count >= ``start`` whose slices fit, up to ``limit`` PEs (default: the machine's PEs
    from ``first_pe``); None if none does.

    Bisection: adding PEs only shrinks each slice, so "fits" is monotone in the PE count.
    """
    def fits(pes: int) -> bool:
        return _overflow(params, slices(params, EpropMapping(pes=pes)), hw) is None
    lo, hi = max(1, start), min(params.n_rec, hw.n_pes - first_pe if limit is None else limit)
    if lo > hi or not fits(hi):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fits(mid) else (mid + 1, hi)
    return lo


def _machine(hw) -> str:
    return "the chip" if hw.n_chips == 1 else f"the board ({hw.n_chips} chips of {hw.pes_per_chip} PEs)"


def _more_chips(params: EpropParams, hw, start: int) -> str:
    """The hint when no PE count of this machine fits: how many PEs, and chips, would."""
    need = smallest_fitting_pes(params, hw, start, limit=params.n_rec)
    if need is None:
        return "no PE count fits; use memory_layout lean or closed_form, or a smaller network"
    chips = -(-need // hw.pes_per_chip)
    return (f"{need} PEs would fit, on {chips} chips: set mapping.pes={need} and arch_overrides.board to "
            f"at least {chips} chips")


def plan(params: EpropParams, mapping: EpropMapping, hw) -> list[PeSlice]:
    """Check the mapping fits (PE range and SRAM) and return the slices; MappingError otherwise.

    PEs are board-wide ids, so on a board of several chips (``arch.board``) the slices run on from one
    chip into the next; every spike is multicast to every PE and the reduce and learning-signal packets
    cross the chip links like any other packet (``docs/simulation-model.md``, board section)."""
    sl = slices(params, mapping)
    last = mapping.first_pe + mapping.pes - 1
    if last >= hw.n_pes:
        raise MappingError(f"mapping uses PEs {mapping.first_pe}..{last} but {_machine(hw)} has PEs "
                           f"0..{hw.n_pes - 1}; lower mapping.pes or add chips (arch_overrides.board)")
    bad = _overflow(params, sl, hw)
    if bad is not None:
        s, reg, free = bad
        need = sum(r.nbytes for r in pe_regions(params, s.n, root=s.index == 0, n_pes=len(sl)))
        best = smallest_fitting_pes(params, hw, mapping.pes + 1, mapping.first_pe)
        hint = (f"the smallest PE count that fits is {best} (set mapping.pes={best})" if best else
                _more_chips(params, hw, mapping.pes + 1))
        raise MappingError(
            f"PE {s.pe}: SRAM region '{reg.name}' needs {reg.nbytes} B but only {free} B of "
            f"{available_bytes(hw)} B (SRAM minus code and stack) are free; {s.n} neurons per PE need {need} B "
            f"in total ({params.memory_layout} layout); {hint}")
    return sl


def memory_report(params: EpropParams, sl: list[PeSlice], srams: dict | None = None) -> dict:
    """Bytes per PE by category and the §3.2 learning state; from the allocators ``srams`` (PE id → ``Sram``) of
    placed cores when given (what the firmware really allocated), else from the plan."""
    per_pe = []
    for s in sl:
        plan_regs = pe_regions(params, s.n, root=s.index == 0, n_pes=len(sl))
        if srams is not None:
            learning = {r.name for r in plan_regs if r.learning}
            regs = [Region(r.name, r.nbytes, r.category, r.name in learning)
                    for r in srams[s.pe].regions.values() if r.category in CATEGORIES]
        else:
            regs = plan_regs
        cats = {c: sum(r.nbytes for r in regs if r.category == c) for c in CATEGORIES}
        per_pe.append({"pe": s.pe, "neurons": [s.start, s.stop], "learning_state_bytes": learning_bytes(regs),
                       "bytes_by_category": cats, "total_bytes": sum(r.nbytes for r in regs)})
    return {"per_pe": per_pe, "learning_state_bytes": sum(p["learning_state_bytes"] for p in per_pe)}
