"""An independent numpy loop over the py-spinnaker2 neuron equations (the tests' oracle).

Whole-network, tick by tick, with no PEs, packets or ring buffers: a spike of ``pre`` in tick ``t``
through a synapse of delay ``d`` is input in tick ``t + 1 + d`` (``_no_delay`` models: ``d = 0``).
float32 in the firmware's order, so spike times compare exactly.
"""
from __future__ import annotations

import numpy as np

F32 = np.float32


def run_reference(pops: dict, projs: list, ticks: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``pops``: name -> {"model", "n", "raster" (spike_list) or params}; ``projs``: (pre, post,
    [[i, j, w, d], ...]) with integer weights. Returns name -> (spikes [ticks, n] bool, v [ticks, n])."""
    spikes = {name: np.zeros((ticks, p["n"]), bool) for name, p in pops.items()}
    volts = {name: np.zeros((ticks, p["n"]), F32) for name, p in pops.items()}
    state = {}
    for name, p in pops.items():
        if p["model"] == "spike_list":
            spikes[name][:] = p["raster"][:ticks]
        else:
            state[name] = {"v": np.full(p["n"], p.get("v_init", 0.0), F32),
                           "exc": np.zeros(p["n"], F32), "inh": np.zeros(p["n"], F32)}
    order = [n for n, p in pops.items() if p["model"] != "spike_list"]
    for t in range(ticks):
        for name in order:
            p, s = pops[name], state[name]
            exc, inh = np.zeros(p["n"], F32), np.zeros(p["n"], F32)
            for pre, post, conns in projs:
                if post != name:
                    continue
                for i, j, w, d in conns:
                    d = 0 if p["model"].endswith("_no_delay") else int(d)
                    src = t - 1 - d
                    if src >= 0 and spikes[pre][src, int(i)]:
                        if w < 0 and "curr_exp" in p["model"]:
                            inh[int(j)] += F32(w)
                        else:
                            exc[int(j)] += F32(w)
            if "curr_exp" in p["model"]:
                s["exc"] = s["exc"] * F32(p["exc_decay"]) + exc
                s["inh"] = s["inh"] * F32(p["inh_decay"]) + inh
                drive = s["exc"] + s["inh"]
            else:
                drive = exc
            v = s["v"] * F32(p["alpha_decay"]) + drive + F32(p.get("i_offset", 0.0))
            fired = v > F32(p["threshold"])
            if p.get("reset", "reset_by_subtraction") == "reset_by_subtraction":
                v[fired] -= F32(p["threshold"])
            else:
                v[fired] = F32(p.get("v_reset", 0.0))
            s["v"] = v.astype(F32)
            spikes[name][t], volts[name][t] = fired, s["v"]
    return {name: (spikes[name], volts[name]) for name in pops}


def as_dict(raster: np.ndarray) -> dict[int, list[int]]:
    """A raster [ticks, n] as py-spinnaker2's get_spikes() dict."""
    return {i: np.flatnonzero(raster[:, i]).tolist() for i in range(raster.shape[1])}
