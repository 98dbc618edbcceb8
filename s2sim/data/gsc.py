"""Google Speech Commands v0.01, 12-class task (spec eprop_gsc.md §5).

Classes: 0 unknown (all 20 non-command words), 1 silence, 2..11 yes no up down
left right on off stop go. Splits: test = testing_list.txt (no silence),
valid = validation_list.txt + 260 silence clips, train = every other word clip
+ 2,300 silence clips.

Deliberate fix of the reference repo: there, silence clips are regenerated into
``train/_silence_`` and then re-collected, so all 260 validation silence clips
leak into train and 2,300 are duplicated (55,948 train). Here each silence clip
exists once, and train crops come only from the first 90 % of every noise file,
valid crops only from the last 10 %, so train and valid never share audio.
"""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache, partial
from pathlib import Path

import numpy as np

from .audio_io import read_wav
from .cache import cache_dir as default_cache_dir
from .cache import cache_key, file_fingerprints, read_dataset, save_dataset
from .dataset import (Dataset, DatasetConfig, DatasetError, Progress, apply_subsets, split_rng,
                      subset_indices, subset_sizes)
from .extract import Clip, extract_split
from .features import CLIP_SAMPLES, FEATURE_PARAMS

ENV_VAR = "S2SIM_GSC"
COMMANDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
CLASS_NAMES = ["unknown", "silence", *COMMANDS]
SILENCE_LABEL = 1
N_SILENCE = {"train": 2300, "valid": 260, "test": 0}
TRAIN_NOISE_FRACTION = 0.9  # train silence from the first 90 % of each noise file, valid from the rest
NOISE_DIR = "_background_noise_"


def label_of(word: str) -> int:
    """Class index of a word folder: a command keeps its slot, anything else is unknown (0)."""
    return CLASS_NAMES.index(word) if word in COMMANDS else 0


def is_raw_gsc(path: Path) -> bool:
    """A raw GSC folder has the two split lists next to the word folders."""
    return (path / "validation_list.txt").is_file() and (path / "testing_list.txt").is_file()


def word_file_lists(source: Path) -> dict[str, list[str]]:
    """Relative wav paths per split, following validation_list / testing_list."""
    def read_list(name: str) -> set[str]:
        return {ln.strip() for ln in (source / name).read_text().splitlines() if ln.strip()}

    valid, test = read_list("validation_list.txt"), read_list("testing_list.txt")
    every = sorted(p.relative_to(source).as_posix() for p in source.glob("*/*.wav")
                   if not p.parent.name.startswith("_"))
    present = set(every)
    return {"train": [f for f in every if f not in valid and f not in test],
            "valid": sorted(valid & present), "test": sorted(test & present)}


def silence_crop(noise_files: list[Path], split: str, k: int, seed: int) -> tuple[np.ndarray, int] | str:
    """The k-th deterministic 1 s crop of background noise for ``split``."""
    rng = split_rng(seed, "silence", split, str(k))
    path = noise_files[int(rng.integers(len(noise_files)))]
    got = _read_noise(path)
    if isinstance(got, str):
        return got
    audio, rate_hz = got
    n = len(audio)
    boundary = int(TRAIN_NOISE_FRACTION * n)
    lo, hi = (0, boundary - CLIP_SAMPLES) if split == "train" else (boundary, n - CLIP_SAMPLES)
    if hi < lo:  # noise file too short to keep train/valid regions apart
        lo, hi = 0, max(0, n - CLIP_SAMPLES)
    start = int(rng.integers(lo, hi + 1))
    return audio[start:start + CLIP_SAMPLES], rate_hz


@lru_cache(maxsize=16)
def _read_noise(path: Path) -> tuple[np.ndarray, int] | str:
    return read_wav(path)


def gsc_clips(source: Path, seed: int, sizes: dict[str, int | None]) -> dict[str, list[Clip]]:
    """All clips per split (words + silence), subset to ``sizes`` after a seeded shuffle."""
    words = word_file_lists(source)
    noise_files = sorted((source / NOISE_DIR).glob("*.wav"))
    out = {}
    for split, files in words.items():
        clips = [Clip(f, label_of(f.split("/")[0]), partial(read_wav, source / f)) for f in files]
        if noise_files:
            clips += [Clip(f"_silence_/{split}_{k}", SILENCE_LABEL,
                           partial(silence_crop, noise_files, split, k, seed))
                      for k in range(N_SILENCE[split])]
        out[split] = [clips[i] for i in subset_indices(len(clips), sizes.get(split), seed, split)]
    return out


def prepare_gsc(source_dir: str | Path, cache_dir: str | Path, seed: int,
                progress: Progress | None = None,
                sizes: dict[str, int | None] | None = None) -> Path:
    """Extract features from a raw GSC folder into ``cache_dir/gsc-<key>.npz`` (reused if present)."""
    source = Path(source_dir).expanduser()
    if not is_raw_gsc(source):
        raise DatasetError(f"{source}: expected a GSC v0.01 folder with word subfolders, "
                           "validation_list.txt and testing_list.txt")
    sizes = sizes or {}
    clips = gsc_clips(source, seed, sizes)
    noise = sorted((source / NOISE_DIR).glob("*.wav"))
    word_paths = [source / c.key for cs in clips.values() for c in cs if not c.key.startswith("_silence_")]
    key = cache_key("gsc", file_fingerprints(word_paths + noise),
                    {**FEATURE_PARAMS, "sizes": sizes, "silence": N_SILENCE}, seed)
    out = Path(cache_dir) / f"gsc-{key}.npz"
    if out.exists():
        return out
    splits, skipped = {}, []
    if not noise:
        skipped.append((NOISE_DIR, "no background-noise wavs: no silence clips generated"))
    for split, cs in clips.items():
        splits[split], bad = extract_split(cs, seed, f"gsc {split}", progress)
        skipped += bad
    ds = Dataset(name="gsc", n_classes=len(CLASS_NAMES), class_names=CLASS_NAMES, splits=splits,
                 synthetic=False, source=str(source), skipped=skipped)
    return save_dataset(out, ds)


def load_gsc(cfg: DatasetConfig, seed: int, progress: Progress | None = None) -> Dataset:
    """A prepared npz, or a raw folder (prepared on the fly), or the marked synthetic fallback."""
    raw = cfg.path or os.environ.get(ENV_VAR)
    path = Path(raw).expanduser() if raw else None
    if path is not None and path.is_file():
        return apply_subsets(read_dataset(path), cfg, seed)
    if path is not None and is_raw_gsc(path):
        if cfg.cache:
            return read_dataset(prepare_gsc(path, default_cache_dir(), seed, progress, subset_sizes(cfg)))
        with tempfile.TemporaryDirectory() as tmp:
            return read_dataset(prepare_gsc(path, tmp, seed, progress, subset_sizes(cfg)))
    where = str(path) if path else f"(no dataset.path, ${ENV_VAR} unset)"
    if cfg.fallback == "error":
        raise DatasetError(f"GSC not found at {where}: expected a prepared .npz or a GSC v0.01 folder "
                           f"with validation_list.txt and testing_list.txt (set dataset.path or ${ENV_VAR})")
    from .synthetic import load_synthetic
    ds = load_synthetic(cfg, seed)
    ds.name = f"synthetic (GSC not found at {where})"
    ds.note = (f"THIS IS NOT GSC: Google Speech Commands was not found at {where}; "
               "results are on the embedded synthetic keyword-like data. "
               "Set dataset.path or $S2SIM_GSC, or use fallback: error.")
    return ds
