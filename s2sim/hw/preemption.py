"""Pre-emptive handlers' core time, and the one rule of pre-emption:

**pre-emptive work steals its time from the running queueable callback** (``steal``): an interval of
pre-emptive work that starts before the callback's end moves that end later by its length. It applies
when the work is booked while the callback runs (``Preemption.book``, ``book_handlers``) and when a
callback starts with work already booked (``Preemption.end_of_callback``).
"""
from __future__ import annotations


def steal(callback_end_ns: float, start_ns: float, length_ns: float) -> float:
    """The end of a callback once pre-emptive work of ``length_ns`` starting at ``start_ns`` ran."""
    return callback_end_ns + length_ns if start_ns < callback_end_ns else callback_end_ns


class Preemption:
    """Intervals booked by pre-emptive handlers (one at a time, in arrival order) on one core."""

    __slots__ = ("intervals", "free_ns", "dispatcher")

    def __init__(self, dispatcher):
        self.intervals: list[tuple[float, float]] = []  # booked (start, end), oldest first
        self.free_ns = 0.0  # when the last booked handler ends
        self.dispatcher = dispatcher  # whose running callback the handlers steal from

    def start_at(self, arrival_ns: float) -> float:
        """When a handler for an event arriving at ``arrival_ns`` starts: after the ones booked."""
        return arrival_ns if arrival_ns > self.free_ns else self.free_ns

    def book(self, arrival_ns: float, cycles: float, ns_per_cycle: float) -> tuple[float, float]:
        """Reserve core time for one handler of ``cycles``; the running callback ends later by it."""
        start = arrival_ns if arrival_ns > self.free_ns else self.free_ns
        end = start + cycles * ns_per_cycle
        self.free_ns = end
        self.intervals.append((start, end))
        running = self.dispatcher.running
        if running is not None:
            running.end_ns = steal(running.end_ns, start, end - start)
        return start, end

    def book_handlers(self, start: float | None, first_ns: float, last_ns: float, n: int,
                      dur: float) -> tuple[float, float]:
        """Place ``n`` handlers of ``dur`` ns each for packets arriving evenly from ``first_ns`` to
        ``last_ns``; the first starts at ``start`` (None: at its arrival, or when the handlers already
        booked end, as ``start_at``). Returns when the first starts and when the last ends."""
        if start is None:
            start = first_ns if first_ns > self.free_ns else self.free_ns
        step = (last_ns - first_ns) / (n - 1) if n > 1 else 0.0
        running = self.dispatcher.running
        if step <= dur:  # each packet arrives before the previous handler ends: back to back
            free = start + n * dur
            self.intervals.append((start, free))
            if running is not None:
                running.end_ns = steal(running.end_ns, start, n * dur)
        else:
            free, intervals = self.free_ns, self.intervals
            for i in range(n):
                arrival = first_ns + i * step
                s = arrival if arrival > free else free
                free = s + dur
                intervals.append((s, free))
                if running is not None:
                    running.end_ns = steal(running.end_ns, s, dur)
        self.free_ns = free
        return start, free

    def running_at(self, t_ns: float) -> bool:
        """Pre-emptive work that started before ``t_ns`` is still running at ``t_ns``.

        (Intervals are booked in time order, each after the one before, so the scan stops at the
        first that ended by ``t_ns``.)"""
        if self.free_ns <= t_ns:
            return False
        for start, end in reversed(self.intervals):
            if end <= t_ns:
                return False
            if start < t_ns:
                return True
        return False

    def forget_before(self, t_ns: float) -> None:
        """Drop the booked intervals once all of them ended by ``t_ns`` (a callback starts then)."""
        intervals = self.intervals
        if intervals and intervals[-1][1] <= t_ns:
            intervals.clear()

    def end_of_callback(self, start_ns: float, busy_end_ns: float) -> float:
        """When a queueable callback starting at ``start_ns`` whose own work ends at ``busy_end_ns``
        ends, once the handlers booked so far (before or during its body) have stolen from it."""
        end = busy_end_ns
        for s, e in self.intervals:
            if e <= start_ns:
                continue
            s = s if s > start_ns else start_ns
            end = steal(end, s, e - s)
        return end

    def snapshot(self) -> tuple:
        return list(self.intervals), self.free_ns

    def restore(self, snap: tuple) -> None:
        intervals, self.free_ns = snap
        self.intervals = list(intervals)
