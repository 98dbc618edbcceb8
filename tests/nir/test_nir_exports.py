"""Files as snnTorch and Norse export them run right by default (snnTorch) or with the documented
option (Norse); files that cannot run right are refused in one line naming what to set.

The files are built by ``tests/nir/exports.py`` with the ``nir`` package, mirroring the exporters; the
expected spikes come from each framework's own update rule written as a numpy loop there."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

nir = pytest.importorskip("nir")

from exports import (dyadic, norse_forward, norse_graph, snntorch_forward,  # noqa: E402
                     snntorch_graph)
from s2sim.cli import main  # noqa: E402
from cli_checks import assert_one_line_error  # noqa: E402

TICKS = 40


def run_file(folder, graph, raster, *sets, name="model"):
    nir.write(folder / f"{name}.nir", graph)
    np.savez(folder / f"{name}.npz", input=raster.astype(np.uint8))
    args = ["run", str(folder / f"{name}.nir"), "--out", str(folder / f"{name}_run"), "--quiet"]
    for s in ("run.progress=false",) + sets:
        args += ["--set", s]
    res = CliRunner().invoke(main, args)
    if res.exit_code != 0:
        return res, None, None
    summary = json.loads((folder / f"{name}_run" / "summary.json").read_text())
    return res, summary, np.load(folder / f"{name}_run" / "nir_output.npz")


def snntorch_net(seed: int, rleaky: bool = False):
    rng = np.random.default_rng(seed)
    weights = [dyadic(rng, (12, 6), -30, 120), dyadic(rng, (10, 12), -40, 110), dyadic(rng, (3, 10), -40, 120)]
    betas = [np.array([0.875, 0.75, 0.9375, 0.5] * 3, np.float32)[:n] for n in (12, 10, 3)]
    thresholds = [0.5, 0.75, 0.625]
    recurrent = (dyadic(rng, (12, 12), -60, 40), np.zeros(12, np.float32)) if rleaky else None
    return weights, betas, thresholds, recurrent


def assert_shifted_equal(out, names, want):
    """Layer k fires at tick t + k + 1 what the framework fires at step t (one tick per projection,
    the input included); the first k + 1 ticks of layer k are silent."""
    for k, (name, spikes) in enumerate(zip(names, want)):
        got = out[f"spikes_{name}"]
        shift = k + 1
        assert not got[:shift].any()
        np.testing.assert_array_equal(got[shift:], spikes[:TICKS - shift], err_msg=f"layer {name}")


def test_a_raw_snntorch_export_runs_as_snntorch_with_no_settings(tmp_path):
    weights, betas, thresholds, _ = snntorch_net(1)
    raster = np.random.default_rng(2).random((TICKS, 6)) < 0.4
    res, summary, out = run_file(tmp_path, snntorch_graph(weights, betas, thresholds), raster)
    assert res.exit_code == 0, res.output
    app = summary["app"]
    assert (app["dt_ns"], app["discretisation"]) == (100000.0, "euler")  # from tau / r, no metadata
    assert any("tau / r (snnTorch's export)" in n for n in summary["notes"])
    want = snntorch_forward(raster, weights, betas, thresholds)
    assert all(w.sum() > 0 for w in want)  # every layer spikes: the comparison says something
    assert_shifted_equal(out, ["1", "3", "5"], want)
    # the old default (the tick, 1 ms, exact) is a different network: it must not be what runs
    res, _, old = run_file(tmp_path, snntorch_graph(weights, betas, thresholds), raster,
                           "model.dt_ns=1000000", "model.discretisation=exact", name="old")
    assert not np.array_equal(old["spikes_1"], out["spikes_1"])


def test_a_flat_rleaky_export_runs_by_nirs_equations(tmp_path):
    """snnTorch 1.0 writes RLeaky as a LIF node and its recurrent Affine in a loop; s2sim runs NIR's
    equations exactly. RLeaky's own reset also drops the input of the step after a spike, which NIR
    cannot express: the two differ in a few cells (docs/nir.md)."""
    weights, betas, thresholds, recurrent = snntorch_net(3, rleaky=True)
    raster = np.random.default_rng(4).random((TICKS, 6)) < 0.4
    res, summary, out = run_file(tmp_path, snntorch_graph(weights, betas, thresholds, recurrent), raster)
    assert res.exit_code == 0, res.output
    assert summary["app"]["dt_ns"] == 100000.0
    want = snntorch_forward(raster, weights, betas, thresholds, recurrent)
    assert want[0].sum() > 0 and np.abs(recurrent[0]).sum() > 0
    assert_shifted_equal(out, ["1.lif", "3", "5"], want)
    rleaky = snntorch_forward(raster, weights, betas, thresholds, recurrent, rleaky_discards_input=True)
    differ = rleaky[0][:TICKS - 1] != out["spikes_1.lif"][1:]
    assert differ.any()  # RLeaky's own rule is another network ...
    first = int(np.flatnonzero(differ.any(axis=1))[0])
    assert rleaky[0][:first].any()  # ... once a neuron has spiked (the rules agree until then)


def test_a_bias_acts_from_the_first_tick_before_any_input_arrives(tmp_path):
    """An Affine bias is a constant input of every tick, tick 0 included: a neuron whose bias alone
    crosses threshold fires at tick 0 with a silent input (why exact shifts need bias-free layers)."""
    weights, betas, thresholds, _ = snntorch_net(5)
    graph = snntorch_graph(weights[:1], betas[:1], thresholds[:1])
    bias = np.zeros(12, np.float32)
    bias[3] = 0.75  # > threshold 0.5 after one step (g = 1)
    graph.nodes["0"] = nir.Affine(weights[0], bias)
    res, _, out = run_file(tmp_path, graph, np.zeros((TICKS, 6), bool))
    assert res.exit_code == 0, res.output
    fired = out["spikes_1"]
    assert fired[0, 3] and fired[:, 3].all() and not np.delete(fired, 3, axis=1).any()


def norse_net(seed: int):
    rng = np.random.default_rng(seed)
    weights = [dyadic(rng, (10, 6), -20, 120, 64), dyadic(rng, (4, 10), -20, 120, 64)]
    # dt/tau = 1/8 and 1/4: the Euler factors are exact in float32
    return weights, [125.0, 125.0], [250.0, 250.0], [0.25, 0.3]


def test_a_norse_export_matches_norse_with_the_exporter_option(tmp_path):
    weights, tmi, tsi, v_th = norse_net(6)
    raster = np.random.default_rng(7).random((TICKS, 6)) < 0.3
    res, summary, out = run_file(tmp_path, norse_graph(weights, tmi, tsi, v_th), raster, "model.exporter=norse")
    assert res.exit_code == 0, res.output
    assert (summary["app"]["dt_ns"], summary["app"]["discretisation"]) == (1e6, "euler")
    spikes, volts = norse_forward(raster, weights, tmi, tsi, v_th)
    assert all(s.sum() > 0 for s in spikes)
    for name, s, v in zip(["1", "3"], spikes, volts):
        np.testing.assert_array_equal(out[f"spikes_{name}"], s, err_msg=name)  # tick for tick, no shift
        np.testing.assert_allclose(out[f"v_{name}"], v, rtol=1e-5, atol=1e-6)


def test_a_norse_export_without_the_option_is_refused_not_run_wrong(tmp_path):
    weights, tmi, tsi, v_th = norse_net(6)
    res, _, _ = run_file(tmp_path, norse_graph(weights, tmi, tsi, v_th), np.zeros((5, 6), bool))
    assert_one_line_error(res, "model.dt_ns", "model.exporter=norse")
    # a step given but not the exporter: tau = 8e-6 s makes Euler blow up; refused, not overflowed
    res, _, _ = run_file(tmp_path, norse_graph(weights, tmi, tsi, v_th), np.zeros((5, 6), bool),
                         "model.dt_ns=1000000", "model.discretisation=euler")
    assert_one_line_error(res, "'1' (CubaLIF)", "unstable", "model.discretisation=exact")


def test_euler_where_it_is_inaccurate_is_said_in_the_summary(tmp_path):
    weights, betas, thresholds, _ = snntorch_net(8)
    graph = snntorch_graph(weights[:1], betas[:1], thresholds[:1])
    graph.metadata = {"dt": 1.5e-3, "discretisation": "euler"}
    graph.nodes["1"] = nir.LIF(tau=np.full(12, 1e-3), r=np.ones(12), v_leak=np.zeros(12),
                               v_threshold=np.full(12, 0.5), v_reset=np.zeros(12))
    res, summary, _ = run_file(tmp_path, graph, np.zeros((5, 6), bool))
    assert res.exit_code == 0, res.output
    assert any("node '1' (LIF)" in n and "inaccurate" in n for n in summary["notes"])


@pytest.mark.parametrize("node, field, value, word", [
    ("0", "weight", np.nan, "NaN"), ("1", "v_threshold", np.inf, "infinite"), ("1", "tau", np.nan, "NaN")])
def test_non_finite_parameters_are_refused_with_node_and_field(tmp_path, node, field, value, word):
    weights, betas, thresholds, _ = snntorch_net(9)
    graph = snntorch_graph(weights[:1], betas[:1], thresholds[:1])
    arr = np.array(getattr(graph.nodes[node], field), np.float32)
    arr.reshape(-1)[2] = value
    setattr(graph.nodes[node], field, arr)
    res, _, _ = run_file(tmp_path, graph, np.zeros((5, 6), bool), "model.dt_ns=100000")
    assert_one_line_error(res, f"node '{node}'", field, word)


@pytest.mark.parametrize("raster, words", [
    (np.zeros((0, 6), np.uint8), ["0 ticks"]), (np.array([[0, -1, 1, 0, 0, 1]] * 4), ["integer", "-1"])])
def test_empty_or_negative_integer_rasters_are_refused(tmp_path, raster, words):
    weights, betas, thresholds, _ = snntorch_net(10)
    nir.write(tmp_path / "model.nir", snntorch_graph(weights, betas, thresholds))
    np.savez(tmp_path / "model.npz", input=raster)
    res = CliRunner().invoke(main, ["run", str(tmp_path / "model.nir"), "--out", str(tmp_path / "r"), "--quiet"])
    assert_one_line_error(res, "model.input", *words)
    assert not (tmp_path / "r" / "summary.json").exists()


def test_the_python_api_infers_the_same_step_and_runs_the_same_spikes(tmp_path):
    from s2sim import hardware, snn
    weights, betas, thresholds, _ = snntorch_net(1)
    raster = np.random.default_rng(2).random((TICKS, 6)) < 0.4
    net = snn.from_nir(snntorch_graph(weights, betas, thresholds), input_spikes=raster)
    summary = hardware.Chip().run(net, TICKS, out_dir=tmp_path)
    assert (summary["app"]["dt_ns"], summary["app"]["discretisation"]) == (100000.0, "euler")
    got = np.zeros((TICKS, 12), bool)
    for i, t in net.population("1").get_spikes().items():
        got[t, i] = True
    want = snntorch_forward(raster, weights, betas, thresholds)[0]
    np.testing.assert_array_equal(got[1:], want[:TICKS - 1])
    with pytest.raises(snn.SnnError, match="model.dt_ns"):
        snn.from_nir(norse_graph(*norse_net(6)), input_spikes=raster)
    snn.from_nir(norse_graph(*norse_net(6)), input_spikes=raster, exporter="norse")  # the option is there too
