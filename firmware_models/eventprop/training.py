"""EventProp training loops (chip engine and reference) with checkpoints and exact resume.

A checkpoint (``checkpoint.npz`` in the run directory) holds the weights, the root PE's Adam state,
the epoch in progress, the batches of it already done, that epoch's sample order, the shuffle RNG
state and the partial epoch's loss/accuracy sums. The chip engine writes one every
``checkpoint_every`` batches, at each epoch end and on Ctrl-C (the last finished batch), so an
interrupt loses at most the batch in flight; a resumed run ends with weights bit-identical to an
uninterrupted one (the numerics of a batch depend only on weights, Adam state and inputs). Both
engines run the one loop ``train``, so ``--fast`` honours ``training.max_batches``, checkpoints and
resumes like the chip engine; only the engine computing a batch differs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from s2sim.data.cache import atomic_save_npz, read_headed_npz
from s2sim.data.yinyang import to_raster

from . import reference as R
from .params import EventpropParams

F32 = np.float32
CHECKPOINT_NAME = "checkpoint.npz"
CHECKPOINT_FORMAT = "s2sim-eventprop-checkpoint"
CHECKPOINT_VERSION = 1
# keys of EventpropParams a run may change and still resume (more epochs, another schedule length)
_RESUMABLE_CHANGES = {"epochs"}


@dataclass
class TrainState:
    """Where training stands; everything a checkpoint restores."""

    weights: list[np.ndarray]
    m: list[np.ndarray]
    v: list[np.ndarray]
    t: int = 0  # Adam steps taken
    epoch: int = 0  # 0-based epoch in progress (= epochs done when position == 0)
    position: int = 0  # batches of that epoch already done
    order: np.ndarray | None = None  # that epoch's sample order (None at an epoch boundary)
    rng_state: tuple | None = None  # shuffle RNG (RandomState) state after drawing ``order``
    loss_sum: float = 0.0
    correct: float = 0.0
    seen: int = 0
    history: list[dict] = field(default_factory=list)
    # what the run had done by this state (RunContext.run_totals); a resumed run's summary adds it in
    run_totals: dict | None = None
    # run settings outside ``network`` that change the numerics (run.seed, training.*): a resume must match
    run_settings: dict = field(default_factory=dict)


def checkpoint_path(d: str | Path) -> Path:
    d = Path(d)
    return d if d.suffix == ".npz" else d / CHECKPOINT_NAME


def save_checkpoint(out_dir: str | Path, s: TrainState, p: EventpropParams, engine: str) -> Path:
    """Write ``out_dir/checkpoint.npz`` atomically (temp file + rename)."""
    arrays: dict[str, np.ndarray] = {}
    for l, (w, m, v) in enumerate(zip(s.weights, s.m, s.v)):
        arrays[f"w{l}"], arrays[f"m{l}"], arrays[f"v{l}"] = (np.asarray(a, F32) for a in (w, m, v))
    arrays["order"] = np.asarray(s.order if s.order is not None else [], np.int64)
    name, keys, pos, has_gauss, gauss = s.rng_state if s.rng_state is not None else ("", [], 0, 0, 0.0)
    arrays["rng_keys"] = np.asarray(keys, np.uint32)
    header = dict(format=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION, engine=engine,
                  params=p.model_dump(), t=s.t, epoch=s.epoch, position=s.position,
                  rng=[name, int(pos), int(has_gauss), float(gauss)], loss_sum=s.loss_sum,
                  correct=s.correct, seen=s.seen, history=s.history, run_totals=s.run_totals,
                  run_settings=s.run_settings)
    arrays["header_json"] = np.array(json.dumps(header))
    return atomic_save_npz(checkpoint_path(out_dir), arrays)


def load_checkpoint(d: str | Path, p: EventpropParams, run_settings: dict | None = None) -> TrainState:
    """Read a checkpoint made with the same network and run settings (see ``_read_checkpoint``).

    Whatever else is wrong inside the file (a header field of the wrong type, an array of strings) is
    the same one-line ``ValueError`` naming the file, never a traceback.
    """
    path = checkpoint_path(d)
    try:
        return _read_checkpoint(d, p, run_settings)
    except Exception as exc:
        if isinstance(exc, ValueError) and str(path) in str(exc):
            raise
        raise ValueError(f"{path}: incompatible checkpoint ({type(exc).__name__}: {exc})".splitlines()[0]) from None


def _read_checkpoint(d: str | Path, p: EventpropParams, run_settings: dict | None = None) -> TrainState:
    """Read a checkpoint made with the same network and run settings; one-line ``ValueError`` naming what is wrong.

    ``run_settings`` (``{"run.seed": 42, "training.max_batches": None, ...}``) are compared with the
    ones the checkpoint was made with, key by key, like the ``network`` parameters.
    """
    path = checkpoint_path(d)
    if not path.exists():
        raise ValueError(f"{path}: no checkpoint to resume from")
    a, h = read_headed_npz(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, "EventProp checkpoint")
    ours, theirs = p.model_dump(), h["params"]
    changed = sorted(k for k in ours if k not in _RESUMABLE_CHANGES and ours[k] != theirs.get(k))
    if changed:
        k = changed[0]
        raise ValueError(f"{path}: made with network.{k}={theirs.get(k)!r}, this run has "
                         f"{ours[k]!r}; resume with the same network")
    saved_settings = h.get("run_settings") or {}
    for key, value in (run_settings or {}).items():
        if key in saved_settings and saved_settings[key] != value:
            raise ValueError(f"{path}: made with {key}={saved_settings[key]!r}, this run has {value!r}; "
                             "resume with the same settings")
    n_w = len(p.layers) - 1
    shapes = [(p.layers[l + 1], p.layers[l]) for l in range(n_w)]
    weights = [_layer_array(a, f"w{l}", shapes[l], path) for l in range(n_w)]
    order = a.get("order")
    if order is None or order.ndim != 1 or (order.size and order.dtype.kind not in "iu"):
        raise ValueError(f"{path}: array 'order' is {None if order is None else (order.shape, str(order.dtype))}; "
                         "expected a 1-D integer sample order")
    rng = h["rng"]
    state = None if not rng[0] else (rng[0], a.get("rng_keys"), rng[1], rng[2], rng[3])
    if state is not None:
        try:  # numpy is the judge of a generator state (624 uint32 keys, position, ...)
            np.random.RandomState().set_state(state)
        except Exception as exc:
            raise ValueError(f"{path}: the shuffling generator's state (rng, rng_keys) is not usable "
                             f"({type(exc).__name__}: {exc})".splitlines()[0]) from None
    return TrainState(weights=weights, m=[_layer_array(a, f"m{l}", shapes[l], path) for l in range(n_w)],
                      v=[_layer_array(a, f"v{l}", shapes[l], path) for l in range(n_w)], t=int(h["t"]),
                      epoch=int(h["epoch"]), position=int(h["position"]), order=order if order.size else None,
                      rng_state=state, loss_sum=float(h["loss_sum"]), correct=float(h["correct"]),
                      seen=int(h["seen"]), history=list(h["history"]), run_totals=h.get("run_totals"),
                      run_settings=dict(saved_settings))


def _layer_array(a: dict, key: str, shape: tuple[int, int], path: Path) -> np.ndarray:
    """A weight layer or its Adam moment, of the shape the network's layers give (else the chip would broadcast it)."""
    if key not in a:
        raise ValueError(f"{path}: array '{key}' missing; expected shape {shape}")
    if a[key].shape != shape or a[key].dtype.kind != "f":
        raise ValueError(f"{path}: array '{key}' is {a[key].shape} {a[key].dtype}; expected float {shape}")
    return a[key]


def export_weights(path: str | Path, weights: list[np.ndarray]) -> Path:
    """``--save-weights``: one float32 array per weight layer, ``w0`` (input -> first layer), ``w1``, ..."""
    return atomic_save_npz(Path(path), {f"w{l}": np.asarray(w, F32) for l, w in enumerate(weights)})


def fresh_state(p: EventpropParams, weights: list[np.ndarray]) -> TrainState:
    return TrainState(weights=[w.copy() for w in weights], m=[np.zeros_like(w) for w in weights],
                      v=[np.zeros_like(w) for w in weights])


class ReferenceEngine:
    """The vectorised float32 reference (``--fast``): one batch = forward, loss, adjoint, Adam step."""

    label = "reference"

    def __init__(self, p: EventpropParams) -> None:
        self.p = p
        self.opt: R.Adam | None = None
        self.weights: list[np.ndarray] = []
        self.batches_per_epoch = 1

    def load(self, s: TrainState, batches_per_epoch: int) -> None:
        self.weights = [w.copy() for w in s.weights]
        self.opt = R.Adam(self.weights, self.p.lr, self.p.weight_decay)
        self.opt.m, self.opt.v, self.opt.t = [m.copy() for m in s.m], [v.copy() for v in s.v], s.t
        self.batches_per_epoch = batches_per_epoch
        self.opt.lr = _lr(self.p, s.t, batches_per_epoch)

    def run_batch(self, times: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Train on one batch (mean gradient, torch's ``reduction='mean'``); (loss [n], first [n, N])."""
        s_in = to_raster(times, self.p.n_steps).astype(F32)
        loss, first, grads = R.loss_and_grads(self.weights, s_in, y, self.p)
        self.opt.step(self.weights, [g / F32(len(y)) for g in grads])
        self.opt.lr = _lr(self.p, self.opt.t, self.batches_per_epoch)
        return loss, first

    def state(self) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], int]:
        o = self.opt
        return ([w.copy() for w in self.weights], [m.copy() for m in o.m], [v.copy() for v in o.v], o.t)


class ChipEngine:
    """The chip model: a batch runs on the per-core firmware; the root PE holds Adam and the weights."""

    label = "chip"

    def __init__(self, chip) -> None:
        self.chip = chip

    def load(self, s: TrainState, batches_per_epoch: int) -> None:
        root = self.chip.root
        root.m, root.v, root.t = [m.copy() for m in s.m], [v.copy() for v in s.v], s.t
        root.n_batches = batches_per_epoch
        root.lr = _lr(self.chip.p, s.t, batches_per_epoch)

    def run_batch(self, times: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.chip.run_batch(times, y)

    def state(self) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], int]:
        root = self.chip.root
        return [w.copy() for w in root.W], [m.copy() for m in root.m], [v.copy() for v in root.v], root.t


def _lr(p: EventpropParams, steps: int, batches_per_epoch: int) -> float:
    """torch StepLR stepped per batch with gamma^(1/batches per epoch): lr drops by gamma per epoch."""
    return p.lr * p.gamma_per_epoch ** (steps / batches_per_epoch)


def batches_per_epoch(n_samples: int, batch: int, drop_last: bool) -> int:
    """Batches in one pass over the training set: the last partial batch kept (DataLoader default) or
    dropped (``drop_last=True``, what the authors' script does)."""
    return n_samples // batch if drop_last else -(-n_samples // batch)


def train(engine, s: TrainState, data: dict, p: EventpropParams, seed: int, epochs: int,
          max_batches: int | None = None, progress: Callable[[str, int], Callable[[int], None]] | None = None,
          out_dir: Path | None = None, checkpoint_every: int = 20, totals: Callable[[], dict] | None = None,
          drop_last: bool = False, tie_rule: R.TieRule = "wrong") -> TrainState:
    """The one EventProp training loop, for both engines, from state ``s`` (fresh or restored) until
    ``epochs`` are done; the engine is the only difference between a chip and a ``--fast`` run.

    Each epoch shuffles with ``RandomState(seed)`` (continued across epochs), trains on its first
    ``max_batches`` batches (all when None; the learning-rate schedule counts the whole epoch either
    way), scores the test split and appends one history row. A checkpoint is written every
    ``checkpoint_every`` batches, at each epoch end and on Ctrl-C (the last finished batch).
    ``totals()`` gives the run totals so far; each checkpoint carries the ones of its batch boundary.
    """
    totals = totals if out_dir is not None else None
    times, y = data["train"]
    per_epoch = batches_per_epoch(len(y), p.batch, drop_last)
    n_batches = per_epoch if max_batches is None else min(per_epoch, max_batches)
    engine.load(s, per_epoch)
    rng = np.random.RandomState(seed)
    if s.rng_state is not None:
        rng.set_state(s.rng_state)
    progress = progress or (lambda label, total: (lambda n: None))
    advance = progress(f"eventprop batches ({engine.label})", max(0, epochs - s.epoch) * n_batches)
    advance(s.position)
    good = _snapshot(engine, s, totals)
    try:
        for epoch in range(s.epoch, epochs):
            if s.order is None:
                s.order = rng.permutation(len(y))
                s.rng_state = rng.get_state()
            since = 0
            for k in range(s.position, n_batches):
                idx = s.order[k * p.batch:(k + 1) * p.batch]
                loss, first = engine.run_batch(times[idx], y[idx])
                s.loss_sum += float(loss.sum())
                s.correct += R.accuracy(first, y[idx], tie_rule) * len(idx)
                s.seen += len(idx)
                s.epoch, s.position = epoch, k + 1
                good = _snapshot(engine, s, totals)
                since += 1
                if out_dir is not None and since >= checkpoint_every and k + 1 < n_batches:
                    save_checkpoint(out_dir, good, p, engine.label)
                    since = 0
                advance(1)
            s.history.append(history_row(epoch + 1, s, good.weights, data["test"], p, tie_rule))
            s.epoch, s.position, s.order, s.loss_sum, s.correct, s.seen = epoch + 1, 0, None, 0.0, 0.0, 0
            good = _snapshot(engine, s, totals)
            if out_dir is not None:
                save_checkpoint(out_dir, good, p, engine.label)
    except KeyboardInterrupt:
        if out_dir is not None:
            save_checkpoint(out_dir, good, p, engine.label)
        raise
    return good


def history_row(epoch: int, s: TrainState, weights: list[np.ndarray], test: tuple, p: EventpropParams,
                tie_rule: R.TieRule) -> dict:
    """One epoch's line: training loss/accuracy seen while training, test accuracy under the run's
    tie rule and under both rules, the test tie rate."""
    sc = R.score(weights, *test, p)
    return {"epoch": epoch, "train_loss": s.loss_sum / max(s.seen, 1), "train_acc": s.correct / max(s.seen, 1),
            "test_acc": sc.accuracy(tie_rule), "test_acc_strict": sc.strict, "test_acc_argmin": sc.argmin,
            "test_tie_rate": sc.tie_rate}


def _snapshot(engine, s: TrainState, totals: Callable[[], dict] | None = None) -> TrainState:
    """A copy of ``s`` with the engine's current weights, Adam state and run totals (at batch boundaries)."""
    weights, m, v, t = engine.state()
    return TrainState(weights=weights, m=m, v=v, t=t, epoch=s.epoch, position=s.position,
                      order=s.order, rng_state=s.rng_state, loss_sum=s.loss_sum, correct=s.correct,
                      seen=s.seen, history=[dict(h) for h in s.history],
                      run_totals=totals() if totals is not None else s.run_totals, run_settings=s.run_settings)


def train_chip(chip, s: TrainState, data: dict, p: EventpropParams, seed: int, epochs: int,
               n_batches: int | None, progress: Callable[[str, int], Callable[[int], None]] | None = None,
               out_dir: Path | None = None, checkpoint_every: int = 20,
               totals: Callable[[], dict] | None = None, **kw) -> TrainState:
    """``train`` on the chip model (a ``ChipNetwork`` built with ``s.weights``), ``n_batches`` per epoch."""
    return train(ChipEngine(chip), s, data, p, seed, epochs, n_batches, progress, out_dir, checkpoint_every,
                 totals, **kw)


def train_reference(s: TrainState, data: dict, p: EventpropParams, seed: int, epochs: int,
                    n_batches: int | None = None, progress: Callable[[str, int], Callable[[int], None]] | None = None,
                    out_dir: Path | None = None, checkpoint_every: int = 20, **kw) -> TrainState:
    """``train`` with the vectorised reference (``--fast``), ``n_batches`` per epoch."""
    return train(ReferenceEngine(p), s, data, p, seed, epochs, n_batches, progress, out_dir, checkpoint_every,
                 **kw)
