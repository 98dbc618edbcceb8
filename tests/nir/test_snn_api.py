"""The Python API story: build populations and projections by hand (or from a NIR graph), run them on
the simulated chip, read back spikes, voltages, per-PE time_done and packet counts."""
from pathlib import Path

import numpy as np
import pytest

from s2sim import hardware, snn


def lif_reference(w_pre_post, raster, alpha, thr, v_reset, i_offset):
    """v = alpha*v + I + i_offset, I = the spikes of the previous tick through w; float32."""
    n_post = w_pre_post.shape[1]
    v, out, volts = np.zeros(n_post, np.float32), [], []
    prev = np.zeros(w_pre_post.shape[0])
    for t in range(len(raster)):
        drive = (prev @ w_pre_post).astype(np.float32)
        v = v * np.float32(alpha) + (np.float32(i_offset) + np.float32(1) * drive)
        fired = v > np.float32(thr)
        v = np.where(fired, np.float32(v_reset), v).astype(np.float32)
        out.append(fired)
        volts.append(v)
        prev = raster[t].astype(np.float64)
    return np.array(out), np.array(volts)


def test_hand_built_network_matches_the_lif_equation_and_reports_per_pe_counters():
    rng = np.random.default_rng(3)
    n_in, n, ticks = 20, 24, 40
    raster = rng.random((ticks, n_in)) < 0.2
    w = (rng.integers(-30, 90, (n_in, n)) / 256).astype(np.float32)
    stim = snn.Population(n_in, "spike_list", {i: np.flatnonzero(raster[:, i]).tolist() for i in range(n_in)},
                          name="stim")
    params = {"threshold": 0.6, "alpha_decay": 0.875, "v_reset": -0.125, "i_offset": 0.015625}
    lif = snn.Population(n, "lif", params, name="lif", record=["spikes", "v", "time_done", "n_packets"])
    net = snn.Network("api")
    net.add(stim, lif, snn.Projection(stim, lif, w))
    summary = hardware.Chip(max_atoms_per_core=10).run(net, ticks, sys_tick_in_s=1e-3)

    want_spikes, want_v = lif_reference(w, raster, 0.875, 0.6, -0.125, 0.015625)
    assert 0 < want_spikes.sum() < want_spikes.size
    got = np.zeros_like(want_spikes)
    for i, ticks_fired in lif.get_spikes().items():
        got[ticks_fired, i] = True
    np.testing.assert_array_equal(got, want_spikes)
    np.testing.assert_array_equal(np.array([lif.get_voltages()[i] for i in range(n)]).T, want_v)

    assert summary["pes_used"] == 2 + 3
    packets = lif.get_n_packets()
    assert sorted(packets) == sorted(lif.get_time_done_times()) and len(packets) == 3
    for pe_counts in packets.values():  # every lif PE hears every input spike, in the tick it is sent
        assert pe_counts == raster.sum(axis=1).tolist()
    assert all(0 < t < 1e6 for times in lif.get_time_done_times().values() for t in times)


def test_connection_list_with_delays_and_errors_name_the_culprit():
    stim = snn.Population(2, "spike_list", {0: [0]}, name="stim")
    lif = snn.Population(1, "lif", {"threshold": 0.5}, name="lif")
    assert snn.Projection(stim, lif, [[0, 0, 1.0, 1]]).weight.toarray().tolist() == [[1.0, 0.0]]
    with pytest.raises(snn.SnnError, match="only delay 1"):
        snn.Projection(stim, lif, [[0, 0, 1.0, 3]])
    with pytest.raises(snn.SnnError, match="outside stim"):
        snn.Projection(stim, lif, [[5, 0, 1.0, 1]])
    with pytest.raises(snn.SnnError, match="did not record 'v'"):
        lif.get_voltages()


def test_from_nir_runs_the_graph_as_s2sim_run_does(tmp_path):
    nir = pytest.importorskip("nir")
    from nir_reference import simulate as reference
    rng = np.random.default_rng(11)
    w = (rng.integers(-20, 100, (10, 6)) / 256).astype(np.float32)
    graph = nir.NIRGraph(nodes={"in": nir.Input(np.array([6])), "fc": nir.Linear(w),
                                "lif": nir.LIF(tau=np.full(10, 0.01), r=np.full(10, 5.0), v_leak=np.zeros(10),
                                               v_threshold=np.full(10, 0.4), v_reset=np.zeros(10)),
                                "out": nir.Output(np.array([10]))},
                         edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")])
    raster = rng.random((30, 6)) < 0.3
    # the graph carries no step and tau / r (2 ms) is not the intended one: the caller says it
    net = snn.from_nir(graph, input_spikes=raster, dt_s=5e-4, discretisation="exact")
    hardware.Chip().run(net, 30, sys_tick_in_s=5e-4, out_dir=tmp_path)
    want, _ = reference(graph, {"in": raster}, 5e-4, "exact")["lif"]
    got = np.zeros_like(want)
    for i, t in net.population("lif").get_spikes().items():
        got[t, i] = True
    assert 0 < want.sum()
    np.testing.assert_array_equal(got, want)
    assert (tmp_path / "summary.json").is_file() and (tmp_path / "nir_output.npz").is_file()


def test_dense_input_population_drives_a_lif_layer_as_a_current():
    """A ``dense_input`` population sends its values as payloads; the LIF layer adds ``w * x``."""
    rng = np.random.default_rng(5)
    n_in, n, ticks = 6, 8, 30
    values = (rng.integers(0, 9, (ticks, n_in)) / 8).astype(np.float32)
    w = (rng.integers(-30, 90, (n_in, n)) / 256).astype(np.float32)
    source = snn.Population(n_in, "dense_input", {"values": values}, name="x")
    lif = snn.Population(n, "lif", {"threshold": 0.5, "alpha_decay": 0.75}, name="lif", record=["spikes", "v"])
    net = snn.Network("dense")
    net.add(source, lif, snn.Projection(source, lif, w))
    summary = hardware.Chip().run(net, ticks, sys_tick_in_s=1e-3)
    want_spikes, want_v = lif_reference(w, values, 0.75, 0.5, 0.0, 0.0)
    assert 0 < want_spikes.sum() < want_spikes.size
    np.testing.assert_array_equal(np.array([lif.get_voltages()[i] for i in range(n)]).T, want_v)
    assert summary["app"]["inputs"] == {"x": "dense"}


def test_the_snntorch_example_runs_through_the_api_with_the_full_profile(tmp_path):
    """The shipped snnTorch export: its dt and method come from the file; the API run writes the same
    profile files as `s2sim run` and the output layer's spikes equal the CLI run's."""
    nir = pytest.importorskip("nir")
    from click.testing import CliRunner
    from s2sim.cli import main
    example = Path(__file__).resolve().parents[2] / "networks" / "nir" / "yinyang_snntorch.nir"
    x = np.load(example.with_suffix(".npz"))["input"]
    net = snn.from_nir(nir.read(example), input_spikes=x)
    summary = hardware.Chip().run(net, len(x), sys_tick_in_s=1e-3, out_dir=tmp_path / "api")
    for name in ("summary.json", "timesteps.csv", "nir_output.npz"):
        assert (tmp_path / "api" / name).is_file(), name
    assert summary["energy"]["total_j"] > 0 and summary["latency"]["timestep_ns"]["max"] > 0
    assert summary["app"]["dt_ns"] == 1e5 and summary["app"]["discretisation"] == "euler"
    assert CliRunner().invoke(main, ["run", str(example), "--out", str(tmp_path / "cli"), "--quiet"]).exit_code == 0
    cli = np.load(tmp_path / "cli" / "nir_output.npz")
    output = summary["app"]["outputs"]["output"]
    got = np.zeros((len(x), 3), bool)
    for i, t in net.population(output).get_spikes().items():
        got[t, i] = True
    assert got.any()
    np.testing.assert_array_equal(got, cli[f"spikes_{output}"])


def test_asking_a_network_for_a_population_it_does_not_have_names_the_ones_it_has():
    stim = snn.Population(2, "spike_list", {0: [0]}, name="stim")
    lif = snn.Population(1, "lif", {"threshold": 0.5}, name="lif1")
    net = snn.Network("api")
    net.add(stim, lif, snn.Projection(stim, lif, np.ones((2, 1), np.float32)))
    assert net.population("lif1") is lif
    with pytest.raises(KeyError, match="no population 'lif2'; the network has: stim, lif1"):
        net.population("lif2")
