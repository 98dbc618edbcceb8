"""Per-core programs for imported (NIR) graphs: a spike-raster source and a per-neuron LIF core.

``NeuronCore`` generalises ``LifCore`` to the neuron models NIR defines: every neuron has its own
decay, input gain, leak constant, threshold and reset, an optional synaptic current state (CUBA),
and a constant bias input; non-spiking populations (LI) keep and record their voltage only. The
equations and their order are those of ``s2sim/nir_import.py``'s docstring. Synaptic rows and the
packet handlers are ``LifCore``'s.
"""
from __future__ import annotations

import numpy as np

from s2sim.runtime import Core, Firmware

from .firmware import KEY_SHIFT, LifCore


class RasterSource(Firmware):
    """Replays a given spike raster ``[ticks, n]`` (silent after its last row)."""

    def __init__(self, raster: np.ndarray, tick_ns: float, phase_ns: float):
        self.raster, self.tick_ns, self.phase_ns = raster, tick_ns, phase_ns
        self.n = raster.shape[1]
        self.spikes: list[np.ndarray] = []

    def on_start(self, core: Core) -> None:
        core.sram.reserve("source_state", 64, "state")  # the current row pointer and tick count
        core.set_timer(self.tick_ns, self.phase_ns)

    def on_timer(self, core: Core, tick: int) -> None:
        fired = np.flatnonzero(self.raster[tick]) if tick < len(self.raster) else np.zeros(0, np.int64)
        # the host streams the raster as per-tick lists of spiking indices: a load per spike
        core.charge("input", load=len(fired) + 1, int_alu=len(fired), loop=len(fired))
        if len(fired):
            base = core.pe_id << KEY_SHIFT
            core.send_mc_many([base | i for i in fired.tolist()])
        self.spikes.append(fired)


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
        names = ["a", "g", "c", "bias"] + (["v_threshold", "v_reset"] if self.spiking else [])
        if c["a_syn"] is not None:
            names += ["a_syn", "g_syn"]
            self.i_syn = core.sram.alloc("i_syn", self.n, np.float32, "state")
        self.p = {k: core.sram.adopt(f"neuron_{k}", c[k].astype(np.float32), "params") for k in names}
        self.has_syn = c["a_syn"] is not None

    def on_timer(self, core: Core, tick: int) -> None:
        n, buf, v, p = self.n, self.inp[tick & 1], self.v, self.p
        buf += p["bias"]
        if self.has_syn:
            self.i_syn *= p["a_syn"]
            self.i_syn += p["g_syn"] * buf
            drive = self.i_syn
            core.charge("neuron", fmac=n, fmul=n, load=3 * n, store=n)
        else:
            drive = buf
        v *= p["a"]
        v += p["c"] + p["g"] * drive
        buf[:] = 0
        core.kernel("neuron", "lif_neuron_update", n)
        core.charge("neuron", fadd=2 * n, fmac=n, load=3 * n)  # bias, leak constant, per-neuron gain
        if not self.spiking:
            self.voltages.append(v.copy())
            return
        fired = np.flatnonzero(v > p["v_threshold"])
        v[fired] = p["v_reset"][fired]
        core.charge("neuron", load=len(fired), store=len(fired))
        if self.send and len(fired):
            base = core.pe_id << KEY_SHIFT
            core.send_mc_many([base | i for i in fired.tolist()])
        self.spikes.append(fired)
        self.voltages.append(v.copy())
