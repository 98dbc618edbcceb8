"""A loop that claims a departure at a window's third tick: what the counted tests use to force a fallback
in the middle of a window (the first two ticks really run; the third is then the event-driven kernel's)."""
from __future__ import annotations

from s2sim.counted import loop
from s2sim.counted.codes import R_TIMER


def stop_at_the_third_tick(monkeypatch, times: int, reason: int = R_TIMER) -> list[int]:
    """Make the next ``times`` windows of 3+ ticks stop at their third tick with ``reason``; returns the list
    their first ticks are appended to (to check the forcing happened)."""
    real = loop.run_window
    forced: list[int] = []

    def stopping(t0, n_ticks, *args):
        if n_ticks >= 3 and len(forced) < times:
            forced.append(t0)
            ticks, _ = real(t0, 2, *args)
            assert ticks == 2
            return 2, reason
        return real(t0, n_ticks, *args)

    monkeypatch.setattr(loop, "run_window", stopping)
    return forced
