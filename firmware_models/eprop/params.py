"""Hyper-parameters of the e-prop keyword-spotting network (spec ``eprop_gsc.md`` §1.1–§1.2, §2.4–§2.5, §3.2).

Defaults are the values the authors' C code (``models.h``) runs with. Derived constants are exposed as
``np.float32`` properties so that every arithmetic expression built from them stays float32 (NumPy 2 / NEP 50:
a ``np.float64`` scalar would silently upcast a float32 array).
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

F32 = np.float32

#: Synapse-sized float32 arrays held per input/recurrent synapse for each memory layout (spec §3.2).
SYNAPSE_ARRAYS: dict[str, int] = {"paper": 7, "lean": 6, "closed_form": 5}
#: Readout-sized arrays (W_out, m_out, v_out, grad_out), the same for every layout.
READOUT_ARRAYS = 4

Layout = Literal["paper", "lean", "closed_form", "bptt"]  # bptt: memory-only sizing (bptt_memory.py)


class EpropParams(BaseModel):
    """Network sizes, neuron/surrogate constants, optimiser settings and implementation options.

    Options:
      * ``neuron``: ``alif`` (β = 0.184, the paper) or ``lif`` (β = 0, threshold fixed at ``v_th``).
      * ``autapse``: ``keep`` = the repo (diagonal of W_rec used in the forward pass, its eligibility zeroed so it
        only feels L2); ``mask`` = diagonal forced to 0 and never updated (TU Graz behaviour).
      * ``eps_a``: ``repo`` = ε^a uses ψ_t and the new ε^v_t (C and tf2); ``exact`` = TU Graz lag (ψ_{t−1}, ε^v_{t−1}).
      * ``memory_layout``: ``paper`` (per-synapse ε^v, ε^a, ē, E), ``lean`` (ε^v per presynaptic neuron),
        ``closed_form`` (no ē; E += w_t·e with w_t = (1−κ^{T−t})/(1−κ)). Numerically equivalent up to float32 rounding.
      * ``exp_impl``: ``software`` or ``accelerator``; only the cost model reads it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_in: int = Field(80, gt=0)
    n_rec: int = Field(120, gt=0)
    n_out: int = Field(12, gt=0)
    n_steps: int = Field(100, gt=0, description="T, time steps per sample")

    tau_m: float = Field(5.0, gt=0)
    tau_a: float = Field(150.0, gt=0)
    tau_out: float = Field(10.0, gt=0)
    v_th: float = Field(1.6, gt=0)
    beta: float = Field(0.184, ge=0)
    gamma: float = Field(0.5, ge=0)
    h: float = Field(0.15, ge=0)
    sigma: float = Field(0.5, gt=0)
    scale: float = Field(6.0, gt=0)
    l2: float = Field(1e-5, ge=0)

    adam_beta1: float = Field(0.9, ge=0, lt=1)
    adam_beta2: float = Field(0.999, ge=0, lt=1)
    adam_eps: float = Field(1e-5, gt=0)
    lr_init: float = Field(0.01, gt=0)
    lr_decay: float = Field(0.3, gt=0)
    lr_decay_every: int = Field(2, gt=0)

    neuron: Literal["alif", "lif"] = "alif"
    autapse: Literal["keep", "mask"] = "keep"
    eps_a: Literal["repo", "exact"] = "repo"
    memory_layout: Layout = "paper"
    exp_impl: Literal["software", "accelerator"] = "software"

    # ---- derived float32 constants, formed as initialize_eprop_parameters forms them: α, ρ and κ are the
    # double exp rounded once to float; 1−α, 1−ρ and (1−α)(1−ρ) are then float arithmetic on those floats
    # (1−ρ is 1e-6 relatively smaller than the double-then-round value; the C trainer uses this one) ----
    @property
    def alpha(self) -> np.float32:
        """Membrane decay α = exp(−1/τ_m)."""
        return F32(math.exp(-1.0 / self.tau_m))

    @property
    def one_minus_alpha(self) -> np.float32:
        return F32(1.0) - self.alpha

    @property
    def rho(self) -> np.float32:
        """Adaptation decay ρ = exp(−1/τ_a)."""
        return F32(math.exp(-1.0 / self.tau_a))

    @property
    def one_minus_rho(self) -> np.float32:
        return F32(1.0) - self.rho

    @property
    def one_alpha_x_one_rho(self) -> np.float32:
        """(1−α)(1−ρ), the ε^a input coefficient (``one_alpha_x_one_rho`` in C)."""
        return self.one_minus_alpha * self.one_minus_rho

    @property
    def kappa(self) -> np.float32:
        """Readout / ē filter decay κ = exp(−1/τ_out)."""
        return F32(math.exp(-1.0 / self.tau_out))

    @property
    def beta_eff(self) -> np.float32:
        """β actually used: 0 for LIF so adaptation has no effect on threshold or eligibility."""
        return F32(0.0 if self.neuron == "lif" else self.beta)

    @property
    def beta_vec(self) -> np.ndarray:
        """Per-neuron β_j (all equal in the paper; kept as a vector like ``cell->beta[j]``)."""
        return np.full(self.n_rec, self.beta_eff, dtype=F32)

    @property
    def surrogate_a0(self) -> np.float32:
        """Central Gaussian amplitude γ(1+h)/(σ√(2π)) = 0.45878362 (§1.3)."""
        return F32(self.gamma * (1.0 + self.h) / (self.sigma * math.sqrt(2.0 * math.pi)))

    @property
    def surrogate_a1(self) -> np.float32:
        """Side Gaussian amplitude γh/(Sσ√(2π)) = 0.00997356 (§1.3)."""
        return F32(self.gamma * self.h / (self.scale * self.sigma * math.sqrt(2.0 * math.pi)))

    @property
    def surrogate_k0(self) -> np.float32:
        """1/(2σ²): exponent factor of the central Gaussian (2.0 by default)."""
        return F32(1.0 / (2.0 * self.sigma**2))

    @property
    def surrogate_k1(self) -> np.float32:
        """1/(2(Sσ)²): exponent factor of the side Gaussians (1/18 by default)."""
        return F32(1.0 / (2.0 * (self.scale * self.sigma) ** 2))

    @property
    def adam_one_minus_beta1(self) -> np.float32:
        """1−β1 formed in float32 as the C trainer does (``1.0f - 0.9f`` = 0.100000024, not float32(0.1))."""
        return F32(1.0) - F32(self.adam_beta1)

    @property
    def adam_one_minus_beta2(self) -> np.float32:
        """1−β2 formed in float32 as the C trainer does (``1.0f - 0.999f`` = 9.999871e-4, not float32(1e-3))."""
        return F32(1.0) - F32(self.adam_beta2)

    @property
    def two_l2(self) -> np.float32:
        """2·l2, the L2 gradient factor (C does this in double; here float32)."""
        return F32(2.0 * self.l2)

    def closed_form_weights(self) -> np.ndarray:
        """w_t = (1−κ^{T−t})/(1−κ), t = 0…T−1: Σ_t ē_t = Σ_t w_t e_t for a fixed-length sequence (§3.2)."""
        k = math.exp(-1.0 / self.tau_out)
        t = np.arange(self.n_steps, dtype=np.float64)
        return ((1.0 - k ** (self.n_steps - t)) / (1.0 - k)).astype(F32)

    # ---- memory ----
    @property
    def n_synapses(self) -> int:
        """Input + recurrent synapses (24,000 for 80-120-12)."""
        return self.n_in * self.n_rec + self.n_rec * self.n_rec

    def memory_bytes(self, layout: Layout | None = None) -> int:
        """Learning-state bytes per §3.2: k float32 arrays per synapse + 4 per readout weight.

        paper 695,040 B, lean 599,040 B, closed_form 503,040 B for 80-120-12. Per-neuron vectors are not counted,
        matching the spec's reconciliation with the paper's "680 KB".
        """
        layout = layout or self.memory_layout
        k = SYNAPSE_ARRAYS[layout]
        return 4 * (k * self.n_synapses + READOUT_ARRAYS * self.n_rec * self.n_out)
