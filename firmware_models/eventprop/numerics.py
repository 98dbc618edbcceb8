"""The EventProp layer group's forward step (``LayerGroup._forward``) as one compiled loop
(``s2sim.runtime.jit``) that gives the numpy statements' float32 results bit for bit.

Per copy and neuron: the input drive sum_i s_in[i] W[j, i] over the inputs that spiked, presynaptic index
ascending (the numpy formulation's cumulative sum over the inputs any copy saw spike adds only signed
zeros for the others, which change no nonzero sum, and its trailing ``+ 0`` makes a -0 a +0, as here),
then I = a I + drive, V = b V + (1 - b) I, each product and sum rounded once in that order (no FMA:
``s2sim.runtime.jit``). The threshold test and the spike histories are compiled loops too
(``fire_and_record``, ``record_input_history``: slots in ``np.nonzero`` order; the caller raises on overflow).
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


@jit
def backward_step(lV, lI, W, a, oma, b, theta, vdot_eps, ci, ii, errs, cs, js, hs, err_cur, is_output, first, gloss,
                  t1, hs_I, hs_V, acc, new_lV, new_lI):
    """One adjoint step of every copy (``LayerGroup._backward`` without loss shaping), bit for bit:

    * ``errs`` [q] = sum_j (lV - lI)[c, j] W[c, j, i] for each input spike q = (``ci``, ``ii``), postsynaptic
      index ascending from +0 (when ``errs`` is not empty: the layer sends error events);
    * ``new_lI`` = a lI + oma lV, ``new_lV`` = b lV, then at each own spike of step t1 = t + 1
      (``cs``, ``js``, history slot ``hs``) new_lV = b lV + (theta lV + g) / ((I - Vpre) + eps), g the error
      events received (plus dL/dt at an output's first spike);
    * ``err_cur`` consumed (zeroed); ``acc`` [c, :, i] += new_lI [c, :] at each input spike.
    """
    C, n = lV.shape
    zero = np.float32(0.0)
    for q in range(errs.shape[0]):
        c = ci[q]
        i = ii[q]
        e = zero
        for j in range(n):
            e = e + (lV[c, j] - lI[c, j]) * W[c, j, i]
        errs[q] = e
    for c in range(C):
        for j in range(n):
            new_lI[c, j] = a * lI[c, j] + oma * lV[c, j]
            new_lV[c, j] = b * lV[c, j]
    for q in range(cs.shape[0]):
        c = cs[q]
        j = js[q]
        h = hs[q]
        g = err_cur[c, j]
        if is_output and first[c, j] == t1:
            g = g + gloss[c, j]
        vdot = (hs_I[c, h] - hs_V[c, h]) + vdot_eps
        new_lV[c, j] = b * lV[c, j] + (theta * lV[c, j] + g) / vdot
    for c in range(C):
        for j in range(n):
            err_cur[c, j] = zero
    for q in range(ci.shape[0]):
        c = ci[q]
        i = ii[q]
        for j in range(n):
            acc[c, j, i] = acc[c, j, i] + new_lI[c, j]


@jit
def fire_and_record(V, I, theta, t, hcount, hs_step, hs_n, hs_I, hs_V, first, is_output, fired, rows, idx):
    """The threshold test and the spike history of ``LayerGroup._forward`` in one pass: every (copy, neuron) with
    V > theta, copy then neuron ascending (``np.nonzero``), gets its next history slot (step, neuron, I, V),
    an output layer's first-spike step, and is written to ``fired`` [C, n] and ``rows``/``idx``. Returns the
    spikes, or -1 - copy of the first copy whose history would overflow (then nothing is written)."""
    C, n = V.shape
    capacity = hs_step.shape[1]
    total = 0
    for c in range(C):
        m = 0
        for j in range(n):
            if V[c, j] > theta:
                m += 1
        if hcount[c] + m > capacity:
            return -1 - c
        total += m
    k = 0
    for c in range(C):
        for j in range(n):
            v = V[c, j]
            if v > theta:
                fired[c, j] = True
                pos = hcount[c]
                hcount[c] = pos + 1
                hs_step[c, pos] = t
                hs_n[c, pos] = j
                hs_I[c, pos] = I[c, j]
                hs_V[c, pos] = v
                if is_output and t < first[c, j]:
                    first[c, j] = t
                rows[k] = c
                idx[k] = j
                k += 1
    return total


@jit
def record_input_history(rows, idx, step, hicount, hi_step, hi_idx):
    """``LayerGroup.record_inputs``' history: each input spike (copy ``rows``, ascending; input ``idx``) gets its
    copy's next slot (step, input). Returns 0, or -1 - copy of the first copy whose history would overflow
    (then nothing is written)."""
    C, capacity = hi_step.shape
    added = np.zeros(C, np.int64)
    for k in range(rows.size):
        added[rows[k]] += 1
    for c in range(C):
        if hicount[c] + added[c] > capacity:
            return -1 - c
    for k in range(rows.size):
        c = rows[k]
        pos = hicount[c]
        hicount[c] = pos + 1
        hi_step[c, pos] = step
        hi_idx[c, pos] = idx[k]
    return 0


@jit
def index_by_step(steps, count, n_at, rows, cols, at):
    """The first ``count[c]`` entries of each copy's history (``steps`` [C, capacity]) ordered by step, copy then
    slot within a step (``np.nonzero`` then a stable argsort by step: a counting sort here), into ``rows`` and
    ``cols``; ``at[t]`` (t < ``n_at``) = how many entries have a step below t (``np.searchsorted``)."""
    C = steps.shape[0]
    top = 0
    for c in range(C):
        for h in range(count[c]):
            if steps[c, h] + 1 > top:
                top = steps[c, h] + 1
    start = np.zeros(top + 1, np.int64)
    for c in range(C):
        for h in range(count[c]):
            start[steps[c, h] + 1] += 1
    for s in range(top):
        start[s + 1] += start[s]
    for t in range(n_at):
        at[t] = start[t] if t < top else start[top]
    for c in range(C):
        for h in range(count[c]):
            s = steps[c, h]
            k = start[s]
            rows[k] = c
            cols[k] = h
            start[s] = k + 1
