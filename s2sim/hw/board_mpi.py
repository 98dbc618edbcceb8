"""A board split over MPI ranks: each rank runs the PEs of a group of chips, every rank books every
packet burst, and the ranks agree on time in windows no packet can cross.

Why it is exact (the same timing, spikes and energy as one process, bit for bit):
* Firmware, timers, handlers and DMA of a PE run on the rank that owns its chip (DRAM is per chip).
* Bursts are the only thing PEs of different chips share. Each rank books *every* burst of the board,
  its own and those the others sent, in the order one process books them (simulated time, then PE:
  ``EventQueue.book_at``), so every rank's link free-at times are those of one process. It delivers
  only to its own PEs.
* A burst booked at time t delivers nothing before t + ``lookahead_ns`` (injection + ejection +
  one packet's serialisation, the fastest any packet arrives). So ranks run windows
  [t, t + lookahead) from the earliest event of any rank: bursts sent in a window are deferred, then
  exchanged (``allgather``) and booked at the window's end, before any of their deliveries is due;
  nothing a rank does in a window depends on another rank's work in the same window.
* Records due at one instant run in the order one process asked for them (``OrderedEventQueue``): a
  delivery booked at t runs after what was asked for before t's bookings, whenever it was booked here.

This holds for any firmware whose PEs talk only through packets (LIF inference, whose handlers do
not send, is the case tested). What it cannot reproduce is checked at run time and stops the run with
one line: a burst booked later than its first send (``book_at`` in the past), a delivery due inside
the window it was booked in, ``packet`` fidelity, a trace recorder. The cost: every rank books every
burst (the NoC work is replicated; firmware and handlers are split), and two collectives per window.
"""
from __future__ import annotations

import heapq
import math
from typing import Any

from simpy.events import Timeout

from .board import Board
from .events import Delivery, EventQueue
from .params import HwParams


class MpiSplitError(RuntimeError):
    """The split over ranks cannot reproduce one process here (a one-line reason)."""


class OrderedEventQueue(EventQueue):
    """``EventQueue`` whose same-instant records run in the order one process would have asked for
    them: by (time asked, ordinary before booking, booking PE), then call order."""

    def __init__(self, env, handlers):
        super().__init__(env, handlers)
        self._seq = 0
        self._asking: tuple | None = None  # (t, 1, pe) while a booking runs

    def call_at(self, t_ns: float, record, asked: tuple | None = None) -> None:
        self._seq += 1
        entry = (asked or self._asking or (self.env.now, 0, -1), self._seq, record)
        group = self._due.get(t_ns)
        if group is None:
            self._due[t_ns] = [entry]
            delay = t_ns - self.env.now
            Timeout(self.env, delay if delay > 0.0 else 0.0, t_ns).callbacks.append(self._run_due)
        else:
            group.append(entry)

    def _run_due(self, event) -> None:
        group = self._due.pop(event._value)
        group.sort(key=lambda e: (e[0], e[1]))
        handlers = self.handlers
        for _, _, record in group:
            handlers[type(record)](record)

    def _run_bookings(self, event) -> None:
        group = self._bookings.pop(event._value)
        if len(group) > 1:
            group.sort(key=lambda r: r.pe)  # stable, as ``EventQueue``
        handlers = self.handlers
        for record in group:
            self._asking = (event._value, 1, record.pe)
            handlers[type(record)](record)
        self._asking = None

    def pending(self) -> list[list]:
        return [[e[2] for e in g] for g in self._due.values()] + list(self._bookings.values())


def chips_of_rank(n_chips: int, size: int, rank: int) -> range:
    """The chips rank ``rank`` of ``size`` runs: contiguous, as even as they divide."""
    return range(n_chips * rank // size, n_chips * (rank + 1) // size)


class MpiBoard(Board):
    """This rank's share of a board (see the module docstring); ``comm``: an mpi4py communicator."""

    def __init__(self, p: HwParams, comm, **kwargs):
        super().__init__(p, **kwargs)
        from mpi4py import MPI
        self._min = MPI.MIN
        self.comm, self.rank, self.size = comm, comm.Get_rank(), comm.Get_size()
        if self.size > p.n_chips:
            raise MpiSplitError(f"{self.size} MPI ranks need a board of at least {self.size} chips; "
                                f"arch.board has {p.n_chips}")
        if self.fidelity != "burst":
            raise MpiSplitError("MPI ranks need run.simulator.noc_fidelity: burst (packet fidelity is not split)")
        if self.recorder is not None:
            raise MpiSplitError("MPI ranks do not record traces (--trace): run in one process to trace")
        chips = chips_of_rank(p.n_chips, self.size, self.rank)
        self.own_pes = range(chips.start * p.pes_per_chip, chips.stop * p.pes_per_chip)
        self.events = OrderedEventQueue(self.env, self.events.handlers)
        noc = self.noc
        self.lookahead_ns = noc.inject_ns + noc.eject_ns + noc.ser_ns
        if self.lookahead_ns <= 0:
            raise MpiSplitError("MPI ranks need packets to take time (noc injection + ejection + serialisation > 0)")
        self._deferred: list[tuple] = []
        self.windows = 0  # synchronisation rounds (what the split costs)

    def owns(self, pe_id: int) -> bool:
        return pe_id in self.own_pes

    # ---- bursts: deferred, exchanged, booked everywhere in one order ------------------------------
    def _book_burst(self, ev) -> None:
        burst, now = ev.burst, self.env.now
        if burst.first_send_ns != now:
            raise MpiSplitError(f"PE {ev.pe} booked a burst at {now} ns, after its first send at "
                                f"{burst.first_send_ns} ns: the order of bookings is not reproducible over ranks")
        mc = ev.route is self.noc.route(ev.pe, burst.keys[0])
        self._deferred.append((now, ev.pe, ev.tick, None if mc else ev.route, burst.keys, burst.payloads,
                               burst.first_send_ns, burst.last_send_ns))

    def _book_everyone(self, records: list[tuple]) -> None:
        """Book every rank's bursts of the window in one process's order; deliver to our own PEs."""
        records.sort(key=lambda r: (r[0], r[1]))  # stable: each PE's own bookings keep their order
        noc, now, own = self.noc, self.env.now, self.own_pes
        call_at = self.events.call_at
        for t, src, tick, route, keys, payloads, first_send, last_send in records:
            if route is None:
                route = noc.route(src, keys[0])
            n = len(keys)
            by_time: dict[float, list] = {}
            for dest, first in noc.reserve(route, first_send, n):
                if dest not in own:
                    continue
                if first < now:
                    raise MpiSplitError(f"a burst of PE {src} booked at {t} ns reaches PE {dest} at {first} ns, "
                                        f"inside the window it was booked in (lookahead {self.lookahead_ns} ns)")
                last = max(first + (n - 1) * noc.spread_ser_ns(route, dest), last_send + (first - first_send))
                by_time.setdefault(first, []).append((dest, last))
            self.counters.deliveries += n * len(route.deliveries)
            for first, dests in by_time.items():
                call_at(first, Delivery(src, tick, dests, keys, payloads, first), asked=(t, 1, src))

    # ---- running -----------------------------------------------------------------------------
    def run_ticks(self, n_ticks: int, drain_ns: float | None = None) -> None:
        """As ``Chip.run_ticks``, every rank to the same end (the latest timer of any rank)."""
        self.tick_limit += n_ticks
        for group in self.timer_groups.values():
            group.arm()
        mine = [(g.time_of(self.tick_limit - 1), g.period_ns) for g in self.timer_groups.values()]
        everyone = [x for part in self.comm.allgather(mine) for x in part]
        if everyone:
            last = max(t for t, _ in everyone)
            period = max(p for _, p in everyone)
            self._run_until(last + (period if drain_ns is None else drain_ns))
        else:
            self._run_until(math.inf)
        self.flush_stats()

    def _next_event_ns(self) -> float:
        """The time of the next event that does something. SimPy 4.1's ``run(until=x)`` leaves a spent
        marker event at x (priority -1, no callbacks): dropped here, or ``peek`` would always say now."""
        queue = self.env._queue
        while queue and queue[0][1] < 0 and not queue[0][3].callbacks:
            heapq.heappop(queue)
        return self.env.peek()

    def _run_until(self, until: float) -> None:
        env, comm = self.env, self.comm
        while True:
            t = comm.allreduce(self._next_event_ns(), op=self._min)
            if t >= until:
                break
            env.run(until=min(t + self.lookahead_ns, until))
            mine, self._deferred = self._deferred, []
            self._book_everyone([r for part in comm.allgather(mine) for r in part])
            self.windows += 1
        if until != math.inf and env.now < until:
            env.run(until=until)

    # ---- after the run: rank 0 sees the whole board ------------------------------------------------
    def gather(self, firmware_fields: tuple[str, ...] = ()) -> dict[int, Any]:
        """Send every rank's PEs (stats, counters, timing, SRAM, the firmware's ``firmware_fields``) to
        rank 0, whose machine then shows all of them (remote PEs as ``RemotePE`` views), as one process's
        would. Returns rank 0's {PE id: firmware or stand-in} of every used PE (other ranks: their own)."""
        from .counters import DMA_COUNTERS, PE_COUNTERS
        self.flush_stats()
        c, end_ns = self.counters, self.env.now
        used = [pe for pe in self.pes if pe.firmware is not None]
        cols = [pe.id for pe in used]
        part = None
        if self.rank != 0:
            part = {"stats": self.stats.export_columns(cols),
                    "counters": {name: [getattr(c, name)[p] for p in cols] for name in PE_COUNTERS + DMA_COUNTERS},
                    "cycles_by_level": [c.cycles_by_level[p] for p in cols],
                    "bracket_delta": [c.bracket_delta[p] for p in cols],
                    "summed": {name: getattr(c, name) for name in ("copies_sent", "dram_bytes_read", "dram_bytes_written")},
                    "dropped_here": c.dropped_packets - self.noc.route_drops,
                    "pes": [RemotePE.of(pe, end_ns, firmware_fields) for pe in used]}
        parts = self.comm.gather(part, root=0)
        if self.rank != 0:
            return {pe.id: pe.firmware for pe in used}
        for part in parts[1:]:
            self.stats.import_columns(part["stats"])
            ids = part["stats"]["pes"]
            for name, values in part["counters"].items():
                target = getattr(c, name)
                for p, v in zip(ids, values):
                    target[p] = v
            for p, by_level, bracket in zip(ids, part["cycles_by_level"], part["bracket_delta"]):
                c.cycles_by_level[p].update(by_level)
                c.bracket_delta[p].update(bracket)
            for name, v in part["summed"].items():
                setattr(c, name, getattr(c, name) + v)
            c.dropped_packets += part["dropped_here"]
            for view in part["pes"]:
                view.bind(self)
                self.pes[view.id] = view
        return {pe.id: pe.firmware for pe in self.pes if pe.firmware is not None}


class RemoteFirmware:
    """What rank 0 keeps of a firmware that ran on another rank: the fields the app asked for."""

    def __init__(self, name: str, fields: dict[str, Any]):
        self.name = name
        self.__dict__.update(fields)


class RemotePE:
    """A PE that ran on another rank, as rank 0's machine shows it (``machine.MachinePE``)."""

    @classmethod
    def of(cls, pe, end_ns: float, firmware_fields: tuple[str, ...]) -> "RemotePE":
        view = cls()
        view.id, view.sram, view.level_name = pe.id, pe.sram, pe.level.name
        view.time_by_level, view.level_since_ns = dict(pe.time_by_level), pe.level_since_ns
        view.firmware = RemoteFirmware(type(pe.firmware).__name__,
                                       {f: getattr(pe.firmware, f) for f in firmware_fields if hasattr(pe.firmware, f)})
        view._tasks = pe.tasks_outstanding
        view._not_finished = pe.ticks_not_finished()
        view._work_left = (end_ns, pe.work_left(end_ns))
        return view

    def bind(self, machine) -> None:
        self._machine = machine
        self.level = machine.p.perf_level(self.level_name)

    def flush_row(self) -> None:
        """Its timesteps were merged into rank 0's stats when it was gathered."""

    def close_levels(self, end_ns: float) -> dict[str, float]:
        out = dict(self.time_by_level)
        out[self.level_name] = out.get(self.level_name, 0.0) + max(0.0, end_ns - self.level_since_ns)
        return out

    @property
    def tasks_outstanding(self) -> int:
        return self._tasks

    @property
    def phase_cycles_total(self) -> dict[str, float]:
        return self._machine.stats.phase_totals(self.id)

    def ticks_not_finished(self) -> list[int]:
        return list(self._not_finished)

    def work_left(self, now_ns: float) -> dict[str, int]:
        at, left = self._work_left
        if now_ns != at:
            raise ValueError(f"PE {self.id} ran on another MPI rank: its work left is known at {at} ns only")
        return dict(left)
