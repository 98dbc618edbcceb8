"""Placement of the EventProp batch copies on the chip, and the SRAM each PE needs.

Per copy: injector PE, ``pes_per_layer[l]`` PEs per weight layer (row slices of W), loss PE.
One root PE (gradient reduction + Adam) is shared by all copies. PEs are numbered from
``first_pe``: root first, then copy 0's PEs, copy 1's, ... On a board of several chips the copies
are placed chip by chip and a copy never straddles two chips (its spikes and errors stay on one
chip). Each other chip that holds copies gets a reducer PE first, before its copies: the reducers
and the root form a chain in copy order (``Plan.chain``) along which the running gradient sum travels
over the chip links, and they receive the new weights from the root (``firmware.RootCore``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

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
    #: reducer PE of each chip other than the root's that holds copies (empty on one chip)
    reducers: list[int] = field(default_factory=list)
    #: per chain member (the root if its chip holds copies, then each reducer, in copy order): the
    #: copies whose records it reads from its own chip's DRAM
    chain_copies: list[list[int]] = field(default_factory=list)

    @property
    def n_pes(self) -> int:
        return 1 + len(self.reducers) + self.pes_per_copy * len(self.copies)

    @property
    def chain(self) -> list[int]:
        """PEs the running gradient sum visits, in copy order (the root first if its chip holds
        copies); the last one sends the full sum to the root, unless it is the root."""
        return ([self.root] if len(self.chain_copies) > len(self.reducers) else []) + self.reducers


def layer_bytes(n: int, n_in: int, hist: int, is_output: bool) -> int:
    """SRAM of one layer-slice PE (the regions LayerCore.on_start reserves)."""
    b = 4 * n * n_in * 2 + 16 * n + 2 * 4 * ((n_in + 31) // 32) + 8 * n
    b += 12 * hist * n + 4 * hist * n_in
    if is_output:
        b += 6 * n
    return b


def plan(layers: list[int], batch: int, mapping: EventpropMapping, n_pes: int, sram_free: int,
         n_steps: int, pes_per_chip: int | None = None) -> Plan:
    """Assign PEs; ValueError (one line, naming the problem) if something does not fit.

    ``pes_per_chip`` (a board's chips, numbered chip by chip): a copy that would cross into the next
    chip starts on that chip instead. None: one chip of ``n_pes``.
    """
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
    chip_pes = pes_per_chip or n_pes
    if chip_pes < n_pes and per_copy + 1 > chip_pes:
        raise ValueError(f"a copy needs {per_copy} PEs; on a board a copy and its chip's reducer PE must fit "
                         f"one chip ({chip_pes} PEs); lower mapping.pes_per_layer")
    root = mapping.first_pe
    starts, reducers = _copy_starts(root, per_copy, batch, chip_pes, n_pes)
    if not starts or starts[-1] + per_copy > n_pes:
        where = "the chip has" if chip_pes == n_pes else f"the board ({n_pes // chip_pes} chips) has"
        extra = f" + {len(reducers)} chip reducers" if reducers else ""
        raise ValueError(f"batch {batch} needs {1 + len(reducers) + per_copy * batch} PEs ({per_copy} per "
                         f"copy + 1 root{extra}, no copy across chips) from PE {mapping.first_pe}, {where} "
                         f"{n_pes}; lower network.batch or add chips (arch_overrides.board)")
    copies = []
    for pe in starts:
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
    chain_copies: dict[int, list[int]] = {}
    for k, pe in enumerate(starts):
        chain_copies.setdefault(pe // chip_pes, []).append(k)
    return Plan(root, copies, per_copy, reducers, list(chain_copies.values()))


def _copy_starts(root: int, per_copy: int, batch: int, chip_pes: int, n_pes: int) -> tuple[list[int], list[int]]:
    """(first PE of each copy, reducer PEs): copies packed after the root; a copy that would cross a
    chip boundary moves to the next chip, and a chip other than the root's takes its reducer PE (its
    first PE) before its first copy (past the last chip: none, the plan does not fit anyway)."""
    starts, reducers, pe = [], [], root + 1
    for _ in range(batch):
        if pe // chip_pes != (pe + per_copy - 1) // chip_pes:
            pe = (pe // chip_pes + 1) * chip_pes
        chip = pe // chip_pes
        if chip != root // chip_pes and pe < n_pes and (not reducers or reducers[-1] // chip_pes != chip):
            reducers.append(pe)  # the chip's first PE: a copy that reached a new chip starts there
            pe += 1
        starts.append(pe)
        pe += per_copy
    return starts, reducers
