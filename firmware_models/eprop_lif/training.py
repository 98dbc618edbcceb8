"""Host-side training loop of the repo (``train.py``): shuffled batches, one Adam step per batch, test after each epoch.

``train`` is the one loop of both engines: the chip model (``app.ChipEngine``, every trial simulated by the
firmware) and the vectorised reference (``ReferenceEngine``, the ``--fast`` path, ``factorized`` gradients).
It checkpoints (``checkpoint.py``) every ``checkpoint_every`` batches, at each epoch end and on Ctrl-C (the
last finished batch: an interrupt loses at most the batch in flight), and continues a checkpoint exactly: a
batch depends only on the weights, Adam's state and its trials, and the trial order of an epoch only on
(seed, epoch), so a resumed run ends bit-identical to an uninterrupted one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from s2sim.data.dataset import Dataset

from . import reference as R
from .checkpoint import TrainState, save_checkpoint
from .params import CueEpropParams

ProgressFactory = Callable[[str, int], Callable[[int], None]]


class CueTrainingConfig(BaseModel):
    """The ``training:`` section."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(10, ge=1, description="the repo: 10")
    shuffle: bool = Field(True, description="reshuffle the train set every epoch (seeded), as a shuffling DataLoader")
    engine: Literal["chip", "reference"] = Field("chip", description="reference = --fast")
    timing_samples: int = Field(2, ge=1, description="--fast: trials simulated on the chip for timing and energy")
    checkpoint_every: int = Field(1, ge=1, description="batches between checkpoints (plus one at each epoch end "
                                                       "and on Ctrl-C); a chip batch takes minutes")


@dataclass
class TrainingResult:
    weights: dict[str, np.ndarray]
    adam: R.Adam
    history: list[dict] = field(default_factory=list)


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool) -> np.ndarray:
    """Trial order of one epoch: a permutation seeded by (seed, epoch), or file order."""
    return np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)


def initial_weights(params: CueEpropParams, seed: int) -> dict[str, np.ndarray]:
    return R.init_weights(params, np.random.default_rng(seed))


class TrainingEngine(Protocol):
    """The one part of training that differs between the chip model and the vectorised reference."""

    label: str  # shown in the progress bar

    def train_batch(self, X: np.ndarray, Y: np.ndarray) -> tuple[list[float], int]:
        """Forward, gradients summed over the trials, one Adam step; (window loss per trial, correct trials)."""

    def state(self) -> tuple[dict[str, np.ndarray], R.Adam]:
        """The current weights and optimiser (the caller copies what it keeps)."""


class ReferenceEngine:
    """The vectorised float32 reference (``factorized`` gradients), one batch per call."""

    label = "reference"

    def __init__(self, params: CueEpropParams, weights: dict[str, np.ndarray], adam: R.Adam) -> None:
        self.p, self.weights, self.adam = params, weights, adam

    def train_batch(self, X: np.ndarray, Y: np.ndarray) -> tuple[list[float], int]:
        fw = R.train_batch(self.weights, self.adam, X, Y, self.p, engine="factorized")
        return [float(x) for x in R.window_loss(fw, Y, self.p)], int((R.predict(fw, self.p) == Y).sum())

    def state(self) -> tuple[dict[str, np.ndarray], R.Adam]:
        return self.weights, self.adam


def fresh_state(params: CueEpropParams, seed: int) -> TrainState:
    w = initial_weights(params, seed)
    return TrainState(w, R.Adam(w, params))


def train(params: CueEpropParams, tcfg: CueTrainingConfig, ds: Dataset, seed: int, engine: TrainingEngine,
          start: TrainState, progress: ProgressFactory | None = None, out_dir: Path | None = None,
          settings: dict | None = None, totals: Callable[[], dict] | None = None,
          on_epoch: Callable[[dict], None] | None = None) -> TrainState:
    """Train from ``start`` (fresh or resumed; the engine already holds its weights and Adam state) until
    ``tcfg.epochs`` are done; returns the final state. ``history`` has one row per epoch (test accuracy
    after it). With ``out_dir``, checkpoints carry ``settings`` and ``totals()`` (the run totals so far)."""
    train_split, test = ds.splits["train"], ds.splits.get("test")
    n_batches = -(-len(train_split) // params.batch)

    def snapshot(s: TrainState) -> TrainState:
        weights, adam = engine.state()
        good = TrainState(weights, adam, s.epoch, s.position, s.losses, s.hits, s.history,
                          epoch_wall_s=s.epoch_wall_s).copy()
        good.run_totals = totals() if totals is not None else s.run_totals
        return good

    def save(good: TrainState) -> None:
        if out_dir is not None:
            save_checkpoint(out_dir, good, settings or {})

    s = start.copy()
    good = snapshot(s)
    try:
        for epoch in range(s.epoch, tcfg.epochs):
            t0 = time.perf_counter() - s.epoch_wall_s
            order = epoch_order(len(train_split), seed, epoch, tcfg.shuffle)
            adv = progress(f"epoch {epoch + 1}/{tcfg.epochs} ({engine.label})", len(train_split)) if progress else None
            if adv and s.position:
                adv(min(len(train_split), s.position * params.batch))
            for b in range(s.position, n_batches):
                idx = order[b * params.batch:(b + 1) * params.batch]
                losses, hits = engine.train_batch(train_split.X[idx], train_split.y[idx])
                s.losses += losses
                s.hits += hits
                s.epoch, s.position, s.epoch_wall_s = epoch, b + 1, time.perf_counter() - t0
                good = snapshot(s)
                if (b + 1) % tcfg.checkpoint_every == 0 and b + 1 < n_batches:
                    save(good)
                if adv:
                    adv(len(idx))
            weights, _ = engine.state()
            row = {"epoch": epoch + 1, "train_loss": float(np.mean(s.losses)),
                   "train_accuracy": s.hits / len(train_split)}
            if test is not None and len(test):
                row["test_accuracy"], row["test_loss"] = R.evaluate(weights, test.X, test.y, params)
            row["wall_s"] = time.perf_counter() - t0
            s.history.append(row)
            s.epoch, s.position, s.losses, s.hits, s.epoch_wall_s = epoch + 1, 0, [], 0, 0.0
            good = snapshot(s)
            save(good)
            if on_epoch:
                on_epoch(row)
    except KeyboardInterrupt:
        save(good)  # the last finished batch: a resume redoes only the batch in flight
        raise
    return good


def train_reference(params: CueEpropParams, tcfg: CueTrainingConfig, ds: Dataset, seed: int,
                    progress: ProgressFactory | None = None,
                    on_epoch: Callable[[dict], None] | None = None) -> TrainingResult:
    """Train with the vectorised reference from the seeded initial weights (no checkpoints)."""
    s = fresh_state(params, seed)
    s = train(params, tcfg, ds, seed, ReferenceEngine(params, s.weights, s.adam), s, progress, on_epoch=on_epoch)
    return TrainingResult(s.weights, s.adam, s.history)
