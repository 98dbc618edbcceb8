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

import sys
from typing import Protocol

import simpy

# Simulation kernels (KERNELS, declared with the other simulator switches): ``fast`` lets a firmware that
# declares ``on_packet_burst_group`` handle a burst's numerics for all its destination PEs at once
# (without a trace recorder), ``exact`` runs every handler per PE (the reference the fast one is tested
# against, bit for bit; docs/simulation-model.md "Fast path"). Everything else is the same code in both.
# ``counted`` (the default) runs windows of ticks in a compiled loop where it models the run and the
# fast rules elsewhere (``s2sim/counted``; docs/simulation-model.md "The counted kernel").
from ..config.simulator import KERNELS
from .dma import DmaEngine
from .counters import Counters
from .dram import Dram
from .events import (BOOKING_PRIORITY, BurstBooking, CallbackEnd, Delivery, DispatchIfIdle, DmaDone,  # noqa: F401
                     DramBooking, EventQueue, PacketBooking, TimerTick)
from .noc import NoC, Route
from .params import HwParams
from .pe import PE
from .tickstats import TickStats




def kernel_from_env() -> str:
    """The kernel ``$S2SIM_KERNEL`` asks for (default ``counted``), read where every switch is read
    (``s2sim.config.simulator``): for a ``Simulation`` built without a run entry (tests, the Python API)."""
    from ..config.simulator import env_overrides
    return env_overrides().get("kernel", "counted")


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
        self.fired_late: dict[int, float] = {}  # tick -> when it fired, if later than its time (re-armed late)

    def time_of(self, tick: int) -> float:
        return self.phase_ns + tick * self.period_ns

    def arm(self) -> None:
        if self.armed or self.next_tick >= self.chip.tick_limit:
            return
        self.armed = True
        self.chip.events.call_at(max(self.time_of(self.next_tick), self.chip.env.now),
                                 TimerTick(self.period_ns, self.phase_ns))

    def fire(self) -> None:
        self.armed = False
        tick = self.next_tick
        self.next_tick += 1
        now = self.chip.env.now
        if now != self.time_of(tick):
            self.fired_late[tick] = now
        for pe in self.pes:
            pe.timer_fire(tick, now)
        self.arm()


class Chip:
    #: chips in this machine (``board.Board`` has more)
    n_chips = 1

    def __init__(self, p: HwParams, noc_fidelity: str = "burst", perf_level: str | None = None,
                 recorder: Recorder | None = None, env: simpy.Environment | None = None,
                 record_timesteps: int | None = None, kernel: str | None = None):
        if noc_fidelity not in ("burst", "packet"):
            raise ValueError(f"noc_fidelity must be 'burst' or 'packet', not {noc_fidelity!r}")
        kernel = kernel or kernel_from_env()
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, not {kernel!r}")
        self.counted = None  # the counted kernel's window engine (s2sim/counted), None: event-driven only
        if kernel == "counted":
            from ..counted import make_engine, numba_available
            if numba_available():
                self.counted = make_engine(self)
            else:
                print("s2sim: numba is not importable: the counted kernel runs as fast", file=sys.stderr)
                kernel = "fast"
        self.kernel = kernel
        self.fast = kernel in ("fast", "counted")  # counted falls back to the fast rules
        self.p = p
        self.env = env or CountingEnvironment()
        self.fidelity = noc_fidelity
        self.perf_level_name = perf_level or p.default_perf_level
        p.perf_level(self.perf_level_name)  # validate early
        self.recorder = recorder
        self.dvfs_policy = None  # an object with choose(pe, tick) -> level name (see hw/dvfs.py)
        self.counters = Counters(p.n_pes)
        self.noc = NoC(p, self.counters)
        self.dram = Dram(p)
        self.stats = TickStats(p.n_pes, max_rows=record_timesteps)
        self.pes = [PE(self.env, i, p, self) for i in range(p.n_pes)]
        self.dmas = [DmaEngine(self.env, pe, self.dram, p.dma_queue_size) for pe in self.pes]
        self.timer_groups: dict[tuple[float, float], TimerGroup] = {}
        self._group_of: dict[int, TimerGroup] = {}
        self.tick_limit = 0
        self.events = EventQueue(self.env, {
            TimerTick: self._timer_tick, CallbackEnd: self._callback_end, DispatchIfIdle: self._dispatch_if_idle,
            Delivery: self._deliver, DmaDone: self._dma_done,
            PacketBooking: self._book_packet, BurstBooking: self._book_burst, DramBooking: self._book_dram})

    # ---- the schedule -----------------------------------------------------------------------------
    def schedule_dispatch(self, pe_id: int, t_ns: float) -> None:
        self.events.call_at(t_ns, DispatchIfIdle(pe_id))

    def _timer_tick(self, ev: TimerTick) -> None:
        self.timer_groups[(ev.period_ns, ev.phase_ns)].fire()

    def _callback_end(self, ev: CallbackEnd) -> None:
        self.pes[ev.pe].dispatcher.callback_end(self.env.now)

    def _dispatch_if_idle(self, ev: DispatchIfIdle) -> None:
        self.pes[ev.pe].dispatcher.dispatch_if_idle()

    def _dma_done(self, ev: DmaDone) -> None:
        self.dmas[ev.pe].finish(ev.request)

    def _book_dram(self, ev: DramBooking) -> None:
        self.dmas[ev.pe].book_dram(ev)

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
        if group is None:
            return 0.0
        late = group.fired_late
        return late.get(tick, group.time_of(tick)) if late else group.time_of(tick)

    def run_ticks(self, n_ticks: int, drain_ns: float | None = None) -> None:
        """Fire ``n_ticks`` more timer ticks, then let the work they caused finish."""
        if self.counted is not None:
            self.counted.run_ticks(n_ticks, drain_ns)
        else:
            self.run_ticks_event_driven(n_ticks, drain_ns)

    def run_ticks_event_driven(self, n_ticks: int, drain_ns: float | None = None) -> None:
        """``run_ticks`` on the event-driven kernel (``fast`` or ``exact`` rules)."""
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
            pe.flush_row()

    # ---- packets ------------------------------------------------------------------------------
    def send(self, pe: PE, route: Route, key: int, payload, send_ns: float) -> None:
        """Hand one packet from ``pe`` to the NoC at ``send_ns`` (within the running callback)."""
        counters = self.counters
        counters.packets_sent[pe.id] += 1
        counters.copies_sent += len(route.deliveries) + route.dropped  # one per PE reached, one if part drops
        pe.count_packets_out(1)
        if self.fidelity == "burst":
            pe.sends.add(route, key, payload, send_ns, pe.p.send_packet_cycles * pe.ns_per_cycle, self.noc.ser_ns)
            return
        self.events.book_at(send_ns, PacketBooking(pe.id, pe.tick, route, send_ns, key, payload))

    def _book_packet(self, ev: PacketBooking) -> None:
        """``packet`` fidelity: reserve the route for one packet; one delivery per destination."""
        for dest, arrive in self.noc.reserve(ev.route, ev.send_ns, 1):
            self.counters.deliveries += 1
            if self.recorder is not None:
                self.recorder.packet(ev.pe, dest, ev.key, ev.send_ns, arrive, 1)
            self._deliver_at(Delivery(ev.pe, ev.tick, [(dest, arrive)], [ev.key], [ev.payload], arrive))

    def flush_bursts(self, pe: PE) -> None:
        """Turn the packets of each send loop of a callback into one transaction per multicast tree,
        booked at its first packet's send time (``_book_burst``; send loops: ``bursts.SendLoops``)."""
        src, tick = pe.id, pe.tick
        book_at = self.events.book_at
        for route, burst in pe.sends.take():
            book_at(burst.first_send_ns, BurstBooking(src, tick, route, burst))

    def _book_burst(self, ev: BurstBooking) -> None:
        """Reserve the tree for a burst at its first send; one delivery per arrival instant.

        Destinations reached at the same instant share one delivery (nothing observable changes:
        they would be separate events at the same time); each still gets its own handler run. The
        packets reach a destination spaced by the slowest link on its path (``NoC.spread_ser_ns``: a
        board's chip links are slower than the mesh's).
        """
        burst, src = ev.burst, ev.pe
        keys, first_send, last_send = burst.keys, burst.first_send_ns, burst.last_send_ns
        n = len(keys)
        rec, noc, route = self.recorder, self.noc, ev.route
        by_time: dict[float, list] = {}
        for dest, first in noc.reserve(route, first_send, n):
            last = max(first + (n - 1) * noc.spread_ser_ns(route, dest), last_send + (first - first_send))
            group = by_time.get(first)
            if group is None:
                by_time[first] = [(dest, last)]
            else:
                group.append((dest, last))
            if rec is not None:
                rec.packet(src, dest, keys[0], first_send, first, n)
        self.counters.deliveries += n * len(ev.route.deliveries)
        for first, dests in by_time.items():
            self._deliver_at(Delivery(src, ev.tick, dests, keys, burst.payloads, first))

    def copies_in_flight(self) -> int:
        """Packet copies sent but not yet received or dropped (for the invariant sent = received +
        dropped + in flight; ``s2sim.hw.checks``): bookings not yet made and deliveries not yet due."""
        def copies(route) -> int:
            return len(route.deliveries) + route.dropped
        n = 0
        for group in self.events.pending():
            for record in group:
                if isinstance(record, Delivery):
                    n += len(record.keys) * len(record.dests)
                elif isinstance(record, PacketBooking):
                    n += copies(record.route)
                elif isinstance(record, BurstBooking):
                    n += len(record.burst.keys) * copies(record.route)
        return n

    def _deliver_at(self, delivery: Delivery) -> None:
        now = self.env.now
        self.events.call_at(delivery.first_ns if delivery.first_ns > now else now, delivery)

    def _deliver(self, d: Delivery) -> None:
        """Packets arrive: each destination's handlers run by the packet path it chose at load."""
        pes, dests, keys = self.pes, d.dests, d.keys
        for dest, _ in dests:  # sent in one timestep, arriving in a later one of the receiver
            if pes[dest].tick > d.src_tick:
                self.counters.late_packets[dest] += len(keys)
        if self.fast and self.recorder is None and self._deliver_group(d):  # (a recorder needs every body)
            return
        if len(dests) > 1 and self._deliver_shared(d):
            return
        for dest, last in dests:
            pes[dest].receive_packets(keys, d.payloads, d.first_ns, last)

    def _deliver_group(self, d: Delivery) -> bool:
        """Fast kernel: a burst reaching PEs that run one program, its numerics done for all of them
        in one call (``Firmware.on_packet_burst_group``), which returns the ``(phase, cycles)`` each
        member's handler charges, or None (having done nothing) when this burst needs the per-core
        handler. Each PE then books its own handler time (``PE.receive_charged``), exactly as the
        per-PE path would.
        """
        pes = self.pes
        cls = pes[d.dests[0][0]].burst_group
        if cls is None:
            return False
        targets, firmwares, cores = [], [], []
        for dest, _ in d.dests:
            pe = pes[dest]
            if pe.burst_group is not cls:
                return False
            targets.append(pe)
            firmwares.append(pe.firmware)
            cores.append(pe.core)
        keys = d.keys
        cost = firmwares[0].on_packet_burst_group(firmwares, cores, keys, d.payloads)
        if cost is None:
            return False
        phase, cycles = cost
        n, first_ns = len(keys), d.first_ns
        for pe, (_, last) in zip(targets, d.dests):
            pe.receive_charged(phase, cycles, n, first_ns, last)
        return True

    def _deliver_shared(self, d: Delivery) -> bool:
        """One handler call for several PEs that run the same program and get the same burst
        (``Firmware.on_packet_burst_many``): it does the arithmetic for all of them at once, but
        charges each core separately, so each PE's handler time, the callbacks it delays and its
        counters are still its own.
        """
        pes = self.pes
        targets = [pes[dest] for dest, _ in d.dests]
        cls = targets[0].burst_many
        if cls is None:
            return False
        for pe in targets:
            if pe.burst_many is not cls:
                return False
        keys, first_ns = d.keys, d.first_ns
        n = len(keys)
        starts = []
        for pe in targets:
            starts.append(pe.begin_burst(first_ns, n))
        targets[0].firmware.on_packet_burst_many([pe.firmware for pe in targets], [pe.core for pe in targets],
                                                 keys, d.payloads)
        for pe, start, (_, last) in zip(targets, starts, d.dests):
            pe.finish_burst(start, first_ns, last, n, pe.tick)
        return True

    # ---- what hosts use (``s2sim.machine.Machine``) --------------------------------------------------
    @property
    def routing(self) -> NoC:
        """The multicast routing tables (``add_multicast``)."""
        return self.noc

    def store_dram(self, name: str, array) -> None:
        """Host writes ``array`` into DRAM under ``name`` (no simulated cost: done before the run)."""
        self.dram.store(name, array)

    def kernel_report(self) -> dict:
        return self.counted.summary() if self.counted is not None else {}

    def used_pes(self) -> list[PE]:
        return [pe for pe in self.pes if pe.firmware is not None]
