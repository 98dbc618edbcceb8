"""Content-keyed npz cache for extracted features.

Feature extraction over tens of thousands of clips is the slow part of a run; the
key covers everything that changes the result (files with size+mtime, feature
parameters, seed), so a stale cache is never read. Writes are atomic (temp file
+ rename): an interrupted run leaves either the old state or a complete file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .dataset import SPLIT_NAMES, Dataset, DatasetError, Split


def cache_dir() -> Path:
    """``$S2SIM_CACHE`` or ``~/.cache/s2sim``."""
    return Path(os.environ.get("S2SIM_CACHE") or Path.home() / ".cache" / "s2sim")


def file_fingerprints(paths: Iterable[Path]) -> list[tuple[str, int, int]]:
    """(path, size_bytes, mtime_ns) for each existing file; cheap stand-in for content hashes."""
    out = []
    for p in paths:
        st = Path(p).stat()
        out.append((str(p), st.st_size, st.st_mtime_ns))
    return out


def cache_key(name: str, files: list[tuple[str, int, int]], params: dict[str, Any], seed: int) -> str:
    """Short hex digest of everything that determines a cached dataset."""
    blob = json.dumps([name, files, params, seed], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def atomic_save_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to ``path`` via a temp file in the same folder + ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_headed_npz(path: Path, fmt: str, version: int, what: str) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and JSON header (``header_json``) of an npz written with format ``fmt`` version ``version``.

    Checkpoints of every app share this layout; a damaged file or one of another format or version is a
    one-line ``ValueError`` naming the file and ``what`` it should have been, and so is a float array
    holding NaN or Inf (a diverged or tampered run: resuming from it would train on nonsense and exit 0).
    """
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        header = json.loads(str(arrays["header_json"]))
    except Exception as exc:
        raise ValueError(f"{path}: not a readable {what} ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    if not isinstance(header, dict) or header.get("format") != fmt or header.get("version") != version:
        got = header if not isinstance(header, dict) else (header.get("format"), header.get("version"))
        raise ValueError(f"{path}: not a {what} of format {fmt!r} version {version} (found {got!r})")
    for key, arr in arrays.items():
        if arr.dtype.kind in "fc":
            bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
            if bad:
                raise ValueError(f"{path}: {what} array {key!r} holds {bad} non-finite value(s) (NaN/Inf): "
                                 "the run it was saved from diverged or the file was altered; not resuming from it")
    return arrays, header


def save_dataset(path: Path, ds: Dataset) -> Path:
    """Store a Dataset as a self-describing npz (readable by the ``npz`` loader too)."""
    arrays: dict[str, np.ndarray] = {}
    for split, data in ds.splits.items():
        arrays[f"x_{split}"] = data.X
        arrays[f"y_{split}"] = data.y
    meta = dict(name=ds.name, n_classes=ds.n_classes, class_names=ds.class_names,
                synthetic=ds.synthetic, source=ds.source, skipped=ds.skipped, note=ds.note)
    arrays["meta_json"] = np.array(json.dumps(meta))
    return atomic_save_npz(path, arrays)


def read_dataset(path: Path) -> Dataset:
    """Inverse of :func:`save_dataset`; a damaged or foreign file is a one-line DatasetError."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta_json"]))
            splits = {s: Split(z[f"x_{s}"], z[f"y_{s}"]) for s in SPLIT_NAMES if f"x_{s}" in z}
        ds = Dataset(name=str(meta["name"]), n_classes=int(meta["n_classes"]),
                     class_names=[str(c) for c in meta["class_names"]], splits=splits,
                     synthetic=bool(meta["synthetic"]), source=str(meta["source"]),
                     skipped=[(str(f), str(r)) for f, r in meta["skipped"]], note=str(meta.get("note", "")))
    except DatasetError:
        raise
    except Exception as exc:  # KeyError, ValueError, TypeError, BadZipFile, EOFError, ... on a damaged file
        raise DatasetError(f"{path}: not a readable s2sim dataset cache ({type(exc).__name__}: {exc})"
                           .splitlines()[0]) from None
    from .limits import check_class_count
    check_class_count(str(path), ds.n_classes)
    for name, split in splits.items():
        if len(split) and (split.y.min() < 0 or split.y.max() >= ds.n_classes):
            raise DatasetError(f"{path}: {name} labels outside 0..{ds.n_classes - 1}")
    return ds
