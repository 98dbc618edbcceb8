"""Free Spoken Digit Dataset (https://github.com/Jakobovski/free-spoken-digit-dataset).

Files ``recordings/{digit}_{speaker}_{index}.wav``, 8 kHz mono int16. Official
split: index 0-4 -> test (300), the rest -> train (2,700). FSDD has no
validation split, so we carve one: a seeded 10 % of the train files
(``VALID_FRACTION``; it depends on the run seed, like the subset choice).
"""

from __future__ import annotations

import os
import re
from functools import partial
from pathlib import Path

from .audio_io import read_wav
from .cache import cache_dir, cache_key, file_fingerprints, read_dataset, save_dataset
from .dataset import (Dataset, DatasetConfig, DatasetError, Progress, split_rng, subset_indices,
                      subset_sizes)
from .extract import Clip, extract_split
from .features import FEATURE_PARAMS, HOP_SAMPLES

ENV_VAR = "S2SIM_FSDD"
VALID_FRACTION = 0.1
TEST_MAX_INDEX = 4
CLASS_NAMES = [str(d) for d in range(10)]
_NAME = re.compile(r"^(\d)_([A-Za-z0-9]+)_(\d+)\.wav$")


def find_recordings(path: str | None) -> Path:
    """The folder holding the wavs: ``path`` (or $S2SIM_FSDD) itself or its ``recordings/``."""
    raw = path or os.environ.get(ENV_VAR)
    if not raw:
        raise DatasetError(f"FSDD path not given: set dataset.path or ${ENV_VAR} to the FSDD root "
                           "or its recordings/ folder")
    root = Path(raw).expanduser()
    for cand in (root / "recordings", root):
        if cand.is_dir() and any(cand.glob("*.wav")):
            return cand
    raise DatasetError(f"{root}: expected the FSDD root or its recordings/ folder with "
                       f"{{digit}}_{{speaker}}_{{index}}.wav files (or set ${ENV_VAR})")


def official_split(files: list[Path], seed: int) -> tuple[dict[str, list[Path]], list[tuple[str, str]]]:
    """Index 0-4 -> test, else train; then a seeded VALID_FRACTION of train -> valid."""
    splits: dict[str, list[Path]] = {"train": [], "valid": [], "test": []}
    skipped = []
    for f in sorted(files):
        m = _NAME.match(f.name)
        if m is None:
            skipped.append((f.name, "name is not {digit}_{speaker}_{index}.wav"))
            continue
        splits["test" if int(m.group(3)) <= TEST_MAX_INDEX else "train"].append(f)
    train = splits["train"]
    order = split_rng(seed, "fsdd", "valid").permutation(len(train))
    n_valid = round(VALID_FRACTION * len(train))
    splits["valid"] = [train[i] for i in sorted(order[:n_valid])]
    splits["train"] = [train[i] for i in sorted(order[n_valid:])]
    return splits, skipped


def load_fsdd(cfg: DatasetConfig, seed: int, progress: Progress | None = None) -> Dataset:
    """FSDD features (cached when ``cfg.cache``)."""
    rec = find_recordings(cfg.path)
    files, skipped = official_split(list(rec.glob("*.wav")), seed)
    sizes = subset_sizes(cfg)
    chosen = {s: [fs[i] for i in subset_indices(len(fs), sizes[s], seed, s)] for s, fs in files.items()}
    all_files = [f for fs in chosen.values() for f in fs]
    hop = cfg.hop_samples or HOP_SAMPLES
    key = cache_key("fsdd", file_fingerprints(all_files), dict(FEATURE_PARAMS, hop=hop), seed)
    cached = cache_dir() / f"fsdd-{key}.npz"
    if cfg.cache and cached.exists():
        return read_dataset(cached)
    splits = {}
    for s, fs in chosen.items():
        clips = [Clip(f.name, int(f.name[0]), partial(read_wav, f)) for f in fs]
        splits[s], bad = extract_split(clips, seed, f"fsdd {s}", progress, hop)
        skipped += bad
    ds = Dataset(name="fsdd", n_classes=10, class_names=CLASS_NAMES, splits=splits,
                 synthetic=False, source=str(rec), skipped=skipped)
    if cfg.cache:
        save_dataset(cached, ds)
    return ds
