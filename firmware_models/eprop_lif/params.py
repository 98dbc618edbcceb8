"""Hyper-parameters of e-prop on the cue-accumulation task (spec cue_accumulation.md §5.2–5.3).

Defaults are eprop-PyTorch's ``main.py`` values. Derived constants are ``np.float32`` so every
expression built from them stays float32 (NumPy 2 / NEP 50).
"""
from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

F32 = np.float32


class CueEpropParams(BaseModel):
    """The ``network:`` section: sizes, LIF and readout constants, learning rule and Adam settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_in: int = Field(40, gt=0)
    n_rec: int = Field(100, gt=0)
    n_out: int = Field(2, ge=2)
    n_steps: int = Field(2250, gt=1, description="T, 1 ms steps per trial")
    learn_steps: int = Field(150, gt=0, description="the learning signal is non-zero in the last N steps only")
    dt_ms: float = Field(1.0, gt=0)
    tau_mem_ms: float = Field(2000.0, gt=0)
    tau_out_ms: float = Field(20.0, gt=0)
    v_th: float = Field(0.6, gt=0)
    gamma: float = Field(0.3, ge=0, description="pseudo-derivative height γ·max(0, 1 − |v − ϑ|/ϑ)")
    init_gains: tuple[float, float, float] = Field((0.5, 0.1, 0.5), description="He-normal gains (in, rec, out)")
    lr: float = Field(1e-4, gt=0)
    lr_layer: tuple[float, float, float] = Field((0.05, 0.05, 1.0), description="gradient factors (in, rec, out)")
    batch: int = Field(5, ge=1, description="trials whose gradients are summed before one Adam step")
    adam_beta1: float = Field(0.9, ge=0, lt=1)
    adam_beta2: float = Field(0.999, ge=0, lt=1)
    adam_eps: float = Field(1e-8, gt=0)

    @model_validator(mode="after")
    def _window_fits(self) -> "CueEpropParams":
        if self.learn_steps >= self.n_steps:
            raise ValueError(f"learn_steps ({self.learn_steps}) must be < n_steps ({self.n_steps})")
        return self

    @property
    def n_pre(self) -> int:
        return self.n_in + self.n_rec

    @property
    def alpha(self) -> np.float32:
        return F32(math.exp(-self.dt_ms / self.tau_mem_ms))

    @property
    def kappa(self) -> np.float32:
        return F32(math.exp(-self.dt_ms / self.tau_out_ms))

    @property
    def learn_start(self) -> int:
        """First step whose error drives learning (and whose output counts for the prediction)."""
        return self.n_steps - self.learn_steps
