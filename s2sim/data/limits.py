"""Size limits checked before a loader allocates: a typo (``n_train=1000000000``, a label of 2**40)
must be a one-line error, not minutes of swapping followed by the kernel's OOM killer."""
from __future__ import annotations

import os

from .dataset import DatasetError

#: more classes than any keyword/digit/task set; a label above it is a corrupt or foreign file
MAX_CLASSES = 65_536
#: used where the machine's memory cannot be read
FALLBACK_LIMIT_BYTES = 8 << 30


def memory_limit_bytes() -> int:
    """Half the machine's physical memory: what one dataset may take without starving the run."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return FALLBACK_LIMIT_BYTES


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:,.1f} GiB"


def check_sample_count(key: str, n_samples: int, bytes_per_sample: int) -> None:
    """Refuse ``n_samples`` whose generation would need more than :func:`memory_limit_bytes`."""
    need, limit = n_samples * bytes_per_sample, memory_limit_bytes()
    if need > limit:
        raise DatasetError(f"{key}={n_samples:,} would need about {_gib(need)} ({bytes_per_sample:,} bytes per "
                           f"sample); the limit is half this machine's memory ({_gib(limit)}): "
                           f"use at most {limit // bytes_per_sample:,}")


def check_class_count(where: str, n_classes: int) -> None:
    """Refuse a class count (from labels or metadata) no real task has."""
    if n_classes > MAX_CLASSES:
        raise DatasetError(f"{where}: labels imply {n_classes:,} classes (at most {MAX_CLASSES:,}); labels must "
                           "be 0..C-1")
