"""Make the example NIR graph ``networks/nir/yinyang_if.nir`` (+ one input raster ``.npz``).

Why: `s2sim run MODEL.nir` needs a NIR file exported from a trained network; this one needs no
deep-learning framework. A 5-64-3 ReLU network is trained on Yin-Yang with numpy (full-batch Adam),
then converted to a spiking network the usual way (rate coding, IF neurons, per-layer threshold
from the 99th percentile activation) and written with the ``nir`` package:

    Input(5) -> Affine -> IF(64) -> Affine -> LI(3, tau 1 s: a leaky integrator) -> Output

The inputs [x, y, 1-x, 1-y, 1] become regular spike trains at that many spikes per tick. The class is the LI neuron with
the highest voltage at the last tick. Accuracy is checked on the test split with a vectorised numpy
simulation of exactly the discretised dynamics s2sim runs (s2sim/nir_import.py, ``exact``).

    python tools/make_example_nir.py [--out networks/nir] [--ticks 200]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

DT_S = 1e-3


def features(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x, np.ones((len(x), 1), np.float32)], axis=1)  # constant-rate input = bias


def train_ann(x, y, hidden=64, steps=2000, lr=0.01, seed=0):
    rng = np.random.default_rng(seed)
    p = {"w1": rng.normal(0, 1 / np.sqrt(x.shape[1]), (x.shape[1], hidden)), "b1": np.zeros(hidden),
         "w2": rng.normal(0, 1 / np.sqrt(hidden), (hidden, 3)), "b2": np.zeros(3)}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    s = {k: np.zeros_like(v) for k, v in p.items()}
    onehot = np.eye(3)[y]
    for t in range(1, steps + 1):
        h = np.maximum(x @ p["w1"] + p["b1"], 0)
        z = h @ p["w2"] + p["b2"]
        e = np.exp(z - z.max(1, keepdims=True))
        dz = (e / e.sum(1, keepdims=True) - onehot) / len(x)
        dh = (dz @ p["w2"].T) * (h > 0)
        g = {"w2": h.T @ dz, "b2": dz.sum(0), "w1": x.T @ dh, "b1": dh.sum(0)}
        for k in p:
            m[k] = 0.9 * m[k] + 0.1 * g[k]
            s[k] = 0.999 * s[k] + 0.001 * g[k] ** 2
            p[k] -= lr * (m[k] / (1 - 0.9 ** t)) / (np.sqrt(s[k] / (1 - 0.999 ** t)) + 1e-8)
    return p


def to_snn(p, x_train):
    """IF hidden layer, weights scaled so that rates stay below 1 (99th percentile activation) and one
    input spike moves ``v`` by at most a quarter of the threshold: reset to zero discards the overshoot
    of a crossing, which big weights make large (at 1x, 66 % test accuracy; at this scale 97 %)."""
    act = np.maximum(x_train @ p["w1"] + p["b1"], 0)
    scale = max(float(np.percentile(act[act > 0], 99)), 4 * float(np.abs(p["w1"]).max()))
    w1 = (p["w1"] / scale).T.astype(np.float32)  # NIR weights are [out, in]
    b1 = (p["b1"] / scale).astype(np.float32)
    w2 = p["w2"].T.astype(np.float32)
    b2 = (p["b2"] / scale).astype(np.float32)  # the readout sums rates h/scale: biases scale alike
    return w1, b1, w2, b2


def nir_graph(w1, b1, w2, b2):
    import nir
    n_h, n_o = len(b1), len(b2)
    tau_li = 1.0
    return nir.NIRGraph(
        nodes={"input": nir.Input(np.array([w1.shape[1]])),
               "fc1": nir.Affine(w1, np.zeros_like(b1)),
               "hidden": nir.IF(r=np.full(n_h, 1 / DT_S), v_threshold=np.ones(n_h), v_reset=np.zeros(n_h)),
               "fc2": nir.Affine(w2, b2),
               "readout": nir.LI(tau=np.full(n_o, tau_li), r=np.full(n_o, tau_li / DT_S), v_leak=np.zeros(n_o)),
               "output": nir.Output(np.array([n_o]))},
        edges=[("input", "fc1"), ("fc1", "hidden"), ("hidden", "fc2"), ("fc2", "readout"),
               ("readout", "output")],
        # the step and method the graph was designed for: s2sim refuses to guess them (docs/nir.md)
        metadata={"dt": DT_S, "discretisation": "exact"})


def encode(x: np.ndarray, ticks: int) -> np.ndarray:
    """[samples, ticks, inputs] regular spike trains at ``feature`` spikes per tick (an integrate-and-
    fire encoder: a spike whenever the running sum crosses an integer), which Poisson noise would blur."""
    t = np.arange(1, ticks + 1, dtype=np.float64)[None, :, None]
    return np.floor(t * x[:, None, :] + 1e-9) > np.floor((t - 1) * x[:, None, :] + 1e-9)


def readout_voltages(w1, w2, b2, spikes) -> np.ndarray:
    """The discretised dynamics (exact, dt 1 ms), vectorised over samples, one tick per projection:
    the readout's voltages [samples, 3] after the last tick."""
    a_li = np.float32(np.exp(-DT_S / 1.0))
    g_li = np.float32((1 - np.exp(-DT_S / 1.0)) * 1.0 / DT_S)
    n, ticks, _ = spikes.shape
    v_h = np.zeros((n, len(w1)), np.float32)
    v_o = np.zeros((n, len(w2)), np.float32)
    prev_in = np.zeros((n, w1.shape[1]), np.float32)
    prev_h = np.zeros_like(v_h)
    for t in range(ticks):
        v_o = v_o * a_li + g_li * (prev_h @ w2.T + b2)
        v_h = v_h + np.float32(1.0) * (prev_in @ w1.T)
        fired = v_h > 1
        v_h[fired] = 0
        prev_h, prev_in = fired.astype(np.float32), spikes[:, t].astype(np.float32)
    return v_o


def main() -> None:
    from s2sim.data.yinyang import yinyang
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("networks/nir"))
    ap.add_argument("--ticks", type=int, default=200)
    args = ap.parse_args()
    (x_tr, y_tr), (x_te, y_te) = yinyang(5000, 42), yinyang(1000, 40)
    x_tr, x_te = features(x_tr), features(x_te)
    p = train_ann(x_tr, y_tr)
    ann_acc = float(((np.maximum(x_te @ p["w1"] + p["b1"], 0) @ p["w2"] + p["b2"]).argmax(1) == y_te).mean())
    # biases ride on the constant input (feature 5, rate 1): fold them into its weights
    p["w1"][-1] += p["b1"]
    p["b1"][:] = 0
    w1, b1, w2, b2 = to_snn(p, x_tr)
    spikes = encode(x_te, args.ticks)
    acc = float((readout_voltages(w1, w2, b2, spikes).argmax(1) == y_te).mean())
    import nir
    args.out.mkdir(parents=True, exist_ok=True)
    nir.write(args.out / "yinyang_if.nir", nir_graph(w1, b1, w2, b2))
    np.savez_compressed(args.out / "yinyang_if.npz", input=spikes[0].astype(np.uint8), label=y_te[:1])
    print(f"ANN test accuracy {ann_acc:.3f}; SNN ({args.ticks} ticks, numpy) {acc:.3f}; wrote {args.out}")


if __name__ == "__main__":
    main()
