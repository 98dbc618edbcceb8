"""Matplotlib (Agg) figures of a finished run: each function writes one PNG and returns its path."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .tables import CATEGORY_LABELS, RunData, categories_of, grid, memory_rows

COLORS = {"weights": "#4C72B0", "optimizer": "#DD8452", "eligibility": "#55A868", "traces": "#8CBF7A",
          "adjoint": "#64B5CD", "state": "#8172B3", "buffers": "#CCB974", "code_stack": "#999999"}
CONF_COLORS = {"measured": "#2E7D32", "derived": "#F9A825", "estimate": "#C62828", "?": "#777777"}


def pyplot():
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _plt().close(fig)
    return path


_plt, _save = pyplot, save_figure  # the names this module's plots use


def _pe_ticks(ax, pes: list) -> None:
    """Label the PE axis, at most ~20 labels: a 152-PE run would otherwise spend seconds laying out
    overlapping tick labels."""
    step = max(1, -(-len(pes) // 20))
    ticks = np.arange(0, len(pes), step)
    ax.set_xticks(ticks, [str(pes[i]) for i in ticks])


def memory_plot(run: RunData, path: Path) -> Path:
    """Stacked bars per PE by SRAM category, with the capacity line."""
    plt = _plt()
    s = run.summary
    rows = memory_rows(s)
    cats = categories_of(s)
    fig, ax = plt.subplots(figsize=(min(16, max(6, 0.45 * len(rows) + 2)), 4))
    x = np.arange(len(rows))
    bottom = np.zeros(len(rows))
    for c in cats:
        vals = np.array([r[c] for r in rows], float) / 1024
        ax.bar(x, vals, bottom=bottom, label=CATEGORY_LABELS.get(c, c), color=COLORS.get(c))
        bottom += vals
    if rows:
        ax.axhline(rows[0]["capacity_bytes"] / 1024, color="k", ls="--", lw=1, label="capacity")
    _pe_ticks(ax, [r["pe"] for r in rows])
    ax.set_xlabel("PE")
    ax.set_ylabel("SRAM (KiB)")
    ax.set_title("SRAM per PE by category")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _save(fig, path)


def _bins(n_steps: int, max_cols: int = 1500) -> int:
    return max(1, -(-n_steps // max_cols))


#: below this spread (max - min) / max a colour scale from min to max would paint noise as structure
HEATMAP_MIN_SPREAD = 0.05


def heatmap_scale(values: np.ndarray) -> tuple[dict, str]:
    """imshow's vmin/vmax and a note for the colour bar: min to max when the values really differ, else
    from 0, so PEs within a fraction of a percent of each other show as one colour (as they are)."""
    lo, hi = float(np.ma.min(values)), float(np.ma.max(values))
    if not np.isfinite(hi) or hi <= 0 or hi - lo >= HEATMAP_MIN_SPREAD * hi:
        return {}, ""
    return {"vmin": 0.0, "vmax": hi}, f" (scale from 0: all within {100 * (hi - lo) / hi:.2g} %)"


def latency_heatmap(run: RunData, path: Path) -> Path:
    """PE x timestep heatmap of time_done (µs) with the critical path on top.

    Runs of many samples (``app.ticks_per_sample``) are folded: the heatmap is over the timestep
    within a sample (median over samples), with the per-sample worst case and the within-sample
    profile of the critical PE. Long unfolded runs are binned (max per bin).
    """
    plt = _plt()
    done, pes = grid(run.ts, "time_done_ns")
    tick = run.summary["latency"]["tick_ns"]
    tps = int((run.summary.get("app") or {}).get("ticks_per_sample") or 0)
    fold = bool(done.size) and tps > 1 and done.shape[0] >= 2 * tps
    fig, axes = plt.subplots(3 if fold else 2, 1, figsize=(9, 8 if fold else 5.5), layout="constrained",
                             height_ratios=[1, 2, 1.2] if fold else [1, 2])
    ax0, ax1 = axes[0], axes[1]
    ax0.set_title("Per-timestep latency (tick start to end of that tick's work)")
    if not done.size:
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path
    label = "time_done (µs)"
    if fold:
        m = done.shape[0] // tps * tps
        cube = done[:m].reshape(-1, tps, done.shape[1])  # sample x step x PE
        worst = cube.max(axis=(1, 2))
        ax0.plot(np.arange(worst.size), worst / 1e3, lw=1, color="#C62828", label="worst step of each sample")
        ax0.set_xlabel("sample")
        ax0.set_ylim(0, max(float(worst.max()), tick if tick <= 1.5 * done.max() else 0.0) / 1e3 * 1.1)
        heat = np.median(cube, axis=0)  # step x PE
        label += ", median over samples"
        crit = cube.max(axis=2)  # sample x step
        t = np.arange(tps)
        ax2 = axes[2]
        ax2.fill_between(t, crit.min(axis=0) / 1e3, crit.max(axis=0) / 1e3, color="#C62828", alpha=0.25,
                         label="critical PE, min-max over samples")
        ax2.plot(t, np.median(crit, axis=0) / 1e3, color="#C62828", lw=1, label="critical PE, median")
        ax2.set_xlabel(f"timestep within a sample ({tps} per sample)")
        ax2.set_ylabel("µs")
        ax2.legend(fontsize=7, loc="upper left")
        xlabel = "timestep within a sample"
        k = 1
    else:
        k = _bins(done.shape[0])
        n = done.shape[0] // k * k
        heat = done[:n].reshape(-1, k, done.shape[1]).max(axis=1) if k > 1 else done
        crit = done[:n].max(axis=1)
        x = np.arange(heat.shape[0]) * k
        ax0.plot(x, (crit.reshape(-1, k).max(axis=1) if k > 1 else crit) / 1e3, lw=1, color="#C62828",
                 label="critical PE" + (f" (max of {k})" if k > 1 else ""))
        ax0.plot(x, np.median(heat, axis=1) / 1e3, lw=1, color="#4C72B0", label="median PE")
        ax0.set_xlabel("timestep")
        xlabel = "timestep" + (f" (max per {k})" if k > 1 else "")
        if k > 1:
            label += f", max per {k} steps"
    if tick <= 1.5 * done.max():
        ax0.axhline(tick / 1e3, color="k", ls="--", lw=1, label="tick")
    ax0.set_ylabel("µs")
    ax0.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax0.legend(fontsize=7, loc="upper right")
    cap = recording_cap_note(run.summary)
    if cap:
        ax0.set_title(f"Per-timestep latency (tick start to end of that tick's work)\n{cap}", fontsize=9)
    extent = (-0.5, heat.shape[0] * k - 0.5, -0.5, len(pes) - 0.5)
    apart = outlier_steps(heat)
    main = np.ma.masked_array(heat.T / 1e3, mask=np.broadcast_to(apart[:, None], heat.shape).T)
    scale, note = heatmap_scale(main)
    label += note
    im = ax1.imshow(main, aspect="auto", interpolation="nearest", cmap="viridis", origin="lower", extent=extent,
                    **scale)
    if apart.any():  # e.g. the learning tick: its own colour scale, so it does not wash out the others
        odd = np.ma.masked_array(heat.T / 1e3, mask=np.broadcast_to(~apart[:, None], heat.shape).T)
        im2 = ax1.imshow(odd, aspect="auto", interpolation="nearest", cmap="magma", origin="lower",
                         extent=extent)
        steps = ", ".join(str(int(i) * k) for i in np.flatnonzero(apart)[:4])
        fig.colorbar(im2, ax=ax1, label=f"µs, step(s) {steps} (own scale)", pad=0.01)
    ax1.set_yticks(np.arange(len(pes)), [str(p) for p in pes], fontsize=7 if len(pes) > 16 else 9)
    ax1.set_xlabel(xlabel)
    ax1.set_ylabel("PE")
    fig.colorbar(im, ax=ax1, label=label)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def outlier_steps(heat: np.ndarray, factor: float = 1.5) -> np.ndarray:
    """Columns (timesteps) whose median is ``factor`` x above the typical step's: shown on their own scale.

    The e-prop learning tick takes about twice a forward step; on one colour scale it would leave every
    other step the same dark colour.
    """
    if heat.shape[0] < 3:
        return np.zeros(heat.shape[0], bool)
    col = np.median(heat, axis=1)
    typical = float(np.median(col))
    return col > factor * typical if typical > 0 else np.zeros(heat.shape[0], bool)


def recording_cap_note(summary: dict) -> str:
    """Says when ``run.record_timesteps`` cut the timesteps the plot can show (empty when nothing was cut)."""
    lat = summary.get("latency") or {}
    kept, total = lat.get("timesteps_recorded"), lat.get("timesteps_total")
    if kept is None or total is None or kept >= total:
        return ""
    return (f"shows the first {kept:,} of {total:,} timesteps (run.record_timesteps); "
            "later ones only update the maximum")


def phase_plot(run: RunData, path: Path) -> Path:
    """Mean cycles per timestep on each PE, stacked by phase."""
    plt = _plt()
    phases = run.phases
    fig, ax = plt.subplots(figsize=(9, 4))
    pes: list[int] = []
    if phases:
        bottom = None
        cmap = plt.get_cmap("tab20")
        for i, ph in enumerate(phases):
            g, pes = grid(run.ts, f"cycles_{ph}")
            vals = g.mean(axis=0)
            bottom = np.zeros_like(vals) if bottom is None else bottom
            ax.bar(np.arange(len(pes)), vals, bottom=bottom, label=ph, color=cmap(i % 20))
            bottom = bottom + vals
        _pe_ticks(ax, list(pes))
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_xlabel("PE")
    ax.set_ylabel("cycles per timestep (mean)")
    ax.set_title("Where the cycles go: phase breakdown per PE")
    return _save(fig, path)


def _energy_unit(joules: float) -> tuple[float, str]:
    for factor, unit in ((1.0, "J"), (1e-3, "mJ"), (1e-6, "µJ"), (1e-9, "nJ")):
        if joules >= factor:
            return factor, unit
    return 1e-12, "pJ"


def energy_plot(run: RunData, path: Path) -> Path:
    """Energy by component (coloured by confidence) and core-active energy by phase."""
    plt = _plt()
    from .tables import energy_rows
    en = run.summary["energy"]
    rows = [r for r in energy_rows(run.summary) if r["joules"] > 0]
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
    y = np.arange(len(rows))
    f0, u0 = _energy_unit(en["total_j"])
    ax0.barh(y, [r["joules"] / f0 for r in rows], color=[CONF_COLORS.get(r["confidence"], "#777") for r in rows])
    for yi, r in zip(y, rows):
        ax0.annotate(f" {100 * r['share']:.1f} %", (r["joules"] / f0, yi), va="center", fontsize=8)
    ax0.set_yticks(y, [r["component"] for r in rows])
    ax0.invert_yaxis()
    ax0.set_xlabel(f"energy ({u0})")
    ax0.set_title(f"Energy by component (total {en['total_j'] / f0:.3f} {u0})")
    from matplotlib.patches import Patch
    ax0.legend(handles=[Patch(color=c, label=k) for k, c in CONF_COLORS.items() if k != "?"], fontsize=8,
               title="confidence", loc="lower right")
    per_phase = sorted((en.get("per_phase_j") or {}).items(), key=lambda kv: -kv[1])
    y = np.arange(len(per_phase))
    f1, u1 = _energy_unit(max((v for _, v in per_phase), default=0.0))
    ax1.barh(y, [v / f1 for _, v in per_phase], color="#4C72B0")
    ax1.set_yticks(y, [k for k, _ in per_phase])
    ax1.invert_yaxis()
    ax1.set_xlabel(f"core-active energy ({u1})")
    ax1.set_title("Core-active energy by phase")
    return _save(fig, path)


def all_plots(run: RunData, out_dir: Path) -> dict[str, Path]:
    """Write every figure into ``out_dir``; name -> path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return {
        "memory": memory_plot(run, out_dir / "memory.png"),
        "latency": latency_heatmap(run, out_dir / "latency_heatmap.png"),
        "phases": phase_plot(run, out_dir / "phases.png"),
        "energy": energy_plot(run, out_dir / "energy.png"),
    }
