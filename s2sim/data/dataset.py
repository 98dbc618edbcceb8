"""The common dataset container and the single entry point ``load_dataset``.

Every loader (synthetic, fsdd, gsc, npz) returns the same :class:`Dataset`, so
trainers never care where the data came from -- but ``synthetic`` and ``note``
make it impossible to mistake stand-in data for the real thing.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..config.ranges import Count

#: ``progress(done, total, what)``; called by slow loaders (feature extraction).
Progress = Callable[[int, int, str], None]

SPLIT_NAMES = ("train", "valid", "test")
#: ``s2sim validate`` loads an .npz up to this size with the run's own checks, so the two refuse the same
#: files; a larger one gets only the cheap checks (it is a zip archive and readable)
VALIDATE_LOAD_LIMIT_BYTES = 256 << 20


class DatasetError(Exception):
    """Data missing or malformed; the message names the path/key and what was expected."""


@dataclass
class Split:
    """One split: features ``X`` float32 ``[N, T, F]`` and labels ``y`` int64 ``[N]``."""

    X: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        self.X = np.ascontiguousarray(self.X, dtype=np.float32)
        self.y = np.ascontiguousarray(self.y, dtype=np.int64)
        if self.X.ndim != 3 or self.X.shape[0] != self.y.shape[0] or self.y.ndim != 1:
            raise DatasetError(f"split arrays must be X [N,T,F] and y [N]; got X {self.X.shape}, y {self.y.shape}")

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class Dataset:
    """Features + labels for train/valid/test, with provenance."""

    name: str
    n_classes: int
    class_names: list[str]
    splits: dict[str, Split]
    synthetic: bool = False
    source: str = ""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""  # loud human-readable caveat, e.g. "this is NOT GSC"
    nonfinite_replaced: int = 0  # NaN/Inf feature values set to 0 (dataset.on_nonfinite: zero)

    @property
    def n_steps(self) -> int:
        """Time steps per sample (T)."""
        return int(next(iter(self.splits.values())).X.shape[1])

    @property
    def n_features(self) -> int:
        """Input features per time step (F)."""
        return int(next(iter(self.splits.values())).X.shape[2])

    def summary(self) -> str:
        """One line for logs: name, sizes and the caveat if any."""
        sizes = ", ".join(f"{k} {len(v)}" for k, v in self.splits.items())
        text = f"{self.name}: {self.n_classes} classes, T={self.n_steps}, F={self.n_features}; {sizes}"
        if self.skipped:
            text += f"; {len(self.skipped)} files skipped"
        return text + (f" [{self.note}]" if self.note else "")


class DatasetConfig(BaseModel):
    """The ``dataset:`` section of a run config."""

    model_config = ConfigDict(extra="forbid")

    name: Literal["synthetic", "fsdd", "gsc", "npz"] = "synthetic"
    path: str | None = None
    n_train: Count | None = None  # subset sizes: first N after a seeded shuffle (never empty)
    n_valid: Count | None = None
    n_test: Count | None = None
    fallback: Literal["synthetic", "error"] = "synthetic"  # gsc without data
    cache: bool = True
    on_nonfinite: Literal["error", "zero"] = "error"  # NaN/Inf features: refuse, or replace by 0 and count
    # fsdd: 16 kHz samples between feature frames (default 161 = 10.06 ms, T = 100); the time-step
    # study varies it: T = 1 + 16000 // hop_samples
    hop_samples: int | None = Field(None, gt=0, le=16_000)

    @model_validator(mode="after")
    def _hop_is_fsdd_only(self) -> "DatasetConfig":
        if self.hop_samples is not None and self.name != "fsdd":
            raise ValueError(f"hop_samples applies to the fsdd features only, not name: {self.name}")
        return self


def check_source(section: dict, file: str = "dataset") -> None:
    """What ``s2sim validate`` checks without loading: the data a dataset section names is there and readable.

    Acts on the sections it knows (fsdd, gsc with an explicit path and ``fallback: error``, npz: loaded with
    every check ``run`` makes when it is at most ``VALIDATE_LOAD_LIMIT_BYTES``); anything else is left to the
    app that reads it.
    """
    import os
    from pathlib import Path
    name, raw = section.get("name"), section.get("path")
    if name == "fsdd":
        from .fsdd import find_recordings
        rec = find_recordings(raw if isinstance(raw, str) else None)
        if not os.access(rec, os.R_OK | os.X_OK):
            raise DatasetError(f"{rec}: FSDD folder is not readable")
        return
    if name not in ("npz", "gsc") or not isinstance(raw, str):
        if name == "npz":
            raise DatasetError(f"{file}: dataset.path must name an .npz file for name: npz")
        return
    path = Path(raw).expanduser()
    if not path.exists():
        if name == "gsc" and section.get("fallback", "synthetic") == "synthetic":
            return  # the run falls back to the marked synthetic set and says so
        raise DatasetError(f"{path}: dataset.path not found")
    if path.is_file():
        try:
            with open(path, "rb") as fh:
                magic = fh.read(4)
        except OSError as err:
            raise DatasetError(f"{path}: dataset file not readable ({err.strerror})") from None
        if path.suffix == ".npz" and magic[:2] != b"PK":
            raise DatasetError(f"{path}: not an .npz file (an .npz is a zip archive)")
        if name == "npz" and path.stat().st_size <= VALIDATE_LOAD_LIMIT_BYTES:
            load_dataset(section, seed=0)  # layout, dtypes, labels, class count, non-finite values: as run does
    elif not os.access(path, os.R_OK | os.X_OK):
        raise DatasetError(f"{path}: dataset folder not readable")


def split_rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator that depends only on ``seed`` and the string keys (not on call order)."""
    return np.random.default_rng([seed & 0xFFFFFFFF, *(zlib.crc32(k.encode()) for k in keys)])


def subset_indices(n_total: int, n_keep: int | None, seed: int, split: str) -> np.ndarray:
    """Indices of the first ``n_keep`` items after a seeded shuffle; all items (in order) if None."""
    if n_keep is None or n_keep >= n_total:
        return np.arange(n_total)
    if n_keep < 0:
        raise DatasetError(f"n_{split} must be >= 0, got {n_keep}")
    return split_rng(seed, "subset", split).permutation(n_total)[:n_keep]


def subset_sizes(cfg: DatasetConfig) -> dict[str, int | None]:
    """Requested subset size per split name."""
    return {"train": cfg.n_train, "valid": cfg.n_valid, "test": cfg.n_test}


def load_dataset(cfg: dict | DatasetConfig, seed: int, progress: Progress | None = None) -> Dataset:
    """Load the dataset named by ``cfg['name']`` (synthetic | fsdd | gsc | npz), then guard it."""
    if not isinstance(cfg, DatasetConfig):
        try:
            cfg = DatasetConfig(**cfg)
        except Exception as exc:  # pydantic's message is long; keep the first line useful
            raise DatasetError(f"bad dataset config {dict(cfg)!r}: {exc}".splitlines()[0]) from exc
    if cfg.name == "synthetic":
        from .synthetic import load_synthetic
        ds = load_synthetic(cfg, seed)
    elif cfg.name == "fsdd":
        from .fsdd import load_fsdd
        ds = load_fsdd(cfg, seed, progress)
    elif cfg.name == "gsc":
        from .gsc import load_gsc
        ds = load_gsc(cfg, seed, progress)
    else:
        from .npz import load_npz
        ds = load_npz(cfg, seed)
    return guard(ds, cfg)


def guard(ds: Dataset, cfg: DatasetConfig) -> Dataset:
    """Refuse data that would train on nonsense: an empty split, NaN/Inf features (or zero and count them)."""
    where = ds.source or ds.name
    if "train" not in ds.splits or len(ds.splits["train"]) == 0:  # valid/test may be empty: not evaluated
        raise DatasetError(f"{where}: the training split is empty"
                           + (f" ({len(ds.skipped)} files skipped)" if ds.skipped else ""))
    bad = {name: int(np.count_nonzero(~np.isfinite(s.X))) for name, s in ds.splits.items()}
    total = sum(bad.values())
    if total:
        counts = ", ".join(f"{n} in {name}" for name, n in bad.items() if n)
        if cfg.on_nonfinite == "error":
            raise DatasetError(f"{where}: {total} non-finite feature values (NaN/Inf: {counts}); "
                               "fix the data or set dataset.on_nonfinite: zero to replace them by 0")
        for s in ds.splits.values():
            np.nan_to_num(s.X, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        ds.nonfinite_replaced = total
        text = f"{total} non-finite feature values ({counts}) replaced by 0 (dataset.on_nonfinite: zero)"
        ds.note = f"{ds.note}; {text}" if ds.note else text
    return ds


def apply_subsets(ds: Dataset, cfg: DatasetConfig, seed: int) -> Dataset:
    """Keep the first n_<split> samples of each split after a seeded shuffle (in place)."""
    for split, n_keep in subset_sizes(cfg).items():
        if split in ds.splits and n_keep is not None:
            idx = subset_indices(len(ds.splits[split]), n_keep, seed, split)
            ds.splits[split] = Split(ds.splits[split].X[idx], ds.splits[split].y[idx])
    return ds
