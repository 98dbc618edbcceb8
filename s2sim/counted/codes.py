"""The codes the counted kernel's loop and its driver share (plain Python: no numba needed to read them)."""
from __future__ import annotations

#: why a tick left the counted model (index = the code the loop returns)
REASONS = ("ok", "timer callback ran into the next tick", "handler ran into the next tick",
           "packet arrived in the next tick", "TX queue full", "send loop split (gap between sends)",
           "packet dropped (no route or no program)", "packet to a PE the counted kernel does not model",
           "event at the same instant as another (order not modelled)",
           "a tick the loop does not model (e-prop: the learning tick, a step waiting for its input, a DMA on a call's first tick;"
           " cue accumulation: also a trial's first step and the learning window; a DMA landing late;"
           " EventProp: the reduce, root and weight ticks)")
OK, R_TIMER, R_HANDLER, R_ARRIVAL, R_TX, R_GAP, R_DROP, R_DEST, R_TIE, R_UNMODELLED = range(len(REASONS))

# count ids a cost line scales with (0: once per call)
C_ONCE, C_NEURONS, C_SPIKES, C_SYNAPSES, C_ROWS, C_OWN_SPIKES, C_INPUT_SPIKES, C_PACKETS, C_SEARCH = range(9)
N_COUNTS = 9
# what a unit of the loop is: a spike source, LIF core, NIR NeuronCore, or a core whose numerics ran first
K_SOURCE, K_LIF, K_NEURON, K_PRECOMPUTED = range(4)
# rows of a NeuronCore's per-neuron coefficients (``coef``)
C_BIAS, C_A, C_C, C_G, C_A_SYN, C_G_SYN, C_VTH, C_VRESET = range(8)
COEF_NAMES = ("bias", "a", "c", "g", "a_syn", "g_syn", "v_threshold", "v_reset")
