"""Float32 NumPy reference of e-prop on LIF neurons, as eprop-PyTorch codes it (spec cue_accumulation.md §5.3).

Weights are stored [pre, post] like firmware_models/eprop: ``w_in`` [n_in, n_rec], ``w_rec`` [n_rec, n_rec]
(diagonal 0), ``w_out`` [n_rec, n_out]. States are indexed by step t = 0..T−1 with v[0] = z[0] = 0:

    v[t+1]  = α v[t] + Σ_i W_in[i] x_i[t] + Σ_i W_rec[i] z_i[t] − ϑ z[t]      (reset by subtraction)
    z[t+1]  = H(v[t+1] − ϑ);   vo[t+1] = κ vo[t] + Σ_j W_out[j] z_j[t+1];   y = softmax(vo)
    h[t]    = γ max(0, 1 − |v[t] − ϑ| / ϑ)
    ε_in[t] = α ε_in[t−1] + x[t];   ε_rec[t] = α ε_rec[t−1] + z[t−1]            (ε_rec one step behind)
    ē[t]    = κ ē[t−1] + h[t] ε[t];  z̄[t] = κ z̄[t−1] + z[t]
    err[t]  = y[t] − onehot  for t in the last ``learn_steps`` steps, else 0;   L_j[t] = Σ_k W_out[j,k] err_k[t]
    G += Σ_t L[t] ē[t] (in, rec);   G_out += Σ_t z̄[t] ⊗ err[t];   Adam on lr_layer · G, summed over a batch

Synaptic currents are accumulated in float64 and rounded once to float32: the sum then does not depend on
how BLAS blocks the dot product, so the chip's per-PE column slices give bit-identical spikes.

Two engines compute the same gradient: ``stepwise`` runs the per-step recursions in the firmware's order
(one trial at a time, accumulating into the same G), ``factorized`` (the ``--fast`` path) uses
G = Σ_t ε[t]ᵀ (h[t]·M[t]) with M[t] = L[t] + κ M[t+1], one matmul per batch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import CueEpropParams

F32 = np.float32
WEIGHT_KEYS = ("w_in", "w_rec", "w_out")


def init_weights(p: CueEpropParams, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """He-normal (std √(2/fan_in)) times the per-layer gains; the recurrent diagonal is zero."""
    g_in, g_rec, g_out = p.init_gains
    w_in = rng.standard_normal((p.n_in, p.n_rec)) * np.sqrt(2.0 / p.n_in) * g_in
    w_rec = rng.standard_normal((p.n_rec, p.n_rec)) * np.sqrt(2.0 / p.n_rec) * g_rec
    np.fill_diagonal(w_rec, 0.0)
    w_out = rng.standard_normal((p.n_rec, p.n_out)) * np.sqrt(2.0 / p.n_rec) * g_out
    return {"w_in": w_in.astype(F32), "w_rec": w_rec.astype(F32), "w_out": w_out.astype(F32)}


def pseudo_derivative(v: np.ndarray, p: CueEpropParams) -> np.ndarray:
    """h = γ·max(0, 1 − |v − ϑ|/ϑ), float32 in the firmware's operation order."""
    th = F32(p.v_th)
    r = F32(1.0) - np.abs(v - th) / th
    return (F32(p.gamma) * np.maximum(r, F32(0.0))).astype(F32, copy=False)


def softmax(vo: np.ndarray) -> np.ndarray:
    e = np.exp(vo - vo.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(F32, copy=False)


def learning_signal(err: np.ndarray, w_out: np.ndarray) -> np.ndarray:
    """L_j = Σ_k W_out[j,k] err_k, summed in k order (no BLAS, so every engine rounds alike)."""
    out = err[..., 0:1] * w_out[:, 0]
    for k in range(1, w_out.shape[1]):
        out = out + err[..., k:k + 1] * w_out[:, k]
    return out.astype(F32, copy=False)


def stacked(w: dict[str, np.ndarray]) -> np.ndarray:
    """[W_in; W_rec] as float64 ([n_pre, n_rec]) for the wide-accumulator current sum."""
    return np.concatenate([w["w_in"], w["w_rec"]]).astype(np.float64)


@dataclass
class Forward:
    """One batch's forward pass: v, z [B, T, N], y [B, T, O] (y[:, 0] = 0 as in the repo)."""

    v: np.ndarray
    z: np.ndarray
    y: np.ndarray


def forward(w: dict[str, np.ndarray], X: np.ndarray, p: CueEpropParams) -> Forward:
    """The recurrent and readout dynamics of a batch X [B, T, n_in] (float32 0/1 spikes)."""
    X = np.asarray(X, F32)
    B, T = X.shape[:2]
    N, O = p.n_rec, p.n_out
    w_rec64 = w["w_rec"].astype(np.float64)
    alpha, th = p.alpha, F32(p.v_th)
    # input current of every step at once, time-major so each step reads a contiguous block
    x_cur = np.ascontiguousarray(np.moveaxis(X.astype(np.float64) @ w["w_in"].astype(np.float64), 1, 0))
    v_all, z_all = np.zeros((T, B, N), F32), np.zeros((T, B, N), F32)
    v, z = np.zeros((B, N), F32), np.zeros((B, N), F32)
    for t in range(T - 1):
        cur = x_cur[t]
        cur += z @ w_rec64
        v *= alpha
        v += cur.astype(F32)
        v -= th * z
        z = z_all[t + 1]
        np.greater(v, th, out=z, casting="unsafe")
        v_all[t + 1] = v
    v_all, z_all = np.moveaxis(v_all, 0, 1), np.moveaxis(z_all, 0, 1)
    return Forward(v_all, z_all, readout(z_all, w["w_out"], p))


def readout(z: np.ndarray, w_out: np.ndarray, p: CueEpropParams) -> np.ndarray:
    """y[t] = softmax(vo[t]), vo[t] = κ vo[t−1] + Σ_j W_out[j] z_j[t]; y[:, 0] = 0 as in the repo.

    The chip sums per-PE float32 partials of vo instead, so its y differs by a few ulps (spikes do not
    depend on it; weights agree to ~1e-7)."""
    inc = (z.astype(np.float64) @ w_out.astype(np.float64)).astype(F32)  # [B, T, O]
    vo = np.zeros_like(inc)
    acc = np.zeros_like(inc[:, 0])
    for t in range(1, z.shape[1]):
        acc = acc * p.kappa
        acc += inc[:, t]
        vo[:, t] = acc
    y = softmax(vo)
    y[:, 0] = 0.0
    return y


def errors(y: np.ndarray, labels: np.ndarray, p: CueEpropParams) -> np.ndarray:
    """err[t] = y[t] − onehot in the learning window, 0 elsewhere ([B, T, O])."""
    err = np.zeros_like(y)
    s = p.learn_start
    err[:, s:] = y[:, s:]
    err[np.arange(len(labels)), s:, labels] -= F32(1.0)
    return err


def zero_grads(p: CueEpropParams) -> dict[str, np.ndarray]:
    return {"w_in": np.zeros((p.n_in, p.n_rec), F32), "w_rec": np.zeros((p.n_rec, p.n_rec), F32),
            "w_out": np.zeros((p.n_rec, p.n_out), F32)}


def stepwise_trial(w: dict[str, np.ndarray], x: np.ndarray, label: int, p: CueEpropParams,
                   acc: dict[str, np.ndarray]) -> Forward:
    """One trial, step by step in the firmware's order, adding its raw gradient into ``acc``."""
    fw = forward(w, x[None], p)
    T, n_in = x.shape[0], p.n_in
    alpha, kappa = p.alpha, p.kappa
    G = np.concatenate([acc["w_in"], acc["w_rec"]])
    eps = np.zeros(p.n_pre, F32)
    ebar = np.zeros((p.n_pre, p.n_rec), F32)
    zbar = np.zeros(p.n_rec, F32)
    err = errors(fw.y, np.array([label]), p)[0]
    for t in range(T):
        eps[:n_in] *= alpha  # ε_in[t]
        eps[:n_in] += x[t]
        h = pseudo_derivative(fw.v[0, t], p)
        ebar *= kappa
        ebar += np.multiply(eps[:, None], h[None, :])
        zbar *= kappa
        zbar += fw.z[0, t]
        if t >= p.learn_start:
            L = learning_signal(err[t], w["w_out"])
            G += ebar * L[None, :]
            acc["w_out"] += zbar[:, None] * err[t][None, :]
        eps[n_in:] *= alpha  # ε_rec[t+1] from z[t]
        eps[n_in:] += fw.z[0, t]
    acc["w_in"][...], acc["w_rec"][...] = G[:n_in], G[n_in:]
    return fw


def factorized_grads(w: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray, p: CueEpropParams,
                     fw: Forward | None = None) -> tuple[dict[str, np.ndarray], Forward]:
    """Raw gradients summed over the batch, G = Σ_t ε[t]ᵀ (h[t]·M[t]) (same mathematics as ``stepwise``)."""
    X = np.asarray(X, F32)
    fw = fw or forward(w, X, p)
    B, T = X.shape[:2]
    alpha, kappa = p.alpha, p.kappa
    h = pseudo_derivative(fw.v, p)
    err = errors(fw.y, np.asarray(Y), p)
    L = learning_signal(err, w["w_out"])  # [B, T, N]
    # M[t] = Σ_{t'≥t, t' in window} κ^{t'−t} L[t']; before the window M[t] = κ^{s−t} M[s]. Steps more than
    # 20·τ_out before the window weigh < e^−20 ≈ 2e−9 of it (below float32 resolution) and are left out.
    s = p.learn_start
    t0 = max(0, s - int(np.ceil(-20.0 / np.log(float(kappa)))) if kappa < 1 else 0)
    M = np.zeros((B, T - t0, p.n_rec), F32)
    m = np.zeros((B, p.n_rec), F32)
    for t in range(T - 1, s - 1, -1):
        m = m * kappa
        m += L[:, t]
        M[:, t - t0] = m
    M[:, :s - t0] = kappa ** np.arange(s - t0, 0, -1, dtype=F32)[None, :, None] * m[:, None, :]
    hM = (h[:, t0:] * M).reshape(-1, p.n_rec)
    pre = np.concatenate([X, np.zeros_like(fw.z)], axis=2)  # ε_in[t] sums x[≤t], ε_rec[t] sums z[≤t−1]
    pre[:, 1:, p.n_in:] = fw.z[:, :-1]
    eps = leaky_sum(pre, alpha)[:, t0:]
    G = (eps.reshape(-1, p.n_pre).T @ hM.astype(np.float64)).astype(F32)
    zbar = leaky_sum(fw.z, kappa)[:, s:]  # z̄ in the window
    g_out = np.einsum("btn,bto->no", zbar, err[:, s:].astype(np.float64)).astype(F32)
    return {"w_in": G[:p.n_in], "w_rec": G[p.n_in:], "w_out": g_out}, fw


def leaky_sum(a: np.ndarray, decay: float) -> np.ndarray:
    """out[:, t] = decay·out[:, t−1] + a[:, t] along axis 1, in float64 (one C-level IIR filter call)."""
    from scipy.signal import lfilter
    return lfilter([1.0], [1.0, -float(decay)], a.astype(np.float64), axis=1)


class Adam:
    """torch.optim.Adam (β1, β2, ε; bias-corrected as torch does) on lr_layer · G, diagonal of W_rec kept 0."""

    def __init__(self, w: dict[str, np.ndarray], p: CueEpropParams):
        self.p = p
        self.m = {k: np.zeros_like(v) for k, v in w.items()}
        self.v = {k: np.zeros_like(v) for k, v in w.items()}
        self.steps = 0

    def step(self, w: dict[str, np.ndarray], raw: dict[str, np.ndarray]) -> None:
        p = self.p
        self.steps += 1
        update_weights(w, self.m, self.v, raw, self.steps, p)


def update_weights(w, m, v, raw, step: int, p: CueEpropParams, keys=WEIGHT_KEYS, diag=None) -> None:
    """One Adam step (torch's formula) in float32; ``diag`` = (rows, cols) of W_rec's diagonal to keep 0."""
    b1, b2 = F32(p.adam_beta1), F32(p.adam_beta2)
    bc1 = F32(1.0 - p.adam_beta1 ** step)
    bc2_sqrt = F32(np.sqrt(1.0 - p.adam_beta2 ** step))
    step_size = F32(p.lr) / bc1
    factors = dict(zip(WEIGHT_KEYS, p.lr_layer))
    for k in keys:
        g = F32(factors[k]) * raw[k]
        m[k] *= b1
        m[k] += (F32(1.0) - b1) * g
        v[k] *= b2
        v[k] += (F32(1.0) - b2) * g * g
        denom = np.sqrt(v[k]) / bc2_sqrt + F32(p.adam_eps)
        w[k] -= step_size * (m[k] / denom)
    if "w_rec" in keys:
        if diag is None:
            np.fill_diagonal(w["w_rec"], 0.0)
        else:
            w["w_rec"][diag] = 0.0


def train_batch(w: dict[str, np.ndarray], adam: Adam, X: np.ndarray, Y: np.ndarray, p: CueEpropParams,
                engine: str = "factorized") -> Forward:
    """Sum the batch's raw gradients, then one Adam step (the repo's zero_grad / grads_batch / step)."""
    if engine == "stepwise":
        acc = zero_grads(p)
        fws = [stepwise_trial(w, X[b], int(Y[b]), p, acc) for b in range(len(X))]
        fw = Forward(*(np.concatenate([getattr(f, a) for f in fws]) for a in ("v", "z", "y")))
    elif engine == "factorized":
        acc, fw = factorized_grads(w, X, Y, p)
    else:
        raise ValueError(f"engine must be 'stepwise' or 'factorized', got {engine!r}")
    adam.step(w, acc)
    return fw


def predict(fw: Forward, p: CueEpropParams) -> np.ndarray:
    """argmax of the softmax output summed over the learning window."""
    return fw.y[:, p.learn_start:].sum(axis=1).argmax(axis=-1)


def window_loss(fw: Forward, Y: np.ndarray, p: CueEpropParams) -> np.ndarray:
    """Per trial: mean cross-entropy −log y_label over the learning window (monitoring only)."""
    y = fw.y[np.arange(len(Y)), p.learn_start:, np.asarray(Y)]
    return -np.log(np.maximum(y, F32(1e-30))).mean(axis=1)


def evaluate(w: dict[str, np.ndarray], X: np.ndarray, Y: np.ndarray, p: CueEpropParams,
             batch: int = 100) -> tuple[float, float]:
    """(accuracy, mean window loss) of the forward pass over a split."""
    hits, losses = 0, []
    for a in range(0, len(X), batch):
        fw = forward(w, X[a:a + batch], p)
        hits += int((predict(fw, p) == Y[a:a + batch]).sum())
        losses.append(window_loss(fw, Y[a:a + batch], p))
    return hits / max(1, len(X)), float(np.concatenate(losses).mean()) if losses else float("nan")
