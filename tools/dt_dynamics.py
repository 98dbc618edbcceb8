"""Time-step study, part 1: the LIF forward passes at a time step dt against brian2 (exact, 1 us).

Usage: python tools/dt_dynamics.py [--dts 0.1 0.25 0.5 1 2 4 8] [--samples 50] [--out DIR]
       [--lif-ms 200] [--fast]

Two networks, the same continuous-time inputs for every dt:
* lif_bench (networks/lif_bench.yaml, 256-512-512-256, delta synapses, tau_mem 20 ms): Poisson inputs
  at 20 Hz during the first 3/4 of a 200 ms window (so activity has died out before it ends).
  Discrete model: ``firmware_models.lif_inference.reference.forward`` with tick = dt.
* EventProp Yin-Yang (networks/yinyang.yaml sizes 5-120-3, tau_syn 5 ms, tau_mem 20 ms, init
  weights of seed 42): the latency code without its rounding to 1 ms, t = 2 + 24 (1 - x) ms,
  bias at 0, 27 ms window. Discrete model: ``firmware_models.eventprop.reference.forward`` with
  decay ``exp`` (Euler is undefined at dt >= tau_syn) and T = ceil(27 ms / dt).
An input spike at t enters the tick that holds it (k = floor(t / dt)); a discrete spike at step s
is placed at s dt. brian2 integrates the same ODEs with ``method="exact"``, dt = 1 us, no delays
(``v += w`` resp. ``I += w`` on each presynaptic spike), threshold ``> theta``, reset to 0.

Per dt and layer: the fraction of (sample, neuron) pairs whose spike count equals brian2's, and
the first-spike time error s dt - t_brian2 (mean |error| and max |error| in ms) over pairs that fire
in both. The discrete networks lag by up to one step per layer by construction (one-tick synaptic
delay), so errors of a few dt are expected; what the study shows is where counts stop agreeing.
Writes ``dt_dynamics.md`` (table), ``dt_dynamics.json`` and ``dt_dynamics.png`` to ``--out``.
brian2 is a study/test extra (``pip install -e .[test]``), not a runtime dependency.
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DTS_MS = [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0]
YY_WINDOW_MS, YY_T_MIN_MS = 27.0, 2.0


# ---------------------------------------------------------------------------------- brian2
def brian2_layers(weights: list[np.ndarray], inputs: list[tuple[int, int, float]], n_samples: int,
                  window_ms: float, tau_mem_ms: float, threshold: float,
                  tau_syn_ms: float | None = None, fine_dt_us: float = 1.0) -> list[np.ndarray]:
    """Spikes (sample, neuron, t_ms) of each layer, brian2 exact integration.

    ``weights[l]`` is [n_pre, n_post]; ``inputs`` (sample, channel, t_ms). ``tau_syn_ms`` None:
    delta synapses (v += w); else a current synapse (I += w, dI/dt = -I/tau_syn, dv/dt = (I - v)/
    tau_mem). Samples are independent copies of the network in one run (block-diagonal synapses).
    """
    import brian2 as b2

    b2.prefs.codegen.target = "numpy"
    b2.start_scope()
    b2.defaultclock.dt = fine_dt_us * b2.us
    ns = {"tau_mem": tau_mem_ms * b2.ms, "theta": threshold}
    if tau_syn_ms is None:
        eqs, target = "dv/dt = -v/tau_mem : 1", "v_post += w"
    else:
        ns["tau_syn"] = tau_syn_ms * b2.ms
        eqs, target = "dI/dt = -I/tau_syn : 1\ndv/dt = (I - v)/tau_mem : 1", "I_post += w"
    n_in = weights[0].shape[0]
    s, c, t = (np.array([x[k] for x in inputs]) for k in range(3))
    src = b2.SpikeGeneratorGroup(n_samples * n_in, (s * n_in + c).astype(int), t * b2.ms)
    objs, groups, monitors, pre, n_pre = [src], [], [], src, n_in
    for w_layer in weights:
        n_post = w_layer.shape[1]
        g = b2.NeuronGroup(n_samples * n_post, eqs, threshold="v > theta", reset="v = 0",
                           method="exact", namespace=ns)
        syn = b2.Synapses(pre, g, "w : 1", on_pre=target)
        i, j = np.nonzero(w_layer)
        k = np.arange(n_samples)[:, None]
        syn.connect(i=(k * n_pre + i).ravel(), j=(k * n_post + j).ravel())
        syn.w[:] = np.tile(w_layer[i, j].astype(float), n_samples)
        mon = b2.SpikeMonitor(g)
        objs += [g, syn, mon]
        monitors.append((mon, n_post))
        pre, n_pre = g, n_post
    net = b2.Network(*objs)
    net.run(window_ms * b2.ms)
    out = []
    for mon, n in monitors:
        idx = np.asarray(mon.i[:], np.int64)
        out.append(np.stack([idx // n, idx % n, np.asarray(mon.t[:] / b2.ms)], axis=1)
                   if len(idx) else np.zeros((0, 3)))
    return out


# ------------------------------------------------------------------------------ comparison
@dataclass
class LayerAgreement:
    dt_ms: float
    layer: int
    count_match: float  # fraction of (sample, neuron) with equal spike counts
    spikes_ref: int  # brian2 spikes in the window
    spikes_dt: int  # discrete spikes in the window
    first_err_mean_ms: float  # mean |t_dt - t_ref| of first spikes (pairs firing in both)
    first_err_max_ms: float
    first_err_signed_ms: float  # mean t_dt - t_ref (positive: the discrete network is late)
    pairs: int


def summarise(ref: np.ndarray, disc: np.ndarray, n_samples: int, n: int, window_ms: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Counts [S, N] and first-spike times [S, N] (nan: silent) of both spike lists (t < window)."""
    outs = []
    for spk in (ref, disc):
        spk = spk[spk[:, 2] < window_ms]
        cnt = np.zeros((n_samples, n), np.int64)
        first = np.full((n_samples, n), np.inf)
        si, ni = spk[:, 0].astype(int), spk[:, 1].astype(int)
        np.add.at(cnt, (si, ni), 1)
        np.minimum.at(first, (si, ni), spk[:, 2])
        outs += [cnt, np.where(np.isfinite(first), first, np.nan)]
    return outs[0], outs[1], outs[2], outs[3]


def agreement(dt_ms: float, layer: int, ref: np.ndarray, disc: np.ndarray, n_samples: int, n: int,
              window_ms: float) -> LayerAgreement:
    c_ref, f_ref, c_dt, f_dt = summarise(ref, disc, n_samples, n, window_ms)
    both = ~np.isnan(f_ref) & ~np.isnan(f_dt)
    err = (f_dt - f_ref)[both]
    return LayerAgreement(dt_ms, layer, float((c_ref == c_dt).mean()), int(c_ref.sum()),
                          int(c_dt.sum()), float(np.abs(err).mean()) if err.size else math.nan,
                          float(np.abs(err).max()) if err.size else math.nan,
                          float(err.mean()) if err.size else math.nan, int(both.sum()))


def raster_spikes(rasters: list[np.ndarray], dt_ms: float) -> list[np.ndarray]:
    """(sample, neuron, t_ms) per layer from rasters [S, T, N] (spike at step s -> s dt)."""
    out = []
    for r in rasters:
        s, t, n = np.nonzero(r)
        out.append(np.stack([s, n, t * dt_ms], axis=1).astype(float))
    return out


def to_ticks(inputs: list[tuple[int, int, float]], n_samples: int, n_in: int, dt_ms: float,
             n_steps: int) -> np.ndarray:
    """Input raster [S, T, n_in]: a spike at t enters tick floor(t / dt) (dropped past the window)."""
    raster = np.zeros((n_samples, n_steps, n_in), bool)
    for s, c, t in inputs:
        k = int(math.floor(t / dt_ms + 1e-9))
        if k < n_steps:
            raster[s, k, c] = True
    return raster


# ---------------------------------------------------------------------------- the networks
def yinyang_case(n_samples: int, seed: int = 42, layers: list[int] | None = None):
    """(weights [n_in, n_out] list, inputs, params) of the EventProp Yin-Yang network."""
    from firmware_models.eventprop import reference as R
    from firmware_models.eventprop.params import EventpropParams
    from s2sim.data.yinyang import yinyang_splits
    p = EventpropParams(decay="exp", **({"layers": layers} if layers else {}))
    weights = [w.T.copy() for w in R.init_weights(p, seed)]
    X = yinyang_splits()["test"][0][:n_samples]
    span = YY_WINDOW_MS - 1 - YY_T_MIN_MS
    t = YY_T_MIN_MS + span * (1.0 - X)
    t = np.where(X < 0.01, YY_T_MIN_MS + 0.99 * span, t)
    inputs = [(s, c, float(t[s, c])) for s in range(len(X)) for c in range(X.shape[1])]
    inputs += [(s, X.shape[1], 0.0) for s in range(len(X))]  # bias neuron at 0 ms
    return weights, inputs, p


def yinyang_discrete(weights: list[np.ndarray], inputs, p, n_samples: int, dt_ms: float
                     ) -> list[np.ndarray]:
    from firmware_models.eventprop import reference as R
    T = int(math.ceil(YY_WINDOW_MS / dt_ms - 1e-9))
    q = p.model_copy(update={"dt_ms": dt_ms, "n_steps": max(T, 2), "t_min": 0})
    s_in = to_ticks(inputs, n_samples, weights[0].shape[0], dt_ms, q.n_steps).astype(np.float32)
    recs = R.forward([w.T.copy() for w in weights], s_in, q)
    return raster_spikes([r.spikes for r in recs], dt_ms)


def lif_bench_case(window_ms: float, seed: int = 1, layers: list[int] | None = None):
    """(built network, Poisson inputs (sample 0) in the first 3/4 of the window)."""
    from firmware_models.lif_inference.network import build
    from firmware_models.lif_inference.params import LifMapping, LifNetwork
    from s2sim.config import load_network, validate_section
    loaded = load_network(ROOT / "networks" / "lif_bench.yaml")
    net = validate_section(LifNetwork, loaded.spec.network, str(loaded.file), "network")
    if layers:
        net = net.model_copy(update={"layers": layers})
    built = build(net, LifMapping(), seed, 10_000)
    rng = np.random.default_rng([seed, 0xD7])
    active = 0.75 * window_ms
    inputs = []
    for c in range(net.layers[0]):
        n = rng.poisson(net.input_rate_hz * active * 1e-3)
        inputs += [(0, c, float(t)) for t in np.sort(rng.uniform(0, active, n))]
    return built, inputs


def lif_bench_discrete(built, inputs, window_ms: float, dt_ms: float) -> list[np.ndarray]:
    from firmware_models.lif_inference.reference import forward
    T = int(math.ceil(window_ms / dt_ms - 1e-9))
    raster = to_ticks(inputs, 1, built.net.layers[0], dt_ms, T)[0]
    rasters = forward(built, raster, dt_ms * 1e6)[1:]
    return raster_spikes([r[None] for r in rasters], dt_ms)


def study(dts: list[float], n_samples: int, lif_ms: float, lif_layers: list[int] | None = None,
          fine_dt_us: float = 1.0) -> list[dict]:
    """Rows of the table: network, dt, layer, agreement figures (brian2 step ``fine_dt_us``)."""
    rows = []
    weights, inputs, p = yinyang_case(n_samples)
    ref = brian2_layers(weights, inputs, n_samples, YY_WINDOW_MS, p.tau_mem_ms, p.threshold,
                        p.tau_syn_ms, fine_dt_us)
    for dt in dts:
        disc = yinyang_discrete(weights, inputs, p, n_samples, dt)
        for l, (r, d) in enumerate(zip(ref, disc)):
            a = agreement(dt, l + 1, r, d, n_samples, weights[l].shape[1], YY_WINDOW_MS)
            rows.append({"network": "eventprop_yinyang", **asdict(a)})
    built, inputs = lif_bench_case(lif_ms, layers=lif_layers)
    dense = [proj.dense() for proj in built.projections]  # brian2 takes [n_pre, n_post] matrices
    ref = brian2_layers(dense, inputs, 1, lif_ms, built.net.tau_mem_ms, built.net.threshold,
                        fine_dt_us=fine_dt_us)
    for dt in dts:
        disc = lif_bench_discrete(built, inputs, lif_ms, dt)
        for l, (r, d) in enumerate(zip(ref, disc)):
            a = agreement(dt, l + 1, r, d, 1, built.projections[l].n_post, lif_ms)
            rows.append({"network": "lif_bench", **asdict(a)})
    return rows


def table(rows: list[dict]) -> str:
    head = ("| network | dt ms | layer | count match | spikes brian2 | spikes dt | first-spike "
            "|err| mean ms | max ms | signed mean ms |\n|---|---|---|---|---|---|---|---|---|\n")
    return head + "".join(
        f"| {r['network']} | {r['dt_ms']:g} | {r['layer']} | {100 * r['count_match']:.1f} % | "
        f"{r['spikes_ref']} | {r['spikes_dt']} | {r['first_err_mean_ms']:.3f} | "
        f"{r['first_err_max_ms']:.3f} | {r['first_err_signed_ms']:+.3f} |\n" for r in rows)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for net in sorted({r["network"] for r in rows}):
        for layer in sorted({r["layer"] for r in rows if r["network"] == net}):
            sel = [r for r in rows if r["network"] == net and r["layer"] == layer]
            dts = [r["dt_ms"] for r in sel]
            ax1.plot(dts, [100 * r["count_match"] for r in sel], "o-", label=f"{net} L{layer}")
            ax2.plot(dts, [r["first_err_mean_ms"] for r in sel], "o-", label=f"{net} L{layer}")
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("time step dt (ms)")
    ax1.set_ylabel("spike counts equal to brian2 (%)")
    ax2.set_ylabel("first-spike time |error| (ms)")
    ax2.plot([min(r["dt_ms"] for r in rows), max(r["dt_ms"] for r in rows)],
             [min(r["dt_ms"] for r in rows), max(r["dt_ms"] for r in rows)], "k:", label="= dt")
    ax2.set_yscale("log")
    ax2.legend(fontsize=7)
    fig.suptitle("LIF forward vs brian2 (exact, 1 us)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dts", type=float, nargs="+", default=DTS_MS)
    ap.add_argument("--samples", type=int, default=50, help="Yin-Yang test samples")
    ap.add_argument("--lif-ms", type=float, default=200.0, help="lif_bench window")
    ap.add_argument("--out", default=str(ROOT / "traces" / "dt_dynamics"))
    a = ap.parse_args()
    rows = study(a.dts, a.samples, a.lif_ms)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "dt_dynamics.json").write_text(json.dumps(rows, indent=1))
    (out / "dt_dynamics.md").write_text(table(rows))
    plot(rows, out / "dt_dynamics.png")
    print(table(rows))
    print(f"wrote {out}/dt_dynamics.{{md,json,png}}")


if __name__ == "__main__":
    main()
