"""Per-core firmware vs the float32 reference: gradients, weight update, mapping errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from firmware_models.eventprop import reference as R
from firmware_models.eventprop.app import ChipNetwork, validate
from firmware_models.eventprop.mapping import EventpropMapping
from firmware_models.eventprop.params import EventpropParams
from s2sim.apps import AppError
from s2sim.config import ConfigError, load_arch, load_network
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation

F32 = np.float32
HW = HwParams.from_arch(load_arch("spinnaker2"))
YAML = Path(__file__).resolve().parents[3] / "networks" / "yinyang.yaml"


def _chip_vs_reference(p, weights, times, y, mapping=None):
    """One chip batch and the reference batch: (chip grads, ref grads, chip W, ref W, chip)."""
    chip = ChipNetwork(Simulation(HW), p, mapping or EventpropMapping(), [w.copy() for w in weights])
    loss, first = chip.run_batch(times, y)
    s_in = np.zeros((len(y), p.n_steps, p.layers[0]), F32)
    s_in[np.arange(len(y))[:, None], times, np.arange(p.layers[0])[None, :]] = 1
    rl, rf, rg = R.loss_and_grads([w.copy() for w in weights], s_in, y, p)
    np.testing.assert_array_equal(first, rf)
    np.testing.assert_allclose(loss, rl, rtol=1e-6)
    rg = [g / F32(len(y)) for g in rg]
    w = [x.copy() for x in weights]
    R.Adam(w, p.lr, p.weight_decay).step(w, rg)
    return chip.root.last_grads, rg, chip.weights, w, chip


def _rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


@pytest.mark.parametrize("sizes,decay,loss,seed", [
    ([4, 7, 3], "euler", "ce", 0), ([4, 7, 3], "exp", "onchip", 1),
    ([5, 9, 6, 2], "euler", "onchip", 2), ([5, 9, 6, 2], "exp", "ce", 3)])
def test_small_nets_gradients_equal_reference(sizes, decay, loss, seed):
    rng = np.random.RandomState(seed)
    T, B = 16, 5
    n_w = len(sizes) - 1
    p = EventpropParams(layers=sizes, n_steps=T, t_min=1, decay=decay, loss=loss, batch=B,
                        mu_s=[6.0] * n_w, sigma_s=[3.0] * n_w, lr=0.01)
    weights = R.init_weights(p, rng)
    times = rng.randint(0, T - 4, (B, sizes[0]))
    y = rng.randint(0, sizes[-1], B)
    cg, rg, cw, rw, chip = _chip_vs_reference(p, weights, times, y)
    assert any(np.abs(g).max() > 0 for g in rg), "vacuous: zero gradient"
    for a, b in zip(cg, rg):
        assert _rel(a, b) <= 1e-6
    for a, b in zip(cw, rw):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    if n_w > 1:
        assert chip.cnt.error_packets > 0


def test_two_pes_per_layer_matches_within_rounding():
    """Row-sliced layers: error partial sums are added in arrival order (not bit-identical)."""
    rng = np.random.RandomState(7)
    p = EventpropParams(layers=[4, 8, 4], n_steps=16, t_min=1, batch=3, mu_s=[4.0, 4.0],
                        sigma_s=[2.5, 2.5])
    weights = R.init_weights(p, rng)
    times = rng.randint(0, 12, (3, 4))
    y = rng.randint(0, 4, 3)
    cg, rg, _, _, _ = _chip_vs_reference(p, weights, times, y, EventpropMapping(pes_per_layer=2))
    for a, b in zip(cg, rg):
        assert _rel(a, b) <= 1e-5


def test_yinyang_first_batch_update_equals_reference():
    p = EventpropParams()
    data = R.load_data(p)
    times, y = data["train"]
    weights = R.init_weights(p, 42)
    cg, rg, cw, rw, chip = _chip_vs_reference(p, weights, times[:22], y[:22])
    for a, b in zip(cg, rg):
        assert _rel(a, b) <= 1e-6
    for a, b in zip(cw, rw):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    c = chip.cnt
    assert c.spike_packets > 0 and c.error_packets > 0 and c.loss_packets > 0
    # error events only at hidden spikes: far fewer than the dense 120 x 27 per sample
    assert c.error_packets / 22 < 0.2 * 120 * 27
    mem = chip.memory()
    assert all(v["used_bytes"] <= HW.sram_bytes for v in mem.values())


def test_bad_inputs_give_one_line_errors(tmp_path):
    loaded = load_network(YAML)
    validate(loaded)
    with pytest.raises(AppError, match="batch 40 needs 161 PEs"):
        validate(load_network(YAML, ["network.batch=40"]))
    with pytest.raises(AppError, match=r"layer 1 \(5->1000\) needs .* raise pes_per_layer"):
        validate(load_network(YAML, ["network.layers=[5,1000,600]", "network.batch=2"]))
    with pytest.raises(ConfigError, match="t_min"):
        validate(load_network(YAML, ["network.t_min=-1"]))
    with pytest.raises(ConfigError, match="n_steps"):
        validate(load_network(YAML, ["network.n_steps=2"]))
    with pytest.raises(ConfigError, match="decay"):
        validate(load_network(YAML, ["network.decay=linear"]))


def test_error_packets_counts_the_error_keys_the_layer_pes_actually_sent(monkeypatch):
    # A 5-9-6-2 net with two PEs per hidden layer: error events go back through two layers, each
    # presynaptic neuron's event to the slice that owns it. Every send_mc of a key with ERR_FLAG from a
    # layer PE is one error packet (the loss PE's dL/dt packets are counted apart, as loss_packets).
    from firmware_models.eventprop.firmware import ERR_FLAG, LayerCore
    from s2sim.runtime.api import Core
    sent = []
    layer_pes: set[int] = set()
    real_send, real_start = Core.send_mc, LayerCore.on_start

    def send_mc(core, key, payload=None):
        if core.pe_id in layer_pes and key & ERR_FLAG:
            sent.append(key)
        return real_send(core, key, payload)

    def on_start(self, core):
        layer_pes.add(core.pe_id)
        return real_start(self, core)

    monkeypatch.setattr(Core, "send_mc", send_mc)
    monkeypatch.setattr(LayerCore, "on_start", on_start)
    rng = np.random.RandomState(2)
    p = EventpropParams(layers=[5, 9, 6, 2], n_steps=16, t_min=1, decay="euler", loss="onchip", batch=3,
                        mu_s=[6.0] * 3, sigma_s=[3.0] * 3, lr=0.01)
    chip = ChipNetwork(Simulation(HW), p, EventpropMapping(pes_per_layer=[2, 2, 1]), R.init_weights(p, rng))
    chip.run_batch(rng.randint(0, 12, (3, 5)), rng.randint(0, 2, 3))
    assert len(sent) > 0, "vacuous: no error event was sent"
    assert chip.cnt.error_packets == len(sent)
