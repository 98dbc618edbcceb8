"""Stories for the host-side e-prop training driver (``firmware_models/eprop/training.py``).

Learning on real speech (a small FSDD subset, skipped when the data are absent) and on the embedded synthetic set,
exact checkpoint/resume, determinism, and init-weight file errors.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from firmware_models.eprop import reference as R
from firmware_models.eprop.params import EpropParams
from firmware_models.eprop.training import (TrainingConfig, evaluate_splits, export_weights, initial_weights,
                                            load_checkpoint, save_checkpoint, train_reference)
from s2sim.data import Dataset, Split, load_dataset

FSDD = Path(__file__).resolve().parents[3].parent / "shared/datasets/fsdd"
SMALL = dict(n_in=80, n_rec=24, n_out=12)  # fast network for the resume/determinism stories


@pytest.fixture(scope="module")
def cache_env(tmp_path_factory):
    """Feature cache in a temp folder so tests never write to the user's cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("S2SIM_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def synthetic(cache_env) -> Dataset:
    return load_dataset({"name": "synthetic", "n_train": 96, "n_valid": 24, "n_test": 48}, seed=3)


@pytest.fixture(scope="module")
def tiny(synthetic) -> Dataset:
    """30 train samples: enough for several checkpoints, fast enough to run many times."""
    s = synthetic.splits
    return Dataset(name="tiny", n_classes=12, class_names=synthetic.class_names,
                   splits={"train": Split(s["train"].X[:30], s["train"].y[:30]),
                           "valid": Split(s["valid"].X[:8], s["valid"].y[:8]),
                           "test": Split(s["test"].X[:8], s["test"].y[:8])}, synthetic=True)


def losses_fall(res) -> None:
    h = res.history
    assert res.epochs_done == len(h) == 3
    assert h[-1]["train_loss"] < h[0]["train_loss"], [r["train_loss"] for r in h]
    assert h[-1]["samples_seen"] == 3 * h[0]["samples_seen"]
    for r in h:
        assert set(r) >= {"epoch", "lr", "train_loss", "train_accuracy", "valid_accuracy", "test_accuracy",
                          "samples_seen", "wall_s"}


# ------------------------------------------------------------------------------------------------------------
# learning
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.skipif(not FSDD.is_dir(), reason=f"FSDD not found at {FSDD} (the shared datasets are not mounted)")
def test_fsdd_subset_loss_falls(cache_env, tmp_path):
    """100 train / 50 test FSDD clips, 3 epochs of the C loop (+ shuffle: FSDD's file order is sorted by digit)."""
    ds = load_dataset({"name": "fsdd", "path": str(FSDD), "n_train": 100, "n_valid": 20, "n_test": 50}, seed=0)
    assert not ds.synthetic and ds.n_classes == 10 and len(ds.splits["train"]) == 100
    p = EpropParams(n_out=10)
    res = train_reference(p, TrainingConfig(epochs=3, shuffle=True, engine="reference"), ds, 0, tmp_path, None)
    losses_fall(res)
    assert res.history[-1]["train_accuracy"] > 0.3  # chance is 0.1
    assert (tmp_path / "checkpoint.npz").exists()


def test_synthetic_loss_falls(synthetic):
    p = EpropParams(n_out=12)
    res = train_reference(p, TrainingConfig(epochs=3, engine="reference"), synthetic, 1, None, None)
    losses_fall(res)
    ev = evaluate_splits(res.weights, synthetic, p)
    assert set(ev) == {f"{s}_{m}" for s in ("train", "valid", "test") for m in ("accuracy", "loss")}
    assert ev["test_accuracy"] == pytest.approx(res.history[-1]["test_accuracy"])


def test_lr_overrides_and_schedule(tiny):
    p = EpropParams(**SMALL)
    tcfg = TrainingConfig(epochs=3, lr_init=0.005, lr_decay_every=1, engine="reference")
    res = train_reference(p, tcfg, tiny, 0, None, None)
    assert [h["lr"] for h in res.history] == pytest.approx([0.005, 0.0015, 0.00045])
    assert res.adam.steps == 90 and res.params.lr_init == 0.005


def test_batch_std_scales_every_split_by_train_std(tiny):
    p = EpropParams(**SMALL)
    res = train_reference(p, TrainingConfig(epochs=1, input_scale="batch_std", engine="reference"), tiny, 0, None,
                          None)
    x = tiny.splits["train"].X
    np.testing.assert_allclose(res.input_scale, x.reshape(-1, 80).std(axis=0), rtol=1e-5)
    assert tiny.splits["train"].X is x  # the caller's data are not modified


# ------------------------------------------------------------------------------------------------------------
# checkpoint / resume
# ------------------------------------------------------------------------------------------------------------
class Stop(Exception):
    pass


def interrupting_progress(after: int, exc=KeyboardInterrupt):
    """A progress factory whose advance() raises after ``after`` training samples in total."""
    seen = [0]

    def make(label, total):
        def advance(n=1):
            seen[0] += n
            if seen[0] == after:
                raise exc
        return advance
    return make


@pytest.mark.parametrize("shuffle", [False, True])
def test_interrupt_and_resume_gives_identical_weights(tiny, tmp_path, shuffle):
    p = EpropParams(**SMALL)
    tcfg = TrainingConfig(epochs=3, shuffle=shuffle, checkpoint_every=7, engine="reference")
    full = train_reference(p, tcfg, tiny, 5, None, None)

    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):  # 30 + 12 samples: mid-epoch 2, between two periodic checkpoints
        train_reference(p, tcfg, tiny, 5, run, interrupting_progress(42))
    ck = load_checkpoint(run)
    assert (ck.epoch, ck.position, ck.adam.steps, len(ck.history)) == (1, 12, 42, 1)

    resumed = train_reference(p, tcfg, tiny, 5, tmp_path / "run2", None, resume_dir=run)
    for k in R.WEIGHT_KEYS:
        np.testing.assert_array_equal(resumed.weights[k], full.weights[k])
        np.testing.assert_array_equal(resumed.adam.m[k], full.adam.m[k])
        np.testing.assert_array_equal(resumed.adam.v[k], full.adam.v[k])
    assert resumed.adam.steps == full.adam.steps == 90
    assert resumed.adam.beta1_power == full.adam.beta1_power
    strip = lambda h: [{k: v for k, v in r.items() if k != "wall_s"} for r in h]  # noqa: E731
    assert strip(resumed.history) == strip(full.history)
    final = load_checkpoint(tmp_path / "run2")
    assert (final.epoch, final.position) == (3, 0)


def test_resume_after_completed_epoch_and_from_finished_run(tiny, tmp_path):
    p = EpropParams(**SMALL)
    full = train_reference(p, TrainingConfig(epochs=2, engine="reference"), tiny, 2, None, None)
    train_reference(p, TrainingConfig(epochs=1, engine="reference"), tiny, 2, tmp_path, None)
    more = train_reference(p, TrainingConfig(epochs=2, engine="reference"), tiny, 2, tmp_path, None,
                           resume_dir=tmp_path)
    np.testing.assert_array_equal(more.weights["w_rec"], full.weights["w_rec"])
    assert more.epochs_done == 2


def test_periodic_checkpoint_is_the_state_after_k_samples(tiny, tmp_path):
    p = EpropParams(**SMALL)
    with pytest.raises(Stop):  # a non-interrupt error leaves the last periodic checkpoint (sample 20) untouched
        train_reference(p, TrainingConfig(epochs=1, checkpoint_every=10, engine="reference"), tiny, 0, tmp_path,
                        interrupting_progress(25, Stop))
    ck = load_checkpoint(tmp_path)
    assert ck.position == 20 and len(ck.epoch_losses) == 20
    w = initial_weights(p, TrainingConfig(), 0)
    adam = R.Adam(w, p)
    R.train_online(w, adam, tiny.splits["train"].X[:20], tiny.splits["train"].y[:20], p, 0)
    np.testing.assert_array_equal(ck.weights["w_in"], w["w_in"])


def test_resume_errors(tiny, tmp_path):
    p = EpropParams(**SMALL)
    with pytest.raises(ValueError, match="no checkpoint"):
        train_reference(p, TrainingConfig(epochs=1), tiny, 0, None, None, resume_dir=tmp_path)
    train_reference(p, TrainingConfig(epochs=1), tiny, 0, tmp_path, None)
    with pytest.raises(ValueError, match="seed"):
        train_reference(p, TrainingConfig(epochs=2), tiny, 1, None, None, resume_dir=tmp_path)
    with pytest.raises(ValueError, match="checkpoint has n_rec=24 but this run has 30"):
        train_reference(EpropParams(n_rec=30), TrainingConfig(epochs=2), tiny, 0, None, None, resume_dir=tmp_path)
    bad = tmp_path / "corrupt"
    bad.mkdir()
    (bad / "checkpoint.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match="corrupt/checkpoint.npz: not a readable"):
        load_checkpoint(bad)
    assert load_checkpoint(tmp_path / "nothing") is None


def test_save_and_load_checkpoint_roundtrip(tmp_path):
    p = EpropParams(**SMALL)
    w = R.init_weights(p, np.random.default_rng(0))
    adam = R.Adam(w, p)
    adam.step(w, {k: np.ones_like(v) for k, v in w.items()}, 0.01)
    hist = [dict(epoch=1, lr=0.01, train_loss=1.0)]
    save_checkpoint(tmp_path, w, adam, 1, hist)
    ck = load_checkpoint(tmp_path)
    weights, adam2, epoch, history, position = ck[:5]
    assert (epoch, history, position, adam2.steps) == (1, hist, 0, 1)
    assert adam2.beta1_power == adam.beta1_power
    np.testing.assert_array_equal(adam2.v["w_out"], adam.v["w_out"])
    np.testing.assert_array_equal(weights["w_rec"], w["w_rec"])
    assert not list(tmp_path.glob("*.tmp"))  # atomic write leaves no temp file


# ------------------------------------------------------------------------------------------------------------
# determinism, config and init files
# ------------------------------------------------------------------------------------------------------------
def test_deterministic_for_a_seed(tiny):
    p = EpropParams(**SMALL)
    tcfg = TrainingConfig(epochs=2, shuffle=True, engine="reference")
    a, b = (train_reference(p, tcfg, tiny, 11, None, None) for _ in range(2))
    c = train_reference(p, tcfg, tiny, 12, None, None)
    np.testing.assert_array_equal(a.weights["w_in"], b.weights["w_in"])
    assert not np.array_equal(a.weights["w_in"], c.weights["w_in"])
    # the shuffle uses its own stream: order changes the result, the init does not depend on it
    d = train_reference(p, TrainingConfig(epochs=2, engine="reference"), tiny, 11, None, None)
    assert not np.array_equal(a.weights["w_in"], d.weights["w_in"])


def test_config_forbids_unknown_keys_and_bad_values():
    with pytest.raises(ValidationError):
        TrainingConfig(epoch=3)
    with pytest.raises(ValidationError):
        TrainingConfig(epochs=0)
    with pytest.raises(ValidationError):
        TrainingConfig(input_scale="std")
    assert TrainingConfig().shuffle is False and TrainingConfig().engine == "chip"


def test_init_weights_file(tmp_path, tiny):
    p = EpropParams(**SMALL)
    w = R.init_weights(p, np.random.default_rng(9))
    f = export_weights(tmp_path / "w.npz", w)
    got = initial_weights(p, TrainingConfig(init_weights=str(f)), seed=0)
    for k in R.WEIGHT_KEYS:
        np.testing.assert_array_equal(got[k], w[k])
        assert got[k].dtype == np.float32
    seeded = initial_weights(p, TrainingConfig(), seed=9)
    np.testing.assert_array_equal(seeded["w_out"], w["w_out"])
    res = train_reference(p, TrainingConfig(epochs=1, init_weights=str(f)), tiny, 0, None, None)
    res9 = train_reference(p, TrainingConfig(epochs=1), tiny, 9, None, None)
    np.testing.assert_array_equal(res.weights["w_rec"], res9.weights["w_rec"])


@pytest.mark.parametrize("arrays, needle", [
    (lambda w: {"w_in": w["w_in"], "w_rec": w["w_rec"]}, r"'w_out' missing; expected shape \(24, 12\)"),
    (lambda w: {**w, "w_rec": w["w_rec"][:, :5]}, r"'w_rec' has shape \(24, 5\), expected \(24, 24\)"),
    (lambda w: {**w, "w_in": w["w_in"].astype(np.int32)}, r"'w_in' has dtype int32"),
])
def test_init_weights_file_errors_name_the_array(tmp_path, arrays, needle):
    p = EpropParams(**SMALL)
    w = R.init_weights(p, np.random.default_rng(0))
    f = tmp_path / "bad.npz"
    np.savez(f, **arrays(w))
    with pytest.raises(ValueError, match=needle) as ei:
        initial_weights(p, TrainingConfig(init_weights=str(f)), 0)
    msg = str(ei.value)
    assert str(f) in msg and "\n" not in msg


def test_init_weights_missing_or_unreadable_file(tmp_path):
    p = EpropParams(**SMALL)
    with pytest.raises(ValueError, match="nope.npz: init_weights file not found"):
        initial_weights(p, TrainingConfig(init_weights=str(tmp_path / "nope.npz")), 0)
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="junk.npz: not a readable npz"):
        initial_weights(p, TrainingConfig(init_weights=str(tmp_path / "junk.npz")), 0)


def test_dataset_network_mismatch_is_a_clear_error(tiny):
    with pytest.raises(ValueError, match="12 classes but the network has only n_out=10"):
        train_reference(EpropParams(n_rec=24, n_out=10), TrainingConfig(epochs=1), tiny, 0, None, None)


@pytest.mark.parametrize("key", ["adam_beta1_power", "adam_beta2_power", "adam_steps", "position", "epoch"])
def test_a_checkpoint_counter_that_is_not_one_number_is_refused_naming_it(tmp_path, key):
    """Fuzzing (issue 22): an empty `adam_beta1_power` reached the chip and crashed with a broadcast traceback."""
    p = EpropParams(**SMALL)
    w = R.init_weights(p, np.random.default_rng(0))
    save_checkpoint(tmp_path, w, R.Adam(w, p), 1, [])
    with np.load(tmp_path / "checkpoint.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays[key] = np.zeros(0, arrays[key].dtype)
    np.savez(tmp_path / "checkpoint.npz", **arrays)
    with pytest.raises(ValueError, match=rf"checkpoint.npz: array '{key}' has shape \(0,\), expected one number"):
        load_checkpoint(tmp_path)
