"""The shipped example NIR graph (tools/make_example_nir.py) runs through `s2sim run` and its readout
ends where the tool's own vectorised simulation of the same dynamics ends."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

nir = pytest.importorskip("nir")

from s2sim.cli import main  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "networks" / "nir" / "yinyang_if.nir"


def tool():
    spec = importlib.util.spec_from_file_location("make_example_nir", REPO / "tools" / "make_example_nir.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_runs_and_its_readout_matches_the_tools_simulation(tmp_path):
    res = CliRunner().invoke(main, ["run", str(EXAMPLE), "--out", str(tmp_path), "--quiet"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    hidden = summary["app"]["populations"]["hidden"]
    assert (hidden["type"], hidden["neurons"], hidden["pes"], hidden["limit"]) == ("IF", 64, 1, "population")
    out = np.load(tmp_path / "nir_output.npz")
    assert out["spikes_hidden"].sum() > 0

    graph = nir.read(EXAMPLE)
    raster = np.load(EXAMPLE.with_suffix(".npz"))["input"].astype(bool)
    want = tool().readout_voltages(graph.nodes["fc1"].weight, graph.nodes["fc2"].weight,
                                   graph.nodes["fc2"].bias, raster[None])[0]
    # float32 sums in another order (packets vs matmul): equal to rounding, not bit for bit
    np.testing.assert_allclose(out["v_readout"][-1], want, rtol=1e-4, atol=1e-5)
