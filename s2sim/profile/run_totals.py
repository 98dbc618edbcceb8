"""Run totals carried across an interruption, so a resumed run's summary covers the whole run.

A resumed run starts a fresh simulation: its counters begin at zero. The app therefore stores
``totals_so_far(...)`` in every checkpoint (JSON-able, small) and hands the totals it resumed
from to the summary (``AppResult.carried``); ``merge_carried`` adds them in. What adds up
(samples, timesteps, simulated and wall time, energy by component, traffic, diagnostics
counters) is merged; the timestep-latency maximum is the larger of the two parts; what cannot be
merged from totals (latency median/p99, per-phase means, timesteps.csv, the per-PE tables) is
named in ``resume.covers_only_resumed_part``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["totals_so_far", "add_totals", "merge_carried", "NOT_MERGED"]

TOTALS_VERSION = 1

#: summary fields that still describe only the part simulated after the last resume
NOT_MERGED = ["latency.timestep_ns.min", "latency.timestep_ns.median", "latency.timestep_ns.p99",
              "latency.per_phase_ns", "latency.per_phase_cycles", "energy.per_phase_j",
              "energy.pe_time_by_level_s", "pes", "timesteps.csv"]

_TRAFFIC = ("packets", "deliveries", "packet_hops", "dropped", "dma_bytes", "packets_routed",
            "copies", "copies_undelivered")


def totals_so_far(sim, samples: int, timesteps: int, wall_time_s: float = 0.0,
                  carried: dict | None = None) -> dict[str, Any]:
    """Additive totals of this simulation so far, plus what earlier parts of the run ``carried``."""
    from ..energy import energy_breakdown_j
    from .summary import diagnostics_section, traffic_section
    end_ns = sim.env.now
    breakdown = {k: float(v) for k, v in energy_breakdown_j(sim.machine, end_ns).items()}
    traffic = traffic_section(sim)
    diagnostics = {k: int(v) for k, v in diagnostics_section(sim).items() if isinstance(v, (int, np.integer))}
    pes = sim.used_pes
    stats = sim.machine.stats
    max_ns = 0.0
    if pes and stats.n_rows:
        max_ns = float(stats.time_done_ns[:stats.n_rows][:, pes].max())
    if pes:
        max_ns = max(max_ns, float(np.max(stats.beyond_max_done_ns[pes])))
    here = {"version": TOTALS_VERSION, "parts": 1, "samples": int(samples), "timesteps": int(timesteps),
            "sim_time_s": end_ns * 1e-9, "wall_time_s": float(wall_time_s),
            "energy_breakdown_j": breakdown,
            "traffic": {k: int(traffic[k]) for k in _TRAFFIC if k in traffic},
            "diagnostics": diagnostics, "timestep_max_ns": max_ns}
    return add_totals(carried, here) if carried else here


def add_totals(a: dict, b: dict) -> dict[str, Any]:
    """Totals of two consecutive parts of one run."""
    out = {"version": TOTALS_VERSION, "parts": int(a.get("parts", 1)) + int(b.get("parts", 1))}
    for key in ("samples", "timesteps", "sim_time_s", "wall_time_s"):
        out[key] = a.get(key, 0) + b.get(key, 0)
    for key in ("energy_breakdown_j", "traffic", "diagnostics"):
        da, db = a.get(key, {}), b.get(key, {})
        out[key] = {k: da.get(k, 0) + db.get(k, 0) for k in {**da, **db}}
    out["timestep_max_ns"] = max(a.get("timestep_max_ns", 0.0), b.get("timestep_max_ns", 0.0))
    return out


def merge_carried(summary: dict, carried: dict | None, resumed_from: str | None) -> dict:
    """Add the totals of the run's earlier parts into ``summary`` (in place) and say what it covers."""
    if resumed_from is None and not carried:
        return summary
    part_samples = summary["samples"]
    info: dict[str, Any] = {"resumed_from": resumed_from, "this_part_samples": part_samples,
                            "this_part_timesteps": summary["timesteps"]}
    if not carried:  # a checkpoint from before run totals were carried
        info["covers_samples"] = part_samples
        info["covers_whole_run"] = False
        info["note"] = "the checkpoint carried no run totals: counters, energy and latency cover the resumed part only"
        summary["resume"] = info
        summary["resumed_from"] = resumed_from
        summary["covers_samples"] = part_samples
        return summary
    for key in ("samples", "timesteps", "sim_time_s", "wall_time_s"):
        summary[key] = summary[key] + carried.get(key, 0)
    energy = summary["energy"]
    for comp, j in carried.get("energy_breakdown_j", {}).items():
        energy["breakdown_j"][comp] = energy["breakdown_j"].get(comp, 0.0) + j
    energy["total_j"] = float(sum(energy["breakdown_j"].values()))
    energy["per_sample_j"] = energy["total_j"] / max(1, summary["samples"])
    for k, v in carried.get("traffic", {}).items():
        if k in summary["traffic"]:
            summary["traffic"][k] += v
    for k, v in carried.get("diagnostics", {}).items():
        if k in summary["diagnostics"] and k != "per_pe":
            summary["diagnostics"][k] += v
    lat = summary["latency"]
    lat["timestep_ns"]["max"] = max(lat["timestep_ns"]["max"], carried.get("timestep_max_ns", 0.0))
    lat["realtime_slack_ns"] = float(lat["tick_ns"] - lat["timestep_ns"]["max"])
    lat["overruns"] = summary["diagnostics"].get("timer_overruns", lat["overruns"])
    info.update(covers_samples=summary["samples"], covers_whole_run=True, parts=carried.get("parts", 1) + 1,
                covers_only_resumed_part=list(NOT_MERGED))
    summary["resume"] = info
    summary["resumed_from"] = resumed_from
    summary["covers_samples"] = summary["samples"]
    return summary
