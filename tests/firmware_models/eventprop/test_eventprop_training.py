"""Params, loss semantics, optimiser and a learning smoke test of the reference."""

from __future__ import annotations

import math

import numpy as np
import pydantic
import pytest

from firmware_models.eventprop import reference as R
from firmware_models.eventprop import training as T
from firmware_models.eventprop.params import EventpropParams
from s2sim.data.yinyang import latency_encode, yinyang


def test_params_defaults_and_validation():
    p = EventpropParams()
    assert p.layers == [5, 120, 3] and p.batch == 22 and p.decay == "euler"
    assert p.alpha_syn == np.float32(0.8) and p.beta_mem == np.float32(0.95)
    assert p.alpha_syn.dtype == np.float32 and p.tau_syn_s == np.float32(5e-3)
    assert EventpropParams(decay="exp").alpha_syn == np.float32(math.exp(-0.2))
    with pytest.raises(pydantic.ValidationError):
        EventpropParams(learning_rate=0.1)  # extra='forbid'
    with pytest.raises(pydantic.ValidationError, match="n_steps"):
        EventpropParams(n_steps=3, t_min=2)
    with pytest.raises(pydantic.ValidationError, match="mu_s"):
        EventpropParams(layers=[5, 10, 10, 3])


def test_loss_gradient_formulas_and_silent_neurons():
    """Label spiked at 3 ms, other at 5 ms, third silent; hand formulas from §1.3."""
    p = EventpropParams(loss="onchip")
    first = np.array([[5, 3, 27]])
    loss, g = R.ttfs_loss(first, np.array([1]), p)
    e3, e5 = math.exp(-3e-3 / 5e-4), math.exp(-5e-3 / 5e-4)
    s = e3 + e5
    exp_lab = (1 / 5e-4) * (1 - e3 / s) + (3e-3 / 6.4e-3) * math.exp(3e-3 / 6.4e-3)
    np.testing.assert_allclose(g[0], [-(1 / 5e-4) * e5 / s, exp_lab, 0.0], rtol=1e-5)
    e27 = math.exp(-27e-3 / 5e-4)
    ce = -math.log(e3 / (e3 + e5 + e27))
    np.testing.assert_allclose(loss, [ce + 3e-3 * math.expm1(3e-3 / 6.4e-3)], rtol=1e-5)
    assert loss.dtype == g.dtype == np.float32
    # silent label: no gradient for it; spiking others are still pushed later
    _, g2 = R.ttfs_loss(np.array([[5, 27, 27]]), np.array([1]), p)
    assert g2[0, 1] == 0 and g2[0, 2] == 0 and g2[0, 0] < 0


def test_output_error_placement_and_accuracy_ties():
    p = EventpropParams(layers=[5, 3], mu_s=[1.0], sigma_s=[1.0])
    spikes = np.zeros((2, 27, 3), np.float32)
    spikes[0, [4, 9], 0] = 1
    spikes[0, 26, 1] = 1  # a first spike at T-1 carries no error (off-chip k[-1] = 0)
    spikes[1, 7, [0, 1]] = 1  # tie
    grad_out, _, first = R.output_error(spikes, np.array([0, 0]), p)
    assert first.tolist() == [[4, 26, 27], [7, 7, 27]]
    assert np.count_nonzero(grad_out[0]) == 1 and grad_out[0, 4, 0] > 0
    assert R.accuracy(first, np.array([0, 0])) == 0.5  # the tie counts wrong


def test_adam_matches_torch_semantics():
    """Two steps by hand: g' = g + wd*w; m, v EMAs; w -= lr m_hat/(sqrt(v_hat)+eps)."""
    w = [np.array([1.0, -2.0], np.float32)]
    opt = R.Adam(w, lr=0.1, weight_decay=0.5)
    ww, m, v = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for t, g in enumerate([np.array([0.3, 0.1]), np.array([-0.2, 0.4])], start=1):
        opt.step(w, [g.astype(np.float32)])
        gg = g + 0.5 * ww
        m, v = 0.9 * m + 0.1 * gg, 0.999 * v + 0.001 * gg ** 2
        ww = ww - 0.1 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
    np.testing.assert_allclose(w[0], ww, rtol=1e-5)
    assert w[0].dtype == np.float32


def test_learning_smoke_300_samples():
    """3 epochs on 300 samples lower the loss and lift accuracy above chance (1/3).

    lr is raised to 0.03 (defaults need ~10x more steps to leave chance); with the
    gradient sign flipped the same run ends at ~0.07 accuracy and a 10x larger loss.
    """
    p = EventpropParams(lr=0.03)
    X, y = yinyang(300, 42)
    times = latency_encode(X, p.n_steps, p.t_min)
    w = R.init_weights(p, 2)
    acc0, loss0 = R.evaluate(w, times, y, p)
    state = T.train_reference(T.fresh_state(p, w), {"train": (times, y), "test": (times, y)}, p, seed=2,
                              epochs=3)
    hist, w = state.history, state.weights
    acc, loss = R.evaluate(w, times, y, p)
    assert hist[-1]["train_loss"] < hist[0]["train_loss"]
    assert loss < 0.6 * loss0
    assert acc > 0.4 > acc0
    engine = T.ReferenceEngine(p)
    engine.load(state, T.batches_per_epoch(len(y), p.batch, drop_last=False))
    assert engine.opt.lr == pytest.approx(0.03 * 0.95 ** 3)
    assert all(x.dtype == np.float32 for x in w)
