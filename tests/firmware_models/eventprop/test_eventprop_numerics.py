"""The EventProp forward drive as one compiled loop (``firmware_models/eventprop/numerics.py``) gives the
numpy statements' float32 results bit for bit (signed zeros included), and a layer group computes the same
tick either way."""
import numpy as np
import pytest

from firmware_models.eventprop.firmware import HistoryOverflow, _ordered_input_sum
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


@pytest.mark.parametrize("send_errors, is_output", [(True, True), (False, False), (True, False)])
def test_a_layer_groups_batch_is_the_same_with_the_compiled_loops_or_the_numpy_statements(send_errors, is_output):
    """A whole batch of a layer group (forward steps with random input spikes, then the adjoint steps with error
    events and dL/dt arriving) leaves every array the same, bit for bit, either way."""
    import copy

    from firmware_models.eventprop.app import consts
    from firmware_models.eventprop.firmware import LayerGroup
    from firmware_models.eventprop.params import EventpropParams

    p = EventpropParams(n_steps=12)
    c = consts(p)
    rng = np.random.default_rng(7)
    C, n, n_in, T = 5, 6, 9, p.n_steps
    group = LayerGroup(1, 0, n, n_in, C, c, T - 1, send_errors=send_errors, is_output=is_output)
    group.W[:] = rng.normal(0.6, 0.5, group.W.shape).astype(F32)
    groups = {True: group, False: copy.deepcopy(group)}
    groups[True].compiled, groups[False].compiled = True, False
    for tick in range(2 * T):
        phi = tick % c.ticks_per_batch
        outs = {}
        for compiled, g in groups.items():
            if phi < T:  # input spikes for the next step, and error events during the adjoint
                rows, idx = np.nonzero(np.random.default_rng(tick).random((C, n_in)) < 0.3)
                g.record_inputs(tick, phi, rows, idx)
            elif phi == T:  # dL/dt from the loss PE (the batch's first tick cleared it)
                g.gloss[:] = np.random.default_rng(99).normal(0.0, 1.0, g.gloss.shape).astype(F32)
            else:
                err = np.random.default_rng(tick).normal(0.0, 1.0, (C, n)).astype(F32)
                g.err[(tick + 1) & 1] = err
            g.ticks.run_tick_all(tick) if phi != T else g.ticks.passed_all(tick)
            outs[compiled] = g.out
        if phi != T and phi > 0:
            for key in ("fired_rows", "fired_idx", "in_copy", "in_idx", "own_copy"):
                if key in outs[True]:
                    np.testing.assert_array_equal(outs[True][key], outs[False][key])
            if outs[True].get("errs") is not None or outs[False].get("errs") is not None:
                assert np.array_equal(outs[True]["errs"].view(np.uint32), outs[False]["errs"].view(np.uint32))
    for name, value in vars(groups[False]).items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, getattr(groups[True], name)), name
    assert groups[True].acc.any() and groups[True].lV.any()


def _small_group(compiled: bool):
    from firmware_models.eventprop.app import consts
    from firmware_models.eventprop.firmware import LayerGroup
    from firmware_models.eventprop.params import EventpropParams

    c = consts(EventpropParams(n_steps=12))
    group = LayerGroup(1, 0, 3, 2, 3, c, 1, send_errors=True, is_output=True, first_copy=10)  # 3 / 2 slots per copy
    group.compiled = compiled
    return group


@pytest.mark.parametrize("compiled", [True, False])
def test_a_full_spike_history_names_the_copy_and_records_nothing_of_that_step(compiled):
    group = _small_group(compiled)
    group.I[1] = F32(50.0)  # copy 1 (copy 11 of the run) fires all 3 neurons every step
    group._forward(1, 1)
    assert group.hcount.tolist() == [0, 3, 0] and group.first[1].tolist() == [1, 1, 1]
    kept = {name: getattr(group, name).copy() for name in ("hcount", "hs_step", "hs_n", "hs_I", "hs_V", "first")}
    with pytest.raises(HistoryOverflow, match=r"layer 1 copy 11: spike history full \(3 entries\)"):
        group._forward(2, 2)
    for name, before in kept.items():
        assert np.array_equal(getattr(group, name), before), name


@pytest.mark.parametrize("compiled", [True, False])
def test_a_full_input_history_names_the_copy_and_records_nothing_of_that_packet_burst(compiled):
    group = _small_group(compiled)
    group.record_inputs(0, 0, np.array([0, 2]), np.array([1, 0]))
    with pytest.raises(HistoryOverflow, match=r"layer 1 copy 12: input spike history full \(2 entries\)"):
        group.record_inputs(1, 1, np.array([0, 2, 2]), np.array([0, 0, 1]))
    assert group.hicount.tolist() == [1, 0, 1]
    assert group.hi_idx[:, 0].tolist() == [1, 0, 0] and group.hi_step.sum() == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_compiled_history_index_orders_entries_as_nonzero_and_a_stable_sort_by_step(seed):
    """Each copy's first ``count`` entries by step, copy then slot within a step, and where each step starts,
    including entries recorded after the batch (steps past T + 1) and copies with no entries."""
    from firmware_models.eventprop.numerics import index_by_step

    rng = np.random.default_rng(seed)
    C, capacity, T = 6, 40, 12
    steps = rng.integers(0, T + 1, (C, capacity))
    steps[:, 30:] = rng.integers(T + 1, T + 9, (C, 10))  # late entries
    count = rng.integers(0, capacity + 1, C)
    count[2] = 0
    rows, cols = np.nonzero(np.arange(capacity)[None, :] < count[:, None])
    s = steps[rows, cols]
    order = np.argsort(s, kind="stable")
    got_rows, got_cols, got_at = np.empty(len(rows), np.int64), np.empty(len(rows), np.int64), np.empty(T + 2, np.int64)
    index_by_step(steps, count, T + 2, got_rows, got_cols, got_at)
    assert np.array_equal(got_rows, rows[order]) and np.array_equal(got_cols, cols[order])
    assert got_at.tolist() == np.searchsorted(s[order], np.arange(T + 2)).tolist()
