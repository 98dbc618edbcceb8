"""Running lif_bench from the command line: outputs, determinism, and one-line user errors."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SMALL = ["--set", "run.ticks=30", "--set", "network.layers=[64,96,48]", "--set", "mapping.neurons_per_pe=32"]
WALL_CLOCK_FIELDS = {"wall_time_s"}


def s2sim(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "s2sim.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_run_writes_summary_and_timesteps(tmp_path):
    res = s2sim("run", "networks/lif_bench.yaml", "--out", tmp_path / "run", "--quiet", *SMALL)
    assert res.returncode == 0, res.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    for key in ("s2sim_version", "network", "arch", "config", "seed", "pes_used", "samples", "timesteps",
                "sim_time_s", "wall_time_s", "memory", "latency", "energy", "traffic", "diagnostics"):
        assert key in summary, key
    assert summary["pes_used"] == 2 + 3 + 2
    assert summary["timesteps"] == 30
    for pe in summary["memory"]["per_pe"]:
        assert sum(pe["regions"].values()) == pe["used_bytes"] <= pe["capacity_bytes"]
    rows = list(csv.DictReader(open(tmp_path / "run" / "timesteps.csv")))
    assert len(rows) == 30 * 7
    assert {"timestep", "pe", "time_done_ns", "packets_in", "packets_out"} <= set(rows[0])


def test_same_seed_gives_byte_identical_outputs(tmp_path):
    outs = []
    for name in ("a", "b"):
        res = s2sim("run", "networks/lif_bench.yaml", "--out", tmp_path / name, "--quiet", *SMALL)
        assert res.returncode == 0, res.stderr
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        for field in WALL_CLOCK_FIELDS:
            summary.pop(field)
        summary["config"].pop("file", None)
        outs.append((json.dumps(summary, sort_keys=True), (tmp_path / name / "timesteps.csv").read_bytes()))
    assert outs[0] == outs[1]
    res = s2sim("run", "networks/lif_bench.yaml", "--out", tmp_path / "c", "--quiet", *SMALL, "--set", "run.seed=2")
    assert (tmp_path / "c" / "timesteps.csv").read_bytes() != outs[0][1]


def one_line_error(res):
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    assert "Traceback" not in res.stderr
    return " ".join(lines)


@pytest.mark.parametrize("text, expect", [
    ("name: x\nfirmware: {package: lif_inference\n", "line"),                  # malformed YAML
    ("name: x\nfirmware: {package: lif_inference}\nbogus: 1\n", "bogus"),      # unknown key
    ("name: x\nfirmware: {package: lif_inference}\nrun: {seed: many}\n", "run.seed"),  # wrong type
    ("name: x\nfirmware: {package: lif_inference}\nnetwork: {layers: [10, 0]}\n", "network"),  # out of range
])
def test_bad_network_files_give_one_line_errors(tmp_path, text, expect):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    for cmd in ("validate", "run"):
        msg = one_line_error(s2sim(cmd, path, "--quiet") if cmd == "run" else s2sim(cmd, path))
        assert "bad.yaml" in msg and expect in msg, msg
    assert not list((tmp_path).glob("**/summary.json"))


def test_missing_file_is_a_one_line_error(tmp_path):
    msg = one_line_error(s2sim("run", tmp_path / "nope.yaml"))
    assert "nope.yaml" in msg and "not found" in msg


def test_network_that_does_not_fit_names_pe_and_region(tmp_path):
    res = s2sim("run", "networks/lif_bench.yaml", "--out", tmp_path / "r", "--quiet",
                "--set", "network.layers=[64,4000]", "--set", "mapping.neurons_per_pe=4000",
                "--set", "network.p_connect=1.0", "--set", "run.ticks=2")
    msg = one_line_error(res)
    assert "PE 1" in msg and "syn_weights" in msg
    assert not (tmp_path / "r" / "summary.json").exists()


def test_arch_list_and_show():
    res = s2sim("arch", "list")
    assert res.returncode == 0 and "spinnaker2" in res.stdout
    res = s2sim("arch", "show", "spinnaker2", "--json")
    data = json.loads(res.stdout)
    assert data["pe.sram_bytes"]["value"] == 131072
    assert all(v["confidence"] in ("measured", "derived", "estimate") and v["source"] for v in data.values())
