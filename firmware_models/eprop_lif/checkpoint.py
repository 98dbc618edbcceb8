"""Checkpoints of cue-accumulation training: everything a resumed run needs to end bit-identical.

``checkpoint.npz`` in the run folder holds the weights, Adam's m, v and step count, the epoch in
progress, the batches of it already done with their per-trial losses and hits, the history, the run
totals (chip engine) and the settings that change what training computes. Those settings are compared
key by key on ``--resume`` (``network.*``, ``dataset.*``, ``run.seed``, ``training.shuffle``,
``training.engine``, and for chip training ``mapping.pes`` and ``run.tick_ns``; see ``app.run_settings``),
so a mismatched checkpoint is refused with a one-line error naming the key.
``training.epochs`` may grow: a finished run can be continued for more epochs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from s2sim.data.cache import atomic_save_npz, read_headed_npz

from . import reference as R
from .params import CueEpropParams

F32 = np.float32
CHECKPOINT_NAME = "checkpoint.npz"
CHECKPOINT_FORMAT = "s2sim-eprop-lif-checkpoint"
CHECKPOINT_VERSION = 1


@dataclass
class TrainState:
    """Where training stands at a batch boundary: everything a checkpoint restores."""

    weights: dict[str, np.ndarray]
    adam: R.Adam
    epoch: int = 0  # 0-based epoch in progress (= epochs done when position == 0)
    position: int = 0  # batches of that epoch already done
    losses: list[float] = field(default_factory=list)  # per trial of the epoch so far
    hits: int = 0
    history: list[dict] = field(default_factory=list)
    run_totals: dict | None = None  # RunContext.run_totals at this boundary (chip engine)
    epoch_wall_s: float = 0.0  # wall time of the epoch so far (its history row adds the resumed part)

    def copy(self) -> "TrainState":
        adam = R.Adam(self.weights, self.adam.p)
        for k in self.weights:
            adam.m[k][...], adam.v[k][...] = self.adam.m[k], self.adam.v[k]
        adam.steps = self.adam.steps
        return TrainState({k: w.copy() for k, w in self.weights.items()}, adam, self.epoch, self.position,
                          list(self.losses), self.hits, [dict(h) for h in self.history], self.run_totals,
                          self.epoch_wall_s)


def checkpoint_path(d: str | Path) -> Path:
    d = Path(d)
    return d if d.suffix == ".npz" else d / CHECKPOINT_NAME


def _plain(o: Any) -> Any:
    """JSON's view of a value (tuples become lists), so saved and current settings compare alike."""
    return json.loads(json.dumps(o))


def save_checkpoint(out_dir: str | Path, s: TrainState, settings: dict[str, Any]) -> Path:
    """Write ``out_dir/checkpoint.npz`` atomically (temp file + rename)."""
    arrays: dict[str, np.ndarray] = {}
    for k in R.WEIGHT_KEYS:
        arrays[k] = np.asarray(s.weights[k], F32)
        arrays[f"adam_m_{k}"] = np.asarray(s.adam.m[k], F32)
        arrays[f"adam_v_{k}"] = np.asarray(s.adam.v[k], F32)
    arrays["epoch_losses"] = np.asarray(s.losses, np.float64)
    header = dict(format=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION, adam_steps=s.adam.steps, epoch=s.epoch,
                  position=s.position, hits=s.hits, history=s.history, run_totals=s.run_totals,
                  epoch_wall_s=s.epoch_wall_s,
                  settings=_plain(settings))
    arrays["header_json"] = np.array(json.dumps(header))
    return atomic_save_npz(checkpoint_path(out_dir), arrays)


def load_checkpoint(d: str | Path, p: CueEpropParams, settings: dict[str, Any], n_batches: int) -> TrainState:
    """The checkpoint in ``d``, made with these ``settings`` (see ``_read_checkpoint``).

    Whatever else is wrong inside the file (a header field of the wrong type, an array of strings) is
    the same one-line ``ValueError`` naming the file, never a traceback.
    """
    path = checkpoint_path(d)
    try:
        return _read_checkpoint(d, p, settings, n_batches)
    except Exception as exc:
        if isinstance(exc, ValueError) and str(path) in str(exc):
            raise
        raise ValueError(f"{path}: incompatible checkpoint ({type(exc).__name__}: {exc})".splitlines()[0]) from None


def _read_checkpoint(d: str | Path, p: CueEpropParams, settings: dict[str, Any], n_batches: int) -> TrainState:
    """The checkpoint in ``d``, made with these ``settings``; else a one-line ``ValueError`` naming the key."""
    path = checkpoint_path(d)
    if not path.exists():
        raise ValueError(f"{path}: no checkpoint to resume from")
    a, h = read_headed_npz(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, "cue-accumulation checkpoint")
    saved, ours = h.get("settings") or {}, _plain(settings)
    for key, value in ours.items():
        if key in saved and saved[key] != value:
            raise ValueError(f"{path}: made with {key}={saved[key]!r}, this run has {value!r}; "
                             "resume with the same settings")
    epoch, position = int(h["epoch"]), int(h["position"])
    if not 0 <= position <= n_batches:
        raise ValueError(f"{path}: position {position} is outside the {n_batches} batches of an epoch")
    shapes = {k: v.shape for k, v in R.zero_grads(p).items()}
    weights = {k: _array(a, k, shape, path) for k, shape in shapes.items()}
    adam = R.Adam(weights, p)
    for k, shape in shapes.items():
        adam.m[k][...] = _array(a, f"adam_m_{k}", shape, path)
        adam.v[k][...] = _array(a, f"adam_v_{k}", shape, path)
    adam.steps = int(h["adam_steps"])
    return TrainState(weights, adam, epoch, position, [float(x) for x in a["epoch_losses"]], int(h["hits"]),
                      list(h["history"]), h.get("run_totals"), float(h.get("epoch_wall_s", 0.0)))


def _array(a: dict, key: str, shape: tuple, path: Path) -> np.ndarray:
    if key not in a:
        raise ValueError(f"{path}: array '{key}' missing; expected shape {shape}")
    if a[key].shape != shape:
        raise ValueError(f"{path}: array '{key}' has shape {a[key].shape}, expected {shape}")
    return np.asarray(a[key], F32).copy()
