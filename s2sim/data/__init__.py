"""Datasets for e-prop keyword spotting: GSC, FSDD, user npz, and an embedded synthetic set.

``load_dataset(cfg, seed)`` is the one entry point; see README.md in this folder.
"""

from .dataset import Dataset, DatasetConfig, DatasetError, Split, load_dataset

# scipy (feature extraction) takes seconds to import: loaded on first use so `s2sim validate` stays fast
_LAZY = {"clip_features": ".features", "delta": ".features", "mel_filterbank": ".features",
         "prepare_gsc": ".gsc"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["Dataset", "DatasetConfig", "DatasetError", "Split", "load_dataset",
           "clip_features", "delta", "mel_filterbank", "prepare_gsc"]
