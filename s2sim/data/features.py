"""Per-clip GSC preprocessing (spec eprop_gsc.md §5), numpy/scipy only.

Reproduces librosa 0.8.1 ``melspectrogram`` defaults (Slaney mel scale and area
normalisation, periodic Hann, centred reflect-padded STFT, power 2) so features
match what the e-prop reference code trained on, without a librosa dependency.
"""

from __future__ import annotations

import numpy as np
from functools import lru_cache

SAMPLE_RATE_HZ = 16_000
CLIP_SAMPLES = 16_000
N_FFT = 480
HOP_SAMPLES = 161
N_MELS = 40
FMIN_HZ = 20.0
FMAX_HZ = 4000.0
DELTA_WIDTH = 9
N_FRAMES = 1 + CLIP_SAMPLES // HOP_SAMPLES  # 100
N_FEATURES = 2 * N_MELS  # 80: feature k = channel*40 + band

#: Everything that changes the features; part of every cache key.
FEATURE_PARAMS = dict(sr=SAMPLE_RATE_HZ, clip=CLIP_SAMPLES, n_fft=N_FFT, hop=HOP_SAMPLES,
                      n_mels=N_MELS, fmin=FMIN_HZ, fmax=FMAX_HZ, delta_width=DELTA_WIDTH,
                      version=1)

# Slaney mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
_F_SP_HZ = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP_HZ  # 15.0
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(freq_hz: np.ndarray | float) -> np.ndarray:
    """Slaney (Auditory Toolbox) mel scale, as librosa with htk=False."""
    f = np.asarray(freq_hz, dtype=np.float64)
    linear = f / _F_SP_HZ
    log = _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, log, linear)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(mel, dtype=np.float64)
    linear = _F_SP_HZ * m
    log = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(m, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(m >= _MIN_LOG_MEL, log, linear)


def mel_filterbank(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular mel filters ``[n_mels, 1 + n_fft//2]`` like librosa.filters.mel(htk=False, norm='slaney').

    Slaney normalisation scales each triangle by 2/(f_hi - f_lo) so every filter
    has (approximately) unit area, i.e. constant energy per band.
    """
    fft_hz = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths_hz = np.diff(edges_hz)
    ramps = edges_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths_hz[:-1, None]
    upper = ramps[2:] / widths_hz[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return weights.astype(np.float32)  # librosa returns float32 weights


_MEL_BASIS = mel_filterbank(SAMPLE_RATE_HZ, N_FFT, N_MELS, FMIN_HZ, FMAX_HZ).astype(np.float64)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    """Periodic Hann, librosa's default (scipy is imported on first use: it takes seconds)."""
    from scipy.signal import get_window
    return get_window("hann", N_FFT, fftbins=True)


def n_frames(hop_samples: int = HOP_SAMPLES) -> int:
    """Frames (= time steps T) of a 1 s clip at this frame hop: 100 at the spec's 161 samples."""
    return 1 + CLIP_SAMPLES // hop_samples


def power_spectrogram(audio: np.ndarray, hop_samples: int = HOP_SAMPLES) -> np.ndarray:
    """|STFT|^2 ``[1 + n_fft//2, frames]``, centred with reflect padding (librosa 0.8 stft)."""
    padded = np.pad(np.asarray(audio, dtype=np.float64), N_FFT // 2, mode="reflect")
    n_frames = 1 + (len(padded) - N_FFT) // hop_samples
    starts = hop_samples * np.arange(n_frames)
    frames = padded[starts[:, None] + np.arange(N_FFT)[None, :]]
    spectrum = np.fft.rfft(frames * _window(), axis=-1)
    return (np.abs(spectrum) ** 2).T


def mel_power(audio: np.ndarray, hop_samples: int = HOP_SAMPLES) -> np.ndarray:
    """Mel power spectrogram ``[n_mels, frames]`` (librosa.feature.melspectrogram)."""
    return _MEL_BASIS @ power_spectrogram(audio, hop_samples)


def delta(feat: np.ndarray, axis: int = -1) -> np.ndarray:
    """First derivative along time, = librosa.feature.delta(width=9, order=1, mode='interp')."""
    from scipy.signal import savgol_filter
    return savgol_filter(feat, DELTA_WIDTH, polyorder=1, deriv=1, axis=axis, mode="interp")


def rescale_by_std(x: np.ndarray, axis: int) -> np.ndarray:
    """Divide by the std along ``axis`` (zero std -> 1); no mean subtraction, as gsc.py Rescale."""
    std = x.std(axis=axis, keepdims=True)
    return x / np.where(std == 0.0, 1.0, std)


def stack_deltas(feat_bt: np.ndarray) -> np.ndarray:
    """``[bands, T]`` log-mel -> rescaled ``[T, 2*bands]`` float32 with feature k = ch*bands + band."""
    stacked = np.stack([feat_bt, delta(feat_bt)])  # [ch, band, T]
    stacked = rescale_by_std(stacked, axis=-1)
    n_ch, n_band, n_t = stacked.shape
    return np.ascontiguousarray(stacked.transpose(2, 0, 1).reshape(n_t, n_ch * n_band), dtype=np.float32)


def to_16k(audio: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Mono float64 at 16 kHz; polyphase resampling keeps e.g. FSDD's 8 kHz exact (x2)."""
    x = np.asarray(audio, dtype=np.float64)
    if x.ndim == 2:  # (samples, channels) as scipy.io.wavfile returns it
        x = x.mean(axis=1)
    if sample_rate_hz == SAMPLE_RATE_HZ:
        return x
    g = np.gcd(int(sample_rate_hz), SAMPLE_RATE_HZ)
    from scipy.signal import resample_poly
    return resample_poly(x, SAMPLE_RATE_HZ // g, int(sample_rate_hz) // g)


def fit_length(audio: np.ndarray, rng: np.random.Generator, n_samples: int = CLIP_SAMPLES) -> np.ndarray:
    """Zero-pad or crop to ``n_samples`` at a random offset (gen.py does both at random)."""
    n = len(audio)
    if n == n_samples:
        return audio
    if n < n_samples:
        out = np.zeros(n_samples, dtype=audio.dtype)
        offset = int(rng.integers(0, n_samples - n + 1))
        out[offset:offset + n] = audio
        return out
    offset = int(rng.integers(0, n - n_samples + 1))
    return audio[offset:offset + n_samples]


def clip_features(audio: np.ndarray, sample_rate_hz: int, rng: np.random.Generator,
                  hop_samples: int = HOP_SAMPLES) -> np.ndarray:
    """One clip -> float32 ``[n_frames(hop_samples), 80]`` features (spec §5 steps 1-7; [100, 80]).

    ``rng`` only chooses the pad/crop offset, so the result is deterministic for a
    given generator state. A silent clip yields all-zero features instead of NaNs.
    ``hop_samples`` (16 kHz samples between frames) sets T: the time-step study changes it;
    the 30 ms window and the 9-frame delta stay as the spec has them.
    """
    x = fit_length(to_16k(audio, sample_rate_hz), rng)
    peak = np.max(np.abs(x))
    if peak > 0:
        x = x / peak
    mel = mel_power(x, hop_samples)
    mel_peak = mel.max()
    feat = np.log1p(mel / mel_peak) if mel_peak > 0 else np.zeros_like(mel)
    return stack_deltas(feat)
