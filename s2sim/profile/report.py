"""The run report: PNG figures, two CSV tables and one self-contained ``report.html``.

Everything is rebuilt from a finished run directory (``summary.json`` + ``timesteps.csv``), so
``s2sim report RUN_DIR`` works on any run of this version, and ``s2sim run`` can call
``write_report(out_dir)`` at the end.

Files written into the run directory:
* ``plots/memory.png``, ``plots/latency_heatmap.png``, ``plots/phases.png``, ``plots/energy.png``
* ``memory_regions.csv`` (pe, region, category, bytes, pct) and ``latency_per_pe.csv``
* ``report.html`` (the figures embedded as base64 PNG data URIs; no external files needed)
"""
from __future__ import annotations

import base64
import csv
import html
from pathlib import Path
import shutil
from typing import Any, NamedTuple

from ..outdir import atomic_write_text

from .tables import (CATEGORY_LABELS, RunData, categories_of, energy_overview, energy_rows, fmt_si,
                     latency_overview, latency_rows, load_run, memory_overview, memory_rows, phase_rows,
                     region_rows, simulator_rows, warning_rows)


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def write_report(run_dir: Path | str, plots: bool = True) -> Path:
    """Build the report of a finished run; returns the path of ``report.html``.

    Raises ``RunDirError`` when ``run_dir`` is not a compatible run. Without matplotlib (or with
    ``plots=False``) the HTML has the tables only.
    """
    run = load_run(run_dir)
    try:
        write_csvs(run)
        images: dict[str, Path] = {}
        if plots and matplotlib_available():
            from .plots import all_plots
            images = all_plots(run, run.path / "plots")
        out = run.path / "report.html"
        atomic_write_text(out, render_html(run, images))
    except BaseException:  # a full disk or Ctrl-C half way: no half report (a cut PNG or CSV) is left
        remove_report(run.path)
        raise
    return out


#: what ``write_report`` writes into a run folder: all of it, or none of it
REPORT_FILES = ("report.html", "memory_regions.csv", "latency_per_pe.csv", "plots")


def remove_report(run_dir: Path) -> None:
    """Remove the report's files (never the run's own summary.json / timesteps.csv / checkpoint)."""
    for name in REPORT_FILES:
        target = Path(run_dir) / name
        try:
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        except OSError:
            pass  # gone already, or the folder itself went away: nothing more to undo


def write_csvs(run: RunData) -> None:
    _write_csv(run.path / "memory_regions.csv", region_rows(run.summary),
               ["pe", "region", "category", "bytes", "pct"])
    rows = latency_rows(run)
    if rows:
        _write_csv(run.path / "latency_per_pe.csv", rows, list(rows[0]))


def _write_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)


# ---- HTML ------------------------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{font-size:1.6em;margin-bottom:0} h2{border-bottom:2px solid #4C72B0;padding-bottom:4px;margin-top:32px}
.sub{color:#666;margin-top:4px} table{border-collapse:collapse;margin:8px 0 16px;font-size:.88em}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;white-space:nowrap}
td.l{white-space:normal} th{background:#f3f5f9}
td.l,th.l{text-align:left} .ok{color:#2E7D32;font-weight:600} .warn{color:#C62828;font-weight:600}
.na{color:#999} img{max-width:100%;border:1px solid #eee;margin:8px 0}
.cards{display:flex;gap:12px;flex-wrap:wrap} .card{background:#f3f5f9;border-radius:6px;padding:10px 14px;min-width:150px}
.card b{display:block;font-size:1.3em} .card span{color:#555;font-size:.85em}
.measured{color:#2E7D32}.derived{color:#B8860B}.estimate{color:#C62828}
"""


def escape(x: Any) -> str:
    return html.escape(str(x))


def html_table(headers: list[str], rows: list[list[Any]], left: int = 1, text_last: bool = False) -> str:
    n = len(headers)

    def cls(i: int) -> str:
        return "l" if i < left or (text_last and i == n - 1) else ""
    h = "".join(f'<th class="{cls(i)}">{_e(c)}</th>' for i, c in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{cls(i)}">{c}</td>' for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def inline_image(path: Path | None, alt: str) -> str:
    if path is None or not Path(path).exists():
        return ""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


_e, _table, _img = escape, html_table, inline_image  # short names used in this module


def _card(value: str, label: str) -> str:
    return f'<div class="card"><b>{_e(value)}</b><span>{_e(label)}</span></div>'


def render_html(run: RunData, images: dict[str, Path]) -> str:
    s = run.summary
    mem, lat, en = memory_overview(s), latency_overview(run), energy_overview(s)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>s2sim report: {_e(s['network'])}</title>",
             f"<style>{CSS}</style></head><body>",
             f"<h1>s2sim report: {_e(s['network'])}</h1>",
             f"<p class='sub'>{_e(s.get('arch'))} · s2sim {_e(s.get('s2sim_version'))} · seed {_e(s.get('seed'))} · "
             f"{s.get('pes_used')} PEs · {s.get('samples')} samples / {s.get('timesteps')} timesteps · "
             f"{s.get('sim_time_s', 0):.4f} s simulated in {s.get('wall_time_s', 0):.2f} s · {_e(run.path)}</p>"]
    ts = lat["timestep_ns"]
    cards = [_card(fmt_si(mem["total_bytes"], "B"), "SRAM total"),
             _card(f"{100 * mem['max_pe_bytes'] / max(1, mem['capacity_bytes']):.1f} %", f"fullest PE ({mem['fullest_pe']})"),
             _card(fmt_si(ts["max"], "ns"), f"worst timestep (tick {fmt_si(lat['tick_ns'], 'ns')})"),
             _card("yes" if lat["real_time"] else "NO", "real time"),
             _card(fmt_si(en["total_j"], "J"), "energy total"),
             _card(fmt_si(en["per_sample_j"], "J"), "energy per sample")]
    learning = s.get("learning") or {}
    for k in ("test_accuracy", "valid_accuracy", "train_accuracy"):
        if isinstance(learning.get(k), (int, float)):
            cards.append(_card(f"{100 * learning[k]:.2f} %", k.replace("_", " ")))
            break
    parts.append(f"<div class='cards'>{''.join(cards)}</div>")
    if s.get("notes"):
        parts.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in s["notes"]) + "</ul>")

    # memory
    parts.append("<h2>Memory</h2>")
    parts.append(f"<p>Total {fmt_si(mem['total_bytes'], 'B')} over {len(s['memory']['per_pe'])} PEs; fullest PE "
                 f"{mem['fullest_pe']} uses {fmt_si(mem['max_pe_bytes'], 'B')} of {fmt_si(mem['capacity_bytes'], 'B')}"
                 f" (headroom {fmt_si(mem['headroom_bytes'], 'B')}).</p>")
    if mem["expect"]:
        rows = [[_e(k), _e(v.get("expected")), _e(v.get("measured")),
                 "<span class='ok'>ok</span>" if v.get("ok") else "<span class='warn'>differs</span>"]
                for k, v in mem["expect"].items()]
        parts.append("<p>Expectations stated in the network file:</p>" + _table(["quantity", "expected", "measured", ""], rows))
    parts.append(_img(images.get("memory"), "SRAM per PE"))
    cats = categories_of(s)
    rows = [[r["pe"], f"{r['used_bytes']:,}", f"{r['used_pct']:.1f} %", *[f"{r[c]:,}" for c in cats]]
            for r in memory_rows(s)]
    tot = mem["category_totals_bytes"]
    rows.append(["<b>total</b>", f"<b>{mem['total_bytes']:,}</b>", "", *[f"<b>{tot.get(c, 0):,}</b>" for c in cats]])
    parts.append(_table(["PE", "used B", "% of SRAM", *[CATEGORY_LABELS.get(c, c) + " B" for c in cats]], rows))
    regions = {}
    for r in region_rows(s):
        regions.setdefault((r["region"], r["category"]), []).append(r["bytes"])
    rows = [[_e(name), _e(cat), len(v), f"{min(v):,}", f"{max(v):,}", f"{sum(v):,}"]
            for (name, cat), v in sorted(regions.items(), key=lambda kv: (-sum(kv[1]), kv[0]))]
    parts.append("<details><summary>Regions (all PEs; per-PE rows in memory_regions.csv)</summary>"
                 + _table(["region", "category", "PEs", "min B", "max B", "total B"], rows, left=2) + "</details>")

    # latency
    parts.append("<h2>Latency</h2>")
    parts.append(f"<p>Per timestep the critical PE's time_done: median {fmt_si(ts['median'], 'ns')}, p99 "
                 f"{fmt_si(ts['p99'], 'ns')}, max {fmt_si(ts['max'], 'ns')} at a tick of {fmt_si(lat['tick_ns'], 'ns')}: "
                 f"{'real time' if lat['real_time'] else '<b class=warn>NOT real time</b>'}, slack "
                 f"{fmt_si(lat['realtime_slack_ns'], 'ns')}. Critical PE: {lat['critical_pe']}.</p>")
    band = s["latency"].get("bracket")
    if band:
        rows = [[end, *((fmt_si(band["timestep_ns"][end]["median"], "ns"), fmt_si(band["timestep_ns"][end]["max"], "ns"))
                        if band["timestep_ns"][end] else ("not estimated", "not estimated")),
                 "yes" if band["realtime"][end] else "<b class=warn>no</b>"] for end in ("nominal", "low", "high")]
        parts.append(f"<p>Cycle bracket (docs/fidelity.md): kernels at llvm-mca's nominal figure and at the low and "
                     f"high ends of ARM's Cortex-M4 timing rules on the traced compiled kernels; this run charged "
                     f"<b>{_e(band['cycle_model'])}</b>. <b>{_e(band['verdict'])}</b>.</p>"
                     + _table(["cycle model", "median timestep", "worst timestep", "real time"], rows))
    parts.append(_img(images.get("latency"), "time_done heatmap"))
    warn = warning_rows(s)
    rows = [[_e(w["warning"]), "-" if w["count"] is None else f"{w['count']:,}",
             {"ok": "<span class='ok'>ok</span>", "WARN": "<span class='warn'>WARN</span>"}.get(w["status"], "<span class='na'>not counted</span>"),
             _e(w["meaning"])] for w in warn]
    parts.append("<p>Warnings (sPyNNaker-style provenance):</p>" + _table(["counter", "count", "", "meaning"], rows, text_last=True))
    sim_rows = [[_e(r["counter"]), f"{r['count']:,}", _e(r["meaning"])] for r in simulator_rows(s)]
    if sim_rows:
        parts.append("<p>Simulator (its own bookkeeping, not chip warnings):</p>"
                     + _table(["counter", "count", "meaning"], sim_rows, text_last=True))
    ph = phase_rows(run)
    rows = [[_e(r["phase"]), f"{r['cycles']:,.0f}", f"{100 * r['share']:.1f} %", f"{r['cycles_per_step_pe']:,.1f}",
             fmt_si(r["ns_per_step_busiest_pe"], "ns")] for r in ph]
    parts.append(_img(images.get("phases"), "phase breakdown"))
    parts.append(_table(["phase", "cycles (all PEs)", "share", "cycles / (step, PE)", "ns / step (busiest PE)"], rows))
    rows = [[r["pe"], fmt_si(r["time_done_min_ns"], "ns"), fmt_si(r["time_done_median_ns"], "ns"),
             fmt_si(r["time_done_p99_ns"], "ns"), fmt_si(r["time_done_max_ns"], "ns"), f"{r['busy_cycles_mean']:,.0f}",
             r["critical_ticks"], r["over_tick"]] for r in latency_rows(run)]
    parts.append("<details><summary>Per PE</summary>" + _table(
        ["PE", "min", "median", "p99", "max", "busy cycles / step", "ticks critical", "ticks over tick"], rows)
        + "</details>")

    # energy
    parts.append("<h2>Energy</h2>")
    epoch = (f", {fmt_si(en['per_epoch_j'], 'J')} per epoch of {en['samples_per_epoch']:,} samples"
             if en["per_epoch_j"] is not None else "")
    parts.append(f"<p>Total {fmt_si(en['total_j'], 'J')}, {fmt_si(en['per_sample_j'], 'J')} per sample{epoch}.</p>")
    parts.append(_img(images.get("energy"), "energy breakdown"))
    rows = [[_e(r["component"]), fmt_si(r["joules"], "J"), f"{100 * r['share']:.1f} %", fmt_si(r["per_sample_j"], "J"),
             f"<span class='{_e(r['confidence'])}'>{_e(r['confidence'])}</span>", f"<small>{_e(r['source'])}</small>"]
            for r in energy_rows(s)]
    parts.append(_table(["component", "energy", "share", "per sample", "confidence", "source"], rows, text_last=True))
    if en["not_used"]:
        parts.append("<p>Not in the breakdown: " + "; ".join(f"{_e(k)}: {_e(v)}" for k, v in en["not_used"].items())
                     + ".</p>")
    shares = en["confidence_shares"]
    if shares:
        rows = [[f"<span class='{k}'>{k}</span>", f"{100 * v:.1f} %"] for k, v in shares.items()]
        parts.append("<p>Provenance: share of the total energy resting on each confidence (a component counts at "
                     "its weakest entry):</p>" + _table(["confidence", "share of total"], rows))
    if en["per_phase_j"]:
        rows = [[_e(k), fmt_si(v, "J"), fmt_si(en["per_phase_per_sample_j"][k], "J")] for k, v in en["per_phase_j"].items()]
        parts.append("<p>Core-active (dynamic) energy by phase, each phase's cycles at the level they ran at:</p>"
                     + _table(["phase", "energy", "per sample"], rows))
    dvfs = en["dvfs"]
    if dvfs:
        desc = ", ".join(f"{k}={v}" for k, v in dvfs.items() if k != "choices")
        if dvfs.get("choices"):
            desc += "; level choices (PE·ticks): " + ", ".join(f"{k} {v:,}" for k, v in dvfs["choices"].items())
        parts.append(f"<p>DVFS: {_e(desc)}. PE time per level: "
                     + ", ".join(f"{_e(k)} {v:.4f} s" for k, v in en["pe_time_by_level_s"].items()) + "</p>")

    # traffic and learning
    t = s.get("traffic", {})
    parts.append("<h2>Traffic</h2>" + _table(["quantity", "value"], [[_e(k), f"{v:,}"] for k, v in t.items()
                                                                     if isinstance(v, (int, float))]))
    if s.get("board"):
        from .board_summary import board_html
        parts.append(board_html(s["board"], _e))
    if learning:
        rows = [[_e(k), f"{100 * v:.2f} %" if "accuracy" in k else _e(v)] for k, v in learning.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)]
        parts.append("<h2>Learning</h2>" + _table(["quantity", "value"], rows))
        curve = [x for x in (learning.get("loss_curve") or []) if isinstance(x, (int, float))]
        if curve:
            parts.append("<p>Loss per epoch: " + ", ".join(f"{x:.4f}" for x in curve) + "</p>")
    parts.append("<p class='sub'>Field names and units: traces/README.md. Rebuild with <code>s2sim report "
                 f"{_e(run.path)}</code>.</p></body></html>")
    return "\n".join(parts)


#: ``auto_report`` skips runs whose timesteps.csv is larger than this (the report would take > ~20 s;
#: the gsc default run has 240,000 rows and its report takes ~5 s of CPU).
AUTO_REPORT_MAX_ROWS = 1_000_000


class AutoReport(NamedTuple):
    """What ``auto_report`` did: the report's path (None when not written), one line for the user, and whether
    the report failed (a full disk, a folder made read-only: the caller must say so even when quiet)."""

    path: Path | None
    message: str
    failed: bool = False


def auto_report(out_dir: Path | str) -> AutoReport:
    """What ``s2sim run`` calls at the end.

    Writes the report when matplotlib is importable and the run is small enough to take < ~2 s;
    otherwise says how to build it. A report that cannot be written (disk full, folder made read-only)
    leaves none of its files and is said in that line (``failed``): the run itself is complete.
    """
    out_dir = Path(out_dir)
    if not matplotlib_available():
        return AutoReport(None, f"no report.html (matplotlib missing): pip install matplotlib, then s2sim report "
                                f"{out_dir}")
    csv_path = out_dir / "timesteps.csv"
    if csv_path.exists():
        with open(csv_path, "rb") as fh:
            rows = sum(1 for _ in fh) - 1
        if rows > AUTO_REPORT_MAX_ROWS:
            return AutoReport(None, f"report: large run ({rows:,} timestep rows); build it with s2sim report {out_dir}")
    try:
        path = write_report(out_dir)
    except OSError as err:
        return AutoReport(None, f"report not written: {err.filename or out_dir}: {err.strerror or type(err).__name__}; "
                                f"the run in {out_dir} is complete (rebuild it with: s2sim report {out_dir})", True)
    return AutoReport(path, f"report: {path}")
