"""Placement of the EventProp batch copies on the chip, and the SRAM each PE needs.

Per copy: injector PE, ``pes_per_layer[l]`` PEs per weight layer (row slices of W), loss PE.
One root PE (gradient reduction + Adam) is shared by all copies. PEs are numbered from
``first_pe``: root first, then copy 0's PEs, copy 1's, ...
"""
from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class EventpropMapping(BaseModel):
    """``mapping`` section."""

    model_config = ConfigDict(extra="forbid")

    pes_per_layer: list[int] | int = Field(1, description="PEs per weight layer (an int: same for all)")
    history_spikes_per_neuron: int | None = Field(
        None, ge=1, description="spike-history capacity per neuron per sample (own and input "
        "spikes); default n_steps - 1, the most a neuron can fire, so it never overflows")
    first_pe: int = Field(0, ge=0, description="first PE used; the root PE")
    input_spikes_per_channel: int = Field(
        1, ge=1, description="injector SRAM for input spike events, per input channel and sample "
        "(1 = latency code; raise it for spike-train inputs)")


@dataclass
class Slice:
    layer: int  # weight layer index (0 = input -> first hidden)
    index: int  # slice index within the layer
    start: int
    stop: int
    pe: int


@dataclass
class CopyPlan:
    injector: int
    slices: list[Slice]
    loss: int

    def slices_of(self, layer: int) -> list[Slice]:
        return [s for s in self.slices if s.layer == layer]


@dataclass
class Plan:
    root: int
    copies: list[CopyPlan]
    pes_per_copy: int

    @property
    def n_pes(self) -> int:
        return 1 + self.pes_per_copy * len(self.copies)


def layer_bytes(n: int, n_in: int, hist: int, is_output: bool) -> int:
    """SRAM of one layer-slice PE (the regions LayerCore.on_start reserves)."""
    b = 4 * n * n_in * 2 + 16 * n + 2 * 4 * ((n_in + 31) // 32) + 8 * n
    b += 12 * hist * n + 4 * hist * n_in
    if is_output:
        b += 6 * n
    return b


def plan(layers: list[int], batch: int, mapping: EventpropMapping, n_pes: int, sram_free: int,
         n_steps: int) -> Plan:
    """Assign PEs; ValueError (one line, naming the problem) if something does not fit."""
    n_w = len(layers) - 1
    hist = mapping.history_spikes_per_neuron or n_steps - 1
    ppl = mapping.pes_per_layer
    ppl = [ppl] * n_w if isinstance(ppl, int) else list(ppl)
    if len(ppl) != n_w:
        raise ValueError(f"pes_per_layer needs {n_w} entries (one per weight layer), got {len(ppl)}")
    for l, k in enumerate(ppl):
        n = layers[l + 1]
        if k < 1 or k > n:
            raise ValueError(f"pes_per_layer[{l}] = {k} must be in 1..{n} (layer size)")
        if -(-n // k) > 1 << 10:
            raise ValueError(f"layer {l + 1}: {-(-n // k)} neurons per PE exceeds the 1024 the key "
                             "format allows; raise pes_per_layer")
        n_slice = -(-n // k)
        need = layer_bytes(n_slice, layers[l], hist, l == n_w - 1)
        if need > sram_free:
            raise ValueError(f"layer {l + 1} ({layers[l]}->{n}) needs {need} B of SRAM per PE with "
                             f"{k} PE(s) per layer, only {sram_free} B free; raise pes_per_layer")
    per_copy = 2 + sum(ppl)
    total = 1 + per_copy * batch
    if mapping.first_pe + total > n_pes:
        raise ValueError(f"batch {batch} needs {total} PEs ({per_copy} per copy + 1 root) from PE "
                         f"{mapping.first_pe}, the chip has {n_pes}; lower network.batch")
    pe = mapping.first_pe
    root = pe
    pe += 1
    copies = []
    for _ in range(batch):
        inj = pe
        pe += 1
        slices = []
        for l, k in enumerate(ppl):
            n = layers[l + 1]
            step = -(-n // k)
            for s in range(k):
                start, stop = s * step, min(n, (s + 1) * step)
                if start >= stop:
                    raise ValueError(f"pes_per_layer[{l}] = {k} leaves PE {s} of layer {l + 1} "
                                     f"({n} neurons) empty; use fewer PEs")
                slices.append(Slice(l, s, start, stop, pe))
                pe += 1
        copies.append(CopyPlan(inj, slices, pe))
        pe += 1
    return Plan(root, copies, per_copy)
