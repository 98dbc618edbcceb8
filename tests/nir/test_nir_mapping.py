"""Without ``mapping.max_atoms_per_core`` a population is split into as many neurons per PE as fit one
PE's SRAM and its worst-case tick; the summary and ``s2sim validate`` say which limit bound. The
mapper's figures are checked against the simulated chip: its SRAM allocator and its busy cycles."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

nir = pytest.importorskip("nir")

from firmware_models.lif_inference import graph_app  # noqa: E402
from s2sim.apps import RunContext  # noqa: E402
from s2sim.cli import main  # noqa: E402
from s2sim.config import load_network  # noqa: E402
from s2sim.hw.params import HwParams  # noqa: E402


def fan_in_graph(n_in: int, n: int, weight: float, threshold: float):
    """Input(n_in) -> all-to-all Linear -> LIF(n): every neuron has n_in synapses."""
    lif = nir.LIF(tau=np.full(n, 0.02), r=np.full(n, 20.0), v_leak=np.zeros(n), v_threshold=np.full(n, threshold),
                  v_reset=np.zeros(n))
    return nir.NIRGraph(nodes={"in": nir.Input(np.array([n_in])), "fc": nir.Linear(np.full((n, n_in), weight)),
                               "lif": lif, "out": nir.Output(np.array([n]))},
                        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")])


def write(tmp_path, graph, raster):
    nir.write(tmp_path / "model.nir", graph)
    np.savez(tmp_path / "model.npz", input=raster.astype(np.uint8))
    return tmp_path / "model.nir"


def run(model, *sets):
    loaded = load_network(model, ["run.progress=false", *sets])
    ctx = RunContext(loaded=loaded, hw=HwParams.from_arch(loaded.arch), out_dir=None,
                     progress=lambda label, total: (lambda n=1: None))
    return graph_app.run(ctx), ctx


def test_a_large_fan_in_is_bound_by_sram_and_one_neuron_more_would_overflow(tmp_path):
    raster = np.random.default_rng(0).random((2, 900)) < 0.05
    model = write(tmp_path, fan_in_graph(900, 60, 0.01, 0.5), raster)
    res = CliRunner().invoke(main, ["validate", str(model)])
    assert res.exit_code == 0, res.output
    assert "lif (LIF, 60 neurons)" in res.output and "limited by sram" in res.output

    result, _ = run(model, "run.tick_ns=10000000")  # a long tick: cycles do not bind
    per_pe = result.extra["populations"]["lif"]
    assert per_pe["limit"] == "sram" and 1 < per_pe["neurons_per_pe"] < 60
    fullest = max(result.sim.machine.pes[s.pe].sram.used_bytes for s in result.mapped.slices["lif"])
    assert fullest <= result.sim.hw.sram_bytes

    k = per_pe["neurons_per_pe"]
    res = CliRunner().invoke(main, ["run", str(model), "--quiet", "--out", str(tmp_path / "more"),
                                    "--set", "run.tick_ns=10000000", "--set", f"mapping.max_atoms_per_core={k + 1}"])
    assert res.exit_code == 2 and "SRAM" in res.output, res.output  # the chip's allocator agrees


def test_a_short_tick_is_bound_by_cycles_and_the_worst_tick_fits_it(tmp_path):
    """Every input spikes every tick and every neuron fires (threshold below any drive): the worst
    case the mapper assumes. The busiest PE stays within the budget, and not far below it."""
    raster = np.ones((4, 100), bool)
    model = write(tmp_path, fan_in_graph(100, 400, 0.01, -1.0), raster)
    result, ctx = run(model, "run.tick_ns=100000")  # 100 us
    per_pe = result.extra["populations"]["lif"]
    assert per_pe["limit"] == "cycles" and 1 < per_pe["neurons_per_pe"] < 400
    assert result.extra["spikes_per_population"]["lif"] == 400 * 4

    budget = graph_app.PeBudget.of(ctx.hw, 100000, None)
    busy = result.sim.machine.stats.busy_cycles[1:4]  # ticks 1..3: the input has arrived
    busiest = max(busy[:, s.pe].max() for s in result.mapped.slices["lif"])
    assert busiest <= budget.tick_cycles
    assert busiest > 0.8 * budget.tick_cycles * per_pe["neurons_per_pe"] / (per_pe["neurons_per_pe"] + 1)


def test_the_summary_names_the_user_setting_when_it_is_given(tmp_path):
    model = write(tmp_path, fan_in_graph(20, 30, 0.05, 0.5), np.zeros((3, 20), bool))
    res = CliRunner().invoke(main, ["run", str(model), "--quiet", "--out", str(tmp_path / "run"),
                                    "--set", "mapping.max_atoms_per_core=7"])
    assert res.exit_code == 0, res.output
    lif = json.loads((tmp_path / "run" / "summary.json").read_text())["app"]["populations"]["lif"]
    assert lif["pes"] == 5 and lif["neurons_per_pe"] == 7 and lif["limit"] == "mapping.max_atoms_per_core"


def test_a_tick_too_short_for_one_neuron_maps_by_sram_and_the_run_shows_the_overruns(tmp_path):
    """At 2 us and 150 MHz a PE has 240 cycles per tick; 100 input packets cost more than that alone,
    so no split helps: the population is mapped as SRAM allows and the run reports what happens."""
    model = write(tmp_path, fan_in_graph(100, 10, 0.01, -1.0), np.ones((5, 100), bool))
    result, _ = run(model, "run.tick_ns=2000", "run.performance_level=pl_low")
    lif = result.extra["populations"]["lif"]
    assert lif["neurons_per_pe"] == 10 and lif["limit"].startswith("sram (the worst-case tick overruns")
    assert result.sim.machine.stats.busy_cycles[1:5].max() > 240
