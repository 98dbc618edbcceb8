"""The chip: PEs on the mesh NoC, DRAM, timers, and the packet delivery that ties them together.

Packet delivery fidelity:
* ``packet``: one SimPy event per packet per destination PE.
* ``burst``: packets one send loop of a callback sends along the same multicast tree are one
  transaction: links are reserved once for the back-to-back burst, and each destination gets one
  event that hands its handler all the packets (each still charged its own handler cycles,
  arrivals spread by the link serialisation). Far fewer events; per-timestep latency agrees with ``packet`` (tested).

Shared resources (links, injection/ejection ports, DRAM channels) are booked at the simulated time
of the send or request (``book_at``), not when the callback body that makes it runs in Python: a
body runs at its callback's start, but sends at start + cycles so far.
"""
from __future__ import annotations

import os
from operator import itemgetter
from typing import Protocol

import simpy
from simpy.events import Timeout

from .dma import DmaEngine
from .dram import Dram
from .noc import NoC, Route
from .params import HwParams
from .pe import PE
from .tickstats import TickStats


# SimPy runs same-time events by priority (URGENT 0, NORMAL 1), then in scheduling order. Bookings
# run after every ordinary event of their instant, so every send made at that instant is in.
BOOKING_PRIORITY = 2

#: Simulation kernels: ``fast`` takes the grouped hot paths where they cannot change a result,
#: ``exact`` runs every callback through the per-PE dispatcher (the reference the fast one is
#: tested against, bit for bit; docs/simulation-model.md "Fast path").
KERNELS = ("fast", "exact")


def kernel_from_env() -> str:
    """The kernel ``$S2SIM_KERNEL`` asks for (default ``fast``)."""
    kernel = os.environ.get("S2SIM_KERNEL", "fast") or "fast"
    if kernel not in KERNELS:
        raise ValueError(f"S2SIM_KERNEL={kernel!r}: expected one of {', '.join(KERNELS)}")
    return kernel


class Recorder(Protocol):
    """What the hardware tells a trace recorder (the profiler implements it; hw never imports it)."""

    def callback(self, pe: int, kind: str, phases: dict, start_ns: float, end_ns: float,
                 cycles: float) -> None: ...
    def packet(self, src: int, dst: int, key: int, send_ns: float, arrive_ns: float, n: int) -> None: ...
    def dma(self, pe: int, tag: int, start_ns: float, end_ns: float, nbytes: int) -> None: ...


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts scheduled events (for benchmarks and fidelity checks)."""

    def __init__(self, initial_time: float = 0):
        super().__init__(initial_time)
        self.events_scheduled = 0

    def schedule(self, event, priority=1, delay=0):  # noqa: D102 - SimPy API
        self.events_scheduled += 1
        super().schedule(event, priority, delay)


class TimerGroup:
    """PEs whose timers share (period, phase): one SimPy event per tick for all of them."""

    def __init__(self, chip: "Chip", period_ns: float, phase_ns: float):
        self.chip, self.period_ns, self.phase_ns = chip, period_ns, phase_ns
        self.pes: list[PE] = []
        self.next_tick = 0
        self.armed = False

    def time_of(self, tick: int) -> float:
        return self.phase_ns + tick * self.period_ns

    def arm(self) -> None:
        if self.armed or self.next_tick >= self.chip.tick_limit:
            return
        self.armed = True
        self.chip.call_at(max(self.time_of(self.next_tick), self.chip.env.now), self._fire)

    def _fire(self) -> None:
        self.armed = False
        tick = self.next_tick
        self.next_tick += 1
        chip = self.chip
        if chip.fast and chip.dvfs_policy is None:
            now = chip.env.now
            for pe in self.pes:
                pe.timer_fire_fast(tick, now)
        else:
            for pe in self.pes:
                pe.timer_fire(tick)
        self.arm()


class Chip:
    def __init__(self, p: HwParams, noc_fidelity: str = "burst", perf_level: str | None = None,
                 recorder: Recorder | None = None, env: simpy.Environment | None = None,
                 record_timesteps: int | None = None, kernel: str | None = None):
        if noc_fidelity not in ("burst", "packet"):
            raise ValueError(f"noc_fidelity must be 'burst' or 'packet', not {noc_fidelity!r}")
        kernel = kernel or kernel_from_env()
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, not {kernel!r}")
        self.kernel = kernel
        self.fast = kernel == "fast"
        self.p = p
        self.env = env or CountingEnvironment()
        self.fidelity = noc_fidelity
        self.perf_level_name = perf_level or p.default_perf_level
        p.perf_level(self.perf_level_name)  # validate early
        self.recorder = recorder
        self.dvfs_policy = None  # an object with choose(pe, tick) -> level name (see hw/dvfs.py)
        self.noc = NoC(p)
        self.dram = Dram(p)
        self.stats = TickStats(p.n_pes, max_rows=record_timesteps)
        self.pes = [PE(self.env, i, p, self) for i in range(p.n_pes)]
        self.dmas = [DmaEngine(self.env, pe, self.dram, p.dma_queue_size) for pe in self.pes]
        self.timer_groups: dict[tuple[float, float], TimerGroup] = {}
        self._group_of: dict[int, TimerGroup] = {}
        self.tick_limit = 0
        self.deliveries = 0
        self._due: dict[float, list] = {}  # call_at groups waiting for their SimPy event
        self._bookings: dict[float, list] = {}  # book_at groups waiting for their SimPy event

    # ---- wake-ups -----------------------------------------------------------------------------
    def call_at(self, t_ns: float, fn) -> None:
        """Run ``fn()`` at simulated time ``t_ns`` (>= now).

        Calls due at the same instant share one SimPy event and run in the order they were asked
        for, which is the order SimPy gives same-time events, so nothing observable changes; a
        tick's 12 callback ends or a burst's deliveries become one event instead of many.
        """
        group = self._due.get(t_ns)
        if group is None:
            self._due[t_ns] = [fn]
            delay = t_ns - self.env.now
            Timeout(self.env, delay if delay > 0.0 else 0.0).callbacks.append(  # = env.timeout(...)
                lambda _ev, t=t_ns: self._run_due(t))
        else:
            group.append(fn)

    def _run_due(self, t_ns: float) -> None:
        for fn in self._due.pop(t_ns):
            fn()

    def book_at(self, t_ns: float, pe_id: int, fn) -> None:
        """Run ``fn()`` (which books a shared link or channel) at simulated time ``t_ns`` (>= now).

        Bookings run in simulated-time order, after every ordinary event of their instant (so every
        body that sends at ``t_ns`` has run), and same-instant bookings in PE order (a fixed
        arbitration; one PE's own bookings keep the order it made them). So who gets a resource
        first never depends on which callback body Python ran first.
        """
        group = self._bookings.get(t_ns)
        if group is None:
            self._bookings[t_ns] = [(pe_id, fn)]
            env = self.env
            event = simpy.Event(env)
            event._ok, event._value = True, None  # a triggered event, as Timeout makes it
            event.callbacks.append(lambda _ev, t=t_ns: self._run_bookings(t))
            delay = t_ns - env.now
            env.schedule(event, BOOKING_PRIORITY, delay if delay > 0.0 else 0.0)
        else:
            group.append((pe_id, fn))

    def _run_bookings(self, t_ns: float) -> None:
        group = self._bookings.pop(t_ns)
        if len(group) > 1:
            group.sort(key=itemgetter(0))  # stable
        for _pe, fn in group:
            fn()

    # ---- timers -------------------------------------------------------------------------------
    def set_timer(self, pe: PE, period_ns: float, phase_ns: float = 0.0) -> None:
        old = self._group_of.pop(pe.id, None)
        if old is not None:
            old.pes.remove(pe)
        group = self.timer_groups.get((period_ns, phase_ns))
        if group is None:
            group = self.timer_groups[(period_ns, phase_ns)] = TimerGroup(self, period_ns, phase_ns)
            group.next_tick = max(0, int(-(-(self.env.now - phase_ns) // period_ns)))
        group.pes.append(pe)
        self._group_of[pe.id] = group
        group.arm()

    def tick_time(self, pe: PE, tick: int) -> float:
        group = self._group_of.get(pe.id)
        return group.time_of(tick) if group is not None else 0.0

    def run_ticks(self, n_ticks: int, drain_ns: float | None = None) -> None:
        """Fire ``n_ticks`` more timer ticks, then let the work they caused finish."""
        self.tick_limit += n_ticks
        for group in self.timer_groups.values():
            group.arm()
        if not self.timer_groups:
            self.env.run()
            self.flush_stats()
            return
        last = max(g.time_of(self.tick_limit - 1) for g in self.timer_groups.values())
        period = max(g.period_ns for g in self.timer_groups.values())
        self.env.run(until=last + (period if drain_ns is None else drain_ns))
        self.flush_stats()

    def flush_stats(self) -> None:
        """Merge every PE's accumulated timestep into ``stats`` (before anyone reads them)."""
        for pe in self.pes:
            if pe.acc_row >= 0:
                pe.flush_row()

    # ---- packets ------------------------------------------------------------------------------
    def send(self, pe: PE, route: Route, key: int, payload, send_ns: float) -> None:
        """Hand one packet from ``pe`` to the NoC at ``send_ns`` (within the running callback)."""
        pe.c["packets_sent"] += 1
        pe.count_packets_out(1)
        if self.fidelity == "burst":
            pending = pe.pending_bursts
            if pending and send_ns > pe.last_send_ns + pe.p.send_packet_cycles * pe.ns_per_cycle \
                    + self.noc.ser_ns + 1e-6:  # the core worked since its last send: a new send loop
                pe.closed_bursts.extend(pending.items())
                pending = pe.pending_bursts = {}
            pe.last_send_ns = send_ns
            burst = pending.get(route)
            if burst is None:
                pending[route] = [send_ns, send_ns, [key], [payload]]
            else:
                burst[1] = send_ns
                burst[2].append(key)
                burst[3].append(payload)
            return
        src, tick = pe.id, pe.tick

        def book() -> None:
            for dest, arrive in self.noc.reserve(route, send_ns, 1):
                self._schedule_delivery(src, dest, [key], [payload], arrive, arrive, send_ns, tick)

        self.book_at(send_ns, src, book)

    def flush_bursts(self, pe: PE) -> None:
        """Turn the packets of each send loop of a callback into one transaction per multicast tree,
        booked at its first packet's send time (``_book_burst``).

        A send loop ends where the core worked between two sends (a gap longer than the send cost
        plus one serialisation, see ``send``): the packets after it are another burst.

        Destinations reached at the same instant share one SimPy event (nothing observable changes:
        they would be separate events at the same time); each still gets its own handler run.
        """
        bursts = pe.closed_bursts
        bursts.extend(pe.pending_bursts.items())
        pe.pending_bursts, pe.closed_bursts = {}, []
        src, tick = pe.id, pe.tick
        for route, burst in bursts:
            self.book_at(burst[0], src, lambda r=route, b=burst: self._book_burst(src, tick, r, *b))

    def _book_burst(self, src: int, tick: int, route: Route, first_send: float, last_send: float,
                    keys: list, payloads: list) -> None:
        """Reserve the tree for a burst at its first send; one delivery event per arrival instant."""
        n = len(keys)
        spread = (n - 1) * self.noc.ser_ns
        rec = self.recorder
        by_time: dict[float, list] = {}
        for dest, first in self.noc.reserve(route, first_send, n):
            last = max(first + spread, last_send + (first - first_send))
            group = by_time.get(first)
            if group is None:
                by_time[first] = [(dest, last)]
            else:
                group.append((dest, last))
            if rec is not None:
                rec.packet(src, dest, keys[0], first_send, first, n)
        self.deliveries += n * len(route.deliveries)
        for first, dests in by_time.items():
            self._deliver_at(first, dests, keys, payloads, tick)

    def _deliver_at(self, first_ns: float, dests: list, keys, payloads, src_tick: int) -> None:
        pes = self.pes
        fast = self.fast and self.recorder is None

        def deliver() -> None:
            for dest, _ in dests:  # sent in one timestep, arriving in a later one of the receiver
                if pes[dest].tick > src_tick:
                    pes[dest].c["late_packets"] += len(keys)
            if fast and self._deliver_group(dests, keys, payloads, first_ns):
                return
            if len(dests) > 1 and self._deliver_shared(dests, keys, payloads, first_ns):
                return
            if fast:
                for dest, last in dests:
                    pes[dest].receive_packets_fast(keys, payloads, first_ns, last)
                return
            for dest, last in dests:
                pes[dest].receive_packets(keys, payloads, first_ns, last)

        self.call_at(first_ns if first_ns > self.env.now else self.env.now, deliver)

    def _deliver_group(self, dests: list, keys, payloads, first_ns: float) -> bool:
        """Fast kernel: a burst reaching PEs that run one program, handled for all of them in one call.

        A firmware opts in with ``on_packet_burst_group(firmwares, cores, keys, payloads)``: it does
        the numerics for every member and returns the ``(phase, cycles)`` each member's handler
        charges, or None (having done nothing) when this burst needs the per-core handler (it would
        send, schedule, DMA or charge per core). Each PE then books its own handler time
        (``PE.charged_burst``), exactly as the per-PE path would.
        """
        pes = self.pes
        targets = [pes[d] for d, _ in dests]
        fw0 = targets[0].firmware
        group = getattr(fw0, "on_packet_burst_group", None)
        if group is None:
            return False
        cls = type(fw0)
        for pe in targets:
            if type(pe.firmware) is not cls or pe.priorities["packet"] > 0:
                return False
        cost = group([pe.firmware for pe in targets], [pe.core for pe in targets], keys, payloads)
        if cost is None:
            return False
        phase, cycles = cost
        n = len(keys)
        for pe, (_, last) in zip(targets, dests):
            pe.charged_burst(phase, cycles, n, first_ns, last)
        return True

    def _deliver_shared(self, dests: list, keys, payloads, first_ns: float) -> bool:
        """One handler call for several PEs that run the same program and get the same burst.

        A firmware opts in with ``on_packet_burst_many(firmwares, cores, keys, payloads)``: it does
        the arithmetic for all of them at once, but charges each core separately, so each PE's
        handler time, the callbacks it delays and its counters are still its own.
        """
        pes = self.pes
        targets = [pes[d] for d, _ in dests]
        fw0 = targets[0].firmware
        many = getattr(fw0, "on_packet_burst_many", None)
        if many is None:
            return False
        cls, firmwares, cores = type(fw0), [], []
        for pe in targets:
            fw = pe.firmware
            if fw is None or type(fw) is not cls or pe.priorities["packet"] > 0:
                return False
            firmwares.append(fw)
            cores.append(pe.core)
        n = len(keys)
        starts = []
        for pe in targets:
            pe.accept_packets(n)
            starts.append(pe.begin_burst(first_ns))
        many(firmwares, cores, keys, payloads)
        for pe, start, (_, last) in zip(targets, starts, dests):
            pe.finish_burst(start, first_ns, last, n, pe.tick)
        return True

    def _schedule_delivery(self, src: int, dest: int, keys, payloads, first_ns: float,
                           last_ns: float, send_ns: float, src_tick: int) -> None:
        self.deliveries += len(keys)
        if self.recorder is not None:
            self.recorder.packet(src, dest, keys[0], send_ns, first_ns, len(keys))
        self._deliver_at(first_ns, [(dest, last_ns)], keys, payloads, src_tick)

    # ---- summaries ----------------------------------------------------------------------------
    def used_pes(self) -> list[PE]:
        return [pe for pe in self.pes if pe.firmware is not None]
