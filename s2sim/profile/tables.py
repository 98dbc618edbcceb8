"""Report tables derived from a finished run directory (``summary.json`` + ``timesteps.csv``).

Pure data: no printing, no plotting. ``report.py`` turns these into HTML and PNGs, ``commands.py``
into rich tables; tests check that the books balance here.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .summary import SUMMARY_SCHEMA

#: Display order of SRAM categories (others follow alphabetically) and their labels.
CATEGORY_ORDER = ["weights", "optimizer", "eligibility", "traces", "adjoint", "state", "buffers", "code_stack"]
CATEGORY_LABELS = {
    "weights": "weights", "optimizer": "optimizer state", "eligibility": "eligibility traces",
    "traces": "traces", "adjoint": "adjoint state", "state": "neuron state", "buffers": "buffers",
    "code_stack": "code and stack",
}


class RunDirError(Exception):
    """The directory is not a finished run this version can read (message is one line)."""


@dataclass
class RunData:
    path: Path
    summary: dict[str, Any]
    ts: dict[str, np.ndarray] = field(default_factory=dict)  # timesteps.csv columns

    @property
    def phases(self) -> list[str]:
        return sorted(k[len("cycles_"):] for k in self.ts if k.startswith("cycles_"))


def load_run(run_dir: Path | str) -> RunData:
    """Read a run directory; RunDirError with one clear line when it is not a (compatible) run."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: not a directory")
    path = run_dir / "summary.json"
    if not path.exists():
        raise RunDirError(f"{run_dir}: no summary.json here; not a finished s2sim run directory")
    try:
        summary = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RunDirError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(summary, dict):
        raise RunDirError(f"{path}: expected a JSON object")
    schema = summary.get("schema")
    if schema != SUMMARY_SCHEMA:
        raise RunDirError(f"{path}: summary schema {schema!r} (s2sim {summary.get('s2sim_version', '?')}) "
                          f"is not the schema {SUMMARY_SCHEMA} this s2sim reads; rerun with this version")
    for key in ("memory", "latency", "energy"):
        if key not in summary:
            raise RunDirError(f"{path}: missing the '{key}' section; the run did not finish")
    return RunData(run_dir, summary, read_timesteps(run_dir / "timesteps.csv"))


def read_timesteps(path: Path) -> dict[str, np.ndarray]:
    """``timesteps.csv`` as columns (empty dict when the file is absent)."""
    if not path.exists():
        return {}
    with open(path, newline="") as fh:
        header = next(csv.reader(fh), None)
        has_rows = fh.readline() != ""
    if not header:
        return {}
    # a run that simulated no timestep (e.g. resumed from a finished checkpoint) has only the header
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2) if has_rows else np.zeros((0, len(header)))
    cols: dict[str, np.ndarray] = {}
    for i, name in enumerate(header):
        col = data[:, i]
        cols[name] = col.astype(np.int64) if name in ("timestep", "pe", "packets_in", "packets_out") else col
    return cols


def grid(ts: dict[str, np.ndarray], column: str) -> tuple[np.ndarray, list[int]]:
    """Column as a (timestep x PE) matrix, with the PE ids of its columns."""
    if not ts or column not in ts:
        return np.zeros((0, 0)), []
    pe_ids = np.unique(ts["pe"])
    n_t = int(ts["timestep"].max()) + 1 if ts["timestep"].size else 0
    out = np.zeros((n_t, len(pe_ids)))
    out[ts["timestep"], np.searchsorted(pe_ids, ts["pe"])] = ts[column]
    return out, [int(p) for p in pe_ids]


# ---- memory ------------------------------------------------------------------------------------
def categories_of(summary: dict) -> list[str]:
    seen = set()
    for p in summary["memory"]["per_pe"]:
        seen.update(p.get("categories", {}))
    return [c for c in CATEGORY_ORDER if c in seen] + sorted(seen - set(CATEGORY_ORDER))


def memory_rows(summary: dict) -> list[dict[str, Any]]:
    """Per PE: used bytes, % of capacity, bytes per category."""
    cats = categories_of(summary)
    rows = []
    for p in summary["memory"]["per_pe"]:
        cap = p["capacity_bytes"]
        rows.append({"pe": p["pe"], "used_bytes": p["used_bytes"], "capacity_bytes": cap,
                     "used_pct": 100.0 * p["used_bytes"] / cap if cap else 0.0,
                     "free_bytes": cap - p["used_bytes"],
                     **{c: int(p.get("categories", {}).get(c, 0)) for c in cats}})
    return rows


def region_rows(summary: dict) -> list[dict[str, Any]]:
    """Per (PE, region): bytes, category, % of the PE's SRAM."""
    out = []
    for p in summary["memory"]["per_pe"]:
        cats = p.get("region_categories", {})
        for name, nbytes in p["regions"].items():
            out.append({"pe": p["pe"], "region": name, "category": cats.get(name, "?"), "bytes": int(nbytes),
                        "pct": 100.0 * nbytes / p["capacity_bytes"] if p["capacity_bytes"] else 0.0})
    return out


def memory_overview(summary: dict) -> dict[str, Any]:
    mem = summary["memory"]
    per_pe = mem["per_pe"]
    totals: dict[str, int] = {}
    for p in per_pe:
        for c, b in p.get("categories", {}).items():
            totals[c] = totals.get(c, 0) + int(b)
    fullest = max(per_pe, key=lambda p: p["used_bytes"]) if per_pe else None
    return {"total_bytes": mem["total_bytes"], "max_pe_bytes": mem["max_pe_bytes"],
            "category_totals_bytes": {c: totals[c] for c in categories_of(summary) if c in totals},
            "fullest_pe": fullest["pe"] if fullest else None,
            "capacity_bytes": fullest["capacity_bytes"] if fullest else 0,
            "headroom_bytes": (fullest["capacity_bytes"] - fullest["used_bytes"]) if fullest else 0,
            "expect": summary.get("expect", {})}


# ---- latency -----------------------------------------------------------------------------------
def _stats(v: np.ndarray) -> dict[str, float]:
    if v.size == 0:
        return {"min": 0.0, "median": 0.0, "p99": 0.0, "max": 0.0, "mean": 0.0}
    return {"min": float(v.min()), "median": float(np.median(v)), "p99": float(np.percentile(v, 99)),
            "max": float(v.max()), "mean": float(v.mean())}


def latency_rows(run: RunData) -> list[dict[str, Any]]:
    """Per PE: distribution of time_done (ns), busy cycles per step, ticks it was the critical PE."""
    done, pes = grid(run.ts, "time_done_ns")
    busy, _ = grid(run.ts, "busy_cycles")
    if done.size == 0:
        return []
    crit = np.argmax(done, axis=1)
    tick = run.summary["latency"]["tick_ns"]
    rows = []
    for j, pe in enumerate(pes):
        st = _stats(done[:, j])
        rows.append({"pe": pe, **{f"time_done_{k}_ns": v for k, v in st.items()},
                     "busy_cycles_mean": float(busy[:, j].mean()), "critical_ticks": int((crit == j).sum()),
                     "over_tick": int((done[:, j] > tick).sum())})
    return rows


def phase_rows(run: RunData) -> list[dict[str, Any]]:
    """Per phase: total cycles, mean cycles per (step, PE), share, mean ns per step on the busiest PE."""
    s = run.summary["latency"]
    cyc = s.get("per_phase_cycles", {})
    total = sum(cyc.values()) or 1.0
    ns = s.get("per_phase_ns", {})
    n_rows = max(1, len(run.ts.get("timestep", [])))
    return sorted(({"phase": k, "cycles": v, "share": v / total, "ns_per_step_busiest_pe": ns.get(k, 0.0),
                    "cycles_per_step_pe": v / n_rows} for k, v in cyc.items()), key=lambda r: -r["cycles"])


def latency_overview(run: RunData) -> dict[str, Any]:
    lat = run.summary["latency"]
    ts = lat["timestep_ns"]
    return {"tick_ns": lat["tick_ns"], "timestep_ns": ts, "critical_pe": lat.get("critical_pe"),
            "realtime_slack_ns": lat.get("realtime_slack_ns", lat["tick_ns"] - ts["max"]),
            "real_time": ts["max"] <= lat["tick_ns"], "timesteps": run.summary.get("timesteps")}


#: sPyNNaker-style provenance warnings: (field, where, what it means)
WARNINGS = [
    ("timer_overruns", "diagnostics", "timer tick fired while the previous tick's callback was still queued or running"),
    ("task_queue_full", "diagnostics", "a callback could not be queued (task queue full)"),
    ("tx_queue_full", "diagnostics", "a send stalled the core (TX queue full)"),
    ("dma_queue_full", "diagnostics", "a DMA request was refused (DMA queue full)"),
    ("dropped", "traffic", "packets dropped (multicast routing table miss)"),
    ("copies_undelivered", "traffic", "packet copies that reached a PE without firmware or were still in flight"),
    ("late_packets", "diagnostics", "packets arriving in a later timestep of the receiver than the one they were sent in"),
]


def warning_rows(summary: dict) -> list[dict[str, Any]]:
    out = []
    for name, section, meaning in WARNINGS:
        value = (summary.get(section) or {}).get(name)
        out.append({"warning": name, "count": value, "meaning": meaning,
                    "status": "n/a" if value is None else ("ok" if value == 0 else "WARN")})
    app = summary.get("app") or {}
    for name in ("late_learning",):
        if name in app and isinstance(app[name], (int, float)):
            out.append({"warning": name, "count": app[name], "meaning": "reported by the application",
                        "status": "ok" if app[name] == 0 else "WARN"})
    return out


def chip_warnings(summary: dict) -> dict[str, int]:
    """The warnings the chip raised (non-zero counters of ``warning_rows``): the console and the report agree."""
    return {w["warning"]: w["count"] for w in warning_rows(summary) if w["status"] == "WARN"}


#: the simulator's own bookkeeping, never a chip warning: (counter, what it means)
SIMULATOR_COUNTERS = [
    ("late_packet_recomputes", "the shared (batched) group computation redone for one PE because a packet "
     "arrived after the group had stepped; costs simulator wall time, changes no result or timing"),
]


def simulator_rows(summary: dict) -> list[dict[str, Any]]:
    """Counters of the simulator itself (``summary["simulator"]``, or older runs' app section)."""
    where = summary.get("simulator") or summary.get("app") or {}
    return [{"counter": name, "count": where[name], "meaning": meaning}
            for name, meaning in SIMULATOR_COUNTERS if isinstance(where.get(name), (int, float))]


# ---- energy ------------------------------------------------------------------------------------
def _confidence_of_component(summary: dict) -> dict[str, str]:
    rank = {"measured": 0, "derived": 1, "estimate": 2}
    out = {}
    for comp, entries in (summary["energy"].get("provenance") or {}).items():
        confs = [e.get("confidence", "estimate") for e in entries] or ["estimate"]
        out[comp] = max(confs, key=lambda c: rank.get(c, 2))
    return out


def energy_rows(summary: dict) -> list[dict[str, Any]]:
    """Per component: joules, share, per sample, and the weakest confidence it rests on."""
    en = summary["energy"]
    total = en["total_j"] or 1.0
    samples = max(1, summary.get("samples") or 1)
    conf = _confidence_of_component(summary)
    sources = {c: "; ".join(dict.fromkeys(f"{e['param']} = {e['value']} ({e['source']})" for e in entries))
               for c, entries in (en.get("provenance") or {}).items()}
    return sorted(({"component": c, "joules": j, "share": j / total, "per_sample_j": j / samples,
                    "confidence": conf.get(c, "?"), "source": sources.get(c, "")}
                   for c, j in en["breakdown_j"].items()), key=lambda r: -r["joules"])


def samples_per_epoch(summary: dict) -> int | None:
    """Training samples in one epoch, from the resolved config (dataset.n_train) when known."""
    learning = summary.get("learning") or {}
    ds = (learning.get("dataset") or {}).get("summary")
    if isinstance(ds, dict):
        for key in ("train", "n_train"):
            if isinstance(ds.get(key), int):
                return ds[key]
    n = ((summary.get("config") or {}).get("dataset") or {}).get("n_train")
    return int(n) if isinstance(n, int) and n > 0 else None


def energy_overview(summary: dict) -> dict[str, Any]:
    en = summary["energy"]
    spe = samples_per_epoch(summary) if "learning" in summary else None
    per_phase = en.get("per_phase_j", {})
    samples = max(1, summary.get("samples") or 1)
    return {"total_j": en["total_j"], "per_sample_j": en["per_sample_j"],
            "samples_per_epoch": spe, "per_epoch_j": en["per_sample_j"] * spe if spe else None,
            "confidence_shares": en.get("confidence_shares", {}), "not_used": en.get("not_used", {}),
            "per_phase_j": dict(sorted(per_phase.items(), key=lambda kv: -kv[1])),
            "per_phase_per_sample_j": {k: v / samples for k, v in per_phase.items()},
            "dvfs": en.get("dvfs", {}), "pe_time_by_level_s": en.get("pe_time_by_level_s", {})}


# ---- compare -----------------------------------------------------------------------------------
def _get(d: dict, path: str):
    for part in path.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


#: (section, label, dotted path into summary.json, unit, lower-is-better)
COMPARE_METRICS = [
    ("run", "PEs used", "pes_used", "", True),
    ("run", "samples", "samples", "", None),
    ("run", "timesteps", "timesteps", "", None),
    ("memory", "total", "memory.total_bytes", "B", True),
    ("memory", "fullest PE", "memory.max_pe_bytes", "B", True),
    ("memory", "headroom (fullest PE)", "memory.headroom_bytes", "B", False),
    ("latency", "timestep median", "latency.timestep_ns.median", "ns", True),
    ("latency", "timestep p99", "latency.timestep_ns.p99", "ns", True),
    ("latency", "timestep max", "latency.timestep_ns.max", "ns", True),
    ("latency", "real-time slack", "latency.realtime_slack_ns", "ns", False),
    ("latency", "critical PE", "latency.critical_pe", "", None),
    ("latency", "timer overruns", "diagnostics.timer_overruns", "", True),
    ("energy", "total", "energy.total_j", "J", True),
    ("energy", "per sample", "energy.per_sample_j", "J", True),
    ("traffic", "packets", "traffic.packets", "", True),
    ("traffic", "dropped", "traffic.dropped", "", True),
    ("learning", "train accuracy", "learning.train_accuracy", "", False),
    ("learning", "valid accuracy", "learning.valid_accuracy", "", False),
    ("learning", "test accuracy", "learning.test_accuracy", "", False),
]


def compare_rows(a: dict, b: dict) -> list[dict[str, Any]]:
    """What changed from run A to run B: one row per metric present in either."""
    rows = []
    metrics = []
    for m in COMPARE_METRICS:
        metrics.append(m)
        if m[2] == "energy.per_sample_j":
            for comp in sorted(set(a["energy"]["breakdown_j"]) | set(b["energy"]["breakdown_j"])):
                metrics.append(("energy", f"  {comp}", f"energy.breakdown_j.{comp}", "J", True))
        elif m[2] == "latency.critical_pe":
            for phase in sorted(set(a["latency"].get("per_phase_ns", {})) | set(b["latency"].get("per_phase_ns", {}))):
                metrics.append(("latency", f"  phase {phase} (ns/step)", f"latency.per_phase_ns.{phase}", "ns", True))
    for section, label, path, unit, lower_better in metrics:
        va, vb = _get(a, path), _get(b, path)
        if va is None and vb is None:
            continue
        if path == "memory.headroom_bytes":
            va = va if va is not None else _headroom(a)
            vb = vb if vb is not None else _headroom(b)
        delta = rel = None
        if isinstance(va, (int, float)) and isinstance(vb, (int, float)):
            delta = vb - va
            rel = (delta / abs(va)) if va else (0.0 if not delta else math.inf)
        better = None
        if delta and lower_better is not None:
            better = (delta < 0) == lower_better
        rows.append({"section": section, "metric": label, "path": path, "unit": unit, "a": va, "b": vb,
                     "delta": delta, "rel": rel, "better": better})
    for key in sorted(set(_flat_config(a)) | set(_flat_config(b))):
        ca, cb = _flat_config(a).get(key), _flat_config(b).get(key)
        if ca != cb:
            rows.append({"section": "config", "metric": key, "path": f"config.{key}", "unit": "", "a": ca,
                         "b": cb, "delta": None, "rel": None, "better": None})
    return rows


def different_networks(a: dict, b: dict) -> str | None:
    """A warning when two runs are of different networks (their numbers then answer different questions)."""
    na, nb = a.get("network"), b.get("network")
    fa, fb = (a.get("config") or {}).get("firmware", {}).get("package"), (b.get("config") or {}).get("firmware", {}).get("package")
    if na != nb or fa != fb:
        return (f"A and B are different networks (A: {na}, {fa}; B: {nb}, {fb}): differences are not "
                "the effect of one setting")
    return None


def _headroom(s: dict):
    per = s["memory"]["per_pe"]
    if not per:
        return None
    f = max(per, key=lambda p: p["used_bytes"])
    return f["capacity_bytes"] - f["used_bytes"]


def _flat_config(s: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}

    def walk(d, pre):
        for k, v in d.items():
            if isinstance(v, dict) and "value" in v and "source" in v:  # an arch leaf: its value is what ran
                out[f"{pre}{k}"] = v["value"] if not isinstance(v["value"], list) else json.dumps(v["value"])
            elif isinstance(v, dict):
                walk(v, f"{pre}{k}.")
            else:
                out[f"{pre}{k}"] = v if not isinstance(v, list) else json.dumps(v)
    walk(s.get("config") or {}, prefix)
    if "dvfs" in s.get("energy", {}):
        out["energy.dvfs.policy"] = s["energy"]["dvfs"].get("policy")
    return out


def fmt_si(value: Any, unit: str = "") -> str:
    """Human formatting: 1234567 B -> '1.23 MB', 0.0021 J -> '2.10 mJ', 28090 ns -> '28.09 µs'."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if unit == "ns":
        v = abs(value)
        if v >= 1e6:
            return f"{value / 1e6:.3f} ms"
        if v >= 1e3:
            return f"{value / 1e3:.2f} µs"
        return f"{value:.1f} ns"
    if unit == "B":
        return f"{int(value):,} B"
    if unit == "J":
        v = abs(value)
        for scale, pre in ((1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p")):
            if v >= scale:
                return f"{value / scale:.3f} {pre}J"
        return f"{value:.3g} J"
    if isinstance(value, float):
        if 0 < abs(value) <= 1 and unit == "":
            return f"{value:.4g}"
        return f"{value:,.4g}"
    return f"{value:,}"
