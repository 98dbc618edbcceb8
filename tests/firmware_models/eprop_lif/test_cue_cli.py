"""CLI story: `s2sim run networks/cue_accumulation.yaml` on a short task gives the summary every network gives."""
import json

from click.testing import CliRunner

from s2sim.cli import main

SHORT = ["dataset.n_cues=2", "dataset.t_wait_steps=60", "dataset.recall_steps=30", "network.n_steps=360",
         "network.learn_steps=30", "network.n_rec=20", "dataset.n_train=4", "dataset.n_test=4",
         "training.epochs=1", "run.progress=false"]


def _invoke(tmp_path, *extra, sets=SHORT):
    args = ["run", "networks/cue_accumulation.yaml", "--out", str(tmp_path), "--quiet"]
    for s in sets:
        args += ["--set", s]
    return CliRunner().invoke(main, args + list(extra))


def test_fast_run_reports_learning_memory_bptt_and_real_time(tmp_path):
    res = _invoke(tmp_path, "--fast", "--timing-samples", "1")
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["samples"] == 1 and s["timesteps"] == 361 and s["pes_used"] == 1  # 20 neurons fit one PE
    app = s["app"]
    assert app["real_time"] and app["late_steps"] == 0
    assert app["timer_overruns_per_pe"] == {"0": 0} and app["ticks_run"] == s["timesteps"]
    assert app["bptt_learning_state_bytes"] > app["learning_state_bytes"]
    assert s["memory"]["per_pe"][0]["regions"]["ebar"] == (40 + 20) * 20 * 4  # [n_in + n_rec, n] float32
    phases = s["latency"]["per_phase_ns"]
    for k in ("forward", "eligibility", "gradient", "learning_signal", "reduce", "adam"):
        assert phases.get(k, 0) > 0, k
    ln = s["learning"]
    assert 0.0 <= ln["test_accuracy"] <= 1.0 and len(ln["history"]) == 1
    assert (tmp_path / "report.html").exists()


def test_a_too_short_tick_finishes_and_reports_overruns_and_late_steps_per_pe(tmp_path):
    res = _invoke(tmp_path, "--fast", "--timing-samples", "1", sets=SHORT + ["run.tick_ns=20000"])
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "summary.json").read_text())
    app = s["app"]
    assert s["samples"] == 1 and not app["real_time"]
    assert app["timer_overruns_per_pe"]["0"] == s["diagnostics"]["per_pe"]["0"]["timer_overruns"] > 0
    assert app["late_steps_per_pe"]["0"] == app["late_steps"] > 0
    assert app["ticks_run"] > s["timesteps"]  # every step ran, on more ticks than steps
    assert any(n.startswith("not real time at a 20 µs tick") for n in s["notes"])


def test_chip_engine_trains_every_trial_on_the_chip(tmp_path):
    res = _invoke(tmp_path, sets=SHORT + ["dataset.n_train=2", "network.batch=2"])
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["samples"] == 2 and s["learning"]["engine"].startswith("chip")


def test_mismatched_dataset_and_a_resume_without_checkpoint_are_one_line_errors(tmp_path):
    res = _invoke(tmp_path, sets=["network.n_steps=1000"])
    assert res.exit_code == 2 and "n_steps=1000" in res.output and len(res.output.strip().splitlines()) == 1
    res = _invoke(tmp_path, "--resume", str(tmp_path), "--fast")
    assert res.exit_code == 2 and "--resume" in res.output and "no checkpoint to resume from" in res.output
    assert "Traceback" not in res.output
