"""The fast kernel is an optimisation, not a model: on every shipped network (small size) it gives
bit for bit the timing of the exact per-PE kernel, with and without a trace recorder attached.

Compared: per-(timestep, PE) cycles per phase, time_done, packets in/out and DVFS level; every PE's
counters (timer overruns, late packets, queue-full events, callbacks, ...), busy cycles and time per
level, phase totals and DMA transfers; dropped packets and deliveries; the energy breakdown; and,
recorded, every packet's send/arrival time, every DMA's completion and every callback's interval.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import timing_fingerprint as tf  # noqa: E402


def first_difference(a, b, path="results"):
    """Where two timing results first differ (None: identical)."""
    if type(a) is not type(b):
        return f"{path}: {a!r} vs {b!r}"
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(set(a) ^ set(b))} differ"
        for key in a:
            diff = first_difference(a[key], b[key], f"{path}.{key}")
            if diff:
                return diff
        return None
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{path}: {len(a)} vs {len(b)} entries"
        for i, (x, y) in enumerate(zip(a, b)):
            diff = first_difference(x, y, f"{path}[{i}]")
            if diff:
                return diff
        return None
    return None if a == b else f"{path}: {a!r} vs {b!r}"


@pytest.mark.parametrize("name", list(tf.SMALL_RUNS))
def test_fast_kernel_times_every_shipped_network_exactly_as_the_exact_kernel(name):
    path, sets, options = tf.small_run(name)
    if name == "fsdd" and not (path.parent.parent.parent / "shared" / "datasets" / "fsdd").exists():
        pytest.skip("FSDD recordings not found at ../shared/datasets/fsdd")
    exact = tf.fingerprint(path, sets, options, kernel="exact", record=True)
    fast = tf.fingerprint(path, sets, options, kernel="fast", record=True)
    fast_unrecorded = tf.fingerprint(path, sets, options, kernel="fast", record=False)
    assert first_difference(exact, fast) is None, first_difference(exact, fast)
    exact.pop("trace")
    assert first_difference(exact, fast_unrecorded) is None, first_difference(exact, fast_unrecorded)
    assert tf.digest(exact) == tf.digest(fast_unrecorded)


def test_a_changed_timing_result_changes_the_digest_and_is_located():
    path, sets, options = tf.small_run("lif_bench")
    base = tf.fingerprint(path, sets, options, kernel="exact")
    other = tf.fingerprint(path, [*sets, "run.tick_ns=2000000"], options, kernel="exact")
    assert tf.digest(base) != tf.digest(other)
    assert first_difference(base, other) is not None
    base["per_tick"]["time_done_ns"][3][1] += 1e-9  # one ULP-sized change somewhere in a table
    assert "per_tick.time_done_ns[3][1]" in first_difference(base, tf.fingerprint(path, sets, options))
