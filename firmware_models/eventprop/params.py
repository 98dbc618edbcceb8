"""Hyper-parameters of the EventProp Yin-Yang model (spec eventprop_yinyang.md §1.3).

Defaults are the off-chip ``main_wandb`` 2024-08 config with the on-chip loss
constants, so an unmodified ``EventpropParams()`` is the run the chip mirrored.
Derived float32 constants (alpha, beta, ...) live here so the reference and the
firmware read the very same numbers.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class EventpropParams(BaseModel):
    """Network, neuron, loss, optimiser and data options; unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")

    # network / time grid
    layers: list[int] = Field(default_factory=lambda: [5, 120, 3])
    n_steps: int = 27
    t_min: int = 2
    dt_ms: float = 1.0
    # neuron
    tau_mem_ms: float = 20.0
    tau_syn_ms: float = 5.0
    threshold: float = Field(1.0, gt=0)
    decay: Literal["euler", "exp"] = "euler"
    # loss: "ce" = off-chip SpikeCELoss (what main_wandb trains with; times in steps):
    #   CE(logits=-t/xi) + ce_alpha (exp(t_label/ce_beta) - 1);
    # "onchip" = the comparison notebook's TTFS gradient (times in seconds, Sigma over spiked)
    loss: Literal["ce", "onchip"] = "ce"
    xi: float = 1.5
    ce_alpha: float = Field(1e-2, ge=0)
    ce_beta: float = 100.0
    alpha: float = Field(3e-3, ge=0)
    tau0_s: float = 5e-4
    tau1_s: float = 6.4e-3
    # optimiser
    lr: float = 0.0019
    weight_decay: float = Field(6.5e-7, ge=0)
    gamma_per_epoch: float = Field(0.95, gt=0, le=1)
    batch: int = 22
    epochs: int = Field(40, ge=1)
    # kaiming_both init: W ~ N(mu/sqrt(fan_in), sigma/sqrt(fan_in)), one entry per layer
    mu_s: list[float] = Field(default_factory=lambda: [3.2, 5.2])
    sigma_s: list[float] = Field(default_factory=lambda: [3.2, 2.8])
    # data
    exclude_ambiguous: bool = True

    @model_validator(mode="after")
    def _check(self) -> "EventpropParams":
        """Fail early on shapes that would otherwise break deep inside the simulation."""
        if len(self.layers) < 2 or min(self.layers) < 1:
            raise ValueError(f"layers needs >= 2 positive sizes, got {self.layers}")
        n_w = len(self.layers) - 1
        if len(self.mu_s) != n_w or len(self.sigma_s) != n_w:
            raise ValueError(f"mu_s/sigma_s need one entry per weight matrix ({n_w}), "
                             f"got {len(self.mu_s)}/{len(self.sigma_s)}")
        if self.t_min < 0:
            raise ValueError(f"t_min must be >= 0, got {self.t_min}")
        if self.n_steps <= self.t_min + 1:
            raise ValueError(f"n_steps must be > t_min + 1, got n_steps={self.n_steps}, "
                             f"t_min={self.t_min}")
        for name in ("dt_ms", "tau_mem_ms", "tau_syn_ms", "tau0_s", "tau1_s", "batch", "lr", "xi",
                     "ce_beta"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.decay == "euler" and (self.dt_ms >= self.tau_syn_ms or self.dt_ms >= self.tau_mem_ms):
            raise ValueError("euler decay needs dt_ms < tau_syn_ms and dt_ms < tau_mem_ms "
                             f"(got dt={self.dt_ms}, tau_syn={self.tau_syn_ms}, "
                             f"tau_mem={self.tau_mem_ms})")
        return self

    # --- derived float32 constants -------------------------------------------------
    @property
    def alpha_syn(self) -> np.float32:
        """Per-step synaptic decay: Euler 1-dt/tau_syn (what the chip ran) or exp(-dt/tau_syn)."""
        return _decay(self.dt_ms, self.tau_syn_ms, self.decay)

    @property
    def beta_mem(self) -> np.float32:
        """Per-step membrane decay: Euler 1-dt/tau_mem or exp(-dt/tau_mem)."""
        return _decay(self.dt_ms, self.tau_mem_ms, self.decay)

    @property
    def one_minus_alpha(self) -> np.float32:
        """(1 - alpha) rounded once from double, as the off-chip ``(1 - self.alpha) * x`` does."""
        return _one_minus_decay(self.dt_ms, self.tau_syn_ms, self.decay)

    @property
    def one_minus_beta(self) -> np.float32:
        """(1 - beta) rounded once from double; with Euler it is exactly dt/tau_mem."""
        return _one_minus_decay(self.dt_ms, self.tau_mem_ms, self.decay)

    @property
    def tau_syn_s(self) -> np.float32:
        """tau_syn in seconds: the factor of dL/dW = -tau_syn * lambda_I (the code uses 5e-3)."""
        return np.float32(self.tau_syn_ms * 1e-3)

    @property
    def dt_s(self) -> np.float32:
        """Step length in seconds, to turn spike steps into loss times."""
        return np.float32(self.dt_ms * 1e-3)


def _decay(dt_ms: float, tau_ms: float, mode: str) -> np.float32:
    """One decay factor as float32, computed in double then rounded once."""
    if mode == "euler":
        return np.float32(1.0 - dt_ms / tau_ms)
    return np.float32(np.exp(-dt_ms / tau_ms))


def _one_minus_decay(dt_ms: float, tau_ms: float, mode: str) -> np.float32:
    """1 - decay as float32 without the cancellation of float32(1) - float32(decay)."""
    if mode == "euler":
        return np.float32(dt_ms / tau_ms)
    return np.float32(-np.expm1(-dt_ms / tau_ms))
