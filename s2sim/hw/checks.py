"""Invariants of a finished run, and a causality checker the tests turn on (issue 20).

``CausalityChecker`` is a trace recorder (``chip.Recorder``): attach it to a run, then ``violations``
replays what the hardware reported, in the order it reported it, and names every

* DMA that completed before its issue time plus the shortest time its bytes can take (setup at the
  fastest clock, then the whole DRAM bandwidth or the engine's SRAM rate, whichever is faster);
* DMA-done handler that started before a DMA of that PE completed (its payload used too early);
* packet handler that started before a packet reached that PE (a packet used before it arrived),
  or a packet that arrived before it was sent.

``run_invariants(sim)`` checks what must hold at the end of any run:

* busy cycles = the sum of phase cycles, per PE;
* core-active energy = the sum of its per-phase parts, and the energy total = the sum of its parts;
* packet copies sent = received + dropped + in flight;
* every timer tick fired either ran, was dropped (``TickStats.not_run``) or is still queued or
  running (``PE.ticks_not_finished``): work left at the end is counted (needs the checker's record
  of finished timer callbacks).
"""
from __future__ import annotations

import heapq
import math
from collections import defaultdict, deque

from .dispatcher import DMA, PACKET, TIMER

_EPS_NS = 1e-6


def heapq_push_n(heap: list[float], value: float, n: int) -> None:
    for _ in range(n):
        heapq.heappush(heap, value)


class CausalityChecker:
    """Keeps what the hardware reports, in order; ``violations(hw)`` checks it afterwards."""

    def __init__(self):
        self.events: list[tuple] = []

    def callback(self, pe: int, kind: str, phases: dict, start_ns: float, end_ns: float, cycles: float) -> None:
        self.events.append(("callback", pe, kind, start_ns, end_ns))

    def packet(self, src: int, dst: int, key: int, send_ns: float, arrive_ns: float, n: int) -> None:
        self.events.append(("packet", src, dst, send_ns, arrive_ns, n))

    def dma(self, pe: int, tag: int, start_ns: float, end_ns: float, nbytes: int) -> None:
        self.events.append(("dma", pe, tag, start_ns, end_ns, nbytes))

    def timer_callbacks(self) -> dict[int, int]:
        """Finished timer callbacks per PE."""
        out: dict[int, int] = defaultdict(int)
        for ev in self.events:
            if ev[0] == "callback" and ev[2] == TIMER:
                out[ev[1]] += 1
        return out

    def violations(self, hw) -> list[str]:
        fastest_ns = min(level.ns_per_cycle for level in hw.perf_levels)
        setup_ns = hw.dma_setup_cycles * fastest_ns
        dram_bytes_per_ns = hw.dram_total_bandwidth_gb_s  # GB/s = bytes/ns
        sram_bytes_per_ns = hw.dma_sram_bytes_per_cycle / fastest_ns
        fastest_rate = max(dram_bytes_per_ns, sram_bytes_per_ns)
        dma_done: dict[int, deque] = defaultdict(deque)  # per PE: completions not yet handled
        # per PE: arrivals not yet handled, one per packet (a burst's packets at its first arrival, a
        # lower bound for each); a handler takes the earliest (a burst body takes one: weaker, never wrong)
        arrivals: dict[int, list[float]] = defaultdict(list)
        out: list[str] = []
        for ev in self.events:
            what = ev[0]
            if what == "dma":
                _, pe, tag, issue, done, nbytes = ev
                shortest = setup_ns + nbytes / fastest_rate
                if done < issue + shortest - _EPS_NS:
                    out.append(f"PE {pe}: DMA tag {tag} of {nbytes} B issued at {issue} ns completed at {done} ns, "
                               f"before issue + its shortest time ({shortest:.1f} ns)")
                dma_done[pe].append(done)
            elif what == "packet":
                _, src, dst, send, arrive, n = ev
                if arrive < send - _EPS_NS:
                    out.append(f"packet {src} -> {dst} sent at {send} ns arrived at {arrive} ns, before it was sent")
                heapq_push_n(arrivals[dst], arrive, n)
            else:
                _, pe, kind, start, end = ev
                if kind == DMA:
                    pending = dma_done[pe]
                    if not pending or start < pending[0] - _EPS_NS:
                        out.append(f"PE {pe}: a DMA-done handler started at {start} ns, before any DMA of it "
                                   f"completed (next completion: {pending[0] if pending else 'none'} ns)")
                    if pending:
                        pending.popleft()
                elif kind == PACKET:
                    waiting = arrivals[pe]
                    first = waiting[0] if waiting else math.inf
                    if start < first - _EPS_NS:
                        out.append(f"PE {pe}: a packet handler started at {start} ns, before a packet reached it "
                                   f"(first arrival: {first} ns)")
                    if waiting:
                        heapq.heappop(waiting)
        return out


def run_invariants(sim, checker: CausalityChecker | None = None) -> list[str]:
    """What must hold at the end of any run (see the module docstring); returns the violations."""
    from ..energy import energy_breakdown_j
    from ..profile.summary import energy_extras

    chip = sim.chip
    chip.flush_stats()
    end_ns = sim.env.now
    out: list[str] = []
    used = [pe for pe in chip.pes if pe.firmware is not None]
    for pe in used:
        busy, phases = pe.active_cycles, sum(pe.phase_cycles_total.values())
        if not math.isclose(busy, phases, rel_tol=1e-9, abs_tol=1e-6):
            out.append(f"PE {pe.id}: busy cycles {busy} != sum of phase cycles {phases}")
    breakdown = energy_breakdown_j(chip, end_ns)
    per_phase = energy_extras(sim, end_ns)["per_phase_j"]
    if not math.isclose(breakdown["core_active"], sum(per_phase.values()), rel_tol=1e-9, abs_tol=1e-15):
        out.append(f"core-active energy {breakdown['core_active']} J != sum of its phases {sum(per_phase.values())} J")
    counters = chip.counters
    received, dropped = counters.total("packets_received"), counters.dropped_packets
    in_flight = chip.copies_in_flight()
    if counters.copies_sent != received + dropped + in_flight:
        out.append(f"packet copies sent {counters.copies_sent} != received {received} + dropped {dropped} "
                   f"+ in flight {in_flight}")
    if checker is not None:
        finished = checker.timer_callbacks()
        not_run = defaultdict(set)
        for row, p in chip.stats.not_run:
            not_run[p].add(row)
        for pe in used:
            if pe.dispatcher.priorities[TIMER] <= 0:
                continue  # a pre-emptive timer callback runs when it fires
            fired, left = pe.tick + 1, len(pe.ticks_not_finished())
            if fired != finished[pe.id] + len(not_run[pe.id]) + left:
                out.append(f"PE {pe.id}: {fired} ticks fired != {finished[pe.id]} ran + {len(not_run[pe.id])} "
                           f"dropped + {left} still queued or running")
    return out
