"""The vectorised reference must equal a slow scalar transcription of the §1.3 pseudo-code.

Why not finite differences: the discrete adjoint (first-order lambda_I update,
jump with Vdot = I - Vpre) is *not* the exact gradient of the discrete forward
pass, and spike times on a grid are piecewise constant in W anyway. What the
firmware must match is the pseudo-code itself, so the check is: an independent
loop-per-neuron, loop-per-step float32 version written line by line from the
spec, on several small random 2- and 3-layer nets, agrees to 1e-6 relative.
"""

from __future__ import annotations

import numpy as np
import pytest

from firmware_models.eventprop import reference as R
from firmware_models.eventprop.params import EventpropParams

f32 = np.float32


def _decay_pair(dt, tau, mode):
    """(decay, 1 - decay) in float32, each rounded once from double (spec: Euler 1 - dt/tau)."""
    if mode == "euler":
        return f32(1.0 - dt / tau), f32(dt / tau)
    return f32(np.exp(-dt / tau)), f32(1.0 - np.exp(-dt / tau))


def scalar_forward(Ws, raster, p):
    """Per-sample, per-neuron, per-step loops; returns per layer (s, I, Vpre) as nested lists."""
    a, _ = _decay_pair(p.dt_ms, p.tau_syn_ms, p.decay)
    b, omb = _decay_pair(p.dt_ms, p.tau_mem_ms, p.decay)
    T = raster.shape[0]
    layers = []
    s_in = [[f32(raster[t, i]) for i in range(raster.shape[1])] for t in range(T)]
    for W in Ws:
        n_out, n_in = W.shape
        s = [[f32(0)] * n_out for _ in range(T)]
        I = [[f32(0)] * n_out for _ in range(T)]
        Vp = [[f32(0)] * n_out for _ in range(T)]
        for j in range(n_out):
            i_c, v = f32(0), f32(0)
            for t in range(1, T):
                inp = f32(0)
                for i in range(n_in):
                    if s_in[t - 1][i]:
                        inp = f32(inp + W[j, i])
                i_c = f32(a * i_c + inp)
                v = f32(b * v + omb * i_c)
                Vp[t][j] = v
                if v > f32(p.threshold):
                    s[t][j] = f32(1)
                    v = f32(0)
                I[t][j] = i_c
        layers.append((s, I, Vp))
        s_in = s
    return layers


def scalar_output_grad(s_out, label, p):
    """First spike per output neuron and dL/dt from the 'On-chip loss' formulas, t in seconds."""
    T, n = len(s_out), len(s_out[0])
    first = [next((t for t in range(T) if s_out[t][k]), T) for k in range(n)]
    spiked = [k for k in range(n) if first[k] < T]
    tsec = [first[k] * p.dt_ms * 1e-3 for k in range(n)]
    sigma = sum(np.exp(-tsec[k] / p.tau0_s) for k in spiked)
    g = [[0.0] * n for _ in range(T)]
    for k in spiked:
        soft = np.exp(-tsec[k] / p.tau0_s) / sigma
        if k == label:
            d = (1 / p.tau0_s) * (1 - soft) + (p.alpha / p.tau1_s) * np.exp(tsec[k] / p.tau1_s)
        else:
            d = -(1 / p.tau0_s) * soft
        if first[k] < T - 1:  # off-chip FirstSpikeTime drops the last step
            g[first[k]][k] = float(d)
    return g


def scalar_backward(Ws, raster, layers, g_top, p):
    """Reverse-time loops, one line per pseudo-code line, every operation rounded to float32
    like the chip's FPU; returns dW per layer (float32 accumulated per sample)."""
    a, one_minus_a = _decay_pair(p.dt_ms, p.tau_syn_ms, p.decay)
    b, _ = _decay_pair(p.dt_ms, p.tau_mem_ms, p.decay)
    tau_s = f32(p.tau_syn_ms * 1e-3)
    T = raster.shape[0]
    dWs = [None] * len(Ws)
    grad_out = [[f32(v) for v in row] for row in g_top]
    for l in range(len(Ws) - 1, -1, -1):
        W = Ws[l]
        n_out, n_in = W.shape
        s, I, Vp = layers[l]
        s_in = raster if l == 0 else layers[l - 1][0]
        lV = [[f32(0)] * n_out for _ in range(T)]
        lI = [[f32(0)] * n_out for _ in range(T)]
        grad_in = [[f32(0)] * n_in for _ in range(T)]
        dW = np.zeros((n_out, n_in), np.float32)
        for t in range(T - 2, -1, -1):
            for i in range(n_in):
                acc = f32(0)
                for j in range(n_out):
                    acc = f32(acc + W[j, i] * f32(lV[t + 1][j] - lI[t + 1][j]))
                grad_in[t][i] = acc
            for j in range(n_out):
                lI[t][j] = f32(a * lI[t + 1][j] + one_minus_a * lV[t + 1][j])
                lV[t][j] = f32(b * lV[t + 1][j])
                vdot = f32(f32(I[t + 1][j] - Vp[t + 1][j]) + f32(1e-10))
                if s[t + 1][j]:
                    lV[t][j] = f32(lV[t][j] + f32(f32(lV[t + 1][j] + grad_out[t + 1][j]) / vdot))
                for i in range(n_in):
                    if s_in[t][i]:
                        dW[j, i] = f32(dW[j, i] - f32(tau_s * lI[t][j]))
        dWs[l] = dW
        grad_out = grad_in
    return dWs


def _random_case(seed, sizes, T):
    """Random sparse input raster and weights strong enough that every layer spikes."""
    rng = np.random.RandomState(seed)
    B = 3
    raster = (rng.rand(B, T, sizes[0]) < 0.25).astype(np.uint8)
    Ws = [(rng.randn(o, i) * 4.0 / i + 8.0 / i).astype(np.float32)
          for i, o in zip(sizes[:-1], sizes[1:])]
    y = rng.randint(sizes[-1], size=B)
    return raster, Ws, y


@pytest.mark.parametrize("seed,sizes,decay", [
    (0, [4, 5, 3], "euler"), (1, [3, 6, 2], "euler"), (2, [5, 4, 4, 3], "euler"),
    (3, [4, 6, 3], "exp"), (4, [2, 3, 3, 2], "exp"),
])
def test_vectorised_equals_scalar_pseudocode(seed, sizes, decay):
    """Forward state, first spikes and every dW agree; some output neurons must spike."""
    T = 14
    p = EventpropParams(loss="onchip", layers=sizes, n_steps=T, t_min=1, decay=decay,
                        mu_s=[1.0] * (len(sizes) - 1), sigma_s=[1.0] * (len(sizes) - 1))
    raster, Ws, y = _random_case(seed, sizes, T)
    loss, first, grads = R.loss_and_grads(Ws, raster.astype(np.float32), y, p)
    recs = R.forward(Ws, raster.astype(np.float32), p)
    total = [np.zeros(W.shape) for W in Ws]
    scale = [0.0] * len(Ws)  # largest per-sample |dW|: the size of the summed terms
    for n in range(raster.shape[0]):
        layers = scalar_forward(Ws, raster[n], p)
        for l, (s, I, Vp) in enumerate(layers):
            np.testing.assert_array_equal(np.array(s), recs[l].spikes[n])
            np.testing.assert_allclose(np.array(I), recs[l].I[n], rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(np.array(Vp), recs[l].Vpre[n], rtol=1e-6, atol=1e-6)
        g = scalar_output_grad(layers[-1][0], y[n], p)
        for l, dW in enumerate(scalar_backward(Ws, raster[n], layers, g, p)):
            total[l] += dW
            scale[l] = max(scale[l], float(np.abs(dW).max()))
    assert (first < T - 1).any(), "test case is vacuous: no output spike carries an error"
    for l in range(len(Ws)):
        assert scale[l] > 0, f"layer {l} gradient is identically zero"
        err = np.abs(grads[l] - total[l]).max() / scale[l]
        assert err < 1e-6, f"layer {l}: relative deviation {err:.2e}"


def test_event_storage_gives_identical_gradients():
    """Backward from O(spikes) events (s, I, Vpre at spikes only) == backward from dense state."""
    p = EventpropParams(loss="onchip", layers=[4, 6, 3], n_steps=14, t_min=1, mu_s=[1, 1], sigma_s=[1, 1])
    raster, Ws, y = _random_case(7, p.layers, p.n_steps)
    s_in = raster.astype(np.float32)
    recs = R.forward(Ws, s_in, p)
    grad_out, _, _ = R.output_error(recs[-1].spikes, y, p)
    dense = R.backward(Ws, s_in, recs, grad_out, p)
    events = [R.to_events(r) for r in recs]
    assert all(len(e.step) == int(r.spikes.sum()) for e, r in zip(events, recs))
    sparse = R.backward(Ws, s_in, [R.from_events(e) for e in events], grad_out, p)
    for d, s in zip(dense, sparse):
        np.testing.assert_array_equal(d, s)
