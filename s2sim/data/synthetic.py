"""Embedded keyword-like data: always available, learnable, not trivial.

Each of the 12 classes is a pair of parallel "formant" tracks sweeping across a
class-specific band range of the 40 mel bands. Classes come in 6 pairs that
share the band range and differ only in sweep direction (rising vs falling), so
time-averaged features barely separate a pair (a linear probe on the mean
spectrum is confused), while a network that sees the per-frame spectral
motion (channel 1 = deltas) can. Per-sample time shift, slope, band offset,
amplitude jitter and additive noise keep it from being a lookup table.
Features go through the same log1p / delta / per-(channel, band) std rescale as
real audio (features.py), giving float32 ``[N, 100, 80]``.
"""

from __future__ import annotations

import numpy as np

from .dataset import Dataset, DatasetConfig, Split, split_rng
from .features import N_FRAMES, N_MELS, delta, rescale_by_std
from .limits import check_sample_count

N_CLASSES = 12
DEFAULT_SIZES = {"train": 600, "valid": 120, "test": 240}
CLASS_NAMES = [f"kw{c}_{'up' if c % 2 == 0 else 'down'}" for c in range(N_CLASSES)]
_BAND_LOW = np.array([2, 7, 12, 17, 22, 27])  # sweep start per pair (rising direction)
_SWEEP_BANDS = 9.0        # bands covered by one sweep
_FORMANT_GAP_BANDS = 6.0  # distance between the two parallel tracks
_SWEEP_FRAMES = 50
_WIDTH_BANDS = 1.3
_NOISE_POWER = 0.25
#: peak working set of generating one sample: float64 [40, 100] power plus ~5 temporaries of that size
#: and its float32 features (tracemalloc peak of make_split(2000): 214 kB per sample)
PEAK_BYTES_PER_SAMPLE = 215_000


def synth_power(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mel-like power ``[N, bands, T]`` of two noisy sweeping tracks per sample."""
    n = len(labels)
    t = np.arange(N_FRAMES)[None, :]
    bands = np.arange(N_MELS)[None, :, None]
    onset = 25 + rng.integers(-12, 13, size=(n, 1))
    dur = _SWEEP_FRAMES * rng.uniform(0.8, 1.2, size=(n, 1))
    phase = np.clip((t - onset) / dur, 0.0, 1.0)           # 0 -> 1 across the sweep
    rising = (labels % 2 == 0)[:, None]
    phase = np.where(rising, phase, 1.0 - phase)
    start = _BAND_LOW[labels // 2][:, None] + rng.normal(0, 1.0, size=(n, 1))
    center = start + _SWEEP_BANDS * phase                  # [N, T]
    active = ((t >= onset) & (t <= onset + dur)).astype(float)
    power = np.zeros((n, N_MELS, N_FRAMES))
    for k in range(2):
        amp = rng.uniform(0.6, 1.4, size=(n, 1, 1)) * (1.0 if k == 0 else 0.6)
        c = (center + k * _FORMANT_GAP_BANDS)[:, None, :]
        power += amp * np.exp(-0.5 * ((bands - c) / _WIDTH_BANDS) ** 2) * active[:, None, :]
    power += _NOISE_POWER * rng.exponential(1.0, size=power.shape)  # chi-square-like power noise
    return power


def synth_features(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float32 ``[N, 100, 80]`` via the same log1p / delta / rescale as real clips."""
    power = synth_power(labels, rng)
    feat = np.log1p(power / power.max(axis=(1, 2), keepdims=True))
    stacked = rescale_by_std(np.stack([feat, delta(feat)], axis=1), axis=-1)  # [N, ch, band, T]
    n = len(labels)
    return np.ascontiguousarray(stacked.transpose(0, 3, 1, 2).reshape(n, N_FRAMES, 2 * N_MELS),
                                dtype=np.float32)


def make_split(n: int, seed: int, split: str) -> Split:
    """A balanced, shuffled split; deterministic for (seed, split, n)."""
    rng = split_rng(seed, "synthetic", split, str(n))
    labels = rng.permutation(np.arange(n) % N_CLASSES)
    return Split(synth_features(labels, rng), labels)


def load_synthetic(cfg: DatasetConfig | None, seed: int) -> Dataset:
    """The embedded dataset; ``n_train/n_valid/n_test`` override DEFAULT_SIZES."""
    wanted = {"train": cfg.n_train, "valid": cfg.n_valid, "test": cfg.n_test} if cfg else {}
    sizes = {s: (wanted.get(s) if wanted.get(s) is not None else d) for s, d in DEFAULT_SIZES.items()}
    for split, n in sizes.items():
        check_sample_count(f"dataset.n_{split}", n, PEAK_BYTES_PER_SAMPLE)
    splits = {s: make_split(n, seed, s) for s, n in sizes.items()}
    return Dataset(name="synthetic", n_classes=N_CLASSES, class_names=CLASS_NAMES, splits=splits,
                   synthetic=True, source="embedded generator s2sim/data/synthetic.py")
