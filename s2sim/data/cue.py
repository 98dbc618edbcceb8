"""Cue-accumulation ("evidence accumulation") task, spec cue_accumulation.md §5.1, seeded.

The generator follows the authors' ``generate_click_task_data`` (eprop-PyTorch ``setup.py``, adapted
from IGITUGraz) call for call on a legacy ``np.random.RandomState``: per sample the probable side
(``rd.choice([0, 1], B)``), then each sample's 7 cue sides, then one uniform draw per
(sample, step, channel) compared with the spike probability. The authors' RNG is unseeded; here
each split has its own seed derived from the run seed, so a run is reproducible.

Channels (40 = 4 groups of 10): 0–9 left cue, 10–19 right cue, 20–29 recall cue (last
``recall_steps``), 30–39 background noise at f0/4 for the whole trial. Cue k fires in steps
[silence + k·interval, silence + k·interval + t_cue) with silence = interval − t_cue. Label 1 when
more than n_cues // 2 cues were on the right (channels 10–19).
"""
from __future__ import annotations

import zlib
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .dataset import Dataset, Split
from .limits import check_sample_count

N_SYMBOLS = 4  # left, right, recall, noise
CLASS_NAMES = ["left", "right"]


class CueConfig(BaseModel):
    """The ``dataset:`` section of a cue-accumulation run (defaults: spec §5.1)."""

    model_config = ConfigDict(extra="forbid")

    name: Literal["cue"] = "cue"
    n_train: int = Field(200, ge=0, description="training trials (the repo: 200)")
    n_test: int = Field(100, ge=0, description="test trials (the repo: 100)")
    n_cues: int = Field(7, ge=1)
    n_channels: int = Field(40, ge=N_SYMBOLS, description="input channels, 4 equal groups")
    t_cue_steps: int = Field(100, ge=1)
    t_interval_steps: int = Field(150, ge=1, description="silence then cue")
    t_wait_steps: int = Field(1200, ge=1, description="after the last cue; the recall cue is its end")
    recall_steps: int = Field(150, ge=1)
    f0_prob: float = Field(0.04, gt=0, le=1, description="cue spike probability per step (40 Hz at 1 ms)")
    p_group: float = Field(0.3, ge=0, le=1, description="probability of the less likely side for each cue")

    @model_validator(mode="after")
    def _consistent(self) -> "CueConfig":
        if self.t_cue_steps > self.t_interval_steps:
            raise ValueError(f"t_cue_steps ({self.t_cue_steps}) must be <= t_interval_steps ({self.t_interval_steps})")
        if self.recall_steps > self.n_steps:
            raise ValueError(f"recall_steps ({self.recall_steps}) must be <= the trial length ({self.n_steps})")
        if self.n_channels % N_SYMBOLS:
            raise ValueError(f"n_channels ({self.n_channels}) must be a multiple of {N_SYMBOLS}")
        return self

    @property
    def n_steps(self) -> int:
        """Steps per trial: n_cues·interval + wait (2,250 for the defaults)."""
        return self.n_cues * self.t_interval_steps + self.t_wait_steps


def cue_trials(cfg: CueConfig, n: int, rng: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
    """``n`` trials: spikes uint8 [n, T, channels] and labels int64 [n], the authors' draw order."""
    T, ch = cfg.n_steps, cfg.n_channels // N_SYMBOLS
    choices = np.array([cfg.p_group, 1.0 - cfg.p_group])
    idx = rng.choice([0, 1], n)
    probs = np.stack([choices[idx], choices[1 - idx]], axis=1)
    sides = np.zeros((n, cfg.n_cues), np.int64)
    for b in range(n):
        sides[b] = rng.choice([0, 1], cfg.n_cues, p=probs[b])
    silence = cfg.t_interval_steps - cfg.t_cue_steps
    prob = np.zeros((T, cfg.n_channels))  # one sample's rate pattern, filled per sample below
    prob[-cfg.recall_steps:, 2 * ch:3 * ch] = cfg.f0_prob
    prob[:, 3 * ch:] = cfg.f0_prob / 4.0
    X = np.empty((n, T, cfg.n_channels), np.uint8)
    for b in range(n):  # one uniform per (step, channel) in C order, as one [n, T, C] draw would give
        p = prob.copy()
        for k, side in enumerate(sides[b]):
            start = silence + k * cfg.t_interval_steps
            p[start:start + cfg.t_cue_steps, side * ch:(side + 1) * ch] = cfg.f0_prob
        X[b] = rng.rand(T, cfg.n_channels) < p
    y = (sides.sum(axis=1) > cfg.n_cues // 2).astype(np.int64)
    return X, y


def split_seed(seed: int, split: str) -> list[int]:
    """RandomState seed of one split: depends on the run seed and the split name only."""
    return [seed & 0xFFFFFFFF, zlib.crc32(split.encode())]


def load_cue(cfg: CueConfig, seed: int) -> Dataset:
    """Train and test splits of the task (each generated once, from its own seeded stream)."""
    splits = {}
    for split, n in (("train", cfg.n_train), ("test", cfg.n_test)):
        # uint8 spikes as drawn, then the float32 copy every split holds
        check_sample_count(f"dataset.n_{split}", n, cfg.n_steps * cfg.n_channels * 5)
        X, y = cue_trials(cfg, n, np.random.RandomState(split_seed(seed, split)))
        splits[split] = Split(X, y)
    return Dataset(name="cue", n_classes=2, class_names=list(CLASS_NAMES), splits=splits, synthetic=False,
                   source=f"generated (spec cue_accumulation.md §5.1, seed {seed})")
