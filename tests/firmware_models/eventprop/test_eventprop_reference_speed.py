"""The fast reference (time-major loops, spike-only sums) gives the same bits as the plain per-step form.

The plain form below is the reference as first written (and as the firmware computes it): every
step of every array, presynaptic rows added in ascending order, lambda_I summed in reverse time.
The fast form must match it bit for bit, sign of zero included, or the chip-vs-reference tests
would be comparing the chip with something else.
"""
from __future__ import annotations

import numpy as np
import pytest

from firmware_models.eventprop import reference as R
from firmware_models.eventprop.params import EventpropParams

F32 = np.float32


def plain_forward(W, s_in, p):
    B, T, _ = s_in.shape
    a, b, omb, theta = p.alpha_syn, p.beta_mem, p.one_minus_beta, F32(p.threshold)
    drive = np.zeros((B, T - 1, W.shape[0]), F32)
    for i in range(W.shape[1]):
        drive += s_in[:, :-1, i, None] * W[:, i]
    spikes, I_all, Vpre = (np.zeros((B, T, W.shape[0]), F32) for _ in range(3))
    I = np.zeros((B, W.shape[0]), F32)
    V = np.zeros_like(I)
    for t in range(1, T):
        I = a * I + drive[:, t - 1]
        V = b * V + omb * I
        Vpre[:, t] = V
        s = (V > theta).astype(F32)
        V = (F32(1.0) - s) * V
        spikes[:, t], I_all[:, t] = s, I
    return spikes, I_all, Vpre


def plain_adjoint(W, s_in, spikes, I_rec, Vpre, grad_out, p):
    B, T, n = spikes.shape
    a, oma, b, theta = p.alpha_syn, p.one_minus_alpha, p.beta_mem, F32(p.threshold)
    vdot = I_rec - Vpre + R.VDOT_EPS
    lV_all, lI_all = np.zeros((B, T, n), F32), np.zeros((B, T, n), F32)
    grad_in = np.zeros((B, T, W.shape[1]), F32)
    acc = np.zeros((B, n, W.shape[1]), F32)
    for t in range(T - 2, -1, -1):
        lV, lI = lV_all[:, t + 1], lI_all[:, t + 1]
        for j in range(n):
            grad_in[:, t] += (lV - lI)[:, j, None] * W[j]
        lI_all[:, t] = a * lI + oma * lV
        jump = np.zeros_like(lV)
        np.divide(theta * lV + grad_out[:, t + 1], vdot[:, t + 1], out=jump, where=spikes[:, t + 1] != 0)
        lV_all[:, t] = b * lV + jump
        acc += lI_all[:, t, :, None] * s_in[:, t, None, :]
    total = np.zeros(W.shape, F32)
    for k in range(B):
        total += acc[k]
    return lV_all, lI_all, grad_in, (-p.tau_syn_s * total).astype(F32)


def same_bits(x, y) -> bool:
    x, y = np.asarray(x), np.asarray(y)
    return x.dtype == y.dtype and x.shape == y.shape and np.ascontiguousarray(x).tobytes() == \
        np.ascontiguousarray(y).tobytes()


@pytest.mark.parametrize("T, rate", [(6, 0.4), (40, 0.1)])
def test_a_layer_with_spike_trains_gives_the_plain_forms_bits(T, rate):
    # several spikes per input channel (counts of 2 as well), a hidden layer that fires repeatedly
    rng = np.random.RandomState(5)
    B, n_in, n = 7, 9, 12
    p = EventpropParams(layers=[n_in, n], n_steps=T, t_min=1, mu_s=[4.0], sigma_s=[2.0], decay="exp")
    W = R.init_weights(p, rng)[0]
    s_in = (rng.rand(B, T, n_in) < rate).astype(F32) + (rng.rand(B, T, n_in) < rate / 4)
    grad_out = rng.randn(B, T, n).astype(F32)

    rec = R.layer_forward(W, s_in, p)
    spikes, I_rec, Vpre = plain_forward(W, s_in, p)
    assert spikes.sum(axis=1).max() > 1, "some neuron should fire more than once"
    assert same_bits(rec.spikes, spikes) and same_bits(rec.I, I_rec) and same_bits(rec.Vpre, Vpre)

    adj = R.layer_adjoint(W, s_in, rec, grad_out, p)
    for fast, plain in zip((adj.lV, adj.lI, adj.grad_in, adj.dW),
                           plain_adjoint(W, s_in, spikes, I_rec, Vpre, grad_out, p)):
        assert same_bits(fast, plain)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_non_finite_weights_spread_as_in_the_plain_form():
    # 0 * inf is nan: a broken run must look as broken as the per-step form makes it
    rng = np.random.RandomState(1)
    p = EventpropParams(layers=[4, 5], n_steps=8, t_min=1, mu_s=[3.0], sigma_s=[1.0])
    W = R.init_weights(p, rng)[0]
    W[2, 1] = np.inf
    s_in = (rng.rand(3, 8, 4) < 0.3).astype(F32)
    assert same_bits(R.layer_forward(W, s_in, p).I, plain_forward(W, s_in, p)[1])
