"""py-spinnaker2's ``snn`` module: ``Population``, ``Projection``, ``Network``.

Same names, arguments and recordables as py-spinnaker2 (gitlab.com/spinnaker2/py-spinnaker2), so a
script runs with only its import changed. Semantics of each neuron model: ``README.md`` in this
folder and ``firmware_models/spinnaker2_snn/firmware.py``. Anything s2sim cannot run the way the chip
does is a ``SpiNNaker2Error`` naming the model, parameter or projection.
"""
from __future__ import annotations

import sys
from typing import Iterable

import numpy as np

from .. import snn as s2snn
from .errors import SpiNNaker2Error

__all__ = ["Population", "Projection", "Network", "Conv2DProjection", "NEURON_MODELS"]

#: model -> (required params, optional params with defaults)
_LIF_OPTIONAL = {"i_offset": 0.0, "v_init": 0.0, "v_reset": 0.0, "reset": "reset_by_subtraction"}
NEURON_MODELS: dict[str, tuple[tuple[str, ...], dict]] = {
    "lif": (("threshold", "alpha_decay"), _LIF_OPTIONAL),
    "lif_no_delay": (("threshold", "alpha_decay"), _LIF_OPTIONAL),
    "lif_curr_exp": (("threshold", "alpha_decay", "exc_decay", "inh_decay"), _LIF_OPTIONAL | {"t_refrac": 0}),
    "lif_curr_exp_no_delay": (("threshold", "alpha_decay", "exc_decay", "inh_decay"),
                              _LIF_OPTIONAL | {"t_refrac": 0}),
}
RESETS = ("reset_by_subtraction", "reset_to_v_reset")
#: Synapse weights are integers on the chip. ``lif``/``lif_curr_exp``: [-15, 15] (py-spinnaker2
#: examples/snn/lif_neuron.py: "weight: integer in range [-15, 15]; delay: integer in range [0, 7].
#: Actual delay on the hardware is: delay+1"). ``_no_delay`` models: int8, [-127, 127] (py-spinnaker2
#: helpers.scale_and_convert_weights_to_int8 and the NIR converter's "maximum dynamic range [-127, 127]").
WEIGHT_RANGE = {"lif": 15, "lif_curr_exp": 15, "lif_no_delay": 127, "lif_curr_exp_no_delay": 127}
_said: set[str] = set()


def say_once(message: str) -> None:
    """A note printed once per process (an ignored argument, rounded weights, ignored delays)."""
    if message not in _said:
        _said.add(message)
        print(f"s2sim: {message}", file=sys.stderr)


class Population(s2snn.Population):
    """``size`` neurons of ``neuron_model`` (``spike_list`` or a model of ``NEURON_MODELS``);
    ``params`` may be replaced before the run (scripts set a ``spike_list``'s spikes late). The
    getters (``get_spikes``, ``get_voltages``, ``get_time_done_times``, ``get_n_packets``) are
    ``s2sim.snn``'s."""

    def __init__(self, size: int, neuron_model: str, params: dict | None = None, name: str | None = None,
                 record: Iterable[str] = ("spikes",)):
        self.size, self.neuron_model, self.params = int(size), neuron_model, params if params is not None else {}
        self.name = name or f"pop{next(s2snn._ids)}"
        self.record = list(record)
        self.max_atoms_per_core: int | None = None
        self._nir_node, self._results = None, {}
        if self.size < 1:
            raise SpiNNaker2Error(f"population '{self.name}': size {size} must be at least 1")
        if neuron_model != "spike_list" and neuron_model not in NEURON_MODELS:
            raise SpiNNaker2Error(
                f"population '{self.name}': neuron model '{neuron_model}' is not supported by s2sim (its semantics "
                f"are not established from public sources); supported: spike_list, {', '.join(NEURON_MODELS)}")
        bad = [r for r in self.record if r not in s2snn.RECORDABLES]
        if bad:
            raise SpiNNaker2Error(f"population '{self.name}': cannot record {bad}; expected any of "
                                  f"{list(s2snn.RECORDABLES)}")

    def set_max_atoms_per_core(self, n: int) -> None:
        """Neurons of this population per PE (py-spinnaker2's mapping knob)."""
        if int(n) < 1:
            raise SpiNNaker2Error(f"population '{self.name}': set_max_atoms_per_core({n}) must be at least 1")
        self.max_atoms_per_core = int(n)

    def get_voltages(self) -> dict[int, np.ndarray]:
        """Each neuron's membrane voltage after every tick (after the reset), one float per tick."""
        return {i: np.asarray(v, np.float32) for i, v in self._get("v").items()}

    # ---- what the chip runs -----------------------------------------------------------------
    def spike_raster(self, timesteps: int) -> np.ndarray:
        """A ``spike_list``'s spikes as a bool raster [timesteps, size] (later spikes are never sent)."""
        if not isinstance(self.params, dict):
            raise SpiNNaker2Error(f"population '{self.name}': spike_list params must be {{neuron: [times]}}, got "
                                  f"{type(self.params).__name__}")
        raster = np.zeros((timesteps, self.size), bool)
        for neuron, times in self.params.items():
            if not 0 <= int(neuron) < self.size:
                raise SpiNNaker2Error(f"population '{self.name}': spike_list neuron {neuron} outside "
                                      f"0..{self.size - 1}")
            t = np.asarray(list(times), np.int64)
            raster[t[(t >= 0) & (t < timesteps)], int(neuron)] = True
        return raster

    def neuron_params(self) -> tuple[dict[str, np.ndarray], bool]:
        """Per-neuron float32 vectors of the model's parameters, and whether it resets by subtraction."""
        required, optional = NEURON_MODELS[self.neuron_model]
        given = dict(self.params)
        missing = [k for k in required if k not in given]
        if missing:
            raise SpiNNaker2Error(f"population '{self.name}' ({self.neuron_model}): params {missing} missing (s2sim "
                                  "needs them: py-spinnaker2's defaults are not documented in public sources)")
        unknown = sorted(set(given) - set(required) - set(optional))
        if unknown:
            raise SpiNNaker2Error(f"population '{self.name}' ({self.neuron_model}): unsupported params {unknown}; "
                                  f"expected {list(required) + list(optional)}")
        p = optional | given
        if p["reset"] not in RESETS:
            raise SpiNNaker2Error(f"population '{self.name}': reset {p['reset']!r}; expected one of {list(RESETS)}")
        if "t_refrac" in p and np.any(np.asarray(p["t_refrac"]) != 0):
            raise SpiNNaker2Error(f"population '{self.name}' ({self.neuron_model}): t_refrac > 0 is not supported "
                                  "(the refractory semantics are not established from public sources); use 0")
        out = {}
        for key in [k for k in list(required) + list(optional) if k not in ("reset", "t_refrac")]:
            try:
                v = np.broadcast_to(np.asarray(p[key], np.float64).reshape(-1), (self.size,)).astype(np.float32)
            except (ValueError, TypeError):
                raise SpiNNaker2Error(f"population '{self.name}': param '{key}' must be a number or {self.size} "
                                      f"numbers, got {np.shape(p[key])}") from None
            if not np.isfinite(v).all():
                raise SpiNNaker2Error(f"population '{self.name}': param '{key}' holds NaN or infinite values")
            out[key] = v
        return out, p["reset"] == "reset_by_subtraction"


class Projection:
    """Synapses ``pre -> post`` from ``connections = [[pre, post, weight, delay], ...]``.

    Weights become the integers the chip stores (rounded; out-of-range is an error, see
    ``WEIGHT_RANGE``); delays are integers 0..7 for ``lif``/``lif_curr_exp`` (arriving delay + 1 ticks
    later) and ignored by the ``_no_delay`` models (which add one tick)."""

    def __init__(self, pre: Population, post: Population, connections, name: str | None = None):
        self.pre, self.post, self.name = pre, post, name or f"{pre.name}->{post.name}"
        if not isinstance(pre, Population) or not isinstance(post, Population):
            raise SpiNNaker2Error(f"projection '{self.name}': pre and post must be snn.Population objects")
        if post.neuron_model == "spike_list":
            raise SpiNNaker2Error(f"projection '{self.name}': a spike_list population takes no input")
        conns = np.asarray(connections, np.float64) if len(connections) else np.zeros((0, 4))
        if conns.ndim != 2 or conns.shape[1] != 4:
            raise SpiNNaker2Error(f"projection '{self.name}': connections must be [[pre, post, weight, delay], ...], "
                                  f"got shape {np.shape(connections)}")
        if not np.isfinite(conns).all():
            raise SpiNNaker2Error(f"projection '{self.name}': connections hold NaN or infinite values")
        self.pre_idx, self.post_idx = conns[:, 0].astype(np.int64), conns[:, 1].astype(np.int64)
        if np.any((self.pre_idx < 0) | (self.pre_idx >= pre.size)) or np.any((self.post_idx < 0) |
                                                                              (self.post_idx >= post.size)):
            raise SpiNNaker2Error(f"projection '{self.name}': a connection names a neuron outside {pre.name} "
                                  f"(0..{pre.size - 1}) or {post.name} (0..{post.size - 1})")
        self.weight = self._weights(conns[:, 2])
        self.delay = self._delays(conns[:, 3])

    def _weights(self, w: np.ndarray) -> np.ndarray:
        model, top = self.post.neuron_model, WEIGHT_RANGE[self.post.neuron_model]
        q = np.rint(w)
        if np.any(np.abs(q) > top):
            raise SpiNNaker2Error(f"projection '{self.name}': weights into {model} must be integers in [-{top}, {top}]"
                                  f" (the chip's synapse word), got {w.min():g}..{w.max():g}; scale them "
                                  "(helpers.scale_and_convert_weights_to_int8) and the threshold")
        if np.any(q != w):
            say_once(f"projection '{self.name}': {int(np.sum(q != w))} non-integer weights rounded to the nearest "
                     f"integer (the chip stores {model} weights as integers in [-{top}, {top}])")
        return q.astype(np.float32)

    def _delays(self, d: np.ndarray) -> np.ndarray:
        model = self.post.neuron_model
        if model.endswith("_no_delay"):
            if np.any(d != 0):
                say_once(f"projection '{self.name}': delays ignored: {model} has no synaptic delay (spikes arrive "
                         "one tick after they are sent)")
            return np.zeros(len(d), np.int32)
        if np.any((d != np.rint(d)) | (d < 0) | (d > 7)):
            raise SpiNNaker2Error(f"projection '{self.name}': delays into {model} must be integers 0..7 (the chip "
                                  f"adds one: a spike arrives delay + 1 ticks later), got {d.min():g}..{d.max():g}")
        return d.astype(np.int32)


class Conv2DProjection:
    """py-spinnaker2's convolution projection (MLA conv2d): not modelled."""

    def __init__(self, *args, **kwargs):
        raise SpiNNaker2Error("snn.Conv2DProjection is not supported by s2sim (the MLA convolution path is not "
                              "modelled); use snn.Projection with a connection list")


class Network(s2snn.Network):
    """Populations and projections (``add``, ``population`` are ``s2sim.snn.Network``'s)."""

    def add(self, *items) -> None:
        for item in items:
            if not isinstance(item, (Population, Projection)):
                raise SpiNNaker2Error(f"network '{self.name}': cannot add {type(item).__name__}; expected "
                                      "s2sim.spinnaker2.snn.Population or Projection")
        super().add(*items)
