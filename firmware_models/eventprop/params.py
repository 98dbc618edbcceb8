"""Hyper-parameters of the EventProp Yin-Yang model (spec eventprop_yinyang.md §1.3).

Defaults: data, network, init and loss of the authors' Yin-Yang ``main_wandb.py`` (2024-08), Adam
lr 0.0019 of their later (2025-03, MNIST) config, Euler decay of the 2023-11 on-chip comparison
notebook (``networks/yinyang.yaml``'s header says which setting follows which).
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
    # Remedies for silent neurons (EventProp's exact gradient is zero for a neuron that never
    # fires). All off by default, so the authors' recipe stays reproducible; README "Silent neurons".
    # silent_rate[l]: for each neuron of weight layer l silent in a sample, dL/dW[j, i] -=
    #   silent_rate[l] * (spikes of input i in that sample): a lower-bound spike-count rule that
    #   raises the incoming weights from active inputs until the neuron fires (layer PE, local).
    silent_rate: list[float] | None = None
    # "sample": the rule acts on a neuron silent in that sample; "batch": only on a neuron silent
    #   in every sample of the batch (a dead neuron), with the batch's input spike counts (root PE)
    silent_scope: Literal["sample", "batch"] = "sample"
    # loss shaping (after Nowotny, Turner & Knight, arXiv 2212.01232): an extra voltage loss
    #   -shape_weight * sum_t exp(-t dt / shape_tau) V_label[t] over the steps before the label
    #   neuron's first spike (the whole window if it is silent); the loss PE sends shape_weight to
    #   the label neuron's PE, which adds the term to lambda_V in the backward pass.
    shape_weight: float = 0.0
    shape_tau_ms: float = 10.0

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
        if self.silent_rate is not None and (len(self.silent_rate) != n_w
                                             or min(self.silent_rate) < 0):
            raise ValueError(f"silent_rate needs one value >= 0 per weight matrix ({n_w}), "
                             f"got {self.silent_rate}")
        if self.shape_weight < 0 or self.shape_tau_ms <= 0:
            raise ValueError(f"shape_weight must be >= 0 and shape_tau_ms > 0, got "
                             f"{self.shape_weight}, {self.shape_tau_ms}")
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
    def silent_acc(self) -> list[np.float32]:
        """Per weight layer: what a silent neuron adds to lambda_I-sum per input spike, i.e.
        silent_rate / tau_syn[s] (dL/dW = -tau_syn * sum), rounded once from double."""
        rates = self.silent_rate or [0.0] * (len(self.layers) - 1)
        return [np.float32(r / (self.tau_syn_ms * 1e-3)) for r in rates]

    @property
    def shape_table(self) -> np.ndarray:
        """exp(-t dt / shape_tau) for t = 0..n_steps-1, float32: the loss-shaping weight per step
        (a table in the output PE's SRAM; the reference uses the same array)."""
        return shape_weights(self.n_steps, self.dt_ms, self.shape_tau_ms)

    @property
    def dt_s(self) -> np.float32:
        """Step length in seconds, to turn spike steps into loss times."""
        return np.float32(self.dt_ms * 1e-3)


def shape_weights(n_steps: int, dt_ms: float, tau_ms: float) -> np.ndarray:
    """exp(-t dt / tau) over the steps, float32 (one numpy call so every caller gets the same bits)."""
    return np.exp(np.arange(n_steps, dtype=np.float32) * np.float32(-dt_ms / tau_ms)).astype(np.float32)


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
