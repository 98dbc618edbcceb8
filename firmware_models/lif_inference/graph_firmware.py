"""Per-core programs for imported (NIR) graphs: input sources and a per-neuron LIF core.

``NeuronCore`` generalises ``LifCore`` to the neuron models NIR defines: every neuron has its own
decay, input gain, leak constant, threshold and reset, an optional synaptic current state (CUBA),
and a constant bias input; non-spiking populations (LI) keep and record their voltage only. The
equations and their order are those of ``s2sim/nir_import.py``'s docstring. Synaptic rows and the
packet handlers are ``LifCore``'s; a packet carrying a payload (from a ``DenseSource``) scales the row
it selects by that value.

Inputs enter the chip in one of two ways. A spike raster (``RasterSource``) is streamed by the host as
per-tick lists of spiking indices: one payload-free packet per spike. Dense (real-valued) input
(``DenseSource``) is loaded by the host into DRAM as ``[ticks, n]`` float32; the source PE DMAs each
tick's row into a double buffer one tick ahead and sends one packet per non-zero element with the
float32 value as payload, so the first layer receives it as a current ``W @ x``.
"""
from __future__ import annotations

import numpy as np

from s2sim.runtime import Core, CostTable, Firmware, kernel_line, op_line

from .firmware import KEY_SHIFT, LifCore

# Operation counts the handlers below charge; the mapper's worst-case budget (end of file) uses them too.
ROW_CALL_OPS = {"int_alu": 3, "load": 1, "branch": 1}  # per received packet, as LifCore's handlers charge
NEURON_OPS = {"fadd": 2, "fmac": 1, "load": 3}  # per neuron and tick on top of lif_neuron_update
SYNAPSE_STATE_OPS = {"fmac": 1, "fmul": 1, "load": 3, "store": 1}  # per neuron with a synaptic current
RESET_OPS = {"load": 1, "store": 1}  # per neuron that fires
#: A dense value's row: LifCore's row add plus a multiply per synapse.
PAYLOAD_SYNAPSE_COSTS = CostTable(kernel_line("synapses", "event_add", "synapses"),
                                  op_line("synapses", "synapses", fmul=1),
                                  op_line("synapses", "rows", **ROW_CALL_OPS))


#: A raster source's tick: the row pointer, then per spike index a load, its key and the loop.
RASTER_COSTS = CostTable(op_line("input", None, load=1), op_line("input", "spikes", load=1, int_alu=1, loop=1))


def neuron_tick_costs(has_syn: bool) -> CostTable:
    """A ``NeuronCore`` tick: the synaptic current (CUBA), lif_neuron_update with bias, leak and
    per-neuron gain, and the reset of each neuron that fires."""
    lines = [op_line("neuron", "neurons", **SYNAPSE_STATE_OPS)] if has_syn else []
    return CostTable(*lines, kernel_line("neuron", "lif_neuron_update", "neurons"),
                     op_line("neuron", "neurons", **NEURON_OPS), op_line("neuron", "spikes", **RESET_OPS))


class RasterSource(Firmware):
    """Replays a given spike raster ``[ticks, n]`` (silent after its last row)."""

    def __init__(self, raster: np.ndarray, tick_ns: float, phase_ns: float):
        self.raster, self.tick_ns, self.phase_ns = raster, tick_ns, phase_ns
        self.n = raster.shape[1]
        self.spikes: list[np.ndarray] = []

    def on_start(self, core: Core) -> None:
        core.sram.reserve("source_state", 64, "state")  # the current row pointer and tick count
        self.input_costs = RASTER_COSTS.priced(core)
        core.set_timer(self.tick_ns, self.phase_ns)

    def on_timer(self, core: Core, tick: int) -> None:
        fired = np.flatnonzero(self.raster[tick]) if tick < len(self.raster) else np.zeros(0, np.int64)
        # the host streams the raster as per-tick lists of spiking indices: a load per spike
        self.input_costs.charge(spikes=len(fired))
        if len(fired):
            base = core.pe_id << KEY_SHIFT
            core.send_mc_many([base | i for i in fired.tolist()])
        self.spikes.append(fired)


class DenseSource(Firmware):
    """Sends a dense input ``[ticks, n]`` (DRAM buffer ``dram_name``): per tick one payload packet per
    non-zero value. Row ``t + 1`` is DMA'd into the spare half of a double buffer during tick ``t``;
    ``late_rows`` counts ticks whose row had not landed in time (the chip would send stale values;
    the simulation sends the right ones and reports the count)."""

    def __init__(self, values: np.ndarray, dram_name: str, tick_ns: float, phase_ns: float):
        self.values, self.dram_name = values.astype(np.float32), dram_name
        self.tick_ns, self.phase_ns = tick_ns, phase_ns
        self.n = values.shape[1]
        self.spikes: list[np.ndarray] = []  # indices sent, per tick (what a raster source records)
        self.late_rows = 0

    def on_start(self, core: Core) -> None:
        core.sram.reserve("source_state", 64, "state")
        self.rows = core.sram.alloc("input_rows", (2, self.n), np.float32, "buffers")
        self.landed: set[int] = set()
        if len(self.values):
            self.rows[0] = self.values[0]  # the host writes row 0 with the program
            self.landed.add(0)
        core.set_timer(self.tick_ns, self.phase_ns)

    def on_dma_done(self, core: Core, tag: int) -> None:
        self.landed.add(tag)

    def on_timer(self, core: Core, tick: int) -> None:
        n = self.n
        if tick + 1 < len(self.values):
            core.dma_read(tick + 1, self.dram_name, (tick + 1) * n, n, self.rows[(tick + 1) & 1])
        if tick >= len(self.values):
            self.spikes.append(np.zeros(0, np.int64))
            return
        if tick not in self.landed:
            self.late_rows += 1
            self.rows[tick & 1] = self.values[tick]
        row = self.rows[tick & 1]
        sent = np.flatnonzero(row)
        core.charge("input", load=n, fcmp=n, loop=n)  # scan the row for non-zero values
        base = core.pe_id << KEY_SHIFT
        for i in sent:
            core.send_mc(base | int(i), row[i])
        self.spikes.append(sent)


class NeuronCore(LifCore):
    """One slice of an imported population; ``coeffs`` holds this slice's per-neuron vectors."""

    def __init__(self, n: int, rows, row_pes: dict[int, int], coeffs: dict[str, np.ndarray | None],
                 spiking: bool, tick_ns: float, phase_ns: float, send: bool = True):
        super().__init__(n, rows, row_pes, np.float32(0), 0.0, "zero", tick_ns, phase_ns, True, send)
        self.coeffs, self.spiking = coeffs, spiking
        self.voltages: list[np.ndarray] = []

    def on_start(self, core: Core) -> None:
        super().on_start(core)
        c = self.coeffs
        self.tick_costs = neuron_tick_costs(c["a_syn"] is not None).priced(core)
        self.payload_synapse_costs = PAYLOAD_SYNAPSE_COSTS.priced(core)
        names = ["a", "g", "c", "bias"] + (["v_threshold", "v_reset"] if self.spiking else [])
        if c["a_syn"] is not None:
            names += ["a_syn", "g_syn"]
            self.i_syn = core.sram.alloc("i_syn", self.n, np.float32, "state")
        self.p = {k: core.sram.adopt(f"neuron_{k}", c[k].astype(np.float32), "params") for k in names}
        self.has_syn = c["a_syn"] is not None

    def on_packet(self, core: Core, key: int, payload) -> None:
        if payload is None:
            return super().on_packet(core, key, payload)
        self.on_packet_burst(core, [key], [payload])

    def on_packet_burst(self, core: Core, keys, payloads) -> None:
        if payloads[0] is None:  # spikes (all packets of a burst come from one source PE)
            return super().on_packet_burst(core, keys, payloads)
        base = self.row_base[keys[0] >> KEY_SHIFT]
        buf, row_len = self.inp[(core.tick + 1) & 1], self.row_len
        synapses = 0
        for k, x in zip(keys, payloads):  # a dense value: its row scaled by the payload
            i, x = base + (k & 0xFFFF), np.float32(x)
            if self.dense_rows is not None:
                buf += x * self.dense_rows[i]
            else:
                a = self.row_start[i]
                for j in range(a, a + row_len[i]):
                    buf[self.post_list[j]] += x * self.weight_list[j]
            synapses += row_len[i]
        self.payload_synapse_costs.charge(synapses=synapses, rows=len(keys))

    def on_timer(self, core: Core, tick: int) -> None:
        n, buf, v, p = self.n, self.inp[tick & 1], self.v, self.p
        buf += p["bias"]
        if self.has_syn:
            self.i_syn *= p["a_syn"]
            self.i_syn += p["g_syn"] * buf
            drive = self.i_syn
        else:
            drive = buf
        v *= p["a"]
        v += p["c"] + p["g"] * drive
        buf[:] = 0
        if not self.spiking:
            self.tick_costs.charge(neurons=n, spikes=0)
            self.voltages.append(v.copy())
            return
        fired = np.flatnonzero(v > p["v_threshold"])
        v[fired] = p["v_reset"][fired]
        self.tick_costs.charge(neurons=n, spikes=len(fired))
        if self.send and len(fired):
            base = core.pe_id << KEY_SHIFT
            core.send_mc_many([base | i for i in fired.tolist()])
        self.spikes.append(fired)
        self.voltages.append(v.copy())


# ---- what one slice needs: the mapper sizes slices with these ------------------------------------
def slice_sram_bytes(n: int, synapses: int, n_pre: int, has_syn: bool, spiking: bool) -> int:
    """SRAM a ``NeuronCore`` of ``n`` neurons allocates: per neuron ``v``, two input buffers and its
    coefficients (a, g, c, bias; threshold, reset if spiking; i_syn, a_syn, g_syn if CUBA); per
    synapse a float32 weight and a uint16 target; a uint32 row offset per presynaptic neuron (+1)."""
    floats_per_neuron = 7 + (2 if spiking else 0) + (3 if has_syn else 0)
    return 4 * floats_per_neuron * n + 6 * synapses + 4 * (n_pre + 1)


def slice_worst_tick_cycles(cost, irq_cycles: float, send_packet_cycles: float, n: int, synapses: int,
                            n_pre: int, payload_synapses: int, has_syn: bool, spiking: bool,
                            send: bool) -> float:
    """Cycles of one tick of a ``NeuronCore`` slice when every presynaptic neuron sends a packet and
    every neuron fires (at most one of each per tick): the bound the mapper keeps within the tick.

    ``cost``: the run's ``CostModel``; ``payload_synapses``: synapses fed by dense (payload) inputs,
    which cost a multiply more each."""
    cycles = n_pre * (irq_cycles + cost.cycles(ROW_CALL_OPS)) + irq_cycles  # packet handlers + timer
    cycles += cost.kernel("event_add", synapses) + cost.cycles({"fmul": payload_synapses})
    cycles += cost.kernel("lif_neuron_update", n) + n * cost.cycles(NEURON_OPS)
    if has_syn:
        cycles += n * cost.cycles(SYNAPSE_STATE_OPS)
    if spiking:
        cycles += n * cost.cycles(RESET_OPS) + (n * send_packet_cycles if send else 0)
    return cycles
