"""Datasets for e-prop keyword spotting: GSC, FSDD, user npz, and an embedded synthetic set.

``load_dataset(cfg, seed)`` is the one entry point; see README.md in this folder.
"""

from .dataset import Dataset, DatasetConfig, DatasetError, Split, load_dataset
from .features import clip_features, delta, mel_filterbank
from .gsc import prepare_gsc

__all__ = ["Dataset", "DatasetConfig", "DatasetError", "Split", "load_dataset",
           "clip_features", "delta", "mel_filterbank", "prepare_gsc"]
