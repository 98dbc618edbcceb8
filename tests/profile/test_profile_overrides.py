"""A user's override that changes nothing is named in summary.json and on the console."""
from __future__ import annotations

import json

import yaml
from profile_runs import LIF, SMALL, run_cli


def test_unread_arch_overrides_are_listed_and_warned_about(tmp_path):
    net = yaml.safe_load(LIF.read_text())
    net["arch_overrides"] = {"performance_levels": {"pl_low": {"clock_mhz": 100}}}  # the run stays at pl_high
    path = tmp_path / "lif_bench.yaml"
    path.write_text(yaml.safe_dump(net))
    res = run_cli("run", path, "--out", tmp_path / "run", *SMALL,
                  "--set", "arch.accelerators.exp_latency_cycles=1",  # LIF inference uses no exp accelerator
                  "--set", "arch.noc.hop_latency_cycles=3")  # read by the NoC model
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    unused = summary["diagnostics"]["unused_overrides"]
    assert unused == ["accelerators.exp_latency_cycles", "performance_levels.pl_low.clock_mhz"]
    console = " ".join(res.output.split())  # the console wraps long lines
    for path in unused:
        assert f"warning: override never read: {path} (it changed nothing)" in console
    assert "noc.hop_latency_cycles" not in console


def test_a_run_without_overrides_reports_none(tmp_path):
    res = run_cli("run", LIF, "--out", tmp_path / "run", "--quiet", *SMALL)
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["diagnostics"]["unused_overrides"] == []
