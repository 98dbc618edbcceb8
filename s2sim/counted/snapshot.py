"""Snapshot arrays that reuse the buffers of the window before (``save`` / ``release`` of the counted models).

A counted window snapshots the numerics state first (``save``), in case the loop stops inside it and the
ticks are rerun. Most windows commit, and their snapshot is never read: the engine hands it back
(``release``), and the next snapshot copies into its arrays instead of allocating new ones (a batch's
spike histories are megabytes). A snapshot nobody released is a value of its own, as before.
"""
from __future__ import annotations

import numpy as np


def snapshot_array(spare: dict, key, value: np.ndarray) -> np.ndarray:
    """A copy of ``value``: written into ``spare``'s array under ``key`` (taken out of it) when that has its
    shape and type, else a new one."""
    buf = spare.pop(key, None)
    if buf is not None and buf.shape == value.shape and buf.dtype == value.dtype:
        np.copyto(buf, value)
        return buf
    return value.copy()


def spare_arrays(saved: list[dict]) -> dict:
    """The arrays of a released snapshot (a list of per-object dicts), by (object, name)."""
    return {(i, name): value for i, d in enumerate(saved) for name, value in d.items()
            if isinstance(value, np.ndarray)}
