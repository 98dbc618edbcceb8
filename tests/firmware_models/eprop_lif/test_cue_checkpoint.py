"""Checkpoint stories: an interrupted cue-accumulation run resumes to exactly what an uninterrupted run ends with,
and a checkpoint made with other settings is refused with one line naming the key."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from firmware_models.eprop_lif.app import ChipEngine, ChipNetwork
from firmware_models.eprop_lif.checkpoint import TrainState, load_checkpoint
from firmware_models.eprop_lif.mapping import CueMapping
from firmware_models.eprop_lif.params import CueEpropParams
from firmware_models.eprop_lif.training import CueTrainingConfig, ReferenceEngine, fresh_state, train
from s2sim.cli import main
from s2sim.config import load_arch
from s2sim.data.cue import CueConfig, load_cue
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation

REPO = Path(__file__).resolve().parents[3]
HW = HwParams.from_arch(load_arch("spinnaker2"))
CFG = CueConfig(n_cues=2, t_wait_steps=60, recall_steps=30, n_train=6, n_test=4)
P = CueEpropParams(n_steps=CFG.n_steps, learn_steps=30, n_rec=20, batch=2, lr=1e-2, init_gains=(1.0, 0.5, 0.5))
TCFG = CueTrainingConfig(epochs=2)  # 3 batches per epoch
SEED = 3
SETTINGS = {"run.seed": SEED}
SHORT = ["dataset.n_cues=2", "dataset.t_wait_steps=60", "dataset.recall_steps=30", "network.n_steps=360",
         "network.learn_steps=30", "network.n_rec=20", "dataset.n_train=4", "dataset.n_test=2",
         "network.batch=2", "training.epochs=1", "run.progress=false"]


def _chip_engine(state: TrainState, interrupt_in_batch: int | None = None) -> ChipEngine:
    """The chip engine; with ``interrupt_in_batch`` Ctrl-C arrives halfway through that batch's trials."""
    chip = ChipNetwork(Simulation(HW), P, CueMapping(pes=2), state.weights)
    chip.set_adam(state.adam)
    if interrupt_in_batch is not None:
        batches, run_ticks = [0], chip.sim.chip.run_ticks

        def run_ticks_then_ctrl_c(n, *a, **k):
            batches[0] += 1
            if batches[0] == interrupt_in_batch:
                run_ticks(n // 2)  # the chip is mid-trial: gradients half summed, no Adam step yet
                raise KeyboardInterrupt
            run_ticks(n, *a, **k)
        chip.sim.chip.run_ticks = run_ticks_then_ctrl_c
    return ChipEngine(chip)


def _train(engine, state, out_dir=None):
    return train(P, TCFG, load_cue(CFG, SEED), SEED, engine, state, out_dir=out_dir, settings=SETTINGS)


def _assert_same(a: TrainState, b: TrainState):
    for k in a.weights:
        np.testing.assert_array_equal(a.weights[k], b.weights[k])
        np.testing.assert_array_equal(a.adam.m[k], b.adam.m[k])
        np.testing.assert_array_equal(a.adam.v[k], b.adam.v[k])
    assert a.adam.steps == b.adam.steps
    strip = lambda h: [{k: v for k, v in row.items() if k != "wall_s"} for row in h]  # noqa: E731
    assert strip(a.history) == strip(b.history)


def test_chip_training_interrupted_mid_batch_resumes_bit_identical(tmp_path):
    full = _train(_chip_engine(fresh_state(P, SEED)), fresh_state(P, SEED))
    assert full.adam.steps == 6 and len(full.history) == 2

    # Ctrl-C halfway through batch 5 (epoch 2, batch 2 of 3): the checkpoint holds the state after batch 4
    start = fresh_state(P, SEED)
    with pytest.raises(KeyboardInterrupt):
        _train(_chip_engine(start, interrupt_in_batch=5), start, tmp_path)
    saved = load_checkpoint(tmp_path, P, SETTINGS, n_batches=3)
    assert (saved.epoch, saved.position, saved.adam.steps, len(saved.history)) == (1, 1, 4, 1)
    assert len(saved.losses) == 2  # the trials of the finished batch of epoch 2

    resumed = _train(_chip_engine(saved), saved, tmp_path)  # a fresh chip from the checkpoint
    _assert_same(resumed, full)
    assert resumed.history[0]["test_accuracy"] == full.history[0]["test_accuracy"]
    done = load_checkpoint(tmp_path, P, SETTINGS, n_batches=3)  # the epoch-end checkpoint: nothing left to do
    assert (done.epoch, done.position, done.adam.steps) == (2, 0, 6)


def test_reference_training_interrupted_between_batches_resumes_bit_identical(tmp_path):
    s = fresh_state(P, SEED)
    full = _train(ReferenceEngine(P, s.weights, s.adam), s)

    class CtrlCAfter(ReferenceEngine):
        def train_batch(self, X, Y):
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls == 3:  # during epoch 1's last batch: the checkpoint of batch 2 is what is kept
                raise KeyboardInterrupt
            return super().train_batch(X, Y)
    s = fresh_state(P, SEED)
    with pytest.raises(KeyboardInterrupt):
        _train(CtrlCAfter(P, s.weights, s.adam), s, tmp_path)
    saved = load_checkpoint(tmp_path, P, SETTINGS, n_batches=3)
    assert (saved.epoch, saved.position, saved.adam.steps) == (0, 2, 2)
    resumed = _train(ReferenceEngine(P, saved.weights, saved.adam), saved, tmp_path)
    _assert_same(resumed, full)


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """One finished 1-epoch --fast run with its checkpoint, shared: a refused resume leaves it untouched."""
    run = tmp_path_factory.mktemp("cue") / "run"
    args = ["run", "networks/cue_accumulation.yaml", "--quiet", "--fast", "--timing-samples", "1", "--out", run]
    for s in SHORT:
        args += ["--set", s]
    assert _cli(*args).exit_code == 0
    return run, args[:-2]


@pytest.mark.parametrize("change, key", [("run.seed=4", "run.seed"), ("network.n_rec=21", "network.n_rec"),
                                         ("dataset.n_train=6", "dataset.n_train"),
                                         ("training.shuffle=false", "training.shuffle")])
def test_a_checkpoint_made_with_other_settings_is_refused_naming_the_key(finished_run, change, key):
    run, args = finished_run
    before = (run / "summary.json").read_bytes()
    res = _cli(*args, "--set", change, "--resume", run)
    assert res.exit_code == 2, res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert f"made with {key}=" in res.output and "--resume" in res.output
    assert (run / "summary.json").read_bytes() == before  # the finished run is untouched


def test_a_resume_without_fast_refuses_a_fast_checkpoint_and_more_epochs_continue_it(finished_run, tmp_path):
    run, args = finished_run
    chip_args = [a for a in args if a not in ("--fast", "--timing-samples", "1")]
    res = _cli(*chip_args, "--resume", run)
    assert res.exit_code == 2 and "training.engine='reference'" in res.output
    res = _cli(*args, "--set", "training.epochs=2", "--resume", run, "--out", tmp_path / "more")
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "more" / "summary.json").read_text())
    assert [h["epoch"] for h in s["learning"]["history"]] == [1, 2]
    assert any(n.endswith("at epoch 2, batch 0") for n in s["notes"])
    res = _cli(*args, "--resume", run, "--out", tmp_path / "again")  # a finished run: only the chip timing runs
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert any("training was done (1 of 1 epochs), nothing left to train" in n for n in s["notes"])
    assert s["samples"] == 1 and len(s["learning"]["history"]) == 1


def test_a_corrupt_checkpoint_is_a_one_line_error(tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(b"not a checkpoint")
    args = ["run", "networks/cue_accumulation.yaml", "--quiet", "--fast", "--resume", tmp_path]
    for s in SHORT:
        args += ["--set", s]
    res = _cli(*args)
    assert res.exit_code == 2 and "not a readable cue-accumulation checkpoint" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_ctrl_c_on_the_cli_exits_130_keeps_the_checkpoint_and_leaves_no_summary(tmp_path):
    """A real SIGINT to `s2sim run` (chip engine) once the first checkpoint is written."""
    run = tmp_path / "run"
    args = [sys.executable, "-m", "s2sim.cli", "run", "networks/cue_accumulation.yaml", "--quiet", "--out", str(run)]
    for s in SHORT + ["training.epochs=50"]:
        args += ["--set", s]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "checkpoint.npz").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "interrupted; completed work is kept in" in lines[0] and f"--resume {run}" in lines[0]
    assert (run / "checkpoint.npz").exists() and not (run / "summary.json").exists()


def test_a_resumed_chip_run_reports_the_whole_run_and_needs_the_same_pes_and_tick(tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    args = ["run", "networks/cue_accumulation.yaml", "--quiet"]
    for s in SHORT:
        args += ["--set", s]
    assert _cli(*args, "--set", "training.epochs=2", "--out", whole).exit_code == 0
    assert _cli(*args, "--out", split).exit_code == 0  # 1 epoch
    # the chip's numerics also follow the PE count (partials summed in PE order) and the tick
    for change, key in (("mapping.pes=2", "mapping.pes"), ("run.tick_ns=20000", "run.tick_ns")):
        res = _cli(*args, "--set", "training.epochs=2", "--set", change, "--resume", split)
        assert res.exit_code == 2 and f"made with {key}=" in res.output, res.output
    res = _cli(*args, "--set", "training.epochs=2", "--resume", split)
    assert res.exit_code == 0, res.output
    a, b = (json.loads((d / "summary.json").read_text()) for d in (whole, split))
    assert b["samples"] == a["samples"] == 8 and b["timesteps"] == a["timesteps"]
    assert b["resume"]["covers_whole_run"] is True and b["resume"]["this_part_samples"] == 4
    assert b["traffic"]["packets"] == a["traffic"]["packets"]
    assert b["energy"]["total_j"] == pytest.approx(a["energy"]["total_j"], rel=1e-6)
    strip = lambda h: [{k: v for k, v in row.items() if k != "wall_s"} for row in h]  # noqa: E731
    assert strip(b["learning"]["history"]) == strip(a["learning"]["history"])
