"""Cue accumulation's heaviest step statements, twice: numpy (the rule, as ``group.py`` states it) and one
compiled loop (``s2sim.runtime.jit``) that gives the same float32 results bit for bit.

Per step of §5.3, over ``[member, pre, neuron]``: the filtered eligibility ē ← κ·ē + ε ⊗ h and, in the
learning window, the gradient G += ē·L. The loop computes each synapse's two roundings in numpy's
order without the [member, pre, neuron] temporary (tests/firmware_models/eprop_lif/test_cue_numerics.py).
"""
from __future__ import annotations

import numpy as np

from s2sim.runtime.jit import jit


def trace_and_gradient_numpy(eps, h, ebar, kappa, window, learning_signal, grad, outer) -> None:
    """ē ← κ·ē + ε ⊗ h; in the window G += ē·L. ``eps`` [m, P], ``h`` and ``learning_signal`` [m, N],
    ``ebar``, ``grad`` and the scratch ``outer`` [m, P, N]."""
    ebar *= kappa
    ebar += np.multiply(eps[:, :, None], h[:, None, :], out=outer)
    if window:
        grad += np.multiply(ebar, learning_signal[:, None, :], out=outer)


@jit
def trace_and_gradient(eps, h, ebar, kappa, window, learning_signal, grad):
    """``trace_and_gradient_numpy`` as one loop (no scratch), bit for bit; ``grad`` and
    ``learning_signal`` are untouched outside the window."""
    for m in range(ebar.shape[0]):
        h_m, ls_m = h[m], learning_signal[m]
        for i in range(ebar.shape[1]):
            e_i = eps[m, i]
            eb_r, g_r = ebar[m, i], grad[m, i]
            if window:
                for j in range(eb_r.shape[0]):
                    eb = eb_r[j] * kappa + e_i * h_m[j]
                    eb_r[j] = eb
                    g_r[j] += eb * ls_m[j]
            else:
                for j in range(eb_r.shape[0]):
                    eb_r[j] = eb_r[j] * kappa + e_i * h_m[j]
