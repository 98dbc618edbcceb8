"""EventProp Yin-Yang: s2sim's reference against the authors' off-chip code, and both scoring rules.

Usage:
    python benchmarks/eventprop_vs_authors.py scores [--seeds 42 43 44 45 46] [--epochs N] [--set ...]
    python benchmarks/eventprop_vs_authors.py compare [--seed 42] [--batches 20] [--set ...]

``scores`` trains s2sim's reference (the ``--fast`` engine, settings of ``networks/yinyang.yaml``
after ``--set``) for each seed and scores the final weights four ways: Kriener's test split (1000,
seed 40, unfiltered) and the authors' split (1000, seed 43, ambiguous samples excluded, 768 scored
in whole batches of 256), each with ties counted wrong (s2sim's strict default) and with ties to the
lowest class (the authors' ``argmin``). It prints one line per seed, mean ± sd, and the tie rates.
No extra packages needed.

``compare`` needs torch and the authors' package (``pytorch_eventprop``, or ``eventprop`` in their
2024 layout; https://github.com/GabrielBena/pytorch-eventprop, no licence, so s2sim does not vendor
it: ``pip install 's2sim[torch]'`` then ``pip install git+https://github.com/GabrielBena/pytorch-eventprop``).
It builds their ``SNN`` through their own modules with the network file's sizes and constants,
copies s2sim's initial weights of the seed into it, sets their layers' decay factors to the
network's (``euler`` or ``exp``: their 2024-08 code computes exp), and feeds both the same
shuffled batches: per batch it prints their mean loss, s2sim's, and the largest relative
difference of dL/dW; then both take the optimiser step (s2sim's Adam vs ``torch.optim.Adam``
with the same lr, weight decay and per-batch lr decay) and the weights are compared after every
batch. Without the packages it says how to get them and exits 2.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOW_TO_GET = ("compare needs torch and the authors' EventProp package: pip install 's2sim[torch]' && "
              "pip install git+https://github.com/GabrielBena/pytorch-eventprop "
              "(not vendored: the repository has no licence)")


def params_of(network: str, sets: list[str]):
    from firmware_models.eventprop.params import EventpropParams
    from s2sim.config import load_network, validate_section
    loaded = load_network(network, sets)
    return validate_section(EventpropParams, loaded.spec.network, str(loaded.file), "network")


def scores_of_seed(job: tuple) -> dict:
    """Train one seed with the reference engine (Kriener split), score the final weights four ways."""
    network, sets, seed, epochs = job
    from firmware_models.eventprop import reference as R
    from firmware_models.eventprop import training as T
    p = params_of(network, sets)
    epochs = epochs or p.epochs
    data = R.load_data(p, "kriener")
    t0 = time.perf_counter()
    state = T.train_reference(T.fresh_state(p, R.init_weights(p, seed)), data, p, seed, epochs)
    out = {"seed": seed, "wall_s": time.perf_counter() - t0}
    for split in ("kriener", "authors"):
        sc = R.score(state.weights, *R.load_data(p, split)["test"], p)
        out[split] = {"strict": sc.strict, "argmin": sc.argmin, "ties": sc.tie_rate, "n": sc.samples}
    return out


def cmd_scores(a) -> None:
    from concurrent.futures import ProcessPoolExecutor
    p = params_of(a.network, a.sets)
    print(f"{a.network} {' '.join(a.sets)}: decay {p.decay}, lr {p.lr}, epochs {a.epochs or p.epochs}; "
          "reference engine, Kriener training split; final weights scored four ways")
    jobs = [(a.network, a.sets, s, a.epochs) for s in a.seeds]
    with ProcessPoolExecutor(max_workers=a.jobs) as pool:
        rows = list(pool.map(scores_of_seed, jobs))
    cols = [(s, r) for s in ("kriener", "authors") for r in ("strict", "argmin")]
    print("seed  " + "  ".join(f"{s}/{r:6s}" for s, r in cols) + "  ties k/a")
    for row in rows:
        print(f"{row['seed']:4d}  " + "  ".join(f"{100 * row[s][r]:12.2f}" for s, r in cols)
              + f"  {100 * row['kriener']['ties']:.1f}/{100 * row['authors']['ties']:.1f} %")
    print("mean  " + "  ".join(f"{100 * np.mean([x[s][r] for x in rows]):6.2f} ± "
                               f"{100 * np.std([x[s][r] for x in rows], ddof=1) if len(rows) > 1 else 0:4.2f}"
                               for s, r in cols))
    gap = [x["authors"]["argmin"] - x["kriener"]["strict"] for x in rows]
    print(f"authors' rule and split minus s2sim's default: {100 * np.mean(gap):+.2f} points "
          f"(per seed {', '.join(f'{100 * g:+.1f}' for g in gap)}); test samples kriener "
          f"{rows[0]['kriener']['n']}, authors {rows[0]['authors']['n']}")


def _authors_modules():
    """(torch, SNN, SpikeCELoss) of the authors' package, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    for pkg in ("pytorch_eventprop", "eventprop"):
        try:
            models = __import__(f"{pkg}.models", fromlist=["SNN", "SpikeCELoss"])
            return torch, models.SNN, models.SpikeCELoss
        except ImportError:
            continue
    return None


def cmd_compare(a) -> int:
    found = _authors_modules()
    if found is None:
        print(HOW_TO_GET)
        return 2
    torch, SNN, SpikeCELoss = found
    from firmware_models.eventprop import reference as R
    from firmware_models.eventprop import training as T
    from s2sim.data.yinyang import to_raster
    p = params_of(a.network, a.sets)
    if p.loss != "ce":
        print("compare: the authors' trainer uses SpikeCELoss; run with network.loss=ce")
        return 2
    w0 = R.init_weights(p, a.seed)
    model = SNN(list(p.layers), model_type="eventprop", T=p.n_steps, dt=p.dt_ms * 1e-3, tau_m=p.tau_mem_ms * 1e-3,
                tau_s=p.tau_syn_ms * 1e-3, init_mode="kaiming_both", scale=[[1.0, 1.0]] * len(w0))
    layers = [m for m in model.modules() if isinstance(getattr(m, "weight", None), torch.nn.Parameter)]
    if len(layers) != len(w0):
        print(f"compare: their SNN has {len(layers)} weight layers, s2sim {len(w0)}")
        return 2
    for layer, w in zip(layers, w0):
        layer.weight.data = torch.from_numpy(w.copy())
        layer.alpha, layer.beta = float(p.alpha_syn), float(p.beta_mem)  # the network's decay
    criterion = SpikeCELoss(p.xi, p.ce_alpha, p.ce_beta)
    data = R.load_data(p, "authors")
    times, y = data["train"]
    per_epoch = T.batches_per_epoch(len(y), p.batch, drop_last=True)
    opt = torch.optim.Adam(model.parameters(), lr=p.lr, weight_decay=p.weight_decay)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=p.gamma_per_epoch ** (1 / per_epoch))
    ours = T.ReferenceEngine(p)
    ours.load(T.fresh_state(p, w0), per_epoch)
    order = np.random.RandomState(a.seed).permutation(len(y))
    print("batch  loss theirs     loss s2sim   max rel dL/dW   max rel W after step")
    worst_g = worst_w = 0.0
    for k in range(a.batches):
        idx = order[k * p.batch:(k + 1) * p.batch]
        raster = to_raster(times[idx], p.n_steps).astype(np.float32)
        loss_ours, _, grads = R.loss_and_grads(ours.weights, raster, y[idx], p)
        out, _ = model(torch.from_numpy(raster.transpose(1, 0, 2).copy()))
        loss = criterion(out, torch.from_numpy(y[idx]))[0]
        opt.zero_grad()
        loss.backward()
        rel_g = max(float(np.abs(l.weight.grad.numpy() - g / len(idx)).max() / (np.abs(g / len(idx)).max() or 1.0))
                    for l, g in zip(layers, grads))
        opt.step()
        sched.step()
        ours.run_batch(times[idx], y[idx])
        rel_w = max(float(np.abs(l.weight.data.numpy() - w).max() / np.abs(w).max())
                    for l, w in zip(layers, ours.weights))
        worst_g, worst_w = max(worst_g, rel_g), max(worst_w, rel_w)
        print(f"{k:5d}  {loss.item():12.7f}  {float(loss_ours.mean()):12.7f}  {rel_g:14.2e}  {rel_w:14.2e}")
    print(f"largest relative difference: dL/dW {worst_g:.2e}, weights {worst_w:.2e} over {a.batches} batches")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("scores", "compare"))
    ap.add_argument("--network", default=str(ROOT / "networks" / "yinyang.yaml"))
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44, 45, 46])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--epochs", type=int, default=None, help="default: network.epochs")
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args()
    if a.mode == "scores":
        cmd_scores(a)
        return 0
    return cmd_compare(a)


if __name__ == "__main__":
    sys.exit(main())
