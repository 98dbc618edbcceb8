"""The host keeps the timer running until every program has finished its steps (what-if: a too-short tick).

Firmware that counts its own steps (as the C code keeps its own time) never loses a step when a tick is
dropped by a full task queue or runs late behind an overrun; it just needs more ticks than it has steps.
The host then waits for the result, as it would on the chip, instead of stopping after ``steps`` ticks.
"""
from __future__ import annotations

from typing import Callable


def run_until_programs_finish(sim, pe_ids: list[int], progress: Callable[[], tuple[int, ...]],
                              patience_ns: float) -> int:
    """Fire more ticks until ``progress()[0]`` (steps still to run on the slowest PE) is 0 and no PE has work left.

    ``progress()`` may carry more counters after the steps left (e.g. results still missing); when none of
    them moves for ``patience_ns`` of simulated time, a step waits for something that never comes and this
    gives up (the caller checks its results and reports what is missing). Returns the extra ticks fired
    (0 when the work kept up with the ticks).
    """
    pes = [sim.machine.pes[i] for i in pe_ids]
    env = sim.env

    def state() -> tuple[int, ...]:
        return (*progress(), sum(pe.tasks_outstanding for pe in pes))

    now, stalled_ns, extra = state(), 0.0, 0
    while now[0] > 0 or now[-1] > 0:
        before, t0 = now, env.now
        n = max(now[0], 1)
        sim.run_ticks(n)
        extra += n
        now = state()
        stalled_ns = stalled_ns + env.now - t0 if now == before else 0.0
        if stalled_ns > patience_ns:
            break
    return extra
