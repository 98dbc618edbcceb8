"""User-provided features in one ``.npz``.

Accepted layouts (arrays named case-sensitively):

* ``x`` or ``features`` float ``[N, T, F]`` + ``y`` or ``labels`` int ``[N]``, plus an optional
  ``split`` ``[N]`` of strings (train/valid/test; "validation"/"val" accepted) or ints (0/1/2).
  Without ``split`` a seeded 80/10/10 train/valid/test split is drawn.
* ``x_train``, ``y_train`` (required) and optionally ``x_valid``/``x_val``, ``x_test`` with their ``y_*``.

Optional ``class_names`` [C] of strings sets ``n_classes``; otherwise it is ``max(y) + 1``.
Files written by the s2sim cache (with ``meta_json``) are read with their metadata.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .dataset import SPLIT_NAMES, Dataset, DatasetConfig, DatasetError, Split, apply_subsets, split_rng
from .limits import check_class_count

_SPLIT_ALIASES = {"train": "train", "valid": "valid", "validation": "valid", "val": "valid", "test": "test"}
NO_SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


def _first(z: dict[str, np.ndarray], *names: str) -> tuple[str, np.ndarray] | None:
    for n in names:
        if n in z:
            return n, z[n]
    return None


def _check_pair(path: Path, xname: str, x: np.ndarray, yname: str, y: np.ndarray) -> Split:
    if x.dtype.kind != "f":
        raise DatasetError(f"{path}: array '{xname}' must be float [N,T,F], got dtype {x.dtype}")
    if x.ndim != 3:
        raise DatasetError(f"{path}: array '{xname}' must be 3-D [N,T,F], got shape {x.shape}")
    if y.dtype.kind not in "iu":
        raise DatasetError(f"{path}: array '{yname}' must be integer labels [N], got dtype {y.dtype}")
    if y.shape != (x.shape[0],):
        raise DatasetError(f"{path}: array '{yname}' must have shape ({x.shape[0]},) to match "
                           f"'{xname}', got {y.shape}")
    if y.size and y.min() < 0:
        raise DatasetError(f"{path}: array '{yname}' has negative labels")
    return Split(x, y)


def _split_codes(path: Path, split: np.ndarray, n: int) -> np.ndarray:
    """``split`` array -> index into SPLIT_NAMES."""
    if split.shape != (n,):
        raise DatasetError(f"{path}: array 'split' must have shape ({n},), got {split.shape}")
    if split.dtype.kind in "iu":
        if split.size and (split.min() < 0 or split.max() > 2):
            raise DatasetError(f"{path}: array 'split' ints must be 0 train, 1 valid, 2 test")
        return split.astype(int)
    if split.dtype.kind in "US":
        names = np.char.lower(split.astype(str))
        bad = sorted(set(names.tolist()) - set(_SPLIT_ALIASES))
        if bad:
            raise DatasetError(f"{path}: array 'split' has unknown values {bad[:3]}; "
                               "expected train/valid/test")
        return np.array([SPLIT_NAMES.index(_SPLIT_ALIASES[s]) for s in names], dtype=int)
    raise DatasetError(f"{path}: array 'split' must be strings or ints, got dtype {split.dtype}")


def read_npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz; a non-zip, truncated or pickled file is a one-line DatasetError."""
    try:
        with np.load(path, allow_pickle=False) as f:
            if not hasattr(f, "files"):
                raise DatasetError(f"{path}: a single .npy array, not an .npz archive of named arrays")
            return {k: f[k] for k in f.files}
    except DatasetError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc):  # numpy's message when the bytes are not an archive at all
            raise DatasetError(f"{path}: not an .npz archive (not a zip file, or it holds object arrays)") from None
        raise DatasetError(f"{path}: not a readable .npz ({exc})".splitlines()[0]) from None
    except Exception as exc:  # BadZipFile, EOFError, OSError, zlib.error, ... on damaged files
        raise DatasetError(f"{path}: not a readable .npz, damaged or truncated "
                           f"({type(exc).__name__}: {exc})".splitlines()[0]) from None


def read_npz_splits(path: Path, seed: int) -> dict[str, Split]:
    """Parse any accepted layout into splits (errors name the offending array)."""
    z = read_npz_arrays(path)
    if "x_train" in z:
        splits = {}
        for split, xs in (("train", ("x_train",)), ("valid", ("x_valid", "x_val")), ("test", ("x_test",))):
            got = _first(z, *xs)
            if got is None:
                continue
            yname = "y_" + got[0][2:]
            if yname not in z:
                raise DatasetError(f"{path}: array '{got[0]}' has no matching '{yname}'")
            splits[split] = _check_pair(path, got[0], got[1], yname, z[yname])
        return splits
    xs, ys = _first(z, "x", "features"), _first(z, "y", "labels")
    if xs is None or ys is None:
        raise DatasetError(f"{path}: expected arrays 'x' (or 'features') and 'y' (or 'labels'), "
                           f"or 'x_train'/'y_train'; found {sorted(z)}")
    full = _check_pair(path, *xs, *ys)
    n = len(full)
    if "split" in z:
        codes = _split_codes(path, z["split"], n)
    else:
        order = split_rng(seed, "npz", "split").permutation(n)
        codes = np.empty(n, dtype=int)
        cuts = np.cumsum([round(f * n) for f in NO_SPLIT_FRACTIONS[:2]])
        codes[order[:cuts[0]]], codes[order[cuts[0]:cuts[1]]], codes[order[cuts[1]:]] = 0, 1, 2
    return {s: Split(full.X[codes == i], full.y[codes == i]) for i, s in enumerate(SPLIT_NAMES)
            if np.any(codes == i)}


def load_npz(cfg: DatasetConfig, seed: int) -> Dataset:
    """Dataset from ``cfg.path`` (a .npz file)."""
    if not cfg.path:
        raise DatasetError("dataset.path must name an .npz file for name: npz")
    path = Path(cfg.path).expanduser()
    if not path.is_file():
        raise DatasetError(f"{path}: .npz file not found")
    z = read_npz_arrays(path)
    has_meta = "meta_json" in z
    names = z["class_names"].astype(str).tolist() if "class_names" in z else None
    if has_meta:
        from .cache import read_dataset
        return apply_subsets(read_dataset(path), cfg, seed)
    splits = read_npz_splits(path, seed)
    if "train" not in splits:
        raise DatasetError(f"{path}: no training samples (need x_train, or split entries 'train')")
    shapes = {s.X.shape[1:] for s in splits.values()}
    if len(shapes) > 1:
        raise DatasetError(f"{path}: splits disagree on [T,F]: {sorted(shapes)}")
    if not len(splits["train"]):
        raise DatasetError(f"{path}: the training split is empty")
    y_max = max(int(s.y.max()) for s in splits.values() if len(s))
    n_classes = len(names) if names else y_max + 1
    check_class_count(str(path), y_max + 1)
    if y_max >= n_classes:
        raise DatasetError(f"{path}: label {y_max} >= len(class_names) = {n_classes}")
    ds = Dataset(name=path.stem, n_classes=n_classes, class_names=names or [str(c) for c in range(n_classes)],
                 splits=splits, synthetic=False, source=str(path))
    return apply_subsets(ds, cfg, seed)
