"""A network exported by snnTorch (``export_to_nir``) spikes on the simulated chip exactly as snnTorch
runs it, tick for tick, once the chip's pipeline is accounted for.

snnTorch's ``Leaky`` is discrete: ``mem = beta * mem + input``, spike if ``mem > threshold``, reset to
zero before the next step (``reset_mechanism="zero"``). Its exporter writes ``tau = dt / (1 - beta)``,
``r = tau / dt`` with ``dt = 1e-4`` s (s2sim reads that step back from ``tau / r``), so s2sim's
``euler`` step at ``dt_ns = 100000`` gives back ``a = beta`` and ``g = 1``. On the chip a layer sees its input one tick later than in snnTorch (one tick
per projection), so layer ``k`` (1-based) fires at tick ``t + k`` what snnTorch's fires at step ``t``.

Needs the ``snntorch`` extra (CPU torch, snntorch, nirtorch); CI does not install it.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

nir = pytest.importorskip("nir")
torch = pytest.importorskip("torch", reason="the snntorch extra (CPU torch) is not installed")
snn = pytest.importorskip("snntorch", reason="the snntorch extra is not installed")
pytest.importorskip("nirtorch", reason="snnTorch's export_to_nir needs nirtorch (the snntorch extra)")

from s2sim.cli import main  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "networks" / "nir" / "yinyang_snntorch.nir"


def tool():
    spec = importlib.util.spec_from_file_location("make_snntorch_nir", REPO / "tools" / "make_snntorch_nir.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_on_chip(tmp_path, nir_file, values, *sets):
    np.savez(tmp_path / "input.npz", input=values)
    out = tmp_path / "run"
    res = CliRunner().invoke(main, ["run", str(nir_file), "--out", str(out), "--quiet", "--set",
                                    f"model.input={tmp_path / 'input.npz'}", *(a for s in sets for a in ("--set", s))])
    assert res.exit_code == 0, res.output
    return np.load(out / "nir_output.npz")


def leaky_layers(graph) -> list[str]:
    """The exported graph's LIF nodes in data-flow order (input first)."""
    order, node = [], "input"
    while node != "output":
        node = next(dst for src, dst in graph.edges if src == node)
        if type(graph.nodes[node]).__name__ == "LIF":
            order.append(node)
    return order


def assert_chip_matches_snntorch(chip, torch_spikes, layers, steps):
    for depth, (name, want) in enumerate(zip(layers, torch_spikes), start=1):
        got = chip[f"spikes_{name}"]
        assert 0 < want.sum() < want.size, f"layer {name} is silent or saturated: vacuous comparison"
        assert not got[:depth].any(), f"layer {name} fired before its input could reach it"
        np.testing.assert_array_equal(got[depth:depth + steps], want, err_msg=f"layer {name} differs from snnTorch")


def test_a_fresh_snntorch_export_runs_at_its_own_dt_and_matches_snntorch(tmp_path):
    """Weights and inputs are multiples of 1/256 and 1/8, so torch's matmul and the chip's per-packet
    sums agree bit for bit; beta differs per neuron."""
    make = tool()
    torch.manual_seed(0)
    net = make.build_net()
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for layer in (net[0], net[2]):
            layer.weight[:] = torch.tensor(rng.integers(-60, 120, tuple(layer.weight.shape)) / 256)
        net[1].beta[:] = torch.tensor(rng.choice([0.5, 0.75, 0.875, 0.9, 0.95], make.N_HIDDEN))
    steps = 25
    x = (rng.integers(0, 9, (steps, 5)) / 8).astype(np.float32)  # a current that changes every step
    graph = make.export(net)
    graph.metadata = {}  # as export_to_nir leaves it: s2sim infers dt from tau / r and uses euler
    nir.write(tmp_path / "fresh.nir", graph)
    torch_spikes = [s.numpy()[:, 0].astype(bool) for s in run_per_step(net, x)]
    padded = np.concatenate([x, np.zeros((2, 5), np.float32)])
    chip = run_on_chip(tmp_path, tmp_path / "fresh.nir", padded)  # no settings
    assert_chip_matches_snntorch(chip, torch_spikes, leaky_layers(graph), steps)


def run_per_step(net, x):
    """snnTorch on a time-varying input ``x [steps, 5]`` (batch 1): spikes per Leaky layer."""
    for m in net.modules():
        if isinstance(m, snn.Leaky):
            m.reset_hidden()
    out = [[], []]
    with torch.no_grad():
        for row in torch.tensor(x)[:, None]:
            h = net[1](net[0](row))
            out[0].append(h)
            out[1].append(net[3](net[2](h))[0])
    return [torch.stack(o) for o in out]


def test_the_shipped_snntorch_example_matches_snntorch_from_its_metadata(tmp_path):
    """The committed, trained example runs with no settings (dt and euler come from the file's
    metadata) and every layer's raster equals snnTorch's for the same input."""
    make = tool()
    graph = nir.read(EXAMPLE)
    dt = float(graph.metadata["dt"])
    layers = leaky_layers(graph)
    net = make.build_net()
    with torch.no_grad():  # the snnTorch module the file was exported from, rebuilt from the file
        linear = [n for n in graph.nodes if type(graph.nodes[n]).__name__ == "Linear"]
        for module, name in zip((net[0], net[2]), sorted(linear, key=lambda n: leaky_index(graph, n))):
            module.weight[:] = torch.tensor(graph.nodes[name].weight)
        for module, name in zip((net[1], net[3]), layers):
            module.beta[:] = torch.tensor((1 - dt / graph.nodes[name].tau).astype(np.float32))
            module.threshold[:] = torch.tensor(graph.nodes[name].v_threshold.astype(np.float32))
    x = np.load(EXAMPLE.with_suffix(".npz"))["input"]
    steps = len(x) - 2
    res = CliRunner().invoke(main, ["run", str(EXAMPLE), "--out", str(tmp_path), "--quiet"])
    assert res.exit_code == 0, res.output
    chip = np.load(tmp_path / "nir_output.npz")
    torch_spikes = [s.numpy()[:, 0].astype(bool) for s in run_per_step(net, x[:steps])]
    assert_chip_matches_snntorch(chip, torch_spikes, layers, steps)


def leaky_index(graph, linear: str) -> int:
    """How many nodes lie between the Input and a Linear node (orders the two Linear layers)."""
    depth, node = 0, linear
    while node != "input":
        node = next(src for src, dst in graph.edges if dst == node)
        depth += 1
    return depth
