"""clip_features: shape, determinism, random padding, per-(channel,band) rescale; delta = SG."""

import numpy as np

from s2sim.data.features import (clip_features, delta, fit_length, hz_to_mel, mel_power, mel_to_hz,
                                 to_16k)


def _short_tone(n=4000, freq_hz=700.0, rate_hz=16000):
    t = np.arange(n) / rate_hz
    return (10000 * np.sin(2 * np.pi * freq_hz * t) * np.hanning(n)).astype(np.int16)


def test_shape_dtype_and_determinism():
    x = _short_tone()
    a = clip_features(x, 16000, np.random.default_rng(3))
    b = clip_features(x, 16000, np.random.default_rng(3))
    assert a.shape == (100, 80) and a.dtype == np.float32
    assert np.array_equal(a, b)


def test_short_clip_lands_at_a_seed_dependent_offset():
    x = _short_tone()
    a = clip_features(x, 16000, np.random.default_rng(1))
    b = clip_features(x, 16000, np.random.default_rng(2))
    assert not np.allclose(a, b)
    # the energy peak (channel 0, summed over bands) moves with the offset
    off_a = fit_length(x.astype(float), np.random.default_rng(1)).nonzero()[0][0]
    off_b = fit_length(x.astype(float), np.random.default_rng(2)).nonzero()[0][0]
    assert off_a != off_b
    frame_a, frame_b = a[:, :40].sum(1).argmax(), b[:, :40].sum(1).argmax()
    assert abs((frame_b - frame_a) - (off_b - off_a) / 161) <= 2


def test_long_clip_is_cropped_and_8k_is_resampled():
    assert len(fit_length(np.ones(20000), np.random.default_rng(0))) == 16000
    t = np.arange(8000) / 8000
    x = (8000 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)  # 1 s at 8 kHz: no padding needed
    a = clip_features(x, 8000, np.random.default_rng(0))
    b = clip_features(x, 8000, np.random.default_rng(99))
    assert np.array_equal(a, b)
    up = to_16k(x, 8000)
    assert len(up) == 16000
    centres_hz = mel_to_hz(np.linspace(hz_to_mel(20), hz_to_mel(4000), 42))[1:-1]
    assert mel_power(up).mean(1).argmax() == np.abs(centres_hz - 1000).argmin()  # tone survives x2


def test_each_channel_band_has_unit_std_over_frames():
    f = clip_features(_short_tone(12000), 16000, np.random.default_rng(0))
    std = f.std(axis=0)
    assert np.all((np.abs(std - 1) < 1e-4) | (std == 0))
    assert (np.abs(std - 1) < 1e-4).sum() > 60


def test_silent_clip_gives_zeros_not_nans():
    f = clip_features(np.zeros(16000, np.int16), 16000, np.random.default_rng(0))
    assert np.all(f == 0)


def test_delta_of_a_ramp_is_its_slope_everywhere():
    t = np.arange(100.0)
    ramp = np.stack([0.3 * t + 1, -2.0 * t])
    d = delta(ramp)
    assert np.allclose(d[0], 0.3) and np.allclose(d[1], -2.0)


def test_delta_interior_matches_the_regression_formula():
    """librosa's width-9 delta = sum_k k*x[t+k] / sum_k k^2, k = -4..4 (HTK regression)."""
    x = np.random.default_rng(0).standard_normal(50)
    d = delta(x)
    k = np.arange(-4, 5)
    direct = np.array([(k * x[t + k]).sum() / (k ** 2).sum() for t in range(4, 46)])
    assert np.allclose(d[4:46], direct)
