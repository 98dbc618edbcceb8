"""The mel filterbank is librosa's Slaney filterbank, checked against hand formulas."""

import math

import numpy as np

from s2sim.data.features import hz_to_mel, mel_filterbank, mel_to_hz

SR, N_FFT, N_MELS, FMIN, FMAX = 16000, 480, 40, 20.0, 4000.0


def slaney_mel(f: float) -> float:
    """Scalar Slaney mel, written out independently of the vectorised code."""
    return f / (200 / 3) if f < 1000 else 15 + math.log(f / 1000) * 27 / math.log(6.4)


def slaney_hz(m: float) -> float:
    return m * 200 / 3 if m < 15 else 1000 * math.exp((m - 15) * math.log(6.4) / 27)


def test_slaney_scale_known_points():
    assert hz_to_mel(1000.0) == np.float64(15.0) or abs(hz_to_mel(1000.0) - 15.0) < 1e-12
    assert abs(hz_to_mel(500.0) - 7.5) < 1e-12          # linear part: 200/3 Hz per mel
    assert abs(hz_to_mel(20.0) - 0.3) < 1e-12
    assert abs(hz_to_mel(4000.0) - (15 + 27 * math.log(4) / math.log(6.4))) < 1e-12  # 35.1638
    assert abs(hz_to_mel(6400.0) - 42.0) < 1e-12         # one log-step decade: 6.4x over 27 mels
    f = np.array([0, 20, 999, 1000, 1001, 3000, 8000.0])
    assert np.allclose(mel_to_hz(hz_to_mel(f)), f)


def _edges_hz() -> list[float]:
    lo, hi = slaney_mel(FMIN), slaney_mel(FMAX)
    return [slaney_hz(lo + (hi - lo) * i / (N_MELS + 1)) for i in range(N_MELS + 2)]


def test_shape_dtype_and_hand_computed_values():
    w = mel_filterbank(SR, N_FFT, N_MELS, FMIN, FMAX)
    assert w.shape == (40, 241) and w.dtype == np.float32
    e = _edges_hz()
    for i, k in [(0, 1), (0, 2), (10, 14), (25, 40), (39, 115), (39, 119)]:
        f = k * SR / N_FFT
        tri = max(0.0, min((f - e[i]) / (e[i + 1] - e[i]), (e[i + 2] - f) / (e[i + 2] - e[i + 1])))
        assert abs(w[i, k] - tri * 2 / (e[i + 2] - e[i])) < 1e-7, (i, k)
    assert w[:, 121:].max() == 0  # nothing above fmax (4 kHz = bin 120)


def test_rows_peak_at_their_centre_frequency():
    w = mel_filterbank(SR, N_FFT, N_MELS, FMIN, FMAX)
    centres_bin = np.array(_edges_hz()[1:-1]) * N_FFT / SR
    assert np.all(np.abs(w.argmax(axis=1) - centres_bin) <= 1.0)
    assert np.all(np.diff(w.argmax(axis=1)) >= 0)  # centres increase with band index


def test_slaney_area_normalisation():
    """Each triangle's height is 2/(f_hi - f_lo), so its area is 1 (constant energy per band)."""
    w = mel_filterbank(SR, N_FFT, N_MELS, FMIN, FMAX).astype(np.float64)
    e = np.array(_edges_hz())
    assert np.all(w.max(axis=1) <= 2 / (e[2:] - e[:-2]) + 1e-9)
    bin_hz = SR / N_FFT
    area = w.sum(axis=1) * bin_hz
    assert np.allclose(area[15:], 1.0, atol=0.03)  # wide (>3 bins) filters are well sampled
