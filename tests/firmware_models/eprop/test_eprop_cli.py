"""CLI story: `s2sim run networks/gsc.yaml` on a tiny config reports memory, real-time latency and learning."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

from firmware_models.eprop import reference as R
from firmware_models.eprop.params import EpropParams
from firmware_models.eprop.training import save_checkpoint
from s2sim.cli import main

TINY = ["dataset.name=synthetic", "dataset.n_train=6", "dataset.n_valid=6", "dataset.n_test=6",
        "training.epochs=1", "run.progress=false"]


def _run(tmp_path, *extra):
    args = ["run", "networks/gsc.yaml", "--out", str(tmp_path), "--quiet"]
    for s in TINY:
        args += ["--set", s]
    res = CliRunner().invoke(main, args + list(extra), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads((tmp_path / "summary.json").read_text())


def test_gsc_summary_memory_latency_phases_learning(tmp_path):
    s = _run(tmp_path)
    assert s["app"]["learning_state_bytes"] == 695_040
    assert s["expect"]["learning_state_bytes"]["ok"]
    assert s["pes_used"] == 12 and s["samples"] == 6
    assert all(pe["used_bytes"] <= 128 * 1024 for pe in s["memory"]["per_pe"])
    assert s["latency"]["timestep_ns"]["max"] < 1e6
    phases = s["latency"]["per_phase_ns"]
    assert max(phases, key=phases.get) == "eligibility"
    for k in ("forward", "neuron", "surrogate", "readout", "reduce", "learning_signal", "adam", "comms"):
        assert phases.get(k, 0) > 0, k
    ln = s["learning"]
    assert 0.0 <= ln["test_accuracy"] <= 1.0 and len(ln["loss_curve"]) == 1
    assert ln["dataset"]["synthetic"]


def test_too_few_pes_is_one_line_error_with_smallest_count(tmp_path):
    args = ["run", "networks/gsc.yaml", "--out", str(tmp_path), "--quiet", "--set", "mapping.pes=4"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2
    assert "PE 0: SRAM region" in res.output and "mapping.pes=" in res.output


def test_fast_mode_times_a_few_samples(tmp_path):
    s = _run(tmp_path, "--fast", "--timing-samples", "2")
    assert s["samples"] == 2 and s["learning"]["epochs"] == 1


@pytest.mark.parametrize("fast", [False, True])
def test_unusable_resume_checkpoint_is_one_line_error_and_keeps_the_folder(tmp_path, fast):
    (tmp_path / "checkpoint.npz").write_bytes(b"not a checkpoint")
    (tmp_path / "summary.json").write_text("{}")
    args = ["run", "networks/gsc.yaml", "--resume", str(tmp_path), "--quiet"] + (["--fast"] if fast else [])
    for s in TINY:
        args += ["--set", s]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    assert "--resume" in res.output and "checkpoint.npz" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)  # no traceback
    assert (tmp_path / "summary.json").read_text() == "{}"


@pytest.mark.parametrize("fast", [False, True], ids=["chip", "fast"])
@pytest.mark.parametrize("params, meta, key", [
    (EpropParams(), dict(seed=99), "seed"),
    (EpropParams(), dict(n_train=50), "n_train"),
    (EpropParams(), dict(dataset="gsc"), "dataset"),
    (EpropParams(n_rec=60), {}, "n_rec"),
])
def test_resume_from_another_runs_checkpoint_is_refused_naming_the_key(tmp_path, fast, params, meta, key):
    """Both engines check a checkpoint against the run's config before anything runs or is written."""
    w = R.init_weights(params, np.random.default_rng(0))
    save_checkpoint(tmp_path, w, R.Adam(w, params), 0, [], meta=meta)
    args = ["run", "networks/gsc.yaml", "--resume", str(tmp_path), "--quiet"] + (["--fast"] if fast else [])
    for s in TINY:
        args += ["--set", s]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    line = res.output.strip()
    assert "\n" not in line and "--resume" in line and f"checkpoint has {key}=" in line
    assert not (tmp_path / "summary.json").exists()
