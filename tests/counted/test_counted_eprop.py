"""The counted kernel on e-prop training (``s2sim/counted/eprop.py``): a sample's plain time steps are
counted (the firmware's own step computes them first, the compiled loop times them), every other tick
(input DMA, a sample's first step, the learning tick) runs event-driven, and the run is the exact
kernel's, bit for bit: every timing result, the training records and the trained weights.
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests" / "tools"))

import timing_fingerprint as tf  # noqa: E402
from test_timing_fingerprint import first_difference  # noqa: E402

import s2sim.counted.loop as loop  # noqa: E402
from s2sim.counted.codes import R_TIMER, R_UNMODELLED, REASONS  # noqa: E402

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


def test_plain_time_steps_are_counted_and_training_stays_the_exact_kernels_bit_for_bit():
    exact, counted = train("exact"), train("counted")
    assert_same_training(exact, counted)
    ticks = counted[3]["counted_ticks"]
    # every sample: 100 steps + the learning tick; 5-frame input chunks, so steps 0, 5, ..., 90 prefetch by
    # DMA, and step 0 and the learning tick run event-driven too: 20 of 101 ticks
    samples = sum(ticks.values()) // TICKS_PER_SAMPLE
    assert sum(ticks.values()) == samples * TICKS_PER_SAMPLE and samples >= 2
    assert ticks["event_driven"] == 20 * samples and ticks["counted"] == 81 * samples
    assert set(counted[3]["counted_fallbacks"]) == {REASONS[R_UNMODELLED]}


def test_a_fallback_in_the_middle_of_a_window_undoes_its_numerics_and_stays_exact(monkeypatch):
    """The loop claims an overrun at a window's third tick: the numerics of the window (already run for
    all its ticks) are put back, its first two ticks are rerun and committed, the third runs event-driven."""
    real = loop.run_window
    forced = []

    def overrun_at_the_third_tick(t0, n_ticks, *args):
        if n_ticks >= 3 and len(forced) < 5:
            forced.append(t0)
            ticks, _ = real(t0, 2, *args)
            assert ticks == 2
            return 2, R_TIMER
        return real(t0, n_ticks, *args)

    exact = train("exact")
    monkeypatch.setattr(loop, "run_window", overrun_at_the_third_tick)
    counted = train("counted")
    assert len(forced) == 5
    assert_same_training(exact, counted)
    report = counted[3]
    assert report["counted_fallbacks"][REASONS[R_TIMER]] == 5
    assert report["counted_windows"]["cut_short"] >= 5
