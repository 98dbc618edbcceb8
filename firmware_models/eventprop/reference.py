"""Vectorised float32 reference of discrete EventProp (spec eventprop_yinyang.md §1.3).

This is the numerical ground truth the per-core firmware must reproduce: the
forward LIF recursion, the on-chip TTFS loss gradient, and the discrete adjoint
exactly as the off-chip ``SpikingLinear_ev.manual_forward/manual_backward``
implement them (one-step synaptic delay, reset to zero, first-order lambda_I
update). Arrays are [batch, step, neuron]; weights are [n_out, n_in] like
``torch.nn.Linear``. Everything is float32 because the Cortex-M4F has only a
single-precision FPU.

Index alignment between layers (the part that is easy to get wrong):
an input spike ``s_in[t]`` drives ``I[t+1]``. In the adjoint, layer l's
``grad_in[t] = W^T (lambda_V[t+1] - lambda_I[t+1])`` is therefore the error of
the presynaptic spike *at step t*, so it is passed down unchanged as the lower
layer's ``grad_out[t]``; the lower layer reads ``grad_out[t+1]`` together with its
own ``s[t+1]`` when it steps from t+1 to t. ``grad_in[T-1]`` is always 0: a spike
in the last step cannot reach the next layer inside the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal

import numpy as np

from firmware_models.eventprop.params import EventpropParams
from s2sim.data.yinyang import exclude_ambiguous, latency_encode, to_raster, yinyang, yinyang_splits

F32 = np.float32
VDOT_EPS = F32(1e-10)  # the off-chip code's guard; a no-op in float32 for |Vdot| >~ 1e-3
# A custom TTFS loss: (first-spike steps [B, N], silent = T; labels [B]; T) -> (loss [B], dL/dt [B, N]);
# the same signature as the loss PE's hook (firmware.DlDtHook)
DlDtHook = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]


# --------------------------------------------------------------------------- forward
@dataclass
class LayerRecord:
    """Dense per-step state one layer's backward needs: spikes s, current I, pre-reset V.

    Only the values at spikes matter for the adjoint (see ``to_events``); the dense
    form is what a vectorised simulator keeps.
    """

    spikes: np.ndarray  # [B, T, N] float32 in {0, 1}
    I: np.ndarray  # [B, T, N] float32
    Vpre: np.ndarray  # [B, T, N] float32, V before the reset of step t


def layer_forward(W: np.ndarray, s_in: np.ndarray, p: EventpropParams) -> LayerRecord:
    """One LIF layer over T steps (V[0] = I[0] = 0, loop t = 1..T-1).

    I[t] = a I[t-1] + W s_in[t-1];  V[t] = b V[t-1] + (1-b) I[t];  Vpre[t] = V[t];
    s[t] = V[t] > theta;  V[t] = (1 - s[t]) V[t].
    The input drive of all steps is one matmul because input spikes are known
    in advance (each core receives the whole spike train of its presynaptic layer).
    The loop writes into the record's arrays in place: at small [B, N] the cost is the
    number of numpy calls per step, not the arithmetic (same float32 operations, same bits).
    """
    B, T, _ = s_in.shape
    n = W.shape[0]
    a, b, omb, theta = p.alpha_syn, p.beta_mem, p.one_minus_beta, F32(p.threshold)
    # time-major [T, B, N] inside the loop: a contiguous step slice makes each call ~3x cheaper
    s_tm = np.ascontiguousarray(s_in[:, :-1, :].transpose(1, 0, 2), dtype=F32)
    drive = ordered_drive(s_tm, W)  # drive[t-1] enters I[t]
    I_all = np.zeros((T, B, n), F32)
    Vpre = np.zeros((T, B, n), F32)
    V = np.zeros((B, n), F32)  # V after the reset of the previous step
    leak = np.empty((B, n), F32)
    silent = np.empty((B, n), bool)
    for t in range(1, T):
        I = I_all[t]
        np.multiply(a, I_all[t - 1], out=I)
        I += drive[t - 1]
        Vt = Vpre[t]
        np.multiply(b, V, out=Vt)
        np.multiply(omb, I, out=leak)
        Vt += leak
        # (1 - s) V: V > theta > 0 where it fired, so 0 * V = +0 exactly as (1 - 1) V
        np.less_equal(Vt, theta, out=silent)
        np.multiply(Vt, silent, out=V)
    spikes = (Vpre > theta).astype(F32)  # s[t] = Vpre[t] > theta; s[0] = 0 as Vpre[0] = 0 < theta
    return LayerRecord(batch_major(spikes), batch_major(I_all), batch_major(Vpre))


def batch_major(x: np.ndarray) -> np.ndarray:
    """[T, B, ...] -> [B, T, ...] as a view, no copy (and back: the swap is its own inverse).

    The records keep their time-major memory: the next layer reads them time-major again, and a
    transposing copy of every [B, T, N] array would cost more than the loop it follows."""
    return x.swapaxes(0, 1)


def ordered_drive(s: np.ndarray, W: np.ndarray) -> np.ndarray:
    """W s summed over presynaptic neurons in ascending index order, [..., n_in] -> [..., n].

    Mathematically ``s @ W.T``; the fixed summation order (the order a core adds the
    synaptic rows of the spikes it received) makes the firmware bit-identical to the
    reference, which a BLAS matmul with its own blocking would not be. Adding the
    zero rows of silent inputs leaves every partial sum unchanged, so only the spikes'
    rows are added (with non-finite weights 0 * inf is not 0: then all rows are added).
    """
    out = np.zeros(s.shape[:-1] + (W.shape[0],), F32)
    if not np.isfinite(W).all():
        for i in np.flatnonzero(s.reshape(-1, s.shape[-1]).any(axis=0)):
            out += s[..., i, None] * W[:, i]
        return out
    flat = s.reshape(-1, s.shape[-1])
    cell, pre = nonzero(flat)  # row-major: ascending presynaptic index within a cell
    # ufunc.at adds one row after the other in index order: a cell's rows in ascending i
    np.add.at(out.reshape(-1, W.shape[0]), cell, flat[cell, pre, None] * W[:, pre].T)
    return out


def nonzero(x: np.ndarray) -> tuple[np.ndarray, ...]:
    """``np.nonzero`` (same indices, same order) through a flat boolean mask: several times faster
    on the large, sparse spike arrays here."""
    return np.unravel_index(np.flatnonzero(x.ravel() != 0), x.shape)


def ordered_error(d: np.ndarray, W: np.ndarray) -> np.ndarray:
    """W^T d summed over postsynaptic neurons in ascending order, [..., n] -> [..., n_in]."""
    out = np.zeros(d.shape[:-1] + (W.shape[1],), F32)
    term = np.empty_like(out)
    for j in range(W.shape[0]):
        np.multiply(d[..., j, None], W[j], out=term)
        out += term
    return out


def forward(weights: list[np.ndarray], s_in: np.ndarray, p: EventpropParams) -> list[LayerRecord]:
    """Run all layers; layer l+1's input is layer l's spike raster."""
    records = []
    x = np.asarray(s_in, F32)
    for W in weights:
        rec = layer_forward(W, x, p)
        records.append(rec)
        x = rec.spikes
    return records


# --------------------------------------------------------------- event-based storage
@dataclass
class SpikeEvents:
    """What a PE must keep per layer for the adjoint: O(spikes), not O(T x N).

    The jump at a spike needs Vdot = I - Vpre at that spike; everything else in
    the backward is recomputed from lambda. ``shape`` = (B, T, N) of the layer.
    """

    batch: np.ndarray  # int64 [n_spikes]
    step: np.ndarray  # int64 [n_spikes]
    neuron: np.ndarray  # int64 [n_spikes]
    I: np.ndarray  # float32 [n_spikes], current at the spike step
    Vpre: np.ndarray  # float32 [n_spikes], pre-reset voltage at the spike step
    shape: tuple[int, int, int]


def to_events(rec: LayerRecord) -> SpikeEvents:
    """Compress a dense record to its spike events (time-ordered within each sample)."""
    b, t, n = np.nonzero(rec.spikes)
    return SpikeEvents(b, t, n, rec.I[b, t, n], rec.Vpre[b, t, n], rec.spikes.shape)


def from_events(ev: SpikeEvents) -> LayerRecord:
    """Dense record with zeros off-spike; the backward gives bit-identical results on it."""
    spikes = np.zeros(ev.shape, F32)
    I = np.zeros(ev.shape, F32)
    Vpre = np.zeros(ev.shape, F32)
    spikes[ev.batch, ev.step, ev.neuron] = 1.0
    I[ev.batch, ev.step, ev.neuron] = ev.I
    Vpre[ev.batch, ev.step, ev.neuron] = ev.Vpre
    return LayerRecord(spikes, I, Vpre)


# ------------------------------------------------------------------------------ loss
def first_spike_steps(spikes: np.ndarray) -> np.ndarray:
    """First spike step per neuron, int64 [B, N]; a silent neuron gets T (outside the window)."""
    T = spikes.shape[1]
    fired = spikes.any(axis=1)
    return np.where(fired, spikes.argmax(axis=1), T).astype(np.int64)


def ttfs_loss(first: np.ndarray, y: np.ndarray, p: EventpropParams) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample loss [B] and dL/dt_k [B, N] of the loss selected by ``p.loss``."""
    if p.loss == "ce":
        return spike_ce_loss(first, y, p)
    return onchip_loss(first, y, p)


def spike_ce_loss(first: np.ndarray, y: np.ndarray,
                  p: EventpropParams) -> tuple[np.ndarray, np.ndarray]:
    """Off-chip ``SpikeCELoss(xi, alpha, beta)`` on first-spike *steps* (silent neurons at T).

    L = CE(logits = -t/xi, y) + alpha (exp(t_y/beta) - 1); dL/dt_k = (delta_ky - p_k)/xi
    + delta_ky (alpha/beta) exp(t_y/beta), p = softmax(-t/xi) over all neurons (silent
    ones take part with t = T but, as off-chip, receive no gradient). Units 1/step: the
    adjoint is linear in dL/dt, so the unit only rescales the gradient (Adam removes it).
    """
    rows = np.arange(first.shape[0])
    t = first.astype(F32)
    inv_xi = F32(1.0 / p.xi)
    z = -(t - t.min(axis=1, keepdims=True)) * inv_xi
    e = np.exp(z)
    total = e.sum(axis=1)
    prob = e / total[:, None]
    reg = t[rows, y] * F32(1.0 / p.ce_beta)
    loss = np.log(total) - z[rows, y] + F32(p.ce_alpha) * np.expm1(reg)
    grad = -inv_xi * prob
    grad[rows, y] = inv_xi * ((total - e[rows, y]) / total) \
        + F32(p.ce_alpha / p.ce_beta) * np.exp(reg)
    grad = np.where(first < p.n_steps, grad, F32(0.0)).astype(F32)
    return loss.astype(F32), grad


def onchip_loss(first: np.ndarray, y: np.ndarray, p: EventpropParams) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample loss [B] and on-chip dL/dt_k [B, N] (t in seconds = step * dt).

    Loss value: CE(logits = -t/tau0, y) + alpha (exp(t_y/tau1) - 1), silent
    neurons entering with t = T*dt as in the off-chip ``FirstSpikeTime``.

    Gradient (on-chip form), Sigma = sum over neurons that *spiked* of exp(-t_k/tau0):
      label l:  (1/tau0)(1 - exp(-t_l/tau0)/Sigma) + (alpha/tau1) exp(t_l/tau1)
      other k: -(1/tau0) exp(-t_k/tau0)/Sigma
    A silent neuron gets no gradient (label or not): off-chip its gradient goes to
    step T, which is no step of the raster. Softmaxes are shifted by the earliest
    time so exp(-t/tau0) (e^-52 at 26 ms) never underflows, and time differences
    are taken in integer steps before scaling by dt/tau0, because float32
    seconds (0.012 - 0.011) lose ~1e-6 relative; same quantity, better rounded.
    """
    T = p.n_steps
    rows = np.arange(first.shape[0])
    inv_tau0, alpha_tau1 = F32(1.0 / p.tau0_s), F32(p.alpha / p.tau1_s)
    dt_tau0, dt_tau1 = F32(p.dt_s / p.tau0_s), F32(p.dt_s / p.tau1_s)
    steps = first.astype(F32)
    reg = steps[rows, y] * dt_tau1  # t_l / tau1
    # loss value over all neurons (silent at T*dt); logits relative to the earliest spike
    z = -(steps - steps.min(axis=1, keepdims=True)) * dt_tau0
    loss = np.log(np.exp(z).sum(axis=1)) - z[rows, y] + F32(p.alpha) * np.expm1(reg)
    # on-chip gradient, Sigma over spiked neurons only
    spiked = first < T
    ref = np.where(spiked, steps, np.inf).min(axis=1, keepdims=True)
    ref = np.where(np.isfinite(ref), ref, F32(0.0)).astype(F32)
    e = np.where(spiked, np.exp(-(steps - ref) * dt_tau0), F32(0.0)).astype(F32)
    total = np.maximum(e.sum(axis=1), F32(np.finfo(F32).tiny))
    grad = -inv_tau0 * (e / total[:, None])
    # label: 1 - e_l/Sigma evaluated as sum_{k != l} e_k / Sigma, which avoids the
    # float32 cancellation of 1 - p_l when the label fires first (p_l ~ 1)
    others = e.copy()
    others[rows, y] = 0.0
    grad[rows, y] = inv_tau0 * (others.sum(axis=1) / total) + alpha_tau1 * np.exp(reg)
    grad = np.where(spiked, grad, F32(0.0)).astype(F32)
    return loss.astype(F32), grad


def output_error(spikes_out: np.ndarray, y: np.ndarray, p: EventpropParams,
                 dldt_hook: DlDtHook | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """grad_out [B, T, N] for the top layer (dL/dt at each first-spike step), loss [B], first [B, N].

    As in the off-chip ``FirstSpikeTime.backward``, an error landing on the last
    step T-1 is dropped (``k[-1] = 0``), and a silent neuron (t = T) places none.
    ``dldt_hook`` (the general TTFS case) replaces the loss selected by ``p.loss``.
    """
    B, T, N = spikes_out.shape
    first = first_spike_steps(spikes_out)
    if dldt_hook is None:
        loss, dldt = ttfs_loss(first, y, p)
    else:
        loss, dldt = (np.asarray(a, F32) for a in dldt_hook(first.copy(), y.copy(), T))
    grad_out = np.zeros((B, T, N), F32)
    b, n = np.nonzero(first < T - 1)
    grad_out[b, first[b, n], n] = dldt[b, n]
    return grad_out, loss, first


TieRule = Literal["wrong", "argmin"]


def tied(first: np.ndarray) -> np.ndarray:
    """Bool [B]: the earliest first-spike step is shared by two or more outputs (all silent included):
    the samples whose class the output does not decide."""
    earliest = first.min(axis=1, keepdims=True)
    return (first == earliest).sum(axis=1) > 1


def correct(first: np.ndarray, y: np.ndarray, tie_rule: TieRule = "wrong") -> np.ndarray:
    """Bool [B] per sample. ``wrong``: the label neuron fires strictly first (a tie, all silent
    included, counts wrong); ``argmin``: ``argmin`` of the first-spike steps is the label, so a tie
    goes to the lowest class index (the authors' ``compute_accuracy`` with ``exclude_equal=False``)."""
    if tie_rule == "argmin":
        return first.argmin(axis=1) == y
    if tie_rule != "wrong":
        raise ValueError(f"tie_rule {tie_rule!r}; expected 'wrong' or 'argmin'")
    rows = np.arange(first.shape[0])
    t_lab = first[rows, y]
    others = first.copy()
    others[rows, y] = np.iinfo(np.int64).max
    return t_lab < others.min(axis=1)


def accuracy(first: np.ndarray, y: np.ndarray, tie_rule: TieRule = "wrong") -> float:
    """Fraction of samples ``correct`` under ``tie_rule`` (default: ties count wrong)."""
    return float(np.mean(correct(first, y, tie_rule)))


# -------------------------------------------------------------------------- backward
@dataclass
class LayerAdjoint:
    """Adjoint trajectories of one layer: lambda_V/lambda_I [B, T, N] at every step t, the error
    grad_in [B, T, N_in] for the layer below (None if not asked for), dL/dW [N, N_in]."""

    lV: np.ndarray
    lI: np.ndarray
    grad_in: np.ndarray | None
    dW: np.ndarray


def layer_adjoint(W: np.ndarray, s_in: np.ndarray, rec: LayerRecord, grad_out: np.ndarray,
                  p: EventpropParams, need_grad_in: bool = True, lv_source: np.ndarray | None = None,
                  silent_acc: np.float32 = F32(0.0)) -> LayerAdjoint:
    """Discrete adjoint of one layer in reverse time (dL/dW summed over the batch).

    For t = T-2 .. 0, with lambda_V[T-1] = lambda_I[T-1] = 0:
      grad_in[t] = W^T (lV[t+1] - lI[t+1])
      lI[t] = a lI[t+1] + (1-a) lV[t+1]
      lV[t] = b lV[t+1] + s[t+1] (theta lV[t+1] + grad_out[t+1]) / Vdot,
              Vdot = I[t+1] - Vpre[t+1] + 1e-10   (theta = 1 gives the code's lV[t+1])
      dL/dW -= tau_syn[s] lI[t] (x) s_in[t]
    Every right-hand side reads step t+1 values: lV[t+1] in the jump is lambda_V
    *before* the jump of the spike at t+1 is applied (lambda_V just after the spike
    in forward time, W&P's lambda_V^+); the jump lands in lV[t]. grad_in[t] and
    the weight gradient sampled at s_in[t] both use lambda after all jumps of
    steps > t, matching the input spike at t acting on I[t+1].

    Options against silent neurons (off by default): ``lv_source`` [B, T, N] is added to
    lV[t] from step t+1 (loss shaping, -dL/dV); ``silent_acc`` > 0 adds silent_acc * (input
    spikes of the sample at steps <= T-2) to the lambda_I sum of every neuron silent in it
    (``p.silent_scope == "batch"``: of every neuron silent in the whole batch, with the batch's
    input spike counts, after the batch sum; the root PE's job on the chip).
    """
    B, T, n = rec.spikes.shape
    a, oma, b, theta = p.alpha_syn, p.one_minus_alpha, p.beta_mem, F32(p.threshold)
    # time-major [T, B, N] inside the loop (contiguous step slices, see layer_forward)
    lV_tm = np.zeros((T, B, n), F32)
    lI_tm = np.zeros((T, B, n), F32)
    source = batch_major(lv_source) if lv_source is not None else None
    # the jump exists only at spikes (as on the chip): computing it elsewhere could give 0 * inf;
    # spike events by step: those of step t are [first[t], first[t + 1])
    et, eb, en = nonzero(batch_major(rec.spikes))  # ordered by step
    vdot = rec.I[eb, et, en] - rec.Vpre[eb, et, en] + VDOT_EPS
    go = grad_out[eb, et, en]
    first = np.searchsorted(et, np.arange(T + 1))
    cell = eb * n + en  # flat index into a [B, N] step slice
    jump = np.zeros((B, n), F32)
    jump_flat = jump.ravel()
    leak = np.empty((B, n), F32)
    for t in range(T - 2, -1, -1):
        lV, lI = lV_tm[t + 1], lI_tm[t + 1]
        lIt = lI_tm[t]
        np.multiply(a, lI, out=lIt)
        np.multiply(oma, lV, out=leak)
        lIt += leak
        lVt = lV_tm[t]
        np.multiply(b, lV, out=lVt)
        k0, k1 = first[t + 1], first[t + 2]
        if k1 > k0:
            at = cell[k0:k1]
            jump_flat[at] = (theta * lV.ravel()[at] + go[k0:k1]) / vdot[k0:k1]
            lVt += jump  # zero off the spikes: b lV + 0 as the dense form (-0 + 0 = +0 included)
            jump_flat[at] = 0
        else:
            lVt += jump
        if source is not None:
            lVt += source[t + 1]
    grad_in = None
    if need_grad_in:
        # grad_in[t] = W^T (lV[t+1] - lI[t+1]) for all t at once; grad_in[T-1] = 0
        grad_in = np.zeros((T, B, W.shape[1]), F32)
        grad_in[:-1] = ordered_error(lV_tm[1:] - lI_tm[1:], W)
        grad_in = batch_major(grad_in)
    s_in_f = np.asarray(s_in, F32)  # read only: no copy when it is float32 already
    # per-sample sum of lambda_I at input spikes, accumulated in reverse time (as a core does)
    acc = input_spike_sums(lI_tm, s_in_f)
    lV_all, lI_all = batch_major(lV_tm), batch_major(lI_tm)
    if silent_acc and p.silent_scope == "sample":
        acc += silent_term(rec.spikes, s_in_f, silent_acc)
    total = np.zeros(W.shape, F32)
    for k in range(B):  # batch reduction in copy order (root PE)
        total += acc[k]
    if silent_acc and p.silent_scope == "batch":
        total += silent_term(rec.spikes.sum(axis=0, keepdims=True),
                             s_in_f.sum(axis=0, keepdims=True), silent_acc)[0]
    dW = -p.tau_syn_s * total
    return LayerAdjoint(lV_all, lI_all, grad_in, dW.astype(F32))


def input_spike_sums(lI_tm: np.ndarray, s_in: np.ndarray) -> np.ndarray:
    """acc[b, j, i] = sum over t = T-2 .. 0 (that order) of lI[t, b, j] * s_in[b, t, i], [B, N, N_in].

    ``lI_tm`` is time-major [T, B, N]. Only input spikes add anything (x + 0 * lI = x for finite
    lI; the sum starts at +0 and so is never -0), so only the spikes are added, latest first
    (non-finite lambda: every step is added, as a core would).
    """
    T, B, n = lI_tm.shape
    n_in = s_in.shape[2]
    if not np.isfinite(lI_tm).all():
        acc = np.zeros((B, n, n_in), F32)
        for t in range(T - 2, -1, -1):
            acc += lI_tm[t, :, :, None] * s_in[:, t, None, :]
        return acc
    t, b, i = nonzero(batch_major(s_in)[:T - 1])
    latest_first = np.lexsort((-t, i, b))
    b, t, i = b[latest_first], t[latest_first], i[latest_first]
    # [B, N_in, N] so that one (sample, input) is one row; ufunc.at adds rows in index order
    acc = np.zeros((B, n_in, n), F32)
    np.add.at(acc.reshape(-1, n), b * n_in + i, lI_tm[t, b, :] * s_in[b, t, i, None])
    return acc.transpose(0, 2, 1)


def silent_term(spikes: np.ndarray, s_in: np.ndarray, silent_acc: np.float32) -> np.ndarray:
    """[B, N, N_in]: silent_acc * (spikes of input i at steps <= T-2) for each neuron j silent in
    the sample, 0 for the others (the silent-neuron rule; dW = -tau_syn * this raises W[j, i])."""
    silent = (spikes.sum(axis=1) == 0).astype(F32)  # [B, N]
    count = s_in[:, :-1].sum(axis=1, dtype=F32)  # [B, N_in]; a spike at T-1 cannot act
    return F32(silent_acc) * (silent[:, :, None] * count[:, None, :])


def layer_backward(W: np.ndarray, s_in: np.ndarray, rec: LayerRecord, grad_out: np.ndarray,
                   p: EventpropParams, need_grad_in: bool = True,
                   lv_source: np.ndarray | None = None, silent_acc: np.float32 = F32(0.0)
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """(dL/dW summed over batch, grad_in) of ``layer_adjoint``; what training needs."""
    adj = layer_adjoint(W, s_in, rec, grad_out, p, need_grad_in, lv_source, silent_acc)
    return adj.dW, adj.grad_in


def backward(weights: list[np.ndarray], s_in: np.ndarray, records: list[LayerRecord],
             grad_out: np.ndarray, p: EventpropParams, lv_source: np.ndarray | None = None
             ) -> list[np.ndarray]:
    """Adjoint through all layers top-down; grad_in of layer l is grad_out of layer l-1 (same t).
    ``lv_source`` (loss shaping) enters the output layer only."""
    grads: list[np.ndarray] = [np.empty(0, F32)] * len(weights)
    g = grad_out
    top = len(weights) - 1
    for l in range(top, -1, -1):
        x = s_in if l == 0 else records[l - 1].spikes
        grads[l], g = layer_backward(weights[l], x, records[l], g, p, need_grad_in=l > 0,
                                     lv_source=lv_source if l == top else None,
                                     silent_acc=p.silent_acc[l])
    return grads


def shaping_source(first: np.ndarray, y: np.ndarray, p: EventpropParams) -> np.ndarray | None:
    """Loss shaping's lambda_V source [B, T, N] (None when off): shape_weight * exp(-t dt/tau) on
    the label neuron at steps 1 .. first_label - 1 (the whole window if the label is silent)."""
    if not p.shape_weight:
        return None
    B, N = first.shape
    T = p.n_steps
    rows = np.arange(B)
    w = F32(p.shape_weight) * p.shape_table  # [T]
    steps = np.arange(T)[None, :]
    on = (steps >= 1) & (steps < first[rows, y][:, None])  # [B, T]
    src = np.zeros((B, T, N), F32)
    src[rows[:, None], steps, y[:, None]] = np.where(on, w[None, :], F32(0.0))
    return src


def loss_and_grads(weights: list[np.ndarray], s_in: np.ndarray, y: np.ndarray, p: EventpropParams,
                   dldt_hook: DlDtHook | None = None
                   ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Forward + loss + backward on one batch: (loss [B], first [B, N_out], dW summed over batch).

    ``s_in`` [B, T, N_in] may hold any number of spikes per input channel (spike trains)."""
    records = forward(weights, s_in, p)
    grad_out, loss, first = output_error(records[-1].spikes, y, p, dldt_hook)
    return loss, first, backward(weights, s_in, records, grad_out, p, shaping_source(first, y, p))


# ------------------------------------------------------------------ init / optimiser
def init_weights(p: EventpropParams, rng: np.random.RandomState | int) -> list[np.ndarray]:
    """kaiming_both: W ~ N(mu_s/sqrt(fan_in), sigma_s/sqrt(fan_in)), drawn [n_in, n_out] then
    transposed, in the off-chip draw order (so the same legacy seed gives the same W)."""
    rng = rng if isinstance(rng, np.random.RandomState) else np.random.RandomState(rng)
    weights = []
    for (n_in, n_out), mu, sd in zip(zip(p.layers[:-1], p.layers[1:]), p.mu_s, p.sigma_s):
        scale = 1.0 / np.sqrt(n_in)
        weights.append(np.ascontiguousarray(rng.normal(mu * scale, sd * scale, (n_in, n_out)).T,
                                            dtype=F32))
    return weights


class Adam:
    """torch.optim.Adam semantics in float32: L2 weight decay added to the gradient
    (not AdamW), bias-corrected update lr * m_hat / (sqrt(v_hat) + eps).

    ``lr`` is a plain attribute so a scheduler (``training.train``) can change it.
    """

    def __init__(self, weights: list[np.ndarray], lr: float, weight_decay: float = 0.0,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.m = [np.zeros_like(w, dtype=F32) for w in weights]
        self.v = [np.zeros_like(w, dtype=F32) for w in weights]
        self.t = 0

    def step(self, weights: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Update ``weights`` in place."""
        self.t += 1
        b1, b2 = F32(self.betas[0]), F32(self.betas[1])
        bc1 = F32(1.0 - self.betas[0] ** self.t)
        bc2 = F32(1.0 - self.betas[1] ** self.t)
        for w, g, m, v in zip(weights, grads, self.m, self.v):
            g = g.astype(F32) + F32(self.weight_decay) * w
            m *= b1
            m += (F32(1.0) - b1) * g
            v *= b2
            v += (F32(1.0) - b2) * g * g
            denom = np.sqrt(v / bc2) + F32(self.eps)
            w -= F32(self.lr) * (m / bc1) / denom


# ---------------------------------------------------------------------- data / loops
DataSplit = Literal["kriener", "authors"]
#: the authors' script scores its test loader in batches of 256 with ``drop_last=True``
AUTHORS_TEST_BATCH = 256


def load_data(p: EventpropParams, split: DataSplit = "kriener") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Encoded Yin-Yang splits: {name: (spike steps [N, 5], labels)}.

    ``kriener``: the data set's published splits (train 5000/seed 42, valid 1000/41, test 1000/40);
    ambiguous train samples dropped when ``p.exclude_ambiguous``, valid/test never filtered.
    ``authors``: what the authors' training script (``main_wandb.py``, 2024-08) scores: the same train
    split, and a test split of 1000 samples drawn with seed 43, filtered with the same ambiguous-sample
    rule when ``p.exclude_ambiguous``, of which only whole batches of 256 are scored (``drop_last``:
    768 samples). ``valid`` stays Kriener's (their script has none).
    """
    if split not in ("kriener", "authors"):
        raise ValueError(f"dataset split {split!r}; expected 'kriener' or 'authors'")
    raw = yinyang_splits()
    if split == "authors":
        raw["test"] = yinyang(1000, 43)
    out = {}
    for name, (X, y) in raw.items():
        times = latency_encode(X, p.n_steps, p.t_min)
        if p.exclude_ambiguous and (name == "train" or (split == "authors" and name == "test")):
            keep = exclude_ambiguous(times, y)
            times, y = times[keep], y[keep]
        if split == "authors" and name == "test":
            n = len(y) // AUTHORS_TEST_BATCH * AUTHORS_TEST_BATCH
            times, y = times[:n], y[:n]
        out[name] = (times, y)
    return out


@dataclass
class Scores:
    """Test scores of one forward pass: accuracy under both tie rules, the tie rate, the mean loss."""

    strict: float  # ties (and all-silent samples) count wrong
    argmin: float  # ties go to the lowest class index (the authors' rule)
    tie_rate: float  # fraction of samples whose earliest output spike is shared
    loss: float
    samples: int

    def accuracy(self, tie_rule: TieRule) -> float:
        return self.argmin if tie_rule == "argmin" else self.strict


def score(weights: list[np.ndarray], times: np.ndarray, y: np.ndarray, p: EventpropParams,
          chunk: int = 1000) -> Scores:
    """Forward pass only, in chunks to bound memory; both tie rules and the tie rate."""
    loss_sum, strict, argmin, ties = 0.0, 0, 0, 0
    for k in range(0, len(y), chunk):
        s_in = to_raster(times[k:k + chunk], p.n_steps).astype(F32)
        first = first_spike_steps(forward(weights, s_in, p)[-1].spikes)
        labels = y[k:k + chunk]
        loss, _ = ttfs_loss(first, labels, p)
        loss_sum += float(loss.sum())
        strict += int(correct(first, labels, "wrong").sum())
        argmin += int(correct(first, labels, "argmin").sum())
        ties += int(tied(first).sum())
    n = max(len(y), 1)
    return Scores(strict / n, argmin / n, ties / n, loss_sum / n, len(y))


def evaluate(weights: list[np.ndarray], times: np.ndarray, y: np.ndarray, p: EventpropParams,
             chunk: int = 1000, tie_rule: TieRule = "wrong") -> tuple[float, float]:
    """(accuracy under ``tie_rule``, mean loss) of a forward pass only."""
    s = score(weights, times, y, p, chunk)
    return s.accuracy(tie_rule), s.loss
