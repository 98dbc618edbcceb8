"""Issue 22: an option that an app cannot honour is refused in one line instead of exiting 0 having done
nothing, and ``validate`` says how many PEs the network takes (not the chip's 152)."""
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from s2sim.cli import main

REPO = Path(__file__).resolve().parents[2]
LIF = str(REPO / "networks" / "lif_bench.yaml")
NIR = str(REPO / "networks" / "nir" / "yinyang_if.nir")
TINY_LIF = ["--set", "run.ticks=3", "--set", "network.layers=[8,16,8]", "--set", "mapping.neurons_per_pe=8",
            "--quiet"]


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_error_line(res) -> str:
    assert res.exit_code == 2, (res.exit_code, res.output)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    return lines[0]


def test_saving_weights_of_an_inference_network_is_refused_and_writes_nothing(tmp_path):
    line = one_error_line(cli("run", LIF, *TINY_LIF, "--out", tmp_path / "run", "--save-weights", tmp_path / "w.npz"))
    assert "--save-weights: 'lif_inference' does not train" in line and "eprop" in line
    assert list(tmp_path.iterdir()) == []


def test_resuming_a_nir_graph_is_refused(tmp_path):
    (tmp_path / "old").mkdir()
    line = one_error_line(cli("run", NIR, "--out", tmp_path / "run", "--resume", tmp_path / "old"))
    assert "--resume: 'nir' does not train" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]


def test_an_empty_out_folder_is_refused_not_read_as_the_current_folder(tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        res = cli("run", LIF, *TINY_LIF, "--out", "")
    finally:
        os.chdir(cwd)
    assert res.exit_code == 2 and "an empty path" in res.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("network, sets", [(LIF, TINY_LIF[:-1]), (NIR, [])])
def test_validate_names_the_pes_the_run_then_uses(tmp_path, network, sets):
    res = cli("validate", network, *sets)
    assert res.exit_code == 0, res.output
    said = [ln for ln in res.output.splitlines() if "PEs" in ln]
    assert len(said) == 1 and "152 PEs)" not in said[0], res.output
    run = cli("run", network, *sets, "--out", tmp_path / "run", "--quiet")
    assert run.exit_code == 0, run.output
    used = json.loads((tmp_path / "run" / "summary.json").read_text())["pes_used"]
    assert said[0].strip() == f"uses {used} of 152 PEs"


def test_a_reference_trained_run_says_its_chip_figures_cover_only_the_simulated_samples(tmp_path):
    import sys
    sys.path.insert(0, str(REPO / "tools"))
    import timing_fingerprint as tf
    path, sets, _ = tf.small_run("cue_accumulation")
    args = [a for s in sets for a in ("--set", s)]
    res = CliRunner().invoke(main, ["run", str(path), *args, "--reference-training", "--timing-samples", "1",
                                    "--out", str(tmp_path / "run")], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    # the table wraps long cells: read its words in order, without the box drawing
    words = " ".join(res.output.replace("│", " ").split())
    assert "training engine reference" in words and "simulated samples / timesteps 1 /" in words
    assert "cover only the samples simulated on the chip" in words
    # the online accuracy (scored while training) is not mistaken for the final weights' train accuracy
    assert "online_train_accuracy" in words and "each sample scored before its own update" in words
