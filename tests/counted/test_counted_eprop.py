"""The counted kernel on e-prop training (``s2sim/counted/eprop.py``): a sample's time steps are counted
(the firmware's own step computes them first, the compiled loop times them, input prefetch DMAs
included), the learning tick runs event-driven, and the run is the exact kernel's, bit for bit: every
timing result, the training records and the trained weights.
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests" / "tools"))

import timing_fingerprint as tf  # noqa: E402
from test_timing_fingerprint import first_difference  # noqa: E402

from s2sim.counted.codes import R_TIMER, R_UNMODELLED, REASONS  # noqa: E402
from forcing import stop_at_the_third_tick  # noqa: E402

GSC = ROOT / "networks" / "gsc.yaml"
TWO_SAMPLES = ["dataset.n_train=2", "dataset.n_valid=1", "dataset.n_test=1"]
TICKS_PER_SAMPLE = 101  # 100 steps and the learning tick


def train(kernel: str):
    """gsc at small size on ``kernel``: (timing results, weights, training records, kernel report)."""
    with tf.kernel_env(kernel):
        result = tf.run_network(GSC, TWO_SAMPLES, {})
    chip = result.sim.machine
    fws = [pe.firmware for pe in chip.used_pes()]
    records = sorted(r for fw in fws for r in fw.records)
    return tf.timing_results(result.sim), fws[0].g.weights(), records, chip.kernel_report()


def assert_same_training(exact, counted):
    assert first_difference(exact[0], counted[0]) is None, first_difference(exact[0], counted[0])
    for name in ("w_in", "w_rec", "w_out"):
        np.testing.assert_array_equal(exact[1][name], counted[1][name])
    assert exact[2] == counted[2] and exact[2]  # losses, predictions, labels of every sample


def test_time_steps_are_counted_and_training_stays_the_exact_kernels_bit_for_bit():
    exact, counted = train("exact"), train("counted")
    assert_same_training(exact, counted)
    ticks = counted[3]["counted_ticks"]
    # every sample: 100 steps (counted; steps 0, 5, ..., 90 prefetch the next 5-frame input chunk by DMA,
    # step 0 applies the learning of the sample before) + the learning tick (event-driven); and the run's
    # first tick (SimPy's time arithmetic may round there, so its prefetch is not counted)
    samples = sum(ticks.values()) // TICKS_PER_SAMPLE
    assert sum(ticks.values()) == samples * TICKS_PER_SAMPLE and samples >= 2
    assert ticks["event_driven"] == samples + 1 and ticks["counted"] == 100 * samples - 1
    assert set(counted[3]["counted_fallbacks"]) == {REASONS[R_UNMODELLED]}


def test_a_fallback_in_the_middle_of_a_window_undoes_its_numerics_and_stays_exact(monkeypatch):
    """The loop claims an overrun at a window's third tick: the numerics of the window (already run for
    all its ticks) are put back, its first two ticks are rerun and committed, the third runs event-driven."""
    exact = train("exact")
    forced = stop_at_the_third_tick(monkeypatch, 5)
    counted = train("counted")
    assert len(forced) == 5
    assert_same_training(exact, counted)
    report = counted[3]
    assert report["counted_fallbacks"][REASONS[R_TIMER]] == 5
    assert report["counted_windows"]["cut_short"] >= 5


def chip_network(kernel: str, seed: int):
    """gsc's 80-120-12 network on 12 PEs with fresh weights, and its inputs."""
    from firmware_models.eprop import reference as R
    from firmware_models.eprop.app import ChipNetwork
    from firmware_models.eprop.mapping import EpropMapping
    from firmware_models.eprop.params import EpropParams
    from s2sim.config import load_arch
    from s2sim.hw.params import HwParams
    from s2sim.sim import Simulation

    p = EpropParams()
    rng = np.random.default_rng(seed)
    w0 = R.init_weights(p, rng)
    X = (rng.standard_normal((3, p.n_steps, p.n_in)) * 4).astype(np.float32)
    net = ChipNetwork(Simulation(HwParams.from_arch(load_arch("spinnaker2")), kernel=kernel), p,
                      EpropMapping(pes=12), w0)
    return net, X


def train_evaluate_train(kernel: str):
    net, X = chip_network(kernel, seed=5)
    records = net.run_samples(X[:2], np.array([1, 3]), train=True, lr=0.01)
    records += net.run_samples(X[2:], np.array([2]), train=False)  # no learning: other step costs
    records += net.run_samples(X[:1], np.array([1]), train=True, lr=0.01)
    return tf.timing_results(net.sim), net.group.weights(), records, net.sim.machine.kernel_report()


def test_evaluation_between_training_calls_is_counted_and_exact():
    exact, counted = train_evaluate_train("exact"), train_evaluate_train("counted")
    assert_same_training(exact, counted)
    assert counted[3]["counted_ticks"]["counted"] >= 4 * 99


def stop_in_the_middle_of_a_sample(kernel: str, ticks: int = 48):
    """One gsc sample on 12 PEs, run as two calls: the DRAM channels, each PE's pre-emption and DMA counters
    after ``ticks`` ticks (the last input prefetch, at step 45, was counted), then the whole sample's timing."""
    net, X = chip_network(kernel, seed=3)
    sim, chip = net.sim, net.sim.machine
    run_ticks, middle = sim.run_ticks, {}

    def in_two_calls(n):
        run_ticks(ticks)
        c = chip.counters
        middle.update(dram=list(chip.dram.channel_free_ns), free=[pe.preemption.free_ns for pe in chip.used_pes()],
                      dma=[list(c.dma_transfers), list(c.dma_bytes), c.dram_bytes_read])
        run_ticks(n - ticks)

    sim.run_ticks = in_two_calls
    net.run_samples(X[:1], np.array([1]), train=True, lr=0.01)
    return middle, tf.timing_results(sim), chip.kernel_report()


def test_input_prefetches_book_the_dram_channels_as_the_exact_kernel_does():
    exact, counted = stop_in_the_middle_of_a_sample("exact"), stop_in_the_middle_of_a_sample("counted")
    assert counted[2]["counted_ticks"]["counted"] >= 90
    assert exact[0]["dma"][2] > 0 and max(exact[0]["dram"]) > 0
    assert counted[0] == exact[0]
    assert first_difference(exact[1], counted[1]) is None, first_difference(exact[1], counted[1])


def sums_after_three_samples(kernel: str) -> tuple[list[dict], list[dict]]:
    net, X = chip_network(kernel, seed=7)
    net.run_samples(X, np.array([1, 2, 3]), train=True, lr=0.01)
    c = net.sim.machine.counters
    return [dict(d) for d in c.bracket_delta], [dict(d) for d in c.cycles_by_level]


def test_kernel_cycle_brackets_and_busy_cycles_add_up_callback_by_callback_as_on_the_exact_kernel():
    """The bracket deltas (what a step would have cost under the other kernel tables) and the busy cycles go on
    from the counters, one addition per kernel line or callback: a window's sum added once would round
    differently in the last bits."""
    exact = sums_after_three_samples("exact")
    assert any(d.get("eligibility", [0.0, 0.0, 0.0])[1] for d in exact[0])
    assert sums_after_three_samples("counted") == exact
