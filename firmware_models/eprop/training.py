"""Host-side e-prop training driver: the C code's training loop (spec ``eprop_gsc.md`` §2.4–§2.5) on a Dataset.

``train`` is the one training loop of both engines: online e-prop (one Adam step per sample, as ``main.c``), the
``lr_for_epoch`` schedule, input scaling, the shuffle stream, a validation + test pass after every epoch, and
atomic checkpoints (weights, Adam state with its step count, epoch, history, sample position, shuffle-rng state,
the partial epoch's losses) so that a resumed run ends with bit-identical weights to an uninterrupted one.
The engine — the chip model (``app.ChipEngine``) or the vectorised reference (``ReferenceEngine``,
``train_reference``) — is the only difference between a chip run and ``--fast``.

Options the C code does not have are off by default: ``shuffle`` (C trains in file order) and
``input_scale='batch_std'`` (tf2 divides inputs by a per-feature std; here the train set's per-feature std,
computed once over all train samples and time steps, divides every split).
"""
from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, NamedTuple, Protocol, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from s2sim.data.cache import atomic_save_npz, read_headed_npz
from s2sim.data.dataset import Dataset, Split

from . import reference as R
from .params import EpropParams

F32 = np.float32
WEIGHT_KEYS = R.WEIGHT_KEYS
CHECKPOINT_NAME = "checkpoint.npz"
CHECKPOINT_FORMAT = "s2sim-eprop-checkpoint"
CHECKPOINT_VERSION = 1
#: Network settings a resumed run must share with its checkpoint (layout and exp_impl change cost, not maths).
MODEL_KEYS = tuple(k for k in EpropParams.model_fields if k not in ("memory_layout", "exp_impl"))
#: Run settings a resumed run must share with its checkpoint (``train_data`` fingerprints the train split).
RESUME_META_KEYS = ("seed", "n_train", "shuffle", "input_scale", "dataset", "train_data", "lr_init", "lr_decay",
                    "lr_decay_every")
#: ``progress(label, total) -> advance(n)`` (see ``s2sim.progress.progress_factory``).
ProgressFactory = Callable[[str, int], Callable[[int], None]]


class TrainingConfig(BaseModel):
    """The ``training:`` section of an e-prop run."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(3, ge=1)
    timing_samples: int = Field(3, ge=1, description="samples whose timing the chip engine simulates")
    shuffle: bool = Field(False, description="False = file order, as the C code (main.c computes but ignores a permutation)")
    init_weights: str | None = Field(None, description="npz with w_in, w_rec, w_out; None = seeded init (§1.4)")
    checkpoint: bool = True
    checkpoint_every: int = Field(100, ge=1, description="samples between checkpoints (plus one per epoch end)")
    engine: Literal["chip", "reference"] = "chip"
    eval_batch: int = Field(256, ge=1)
    lr_init: float | None = Field(None, gt=0, description="overrides EpropParams.lr_init")
    lr_decay_every: int | None = Field(None, ge=1, description="overrides EpropParams.lr_decay_every (epochs)")
    input_scale: Literal["none", "batch_std"] = Field(
        "none", description="none = C (no normalisation); batch_std = divide every split by the train set's "
                            "per-feature std (tf2 divides by a per-batch std)")


@dataclass
class TrainingResult:
    """Final weights and optimiser, and one history row per completed epoch.

    History rows: ``epoch`` (1-based count of completed epochs), ``lr`` (the lr used), ``train_loss`` and
    ``train_accuracy`` (seen while training, before each sample's update), ``valid_accuracy``, ``test_accuracy``
    (None when the split is absent), ``samples_seen`` (cumulative Adam steps), ``wall_s`` (this epoch, train + eval).
    """

    weights: dict[str, np.ndarray]
    adam: R.Adam
    history: list[dict]
    epochs_done: int
    params: EpropParams | None = None  # the effective parameters (with lr overrides applied)
    input_scale: np.ndarray | None = None  # [F] divisor applied to the inputs (input_scale='batch_std')
    notes: list[str] = field(default_factory=list)


class Checkpoint(NamedTuple):
    """What ``load_checkpoint`` returns. The first five fields mirror ``save_checkpoint``'s arguments."""

    weights: dict[str, np.ndarray]
    adam: R.Adam
    epoch: int  # epoch index (0-based) the run is in; == epochs done when position == 0
    history: list[dict]
    position: int  # training samples of ``epoch`` already done
    rng_state: dict | None  # shuffle generator state at the start of ``epoch``
    epoch_losses: np.ndarray  # [position] losses of the partial epoch
    epoch_correct: np.ndarray  # [position] bool
    epoch_wall: float  # seconds already spent in the partial epoch
    meta: dict
    path: Path


# ---------------------------------------------------------------------------------------------------------------
# parameters, weights, inputs
# ---------------------------------------------------------------------------------------------------------------
def effective_params(params: EpropParams, tcfg: TrainingConfig) -> EpropParams:
    """``params`` with the training section's optional lr overrides applied (validated)."""
    upd: dict[str, Any] = {}
    if tcfg.lr_init is not None:
        upd["lr_init"] = tcfg.lr_init
    if tcfg.lr_decay_every is not None:
        upd["lr_decay_every"] = tcfg.lr_decay_every
    return EpropParams(**{**params.model_dump(), **upd}) if upd else params


def _weight_shapes(p: EpropParams) -> dict[str, tuple[int, int]]:
    return {"w_in": (p.n_in, p.n_rec), "w_rec": (p.n_rec, p.n_rec), "w_out": (p.n_rec, p.n_out)}


def _checked_weights(arrays: Any, p: EpropParams, where: str) -> dict[str, np.ndarray]:
    """float32 copies of w_in, w_rec, w_out; a one-line ValueError naming ``where``, the array and the shape."""
    out = {}
    for k, shape in _weight_shapes(p).items():
        if k not in arrays:
            raise ValueError(f"{where}: array '{k}' missing; expected shape {shape} "
                             f"(have: {', '.join(sorted(arrays)) or 'none'})")
        a = np.asarray(arrays[k])
        if a.shape != shape:
            raise ValueError(f"{where}: array '{k}' has shape {a.shape}, expected {shape}")
        if not np.issubdtype(a.dtype, np.floating):
            raise ValueError(f"{where}: array '{k}' has dtype {a.dtype}, expected a float array of shape {shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{where}: array '{k}' (shape {shape}) contains NaN or inf")
        out[k] = np.ascontiguousarray(a, dtype=F32).copy()
    return out


def initial_weights(params: EpropParams, tcfg: TrainingConfig, seed: int) -> dict[str, np.ndarray]:
    """Seeded §1.4 init (``reference.init_weights`` with ``default_rng(seed)``) or the ``tcfg.init_weights`` npz."""
    if tcfg.init_weights is None:
        return R.init_weights(params, np.random.default_rng(seed))
    path = Path(tcfg.init_weights).expanduser()
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise ValueError(f"{path}: init_weights file not found") from None
    except Exception as exc:  # zipfile/pickle/format errors
        raise ValueError(f"{path}: not a readable npz ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    w = _checked_weights(arrays, params, str(path))
    if params.autapse == "mask":
        np.fill_diagonal(w["w_rec"], 0.0)
    return w


def export_weights(path: str | Path, weights: dict[str, np.ndarray], input_scale: np.ndarray | None = None) -> Path:
    """Write w_in, w_rec, w_out (float32; plus ``input_scale`` if given) atomically; loadable as ``init_weights``."""
    arrays = {k: np.asarray(weights[k], dtype=F32) for k in WEIGHT_KEYS}
    if input_scale is not None:
        arrays["input_scale"] = np.asarray(input_scale, dtype=F32)
    return atomic_save_npz(Path(path), arrays)


def train_feature_std(dataset: Dataset) -> np.ndarray:
    """Per-feature std of the train split over all samples and time steps ([F] float32; 0 → 1)."""
    x = dataset.splits["train"].X
    std = x.reshape(-1, x.shape[-1]).std(axis=0, dtype=np.float64)
    std[~(std > 0)] = 1.0
    return std.astype(F32)


def scaled_dataset(dataset: Dataset, scale: np.ndarray | None) -> Dataset:
    """A shallow copy of ``dataset`` whose splits are divided by ``scale`` ([F]); the input is not modified."""
    if scale is None:
        return dataset
    splits = {k: Split(s.X / scale, s.y) for k, s in dataset.splits.items()}
    return Dataset(name=dataset.name, n_classes=dataset.n_classes, class_names=list(dataset.class_names),
                   splits=splits, synthetic=dataset.synthetic, source=dataset.source,
                   skipped=list(dataset.skipped), note=dataset.note)


def _check_dataset(p: EpropParams, dataset: Dataset) -> None:
    if "train" not in dataset.splits or len(dataset.splits["train"]) == 0:
        raise ValueError(f"dataset '{dataset.name}' has no train samples")
    if dataset.n_steps != p.n_steps or dataset.n_features != p.n_in:
        raise ValueError(f"dataset '{dataset.name}' has T={dataset.n_steps}, F={dataset.n_features} but the network "
                         f"expects n_steps={p.n_steps}, n_in={p.n_in}")
    y_max = max(int(s.y.max()) for s in dataset.splits.values() if len(s))
    if dataset.n_classes > p.n_out or y_max >= p.n_out:
        raise ValueError(f"dataset '{dataset.name}' has {dataset.n_classes} classes but the network has only "
                         f"n_out={p.n_out} outputs")


def evaluate_splits(weights: dict[str, np.ndarray], dataset: Dataset, params: EpropParams,
                    batch: int = 256) -> dict[str, float]:
    """``{split}_accuracy`` and ``{split}_loss`` (mean cross-entropy, no L2) for every non-empty split."""
    out: dict[str, float] = {}
    for name, s in dataset.splits.items():
        if len(s) == 0:
            continue
        acc, loss = R.evaluate(weights, s.X, s.y, params, batch)
        out[f"{name}_accuracy"], out[f"{name}_loss"] = float(acc), float(loss)
    return out


# ---------------------------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------------------------
def _checkpoint_path(d: str | Path) -> Path:
    d = Path(d)
    return d if d.suffix == ".npz" else d / CHECKPOINT_NAME


def save_checkpoint(out_dir: str | Path, weights: dict[str, np.ndarray], adam: R.Adam, epoch: int,
                    history: list[dict], position: int = 0, *, rng_state: dict | None = None,
                    epoch_losses: np.ndarray | None = None, epoch_correct: np.ndarray | None = None,
                    epoch_wall: float = 0.0, meta: dict | None = None) -> Path:
    """Write ``out_dir/checkpoint.npz`` atomically (temp file + os.replace).

    ``epoch`` is the 0-based epoch the run is in and ``position`` the training samples of it already done
    (epoch = epochs completed, position = 0 at an epoch end).
    """
    arrays: dict[str, np.ndarray] = {k: np.asarray(weights[k], F32) for k in WEIGHT_KEYS}
    for k in WEIGHT_KEYS:
        arrays[f"adam_m_{k}"] = np.asarray(adam.m[k], F32)
        arrays[f"adam_v_{k}"] = np.asarray(adam.v[k], F32)
    arrays["adam_beta1_power"] = np.asarray(adam.beta1_power, F32)
    arrays["adam_beta2_power"] = np.asarray(adam.beta2_power, F32)
    arrays["adam_steps"] = np.asarray(adam.steps, np.int64)
    arrays["epoch"] = np.asarray(epoch, np.int64)
    arrays["position"] = np.asarray(position, np.int64)
    arrays["epoch_losses"] = np.asarray(epoch_losses if epoch_losses is not None else [], F32)[:position]
    arrays["epoch_correct"] = np.asarray(epoch_correct if epoch_correct is not None else [], bool)[:position]
    arrays["epoch_wall"] = np.asarray(epoch_wall, np.float64)
    header = dict(format=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION, history=history, rng_state=rng_state,
                  params=adam.params.model_dump(), meta=meta or {})
    arrays["header_json"] = np.array(json.dumps(header, default=_json_default))
    return atomic_save_npz(_checkpoint_path(out_dir), arrays)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def load_checkpoint(d: str | Path) -> Checkpoint | None:
    """Read ``d/checkpoint.npz`` (or ``d`` itself if it is an .npz); None when there is none.

    A corrupt, truncated or incompatible file raises a one-line ``ValueError`` naming it.
    """
    path = _checkpoint_path(d)
    if not path.exists():
        return None
    a, header = read_headed_npz(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, "e-prop checkpoint")
    try:
        params = EpropParams(**header["params"])
        weights = _checked_weights(a, params, str(path))
        adam = R.Adam(weights, params)
        for k in WEIGHT_KEYS:
            adam.m[k][...] = _same_shape(a, f"adam_m_{k}", weights[k].shape, path)
            adam.v[k][...] = _same_shape(a, f"adam_v_{k}", weights[k].shape, path)
        adam.beta1_power = F32(_scalar(a, "adam_beta1_power", path))
        adam.beta2_power = F32(_scalar(a, "adam_beta2_power", path))
        adam.steps = int(_scalar(a, "adam_steps", path))
        position = int(_scalar(a, "position", path))
        return Checkpoint(weights=weights, adam=adam, epoch=int(_scalar(a, "epoch", path)), history=list(header["history"]),
                          position=position, rng_state=header.get("rng_state"),
                          epoch_losses=np.asarray(a["epoch_losses"], F32), epoch_correct=np.asarray(a["epoch_correct"], bool),
                          epoch_wall=float(a["epoch_wall"]), meta=dict(header.get("meta") or {}), path=path)
    except ValueError:
        raise
    except Exception as exc:
        raise ValueError(f"{path}: incompatible checkpoint ({type(exc).__name__}: {exc})".splitlines()[0]) from None


def _scalar(a: dict, key: str, path: Path) -> np.ndarray:
    """One number (a counter or an Adam power): an array of another shape would be broadcast into the chip."""
    if key not in a:
        raise ValueError(f"{path}: array '{key}' missing; expected one number")
    if np.shape(a[key]) != ():
        raise ValueError(f"{path}: array '{key}' has shape {np.shape(a[key])}, expected one number")
    return a[key]


def _same_shape(a: dict, key: str, shape: tuple, path: Path) -> np.ndarray:
    if key not in a:
        raise ValueError(f"{path}: array '{key}' missing; expected shape {shape}")
    arr = np.asarray(a[key], F32)
    if arr.shape != shape:
        raise ValueError(f"{path}: array '{key}' has shape {arr.shape}, expected {shape}")
    return arr


# ---------------------------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------------------------
class _Interrupt:
    """SIGINT while a sample is being processed is deferred to the sample boundary (so the checkpoint never holds
    a half-applied Adam step); a second Ctrl-C interrupts at once. Only installed in the main thread."""

    def __init__(self) -> None:
        self.pending = False

    @contextmanager
    def installed(self) -> Iterator["_Interrupt"]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum, frame):  # noqa: ARG001
            if self.pending:
                raise KeyboardInterrupt
            self.pending = True

        try:
            signal.signal(signal.SIGINT, handler)
        except ValueError:  # not allowed here (e.g. embedded interpreter)
            yield self
            return
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


def _rng_state(rng: np.random.Generator) -> dict:
    return json.loads(json.dumps(rng.bit_generator.state, default=_json_default))


class TrainingEngine(Protocol):
    """The one part of training that differs between the chip model and the vectorised reference."""

    label: str  # shown in the progress bar
    chunk: int  # samples per ``train_samples`` call; checkpoints fall on chunk boundaries

    def load(self, weights: dict[str, np.ndarray], adam: R.Adam) -> None:
        """Start from these weights and this optimiser state (initial or resumed)."""

    def train_samples(self, X: np.ndarray, y: np.ndarray, lr: np.float32) -> tuple[np.ndarray, np.ndarray]:
        """Online e-prop on each sample in turn (one Adam step each); (losses before each update, correct)."""

    def state(self) -> tuple[dict[str, np.ndarray], R.Adam]:
        """The current weights and optimiser (read-only for the caller)."""


class ReferenceEngine:
    """The vectorised float32 reference (``factorized`` engine by default), one sample per call.

    ``engine="stepwise"`` with ``readout_starts`` (the first neuron of each PE's slice) computes in the chip
    engine's operation order: the two train bit-identical weights (docs/fidelity.md, "Chip engine vs reference").
    """

    label, chunk = "reference", 1

    def __init__(self, params: EpropParams, engine: R.Engine = "factorized",
                 readout_starts: Sequence[int] | None = None) -> None:
        self.p, self.engine, self.readout_starts = params, engine, readout_starts

    def load(self, weights: dict[str, np.ndarray], adam: R.Adam) -> None:
        self.weights, self.adam = weights, adam

    def train_samples(self, X: np.ndarray, y: np.ndarray, lr: np.float32) -> tuple[np.ndarray, np.ndarray]:
        losses, correct = np.zeros(len(X), F32), np.zeros(len(X), bool)
        for i in range(len(X)):
            r = R.run_sample(self.weights, X[i], int(y[i]), self.p, train=True, engine=self.engine,
                             readout_starts=self.readout_starts)
            self.adam.step(self.weights, r.grads(), lr)
            losses[i], correct[i] = r.loss[0], r.pred[0] == y[i]
        return losses, correct

    def state(self) -> tuple[dict[str, np.ndarray], R.Adam]:
        return self.weights, self.adam


@dataclass
class TrainingStart:
    """Everything the training loop starts from, checked before any output is written (see ``start_training``)."""

    params: EpropParams  # effective (lr overrides applied)
    tcfg: TrainingConfig
    dataset: Dataset  # inputs already divided by ``input_scale``
    input_scale: np.ndarray | None
    meta: dict
    rng: np.random.Generator  # the shuffle stream
    weights: dict[str, np.ndarray]
    adam: R.Adam
    epoch: int = 0
    position: int = 0
    history: list[dict] = field(default_factory=list)
    part_losses: np.ndarray = field(default_factory=lambda: np.zeros(0, F32))
    part_correct: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    part_wall: float = 0.0
    out_dir: Path | None = None
    notes: list[str] = field(default_factory=list)
    resumed_meta: dict = field(default_factory=dict)  # the checkpoint's meta (e.g. run totals) on a resume


def _data_digest(split: Split) -> str:
    """A fingerprint of the train split (inputs and labels, before scaling): a resume must see the same data."""
    h = hashlib.blake2b(digest_size=12)
    h.update(np.ascontiguousarray(split.X, dtype=F32).tobytes())
    h.update(np.ascontiguousarray(split.y, dtype=np.int64).tobytes())
    return h.hexdigest()


def start_training(params: EpropParams, tcfg: TrainingConfig, dataset: Dataset, seed: int,
                   out_dir: Path | None, resume_dir: Path | None = None) -> TrainingStart:
    """Effective parameters, scaled inputs, shuffle stream and the initial or resumed state.

    Raises a one-line ``ValueError`` for unusable data, init files or a checkpoint that does not fit the run
    (naming the key), before anything is written.
    """
    p = effective_params(params, tcfg)
    _check_dataset(p, dataset)
    scale = train_feature_std(dataset) if tcfg.input_scale == "batch_std" else None
    ds = scaled_dataset(dataset, scale)
    train = dataset.splits["train"]
    meta = dict(seed=int(seed), n_train=len(train), shuffle=tcfg.shuffle, input_scale=tcfg.input_scale,
                dataset=dataset.name, train_data=_data_digest(train), lr_init=p.lr_init, lr_decay=p.lr_decay,
                lr_decay_every=p.lr_decay_every)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5EED5])  # shuffle stream, independent of the init
    if resume_dir is None:
        weights = initial_weights(p, tcfg, seed)
        return TrainingStart(p, tcfg, ds, scale, meta, rng, weights, R.Adam(weights, p), out_dir=out_dir)
    ck = load_checkpoint(resume_dir)
    if ck is None:
        raise ValueError(f"{_checkpoint_path(resume_dir)}: no checkpoint to resume from")
    _check_resume(ck, p, meta)
    adam = R.Adam(ck.weights, p)
    for k in WEIGHT_KEYS:
        adam.m[k][...], adam.v[k][...] = ck.adam.m[k], ck.adam.v[k]
    adam.beta1_power, adam.beta2_power, adam.steps = ck.adam.beta1_power, ck.adam.beta2_power, ck.adam.steps
    if ck.rng_state is not None:
        rng.bit_generator.state = ck.rng_state
    return TrainingStart(p, tcfg, ds, scale, meta, rng, ck.weights, adam, ck.epoch, ck.position, list(ck.history),
                         ck.epoch_losses, ck.epoch_correct, ck.epoch_wall, out_dir,
                         [f"resumed from {ck.path} at epoch {ck.epoch + 1}, sample {ck.position}"], dict(ck.meta))


def train(start: TrainingStart, engine: TrainingEngine, progress: ProgressFactory | None) -> TrainingResult:
    """The C code's training loop (§2.5) for any engine: the engine is the only difference between runs.

    Per epoch e (history numbers them from 1): lr = lr_for_epoch(e); every train sample (file order, or a
    permutation drawn from the shuffle stream when ``shuffle``) gets forward + gradient + one Adam step; then
    valid and test accuracy. Checkpoints go to ``out_dir/checkpoint.npz`` every ``checkpoint_every`` samples
    (at the first chunk boundary past each multiple) and at each epoch end (when ``out_dir`` is set and
    ``tcfg.checkpoint``). A Ctrl-C is deferred to the next chunk boundary, checkpointed there and re-raised.
    """
    p, tcfg, ds, rng, meta = start.params, start.tcfg, start.dataset, start.rng, start.meta
    train_split = ds.splits["train"]
    n = len(train_split)
    history = list(start.history)
    position, part_losses, part_correct, part_wall = start.position, start.part_losses, start.part_correct, \
        start.part_wall
    engine.load(start.weights, start.adam)
    saving = start.out_dir is not None and tcfg.checkpoint
    engine_meta = getattr(engine, "checkpoint_meta", None)  # e.g. the chip engine's run totals

    def save(epoch: int, pos: int, state: dict, losses=None, correct=None, wall: float = 0.0) -> None:
        if saving:
            weights, adam = engine.state()
            save_checkpoint(start.out_dir, weights, adam, epoch, history, pos, rng_state=state, epoch_losses=losses,
                            epoch_correct=correct, epoch_wall=wall, meta={**meta, **(engine_meta() if engine_meta else {})})

    guard = _Interrupt()
    for ep in range(start.epoch, tcfg.epochs):
        state = _rng_state(rng)  # the state this epoch's permutation is drawn from
        order = rng.permutation(n) if tcfg.shuffle else np.arange(n)
        lr = R.lr_for_epoch(p, ep)
        losses, correct = np.zeros(n, F32), np.zeros(n, bool)
        losses[:position], correct[:position] = part_losses[:position], part_correct[:position]
        advance = progress(f"e-prop epoch {ep + 1}/{tcfg.epochs} ({engine.label})", n) if progress else None
        if advance and position:
            advance(position)
        t0, done, inside = time.perf_counter() - part_wall, position, False
        try:
            with guard.installed():
                while done < n:
                    idx = order[done:done + engine.chunk]
                    inside = True  # an exception in here leaves the engine mid-chunk: never checkpoint that
                    chunk_losses, chunk_correct = engine.train_samples(train_split.X[idx], train_split.y[idx], lr)
                    inside = False
                    before, done = done, done + len(idx)
                    losses[before:done], correct[before:done] = chunk_losses, chunk_correct
                    if guard.pending:
                        raise KeyboardInterrupt
                    if advance:
                        advance(len(idx))
                    if done // tcfg.checkpoint_every > before // tcfg.checkpoint_every and done < n:
                        save(ep, done, state, losses, correct, time.perf_counter() - t0)
            weights, adam = engine.state()
            ev = evaluate_splits(weights, ds, p, tcfg.eval_batch)
        except KeyboardInterrupt:
            if not inside:
                save(ep, done, state, losses, correct, time.perf_counter() - t0)
            raise
        history.append(dict(epoch=ep + 1, lr=float(lr), train_loss=float(losses.mean(dtype=np.float64)),
                            train_accuracy=float(correct.mean()), valid_accuracy=ev.get("valid_accuracy"),
                            test_accuracy=ev.get("test_accuracy"), valid_loss=ev.get("valid_loss"),
                            test_loss=ev.get("test_loss"), samples_seen=int(adam.steps),
                            wall_s=float(time.perf_counter() - t0)))
        position, part_losses, part_correct, part_wall = 0, np.zeros(0, F32), np.zeros(0, bool), 0.0
        save(ep + 1, 0, _rng_state(rng))
    weights, adam = engine.state()
    return TrainingResult(weights=weights, adam=adam, history=history, epochs_done=len(history), params=p,
                          input_scale=start.input_scale, notes=list(start.notes))


def train_reference(params: EpropParams, tcfg: TrainingConfig, dataset: Dataset, seed: int,
                    out_dir: Path | None, progress: ProgressFactory | None,
                    resume_dir: Path | None = None) -> TrainingResult:
    """``train`` with the vectorised reference engine (``--fast``); ``resume_dir`` continues a checkpoint exactly."""
    start = start_training(params, tcfg, dataset, seed, out_dir, resume_dir)
    return train(start, ReferenceEngine(start.params), progress)


def _check_resume(ck: Checkpoint, p: EpropParams, meta: dict) -> None:
    """The checkpoint must come from the same network, optimiser, train data, seed and schedule (names the key)."""
    for key in MODEL_KEYS:
        theirs, ours = getattr(ck.adam.params, key), getattr(p, key)
        if theirs != ours:
            raise ValueError(f"{ck.path}: checkpoint has {key}={theirs!r} but this run has {ours!r}")
    shapes = _weight_shapes(p)
    for k, shape in shapes.items():
        if ck.weights[k].shape != shape:
            raise ValueError(f"{ck.path}: array '{k}' has shape {ck.weights[k].shape}, expected {shape} "
                             "(checkpoint from a different network)")
    for key in RESUME_META_KEYS:
        if key in ck.meta and ck.meta[key] != meta[key]:
            raise ValueError(f"{ck.path}: checkpoint has {key}={ck.meta[key]!r} but this run has {meta[key]!r}")
    if ck.position > meta["n_train"] or len(ck.epoch_losses) != ck.position:
        raise ValueError(f"{ck.path}: inconsistent position {ck.position} for {meta['n_train']} train samples")
