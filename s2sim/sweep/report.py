"""A sweep's outputs: results.csv/parquet, PNG plots (the study's + the Pareto front), study.html.

Everything is rebuilt from ``DIR/study.json`` and the point directories, so ``s2sim report DIR``
on a sweep directory gives the same files as the sweep itself wrote.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..outdir import atomic_write_text
from ..profile.plots import pyplot as _plt
from ..profile.plots import save_figure as _save
from ..profile.report import CSS, matplotlib_available
from ..profile.report import escape as _e
from ..profile.report import html_table as _table
from ..profile.report import inline_image as _img
from ..profile.tables import fmt_si
from .results import STUDY_JSON, collect_rows, write_tables
from .study import PARETO_X, PARETO_Y, PlotSpec, Study

__all__ = ["is_sweep_dir", "load_sweep", "write_study_outputs", "pareto_plot", "study_plot"]



def is_sweep_dir(path: str | Path) -> bool:
    return (Path(path) / STUDY_JSON).is_file()


def load_sweep(out_dir: str | Path) -> Study:
    return Study.from_json(json.loads((Path(out_dir) / STUDY_JSON).read_text()))


def write_study_outputs(out_dir: str | Path, plots: bool = True) -> dict[str, Any]:
    """(Re)write results.csv/parquet, plots/*.png and study.html; return the rows and paths."""
    out_dir = Path(out_dir)
    study = load_sweep(out_dir)
    rows = collect_rows(study, out_dir)
    tables = write_tables(rows, out_dir)
    images: dict[str, Path] = {}
    if plots and matplotlib_available():
        plot_dir = out_dir / "plots"
        plot_dir.mkdir(exist_ok=True)
        images["Pareto front: energy per sample vs max timestep"] = pareto_plot(rows, plot_dir / "pareto.png", study.axis_names)
        for i, spec in enumerate(study.plots):
            name = _slug(f"{i}_{spec.y}_vs_{spec.x}")
            images[spec.title or f"{spec.y} vs {spec.x}"] = study_plot(rows, spec, plot_dir / f"{name}.png")
    html_path = out_dir / "study.html"
    atomic_write_text(html_path, render_html(study, rows, images))
    return {"rows": rows, "tables": tables, "plots": list(images.values()), "html": html_path}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")


def _scaled(column: str) -> tuple[float, str]:
    """Plot scale and axis label: ns -> µs, J -> mJ, bytes -> KiB."""
    if column.endswith("_ns") or ".timestep_ns." in column or column.startswith("latency.timestep_ns"):
        return 1e-3, f"{column} [µs]"
    if column.endswith("_j"):
        return 1e3, f"{column} [mJ]"
    if column.endswith("_bytes"):
        return 1 / 1024, f"{column} [KiB]"
    return 1.0, column


def _ok(rows: list[dict[str, Any]], *columns: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["status"] == "ok" and all(_number(r.get(c)) is not None for c in columns)]


def _number(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def pareto_plot(rows: list[dict[str, Any]], path: Path, axis_names: list[str] = ()) -> Path:
    """Every complete point by (max timestep, energy per sample); the non-dominated ones marked
    and labelled with their axis values (the point id when the study has no axes)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    sx, xlabel = _scaled(PARETO_X)
    sy, ylabel = _scaled(PARETO_Y)
    ok = _ok(rows, PARETO_X, PARETO_Y)
    ax.scatter([r[PARETO_X] * sx for r in ok], [r[PARETO_Y] * sy for r in ok], c="#8899AA", label="point")
    front = sorted((r for r in ok if r["pareto"]), key=lambda r: r[PARETO_X])
    if front:
        ax.plot([r[PARETO_X] * sx for r in front], [r[PARETO_Y] * sy for r in front], "o-", c="#C62828",
                label="Pareto front (non-dominated)")
        for r in front:
            label = ", ".join(f"{a.rsplit('.', 1)[-1]}={r.get(a)}" for a in axis_names) or r["point"][:8]
            ax.annotate(label, (r[PARETO_X] * sx, r[PARETO_Y] * sy), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title("lower-left is better")
    ax.legend(fontsize=8)
    ax.grid(alpha=.3)
    return _save(fig, path)


def study_plot(rows: list[dict[str, Any]], spec: PlotSpec, path: Path) -> Path:
    """``y`` against ``x``, one line per ``colour`` value; failed points are left out."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    sx, xlabel = _scaled(spec.x)
    sy, ylabel = _scaled(spec.y)
    ok = [r for r in rows if r["status"] == "ok" and _number(r.get(spec.y)) is not None]
    groups: dict[Any, list[dict[str, Any]]] = {}
    for r in ok:
        groups.setdefault(r.get(spec.colour) if spec.colour else None, []).append(r)
    numeric_x = all(_number(r.get(spec.x)) is not None for r in ok)
    for key, members in groups.items():
        members = sorted(members, key=lambda r: _number(r.get(spec.x)) if numeric_x else str(r.get(spec.x)))
        xs = [_number(r[spec.x]) * sx if numeric_x else str(r[spec.x]) for r in members]
        label = f"{spec.colour} = {key}" if spec.colour else None
        ax.plot(xs, [float(r[spec.y]) * sy for r in members], "o-", label=label)
    if spec.colour and groups:
        ax.legend(fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if spec.logx:
        ax.set_xscale("log")
    if spec.logy:
        ax.set_yscale("log")
    if spec.title:
        ax.set_title(spec.title)
    ax.grid(alpha=.3)
    return _save(fig, path)


def _cell(column: str, value: Any) -> str:
    if value is None:
        return '<span class="na">–</span>'
    if isinstance(value, bool):
        return "yes" if value else ""
    numeric = isinstance(value, (int, float))
    if numeric and (column.endswith("_ns") or ".timestep_ns." in column):
        return _e(f"{float(value) / 1e3:,.1f} µs")
    if numeric and column.endswith("_j"):
        return _e(fmt_si(float(value), "J"))
    if numeric and column.endswith("_bytes"):
        return _e(f"{int(value):,} B")
    if isinstance(value, float):
        return _e(f"{value:.4g}")
    return _e(value)


def render_html(study: Study, rows: list[dict[str, Any]], images: dict[str, Path]) -> str:
    """One self-contained page: what varied, the table (with links to each point's report), plots."""
    n_ok = sum(r["status"] == "ok" for r in rows)
    n_failed = sum(r["status"] == "failed" for r in rows)
    axes_rows = [[_e(name), _e(", ".join(dict.fromkeys(json.dumps(p.axes.get(name)) for p in study.points)))]
                 for name in study.axis_names]
    columns = study.axis_names + study.metrics + ["wall_time_s", "pareto", "status"]
    table_rows = []
    for r in rows:
        link = (f'<a href="{_e(r["report"])}">{_e(r["point"])}</a>' if r.get("report") else _e(r["point"]))
        cells = [link] + [_cell(c, r.get(c)) for c in columns]
        if r["status"] != "ok":
            cells[-1] = f'<span class="estimate">{_e(r["status"])}</span>'
        table_rows.append(cells)
    errors = [[_e(r["point"]), _e(r["error"])] for r in rows if r.get("error")]
    figures = "".join(f"<h3>{_e(title)}</h3>{_img(path, title)}" for title, path in images.items())
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>s2sim study: {_e(study.name)}</title><style>{CSS}</style></head>
<body>
<h1>s2sim study: {_e(study.name)}</h1>
<p>{_e(study.description)}</p>
<p>base network <code>{_e(study.network)}</code>; {len(rows)} points: {n_ok} ok, {n_failed} failed,
{len(rows) - n_ok - n_failed} not run.</p>
<h2>Axes</h2>
{_table(["axis (--set path)", "values"], axes_rows, left=2)}
<h2>Results</h2>
<p>One row per point; the point id links to that run's report. Pareto = not beaten on both
max timestep and energy per sample by another point.</p>
<div style="overflow-x:auto">{_table(["point"] + columns, table_rows)}</div>
{"<h2>Errors</h2>" + _table(["point", "error"], errors, left=2) if errors else ""}
<h2>Plots</h2>
{figures or '<p class="na">no plots (matplotlib missing or no complete points)</p>'}
</body></html>
"""
