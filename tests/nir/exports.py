"""NIR files shaped like what real exporters write, made with the ``nir`` package alone (the frameworks
stay optional), and each framework's own update rule as a numpy loop to say what the file must do.

* ``snntorch_graph``: snnTorch 1.0's ``export_to_nir`` of ``Linear(bias=False) -> Leaky`` layers:
  ``LIF(tau = dt/(1-beta), r = tau/dt, v_leak = 0)`` in float32 with its hard-coded ``dt = 1e-4`` s,
  node names "0", "1", ..., and no metadata (no record of dt or of the Euler step).
  ``rleaky=True`` makes the first hidden layer an ``RLeaky`` exported flat: a LIF node plus its
  recurrent ``Affine`` (torch ``Linear`` with bias) in a loop ``lif -> w_rec -> lif``.
* ``norse_graph``: Norse 1.1's ``to_nir`` of ``Linear -> LIFCell`` layers: ``Affine`` (zero bias when the
  Linear has none) and ``CubaLIF(tau_mem = dt/tau_mem_inv, tau_syn = dt/tau_syn_inv, r = 1, w_in = 1)``.
"""
from __future__ import annotations

import numpy as np

nir = __import__("pytest").importorskip("nir")

SNNTORCH_DT_S = 1e-4  # hard-coded in snnTorch's exporter
NORSE_DT_S = 1e-3  # Norse's default step, which its exporter multiplies into tau


def dyadic(rng, shape, lo=-40, hi=100, den=256) -> np.ndarray:
    """Weights on a 1/256 grid: every synaptic sum is exact in float32, whatever the order."""
    return (rng.integers(lo, hi, shape) / den).astype(np.float32)


# ---- snnTorch -----------------------------------------------------------------------------------
def snntorch_lif(beta: np.ndarray, threshold: float) -> "nir.LIF":
    beta = np.asarray(beta, np.float32)
    tau = SNNTORCH_DT_S / (1 - beta)  # float32, as torch computes it
    return nir.LIF(tau=tau, r=tau / SNNTORCH_DT_S, v_leak=np.zeros_like(beta),
                   v_threshold=np.full(beta.shape, threshold, np.float32), v_reset=np.zeros_like(beta))


def snntorch_graph(weights: list[np.ndarray], betas: list[np.ndarray], thresholds: list[float],
                   recurrent: tuple[np.ndarray, np.ndarray] | None = None):
    """Input -> (Linear, Leaky) per layer -> Output; ``recurrent = (V, b)``: layer 0 is an RLeaky."""
    nodes = {"input": nir.Input(np.array([weights[0].shape[1]]))}
    edges, prev = [], "input"
    for k, (w, beta, thr) in enumerate(zip(weights, betas, thresholds)):
        lin, lif = str(2 * k), str(2 * k + 1)
        if recurrent is not None and k == 0:
            lif = f"{lif}.lif"
            nodes[f"{2 * k + 1}.w_rec"] = nir.Affine(recurrent[0], recurrent[1])
            edges += [(lif, f"{2 * k + 1}.w_rec"), (f"{2 * k + 1}.w_rec", lif)]
        nodes[lin], nodes[lif] = nir.Linear(w), snntorch_lif(beta, thr)
        edges += [(prev, lin), (lin, lif)]
        prev = lif
    nodes["output"] = nir.Output(np.array([weights[-1].shape[0]]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def snntorch_forward(x: np.ndarray, weights, betas, thresholds, recurrent=None,
                     rleaky_discards_input: bool = False) -> list[np.ndarray]:
    """snnTorch's ``Leaky`` with ``reset_mechanism="zero"``, step by step: ``mem = beta * mem + W @ in``
    (+ ``V @ spk_prev + b`` for RLeaky), ``spk = mem > threshold``, and a neuron that spiked starts the
    next step from 0 (snnTorch applies the reset one step late; the spikes are the same).
    ``rleaky_discards_input``: RLeaky's own rule, which also drops that next step's input."""
    out = []
    inp = x.astype(np.float64)
    for k, (w, beta, thr) in enumerate(zip(weights, betas, thresholds)):
        n = w.shape[0]
        mem, spk = np.zeros(n), np.zeros(n, bool)
        rows = []
        for t in range(len(inp)):
            drive = w.astype(np.float64) @ inp[t]
            if recurrent is not None and k == 0:
                drive = drive + recurrent[0].astype(np.float64) @ spk + recurrent[1]
            kept = np.where(spk, 0.0, mem)
            mem = beta.astype(np.float64) * kept + drive
            if rleaky_discards_input and recurrent is not None and k == 0:
                mem = np.where(spk, 0.0, mem)
            spk = mem > thr
            rows.append(spk.copy())
        out.append(np.array(rows))
        inp = out[-1].astype(np.float64)
    return out


# ---- Norse --------------------------------------------------------------------------------------
def norse_graph(weights: list[np.ndarray], tau_mem_inv: list[float], tau_syn_inv: list[float],
                v_th: list[float], v_leak: float = 0.0, v_reset: float = 0.0):
    nodes = {"input": nir.Input(np.array([weights[0].shape[1]]))}
    edges, prev = [], "input"
    for k, (w, tmi, tsi, th) in enumerate(zip(weights, tau_mem_inv, tau_syn_inv, v_th)):
        n = w.shape[0]
        lin, lif = str(2 * k), str(2 * k + 1)
        nodes[lin] = nir.Affine(w, np.zeros(n, np.float32))
        nodes[lif] = nir.CubaLIF(tau_mem=np.full(n, NORSE_DT_S / tmi, np.float32),
                                 tau_syn=np.full(n, NORSE_DT_S / tsi, np.float32),
                                 r=np.ones(n, np.float32), w_in=np.ones(n, np.float32),
                                 v_leak=np.full(n, v_leak, np.float32), v_threshold=np.full(n, th, np.float32),
                                 v_reset=np.full(n, v_reset, np.float32))
        edges += [(prev, lin), (lin, lif)]
        prev = lif
    nodes["output"] = nir.Output(np.array([weights[-1].shape[0]]))
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def norse_forward(x: np.ndarray, weights, tau_mem_inv, tau_syn_inv, v_th, v_leak=0.0, v_reset=0.0,
                  dt: float = NORSE_DT_S) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Norse's ``lif_feed_forward_step`` per layer and step: the membrane integrates the current of the
    previous step, ``v' = v + dt*tau_mem_inv*((v_leak - v) + i)``; ``i' = i - dt*tau_syn_inv*i``; spike
    if ``v' > v_th``, then ``v' = v_reset``; the step's input is added to the current unscaled,
    ``i' += W @ in``. Returns (spikes, voltages) per layer."""
    spikes, volts = [], []
    inp = x.astype(np.float64)
    for w, tmi, tsi, th in zip(weights, tau_mem_inv, tau_syn_inv, v_th):
        n = w.shape[0]
        v, i = np.zeros(n), np.zeros(n)
        zs, vs = [], []
        for t in range(len(inp)):
            v_dec = v + dt * tmi * ((v_leak - v) + i)
            i_dec = i - dt * tsi * i
            z = v_dec > th
            v = np.where(z, v_reset, v_dec)
            i = i_dec + w.astype(np.float64) @ inp[t]
            zs.append(z)
            vs.append(v.copy())
        spikes.append(np.array(zs))
        volts.append(np.array(vs))
        inp = spikes[-1].astype(np.float64)
    return spikes, volts
