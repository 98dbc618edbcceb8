"""The counted kernel: windows of LIF ticks through the compiled loop, the event-driven kernel for every
stretch the loop does not model, and the same bits as the exact kernel either way.

Each story runs one LIF network twice from the same network file, on the exact kernel and on the
counted one, and compares every timing result (``tools/timing_fingerprint.timing_results``: per-tick
phases, time done, packets, every counter, energy) and the spike rasters.
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

from firmware_models.lif_inference.app import load_and_place, raster  # noqa: E402
from s2sim.counted.codes import REASONS  # noqa: E402

LIF_BENCH = ROOT / "networks" / "lif_bench.yaml"
SMALL = ["network.layers=[64,96,48]", "mapping.neurons_per_pe=32"]
#: a busy network whose tick is only sometimes long enough: some ticks overrun, most do not
SOMETIMES_OVERRUNS = ["network.layers=[256,256,128]", "mapping.neurons_per_pe=128", "run.tick_ns=80000",
                      "network.input_rate_hz=1000", "network.weight_mean=0.4", "network.tau_mem_ms=1000"]


def run(kernel: str, sets: list[str], n_ticks: int, window_ticks: int | None = None, prepare=None):
    """Load the LIF bench with ``sets`` on ``kernel``, run ``n_ticks`` in one call; (timing, rasters, sim)."""
    with tf.kernel_env(kernel):
        _, sim, built, firmwares = load_and_place(LIF_BENCH, sets)
        if prepare is not None:
            prepare(sim, built)
        engine = sim.machine.counted if kernel == "counted" else None
        if window_ticks is not None:
            engine.window_ticks = window_ticks
        sim.run_ticks(n_ticks)
    rasters = [raster(built, firmwares, layer, n_ticks) for layer in range(len(built.net.layers))]
    return tf.timing_results(sim), rasters, sim


def assert_same_run(exact, counted):
    assert first_difference(exact[0], counted[0]) is None, first_difference(exact[0], counted[0])
    for a, b in zip(exact[1], counted[1]):
        np.testing.assert_array_equal(a, b)


def test_a_quiet_run_is_counted_whole_and_gives_the_exact_kernels_bits():
    exact = run("exact", SMALL, 30)
    counted = run("counted", SMALL, 30, window_ticks=8)
    assert_same_run(exact, counted)
    report = counted[2].machine.kernel_report()
    assert report["counted_ticks"] == {"counted": 30, "event_driven": 0}
    assert report["counted_windows"]["counted"] == 4 and report["counted_fallbacks"] == {}
    assert all(layer.sum() > 0 for layer in counted[1][:2])  # spikes went through the first buffers


def test_an_active_network_is_counted_and_keeps_its_rasters_bit_for_bit():
    sets = SMALL + ["network.input_rate_hz=200", "network.weight_mean=0.3"]
    exact = run("exact", sets, 30)
    counted = run("counted", sets, 30, window_ticks=8)
    assert_same_run(exact, counted)
    assert all(layer.sum() > 100 for layer in counted[1])
    assert counted[2].machine.kernel_report()["counted_ticks"]["counted"] >= 25


def test_narrow_links_make_bursts_queue_for_links_and_ports_as_on_the_event_driven_kernel():
    sets = SMALL + ["network.input_rate_hz=200", "network.weight_mean=0.3", "arch.noc.link_width_bits=8",
                    "arch.pe.tx_queue_size=64"]  # (a deep TX queue: the send loops never stall)
    exact = run("exact", sets, 30)
    counted = run("counted", sets, 30, window_ticks=8)
    assert_same_run(exact, counted)
    assert counted[2].machine.kernel_report()["counted_ticks"]["counted"] == 30


def test_a_fallback_in_the_middle_of_a_window_commits_the_ticks_before_it_and_resumes_counting_after():
    exact = run("exact", SOMETIMES_OVERRUNS, 40)
    counted = run("counted", SOMETIMES_OVERRUNS, 40, window_ticks=8)
    assert_same_run(exact, counted)
    overruns = sum(pe["counters"]["timer_overruns"] for pe in exact[0]["pe"].values())
    assert overruns > 0  # the event-driven kernel ran ticks the loop does not model
    report = counted[2].machine.kernel_report()
    ticks = report["counted_ticks"]
    assert ticks["counted"] > 0 and ticks["event_driven"] > 0 and sum(ticks.values()) == 40
    assert report["counted_windows"]["cut_short"] > 0  # the guard stopped a window after some ticks
    assert set(report["counted_fallbacks"]) & set(REASONS[1:])  # ... for a reason it names


def test_packets_to_a_pe_without_a_program_are_dropped_on_the_event_driven_kernel():
    def route_some_spikes_nowhere(sim, built):
        src = built.slices_of(1)[0].pe
        idle = max(s.pe for s in built.slices) + 1
        sim.machine.routing.add_multicast(src << 16, 0xFFFF0000, src, [idle])

    exact = run("exact", SMALL, 20, prepare=route_some_spikes_nowhere)
    counted = run("counted", SMALL, 20, window_ticks=8, prepare=route_some_spikes_nowhere)
    assert exact[0]["dropped_packets"] > 0
    assert_same_run(exact, counted)
    report = counted[2].machine.kernel_report()
    assert "packet to a PE the counted kernel does not model" in report["counted_fallbacks"]
    assert report["counted_ticks"]["counted"] > 0  # ticks where that PE sent nothing were still counted


def test_a_routing_change_between_two_calls_is_seen_by_the_next_window():
    def run_twice(kernel):
        with tf.kernel_env(kernel):
            _, sim, built, firmwares = load_and_place(LIF_BENCH, SMALL)
            sim.run_ticks(10)
            src = built.slices_of(1)[0].pe
            idle = max(s.pe for s in built.slices) + 1
            sim.machine.routing.add_multicast(src << 16, 0xFFFF0000, src, [idle])
            sim.run_ticks(10)
        return tf.timing_results(sim), [raster(built, firmwares, 1, 20)], sim

    exact, counted = run_twice("exact"), run_twice("counted")
    assert exact[0]["dropped_packets"] > 0
    assert_same_run(exact, counted)
    assert counted[2].machine.kernel_report()["counted_ticks"]["counted"] >= 10


def test_a_program_the_counted_kernel_does_not_cover_runs_event_driven_and_says_why():
    # the snnTorch export's dense input: a DenseSource DMAs each tick's row (DMA is not modelled)
    with tf.kernel_env("counted"):
        result = tf.run_network(ROOT / "networks" / "nir" / "yinyang_snntorch.nir", [], {})
    report = result.sim.machine.kernel_report()
    assert report["counted_ticks"]["counted"] == 0 and report["counted_ticks"]["event_driven"] > 0
    assert "not counted: PE 0 runs DenseSource (family not counted yet)" in report["counted_fallbacks"]


def test_without_numba_the_counted_kernel_runs_as_fast_after_one_line_of_notice(monkeypatch, capsys):
    import s2sim.counted
    from s2sim.hw.chip import Chip
    from s2sim.hw.params import HwParams
    monkeypatch.setattr(s2sim.counted, "numba_available", lambda: False)
    chip = Chip(HwParams.from_arch("spinnaker2"), kernel="counted")
    assert chip.kernel == "fast" and chip.counted is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "numba" in err


@pytest.mark.parametrize("reason, sets", [("DVFS", ["run.dvfs=load"]),
                                          ("packet-level NoC fidelity", ["run.simulator.noc_fidelity=packet"])])
def test_what_the_loop_does_not_model_sends_the_whole_run_event_driven(reason, sets):
    path, base, options = tf.small_run("lif_bench")
    with tf.kernel_env("counted"):
        result = tf.run_network(path, base + sets, options)
    report = result.sim.machine.kernel_report()
    assert report["counted_ticks"]["counted"] == 0
    assert f"not counted: {reason}" in report["counted_fallbacks"]


# ---- NIR graphs (graph_firmware.py: raster sources, per-neuron cores with CUBA and LI readouts) ---------
def nir_graphs():
    import nir
    sys.path.insert(0, str(ROOT / "tests" / "nir"))
    from test_nir_equivalence import chain, cuba_lif, dyadic, lif
    rng = np.random.default_rng(3)
    cuba_li = nir.CubaLI(tau_syn=np.full(3, 0.004), tau_mem=np.full(3, 0.01), r=np.ones(3), v_leak=np.zeros(3),
                         w_in=np.full(3, 2.0))
    return {"cuba_lif_into_cuba_li": chain(10, ("fc", nir.Linear(dyadic(rng, (16, 10)))), ("cuba", cuba_lif(16)),
                                           ("fc2", nir.Linear(dyadic(rng, (3, 16)))), ("li", cuba_li)),
            "lif_split_over_pes": chain(10, ("fc", nir.Linear(dyadic(rng, (40, 10)))), ("lif", lif(40)))}


@pytest.mark.parametrize("name", ["cuba_lif_into_cuba_li", "lif_split_over_pes"])
def test_nir_graphs_are_counted_with_the_exact_kernels_rasters_voltages_and_timing(tmp_path, name):
    sys.path.insert(0, str(ROOT / "tests" / "nir"))
    from test_nir_equivalence import run_on_chip
    graph = nir_graphs()[name]
    raster = np.random.default_rng(0).random((40, 10)) < 0.3
    runs = {}
    for kernel in ("exact", "counted"):
        (tmp_path / kernel).mkdir()
        with tf.kernel_env(kernel):
            runs[kernel] = run_on_chip(tmp_path / kernel, graph, raster, "mapping.max_atoms_per_core=16",
                                       "model.dt_ns=1000000", "model.discretisation=exact")
    exact, counted = runs["exact"], runs["counted"]
    assert first_difference(tf.timing_results(exact.sim), tf.timing_results(counted.sim)) is None
    assert exact.arrays.keys() == counted.arrays.keys()
    for key, value in exact.arrays.items():
        np.testing.assert_array_equal(counted.arrays[key], value, err_msg=key)
    assert any(np.abs(v).sum() > 0 for k, v in counted.arrays.items() if k.startswith("v_"))
    assert counted.sim.machine.kernel_report()["counted_ticks"] == {"counted": 40, "event_driven": 0}
