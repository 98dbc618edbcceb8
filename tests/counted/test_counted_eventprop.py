"""The counted kernel on EventProp training (``s2sim/counted/eventprop.py``): a batch's forward, loss and
backward ticks are counted (each PE's own ``tick_work`` and its receivers' ``take_packets`` first, then the
compiled loop from the firmware's priced tables), the reduce, root and weight ticks run event-driven, and
the run is the exact kernel's, bit for bit: every timing result, the losses, first-spike steps and weights.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests" / "tools"))

import timing_fingerprint as tf  # noqa: E402
from test_timing_fingerprint import first_difference  # noqa: E402

from s2sim.counted.codes import R_TIMER, R_UNMODELLED, REASONS  # noqa: E402
from forcing import stop_at_the_third_tick  # noqa: E402


def chip_network(kernel: str, p, grouped: bool | None = None, tick_ns: float = 1_000_000.0):
    """EventProp copies of ``p`` on one chip with the init weights of seed 42, and the training split."""
    from firmware_models.eventprop import reference as R
    from firmware_models.eventprop.app import ChipNetwork
    from firmware_models.eventprop.mapping import EventpropMapping
    from s2sim.config import load_arch
    from s2sim.hw.params import HwParams
    from s2sim.sim import Simulation

    sim = Simulation(HwParams.from_arch(load_arch("spinnaker2")), kernel=kernel)
    net = ChipNetwork(sim, p, EventpropMapping(), R.init_weights(p, 42), tick_ns=tick_ns, grouped=grouped)
    return net, R.load_data(p)["train"]


def small_params(**changes):
    from firmware_models.eventprop.params import EventpropParams
    return EventpropParams(**{"batch": 4, "n_steps": 16, **changes})  # (16 steps: error events reach the hidden layer)


def train(kernel: str, p=None, batches: int = 3, rasters=None, **kwargs):
    """``batches`` training batches (of the training split, or of ``rasters`` [batch, copy, step, channel]):
    (timing results, weights, [(loss, first-spike steps)] per batch, kernel report, the firmware's packet
    counts, group computations and group arrays)."""
    p = p or small_params()
    net, (times, y) = chip_network(kernel, p, **kwargs)
    B, out = p.batch, []
    for k in range(batches):
        if rasters is None:
            out.append(net.run_batch(times[k * B:(k + 1) * B], y[k * B:(k + 1) * B]))
        else:
            out.append(net.run_batch_raster(rasters[k], y[k * B:(k + 1) * B]))
    counts = (net.cnt.spike_packets, net.cnt.error_packets, net.cnt.loss_packets,
              [gs[0].ticks.updates for gs in net.slice_groups.values()],
              [{name: value.copy() for name, value in vars(g).items() if isinstance(value, np.ndarray)}  # histories, ...
               for gs in net.slice_groups.values() for g in gs])
    return tf.timing_results(net.sim), [w.copy() for w in net.weights], out, net.sim.machine.kernel_report(), counts


def counter_total(results: dict, name: str) -> int:
    return sum(pe["counters"][name] for pe in results["pe"].values())


def assert_same_training(exact, counted):
    assert first_difference(exact[0], counted[0]) is None, first_difference(exact[0], counted[0])
    for a, b in zip(exact[1], counted[1]):
        np.testing.assert_array_equal(a, b)
    for (loss_a, first_a), (loss_b, first_b) in zip(exact[2], counted[2]):
        np.testing.assert_array_equal(loss_a, loss_b)
        np.testing.assert_array_equal(first_a, first_b)
    assert exact[4][:4] == counted[4][:4]  # packets the firmware counted (the summary's), group computations
    for a, b in zip(exact[4][4], counted[4][4]):  # every array of the layer groups: state, histories, buffers
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.parametrize("vectorised", [True, False], ids=["all copies at once", "PE by PE"])
def test_forward_loss_and_backward_ticks_are_counted_and_training_stays_the_exact_kernels_bit_for_bit(
        vectorised, monkeypatch):
    """Both ways of running a tick's numerics first (the groups' vectorised ticks, or each PE's own
    ``tick_work`` and ``take_packets``) give the exact kernel's run."""
    from s2sim.counted.eventprop import EventpropModel
    monkeypatch.setattr(EventpropModel, "vectorised", vectorised)
    exact, counted = train("exact"), train("counted")
    assert_same_training(exact, counted)
    untrained = train("exact", batches=0)[1]
    assert not np.array_equal(exact[1][1], untrained[1])  # Adam moved the weights
    assert counter_total(exact[0], "packets_sent") > 0 and exact[0]["deliveries"] > 0
    # per batch of 2T + 3 = 35 ticks: 2T = 32 counted (forward, loss, backward), reduce + root + weights event-driven
    assert counted[3]["counted_ticks"] == {"counted": 3 * 32, "event_driven": 3 * 3}
    assert set(counted[3]["counted_fallbacks"]) == {REASONS[R_UNMODELLED]}


def test_the_shipped_networks_per_tick_work_and_weights_at_full_size_over_two_batches():
    """yinyang as shipped (22 copies, T = 27: 89 PEs): the per-tick records and the weights after two
    batches are the exact kernel's; 54 of each batch's 57 ticks were counted."""
    from firmware_models.eventprop.params import EventpropParams
    p = EventpropParams()
    exact, counted = train("exact", p, batches=2), train("counted", p, batches=2)
    assert_same_training(exact, counted)
    assert counted[3]["counted_ticks"] == {"counted": 2 * 54, "event_driven": 2 * 3}


def test_the_small_shipped_yinyang_run_of_the_timing_fingerprint_is_counted():
    path, sets, options = tf.small_run("yinyang")
    with tf.kernel_env("counted"):
        result = tf.run_network(path, sets, options)
    report = result.sim.machine.kernel_report()
    # two batches of 2T + 3 = 23 ticks (n_steps 10): 20 counted each
    assert report["counted_ticks"] == {"counted": 40, "event_driven": 6}


def test_a_fallback_in_the_middle_of_a_window_undoes_its_numerics_and_stays_exact(monkeypatch):
    """The loop claims an overrun at a window's third tick: the numerics of the window (run for all its ticks
    first) are put back, its first two ticks are rerun and committed, the third runs event-driven."""
    exact = train("exact")
    forced = stop_at_the_third_tick(monkeypatch, 4)
    counted = train("counted")
    assert len(forced) == 4
    assert_same_training(exact, counted)
    report = counted[3]
    assert report["counted_fallbacks"][REASONS[R_TIMER]] == 4
    assert report["counted_windows"]["cut_short"] >= 4
    assert report["counted_ticks"]["counted"] == 3 * 32 - 4


def test_a_tick_too_short_for_the_work_falls_back_where_it_overruns_and_stays_exact():
    """At a 12 µs tick the busiest forward and backward ticks overrun or take packets into the next tick: the loop
    stops there, the event-driven kernel runs them, and the result is still the exact kernel's."""
    exact = train("exact", tick_ns=12_000.0, batches=2)
    counted = train("counted", tick_ns=12_000.0, batches=2)
    assert_same_training(exact, counted)
    report = counted[3]
    assert report["counted_ticks"]["counted"] > 0
    assert set(report["counted_fallbacks"]) - {REASONS[R_UNMODELLED], "work carried over from the ticks before"}
    assert counter_total(exact[0], "timer_overruns") + counter_total(exact[0], "late_packets") > 0


@pytest.mark.parametrize("what, kwargs, reason", [
    ("loss shaping", {"p": small_params(shape_weight=0.01, shape_tau_ms=5.0)}, "loss shaping"),
    ("every PE computing alone", {"grouped": False}, "group_numerics off"),
])
def test_what_the_model_does_not_cover_runs_event_driven_and_exact(what, kwargs, reason):
    exact, counted = train("exact", batches=1, **kwargs), train("counted", batches=1, **kwargs)
    assert_same_training(exact, counted)
    report = counted[3]
    assert report["counted_ticks"]["counted"] == 0
    assert any(reason in key for key in report["counted_fallbacks"]), report["counted_fallbacks"]


def test_spike_trains_with_several_channels_in_one_step_are_recorded_as_each_pe_records_them():
    """Each copy's input spikes of one step reach its first-layer PE as one burst: the counted kernel records
    them into the input history in the order the handler does (ascending channel), so the histories, the
    gradients and the timing stay the exact kernel's."""
    p = small_params()
    rng = np.random.default_rng(3)
    rasters = np.zeros((2, p.batch, p.n_steps, p.layers[0]), bool)
    for b in range(2):
        for k in range(p.batch):  # every channel once (the injector's room), in two steps
            steps = rng.integers(1, 6, 2)
            rasters[b, k, steps[0], :3] = True
            rasters[b, k, steps[1], 3:] = True
    exact = train("exact", batches=2, rasters=rasters)
    counted = train("counted", batches=2, rasters=rasters)
    assert_same_training(exact, counted)
    assert counted[3]["counted_ticks"]["counted"] == 2 * 32
