"""Yin-Yang data set and its latency spike encoding (spec eventprop_yinyang.md §3.1, §1.3).

The generator follows Kriener's ``YinYangDataset`` call for call (legacy
``np.random.RandomState``; ``goal = rng.randint(3)`` then rejection sampling with
``rng.rand(2) * 2R``), so the same seeds give the same samples as the published
splits and as the off-chip EventProp code. Geometry is evaluated in float64
because that is what the reference generator does (a float32 class test could
flip points lying on a boundary); the returned features are float32.

The encoding turns each feature into one integer spike step (what the chip's
injector core sends) plus a bias neuron that always fires at step 0.
"""

from __future__ import annotations

import numpy as np

R_SMALL = 0.1
R_BIG = 0.5
N_INPUTS = 5  # x, y, 1-x, 1-y, bias
SPLITS = {"train": (5000, 42), "valid": (1000, 41), "test": (1000, 40)}

CLASS_YIN, CLASS_YANG, CLASS_DOT = 0, 1, 2


def which_class(x: float, y: float, r_small: float = R_SMALL, r_big: float = R_BIG) -> int:
    """Class of one point, the reference's rule verbatim (dots win, then ``int(is_yin)``).

    The reference names the classes ['yin', 'yang', 'dot'] but returns
    ``int(is_yin)``; the names are cosmetic, the integer is what matters.
    """
    d_right = float(np.hypot(x - 1.5 * r_big, y - r_big))
    d_left = float(np.hypot(x - 0.5 * r_big, y - r_big))
    if d_right < r_small or d_left < r_small:
        return CLASS_DOT
    crit1 = d_right <= r_small
    crit2 = r_small < d_left <= 0.5 * r_big
    crit3 = y > r_big and d_right > 0.5 * r_big
    return int(crit1 or crit2 or crit3)


def _draw_sample(rng: np.random.RandomState, goal: int, r_small: float,
                 r_big: float) -> tuple[float, float]:
    """Rejection-sample one point of class ``goal`` inside the big circle (reference order)."""
    while True:
        x, y = rng.rand(2) * 2.0 * r_big
        if np.sqrt((x - r_big) ** 2 + (y - r_big) ** 2) > r_big:
            continue
        if which_class(x, y, r_small, r_big) == goal:
            return float(x), float(y)


def yinyang(size: int, seed: int, r_small: float = R_SMALL,
            r_big: float = R_BIG) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``size`` samples: X float32 [N,4] = [x, y, 1-x, 1-y], labels int64 [N].

    Class balance comes from drawing the goal class first (``rng.randint(3)``),
    exactly as the reference does; changing that order would change every sample.
    """
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    rng = np.random.RandomState(seed)
    xs = np.empty((size, 4), dtype=np.float64)
    ys = np.empty(size, dtype=np.int64)
    for k in range(size):
        goal = int(rng.randint(3))
        x, y = _draw_sample(rng, goal, r_small, r_big)
        xs[k] = (x, y, 1.0 - x, 1.0 - y)
        ys[k] = goal
    return xs.astype(np.float32), ys


def yinyang_splits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Kriener's README splits: train 5000/seed 42, valid 1000/seed 41, test 1000/seed 40."""
    return {name: yinyang(size, seed) for name, (size, seed) in SPLITS.items()}


def _check_encoding(n_steps: int, t_min: int) -> None:
    """Reject encodings whose spike window is empty or starts before step 0."""
    if int(n_steps) != n_steps or int(t_min) != t_min:
        raise ValueError(f"T and t_min must be integers, got T={n_steps}, t_min={t_min}")
    if t_min < 0:
        raise ValueError(f"t_min must be >= 0, got t_min={t_min}")
    if n_steps <= t_min + 1:
        raise ValueError(f"T must be > t_min + 1 so the latency window is non-empty, "
                         f"got T={n_steps}, t_min={t_min}")


def latency_encode(X: np.ndarray, T: int = 27, t_min: int = 2) -> np.ndarray:
    """Spike step of each input: int64 [N, 5], features then the bias neuron (step 0).

    Linear latency code (snnTorch ``latency(linear, normalize)`` as used off-chip):
    t_i = round(t_min + (T-1-t_min)(1-x_i)); x < 0.01 is clamped to
    t_min + 0.99 (T-1-t_min) so near-zero features still spike inside the window.
    Arithmetic is float32 (the off-chip tensors are float32); ``np.round`` is
    half-to-even like ``torch.round``.
    """
    _check_encoding(T, t_min)
    x = np.asarray(X, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"X must be 2-D [N, features], got shape {x.shape}")
    span = np.float32(T - 1 - t_min)
    t = np.float32(t_min) + span * (np.float32(1.0) - x)
    t = np.where(x < np.float32(0.01), np.float32(t_min) + np.float32(0.99) * span, t)
    steps = np.round(t).astype(np.int64)
    bias = np.zeros((x.shape[0], 1), dtype=np.int64)
    return np.concatenate([steps, bias], axis=1)


def to_raster(times: np.ndarray, T: int) -> np.ndarray:
    """One-hot spike raster uint8 [N, T, n_in] from spike steps [N, n_in] (one spike each)."""
    times = np.asarray(times, dtype=np.int64)
    if times.size and (times.min() < 0 or times.max() >= T):
        raise ValueError(f"spike steps must lie in [0, T-1] = [0, {T - 1}], "
                         f"got [{times.min()}, {times.max()}]")
    n, n_in = times.shape
    raster = np.zeros((n, T, n_in), dtype=np.uint8)
    raster[np.arange(n)[:, None], times, np.arange(n_in)[None, :]] = 1
    return raster


def exclude_ambiguous(times: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Boolean keep-mask dropping samples whose integer input pattern is ambiguous 0<->1.

    Mirrors ``exclude_ambiguous_data`` of the off-chip code: a spike-step pattern
    that occurs with label 0 and with label 1 is forbidden, and *every* sample
    with that pattern is dropped (including a class-2 sample sharing it). Patterns
    shared only with the dot class are kept, as in the reference. Meant for the
    training split only: on a 27-step grid such cells cannot be learned (§3.4).
    """
    times = np.asarray(times)
    y = np.asarray(y)
    _, inverse = np.unique(times, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    n_pat = int(inverse.max()) + 1 if inverse.size else 0
    has0 = np.zeros(n_pat, dtype=bool)
    has1 = np.zeros(n_pat, dtype=bool)
    has0[inverse[y == CLASS_YIN]] = True
    has1[inverse[y == CLASS_YANG]] = True
    forbidden = has0 & has1
    return ~forbidden[inverse]
