"""A user runs a NIR file with `s2sim run MODEL.nir` (or a network YAML naming it) and gets the usual
summary; a graph s2sim cannot run is a one-line error with exit status 2, never a silent drop."""
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

nir = pytest.importorskip("nir")

from s2sim.cli import main  # noqa: E402
from cli_checks import assert_one_line_error  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[2] / "networks" / "nir" / "yinyang_if.nir"


def lif(n):
    return nir.LIF(tau=np.full(n, 0.02), r=np.full(n, 20.0), v_leak=np.zeros(n), v_threshold=np.full(n, 0.5),
                   v_reset=np.zeros(n))


def write_model(folder, nodes, edges, n_in=6, ticks=30, name="model"):
    nir.write(folder / f"{name}.nir", nir.NIRGraph(nodes=nodes, edges=edges, type_check=False))
    raster = np.random.default_rng(0).random((ticks, n_in)) < 0.3
    np.savez(folder / f"{name}.npz", input=raster.astype(np.uint8))
    return folder / f"{name}.nir"


def small_net(**replace):
    w = np.full((8, 6), 0.25, np.float32)
    nodes = {"in": nir.Input(np.array([6])), "fc": nir.Linear(w), "lif": lif(8), "out": nir.Output(np.array([8]))}
    return nodes | replace, [("in", "fc"), ("fc", "lif"), ("lif", "out")]


def run(*args):
    return CliRunner().invoke(main, [*args, "--quiet"] if args[0] == "run" else list(args))


def test_run_a_nir_file_gives_the_usual_summary_and_the_rasters(tmp_path):
    model = write_model(tmp_path, *small_net())
    res = run("run", str(model), "--out", str(tmp_path / "run"), "--set", "run.progress=false")
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["pes_used"] == 2 and summary["timesteps"] == 30  # ticks default to the raster's length
    app = summary["app"]
    assert app["populations"]["lif"] == {"type": "LIF", "neurons": 8, "pes": 1, "neurons_per_pe": 8,
                                         "limit": "population"}  # all 8 fit one PE
    assert app["synapses"] == 48 and app["outputs"] == {"out": "lif"}
    out = np.load(tmp_path / "run" / "nir_output.npz")
    assert out["spikes_lif"].shape == (30, 8) and out["spikes_lif"].sum() == app["spikes_per_population"]["lif"]
    assert summary["energy"]["total_j"] > 0 and summary["latency"]["timestep_ns"]["max"] > 0


def test_network_yaml_names_the_nir_file_and_its_input(tmp_path):
    write_model(tmp_path, *small_net(), name="net")
    (tmp_path / "spikes.npz").write_bytes((tmp_path / "net.npz").read_bytes())
    (tmp_path / "net.npz").unlink()
    (tmp_path / "byo.yaml").write_text("name: byo\nmodel:\n  nir: net.nir\n  input: spikes.npz\n"
                                       "  discretisation: euler\nmapping:\n  max_atoms_per_core: 4\n"
                                       "run:\n  ticks: 12\n  progress: false\n")
    assert run("validate", str(tmp_path / "byo.yaml")).exit_code == 0
    res = run("run", str(tmp_path / "byo.yaml"), "--out", str(tmp_path / "run"))
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["pes_used"] == 2 + 2 and summary["timesteps"] == 12
    assert summary["app"]["discretisation"] == "euler"


def test_unsupported_node_names_the_node_and_its_type(tmp_path):
    nodes, edges = small_net()
    nodes["delay"] = nir.Delay(np.ones(8))
    edges = [("in", "fc"), ("fc", "delay"), ("delay", "lif"), ("lif", "out")]
    res = run("run", str(write_model(tmp_path, nodes, edges)), "--out", str(tmp_path / "run"))
    assert_one_line_error(res, "'delay'", "Delay", "unsupported")


def test_non_spiking_node_cannot_feed_a_neuron(tmp_path):
    li = nir.LI(tau=np.full(8, 0.01), r=np.ones(8), v_leak=np.zeros(8))
    nodes, _ = small_net(lif=li)
    nodes |= {"fc2": nir.Linear(np.ones((8, 8), np.float32)), "lif2": lif(8)}
    edges = [("in", "fc"), ("fc", "lif"), ("lif", "fc2"), ("fc2", "lif2"), ("lif2", "out")]
    res = run("run", str(write_model(tmp_path, nodes, edges)), "--out", str(tmp_path / "run"))
    assert_one_line_error(res, "'lif'", "LI", "not spiking")


def test_weight_shape_mismatch_names_the_node(tmp_path):
    nodes, edges = small_net(fc=nir.Linear(np.ones((8, 5), np.float32)))
    res = run("run", str(write_model(tmp_path, nodes, edges)), "--out", str(tmp_path / "run"))
    assert_one_line_error(res, "'fc'", "(n_out, 6)")


def test_input_raster_of_the_wrong_width(tmp_path):
    model = write_model(tmp_path, *small_net())
    np.savez(tmp_path / "model.npz", input=np.zeros((10, 7), np.uint8))
    assert_one_line_error(run("run", str(model), "--out", str(tmp_path / "run")), "model.input", "[ticks, 6]")


def test_a_file_that_is_not_nir(tmp_path):
    (tmp_path / "junk.nir").write_text("not hdf5")
    assert_one_line_error(run("run", str(tmp_path / "junk.nir"), "--out", str(tmp_path / "run")),
                          "junk.nir", "not a readable NIR graph")


def test_dense_input_with_nan_is_refused(tmp_path):
    model = write_model(tmp_path, *small_net())
    values = np.full((10, 6), 0.5, np.float32)
    values[3, 2] = np.nan
    np.savez(tmp_path / "model.npz", input=values)
    assert_one_line_error(run("run", str(model), "--out", str(tmp_path / "run")), "model.input", "NaN")


def test_graph_metadata_with_a_bad_step_is_refused(tmp_path):
    nodes, edges = small_net()
    nir.write(tmp_path / "model.nir", nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": -1.0}))
    np.savez(tmp_path / "model.npz", input=np.zeros((5, 6), np.uint8))
    assert_one_line_error(run("run", str(tmp_path / "model.nir"), "--out", str(tmp_path / "run")),
                          "metadata 'dt'", "positive step in seconds")


def test_graph_metadata_sets_the_step_and_method_unless_the_run_does(tmp_path):
    nodes, edges = small_net()
    nir.write(tmp_path / "model.nir", nir.NIRGraph(nodes=nodes, edges=edges,
                                                   metadata={"dt": 1e-4, "discretisation": "euler"}))
    np.savez(tmp_path / "model.npz", input=np.ones((5, 6), np.uint8))
    assert run("run", str(tmp_path / "model.nir"), "--out", str(tmp_path / "a")).exit_code == 0
    app = json.loads((tmp_path / "a" / "summary.json").read_text())["app"]
    assert (app["dt_ns"], app["discretisation"]) == (100000.0, "euler")
    from firmware_models.lif_inference import graph_app
    from s2sim.apps import RunContext
    from s2sim.config import load_network
    from s2sim.hw.params import HwParams
    loaded = load_network(tmp_path / "model.nir", ["model.dt_ns=20000", "model.discretisation=exact"])
    ctx = RunContext(loaded=loaded, hw=HwParams.from_arch(loaded.arch), out_dir=None,
                     progress=lambda label, total: (lambda n=1: None))
    _, _, model = graph_app.prepare(ctx)  # what the run would use: the settings win over the metadata
    assert (model.dt_ns, model.discretisation) == (20000.0, "exact")


@pytest.mark.parametrize("override, section", [("network.n_rec=5", "network"), ("training.epochs=3", "training"),
                                               ("dataset.n_train=4", "dataset"),
                                               ("firmware.params.group_numerics=false", "firmware.params")])
def test_a_section_a_nir_graph_does_not_read_is_refused_not_silently_ignored(override, section):
    res = CliRunner().invoke(main, ["validate", str(EXAMPLE), "--set", override])
    assert res.exit_code == 2, res.output
    assert f"{section}: 'nir' does not use this section" in res.output and "Traceback" not in res.output
