"""The fast kernel is an optimisation, not a model: on every shipped network (small size) it gives
bit for bit the timing of the exact per-PE kernel, with and without a trace recorder attached; and
both kernels give bit for bit the golden timing recorded in ``tests/golden/timing`` (the regression
anchor for moving code: a change that alters both kernels alike is caught there). A golden may change
only in a commit that says why; re-record with ``python tools/timing_fingerprint.py --write-golden``.

Compared: per-(timestep, PE) cycles per phase, time_done, packets in/out and DVFS level; every PE's
counters (timer overruns, late packets, queue-full events, callbacks, ...), busy cycles and time per
level, phase totals and DMA transfers; dropped packets and deliveries; the energy breakdown; and,
recorded, every packet's send/arrival time, every DMA's completion and every callback's interval.
"""
import json
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
    assert_golden(name, exact)
    assert first_difference(exact, fast) is None, first_difference(exact, fast)
    exact.pop("trace")
    assert first_difference(exact, fast_unrecorded) is None, first_difference(exact, fast_unrecorded)
    assert tf.digest(exact) == tf.digest(fast_unrecorded)


@pytest.mark.parametrize("name", list(tf.SMALL_RUNS))
def test_counted_kernel_gives_every_shipped_network_the_golden_timing(name):
    """Counted where it models the run (LIF), event-driven where it does not (other families, DVFS,
    packet NoC, overruns, a full TX queue): either way the golden digest, bit for bit."""
    path, sets, options = tf.small_run(name)
    if name == "fsdd" and not (path.parent.parent.parent / "shared" / "datasets" / "fsdd").exists():
        pytest.skip("FSDD recordings not found at ../shared/datasets/fsdd")
    counted = tf.fingerprint(path, sets, options, kernel="counted", record=False)
    _, digests = tf.golden_for(name)
    if tf.digest(counted) != digests["digest"]:
        golden = tf.golden_results(name)
        golden.pop("trace")
        raise AssertionError(f"{name}: counted kernel differs: {first_difference(golden, json.loads(json.dumps(counted)))}")


def test_counted_kernel_with_a_trace_recorder_runs_event_driven_and_traces_the_golden_times():
    path, sets, options = tf.small_run("lif_bench")
    assert_golden("lif_bench", tf.fingerprint(path, sets, options, kernel="counted", record=True))


def assert_golden(name, traced):
    """``traced`` (a recorded run's results) equals the committed golden, or the first difference is named."""
    golden = tf.golden_for(name)
    assert golden is not None, f"no golden timing for {name!r}: record it (tools/timing_fingerprint.py --write-golden {name})"
    recorded_on, digests = golden
    if tf.digest(traced) == digests["trace_digest"]:
        return
    as_stored = json.loads(json.dumps(traced))  # tuples as lists, as the golden file holds them
    where = first_difference(tf.golden_results(name), as_stored, "golden")
    note = "" if recorded_on == tf.platform_id() else (
        f" (golden recorded on {recorded_on!r}, this is {tf.platform_id()!r}: float32 BLAS may round"
        " differently; record this platform's goldens if the code is unchanged)")
    raise AssertionError(f"{name}: timing differs from the golden: {where}{note}")


def test_the_goldens_cover_every_small_run_and_match_their_full_results():
    for name in tf.SMALL_RUNS:
        golden = tf.golden_for(name)
        assert golden is not None, f"no golden for {name}"
        full = tf.golden_results(name)
        assert tf.digest(full) == golden[1]["trace_digest"]
        full.pop("trace")
        assert tf.digest(full) == golden[1]["digest"]


def test_a_changed_timing_result_changes_the_digest_and_is_located():
    path, sets, options = tf.small_run("lif_bench")
    base = tf.fingerprint(path, sets, options, kernel="exact")
    other = tf.fingerprint(path, [*sets, "run.tick_ns=2000000"], options, kernel="exact")
    assert tf.digest(base) != tf.digest(other)
    assert first_difference(base, other) is not None
    base["per_tick"]["time_done_ns"][3][1] += 1e-9  # one ULP-sized change somewhere in a table
    assert "per_tick.time_done_ns[3][1]" in first_difference(base, tf.fingerprint(path, sets, options))
