"""Turn a list of audio clips into a feature split, skipping (not crashing on) bad files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .dataset import Progress, Split, split_rng
from .features import HOP_SAMPLES, N_FEATURES, clip_features, n_frames

#: Returns ``(samples, rate_hz)`` or a reason string when the clip is unusable.
AudioReader = Callable[[], "tuple[np.ndarray, int] | str"]


@dataclass(frozen=True)
class Clip:
    """One clip to featurise. ``key`` (e.g. the relative path) seeds its pad/crop offset,
    so a clip's features do not depend on which subset or order it was loaded in."""

    key: str
    label: int
    read: AudioReader


def extract_split(clips: list[Clip], seed: int, what: str, progress: Progress | None = None,
                  hop_samples: int = HOP_SAMPLES) -> tuple[Split, list[tuple[str, str]]]:
    """Features for ``clips`` -> (Split, skipped [(key, reason)])."""
    X = np.empty((len(clips), n_frames(hop_samples), N_FEATURES), dtype=np.float32)
    y = np.empty(len(clips), dtype=np.int64)
    skipped: list[tuple[str, str]] = []
    n_ok = 0
    for i, clip in enumerate(clips):
        got = clip.read()
        if isinstance(got, str):
            skipped.append((clip.key, got))
        else:
            audio, rate_hz = got
            X[n_ok] = clip_features(audio, rate_hz, split_rng(seed, "clip", clip.key), hop_samples)
            y[n_ok] = clip.label
            n_ok += 1
        if progress is not None and ((i + 1) % 100 == 0 or i + 1 == len(clips)):
            progress(i + 1, len(clips), what)
    return Split(X[:n_ok], y[:n_ok]), skipped
