"""Per-core programs of py-spinnaker2's neuron models: ``lif``, ``lif_no_delay``, ``lif_curr_exp``,
``lif_curr_exp_no_delay`` (one class, ``S2NeuronCore``); ``spike_list`` sources are
``lif_inference.graph_firmware.RasterSource``.

Why a separate core: the py-spinnaker2 models differ from s2sim's NIR ``NeuronCore`` in ways that
change spikes: per-synapse delays, integer weights, reset by subtraction, separate excitatory and
inhibitory synaptic currents. The semantics (sources: the NIR-to-SpiNNaker2 converter of py-spinnaker2,
``convert_LIF`` / ``convert_CubaLIF``, as copied in public repositories; py-spinnaker2's
``examples/snn/lif_neuron.py`` comments; see ``s2sim/spinnaker2/README.md``):

* packet handler: a spike of presynaptic neuron ``i`` sent in tick ``t`` adds its row's weights to
  the ring-buffer slot of tick ``t + 1 + delay`` (py-spinnaker2: "actual delay on the hardware is
  delay+1"); ``_no_delay`` models have no delay field: ``t + 1``. ``lif_curr_exp*`` keep positive
  weights (excitatory) and negative ones (inhibitory) in two ring buffers.
* timer tick ``t``, per neuron, with ``x`` this tick's slot (then cleared):
  ``lif*``: ``v = alpha_decay * v + x + i_offset``;
  ``lif_curr_exp*``: ``I_exc = exc_decay * I_exc + x_exc``, ``I_inh = inh_decay * I_inh + x_inh``,
  ``v = alpha_decay * v + I_exc + I_inh + i_offset`` (the synapse first, then the membrane with the
  new current: the order the converter's mapping of NIR's CubaLIF implies);
  spike if ``v > threshold``; then ``v -= threshold`` (``reset_by_subtraction``) or ``v = v_reset``
  (``reset_to_v_reset``); ``v`` is recorded after the reset.

Costs: the calibrated ``event_add`` and ``lif_neuron_update`` kernels (``lif_inference/kernels``)
plus counted operations for what these models add (delay slot, second current, reset choice).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from s2sim.runtime import Core, Firmware

KEY_SHIFT = 16
#: py-spinnaker2: delays 0..7 (3 bits), arriving delay + 1 ticks later, so 9 ticks ahead at most;
#: s2sim keeps 16 slots (a power of two: the slot is an AND). Estimate: the slot count on the chip is
#: not in the sources.
DELAY_SLOTS = 16

ROW_CALL_OPS = {"int_alu": 3, "load": 1, "branch": 1}  # per received packet: setup, row lookup, return
DELAY_SLOT_OPS = {"int_alu": 2}  # per synapse: (tick + 1 + delay) & (slots - 1)
SYN_TYPE_OPS = {"int_alu": 1}  # per synapse of a curr_exp model: the exc/inh bit selects the buffer
NEURON_OPS = {"fadd": 1, "load": 2, "store": 1}  # per neuron on top of lif_neuron_update: i_offset, clear slot
CURRENT_OPS = {"fmac": 2, "fadd": 1, "load": 4, "store": 2}  # per neuron: both currents decay + input, sum
RESET_OPS = {"load": 1, "store": 1, "fadd": 1}  # per neuron that fires


@dataclass
class ModelKind:
    delays: bool
    currents: bool

    @property
    def slots(self) -> int:
        return DELAY_SLOTS if self.delays else 2


MODELS = {
    "lif": ModelKind(delays=True, currents=False),
    "lif_no_delay": ModelKind(delays=False, currents=False),
    "lif_curr_exp": ModelKind(delays=True, currents=True),
    "lif_curr_exp_no_delay": ModelKind(delays=False, currents=True),
}


@dataclass
class S2Rows:
    """Synaptic rows of one PE: row ``i`` (presynaptic index ``i``) holds ``post``, ``weight`` and
    ``delay`` of ``[indptr[i], indptr[i+1])``; targets local to the PE."""

    indptr: np.ndarray  # int64 [n_pre + 1]
    post: np.ndarray  # int32
    weight: np.ndarray  # float32 (integer values: py-spinnaker2 weights are integers)
    delay: np.ndarray  # int32, 0 for _no_delay models

    @property
    def n_pre(self) -> int:
        return len(self.indptr) - 1


class S2NeuronCore(Firmware):
    """One slice of a py-spinnaker2 neuron population; ``params``: per-neuron float32 vectors."""

    def __init__(self, n: int, kind: ModelKind, rows: S2Rows, row_base: dict[int, int],
                 params: dict[str, np.ndarray], reset_by_subtraction: bool, tick_ns: float,
                 phase_ns: float, send: bool):
        self.n, self.kind, self.host_rows, self.row_base = n, kind, rows, row_base
        self.host_params, self.subtract = params, reset_by_subtraction
        self.tick_ns, self.phase_ns, self.send = tick_ns, phase_ns, send
        self.spikes: list[np.ndarray] = []
        self.voltages: list[np.ndarray] = []

    def on_start(self, core: Core) -> None:
        r, n, kind = self.host_rows, self.n, self.kind
        # one 32-bit word per synapse (target, delay, weight packed; estimate) and a row index
        core.sram.reserve("synapse_words", 4 * len(r.post), "weights")
        core.sram.reserve("row_index", 4 * (r.n_pre + 1), "weights")
        self.indptr, self.post = r.indptr.tolist(), r.post.astype(np.intp)
        self.weight, self.delay = r.weight.astype(np.float32), r.delay.astype(np.intp)
        self.row_len = np.diff(r.indptr).tolist()
        del self.host_rows
        names = ["alpha_decay", "i_offset", "threshold", "v_reset"]
        if kind.currents:
            names += ["exc_decay", "inh_decay"]
        self.p = {k: core.sram.adopt(f"param_{k}", self.host_params[k].astype(np.float32), "params")
                  for k in names}
        self.v = core.sram.adopt("v", self.host_params["v_init"].astype(np.float32).copy(), "state")
        buffers = 2 if kind.currents else 1
        self.ring = core.sram.alloc("ring_buffers", (buffers, kind.slots, n), np.float32, "buffers")
        if kind.currents:
            self.i_syn = core.sram.alloc("i_exc_inh", (2, n), np.float32, "state")
        core.set_timer(self.tick_ns, self.phase_ns)

    def on_packet(self, core: Core, key: int, payload) -> None:
        self.on_packet_burst(core, [key], [payload])

    def on_packet_burst(self, core: Core, keys, payloads) -> None:
        # all packets of a burst come from one source PE (one multicast tree)
        base, mask = self.row_base[keys[0] >> KEY_SHIFT], self.kind.slots - 1
        arrive = core.tick + 1
        synapses = 0
        for k in keys:
            i = base + (k & 0xFFFF)
            a, b = self.indptr[i], self.indptr[i + 1]
            if a == b:
                continue
            post, w = self.post[a:b], self.weight[a:b]
            slot = (arrive + self.delay[a:b]) & mask
            if self.kind.currents:  # negative weights: the inhibitory buffer
                np.add.at(self.ring, ((w < 0).astype(np.intp), slot, post), w)
            else:  # add.at: merged projections may repeat a (target, slot) within a row
                np.add.at(self.ring[0], (slot, post), w)
            synapses += b - a
        core.kernel("synapses", "event_add", synapses)
        extra = {op: c * synapses for op, c in DELAY_SLOT_OPS.items()} if self.kind.delays else {}
        if self.kind.currents:
            for op, c in SYN_TYPE_OPS.items():
                extra[op] = extra.get(op, 0) + c * synapses
        for op, c in ROW_CALL_OPS.items():
            extra[op] = extra.get(op, 0) + c * len(keys)
        core.charge("synapses", **extra)

    def on_timer(self, core: Core, tick: int) -> None:
        n, p, v = self.n, self.p, self.v
        slot = tick & (self.kind.slots - 1)
        if self.kind.currents:
            i_exc, i_inh = self.i_syn
            i_exc *= p["exc_decay"]
            i_exc += self.ring[0, slot]
            i_inh *= p["inh_decay"]
            i_inh += self.ring[1, slot]
            drive = i_exc + i_inh
            core.charge("neuron", **{op: c * n for op, c in CURRENT_OPS.items()})
        else:
            drive = self.ring[0, slot]
        v *= p["alpha_decay"]
        v += drive
        v += p["i_offset"]
        self.ring[:, slot] = 0
        core.kernel("neuron", "lif_neuron_update", n)
        core.charge("neuron", **{op: c * n for op, c in NEURON_OPS.items()})
        fired = np.flatnonzero(v > p["threshold"])
        if self.subtract:
            v[fired] -= p["threshold"][fired]
        else:
            v[fired] = p["v_reset"][fired]
        core.charge("neuron", **{op: c * len(fired) for op, c in RESET_OPS.items()})
        if self.send and len(fired):
            base = core.pe_id << KEY_SHIFT
            core.send_mc_many([base | i for i in fired.tolist()])
        self.spikes.append(fired)
        self.voltages.append(v.copy())


# ---- what one slice needs: the mapper sizes slices with these ------------------------------------
def slice_sram_bytes(kind: ModelKind, n: int, synapses: int, n_pre: int) -> int:
    """SRAM an ``S2NeuronCore`` of ``n`` neurons takes: per neuron ``v`` and 4 parameters (+2 decays
    and 2 currents for curr_exp), the ring buffers; a word per synapse; a row offset per presynaptic
    neuron (+1)."""
    buffers = 2 if kind.currents else 1
    floats_per_neuron = 5 + (4 if kind.currents else 0) + buffers * kind.slots
    return 4 * floats_per_neuron * n + 4 * synapses + 4 * (n_pre + 1)


def slice_worst_tick_cycles(cost, irq_cycles: float, send_packet_cycles: float, kind: ModelKind, n: int,
                            synapses: int, n_pre: int, send: bool) -> float:
    """Cycles of one tick when every presynaptic neuron sends and every neuron fires."""
    per_syn = dict(DELAY_SLOT_OPS) if kind.delays else {}
    if kind.currents:
        per_syn = {op: per_syn.get(op, 0) + c for op, c in SYN_TYPE_OPS.items()}
    cycles = n_pre * (irq_cycles + cost.cycles(ROW_CALL_OPS)) + irq_cycles
    cycles += cost.kernel("event_add", synapses) + synapses * cost.cycles(per_syn)
    cycles += cost.kernel("lif_neuron_update", n) + n * cost.cycles(NEURON_OPS)
    if kind.currents:
        cycles += n * cost.cycles(CURRENT_OPS)
    cycles += n * cost.cycles(RESET_OPS) + (n * send_packet_cycles if send else 0)
    return cycles
