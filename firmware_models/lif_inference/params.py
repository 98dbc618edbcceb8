"""Parameters of the layered LIF benchmark network (the canonical SpiNNaker SNN application)."""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class LifNetwork(BaseModel):
    model_config = ConfigDict(extra="forbid")
    layers: list[int] = Field(default=[256, 512, 512, 256], min_length=2,
                              description="Neurons per layer; layer 0 is the Poisson input")
    p_connect: float = Field(0.1, gt=0, le=1, description="Connection probability between adjacent layers")
    weight_mean: float = Field(0.05, description="Mean synaptic weight (threshold units)")
    weight_std: float = Field(0.3, ge=0, description="Std of synaptic weights")
    weight_resolution: float = Field(1 / 256, gt=0, description="Weights are multiples of this (fixed point)")
    tau_mem_ms: float = Field(20.0, gt=0)
    threshold: float = Field(1.0, gt=0)
    reset: Literal["zero", "subtract"] = "zero"
    input_rate_hz: float = Field(20.0, ge=0, le=1000)
    draw: Literal["dense", "sparse"] = Field(
        "dense", description="How connectivity is drawn: 'dense' draws a number per possible synapse "
        "(the benchmark's recipe), 'sparse' per synapse (board-sized networks; other numbers)")

    @model_validator(mode="after")
    def _sizes(self):
        if any(n < 1 for n in self.layers):
            raise ValueError("every layer needs at least one neuron")
        return self


class LifMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    neurons_per_pe: int = Field(128, ge=1, le=4096, description="Neurons of one layer per PE")
    first_pe: int = Field(0, ge=0)
    pes_per_chip: int | None = Field(
        None, ge=1, description="On a board (arch.board): use at most this many PEs of each chip, so a "
        "network spreads over more chips (None: fill each chip before the next, the fewest chip crossings)")
    row_index: Literal["dense", "sparse"] = Field(
        "dense", description="dense: one row-index entry per neuron of the previous layer (SRAM grows with "
        "that layer); sparse: entries only for neurons with a synapse on this PE, found by binary search "
        "(a master-population-table-like lookup, log2 steps per packet): board-sized layers")


class LifFirmwareParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timer_phase_spread: float = Field(0.0, ge=0, lt=1, description="Per-PE timer phase offset, fraction of a tick")
    group_numerics: bool | None = Field(
        None, description="One numpy call per tick for all PEs of a layer (a simulator speed trick; "
        "results are identical). Default: on unless the environment sets S2SIM_GROUP_NUMERICS=0")


def decay(net: LifNetwork, tick_ns: float) -> np.float32:
    return np.float32(np.exp(-(tick_ns * 1e-6) / net.tau_mem_ms))
