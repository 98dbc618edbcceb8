"""Chip-engine EventProp training: interrupted, checkpointed and resumed runs end where an
uninterrupted run ends, bit for bit; checkpoints from another network are refused by name."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_models.eventprop import reference as R
from firmware_models.eventprop import training as T
from firmware_models.eventprop.app import ChipNetwork
from firmware_models.eventprop.mapping import EventpropMapping
from firmware_models.eventprop.params import EventpropParams
from s2sim.config import load_arch
from s2sim.data.yinyang import latency_encode, yinyang
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation

HW = HwParams.from_arch(load_arch("spinnaker2"))
P = EventpropParams(layers=[5, 12, 3], batch=3, lr=0.02, epochs=3)
EPOCHS, N_BATCHES = 3, 4


def _data(p: EventpropParams) -> dict:
    X, y = yinyang(12, 42)
    Xt, yt = yinyang(20, 40)
    return {"train": (latency_encode(X, p.n_steps, p.t_min), y),
            "test": (latency_encode(Xt, p.n_steps, p.t_min), yt)}


def _train(state: T.TrainState, out_dir, progress) -> T.TrainState:
    chip = ChipNetwork(Simulation(HW), P, EventpropMapping(), state.weights)
    return T.train_chip(chip, state, _data(P), P, seed=7, epochs=EPOCHS, n_batches=N_BATCHES,
                        progress=progress, out_dir=out_dir, checkpoint_every=2)


def _quiet(label, total):
    return lambda n: None


def _interrupt_after(batches: int):
    """A progress bar whose user presses Ctrl-C once ``batches`` batches have finished."""
    def make(label, total):
        done = [0]

        def advance(n):
            done[0] += n
            if done[0] >= batches:
                raise KeyboardInterrupt
        return advance
    return make


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    w0 = R.init_weights(P, 3)
    full = _train(T.fresh_state(P, w0), None, _quiet)
    assert full.t == EPOCHS * N_BATCHES and full.epoch == EPOCHS

    # Ctrl-C after batch 6 (epoch 2, batch 2 of 4): the checkpoint holds the state after batch 6
    with pytest.raises(KeyboardInterrupt):
        _train(T.fresh_state(P, w0), tmp_path, _interrupt_after(6))
    saved = T.load_checkpoint(tmp_path, P)
    assert (saved.epoch, saved.position, saved.t) == (1, 2, 6)
    assert saved.order is not None and len(saved.history) == 1

    resumed = _train(saved, tmp_path, _quiet)
    for a, b in zip(resumed.weights, full.weights):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(resumed.m + resumed.v, full.m + full.v):
        np.testing.assert_array_equal(a, b)
    assert resumed.history == full.history
    # the epoch-end checkpoint of the finished run resumes to nothing left to do
    done = T.load_checkpoint(tmp_path, P)
    assert (done.epoch, done.position, done.t) == (EPOCHS, 0, EPOCHS * N_BATCHES)


def test_checkpoint_of_another_network_or_a_corrupt_file_is_refused(tmp_path):
    T.save_checkpoint(tmp_path, T.fresh_state(P, R.init_weights(P, 0)), P, "chip")
    other = P.model_copy(update={"layers": [5, 20, 3]})
    with pytest.raises(ValueError, match=r"network\.layers=\[5, 12, 3\], this run has \[5, 20, 3\]"):
        T.load_checkpoint(tmp_path, other)
    assert T.load_checkpoint(tmp_path, P.model_copy(update={"epochs": 10})).t == 0  # more epochs is fine
    (tmp_path / "checkpoint.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable EventProp checkpoint"):
        T.load_checkpoint(tmp_path, P)
    with pytest.raises(ValueError, match="no checkpoint to resume from"):
        T.load_checkpoint(tmp_path / "elsewhere", P)


def test_cli_resume_continues_a_run_and_refuses_a_changed_network(tmp_path):
    from click.testing import CliRunner

    from s2sim.cli import main
    small = ["network.batch=2", "training.max_batches=2", "run.progress=false"]

    def run(*extra, epochs=1):
        args = ["run", "networks/yinyang.yaml", "--out", str(tmp_path), "--quiet"]
        for s in small + [f"network.epochs={epochs}"]:
            args += ["--set", s]
        return CliRunner().invoke(main, args + list(extra), catch_exceptions=False)

    assert run().exit_code == 0
    assert T.load_checkpoint(tmp_path, EventpropParams(batch=2, epochs=1)).epoch == 1
    res = run("--resume", str(tmp_path), epochs=2)  # one more epoch on top of the first
    assert res.exit_code == 0, res.output
    assert T.load_checkpoint(tmp_path, EventpropParams(batch=2, epochs=2)).t == 4
    res = run("--resume", str(tmp_path), "--set", "network.lr=0.5", epochs=2)
    assert res.exit_code == 2
    assert "network.lr=0.0019, this run has 0.5" in res.output and "Traceback" not in res.output
    assert (tmp_path / "summary.json").exists()  # the refused run loses nothing of the last one


@pytest.mark.parametrize("key, bad", [("m0", np.zeros(59, np.float32)), ("w1", np.zeros((12, 3), np.float32)),
                                      ("v1", np.zeros((3, 12), np.int8)), ("order", np.zeros((2, 2), np.int64)),
                                      ("rng_keys", np.zeros(623, np.uint32))])
def test_a_checkpoint_array_of_the_wrong_shape_is_refused_naming_it(tmp_path, key, bad):
    """Fuzzing (issue 22): an Adam moment of the wrong shape reached the chip and crashed in a broadcast."""
    state = T.fresh_state(P, R.init_weights(P, 0))
    state.rng_state = np.random.RandomState(0).get_state()
    T.save_checkpoint(tmp_path, state, P, "chip")
    with np.load(tmp_path / "checkpoint.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays[key] = bad
    np.savez(tmp_path / "checkpoint.npz", **arrays)
    with pytest.raises(ValueError, match=rf"checkpoint.npz: (array '{key}' is|.*{key}\) is not usable)"):
        T.load_checkpoint(tmp_path, P)


@pytest.mark.parametrize("field, value", [("epoch", "x"), ("t", None), ("history", 5), ("rng", [])])
def test_a_header_field_of_the_wrong_type_is_refused_naming_the_file(tmp_path, field, value):
    """Fuzzing (issue 22): fields the reader converted with int()/list() escaped as bare TypeError/ValueError."""
    import json
    T.save_checkpoint(tmp_path, T.fresh_state(P, R.init_weights(P, 0)), P, "chip")
    with np.load(tmp_path / "checkpoint.npz") as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(str(arrays["header_json"]))
    header[field] = value
    arrays["header_json"] = np.array(json.dumps(header))
    np.savez(tmp_path / "checkpoint.npz", **arrays)
    with pytest.raises(ValueError, match=r"checkpoint.npz: incompatible checkpoint \("):
        T.load_checkpoint(tmp_path, P)
