"""Typed architecture description (the gem5-style parameter registry).

Each field is declared once with its unit (in the name), range and a one-line doc; the YAML under
``s2sim/arch/`` supplies values with provenance. The hardware model receives a flat, plain-number view
generated from this registry (``hw_leaves``, ``level_leaves`` -> ``s2sim.hw.params.HwParams``): a
section's ``HW_PREFIX`` (or a field's ``hw=`` name) says what a leaf is called there, so a new
parameter is declared here only.
"""

from __future__ import annotations

import typing
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, PrivateAttr, ValidationInfo, field_validator

from .errors import ConfigError
from .sourced import STRICT, NonNegFloat, NonNegInt, PosFloat, PosInt, Sourced

__all__ = [
    "hw_leaves", "level_leaves", "HwLeaf",
    "ArchConfig", "ChipArch", "PEArch", "PerformanceLevel", "CoreCycles", "Kernels",
    "Accelerators", "DvfsPolicyArch", "NocArch", "DmaArch", "DramArch", "EnergyArch", "BoardArch",
]


def _doc(text: str, hw: str | None = None) -> Any:
    """A registry field: its one-line doc and, when it differs from prefix + name, its flat hw name."""
    return Field(description=text, json_schema_extra={"hw": hw} if hw else None)


class _Section(BaseModel):
    model_config = STRICT

    #: prefix of this section's leaves in the hardware model's flat view; None: not passed one by one
    HW_PREFIX: ClassVar[str | None] = None


class ChipArch(_Section):
    """Chip-level layout: QPE mesh, router, baseline power."""

    HW_PREFIX = ""

    mesh_width: Sourced[PosInt] = _doc("QPE grid columns (x extent of the QPE mesh)")
    mesh_height: Sourced[PosInt] = _doc("QPE grid rows (y extent of the QPE mesh)")
    qpe_count: Sourced[PosInt] = _doc("number of quad-PEs on the chip")
    pes_per_qpe: Sourced[PosInt] = _doc("processing elements per QPE")
    router_entries: Sourced[PosInt] = _doc("multicast routing table entries (key/mask) per chip")
    missing_routers: Sourced[list[list[NonNegInt]]] = _doc(
        "mesh slots (x, y), 0-based, that hold no QPE (e.g. the chip's central router)")
    baseline_power_mw: Sourced[NonNegFloat] = _doc("chip power with all PEs off (always paid)")

    @field_validator("missing_routers")
    @classmethod
    def _slots_in_mesh(cls, v: Sourced[list[list[int]]], info: ValidationInfo) -> Sourced[list[list[int]]]:
        w, h = info.data.get("mesh_width"), info.data.get("mesh_height")
        for xy in v.value:
            if len(xy) != 2 or (w is not None and h is not None and not (xy[0] < w.value and xy[1] < h.value)):
                raise ValueError(f"got slot {xy}; expected an (x, y) pair inside the mesh")
        qpes = info.data.get("qpe_count")
        if w is not None and h is not None and qpes is not None:
            free = w.value * h.value - len({tuple(xy) for xy in v.value})
            if qpes.value > free:
                raise ValueError(f"leaves {free} mesh slots; expected room for qpe_count = {qpes.value}")
        return v

    @field_validator("qpe_count")
    @classmethod
    def _fits_mesh(cls, v: Sourced[int], info: ValidationInfo) -> Sourced[int]:
        w, h = info.data.get("mesh_width"), info.data.get("mesh_height")
        if w is not None and h is not None and v.value > w.value * h.value:
            raise ValueError(f"got {v.value} QPEs; expected at most mesh_width*mesh_height = "
                             f"{w.value * h.value}")
        return v


class PEArch(_Section):
    """One processing element: SRAM budget, software queues and interrupt/comms overheads."""

    HW_PREFIX = ""

    sram_bytes: Sourced[PosInt] = _doc("local SRAM per PE (code + data)")
    code_reserve_bytes: Sourced[NonNegInt] = _doc("SRAM reserved for code (ITCM), not allocatable")
    stack_reserve_bytes: Sourced[NonNegInt] = _doc("SRAM reserved for heap+stack")
    task_queue_size: Sourced[PosInt] = _doc("entries per dispatcher task queue (spin1 TASK_QUEUE_SIZE)")
    task_queue_count: Sourced[PosInt] = _doc("number of queueable priority levels")
    tx_queue_size: Sourced[PosInt] = _doc("software multicast TX queue length")
    dma_queue_size: Sourced[PosInt] = _doc("software DMA request queue length")
    irq_entry_cycles: Sourced[NonNegInt] = _doc("core cycles from interrupt to first handler instruction")
    irq_exit_cycles: Sourced[NonNegInt] = _doc("core cycles to return from a handler")
    send_packet_cycles: Sourced[NonNegInt] = _doc("core cycles to hand one packet to the comms unit")

    @field_validator("stack_reserve_bytes")
    @classmethod
    def _reserves_fit(cls, v: Sourced[int], info: ValidationInfo) -> Sourced[int]:
        sram, code = info.data.get("sram_bytes"), info.data.get("code_reserve_bytes")
        if sram is not None and code is not None and code.value + v.value > sram.value:
            raise ValueError(f"got code {code.value} + stack {v.value} bytes; expected the "
                             f"reserves to fit in sram_bytes = {sram.value}")
        return v


class PerformanceLevel(_Section):
    """One DVFS operating point (voltage, clock) with its per-PE energy numbers."""

    name: str = Field(min_length=1, description="level name used by run.performance_level")
    clock_mhz: Sourced[PosFloat] = _doc("PE core clock at this level")
    voltage_v: Sourced[PosFloat] = _doc("PE supply voltage at this level")
    active_energy_per_cycle_pj: Sourced[NonNegFloat] = _doc(
        "dynamic energy per busy core cycle (incl. SRAM), on top of the static power")
    static_power_mw: Sourced[NonNegFloat] = _doc(
        "per-PE power drawn at this level whether busy or asleep (measured with the PEs asleep)")


class CoreCycles(_Section):
    """Cortex-M4F cycles per operation, used to turn declared op counts into time."""

    int_alu: Sourced[NonNegFloat] = _doc("integer add/sub/logic/shift/compare/mov")
    int_mul: Sourced[NonNegFloat] = _doc("integer multiply / multiply-accumulate")
    int_div: Sourced[NonNegFloat] = _doc("integer SDIV/UDIV (worst case)")
    load: Sourced[NonNegFloat] = _doc("single load (LDR/VLDR)")
    store: Sourced[NonNegFloat] = _doc("single store (STR/VSTR), pipelined")
    branch: Sourced[NonNegFloat] = _doc("taken branch incl. pipeline refill")
    loop: Sourced[NonNegFloat] = _doc("loop overhead per iteration (compare + branch)")
    fadd: Sourced[NonNegFloat] = _doc("VADD/VSUB single precision")
    fmul: Sourced[NonNegFloat] = _doc("VMUL single precision")
    fmac: Sourced[NonNegFloat] = _doc("VMLA/VFMA single precision multiply-accumulate")
    fdiv: Sourced[NonNegFloat] = _doc("VDIV single precision")
    fsqrt: Sourced[NonNegFloat] = _doc("VSQRT single precision")
    fcmp: Sourced[NonNegFloat] = _doc("VCMP single precision")
    fcvt: Sourced[NonNegFloat] = _doc("VCVT int<->float")
    expf: Sourced[NonNegFloat] = _doc("software expf() call (libm)")
    logf: Sourced[NonNegFloat] = _doc("software logf() call (libm)")


class Kernels(_Section):
    """Calibrated per-iteration cycle counts of hot inner loops (beats op-count sums)."""

    eprop_eligibility_post_pre: Sourced[NonNegFloat] = _doc("e-prop eligibility, [post][pre] layout, per synapse")
    eprop_eligibility_pre_post: Sourced[NonNegFloat] = _doc("e-prop eligibility, [pre][post] layout, per synapse")
    eprop_eligibility_closed_form: Sourced[NonNegFloat] = _doc("e-prop eligibility, closed-form E, per synapse")
    dense_mac: Sourced[NonNegFloat] = _doc("dense float forward MAC, per synapse")
    event_add: Sourced[NonNegFloat] = _doc("event-driven weight add, per spike x post neuron")
    adam_update: Sourced[NonNegFloat] = _doc("fused gradient + L2 + Adam, per weight")
    # the rest of the calibrated kernels (tools/calibrate_kernels.py; whole-tick agreement)
    event_add_dense: Sourced[NonNegFloat] = _doc("event-driven dense row add, per spike x post neuron")
    eprop_neuron_update: Sourced[NonNegFloat] = _doc("e-prop ALIF neuron update, per neuron")
    eprop_surrogate_expf: Sourced[NonNegFloat] = _doc("e-prop surrogate + coefficients (expf extra), per neuron")
    eprop_surrogate_accel: Sourced[NonNegFloat] = _doc("e-prop surrogate + coefficients (exp accel extra), per neuron")
    eprop_eligibility_paper: Sourced[NonNegFloat] = _doc("e-prop eligibility, per-synapse eps^v, per synapse")
    eprop_autapse_zero: Sourced[NonNegFloat] = _doc("e-prop autapse diagonal reset (S16), per own neuron")
    eprop_eligibility_paper_row: Sourced[NonNegFloat] = _doc("e-prop eligibility (paper), per presynaptic row")
    eprop_eligibility_pre_post_row: Sourced[NonNegFloat] = _doc("e-prop eligibility (lean), per presynaptic row")
    eprop_eligibility_closed_form_row: Sourced[NonNegFloat] = _doc("e-prop eligibility (closed form), per row")
    adam_update_row: Sourced[NonNegFloat] = _doc("fused gradient + Adam, per weight row")
    eprop_eps_v: Sourced[NonNegFloat] = _doc("e-prop eps^v per presynaptic neuron, per input")
    eprop_readout: Sourced[NonNegFloat] = _doc("e-prop readout partial sum, per neuron x output")
    eprop_learning_signal: Sourced[NonNegFloat] = _doc("e-prop learning signal, per neuron x output")
    eprop_readout_row: Sourced[NonNegFloat] = _doc("e-prop readout partial sum, outer loop per output")
    eprop_learning_signal_row: Sourced[NonNegFloat] = _doc("e-prop learning signal, outer loop per neuron")
    eventprop_receive_spike: Sourced[NonNegFloat] = _doc("EventProp input spike record + add, per spike x post")
    eventprop_error_in: Sourced[NonNegFloat] = _doc("EventProp received error packet, per packet")
    eventprop_forward_step: Sourced[NonNegFloat] = _doc("EventProp LIF forward step, per neuron")
    eventprop_adjoint_step: Sourced[NonNegFloat] = _doc("EventProp adjoint step, per neuron")
    eventprop_adjoint_jump: Sourced[NonNegFloat] = _doc("EventProp adjoint jump, per own spike")
    eventprop_grad_accumulate: Sourced[NonNegFloat] = _doc("EventProp gradient accumulation, per spike x post")
    eventprop_error_out: Sourced[NonNegFloat] = _doc("EventProp backward error, per spike x post neuron")
    eventprop_loss: Sourced[NonNegFloat] = _doc("EventProp TTFS loss gradient, per output neuron")
    lif_neuron_update: Sourced[NonNegFloat] = _doc("LIF neuron update, per neuron")


class Accelerators(_Section):
    """Per-PE accelerators: exp/log unit, MAC array, RNG."""

    HW_PREFIX = ""

    exp_latency_cycles: Sourced[NonNegFloat] = _doc("exp/log accelerator latency per result")
    exp_energy_pj: Sourced[NonNegFloat] = _doc("energy per exp/log result")
    mac_array_macs_per_cycle: Sourced[PosInt] = _doc("8-bit MACs per cycle of the MAC array")
    mac_array_setup_cycles: Sourced[NonNegFloat] = _doc("core cycles to configure and start one MAC-array job")
    mac_energy_pj: Sourced[NonNegFloat] = _doc("energy per 8-bit MAC on the MAC array")
    rng_cycles: Sourced[NonNegFloat] = _doc("cycles per 32-bit pseudo-random number")


class DvfsPolicyArch(_Section):
    """The per-tick load policy of ``run.dvfs: load`` (s2sim/hw/dvfs.py)."""

    HW_PREFIX = "dvfs_"

    margin: Sourced[PosFloat] = _doc("safety factor on the predicted busy cycles of a tick (>= 1)")
    deadline_fraction: Sourced[PosFloat] = _doc("fraction of the tick the predicted work must finish in (0, 1]")
    history_ticks: Sourced[PosInt] = _doc("past ticks the load prediction looks at")

    @field_validator("margin")
    @classmethod
    def _is_safety_factor(cls, v: Sourced[float]) -> Sourced[float]:
        if v.value < 1.0:
            raise ValueError(f"got {v.value}; expected a safety factor >= 1")
        return v

    @field_validator("deadline_fraction")
    @classmethod
    def _is_fraction(cls, v: Sourced[float]) -> Sourced[float]:
        if v.value > 1.0:
            raise ValueError(f"got {v.value}; expected a fraction of the tick in (0, 1]")
        return v


class NocArch(_Section):
    """On-chip network: clock, per-hop latency, widths and energy."""

    HW_PREFIX = ""

    clock_mhz: Sourced[PosFloat] = _doc("NoC clock", hw="noc_clock_mhz")
    hop_latency_cycles: Sourced[NonNegFloat] = _doc("router+link latency per hop, NoC cycles")
    link_width_bits: Sourced[PosInt] = _doc("flit / link width")
    packet_bits: Sourced[PosInt] = _doc("bits of one multicast packet with 32-bit payload")
    injection_cycles: Sourced[NonNegFloat] = _doc("NoC cycles from comms unit to first router")
    ejection_cycles: Sourced[NonNegFloat] = _doc("NoC cycles from last router into the PE")
    energy_per_hop_pj: Sourced[NonNegFloat] = _doc("energy per packet per hop (router + link)",
                                                   hw="noc_energy_per_hop_pj")


class DmaArch(_Section):
    """Per-PE DMA engine."""

    HW_PREFIX = "dma_"

    issue_cycles: Sourced[NonNegFloat] = _doc("core cycles the firmware spends queueing one DMA request")
    setup_cycles: Sourced[NonNegFloat] = _doc("PE cycles from request to first byte moved")
    sram_bytes_per_cycle: Sourced[PosFloat] = _doc("SRAM<->SRAM throughput in PE cycles")
    energy_per_byte_pj: Sourced[NonNegFloat] = _doc("energy per byte moved SRAM<->SRAM")


class DramArch(_Section):
    """Off-chip LPDDR4 DRAM."""

    HW_PREFIX = "dram_"

    channels: Sourced[PosInt] = _doc("independent LPDDR4 interfaces")
    total_bandwidth_gb_s: Sourced[PosFloat] = _doc("sustained bandwidth over all channels, GB/s")
    latency_ns: Sourced[NonNegFloat] = _doc("access latency of a DMA block transfer")
    energy_per_byte_pj: Sourced[NonNegFloat] = _doc("energy per byte read or written (device + PHY)")
    interleave_bytes: Sourced[PosInt] = _doc("address interleave granule across channels")
    background_power_mw: Sourced[NonNegFloat] = _doc(
        "DRAM devices' standby + refresh power, drawn for the whole run (all channels)")


class BoardArch(_Section):
    """Chips on a board (s2sim/hw/board.py): their layout and the chip-to-chip links. One chip
    (``chips_x = chips_y = 1``) is the chip alone: no links, nothing of this section is used."""

    HW_PREFIX = "board_"

    chips_x: Sourced[PosInt] = _doc("chips along x of the board's chip grid")
    chips_y: Sourced[PosInt] = _doc("chips along y of the board's chip grid")
    topology: Sourced[Literal["hex_torus", "mesh"]] = _doc(
        "how chips are joined: hex_torus (6 links per chip: E, W, N, S, NE, SW, wrapping around) or mesh "
        "(4 links per chip, no wrap-around)")
    link_latency_ns: Sourced[NonNegFloat] = _doc(
        "one chip-to-chip link traversal: serial transmitter + receiver + the next chip's event router")
    link_bandwidth_gbit_s: Sourced[PosFloat] = _doc("payload rate of one direction of a chip-to-chip link")
    link_packet_bits: Sourced[PosInt] = _doc("bits one multicast packet occupies on a chip-to-chip link")
    link_energy_per_packet_pj: Sourced[NonNegFloat] = _doc("energy per packet per chip-to-chip link crossed")


class EnergyArch(_Section):
    """Energy-model conventions (what is folded into what)."""

    sram_access_included_in_core: Sourced[bool] = _doc(
        "true: core SRAM accesses are inside active_energy_per_cycle_pj, not counted separately")


class ArchConfig(_Section):
    """Whole-chip architecture: the single source of hardware numbers for the simulator."""

    name: str = Field(min_length=1, description="architecture name")
    description: str = Field(default="", description="free text")
    chip: ChipArch
    pe: PEArch
    performance_levels: list[PerformanceLevel] = Field(min_length=1, description="DVFS levels")
    default_performance_level: str = Field(description="level used when the run does not choose")
    pl_switch_ns: Sourced[NonNegFloat] = _doc("time to switch between performance levels")
    dvfs_policy: DvfsPolicyArch
    core_cycles: CoreCycles
    kernels: Kernels
    kernels_low: Kernels = Field(description="kernel cycles, low end of the Cortex-M4 timing-rule bracket")
    kernels_high: Kernels = Field(description="kernel cycles, high end of the Cortex-M4 timing-rule bracket")
    cycle_model: Literal["nominal", "low", "high"] = Field(
        default="nominal", description="which kernel cycle table a run charges: nominal (llvm-mca), low or high")
    accelerators: Accelerators
    noc: NocArch
    dma: DmaArch
    dram: DramArch
    energy: EnergyArch
    board: "BoardArch" = Field(default_factory=lambda: one_chip_board(),
                               description="chips on a board and their links (default: one chip)")

    _path: Any = PrivateAttr(default=None)

    @field_validator("performance_levels")
    @classmethod
    def _unique_levels(cls, v: list[PerformanceLevel]) -> list[PerformanceLevel]:
        names = [pl.name for pl in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate level name(s) {', '.join(dupes)}; expected unique names")
        return v

    @field_validator("default_performance_level")
    @classmethod
    def _names_a_level(cls, v: str, info: ValidationInfo) -> str:
        levels = [pl.name for pl in info.data.get("performance_levels") or []]
        if levels and v not in levels:
            raise ValueError(f"got {v!r}; expected one of: {', '.join(levels)}")
        return v

    # --- helpers --------------------------------------------------------------------------
    @property
    def n_pes(self) -> int:
        """Processing elements of the machine: qpe_count x pes_per_qpe on each of the board's chips."""
        return (self.chip.qpe_count.value * self.chip.pes_per_qpe.value
                * self.board.chips_x.value * self.board.chips_y.value)

    @property
    def path(self):
        """File this arch was loaded from (None if built in code)."""
        return self._path

    def performance_level(self, name: str | None = None) -> PerformanceLevel:
        """The named DVFS level (default level when name is None)."""
        name = name or self.default_performance_level
        for pl in self.performance_levels:
            if pl.name == name:
                return pl
        raise ConfigError(f"arch {self.name}", "performance_level", f"got {name!r}",
                          "one of: " + ", ".join(pl.name for pl in self.performance_levels))

    def kernel_table(self, cycle_model: str | None = None) -> Kernels:
        """The kernel cycle table of ``cycle_model`` (default: the arch's ``cycle_model``)."""
        model = cycle_model or self.cycle_model
        return {"nominal": self.kernels, "low": self.kernels_low, "high": self.kernels_high}[model]

    def kernel_cycles(self, name: str) -> float:
        """Calibrated cycles per iteration of kernel ``name`` under the arch's ``cycle_model``."""
        leaf = getattr(self.kernel_table(), name, None) if name in Kernels.model_fields else None
        if leaf is None:
            raise KeyError(f"unknown kernel {name!r}; known: {', '.join(Kernels.model_fields)}")
        return float(leaf.value)

    def provenance(self) -> dict[str, Sourced]:
        """Flat ``dotted.path -> Sourced`` for every sourced parameter (levels keyed by name)."""
        out: dict[str, Sourced] = {}
        _collect(self, "", out)
        return out


def one_chip_board() -> BoardArch:
    """The board of an arch file without a ``board`` section: the chip alone."""
    def leaf(value: Any) -> dict:
        return {"value": value, "source": "s2sim default: one chip, no chip-to-chip links", "confidence": "derived"}
    return BoardArch.model_validate({
        "chips_x": leaf(1), "chips_y": leaf(1), "topology": leaf("hex_torus"), "link_latency_ns": leaf(0.0),
        "link_bandwidth_gbit_s": leaf(1.0), "link_packet_bits": leaf(96), "link_energy_per_packet_pj": leaf(0.0)})


def _collect(node: Any, prefix: str, out: dict[str, Sourced]) -> None:
    if isinstance(node, Sourced):
        out[prefix] = node
    elif isinstance(node, BaseModel):
        for key in type(node).model_fields:
            _collect(getattr(node, key), f"{prefix}.{key}" if prefix else key, out)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            label = getattr(item, "name", None) or str(i)
            _collect(item, f"{prefix}.{label}", out)


# ---- the hardware model's flat view, generated from the registry ----------------------------------
class HwLeaf(typing.NamedTuple):
    """One number the hardware model receives: its flat name, arch path and plain Python type."""

    name: str
    path: str
    type: Any


def hw_leaves() -> list[HwLeaf]:
    """Every sourced leaf the hardware model receives by name, in registry order.

    Top-level leaves (``pl_switch_ns``) keep their name; a section's leaves get its ``HW_PREFIX``
    (or the field's own ``hw=`` name). Tables (core cycles, kernels), the performance levels and
    sections without a prefix (energy conventions) are not in this list.
    """
    out: list[HwLeaf] = []
    for key, field in ArchConfig.model_fields.items():
        annotation = field.annotation
        if _sourced_type(annotation) is not None:
            out.append(HwLeaf(key, key, _sourced_type(annotation)))
        elif isinstance(annotation, type) and issubclass(annotation, _Section) and annotation.HW_PREFIX is not None:
            for name, leaf in annotation.model_fields.items():
                flat = (leaf.json_schema_extra or {}).get("hw") or annotation.HW_PREFIX + name
                out.append(HwLeaf(flat, f"{key}.{name}", _sourced_type(leaf.annotation)))
    return out


def level_leaves() -> list[HwLeaf]:
    """The numbers of one performance level (``performance_levels.<name>.<leaf>``), in registry order."""
    return [HwLeaf(name, name, _sourced_type(f.annotation)) for name, f in PerformanceLevel.model_fields.items()
            if _sourced_type(f.annotation) is not None]


def _sourced_type(annotation: Any) -> Any:
    """``int`` for ``Sourced[PosInt]``, ``tuple`` for a list value; None when not a ``Sourced`` leaf."""
    meta = getattr(annotation, "__pydantic_generic_metadata__", None)
    if not meta or meta.get("origin") is not Sourced:
        return None
    inner = meta["args"][0]
    if typing.get_origin(inner) is typing.Annotated:
        inner = typing.get_args(inner)[0]
    return tuple if typing.get_origin(inner) is list else inner
