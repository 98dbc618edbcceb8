"""Chip EventProp with spike-train inputs and a custom dL/dt rule in the loss PE, vs the reference."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_models.eventprop import reference as R
from firmware_models.eventprop.app import ChipNetwork
from firmware_models.eventprop.mapping import EventpropMapping
from firmware_models.eventprop.params import EventpropParams
from s2sim.apps import AppError
from s2sim.config import load_arch
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation

F32 = np.float32
HW = HwParams.from_arch(load_arch("spinnaker2"))


def squared_time_error(first: np.ndarray, y: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray]:
    """A TTFS loss unlike the built-in ones: the label should fire at step 3, the others at T-2.

    L = 0.5 sum_k ((t_k - target_k) / T)^2, dL/dt_k = (t_k - target_k) / T^2."""
    target = np.full(first.shape, T - 2, F32)
    target[np.arange(len(y)), y] = 3
    diff = (first.astype(F32) - target) / F32(T)
    return (F32(0.5) * (diff * diff).sum(axis=1)).astype(F32), (diff / F32(T)).astype(F32)


def _spike_train_batch(rng, B: int, T: int, n_in: int, rate: float) -> np.ndarray:
    """Poisson-like raster [B, T, n_in] with several spikes on most channels."""
    raster = rng.rand(B, T, n_in) < rate
    raster[:, -1] = False  # a spike in the last step cannot act inside the window anyway
    return raster


def _chip_and_reference(p, weights, raster, y, hook, mapping=None):
    chip = ChipNetwork(Simulation(HW), p, mapping or EventpropMapping(input_spikes_per_channel=p.n_steps),
                       [w.copy() for w in weights], dldt_hook=hook)
    loss, first = chip.run_batch_raster(raster, y)
    rl, rf, rg = R.loss_and_grads([w.copy() for w in weights], raster.astype(F32), y, p, hook)
    rg = [g / F32(len(y)) for g in rg]
    w = [x.copy() for x in weights]
    R.Adam(w, p.lr, p.weight_decay).step(w, rg)
    return chip, loss, first, rl, rf, rg, w


@pytest.mark.parametrize("hook", [None, squared_time_error])
def test_spike_trains_give_the_reference_gradients(hook):
    rng = np.random.RandomState(3)
    B, T, sizes = 4, 20, [6, 10, 3]
    p = EventpropParams(layers=sizes, n_steps=T, t_min=1, batch=B, mu_s=[1.5, 4.0],
                        sigma_s=[1.0, 2.0], lr=0.01)
    weights = R.init_weights(p, rng)
    raster = _spike_train_batch(rng, B, T, sizes[0], rate=0.25)
    assert (raster.sum(axis=1) > 1).mean() > 0.5, "most channels should carry a spike train"
    y = rng.randint(0, 3, B)
    chip, loss, first, rl, rf, rg, rw = _chip_and_reference(p, weights, raster, y, hook)
    np.testing.assert_array_equal(first, rf)
    np.testing.assert_allclose(loss, rl, rtol=1e-6)
    assert any(np.abs(g).max() > 0 for g in rg), "vacuous: zero gradient"
    for a, b in zip(chip.root.last_grads, rg):
        assert float(np.abs(a - b).max()) <= 1e-6 * float(np.abs(b).max())
    for a, b in zip(chip.weights, rw):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    hidden_spikes = chip.cnt.spike_packets - int(raster.sum())
    assert hidden_spikes > 0, "every input spike is one packet, and the network fired too"


def test_custom_dldt_hook_changes_what_the_loss_pe_sends():
    """The same batch with the built-in CE loss and with the hook: the hook's gradient is used."""
    rng = np.random.RandomState(5)
    B, T, sizes = 3, 16, [4, 8, 2]
    p = EventpropParams(layers=sizes, n_steps=T, t_min=1, batch=B, mu_s=[2.0, 5.0],
                        sigma_s=[1.0, 2.0])
    weights = R.init_weights(p, rng)
    raster = _spike_train_batch(rng, B, T, sizes[0], rate=0.3)
    y = rng.randint(0, 2, B)
    built_in = _chip_and_reference(p, weights, raster, y, None)[0]
    hooked, loss, first, *_ = _chip_and_reference(p, weights, raster, y, squared_time_error)
    np.testing.assert_allclose(loss, squared_time_error(first, y, T)[0], rtol=1e-6)
    assert not np.allclose(built_in.root.last_grads[-1], hooked.root.last_grads[-1])


def test_more_input_spikes_than_the_injector_holds_is_a_one_line_error():
    p = EventpropParams(layers=[3, 4, 2], n_steps=12, t_min=1, batch=2, mu_s=[2.0, 2.0],
                        sigma_s=[1.0, 1.0])
    weights = R.init_weights(p, 0)
    chip = ChipNetwork(Simulation(HW), p, EventpropMapping(input_spikes_per_channel=2), weights)
    raster = np.zeros((2, 12, 3), bool)
    raster[0, :7, 0] = True  # 7 spikes, room for 2 x 3 = 6
    with pytest.raises(AppError, match="7 input spikes, room for 6; raise mapping.input_spikes_per_channel"):
        chip.run_batch_raster(raster, np.array([0, 1]))
