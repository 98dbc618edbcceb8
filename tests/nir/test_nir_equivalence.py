"""Each supported NIR node, in a tiny graph, spikes on the simulated chip exactly as an independent
numpy integration of NIR's equations at the same discretisation (tests/nir/nir_reference.py).

Weights, biases and scales are multiples of 1/256, so every synaptic sum is exact in float32 whatever
order the packets arrive in: any difference is a difference in the dynamics, not in rounding.
"""
import numpy as np
import pytest

nir = pytest.importorskip("nir")

from firmware_models.lif_inference import graph_app  # noqa: E402
from nir_reference import simulate as reference  # noqa: E402
from s2sim.apps import RunContext  # noqa: E402
from s2sim.config import load_network  # noqa: E402
from s2sim.hw.params import HwParams  # noqa: E402

DT_S = 1e-3
TICKS = 60


def dyadic(rng, shape, lo=-40, hi=100):
    return (rng.integers(lo, hi, shape) / 256).astype(np.float32)


def run_on_chip(tmp_path, graph, raster, *sets):
    nir.write(tmp_path / "model.nir", graph)
    np.savez(tmp_path / "model.npz", input=raster.astype(np.uint8) if raster.dtype == bool else raster)
    loaded = load_network(tmp_path / "model.nir", ["run.progress=false", *sets])
    ctx = RunContext(loaded=loaded, hw=HwParams.from_arch(loaded.arch), out_dir=tmp_path,
                     progress=lambda label, total: (lambda n=1: None))
    return graph_app.run(ctx)


def lif(n, tau=0.02, thr=0.5, reset=0.0, leak=0.0, r=None):
    r = tau / DT_S if r is None else r  # snnTorch export convention: input gain ~1 per tick
    return nir.LIF(tau=np.full(n, tau), r=np.full(n, r), v_leak=np.full(n, leak),
                   v_threshold=np.full(n, thr), v_reset=np.full(n, reset))


def cuba_lif(n):
    return nir.CubaLIF(tau_syn=np.full(n, 0.005), tau_mem=np.full(n, 0.02), r=np.full(n, 20.0),
                       v_leak=np.full(n, 0.05), v_threshold=np.full(n, 0.4), v_reset=np.full(n, -0.1),
                       w_in=np.full(n, 5.0))


def chain(n_in, *layers):
    """Input -> layers... -> Output as a NIR graph (layers are (name, node) pairs)."""
    nodes = {"in": nir.Input(np.array([n_in]))} | dict(layers)
    names = ["in"] + [name for name, _ in layers]
    nodes["out"] = nir.Output(nodes[names[-1]].output_type["output"])
    return nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:] + ["out"])))


def assert_same_as_reference(tmp_path, graph, n_in, *sets, method="exact", rate=0.25, seed=0, raster=None):
    """``raster``: the input (default: random spikes at ``rate``); dense values are sent as payloads."""
    rng = np.random.default_rng(seed)
    raster = rng.random((TICKS, n_in)) < rate if raster is None else raster
    result = run_on_chip(tmp_path, graph, raster, *sets, f"model.discretisation={method}",
                         f"model.dt_ns={DT_S * 1e9:g}")
    want = reference(graph, {"in": raster}, DT_S, method)
    for pop, (spikes, v) in want.items():
        if spikes is None:  # non-spiking: the recorded voltage is the output
            got = result.arrays[f"v_{pop}"]
            assert np.abs(v).max() > 0, f"{pop} never moved: the comparison would be vacuous"
            np.testing.assert_array_equal(got, v, err_msg=f"{pop} voltage differs")
        else:
            got = result.arrays[f"spikes_{pop}"]
            assert 0 < spikes.sum() < spikes.size, f"{pop} is silent or saturated: vacuous comparison"
            np.testing.assert_array_equal(got, spikes, err_msg=f"{pop} raster differs")
    return result


@pytest.mark.parametrize("method", ["exact", "euler"])
def test_affine_into_lif_two_layers_split_over_pes(tmp_path, method):
    rng = np.random.default_rng(1)
    graph = chain(12, ("fc1", nir.Affine(dyadic(rng, (30, 12)), dyadic(rng, 30, 0, 8))), ("lif1", lif(30)),
                  ("fc2", nir.Linear(dyadic(rng, (9, 30)))), ("lif2", lif(9, thr=0.3)))
    result = assert_same_as_reference(tmp_path, graph, 12, "mapping.max_atoms_per_core=8", method=method)
    assert len(set(result.mapped.pes)) == 2 + 4 + 2  # input 12, lif1 30, lif2 9 at 8 per PE


def test_lif_leak_and_reset_are_per_neuron(tmp_path):
    rng = np.random.default_rng(2)
    n = 10
    node = nir.LIF(tau=np.linspace(0.005, 0.05, n), r=np.linspace(5, 40, n), v_leak=np.linspace(-0.1, 0.2, n),
                   v_threshold=np.linspace(0.2, 0.6, n), v_reset=np.linspace(-0.2, 0.1, n))
    assert_same_as_reference(tmp_path, chain(8, ("fc", nir.Linear(dyadic(rng, (n, 8)))), ("lif", node)), 8)


def test_cuba_lif(tmp_path):
    rng = np.random.default_rng(3)
    assert_same_as_reference(tmp_path, chain(10, ("fc", nir.Linear(dyadic(rng, (16, 10)))), ("cuba", cuba_lif(16))), 10)


def test_if(tmp_path):
    rng = np.random.default_rng(4)
    node = nir.IF(r=np.full(12, 200.0), v_threshold=np.full(12, 0.6), v_reset=np.zeros(12))
    assert_same_as_reference(tmp_path, chain(10, ("fc", nir.Linear(dyadic(rng, (12, 10)))), ("if", node)), 10)


def test_li_voltage_is_the_output(tmp_path):
    rng = np.random.default_rng(5)
    li = nir.LI(tau=np.full(4, 0.01), r=np.full(4, 10.0), v_leak=np.zeros(4))
    graph = chain(10, ("fc1", nir.Linear(dyadic(rng, (16, 10)))), ("lif", lif(16)),
                  ("fc2", nir.Linear(dyadic(rng, (4, 16)))), ("li", li))
    assert_same_as_reference(tmp_path, graph, 10)


def test_cuba_li_readout(tmp_path):
    rng = np.random.default_rng(6)
    li = nir.CubaLI(tau_syn=np.full(3, 0.004), tau_mem=np.full(3, 0.01), r=np.ones(3), v_leak=np.zeros(3),
                    w_in=np.full(3, 2.0))
    assert_same_as_reference(tmp_path, chain(10, ("fc", nir.Linear(dyadic(rng, (3, 10)))), ("li", li)), 10)


def test_threshold_fires_on_this_ticks_input(tmp_path):
    rng = np.random.default_rng(7)
    graph = chain(10, ("fc", nir.Affine(dyadic(rng, (8, 10)), dyadic(rng, 8, -8, 8))),
                  ("thr", nir.Threshold(np.full(8, 0.1))))
    assert_same_as_reference(tmp_path, graph, 10)


def test_scale_between_linear_maps(tmp_path):
    rng = np.random.default_rng(8)
    graph = chain(10, ("fc", nir.Linear(dyadic(rng, (12, 10)))), ("scale", nir.Scale(np.full(12, 2.0))),
                  ("lif", lif(12)))
    assert_same_as_reference(tmp_path, graph, 10)


def test_flatten_of_a_2d_input(tmp_path):
    rng = np.random.default_rng(9)
    nodes = {"in": nir.Input(np.array([3, 4])), "flat": nir.Flatten(input_type={"input": np.array([3, 4])}, start_dim=0),
             "fc": nir.Linear(dyadic(rng, (10, 12))), "lif": lif(10), "out": nir.Output(np.array([10]))}
    graph = nir.NIRGraph(nodes=nodes, edges=[("in", "flat"), ("flat", "fc"), ("fc", "lif"), ("lif", "out")])
    assert_same_as_reference(tmp_path, graph, 12)


def test_conv2d_lowered_to_synaptic_rows(tmp_path):
    rng = np.random.default_rng(10)
    conv = nir.Conv2d(input_shape=(6, 6), weight=dyadic(rng, (2, 1, 3, 3), -20, 100), stride=1, padding=1,
                      dilation=1, groups=1, bias=np.zeros(2, np.float32))
    nodes = {"in": nir.Input(np.array([1, 6, 6])), "conv": conv, "lif": lif((2, 6, 6), thr=0.3),
             "out": nir.Output(np.array([72]))}
    graph = nir.NIRGraph(nodes=nodes, edges=[("in", "conv"), ("conv", "lif"), ("lif", "out")],
                         type_check=False)
    assert_same_as_reference(tmp_path, graph, 36)


def test_recurrent_projection_onto_itself(tmp_path):
    rng = np.random.default_rng(12)
    nodes = {"in": nir.Input(np.array([10])), "fc": nir.Linear(dyadic(rng, (14, 10))), "lif": lif(14),
             "rec": nir.Linear(dyadic(rng, (14, 14), -60, 60)), "out": nir.Output(np.array([14]))}
    edges = [("in", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "out")]
    result = assert_same_as_reference(tmp_path, nir.NIRGraph(nodes=nodes, edges=edges), 10,
                                      "mapping.max_atoms_per_core=5")
    assert {p.pre for p in result.mapped.graph.projections} == {"in", "lif"}


@pytest.mark.parametrize("method", ["exact", "euler"])
def test_dense_input_drives_the_first_layer_as_a_current(tmp_path, method):
    """Real-valued input (multiples of 1/8, a third of them zero) goes in as one payload packet per
    non-zero value; the first layer adds ``x * row``: the same rasters as the reference's ``W @ x``."""
    rng = np.random.default_rng(13)
    values = (rng.integers(-8, 17, (TICKS, 7)) / 8 * (rng.random((TICKS, 7)) > 1 / 3)).astype(np.float32)
    graph = chain(7, ("fc1", nir.Affine(dyadic(rng, (11, 7)), dyadic(rng, 11, -4, 4))), ("lif", lif(11)),
                  ("fc2", nir.Linear(dyadic(rng, (6, 11)))), ("cuba", cuba_lif(6)))
    result = assert_same_as_reference(tmp_path, graph, 7, "mapping.max_atoms_per_core=4", method=method,
                                      raster=values)
    assert result.extra["inputs"] == {"in": "dense"} and result.extra["late_input_rows"] == 0
    lif_pe = result.mapped.slices["lif"][0].pe
    packets = result.sim.machine.stats.packets_in[:TICKS, lif_pe]
    assert packets.sum() == np.count_nonzero(values)  # one packet per non-zero value, none for zeros
