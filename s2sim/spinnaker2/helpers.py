"""py-spinnaker2's ``helpers`` functions that scripts use, written from their documented behaviour.

Sources (public copies of py-spinnaker2's ``helpers.py`` and example scripts): a dense weight matrix
is ``[pre, post]``; ``connection_list_from_dense_weights`` lists every entry, zeros included, as
``[pre, post, weight, delay]`` in row-major order; ``scale_and_convert_weights_to_int8`` scales by
``127 / max|w|`` and converts to int8 (truncating towards zero, as numpy's cast does);
``spike_times_dict_to_arrays`` turns ``{neuron: [times]}`` into the ``(indices, times)`` pair scripts
plot with ``plt.plot(times, indices, "|")``.
"""
from __future__ import annotations

import numpy as np

from .errors import SpiNNaker2Error

__all__ = ["spike_times_dict_to_arrays", "connection_list_from_dense_weights",
           "scale_and_convert_weights_to_int8", "reorder_dense_weights_after_conv2d"]


def spike_times_dict_to_arrays(spike_times: dict) -> tuple[np.ndarray, np.ndarray]:
    """``{neuron: [t0, t1, ...]}`` -> (neuron index per spike, time per spike), neuron by neuron."""
    indices = [np.full(len(times), int(neuron), np.int64) for neuron, times in spike_times.items()]
    times = [np.asarray(list(times), np.int64) for times in spike_times.values()]
    if not indices:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(indices), np.concatenate(times)


def connection_list_from_dense_weights(dense_weights, delay) -> list[list]:
    """Every entry of ``dense_weights`` [pre, post] as ``[pre, post, weight, delay]`` (zeros too: each
    is a synapse on the chip)."""
    w = np.asarray(dense_weights)
    if w.ndim != 2:
        raise SpiNNaker2Error(f"helpers.connection_list_from_dense_weights: weights must be 2-D [pre, post], "
                              f"got shape {w.shape}")
    pre, post = np.meshgrid(np.arange(w.shape[0]), np.arange(w.shape[1]), indexing="ij")
    return [[int(i), int(j), x, delay] for i, j, x in zip(pre.ravel(), post.ravel(), w.ravel().tolist())]


def scale_and_convert_weights_to_int8(weights) -> np.ndarray:
    """``weights * 127 / max|weights|`` as int8 (so the largest magnitude becomes 127)."""
    w = np.asarray(weights, np.float64)
    top = np.abs(w).max() if w.size else 0.0
    if top == 0:
        raise SpiNNaker2Error("helpers.scale_and_convert_weights_to_int8: all weights are zero; nothing to scale")
    return (w * (127.0 / top)).astype(np.int8)


def reorder_dense_weights_after_conv2d(dense_weights, channels: int, height: int, width: int) -> np.ndarray:
    """Rows of a dense layer that follows a conv2d reordered from TensorFlow's HWC flattening to CHW."""
    w = np.asarray(dense_weights)
    if w.shape[0] != channels * height * width:
        raise SpiNNaker2Error(f"helpers.reorder_dense_weights_after_conv2d: {w.shape[0]} rows but "
                              f"{channels}x{height}x{width} = {channels * height * width} inputs")
    order = np.moveaxis(np.arange(w.shape[0]).reshape(height, width, channels), -1, 0).ravel()
    return w[order, :]
