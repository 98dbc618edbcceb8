"""Timestep latency at each end of the cycle bracket, from one run (summary.json ``latency.bracket``).

The firmware charges cycles per phase, and each kernel cost carries what it would be under the
nominal (llvm-mca), low and high (Cortex-M4 timing rules) tables (``KernelCycles``; the PE books the
difference per phase in the machine's ``counters.bracket_delta``). So every PE and phase has a ratio end/charged, and a
timestep's latency at an end is its time_done plus, for each phase, (ratio - 1) x that timestep's
cycles in the phase at the timestep's clock: first order (extra cycles delay the end one for one,
no slack absorbs them, no overrun reorders work). With overruns that does not hold (a late tick's
lag includes waiting for earlier ticks' work, which compounds at a slower end), so the low and high ends
are then not estimated; more cycles cannot make a run that is not real time real time, so their verdict
is still "no". ``--set arch.cycle_model=low|high`` runs the whole simulation at one end.
"""
from __future__ import annotations

from typing import Any

import numpy as np

ENDS = ("nominal", "low", "high")


def phase_ratios(sim, pe: int) -> dict[str, tuple[float, float, float]]:
    """phase -> (nominal, low, high) cycles / charged cycles over the whole run on PE ``pe``."""
    totals = sim.machine.stats.phase_totals(pe)
    delta = sim.machine.counters.bracket_delta[pe]
    out = {}
    for phase, charged in totals.items():
        d = delta.get(phase, (0.0, 0.0, 0.0))
        out[phase] = tuple((charged + x) / charged if charged else 1.0 for x in d)
    return out


def verdict(realtime: dict[str, bool]) -> str:
    """``real time: yes at nominal and low, no at high`` (ends grouped by answer, in bracket order)."""
    yes = [e for e in ENDS if realtime[e]]
    no = [e for e in ENDS if not realtime[e]]
    parts = [f"{word} at {' and '.join(ends) if len(ends) < 3 else 'every end'}"
             for word, ends in (("yes", yes), ("no", no)) if ends]
    return "real time: " + ", ".join(parts)


def latency_bracket(sim, tick_ns: float, rows: slice, done: np.ndarray, ns_per_cycle: np.ndarray,
                    stats_of, overruns: int = 0, nominal: dict | None = None) -> dict[str, Any]:
    """Per-end timestep statistics, per-phase ratios of the critical PE and the real-time verdict.

    ``overruns`` > 0: only the charged end's statistics (``nominal``, the run's own) are given; the other
    ends are None, and not real time since the charged end is not."""
    stats = sim.machine.stats
    pes = sim.used_pes
    ratios = {pe: phase_ratios(sim, pe) for pe in pes}
    extra = {end: np.zeros_like(done) for end in ENDS}
    for phase, arr in stats.phase_cycles.items():
        ns = arr[rows][:, pes] * ns_per_cycle
        for k, end in enumerate(ENDS):
            r = np.array([ratios[pe].get(phase, (1.0, 1.0, 1.0))[k] for pe in pes])
            extra[end] += ns * (r - 1.0)
    out: dict[str, Any] = {"cycle_model": sim.hw.cycle_model, "timestep_ns": {}, "realtime": {}}
    for k, end in enumerate(ENDS):
        if overruns and nominal is not None:
            own = end == sim.hw.cycle_model
            out["timestep_ns"][end] = dict(nominal) if own else None
            out["realtime"][end] = bool(nominal["max"] <= tick_ns) if own else False
            continue
        at_end = done + extra[end]
        per_step = at_end.max(axis=1) if at_end.size else np.zeros(0)
        st = stats_of(per_step)
        if pes:  # timesteps past run.record_timesteps kept only their per-PE maximum: add the largest
            # extra any recorded timestep of that PE had at this end (a step like its worst recorded one)
            worst_extra = extra[end].max(axis=0) if extra[end].size else np.zeros(len(pes))
            beyond = max(float(stats.beyond_max_done_ns[pe]) + float(worst_extra[i]) for i, pe in enumerate(pes))
            st["max"] = max(st["max"], beyond)
        out["timestep_ns"][end] = st
        out["realtime"][end] = bool(st["max"] <= tick_ns)
    if pes and done.size:
        slowest = pes[int(np.argmax((done + extra["high"]).max(axis=0)))]  # the critical PE at the high end
        out["critical_pe_high"] = slowest
        out["critical_pe_phase_ratio"] = {phase: {"low": round(r[1], 4), "high": round(r[2], 4)}
                                          for phase, r in sorted(ratios[slowest].items())}
    out["verdict"] = verdict(out["realtime"]) + (
        " (overruns: only the charged end is measured; run with --set arch.cycle_model=low|high for the others)"
        if overruns else "")
    out["how"] = ("per-phase cycles x (kernel-table end / charged) per PE, added to each timestep's "
                  "time_done (first order; docs/fidelity.md)")
    return out



def band_text(latency: dict) -> str:
    """One line: worst timestep at each end and the verdict (CLI table, report)."""
    b = latency["bracket"]
    worst = ", ".join(f"{end} {b['timestep_ns'][end]['max'] / 1e3:.1f}" if b["timestep_ns"][end] else f"{end} -"
                      for end in ENDS)
    return f"worst timestep µs: {worst}; {b['verdict']} (charged: {b['cycle_model']})"
