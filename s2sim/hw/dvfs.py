"""Per-tick DVFS: choose each PE's performance level from its predicted load (SpiNNaker2 style).

On SpiNNaker2 the firmware picks a performance level (PL) at the start of every tick from the work
it expects in that tick (Höppner et al., "Dynamic power management for neuromorphic many-core
systems", 2019): light ticks run at the low-voltage level, heavy ones at the fast level. The chip
calls ``policy.choose(pe, tick)`` in ``PE.timer_fire`` before the tick's callback is queued, and the
PE switches to the returned level.

``LoadPolicy`` predicts the tick's work as the largest busy-cycle count this PE had in the last
``history`` ticks (timer callback + packet handlers + everything else of those ticks), times a
safety ``margin``, and picks the slowest level whose clock finishes that within ``deadline`` of the
tick (minus the level-switch time). The three numbers come from the arch file's ``dvfs_policy``
section (``HwParams.dvfs_margin``, ``dvfs_deadline_fraction``, ``dvfs_history_ticks``). With no history yet (first tick), or when the previous tick's
work is still running or queued (the PE is behind), it picks the fastest level.

Periodic heavy ticks (e.g. e-prop's learning tick once per sample) are learnt: a tick too heavy for
the slowest level is remembered per PE, and once two such ticks are ``P`` apart, the tick ``P``
after the last one is predicted as heavy as it was (the first two heavy ticks may still be late).
"""
from __future__ import annotations

from collections import Counter

from .params import HwParams


class LoadPolicy:
    """Lowest performance level whose clock finishes the predicted load within the tick."""

    name = "load"

    def __init__(self, hw: HwParams, tick_ns: float, margin: float | None = None,
                 deadline: float | None = None, history: int | None = None):
        """``margin``, ``deadline``, ``history``: None takes the arch file's ``dvfs_policy`` value."""
        margin = hw.dvfs_margin if margin is None else margin
        deadline = hw.dvfs_deadline_fraction if deadline is None else deadline
        history = hw.dvfs_history_ticks if history is None else history
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
        self.slow_capacity = self.budget_ns / self.levels[0].ns_per_cycle  # cycles the slowest level fits
        self._heavy: dict[int, list[list]] = {}  # pe -> runs [start tick, length, load] too heavy for slowest
        self._npc: dict[int, dict[int, float]] = {}  # pe -> tick -> ns per cycle it ran at
        # pe -> tick -> load, taken when the tick has just ended (its accumulator is still on the PE),
        # so the policy does not depend on how many timesteps the run keeps in detail
        self._seen: dict[int, dict[int, float]] = {}

    def _load_seen(self, pe, row: int) -> float:
        cache = self._seen.setdefault(pe.id, {})
        load = cache.get(row)
        if load is None:
            load = cache[row] = self._load(pe, row)
            cache.pop(row - self.history - 2, None)
        return load

    def _load(self, pe, row: int) -> float:
        """Cycles-equivalent load of a past timestep: its busy cycles, or its time_done (which includes
        waiting on other PEs) converted to cycles at the level it ran at, whichever is larger."""
        stats = pe.chip.stats
        busy = done = 0.0
        if row < stats.n_rows:
            busy = stats.cell("busy_cycles", row, pe.id)
            done = stats.cell("time_done_ns", row, pe.id)
        so_far = pe.row_so_far(row)  # the latest timestep, not merged into stats yet
        if so_far is not None:
            busy += so_far[0]
            done = max(done, so_far[1])
        npc = self._npc.get(pe.id, {}).get(row, pe.ns_per_cycle)
        return max(busy, done / npc)

    def predict_cycles(self, pe, tick: int) -> float | None:
        """Predicted load of ``pe`` in ``tick`` in cycles (safety margin included); None: no history."""
        if tick <= 0:
            return None
        lo = max(0, tick - self.history)
        loads = [self._load_seen(pe, row) for row in range(lo, tick)]
        if not any(loads) and pe.chip.stats.n_rows == 0 and pe.accumulating_row < 0:
            return None
        predicted = max(loads)
        # periodic heavy ticks: runs of consecutive ticks too heavy for the slowest level
        runs = self._heavy.setdefault(pe.id, [])  # [start, length, load]
        last = loads[-1]
        if last * self.margin > self.slow_capacity:
            if runs and runs[-1][0] + runs[-1][1] == tick - 1:  # continues the current run
                runs[-1][1] += 1
                runs[-1][2] = max(runs[-1][2], last)
            else:
                runs.append([tick - 1, 1, last])
                del runs[:-3]
        if len(runs) >= 2:
            period = runs[-1][0] - runs[-2][0]
            if period > 0 and (tick - runs[-1][0]) % period < runs[-1][1]:
                predicted = max(predicted, runs[-1][2], runs[-2][2])
        return predicted * self.margin

    def choose(self, pe, tick: int) -> str:
        fastest = self.levels[-1]
        behind = pe.is_behind
        cycles = self.predict_cycles(pe, tick)
        level = fastest
        if cycles is not None and not behind:
            for lv in self.levels:
                if cycles * lv.ns_per_cycle <= self.budget_ns:
                    level = lv
                    break
        npc = self._npc.setdefault(pe.id, {})
        npc[tick] = level.ns_per_cycle
        npc.pop(tick - self.history - 1, None)
        self.choices[level.name] += 1
        return level.name

    def describe(self) -> dict:
        """What the run summary records about the policy."""
        return {"policy": self.name, "margin": self.margin, "deadline": self.deadline,
                "history_ticks": self.history, "choices": dict(self.choices)}


__all__ = ["LoadPolicy"]
