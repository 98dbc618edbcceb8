"""The EventProp forward drive as one compiled loop (``firmware_models/eventprop/numerics.py``) gives the
numpy statements' float32 results bit for bit (signed zeros included), and a layer group computes the same
tick either way."""
import numpy as np
import pytest

from firmware_models.eventprop.firmware import _ordered_input_sum
from firmware_models.eventprop.numerics import forward_drive

F32 = np.float32


def numpy_drive(buf, W, I, V, a, b, omb):
    """``LayerGroup._forward``'s numpy statements."""
    n_in_spikes = (buf != 0).sum(axis=1)
    drive = _ordered_input_sum(buf, W)
    I = a * I + drive
    V = b * V + omb * I
    return I, V, n_in_spikes


@pytest.mark.parametrize("C, n, n_in, p_spike", [(22, 120, 5, 0.3), (22, 3, 120, 0.1), (4, 7, 9, 0.0), (3, 5, 6, 1.0)])
def test_the_compiled_forward_drive_is_the_numpy_statements_bit_for_bit(C, n, n_in, p_spike):
    rng = np.random.default_rng(C * 1000 + n_in)
    W = rng.normal(0.0, 2.0, (C, n, n_in)).astype(F32)
    W[:, :, 0] = -W[:, :, 1]  # sums that cancel to a (signed) zero
    buf = (rng.random((C, n_in)) < p_spike).astype(F32)
    buf[0] = 0.0  # a copy without input next to copies with some
    I = rng.normal(0.0, 1.0, (C, n)).astype(F32)
    V = rng.normal(0.0, 1.0, (C, n)).astype(F32)
    I[1] = -0.0
    a, b, omb = F32(0.8), F32(0.95), F32(0.05)
    want_I, want_V, want_count = numpy_drive(buf, W, I, V, a, b, omb)
    got_count = np.empty(C, np.int64)
    forward_drive(buf, W, I, V, a, b, omb, got_count)
    assert np.array_equal(want_I.view(np.uint32), I.view(np.uint32))
    assert np.array_equal(want_V.view(np.uint32), V.view(np.uint32))
    assert np.array_equal(want_count, got_count)
    assert not buf.any()  # consumed


def test_training_with_and_without_the_compiled_loop_gives_the_same_weights(monkeypatch):
    from firmware_models.eventprop import reference as R
    from firmware_models.eventprop.app import ChipNetwork
    from firmware_models.eventprop.mapping import EventpropMapping
    from firmware_models.eventprop.params import EventpropParams
    from s2sim.config import load_arch
    from s2sim.hw.params import HwParams
    from s2sim.sim import Simulation

    def weights(jit: str):
        monkeypatch.setenv("S2SIM_JIT", jit)
        p = EventpropParams(batch=4, n_steps=16)
        times, y = R.load_data(p)["train"]
        net = ChipNetwork(Simulation(HwParams.from_arch(load_arch("spinnaker2"))), p, EventpropMapping(),
                          R.init_weights(p, 42))
        assert all(g.compiled == (jit == "1") for gs in net.slice_groups.values() for g in gs)
        for k in range(2):
            net.run_batch(times[4 * k:4 * k + 4], y[4 * k:4 * k + 4])
        return net.weights

    for a, b in zip(weights("1"), weights("0")):
        np.testing.assert_array_equal(a, b)
