"""The EventProp layer group's forward step (``LayerGroup._forward``) as one compiled loop
(``s2sim.runtime.jit``) that gives the numpy statements' float32 results bit for bit.

Per copy and neuron: the input drive sum_i s_in[i] W[j, i] over the inputs that spiked, presynaptic index
ascending (the numpy formulation's cumulative sum over the inputs any copy saw spike adds only signed
zeros for the others, which change no nonzero sum, and its trailing ``+ 0`` makes a -0 a +0, as here),
then I = a I + drive, V = b V + (1 - b) I, each product and sum rounded once in that order (no FMA:
``s2sim.runtime.jit``). The threshold test and the history stay numpy (they raise on overflow).
tests/firmware_models/eventprop/test_eventprop_numerics.py holds the two equal.
"""
from __future__ import annotations

import numpy as np

from s2sim.runtime.jit import jit


@jit
def forward_drive(buf, W, I, V, a, b, omb, n_in_spikes):
    """In place: ``I`` = a I + W s_in and ``V`` = b V + omb I for every copy ([C, n]); ``buf`` [C, n_in] is
    consumed (zeroed) and its spike count per copy written to ``n_in_spikes`` [C]."""
    C, n, n_in = W.shape
    zero = np.float32(0.0)
    for c in range(C):
        count = 0
        for i in range(n_in):
            if buf[c, i] != zero:
                count += 1
        n_in_spikes[c] = count
        for j in range(n):
            s = zero
            if count:
                for i in range(n_in):
                    x = buf[c, i]
                    if x != zero:
                        s = s + x * W[c, j, i]
            s = s + zero
            cur = a * I[c, j] + s
            I[c, j] = cur
            V[c, j] = b * V[c, j] + omb * cur
        for i in range(n_in):
            buf[c, i] = zero
