"""Silent-neuron remedies (silent_rate, loss shaping): off by default, chip == reference when on."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_models.eventprop import reference as R
from firmware_models.eventprop.app import ChipNetwork
from firmware_models.eventprop.mapping import EventpropMapping
from firmware_models.eventprop.params import EventpropParams
from s2sim.config import load_arch
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation
from s2sim.data.yinyang import to_raster

F32 = np.float32
HW = HwParams.from_arch(load_arch("spinnaker2"))


def _grads(p, weights, times, y):
    s_in = to_raster(times, p.n_steps).astype(F32)
    return R.loss_and_grads([w.copy() for w in weights], s_in, y, p)


def test_defaults_are_the_authors_recipe():
    p = EventpropParams()
    assert p.silent_rate is None and p.shape_weight == 0.0
    assert all(a == 0 for a in p.silent_acc)


def test_silent_rule_raises_weights_of_silent_neurons_only():
    """A neuron with no spike in any sample gets dL/dW = -rate * (input spikes), the others
    keep their EventProp gradient."""
    rng = np.random.RandomState(0)
    p0 = EventpropParams(layers=[5, 12, 3], n_steps=20, t_min=1, batch=6, mu_s=[1.0, 5.0],
                         sigma_s=[3.0, 2.0])
    p1 = p0.model_copy(update={"silent_rate": [0.01, 0.0]})
    weights = R.init_weights(p0, rng)
    times = rng.randint(0, 15, (6, 5))
    y = rng.randint(0, 3, 6)
    s_in = to_raster(times, 20).astype(F32)
    hidden = R.forward(weights, s_in, p0)[0].spikes
    never = hidden.sum(axis=(0, 1)) == 0
    assert never.any() and (~never).any(), "the example needs silent and active hidden neurons"
    g0, g1 = _grads(p0, weights, times, y)[2], _grads(p1, weights, times, y)[2]
    count = s_in[:, :-1].sum(axis=(0, 1))  # every sample: silent neuron gets rate * its inputs
    np.testing.assert_allclose(g1[0][never], -0.01 * np.broadcast_to(count, g1[0][never].shape),
                               rtol=1e-5)
    np.testing.assert_array_equal(g1[1], g0[1])  # rate 0 on the output layer
    assert (g1[0][never] < 0).all()


def test_loss_shaping_gives_a_silent_label_neuron_a_gradient():
    rng = np.random.RandomState(1)
    p0 = EventpropParams(layers=[5, 10, 3], n_steps=20, t_min=1, batch=4, mu_s=[4.0, -2.0],
                         sigma_s=[2.0, 0.5])
    p1 = p0.model_copy(update={"shape_weight": 0.5, "shape_tau_ms": 8.0})
    weights = R.init_weights(p0, rng)
    times = rng.randint(0, 15, (4, 5))
    y = np.array([0, 1, 2, 0])
    s_in = to_raster(times, 20).astype(F32)
    out = R.forward(weights, s_in, p0)[-1].spikes
    assert out.sum() == 0, "the example wants every output silent"
    g0, g1 = _grads(p0, weights, times, y)[2], _grads(p1, weights, times, y)[2]
    assert all(np.abs(g).max() == 0 for g in g0), "EventProp alone: no gradient at all"
    assert (g1[1][np.unique(y)] < 0).any() and (g1[1] <= 0).all()  # label rows pushed up
    assert np.abs(g1[0]).max() > 0  # and it flows into the hidden layer


def test_batch_scope_acts_only_on_neurons_dead_for_the_whole_batch():
    rng = np.random.RandomState(0)
    p0 = EventpropParams(layers=[5, 12, 3], n_steps=20, t_min=1, batch=6, mu_s=[1.0, 5.0],
                         sigma_s=[3.0, 2.0])
    p1 = p0.model_copy(update={"silent_rate": [0.01, 0.0], "silent_scope": "batch"})
    weights = R.init_weights(p0, rng)
    times = rng.randint(0, 15, (6, 5))
    y = rng.randint(0, 3, 6)
    s_in = to_raster(times, 20).astype(F32)
    hidden = R.forward(weights, s_in, p0)[0].spikes
    dead = hidden.sum(axis=(0, 1)) == 0
    sometimes = (hidden.sum(axis=1) == 0).any(axis=0) & ~dead
    assert dead.any() and sometimes.any(), "the example needs dead and sometimes-silent neurons"
    g0, g1 = _grads(p0, weights, times, y)[2], _grads(p1, weights, times, y)[2]
    np.testing.assert_array_equal(g1[0][~dead], g0[0][~dead])
    count = s_in[:, :-1].sum(axis=(0, 1))
    np.testing.assert_allclose(g1[0][dead], -0.01 * np.broadcast_to(count, g1[0][dead].shape),
                               rtol=1e-5)


@pytest.mark.parametrize("sizes,decay,loss,ppl,scope,seed", [
    ([4, 9, 3], "euler", "ce", 1, "sample", 0), ([5, 8, 6, 3], "exp", "onchip", 1, "sample", 1),
    ([4, 8, 4], "euler", "ce", 2, "sample", 2), ([4, 12, 3], "euler", "ce", 1, "batch", 3),
    ([5, 10, 6, 3], "exp", "ce", 2, "batch", 4)])
def test_chip_equals_reference_with_both_remedies_on(sizes, decay, loss, ppl, scope, seed):
    rng = np.random.RandomState(seed)
    T, B = 16, 5
    n_w = len(sizes) - 1
    p = EventpropParams(layers=sizes, n_steps=T, t_min=1, decay=decay, loss=loss, batch=B,
                        mu_s=[3.0 if scope == "sample" else 1.5] * n_w, sigma_s=[3.0] * n_w, lr=0.01,
                        silent_rate=[0.02] * n_w, silent_scope=scope, shape_weight=0.3,
                        shape_tau_ms=6.0)
    weights = R.init_weights(p, rng)
    times = rng.randint(0, T - 4, (B, sizes[0]))
    y = rng.randint(0, sizes[-1], B)
    chip = ChipNetwork(Simulation(HW), p, EventpropMapping(pes_per_layer=ppl),
                       [w.copy() for w in weights])
    loss_c, first_c = chip.run_batch(times, y)
    rl, rf, rg = _grads(p, weights, times, y)
    off = p.model_copy(update={"silent_rate": None, "shape_weight": 0.0})
    assert max(float(np.abs(a - b).max() / max(float(np.abs(a).max()), 1e-30))
               for a, b in zip(rg, _grads(off, weights, times, y)[2])) > 1e-2, \
        "vacuous: the remedies barely change this batch's gradient"
    np.testing.assert_array_equal(first_c, rf)
    rg = [g / F32(B) for g in rg]
    tol = 1e-6 if ppl == 1 else 1e-5  # row slices add error partial sums in arrival order
    for a, b in zip(chip.root.last_grads, rg):
        assert float(np.abs(a - b).max()) <= tol * float(np.abs(b).max())
    w = [x.copy() for x in weights]
    R.Adam(w, p.lr, p.weight_decay).step(w, rg)
    if ppl == 1:
        for a, b in zip(chip.weights, w):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert chip.cnt.loss_packets >= B  # one shaping packet per sample at least
