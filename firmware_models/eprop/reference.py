"""Float32 NumPy reference of e-prop exactly as the authors' C code runs it (spec ``eprop_gsc.md`` §1–§2).

The golden model against which firmware ports are checked. Everything is vectorised over the whole network and over
a batch of B independent samples that share the weights (as if run one after another with the same weights), so the
per-sample gradients are returned with a leading batch axis. The C code does Adam after every sample: use
``train_online`` (batch = 1) for a faithful reproduction; ``train_batched`` (sum of a minibatch) is a speed extra.

Two engines compute the same eligibility sums E = Σ_t ē_t:
  * ``stepwise`` (default): the per-step recursions S13–S17 on [B, pre, post] arrays, in one of the three memory
    layouts of §3.2 (``paper`` / ``lean`` / ``closed_form``) — the operation order a firmware port runs.
  * ``factorized``: because ψ-dependent coefficients depend only on the postsynaptic neuron and ε^v only on the
    presynaptic one, E = Σ_t ε^v_t[i]·M_t[j] is one matmul with M from a backward recursion over t. Same maths,
    different float32 rounding (≈1e-6 relative), ~5× faster.

The readout ȳ = Σ_t Σ_j z̄_j W_out[j] is summed over t of the full-width product (one core) unless
``readout_starts`` names the first neuron of each PE's slice: then each slice sums its own rows over t and the slices'
partials are added in PE order, the chip's order (a PE keeps Σ_t of its partial and the root adds them), so the
stepwise engine is bit-identical to the chip engine (float addition is not associative: the two orders differ by
about an ulp of ȳ, which training amplifies; see docs/fidelity.md).

Pre-synaptic inputs are concatenated, u_t = [x_t, z_{t−1}] (n_in + n_rec), so input and recurrent synapses are one
[B, n_in + n_rec, n_rec] array; rows ``n_in:`` are the recurrent synapses.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Sequence

import numpy as np

from .params import EpropParams

F32 = np.float32
Weights = dict[str, np.ndarray]
Engine = Literal["stepwise", "factorized"]
WEIGHT_KEYS = ("w_in", "w_rec", "w_out")


# ---------------------------------------------------------------------------------------------------------------
# initialisation and surrogate
# ---------------------------------------------------------------------------------------------------------------
def init_weights(params: EpropParams, rng: np.random.Generator) -> Weights:
    """Draw W_in ~ N(0, 1/√n_in), W_rec ~ N(0, 1/√n_rec), W_out = randn/√n_rec (§1.4), all float32.

    The W_rec diagonal is kept (repo behaviour) unless ``autapse='mask'``.
    """
    p = params
    w = {
        "w_in": rng.standard_normal((p.n_in, p.n_rec)) / np.sqrt(p.n_in),
        "w_rec": rng.standard_normal((p.n_rec, p.n_rec)) / np.sqrt(p.n_rec),
        "w_out": rng.standard_normal((p.n_rec, p.n_out)) / np.sqrt(p.n_rec),
    }
    w = {k: v.astype(F32) for k, v in w.items()}
    if p.autapse == "mask":
        np.fill_diagonal(w["w_rec"], 0.0)
    return w


def surrogate(v_s: np.ndarray, params: EpropParams | None = None) -> np.ndarray:
    """Multi-Gaussian pseudo-derivative ψ(v_s) of §1.3, in float32.

    ψ(x) = a0·exp(−x²/(2σ²)) − a1·[exp(−(x−σ)²/(2S²σ²)) + exp(−(x+σ)²/(2S²σ²))]; never exactly zero, so every
    synapse's eligibility changes every step (no sparsity shortcut).
    """
    a0, a1, k0, k1, s = _surrogate_consts(params or _DEFAULT)
    x = np.asarray(v_s, dtype=F32)
    centre = np.exp(-k0 * (x * x))
    dm = x - s
    dp = x + s
    sides = np.exp(-k1 * (dm * dm)) + np.exp(-k1 * (dp * dp))
    return (a0 * centre - a1 * sides).astype(F32, copy=False)


@lru_cache(maxsize=64)
def _surrogate_consts(p: EpropParams) -> tuple[np.float32, ...]:
    """Folded float32 surrogate constants (a0, a1, k0, k1, σ), cached because ψ is evaluated every step."""
    return p.surrogate_a0, p.surrogate_a1, p.surrogate_k0, p.surrogate_k1, F32(p.sigma)


_DEFAULT = EpropParams()


# ---------------------------------------------------------------------------------------------------------------
# result container
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class SampleResult:
    """Outputs of ``run_sample`` for a batch of B samples (B = 1 for a single [T, n_in] input).

    z [B,T,n_rec] uint8 spikes; v [B,T,n_rec] membrane; y_mean [B,n_out] time-mean readout ȳ (R1); loss [B]
    cross-entropy (R2, without L2); loss_l2 = l2·ΣW² (added to the *reported* loss in C); pred [B] argmax ȳ;
    grad_* [B, ...] per-sample gradients incl. 2·l2·W (R5–R7), ``None`` when ``train=False``.
    """

    z: np.ndarray
    v: np.ndarray
    y_mean: np.ndarray
    loss: np.ndarray
    loss_l2: float
    pred: np.ndarray
    grad_in: np.ndarray | None = None
    grad_rec: np.ndarray | None = None
    grad_out: np.ndarray | None = None

    def grads(self, reduce: Literal["sum", "mean"] = "sum") -> Weights:
        """Batch-reduced gradients keyed like the weights (sum = minibatch mode of the brief; mean = tf2 style)."""
        if self.grad_in is None:
            raise ValueError("no gradients: run_sample was called with train=False")
        f = np.sum if reduce == "sum" else np.mean
        return {k: f(g, axis=0, dtype=F32) for k, g in
                zip(WEIGHT_KEYS, (self.grad_in, self.grad_rec, self.grad_out))}


# ---------------------------------------------------------------------------------------------------------------
# stepwise eligibility (S13–S17) in the three memory layouts
# ---------------------------------------------------------------------------------------------------------------
class _Coefs:
    """Per-postsynaptic coefficients hoisted out of the synapse loop (§4.2): d = ρ−(1−ρ)βψ, c = (1−α)(1−ρ)ψ,
    p = (1−α)ψ, q = βψ, shaped [B,1,N] to broadcast over presynaptic rows."""

    def __init__(self, b: int, n: int) -> None:
        self.d = np.zeros((b, 1, n), F32)
        self.c = np.zeros((b, 1, n), F32)
        self.p = np.zeros((b, 1, n), F32)
        self.q = np.zeros((b, 1, n), F32)

    def fill(self, psi: np.ndarray, k: "_Consts", w_t: np.float32 | None) -> None:
        """Compute the four coefficients from ψ_t [B,N]; fold the closed-form weight w_t into p and q."""
        ps = psi[:, None, :]
        np.multiply(ps, k.omr_beta, out=self.d)
        np.subtract(k.rho, self.d, out=self.d)
        np.multiply(ps, k.oaor, out=self.c)
        np.multiply(ps, k.oma, out=self.p)
        np.multiply(ps, k.beta, out=self.q)
        if w_t is not None:
            self.p *= w_t
            self.q *= w_t


@dataclass
class _Consts:
    """Float32 constants unpacked once per call so the hot loop does no attribute lookups or upcasts."""

    alpha: np.float32
    oma: np.float32
    rho: np.float32
    omr: np.float32
    oaor: np.float32
    kappa: np.float32
    v_th: np.float32
    beta: np.ndarray  # [N]
    omr_beta: np.ndarray  # [N] (1−ρ)·β_j

    @classmethod
    def of(cls, p: EpropParams) -> "_Consts":
        beta = p.beta_vec
        return cls(p.alpha, p.one_minus_alpha, p.rho, p.one_minus_rho, p.one_alpha_x_one_rho, p.kappa,
                   F32(p.v_th), beta, (p.one_minus_rho * beta).astype(F32))


class _StepwiseEligibility:
    """ε^v, ε^a, (ē), E for all synapses of B samples, updated once per time step.

    ``paper`` keeps ε^v per synapse and ē; ``lean`` keeps ε^v per presynaptic neuron; ``closed_form`` additionally
    drops ē and accumulates E += w_t·e. The recurrent diagonal of e (and of ε^v/ε^a where stored per synapse) is
    zeroed every step as S16 does, so E_rec[j][j] stays 0.
    """

    def __init__(self, params: EpropParams, b: int) -> None:
        p = params
        self.layout, self.exact = p.memory_layout, p.eps_a == "exact"
        n_pre, n = p.n_in + p.n_rec, p.n_rec
        shape = (b, n_pre, n)
        self.k = _Consts.of(p)
        self.ev = np.zeros(shape if self.layout == "paper" else (b, n_pre, 1), F32)
        self.ea, self.e, self.tmp, self.E = (np.zeros(shape, F32) for _ in range(4))
        self.ebar = np.zeros(shape, F32) if self.layout != "closed_form" else None
        self.w = p.closed_form_weights() if self.layout == "closed_form" else None
        self.cur, self.prev = _Coefs(b, n), _Coefs(b, n)  # prev: ψ_{t−1} coefficients (exact mode; ψ_{−1} = 0)
        self.prev.d[...] = self.k.rho
        self._diag = [self._diag_view(a, p) for a in (self.e, self.ea)]
        if self.layout == "paper":
            self._diag.append(self._diag_view(self.ev, p))

    @staticmethod
    def _diag_view(a: np.ndarray, p: EpropParams) -> np.ndarray:
        """Strided view of the recurrent diagonal (row n_in+j, column j) of a [B, P, N] array."""
        n = p.n_rec
        return a.reshape(a.shape[0], -1)[:, p.n_in * n::n + 1]

    def step(self, t: int, u: np.ndarray, psi: np.ndarray) -> None:
        """Advance all traces by one step given u_t = [x_t, z_{t−1}] [B,P] and ψ_t [B,N]."""
        k, ev, ea, tmp = self.k, self.ev, self.ea, self.tmp
        c = self.cur
        w_t = self.w[t] if self.w is not None else None
        c.fill(psi, k, w_t)
        if self.exact:  # ε^a_t = d(ψ_{t−1})·ε^a_{t−1} + c(ψ_{t−1})·ε^v_{t−1}: update before ε^v moves on
            ea *= self.prev.d
            np.multiply(ev, self.prev.c, out=tmp)
            ea += tmp
        ev *= k.alpha  # S13 ε^v ← α ε^v + u
        ev += u[:, :, None]
        if not self.exact:  # repo: uses ψ_t and the new ε^v_t
            ea *= c.d
            np.multiply(ev, c.c, out=tmp)
            ea += tmp
        np.multiply(ev, c.p, out=self.e)  # e = ψ((1−α)ε^v − βε^a)  (×w_t in closed form)
        np.multiply(ea, c.q, out=tmp)
        self.e -= tmp
        for dv in self._diag:  # S16: no eligibility for autapses
            dv[...] = 0.0
        if self.ebar is None:
            self.E += self.e
        else:  # S14/S17: ē ← κē + e; E += ē
            self.ebar *= k.kappa
            self.ebar += self.e
            self.E += self.ebar
        if self.exact:
            self.cur, self.prev = self.prev, self.cur  # only d, c of prev are read (p, q may carry w_t)


# ---------------------------------------------------------------------------------------------------------------
# forward pass (S3–S12)
# ---------------------------------------------------------------------------------------------------------------
def _as_batch(x: np.ndarray, labels: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Promote a single [T, n_in] sample to a batch of one; labels become an int array [B]."""
    x = np.asarray(x, dtype=F32)
    if x.ndim == 2:
        x = x[None]
    y = np.atleast_1d(np.asarray(labels, dtype=np.int64))
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"{x.shape[0]} samples but {y.shape[0]} labels")
    return np.ascontiguousarray(x), y


def _stacked_weights(w: Weights, p: EpropParams) -> np.ndarray:
    """[W_in; W_rec] as one [P, N] matrix so I_t = u_t @ W (diagonal zeroed for autapse='mask')."""
    wr = w["w_rec"]
    if p.autapse == "mask":
        wr = wr.copy()
        np.fill_diagonal(wr, 0.0)
    return np.ascontiguousarray(np.vstack([w["w_in"], wr]), dtype=F32)


def _run(w: Weights, x: np.ndarray, p: EpropParams, train: bool, engine: Engine,
         readout_starts: Sequence[int] | None = None):
    """Time loop. Returns (z, v, vs, out_sum, zbar_sum, U, elig) where U [B,T,P] holds u_t for the factorized engine.

    ``readout_starts``: sum the readout per slice and then over slices, as the chip does (module docstring).
    """
    k = _Consts.of(p)
    b_sz, n_t, n = x.shape[0], p.n_steps, p.n_rec
    if x.shape[1] != n_t or x.shape[2] != p.n_in:
        raise ValueError(f"x has shape {x.shape}, expected [B, {n_t}, {p.n_in}]")
    wc, w_out = _stacked_weights(w, p), w["w_out"]
    zs = np.zeros((b_sz, n_t, n), np.uint8)
    vs_all = np.zeros((b_sz, n_t, n), F32)
    v_all = np.zeros((b_sz, n_t, n), F32)
    v, b, a, cur, tmp, zbar, zp, gz = (np.zeros((b_sz, n), F32) for _ in range(8))
    zb = np.zeros((b_sz, n), bool)
    u = np.zeros((b_sz, p.n_in + n), F32)
    y, out = np.zeros((b_sz, p.n_out), F32), np.zeros((b_sz, p.n_out), F32)
    stepwise = train and engine == "stepwise"
    elig = _StepwiseEligibility(p, b_sz) if stepwise else None
    U = np.zeros((b_sz, n_t, p.n_in + n), F32) if (train and engine == "factorized") else None
    starts = None if readout_starts is None else np.asarray(readout_starts, np.intp)
    partial = None if starts is None else np.zeros((b_sz, len(starts), p.n_out), F32)  # each PE's Σ_t y_t
    for t in range(n_t):
        u[:, :p.n_in] = x[:, t]  # u_t = [x_t, z_{t−1}] (S2, S4)
        u[:, p.n_in:] = zp
        b *= k.rho  # S3 b_t = ρ b + (1−ρ) z_{t−1}
        np.multiply(zp, k.omr, out=tmp)
        b += tmp
        np.matmul(u, wc, out=cur)  # S4 I_t (dense, diagonal included)
        np.multiply(b, k.beta, out=a)  # S5 A_t = v_th + β b_t
        a += k.v_th
        v *= k.alpha  # S6 v = αv + (1−α)I − z_{t−1}A_t
        np.multiply(cur, k.oma, out=tmp)
        v += tmp
        np.multiply(zp, a, out=tmp)
        v -= tmp
        vs = vs_all[:, t]
        np.subtract(v, a, out=vs)  # S7
        np.greater(vs, 0.0, out=zb)  # S8 strict
        zp[...] = zb
        zbar *= k.kappa  # S10 z̄ = κz̄ + z
        zbar += zp
        if partial is None:
            np.matmul(zbar, w_out, out=y)  # S11
            out += y
        else:  # each slice's rows added in order, as the PE does (np.add.reduceat, the chip's group call)
            partial += np.add.reduceat(zbar[:, :, None] * w_out, starts, axis=1)
        gz += zbar  # S19 (one column; C repeats it 12×)
        zs[:, t] = zb
        v_all[:, t] = v
        if elig is not None:
            elig.step(t, u, surrogate(vs, p))  # S12–S17
        elif U is not None:
            U[:, t] = u
    if partial is not None:  # the root adds the PEs' partials in PE order
        for g in range(len(starts)):
            out += partial[:, g]
    return zs, v_all, vs_all, out, gz, U, elig


# ---------------------------------------------------------------------------------------------------------------
# factorized eligibility sum
# ---------------------------------------------------------------------------------------------------------------
def _factorized_E(U: np.ndarray, vs: np.ndarray, p: EpropParams) -> np.ndarray:
    """E = Σ_t ē_t as Σ_t ε^v_t[i]·M_t[j] ([B,P,N]); exact algebraic rewrite of the stepwise recursions.

    ε^a_t = Σ_{s≤t} (Π_{r=s+1..t} d_r) c_s ε^v_s (repo) is separable in (i, j), so Σ_t w_t q_t ε^a_t =
    Σ_s ε^v_s c_s G_s with G_s = w_s q_s + d_{s+1} G_{s+1}. The TU Graz lag (eps_a='exact') shifts it by one step:
    H_s = w_{s+1} q_{s+1} + d_{s+1} H_{s+1}, H_{T−1} = 0.
    """
    k = _Consts.of(p)
    psi = surrogate(vs, p)  # [B,T,N]
    d = k.rho - psi * k.omr_beta
    c, pp, q = psi * k.oaor, psi * k.oma, psi * k.beta
    w = p.closed_form_weights()[None, :, None]
    wq = w * q
    g = np.zeros_like(psi)
    n_t = p.n_steps
    if p.eps_a == "repo":
        g[:, -1] = wq[:, -1]
        for s in range(n_t - 2, -1, -1):
            g[:, s] = wq[:, s] + d[:, s + 1] * g[:, s + 1]
    else:
        for s in range(n_t - 2, -1, -1):
            g[:, s] = wq[:, s + 1] + d[:, s + 1] * g[:, s + 1]
    m = w * pp - c * g
    ev = np.empty_like(U)  # ε^v per presynaptic neuron
    acc = np.zeros(U[:, 0].shape, F32)
    for t in range(n_t):
        acc *= k.alpha
        acc += U[:, t]
        ev[:, t] = acc
    e_sum = np.matmul(ev.transpose(0, 2, 1), m)
    diag = e_sum.reshape(e_sum.shape[0], -1)[:, p.n_in * p.n_rec::p.n_rec + 1]
    diag[...] = 0.0
    return e_sum


# ---------------------------------------------------------------------------------------------------------------
# one sample (or batch of samples)
# ---------------------------------------------------------------------------------------------------------------
def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float32 (max-shifted)."""
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _loss_terms(y_mean: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R2: cross-entropy −log softmax(ȳ)[y*] per sample, and the softmax for R3."""
    sh = y_mean - y_mean.max(axis=-1, keepdims=True)
    lse = np.log(np.exp(sh).sum(axis=-1))
    loss = lse - sh[np.arange(len(labels)), labels]
    return loss.astype(F32), _softmax(y_mean)


def run_sample(weights: Weights, x: np.ndarray, labels: int | np.ndarray, params: EpropParams,
               train: bool = True, engine: Engine = "stepwise",
               readout_starts: Sequence[int] | None = None) -> SampleResult:
    """Run one sample [T, n_in] (or B independent samples [B, T, n_in]) from the reset state (§2.1).

    With ``train`` the per-sample e-prop gradients (R3–R7) are returned; weights are not modified.
    ``readout_starts``: the first neuron of each PE's slice, to sum the readout in the chip's order.
    """
    p = params
    x, labels = _as_batch(x, labels)
    z, v, vs, out, gz, U, elig = _run(weights, x, p, train, engine, readout_starts)
    n_t = F32(p.n_steps)
    y_mean = out / n_t  # R1
    loss, soft = _loss_terms(y_mean, labels)
    l2 = float(F32(p.l2) * sum(np.sum(weights[kk] * weights[kk], dtype=F32) for kk in WEIGHT_KEYS))
    res = SampleResult(z=z, v=v, y_mean=y_mean, loss=loss, loss_l2=l2, pred=y_mean.argmax(axis=-1))
    if not train:
        return res
    err = soft
    err[np.arange(len(labels)), labels] -= F32(1.0)  # R3
    w_out = weights["w_out"]
    ls = (err @ w_out.T) / n_t  # R4 symmetric feedback, current W_out
    e_sum = elig.E if elig is not None else _factorized_E(U, vs, p)
    grad = e_sum * ls[:, None, :]  # R5
    two_l2 = p.two_l2
    res.grad_in = grad[:, :p.n_in] + two_l2 * weights["w_in"]  # R7
    res.grad_rec = grad[:, p.n_in:] + two_l2 * weights["w_rec"]
    res.grad_out = (gz[:, :, None] * err[:, None, :]) / n_t + two_l2 * w_out  # R6 + R7
    return res


# ---------------------------------------------------------------------------------------------------------------
# optimiser, schedule, loops
# ---------------------------------------------------------------------------------------------------------------
class Adam:
    """Adam of §2.4 (TF1 "epsilon-hat"): lr_t = lr·√(1−β2^t)/(1−β1^t); W −= lr_t·m/(√v + ε).

    The powers start at β1, β2 (first update uses t = 1) and are multiplied *after* each update; the lr decay
    never resets them.
    """

    def __init__(self, weights: Weights, params: EpropParams) -> None:
        self.params = params
        self.b1, self.b2 = F32(params.adam_beta1), F32(params.adam_beta2)
        self.omb1, self.omb2 = params.adam_one_minus_beta1, params.adam_one_minus_beta2
        self.eps = F32(params.adam_eps)
        self.m = {k: np.zeros_like(weights[k], dtype=F32) for k in WEIGHT_KEYS}
        self.v = {k: np.zeros_like(weights[k], dtype=F32) for k in WEIGHT_KEYS}
        self._tmp = {k: np.zeros_like(weights[k], dtype=F32) for k in WEIGHT_KEYS}
        self.beta1_power, self.beta2_power = self.b1, self.b2
        self.steps = 0

    def step(self, weights: Weights, grads: Weights, lr: float) -> None:
        """Update all three matrices in place with one gradient (one sample in C)."""
        one = F32(1.0)
        lr_t = F32(lr) * np.sqrt(one - self.beta2_power) / (one - self.beta1_power)
        for k in WEIGHT_KEYS:
            g, m, v, tmp, w = grads[k], self.m[k], self.v[k], self._tmp[k], weights[k]
            m *= self.b1  # m ← β1 m + (1−β1) g
            np.multiply(g, self.omb1, out=tmp)
            m += tmp
            v *= self.b2  # v ← β2 v + (1−β2) g²
            np.multiply(g, self.omb2, out=tmp)
            tmp *= g
            v += tmp
            np.sqrt(v, out=tmp)  # ε outside the sqrt
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= lr_t
            w -= tmp
        if self.params.autapse == "mask":
            np.fill_diagonal(weights["w_rec"], 0.0)
        self.beta1_power = F32(self.beta1_power * self.b1)
        self.beta2_power = F32(self.beta2_power * self.b2)
        self.steps += 1


def lr_for_epoch(params: EpropParams, epoch: int) -> np.float32:
    """lr(e) = lr_init·lr_decay^⌊e/decay_every⌋ (main.c multiplies by 0.3 when e > 0 and e % 2 == 0)."""
    return F32(params.lr_init * params.lr_decay ** (epoch // params.lr_decay_every))


def train_online(weights: Weights, adam: Adam, X: np.ndarray, Y: np.ndarray, params: EpropParams, epoch: int,
                 engine: Engine = "factorized",
                 readout_starts: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One epoch of the C loop: for each sample in order, forward + e-prop gradient, then one Adam update.

    Defaults to the factorized engine (~3 ms vs ~10 ms per 80-120-12 sample; same maths, tested equal to the
    stepwise layouts to ~1e-6 relative). Pass ``engine='stepwise'`` to run the firmware-order recursions, and
    ``readout_starts`` (the PE slices' first neurons) to add the readout in the chip's order too.
    Returns (losses [N] cross-entropy before the update, correct [N] bool).
    """
    lr = lr_for_epoch(params, epoch)
    n = len(X)
    losses, correct = np.zeros(n, F32), np.zeros(n, bool)
    for s in range(n):
        r = run_sample(weights, X[s], int(Y[s]), params, train=True, engine=engine, readout_starts=readout_starts)
        adam.step(weights, r.grads(), lr)
        losses[s], correct[s] = r.loss[0], r.pred[0] == Y[s]
    return losses, correct


def train_batched(weights: Weights, adam: Adam, X: np.ndarray, Y: np.ndarray, params: EpropParams, epoch: int,
                  batch: int = 32, reduce: Literal["sum", "mean"] = "sum",
                  engine: Engine = "factorized") -> tuple[np.ndarray, np.ndarray]:
    """Minibatch extra (not the C algorithm): one Adam step per ``batch`` samples on the summed (or mean) gradient."""
    lr = lr_for_epoch(params, epoch)
    losses, correct = np.zeros(len(X), F32), np.zeros(len(X), bool)
    for s in range(0, len(X), batch):
        r = run_sample(weights, X[s:s + batch], Y[s:s + batch], params, train=True, engine=engine)
        adam.step(weights, r.grads(reduce), lr)
        losses[s:s + batch], correct[s:s + batch] = r.loss, r.pred == Y[s:s + batch]
    return losses, correct


def evaluate(weights: Weights, X: np.ndarray, Y: np.ndarray, params: EpropParams,
             batch: int = 256) -> tuple[float, float]:
    """Forward-only (train=False) accuracy and mean cross-entropy over a data set, in batches."""
    n_ok, loss_sum = 0, 0.0
    for s in range(0, len(X), batch):
        r = run_sample(weights, X[s:s + batch], Y[s:s + batch], params, train=False)
        n_ok += int(np.sum(r.pred == Y[s:s + batch]))
        loss_sum += float(np.sum(r.loss, dtype=np.float64))
    return n_ok / len(X), loss_sum / len(X)
