"""Robust wav reading: a bad file is a reason string, never a crash."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np


def read_wav(path: Path) -> tuple[np.ndarray, int] | str:
    """``(samples, rate_hz)`` or a one-line reason why the file cannot be used."""
    from scipy.io import wavfile  # imported on first use: scipy takes seconds to import
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            rate_hz, audio = wavfile.read(path)
    except Exception as exc:  # scipy raises ValueError, EOFError, struct.error, ...
        return f"unreadable wav: {type(exc).__name__}: {exc}".splitlines()[0]
    audio = np.asarray(audio)
    if audio.size == 0:
        return "empty wav (no samples)"
    if audio.ndim > 2:
        return f"unexpected wav array shape {audio.shape}"
    if rate_hz <= 0:
        return f"bad sample rate {rate_hz}"
    if audio.dtype.kind == "u":  # 8-bit PCM is unsigned, centred at 128
        audio = audio.astype(np.int16) - 128
    if audio.dtype.kind == "f" and not np.all(np.isfinite(audio)):
        return "non-finite samples"
    return audio, int(rate_hz)
