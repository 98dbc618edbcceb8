"""Shared fixtures: every test gets its own cache dir, so nothing touches ~/.cache."""

from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile



@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("S2SIM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("S2SIM_FSDD", raising=False)
    monkeypatch.delenv("S2SIM_GSC", raising=False)


@pytest.fixture
def write_tone():
    """The tone writer below, as a fixture (test dirs are not packages, so no imports)."""
    return _write_tone


def _write_tone(path: Path, freq_hz: float, n_samples: int, rate_hz: int = 16000, seed: int = 0) -> Path:
    """An int16 tone with a little noise: a stand-in for a spoken word."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / rate_hz
    x = 0.5 * np.sin(2 * np.pi * freq_hz * t) + 0.05 * rng.standard_normal(n_samples)
    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(path, rate_hz, (x * 20000).astype(np.int16))
    return path
