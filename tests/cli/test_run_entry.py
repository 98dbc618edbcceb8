"""``s2sim.run.run_network``: the one run entry behind ``s2sim run``, the sweep and the tools.

The simulator switches come from ``run.simulator`` with ``$S2SIM_KERNEL`` / ``$S2SIM_GROUP_NUMERICS``
as overrides, reach the hardware model and the firmware, and are recorded in the summary.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from s2sim.cli import main
from s2sim.config import ConfigError, load_network
from s2sim.run import RunOptions, run_network

ROOT = Path(__file__).resolve().parents[2]
LIF = ROOT / "networks" / "lif_bench.yaml"
TINY = ["run.ticks=3", "network.layers=[32,48,32]", "mapping.neurons_per_pe=16"]


def run(tmp_path, sets=(), environ=None, name="run"):
    return run_network(load_network(LIF, [*TINY, *sets]),
                       RunOptions(out_dir=tmp_path / name, environ=environ if environ is not None else {}))


def test_the_summary_says_which_kernel_numerics_and_fidelity_ran_and_what_chose_them(tmp_path):
    res = run(tmp_path, ["run.simulator.kernel=exact", "run.simulator.noc_fidelity=packet"])
    written = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert written["simulator"]["kernel"] == "exact" and res.app.sim.machine.kernel == "exact"
    assert written["simulator"]["noc_fidelity"] == "packet" == res.app.sim.machine.fidelity
    assert written["simulator"]["origin"]["kernel"] == "run.simulator"


def test_the_environment_overrides_the_section(tmp_path):
    res = run(tmp_path, ["run.simulator.kernel=exact"], environ={"S2SIM_KERNEL": "fast"})
    assert res.summary["simulator"]["kernel"] == "fast" == res.app.sim.machine.kernel
    assert res.summary["simulator"]["origin"]["kernel"] == "$S2SIM_KERNEL"
    with pytest.raises(ConfigError, match="S2SIM_GROUP_NUMERICS='2': unknown value"):
        run(tmp_path, environ={"S2SIM_GROUP_NUMERICS": "2"}, name="bad")
    assert not (tmp_path / "bad").exists(), "refused before any output"


def test_a_typo_in_the_compiled_loops_switch_stops_a_run_whose_firmware_has_none(tmp_path):
    # LIF has no compiled numerics; the switch is still read with the others, before any output
    with pytest.raises(ConfigError, match="S2SIM_JIT='yes': unknown value"):
        run(tmp_path, environ={"S2SIM_JIT": "yes"}, name="bad")
    assert not (tmp_path / "bad").exists(), "refused before any output"


def test_group_numerics_reaches_the_firmware_and_changes_no_result(tmp_path, monkeypatch):
    import firmware_models.lif_inference.app as lif_app
    made = []
    real = lif_app.LifGroup
    monkeypatch.setattr(lif_app, "LifGroup", lambda *a, **k: made.append(1) or real(*a, **k))
    grouped = run(tmp_path, name="on")
    assert made and grouped.summary["simulator"]["group_numerics"] is True
    made.clear()
    alone = run(tmp_path, ["run.simulator.group_numerics=false"], name="off")
    assert not made, "group_numerics: false -> every PE computes alone"
    assert alone.summary["simulator"]["group_numerics"] is False
    for key in ("latency", "energy", "traffic", "memory"):
        assert alone.summary[key] == grouped.summary[key], key


def test_reference_training_and_its_older_name_fast_are_one_switch(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr("s2sim.run.run_network", lambda loaded, options: seen.append(options) or 1 / 0)
    for flag in ("--reference-training", "--fast"):
        CliRunner().invoke(main, ["run", str(LIF), "--out", str(tmp_path / flag), "--quiet", flag])
    assert [o.reference_training for o in seen] == [True, True]


def test_the_sweep_runs_a_point_without_the_command_line_module(tmp_path):
    code = ("import sys; from s2sim.sweep.point import run_point; "
            f"s = run_point({str(LIF)!r}, {TINY!r}, {str(tmp_path / 'p')!r}, report=False); "
            "assert s['status'] == 'ok', s; assert 's2sim.cli' not in sys.modules and 'click' not in sys.modules")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "p" / "status.json").read_text())["how"] == "ran"
