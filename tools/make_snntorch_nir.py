"""Train a small snnTorch classifier on Yin-Yang and export it to NIR: ``networks/nir/yinyang_snntorch.nir``.

Why: the second example NIR file comes from a real framework's exporter (snnTorch's
``export_to_nir``), not from s2sim's own tooling, so importing it tests the conventions that
exporter uses (a fixed ``dt`` of 1e-4 s, ``tau = dt / (1 - beta)``, ``r = tau / dt``).

    Input(5) -> Linear -> Leaky(32) -> Linear -> Leaky(3) -> Output     (snnTorch, reset to zero)

The inputs [x, y, 1-x, 1-y, 1] are fed as a constant current at every step (dense input; the
constant 1 plays the bias, so the Linear layers have none and every layer's drive arrives with the
data: see docs/nir.md). The class is the output neuron with the most spikes. Needs the
``snntorch`` extra (CPU torch): ``pip install torch==2.13.0 snntorch nirtorch``.

The graph's metadata records the exporter's ``dt`` and ``discretisation: euler``, which s2sim uses
when the run does not set ``model.dt_ns``/``model.discretisation``. ``yinyang_snntorch.npz`` holds
one test sample's input ``[steps + 2, 5]`` (two zero rows at the end: on the chip each layer adds a
tick, so the output's last spikes come two ticks after the last input row) and its label.

    python tools/make_snntorch_nir.py [--out networks/nir] [--steps 20] [--epochs 15]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

EXPORT_DT_S = 1e-4  # snntorch.export_nir hard-codes dt = 1e-4 s for Leaky
BETA = 0.9
N_HIDDEN = 32


def features(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x, np.ones((len(x), 1), np.float32)], axis=1).astype(np.float32)


def build_net():
    """The classifier, with per-neuron beta and threshold (snnTorch exports a scalar beta as a
    shapeless LIF node that NIR's type check rejects)."""
    import snntorch as snn
    import torch

    def leaky(n: int, output: bool = False):
        return snn.Leaky(beta=torch.full((n,), BETA), threshold=torch.ones(n), reset_mechanism="zero",
                         init_hidden=True, output=output)
    return torch.nn.Sequential(torch.nn.Linear(5, N_HIDDEN, bias=False), leaky(N_HIDDEN),
                               torch.nn.Linear(N_HIDDEN, 3, bias=False), leaky(3, output=True))


def run_net(net, x, steps: int):
    """Spikes ``[steps, batch, n]`` of every Leaky layer for a constant input ``x [batch, 5]``."""
    import snntorch as snn
    import torch
    for m in net.modules():
        if isinstance(m, snn.Leaky):
            m.reset_hidden()
    leaky = [m for m in net if isinstance(m, snn.Leaky)]
    recorded = {i: [] for i in range(len(leaky))}
    for _ in range(steps):
        h = x
        for m in net:
            h = m(h)
            if isinstance(h, tuple):  # the output Leaky returns (spikes, membrane)
                h = h[0]
            if isinstance(m, snn.Leaky):
                recorded[leaky.index(m)].append(h)
    return [torch.stack(recorded[i]) for i in range(len(leaky))]


def train(net, x, y, steps: int, epochs: int):
    import snntorch.functional as SF
    import torch
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    loss_fn = SF.ce_count_loss()
    xt, yt = torch.tensor(x), torch.tensor(y, dtype=torch.long)
    for _ in range(epochs):
        order = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = order[i:i + 64]
            out = run_net(net, xt[idx], steps)[-1]
            loss = loss_fn(out, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()


def accuracy(net, x, y, steps: int) -> float:
    import torch
    with torch.no_grad():
        counts = run_net(net, torch.tensor(x), steps)[-1].sum(0).numpy()
    return float((counts.argmax(1) == y).mean())


def export(net):
    """``export_to_nir`` with the exporter's discretisation recorded in the graph's metadata."""
    import snntorch
    import torch
    from snntorch.export_nir import export_to_nir
    graph = export_to_nir(net, torch.zeros(1, 5), ignore_dims=[0])
    graph.metadata = {"dt": EXPORT_DT_S, "discretisation": "euler",
                      "exported_by": f"snntorch {snntorch.__version__} export_to_nir"}
    return graph


def main() -> None:
    import nir
    import torch
    from s2sim.data.yinyang import yinyang
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("networks/nir"))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=15)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)  # initial weights and batch order: the same file on every run (same torch build)
    (x_tr, y_tr), (x_te, y_te) = yinyang(3000, 42), yinyang(1000, 40)
    x_tr, x_te = features(x_tr), features(x_te)
    net = build_net()
    train(net, x_tr, y_tr, args.steps, args.epochs)
    acc = accuracy(net, x_te, y_te, args.steps)
    args.out.mkdir(parents=True, exist_ok=True)
    nir.write(args.out / "yinyang_snntorch.nir", export(net))
    sample = np.zeros((args.steps + 2, 5), np.float32)
    sample[:args.steps] = x_te[0]
    np.savez_compressed(args.out / "yinyang_snntorch.npz", input=sample, label=y_te[:1])
    print(f"snnTorch test accuracy ({args.steps} steps, spike count) {acc:.3f}; wrote {args.out}")


if __name__ == "__main__":
    main()
