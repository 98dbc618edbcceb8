"""brian2 ground-truth run for test_eventprop_brian2.py, executed in a subprocess.

Reads JSON {w [n_out][n_in], spikes [[input, step], ...], tau_syn_ms, tau_mem_ms, T, dt_fine_ms}
on stdin, prints JSON {spike_i, spike_t_ms, I_grid [n_out][T]}.

Why a subprocess: brian2 2.9 (the newest release installable for Python 3.11) reads
``np.ndarray.ptp`` at import time, which NumPy >= 2.4 removed. The shim below
re-adds that one method on the ndarray type inside this throw-away interpreter
only, so the test process itself never runs with a patched NumPy.
"""

from __future__ import annotations

import ctypes
import gc
import json
import sys

import numpy as np


def _numpy24_shim() -> None:
    """Give ndarray back its ``ptp`` method (removed in NumPy 2.4) for brian2 <= 2.9."""
    if hasattr(np.ndarray, "ptp"):
        return
    gc.get_referents(np.ndarray.__dict__)[0]["ptp"] = lambda self, *a, **k: np.ptp(self, *a, **k)
    ctypes.pythonapi.PyType_Modified(ctypes.py_object(np.ndarray))


def run(cfg: dict) -> dict:
    """Exact-integration LIF layer; each input spike at coarse step k reaches I at k+1 ms."""
    _numpy24_shim()
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    b2.defaultclock.dt = cfg["dt_fine_ms"] * b2.ms
    w = np.asarray(cfg["w"], dtype=float)
    n_out, n_in = w.shape
    tau_syn, tau_mem = cfg["tau_syn_ms"] * b2.ms, cfg["tau_mem_ms"] * b2.ms
    G = b2.NeuronGroup(n_out, "dI/dt = -I/tau_syn : 1\ndV/dt = (-V + I)/tau_mem : 1",
                       threshold="V > 1", reset="V = 0", method="exact",
                       namespace={"tau_syn": tau_syn, "tau_mem": tau_mem})
    idx = [int(i) for i, _ in cfg["spikes"]]
    times = [float(k) * b2.ms for _, k in cfg["spikes"]]
    inp = b2.SpikeGeneratorGroup(n_in, idx, times)
    S = b2.Synapses(inp, G, "w : 1", on_pre="I_post += w", delay=1.0 * b2.ms)
    S.connect()  # all-to-all, synapse k = (i, j) with i the input
    S.w[:] = w[S.j[:], S.i[:]]
    spk = b2.SpikeMonitor(G)
    # sample I half a fine step after each coarse grid point: the delivery at k ms is
    # applied after the state update of that fine step
    mon = b2.StateMonitor(G, "I", record=True, dt=1.0 * b2.ms, when="end")
    b2.run(cfg["T"] * b2.ms)
    return {"spike_i": [int(i) for i in spk.i[:]],
            "spike_t_ms": [float(t) for t in spk.t[:] / b2.ms],
            "I_grid": np.asarray(mon.I[:]).tolist()}


if __name__ == "__main__":
    json.dump(run(json.load(sys.stdin)), sys.stdout)
