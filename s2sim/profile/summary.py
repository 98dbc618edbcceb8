"""Build ``summary.json`` (the contract other tools read, DESIGN §6) and ``timesteps.csv``.

Everything here is computed after a run from the machine (``Simulation.machine``: its counters
record and per-timestep stats, ``s2sim/machine.py``); nothing is measured with the
wall clock except ``wall_time_s``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..outdir import atomic_write_text
from ..energy import active_pj, energy_breakdown_j, provenance_shares, unused_components
from ..sim import Simulation
from .board_summary import board_section
from .bracket import latency_bracket
from .csv_text import write_numeric_csv

SUMMARY_SCHEMA = 1


def memory_section(sim: Simulation) -> dict[str, Any]:
    per_pe = []
    for pe_id in sim.used_pes:
        sram = sim.machine.pes[pe_id].sram
        per_pe.append({
            "pe": pe_id, "used_bytes": sram.used_bytes, "capacity_bytes": sram.capacity_bytes,
            "regions": {r.name: r.nbytes for r in sram.regions.values()},
            "categories": sram.by_category(),
            # added for the memory report (profiler): region -> category, and free bytes
            "region_categories": {r.name: r.category for r in sram.regions.values()},
            "free_bytes": sram.free_bytes,
        })
    used = [p["used_bytes"] for p in per_pe]
    out = {"per_pe": per_pe, "total_bytes": int(sum(used)), "max_pe_bytes": int(max(used, default=0))}
    # added (profiler): bytes per category over all used PEs; the fullest PE and its headroom
    totals: dict[str, int] = {}
    for p in per_pe:
        for cat, nbytes in p["categories"].items():
            totals[cat] = totals.get(cat, 0) + int(nbytes)
    out["category_totals_bytes"] = totals
    if per_pe:
        fullest = max(per_pe, key=lambda p: p["used_bytes"])
        out["fullest_pe"] = fullest["pe"]
        out["headroom_bytes"] = int(fullest["capacity_bytes"] - fullest["used_bytes"])
    return out


def _stats(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {"min": 0.0, "median": 0.0, "p99": 0.0, "max": 0.0}
    return {"min": float(values.min()), "median": float(np.median(values)),
            "p99": float(np.percentile(values, 99)), "max": float(values.max())}


def latency_section(sim: Simulation, tick_ns: float, rows: slice | None = None) -> dict[str, Any]:
    """Per-timestep latency = the critical (slowest) PE's ``time_done`` in that timestep."""
    stats = sim.machine.stats
    rows = rows or slice(0, stats.n_rows)
    pes = sim.used_pes
    done = stats.time_done_ns[rows][:, pes]
    per_step = done.max(axis=1) if done.size else np.zeros(0)
    # a tick some PE never ran (its callback dropped from a full queue, or still queued or running
    # when the run stopped) has no lag: left out of min/median/p99 and counted (the lag rule)
    not_run = _ticks_not_run(sim, pes)
    first = rows.start or 0
    ran = np.array([first + i not in not_run for i in range(len(per_step))], bool)
    ns_per_cycle = _ns_per_cycle(sim, rows, pes)
    n_steps = max(1, done.shape[0])
    per_phase_ns = {}
    per_phase_cycles = {}
    for phase, arr in sorted(stats.phase_cycles.items()):
        cyc = arr[rows][:, pes]
        per_phase_cycles[phase] = float(cyc.sum())
        # mean over timesteps of the busiest PE's time in this phase, each timestep at its own level
        ns = cyc * ns_per_cycle
        per_phase_ns[phase] = float(ns.max(axis=1).sum() / n_steps) if ns.size else 0.0
    slowest = done.max(axis=0) if done.size else np.zeros(len(pes))
    if pes:  # timesteps past run.record_timesteps only update the per-PE maximum
        slowest = np.maximum(slowest, stats.beyond_max_done_ns[pes])
    critical = int(pes[int(np.argmax(slowest))]) if pes else None
    timestep = _stats(per_step[ran] if ran.any() else per_step)
    timestep["max"] = max(timestep["max"], float(per_step.max()) if per_step.size else 0.0,
                          float(slowest.max()) if pes else 0.0)
    overruns = sim.machine.counters.total("timer_overruns", pes)
    return {
        "tick_ns": tick_ns,
        "timestep_ns": timestep,
        "timesteps_recorded": int(done.shape[0]),
        "timesteps_total": int(stats.rows_seen),
        "timesteps_not_run": int((~ran).sum()),
        "per_phase_ns": per_phase_ns,
        "per_phase_cycles": per_phase_cycles,
        "critical_pe": critical,
        "realtime_slack_ns": float(tick_ns - timestep["max"]),
        "overruns": overruns,
        "bracket": latency_bracket(sim, tick_ns, rows, done, ns_per_cycle, _stats, overruns, timestep),
    }


def _ticks_not_run(sim: Simulation, pes: list[int]) -> set[int]:
    """Ticks whose timer callback some used PE dropped or had not finished when the run stopped."""
    used = set(pes)
    out = {row for row, pe in sim.machine.stats.not_run if pe in used}
    for p in pes:
        out.update(sim.machine.pes[p].ticks_not_finished())
    return out


def _ns_per_cycle(sim: Simulation, rows: slice, pes: list[int]) -> np.ndarray:
    """[timestep, PE] cycle time of the level each PE ran each recorded timestep at (DVFS changes it)."""
    stats = sim.machine.stats
    known = np.array([sim.hw.perf_level(name).ns_per_cycle if name else np.nan for name in stats.level_names]
                     + [np.nan])  # index -1: no record (no cycles either)
    npc = known[stats.level_of[rows][:, pes]]
    fallback = np.array([sim.machine.pes[p].level.ns_per_cycle for p in pes])
    return np.where(np.isnan(npc), fallback, npc)


def energy_section(sim: Simulation, end_ns: float, samples: int, arch) -> dict[str, Any]:
    breakdown = energy_breakdown_j(sim.machine, end_ns)
    total = sum(breakdown.values())
    provenance = {}
    shares = {}
    if arch is not None:
        prov = arch.provenance()
        confidence_of = {k: v.confidence for k, v in prov.items()}
        levels = sorted({lvl for p in sim.used_pes for lvl in sim.machine.pes[p].close_levels(end_ns)})
        shares = provenance_shares(breakdown, confidence_of, levels)
        from ..energy import COMPONENT_SOURCES
        for comp, paths in COMPONENT_SOURCES.items():
            if comp not in breakdown:
                continue
            provenance[comp] = [
                {"param": path, "value": prov[path].value, "source": prov[path].source,
                 "confidence": prov[path].confidence}
                for tmpl in paths for lvl in levels for path in [tmpl.format(level=lvl)] if path in prov]
    out = {"total_j": total, "per_sample_j": total / max(1, samples), "breakdown_j": breakdown,
           "not_used": unused_components(sim.machine), "confidence_shares": shares, "provenance": provenance}
    out.update(energy_extras(sim, end_ns))
    return out


def energy_extras(sim: Simulation, end_ns: float) -> dict[str, Any]:
    """Added (profiler): core-active energy by phase, time per performance level, DVFS policy.

    ``per_phase_j``: each phase's cycles x the dynamic energy per cycle of the level they ran at
    (all callbacks incl. ``start``), summed over PEs; adds up to ``breakdown_j.core_active``.
    """
    per_phase: dict[str, float] = {}
    level_s: dict[str, float] = {}
    machine = sim.machine
    for pe_id in sim.used_pes:
        pe = machine.pes[pe_id]
        for lvl, phases in machine.stats.phase_totals_by_level(pe_id).items():
            pj_per_cycle = sim.hw.perf_level(lvl).active_energy_per_cycle_pj
            for phase, cyc in phases.items():
                per_phase[phase] = per_phase.get(phase, 0.0) + cyc * pj_per_cycle * 1e-12
        for lvl, ns in pe.close_levels(end_ns).items():
            level_s[lvl] = level_s.get(lvl, 0.0) + ns * 1e-9
    out: dict[str, Any] = {"per_phase_j": per_phase, "pe_time_by_level_s": level_s}
    policy = machine.dvfs_policy
    if policy is not None:
        out["dvfs"] = policy.describe() if hasattr(policy, "describe") else {"policy": type(policy).__name__}
    else:
        out["dvfs"] = {"policy": "fixed", "level": machine.perf_level_name}
    return out


def traffic_section(sim: Simulation) -> dict[str, Any]:
    c = sim.machine.counters
    received = c.total("packets_received")
    return {"packets": c.total("packets_sent"),
            "deliveries": received,
            "packet_hops": c.total("packet_hops"), "dropped": c.total("dropped_packets"),
            "dma_bytes": c.total("dma_bytes"),
            # added (profiler): a send enters the NoC once (packets_routed == packets); a multicast
            # send to k PEs makes k copies; copies = deliveries + copies_undelivered
            # (undelivered: copies reaching a PE without firmware, or still in flight at the end)
            "packets_routed": c.total("packets_routed"),
            "copies": c.total("deliveries"),
            "copies_undelivered": c.total("deliveries") - received}


def pes_section(sim: Simulation, end_ns: float) -> list[dict[str, Any]]:
    """Added (profiler): per-PE activity counters (one entry per used PE)."""
    out = []
    machine = sim.machine
    c = machine.counters
    for pe_id in sim.used_pes:
        pe = machine.pes[pe_id]
        out.append({"pe": pe_id, "callbacks": int(c.callbacks[pe_id]), "active_cycles": float(c.active_cycles(pe_id)),
                    "active_j": active_pj(machine.p, c.cycles_by_level[pe_id]) * 1e-12,
                    "packets_sent": int(c.packets_sent[pe_id]), "packets_received": int(c.packets_received[pe_id]),
                    "dma_bytes": int(c.dma_bytes[pe_id]),
                    "phase_cycles": dict(pe.phase_cycles_total),
                    "time_by_level_ns": pe.close_levels(end_ns)})
    return out


def diagnostics_section(sim: Simulation) -> dict[str, Any]:
    c, pes = sim.machine.counters, sim.used_pes
    out = {name: c.total(name, pes) for name in _PER_PE_DIAGNOSTICS}
    out["dma_queue_full"] = c.total("dma_queue_full", pes)
    out["late_packets"] = c.total("late_packets", pes)  # added (profiler)
    out["dropped_packets"] = c.total("dropped_packets")
    # work queued or running when the run stopped: counted, never dropped silently (its phase cycles
    # and busy cycles are already in the totals; a timer tick here fired but its callback never finished)
    end_ns = sim.env.now
    left = [sim.machine.pes[p].work_left(end_ns) for p in pes]
    out["work_left_at_end"] = {k: int(sum(w[k] for w in left)) for k in ("timer_ticks", "tasks", "handlers",
                                                                           "dma_requests")}
    # overridden arch parameters no model read: the override changed nothing (shown as a warning)
    out["unused_overrides"] = sim.hw.unread_overrides()
    per_pe = {str(p): {k: getattr(c, k)[p] for k in _PER_PE_DIAGNOSTICS} for p in pes}
    out["per_pe"] = {p: counts for p, counts in per_pe.items() if any(counts.values())}
    return out


#: Counters the diagnostics report per PE (where any is non-zero).
_PER_PE_DIAGNOSTICS = ("timer_overruns", "task_queue_full", "tx_queue_full")


def build_summary(sim: Simulation, *, network: str, arch_name: str, config: dict, seed: int,
                  samples: int, timesteps: int, tick_ns: float, wall_time_s: float, arch=None,
                  learning: dict | None = None, extra: dict | None = None,
                  notes: list[str] | None = None) -> dict[str, Any]:
    end_ns = sim.env.now
    summary = {
        "schema": SUMMARY_SCHEMA, "s2sim_version": __version__, "network": network, "arch": arch_name,
        "config": config, "seed": seed, "pes_used": len(sim.used_pes), "pe_ids": sim.used_pes,
        "samples": samples, "timesteps": timesteps, "sim_time_s": end_ns * 1e-9,
        "wall_time_s": wall_time_s, "noc_fidelity": sim.machine.fidelity,
        "memory": memory_section(sim),
        "latency": latency_section(sim, tick_ns),
        "energy": energy_section(sim, end_ns, samples, arch),
        "traffic": traffic_section(sim),
        "diagnostics": diagnostics_section(sim),
        "notes": notes or [],
        "pes": pes_section(sim, end_ns),  # added (profiler)
    }
    board = board_section(sim, tick_ns, end_ns)
    if board is not None:  # a board of several chips (a one-chip summary has no ``board``)
        summary["board"] = board
    if learning is not None:
        summary["learning"] = learning
    if extra:
        summary["app"] = extra
    return summary


def write_timesteps_csv(sim: Simulation, path: Path) -> None:
    """One row per (timestep, PE): time_done_ns, packets in/out, cycles per phase.

    Each [timestep, PE] array is flattened once and formatted in bulk (``csv_text``): floats print
    as ``repr`` (exact round trip), a column whose values are all whole numbers (cycle counts,
    mostly) as integers, the same number and far cheaper to format.
    """
    stats = sim.machine.stats
    phases = sorted(stats.phase_cycles)
    pes = np.asarray(sim.used_pes, dtype=np.intp)
    n = stats.n_rows

    def column(array: np.ndarray) -> np.ndarray:
        return array[:n][:, pes].ravel()

    columns = [np.repeat(np.arange(n), len(pes)), np.tile(pes, n),
               column(stats.time_done_ns), column(stats.packets_in), column(stats.packets_out),
               column(stats.busy_cycles), *[column(stats.phase_cycles[p]) for p in phases]]
    write_numeric_csv(path, ["timestep", "pe", "time_done_ns", "packets_in", "packets_out", "busy_cycles",
                             *[f"cycles_{p}" for p in phases]], columns)


def write_json_atomic(obj: Any, path: Path) -> None:
    """Write strict JSON via a temp file + rename so a crash never leaves a half summary looking complete.

    NaN and Inf (a diverged loss, an empty average) are written as ``null``: bare ``NaN`` is not JSON and
    breaks every reader but Python's.
    """
    text = json.dumps(finite_or_null(obj), indent=2, sort_keys=True, default=_json_default, allow_nan=False)
    atomic_write_text(path, text + "\n")


def finite_or_null(obj: Any) -> Any:
    """``obj`` with every non-finite float (Python or numpy) replaced by None, containers copied."""
    if isinstance(obj, dict):
        return {k: finite_or_null(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_null(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return finite_or_null(obj.tolist())
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _json_default(o: Any):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
