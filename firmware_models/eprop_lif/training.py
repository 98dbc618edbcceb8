"""Host-side training loop of the repo (``train.py``): shuffled batches, one Adam step per batch, test after each epoch.

``train_reference`` is the ``--fast`` path (the ``factorized`` engine); the chip path in ``app.py`` runs the
same loop with every trial simulated by the firmware.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from s2sim.data.dataset import Dataset

from . import reference as R
from .params import CueEpropParams

ProgressFactory = Callable[[str, int], Callable[[int], None]]


class CueTrainingConfig(BaseModel):
    """The ``training:`` section."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(10, ge=1, description="the repo: 10")
    shuffle: bool = Field(True, description="reshuffle the train set every epoch (seeded), as a shuffling DataLoader")
    engine: Literal["chip", "reference"] = Field("chip", description="reference = --fast")
    timing_samples: int = Field(2, ge=1, description="--fast: trials simulated on the chip for timing and energy")


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


def train_reference(params: CueEpropParams, tcfg: CueTrainingConfig, ds: Dataset, seed: int,
                    progress: ProgressFactory | None = None,
                    on_epoch: Callable[[dict], None] | None = None) -> TrainingResult:
    """Train with the vectorised reference; ``history`` has one row per epoch (test accuracy after it)."""
    w = initial_weights(params, seed)
    adam = R.Adam(w, params)
    train, test = ds.splits["train"], ds.splits.get("test")
    history = []
    for epoch in range(tcfg.epochs):
        t0 = time.perf_counter()
        order = epoch_order(len(train), seed, epoch, tcfg.shuffle)
        adv = progress(f"epoch {epoch + 1}/{tcfg.epochs} (reference)", len(train)) if progress else None
        losses, hits = [], 0
        for a in range(0, len(order), params.batch):
            idx = order[a:a + params.batch]
            fw = R.train_batch(w, adam, train.X[idx], train.y[idx], params, engine="factorized")
            losses += list(R.window_loss(fw, train.y[idx], params))
            hits += int((R.predict(fw, params) == train.y[idx]).sum())
            if adv:
                adv(len(idx))
        row = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "train_accuracy": hits / len(train)}
        if test is not None and len(test):
            row["test_accuracy"], row["test_loss"] = R.evaluate(w, test.X, test.y, params)
        row["wall_s"] = time.perf_counter() - t0
        history.append(row)
        if on_epoch:
            on_epoch(row)
    return TrainingResult(w, adam, history)
