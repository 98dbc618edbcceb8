"""Per-tick DVFS: choose each PE's performance level from its predicted load (SpiNNaker2 style).

On SpiNNaker2 the firmware picks a performance level (PL) at the start of every tick from the work
it expects in that tick (Höppner et al., "Dynamic power management for neuromorphic many-core
systems", 2019): light ticks run at the low-voltage level, heavy ones at the fast level. The chip
calls ``policy.choose(pe, tick)`` in ``PE.timer_fire`` before the tick's callback is queued, and the
PE switches to the returned level.

``LoadPolicy`` predicts the tick's work as the largest busy-cycle count this PE had in the last
``history`` ticks (timer callback + packet handlers + everything else of those ticks), times a
safety ``margin``, and picks the slowest level whose clock finishes that within ``deadline`` of the
tick (minus the level-switch time). With no history yet (first tick), or when the previous tick's
work is still running or queued (the PE is behind), it picks the fastest level.
"""
from __future__ import annotations

from collections import Counter

from .params import HwParams


class LoadPolicy:
    """Lowest performance level whose clock finishes the predicted load within the tick."""

    name = "load"

    def __init__(self, hw: HwParams, tick_ns: float, margin: float = 1.25, deadline: float = 0.8,
                 history: int = 4):
        if tick_ns <= 0:
            raise ValueError(f"tick_ns must be > 0, not {tick_ns}")
        if margin < 1.0:
            raise ValueError(f"margin must be >= 1 (a safety factor), not {margin}")
        if not 0.0 < deadline <= 1.0:
            raise ValueError(f"deadline must be a fraction of the tick in (0, 1], not {deadline}")
        self.levels = sorted(hw.perf_levels, key=lambda lv: lv.clock_mhz)  # slowest first
        self.tick_ns = tick_ns
        self.margin, self.deadline, self.history = margin, deadline, max(1, int(history))
        self.budget_ns = tick_ns * deadline - hw.pl_switch_ns
        self.choices: Counter[str] = Counter()  # level name -> ticks x PEs it was chosen

    def predict_cycles(self, pe, tick: int) -> float | None:
        """Predicted busy cycles of ``pe`` in ``tick``; None when there is nothing to go on."""
        stats = pe.chip.stats
        if tick <= 0 or stats.n_rows == 0:
            return None
        hi = min(tick, stats.n_rows)
        lo = max(0, hi - self.history)
        if hi <= lo:
            return None
        return float(stats.busy_cycles[lo:hi, pe.id].max()) * self.margin

    def choose(self, pe, tick: int) -> str:
        fastest = self.levels[-1].name
        behind = pe.running is not None or pe.timer_task_pending or any(pe.queues)
        cycles = None if behind else self.predict_cycles(pe, tick)
        name = fastest
        if cycles is not None:
            for level in self.levels:
                if cycles * level.ns_per_cycle <= self.budget_ns:
                    name = level.name
                    break
        self.choices[name] += 1
        return name

    def describe(self) -> dict:
        """What the run summary records about the policy."""
        return {"policy": self.name, "margin": self.margin, "deadline": self.deadline,
                "history_ticks": self.history, "choices": dict(self.choices)}


__all__ = ["LoadPolicy"]
