"""A board split over MPI ranks: each rank runs the PEs of a group of chips and books the packet
bursts in one process's order, and the ranks meet only when a burst could reach another rank before
they meet again.

Why it is exact (the same timing, spikes and energy as one process, bit for bit):
* Firmware, timers, handlers and DMA of a PE run on the rank that owns its chip (DRAM is per chip).
* Bursts are the only thing PEs of different chips share. A body's bursts are known when it runs
  (its sends are at its start + cycles so far), before they are booked at their first send. They are
  booked in the order one process books them (first send, then PE: ``EventQueue.book_at``), so link
  free-at times are those of one process: ``pieces`` (when no tree crosses from a rank to a lower
  one): the ranks take turns in rank order, each booking its own chips' links, ejection ports and
  deliveries of each tree and handing the tree's arrivals at its outgoing chip links on; else
  ``replicated``: every rank books every burst of the board and delivers to its own PEs.
* Exchange rounds (``MpiBoard._run_until``): each rank hands over the bursts its bodies announced and
  says when a body that may send can next run here (``_send_bound_ns``); the earliest such time of
  any rank is the horizon. Every burst sent before the horizon is known now, so all of them are booked;
  none delivers before its send + ``lookahead_ns`` (injection + ejection + one serialisation, the
  fastest any packet arrives), and no burst still unknown is sent before the horizon, so each rank
  runs to horizon + lookahead alone.
* Which bodies may send: with the default ``tick`` exchange (``$S2SIM_MPI_EXCHANGE``) packet handlers
  do not (the analysis for LIF inference: its handlers only add synaptic input; its timer callbacks
  send), nor does a callback's end with nothing queued; timers, DMA completions and dispatches may.
  For LIF that is one round per timer phase, where exchanging at every packet's flight time took
  ~20 per tick. ``window`` counts every body as one that may send (a delivery too): exact for any
  firmware, a round per packet flight time while packets are in flight.
* Records due at one instant run in the order one process asked for them (``OrderedEventQueue``): a
  delivery booked for a send at t runs after what was asked for before t's bookings, whenever it was
  booked here.

Checked at run time, on every rank at once (one line, exit 2): a burst sent before bursts already
booked (a body counted as quiet sent: a packet handler under ``tick``), a delivery due before the
round that booked it, ``packet`` fidelity, a trace recorder. The cost: every rank holds every routing
table (routes are compiled from them); ``replicated`` books every burst on every rank, ``pieces``
books a rank's part after the lower ranks' (one rank after another); one collective per round and a
hand-over per rank pair, waited for asleep (MPICH's own wait spins and counts as CPU).
"""
from __future__ import annotations

import heapq
import math
import time
from operator import itemgetter
from typing import Any

from simpy.events import Timeout

from .board import Board
from ..config.simulator import MPI_EXCHANGE_ENV, mpi_chips_from_env, mpi_exchange_from_env
from .events import CallbackEnd, Delivery, EventQueue
from .params import HwParams


_by_time_then_pe = itemgetter(0, 1)
_PIECES_TAG = 24  # point-to-point hand-overs of ``MpiBoard._book_pieces``


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


def chips_of_rank(n_chips: int, size: int, rank: int, split: str = "contiguous") -> range:
    """The chips rank ``rank`` of ``size`` runs. ``contiguous``: a run of chips, as even as they divide
    (trees cross ranks forward only for layered networks placed chip by chip: ``pieces`` booking);
    ``interleaved``: every ``size``-th chip (each layer's chips shared out, so its handler work is
    too; trees cross both ways: ``replicated`` booking)."""
    if split == "interleaved":
        return range(rank, n_chips, size)
    return range(n_chips * rank // size, n_chips * (rank + 1) // size)


class MpiBoard(Board):
    """This rank's share of a board (see the module docstring); ``comm``: an mpi4py communicator."""

    def __init__(self, p: HwParams, comm, **kwargs):
        super().__init__(p, **kwargs)
        self.comm, self.rank, self.size = comm, comm.Get_rank(), comm.Get_size()
        if self.size > p.n_chips:
            raise MpiSplitError(f"{self.size} MPI ranks need a board of at least {self.size} chips; "
                                f"arch.board has {p.n_chips}")
        if self.fidelity != "burst":
            raise MpiSplitError("MPI ranks need run.simulator.noc_fidelity: burst (packet fidelity is not split)")
        if self.recorder is not None:
            raise MpiSplitError("MPI ranks do not record traces (--trace): run in one process to trace")
        self.split = mpi_chips_from_env()
        self.own_chips = chips_of_rank(p.n_chips, self.size, self.rank, self.split)
        ppc = p.pes_per_chip
        self.own_pes = frozenset(pe for chip in self.own_chips for pe in range(chip * ppc, (chip + 1) * ppc))
        self.events = OrderedEventQueue(self.env, self.events.handlers)
        noc = self.noc
        self.lookahead_ns = noc.inject_ns + noc.eject_ns + noc.ser_ns
        if self.lookahead_ns <= 0:
            raise MpiSplitError("MPI ranks need packets to take time (noc injection + ejection + serialisation > 0)")
        self.exchange = mpi_exchange_from_env()
        self._announced: list[tuple] = []  # this rank's bursts not yet handed to the others
        self._pending: list[tuple] = []  # every rank's bursts handed over, not yet booked (sent after the horizon)
        self._booked_last: tuple[float, int] = (-math.inf, -1)  # (send time, PE) of the last burst booked
        self._misorder: str | None = None  # a burst sent before ones already booked (raised at the exchange)
        # ``pieces`` booking (see ``_choose_booking``): each rank books its chips' part of each tree
        self.booking: str | None = None  # ``pieces`` or ``replicated``, chosen at the first run
        self._rank_of_chip = [0] * p.n_chips
        for r in range(self.size):
            for chip in chips_of_rank(p.n_chips, self.size, r, self.split):
                self._rank_of_chip[chip] = r
        self._own_pending: list[tuple] = []  # this rank's bursts not yet booked (``pieces``)
        self._incoming: dict[tuple, list] = {}  # (send time, PE) -> [record, {edge index: arrival}] from lower ranks
        self._piece_of: dict = {}  # route -> its steps on this rank's chips
        self._sends: list = []  # point-to-point sends of the last round (waited for before the next)
        self._share = {"deliveries": 0, "packets_routed": 0, "packet_hops": 0, "chip_link_crossings": 0,
                       "route_drops": 0, "links": {}}  # what ``pieces`` booked here, for rank 0's totals
        self.windows = 0  # exchange rounds (what the split costs)

    def owns(self, pe_id: int) -> bool:
        return pe_id in self.own_pes

    # ---- bursts: announced when the body that sends them runs, booked everywhere in one order ------
    def flush_bursts(self, pe) -> None:
        """A body's send loops become bursts as in one process, but instead of a booking at their first
        send they are announced to the other ranks at the next exchange (``_run_until``)."""
        src, tick, noc = pe.id, pe.tick, self.noc
        for route, burst in pe.sends.take():
            t = burst.first_send_ns
            if (t, src) <= self._booked_last and self._misorder is None:  # every rank stops at the exchange
                self._misorder = (f"PE {src} sent a burst at {t} ns, after the ranks had booked the bursts up to "
                                  f"{self._booked_last[0]} ns: a body the exchange counted as one that does not "
                                  f"send did (a packet handler?); run it with {MPI_EXCHANGE_ENV}=window or in one process")
            mc = route is noc.route(src, burst.keys[0])
            self._announced.append((t, src, tick, None if mc else route, burst.keys, burst.payloads,
                                    burst.last_send_ns))

    def _book_everyone(self, records: list[tuple], horizon: float) -> tuple[int, float]:
        """Book every rank's bursts (sorted in one process's order) sent before ``horizon``; deliver to
        our own PEs. With the ``window`` exchange a delivery may send too, so booking stops before the
        first burst sent at or after the earliest delivery just booked (to any PE: every rank books
        every burst, so every rank stops at the same one). Returns how many were booked and the horizon."""
        noc, now, own = self.noc, self.env.now, self.own_pes
        call_at = self.events.call_at
        deliveries_send = self.exchange == "window"
        booked = 0
        for t, src, tick, route, keys, payloads, last_send in records:
            if t >= horizon:
                break
            if route is None:
                route = noc.route(src, keys[0])
            n = len(keys)
            by_time: dict[float, list] = {}
            for dest, first in noc.reserve(route, t, n):
                if deliveries_send and first < horizon:
                    horizon = first
                if first < now:  # (checked for every PE: every rank stops at the same burst)
                    raise MpiSplitError(f"a burst PE {src} sent at {t} ns reaches PE {dest} at {first} ns, before "
                                        f"the ranks exchanged it at {now} ns: a body the exchange counted as one "
                                        f"that does not send did (a packet handler?); run it with "
                                        f"{MPI_EXCHANGE_ENV}=window or in one process")
                if dest not in own:
                    continue
                last = max(first + (n - 1) * noc.spread_ser_ns(route, dest), last_send + (first - t))
                by_time.setdefault(first, []).append((dest, last))
            self.counters.deliveries += n * len(route.deliveries)
            for first, dests in by_time.items():
                call_at(first, Delivery(src, tick, dests, keys, payloads, first), asked=(t, 1, src))
            self._booked_last = (t, src)
            booked += 1
        return booked, horizon

    def copies_in_flight(self) -> int:
        """As ``Chip.copies_in_flight``, with this rank's own bursts not yet booked (their copies were
        counted as sent here, at the send)."""
        n = super().copies_in_flight()
        own = [r for r in self._pending if self.owns(r[1])] + self._own_pending
        for t, src, tick, route, keys, *_ in self._announced + own:
            route = route if route is not None else self.noc.route(src, keys[0])
            n += len(keys) * (len(route.deliveries) + route.dropped)
        return n

    # ---- running -----------------------------------------------------------------------------
    def run_ticks(self, n_ticks: int, drain_ns: float | None = None) -> None:
        """As ``Chip.run_ticks``, every rank to the same end (the latest timer of any rank)."""
        self.tick_limit += n_ticks
        for group in self.timer_groups.values():
            group.arm()
        mine = [(g.time_of(self.tick_limit - 1), g.period_ns) for g in self.timer_groups.values()]
        everyone = [x for part in self._allgather(mine) for x in part]
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

    def _send_bound_ns(self) -> float:
        """The earliest time a body that may send can run on this rank: its earliest pending record
        that is not quiet. ``tick`` exchange: a packet delivery is quiet (its handlers do not send: the
        analysis for LIF inference), and so is the end of a callback with nothing queued behind it;
        timers, DMA, dispatches and DRAM bookings are not. ``window``: nothing is quiet."""
        events, pes = self.events, self.pes
        best = min(events._bookings, default=math.inf)  # DRAM bookings: their DMA-done callbacks may send
        quiet = self.exchange == "tick"
        for t, group in events._due.items():
            if t >= best:
                continue
            for entry in group:
                record = entry[2]
                kind = type(record)
                if quiet and (kind is Delivery or (kind is CallbackEnd and not any(pes[record.pe].dispatcher.queues))):
                    continue
                best = t
                break
        return best

    def _allgather(self, value):
        """``comm.allgather`` that waits for the slowest rank asleep (``Ibarrier`` polled with growing
        sleeps) instead of in MPICH's busy-polling progress loop, whose spinning counts as CPU time
        and takes a core from the rank still working on a loaded machine."""
        request = self.comm.Ibarrier()
        pause = 20e-6
        while not request.Test():
            time.sleep(pause)
            pause = min(pause * 2, 1e-3)
        return self.comm.allgather(value)

    def _run_until(self, until: float) -> None:
        """Exchange rounds: each rank says when it may next send (``_send_bound_ns``); the horizon is the
        earliest such time of any rank. Every burst sent before the horizon is known to its rank now,
        so all of them are booked in one process's order (``_book_pieces`` or ``_book_everyone``); none
        delivers before its send + ``lookahead_ns``, and no burst still unknown is sent before the
        horizon, so each rank runs to horizon + lookahead alone. For LIF inference (handlers do not
        send) that is one exchange per timer phase."""
        env = self.env
        if self.booking is None:
            self._choose_booking()
        pieces = self.booking == "pieces"
        while True:
            self._wait_sends()
            mine, self._announced = self._announced, []
            if pieces:
                self._own_pending.extend(mine)
                waiting = min(min((r[0] for r in self._own_pending), default=math.inf),
                              min((k[0] for k in self._incoming), default=math.inf))
                mine = None
            else:
                waiting = min((r[0] for r in self._pending), default=math.inf)
            parts = self._allgather((self._send_bound_ns(), self._next_event_ns(), waiting, mine, self._misorder))
            for part in parts:
                if part[4] is not None:
                    raise MpiSplitError(part[4])
            horizon = min(part[0] for part in parts)
            first = min(part[1] for part in parts)
            if pieces:
                waiting = min(part[2] for part in parts)
                if first >= until and waiting >= until:
                    break
                stop = self._book_pieces(horizon)
            else:
                pending = self._pending
                for part in parts:
                    pending.extend(part[3])
                pending.sort(key=_by_time_then_pe)  # stable: a PE's own bursts keep their order
                if first >= until and (not pending or pending[0][0] >= until):
                    break
                booked, stop = self._book_everyone(pending, horizon)
                del pending[:booked]
            self.windows += 1
            end = min(stop + self.lookahead_ns, until)
            if end > env.now:
                env.run(until=end)
        self._wait_sends()
        if until != math.inf and env.now < until:
            env.run(until=until)

    # ---- ``pieces``: each rank books its own chips' part of every tree -----------------------------
    def _choose_booking(self) -> None:
        """``pieces`` when no multicast tree crosses from a rank's chips to a lower rank's (then the
        ranks book in rank order, each its chips' links, ejection ports and deliveries, handing each
        tree's arrivals at its chip links on to the next); else every rank books every burst
        (``replicated``). Read from the routing tables at each rank's chip gateways at the first run."""
        backward = False
        for chip in self.own_chips:
            for entry in self.noc.tables.get((chip, *self.noc.gateway_xy), ()):
                if any(self._rank_of_chip[node[0]] < self.rank for node in entry.links):
                    backward = True
                    break
        self.booking = "replicated" if any(self._allgather(backward)) else "pieces"

    def _piece(self, route) -> tuple:
        """The steps of ``route`` this rank books, in the tree's edge order: (edge index, kind, edge,
        next rank), kind 0 a mesh link here, 1 a chip link between chips here, 2 a chip link from here
        to another rank's chip, 3 a chip link from another rank into a chip here; and its ejections here."""
        piece = self._piece_of.get(route)
        if piece is None:
            rank_of, me = self._rank_of_chip, self.rank
            steps = []
            for i, edge in enumerate(route.edges):
                a, b = edge
                ra, rb = rank_of[a[0]], rank_of[b[0]]
                if ra == me:
                    kind = 0 if a[0] == b[0] else (1 if rb == me else 2)
                    if kind == 2 and rb < me:
                        self._misorder = self._misorder or (
                            f"a tree from PE {route.src_pe} crosses from chip {a[0]} (rank {me}) back to chip "
                            f"{b[0]} (rank {rb}): the ranks book trees in rank order; run it in one process")
                    steps.append((i, kind, edge, rb))
                elif rb == me:
                    steps.append((i, 3, edge, rb))
            own = self.own_pes
            piece = self._piece_of[route] = (tuple(steps), tuple(e for e in route.ejects if e[0] in own))
        return piece

    def _book_pieces(self, horizon: float) -> float:
        """This rank's turn of the round: take the trees' arrivals from the lower ranks, book every burst
        sent before the stop (the horizon; ``window``: also before the earliest delivery booked here or
        below) on this rank's chips in one process's order, hand the arrivals on. Returns the stop."""
        comm, me = self.comm, self.rank
        stop = horizon
        incoming = self._incoming
        for lower in range(me):
            lower_stop, crossings = self._recv(lower)
            stop = min(stop, lower_stop)
            for key, record, entries in crossings:
                if key <= self._booked_last and self._misorder is None:
                    self._misorder = (f"a burst PE {key[1]} sent at {key[0]} ns reached this rank after it had booked "
                                      f"the bursts up to {self._booked_last[0]} ns; run it with "
                                      f"{MPI_EXCHANGE_ENV}=window or in one process")
                held = incoming.get(key)
                if held is None:
                    incoming[key] = [record, entries]
                else:
                    held[1].update(entries)
        self._own_pending.sort(key=_by_time_then_pe)
        own, remote = self._own_pending, sorted(incoming)
        out: dict[int, list] = {}
        deliveries_send = self.exchange == "window"
        i = j = 0
        while True:
            mine_next = own[i] if i < len(own) else None
            key = remote[j] if j < len(remote) else None
            if mine_next is not None and (key is None or mine_next[:2] < key):
                record, entries = mine_next, None
            elif key is not None:
                record, entries = incoming[key]
            else:
                break
            if record[0] >= stop:
                break
            if entries is None:
                i += 1
            else:
                j += 1
                del incoming[key]
            first = self._book_piece(record, entries, out)
            if deliveries_send and first < stop:
                stop = first
            self._booked_last = record[:2]
        del own[:i]
        for higher in range(me + 1, self.size):
            self._sends.append(comm.isend((stop, out.get(higher, [])), dest=higher, tag=_PIECES_TAG))
        return stop

    def _book_piece(self, record: tuple, entries: dict | None, out: dict[int, list]) -> float:
        """As ``BoardNoC.reserve`` + ``_eject`` for the steps of one burst's tree on this rank's chips
        (``entries``: the arrivals at its chip links from lower ranks; None: the burst starts here).
        Schedules the deliveries to this rank's PEs; returns the earliest (inf if none)."""
        t, src, tick, route, keys, payloads, last_send = record
        noc, share = self.noc, self._share
        if route is None:
            route = noc.route(src, keys[0])
        steps, ejects = self._piece(route)
        n = len(keys)
        free, hop = noc.link_free_ns, noc.hop_ns
        busy, link_busy = n * noc.ser_ns, n * noc.link_ser_ns
        link_after = noc.link_ser_ns + noc.link_latency_ns
        at: dict = {}
        if entries is None:  # the source's injection port
            depart = free.get(route.inject_key, 0.0)
            if depart < t:
                depart = t
            free[route.inject_key] = depart + busy
            at[noc.router_of(src)] = depart + noc.inject_ns
            share["packets_routed"] += n
            self.counters.packets_routed += n
            if route.dropped:
                share["route_drops"] += n
                noc.route_drops += n
                self.counters.dropped_packets += n
        hops = chip_edges = 0
        sent: dict[int, dict] = {}
        links = share["links"]
        for index, kind, edge, next_rank in steps:
            a, b = edge
            if kind == 3:
                at[b] = entries[index]
                continue
            start = at[a]
            f = free.get(edge, 0.0)
            if f > start:
                start = f
            if kind == 0:
                free[edge] = start + busy
                at[b] = start + hop
                hops += 1
                continue
            free[edge] = start + link_busy
            chip_edges += 1
            link = (a[0], b[0])
            noc._count_link(link, start, n, start + link_busy)
            load = links.get(link)
            if load is None:
                load = links[link] = [0, {}, 0.0]
            load[0] += n
            tick_of = int(start // noc.tick_ns) if noc.tick_ns else 0
            load[1][tick_of] = load[1].get(tick_of, 0) + n
            load[2] = max(load[2], start + link_busy)
            if kind == 1:
                at[b] = start + link_after
            else:
                sent.setdefault(next_rank, {})[index] = start + link_after
        self.counters.packet_hops += n * hops
        noc.chip_link_crossings += n * chip_edges
        share["packet_hops"] += n * hops
        share["chip_link_crossings"] += n * chip_edges
        for next_rank, arrivals in sent.items():
            out.setdefault(next_rank, []).append(
                ((t, src), (t, src, tick, None if route is noc.route(src, keys[0]) else route, keys, payloads,
                            last_send), arrivals))
        # ejection ports and deliveries of this rank's PEs
        now, ser, eject = self.env.now, noc.ser_ns, noc.eject_ns
        by_time: dict[float, list] = {}
        earliest = math.inf
        for pe, router, eject_key in ejects:
            start = at[router]
            f = free.get(eject_key, 0.0)
            if f > start:
                start = f
            free[eject_key] = start + busy
            first = start + eject + ser
            if first < now and self._misorder is None:
                self._misorder = (f"a burst PE {src} sent at {t} ns reaches PE {pe} at {first} ns, before the ranks "
                                  f"exchanged it at {now} ns: a body the exchange counted as one that does not send "
                                  f"did (a packet handler?); run it with {MPI_EXCHANGE_ENV}=window or in one process")
            earliest = min(earliest, first)
            last = max(first + (n - 1) * noc.spread_ser_ns(route, pe), last_send + (first - t))
            by_time.setdefault(first, []).append((pe, last))
        self.counters.deliveries += n * len(ejects)
        share["deliveries"] += n * len(ejects)
        call_at = self.events.call_at
        for first, dests in by_time.items():
            call_at(first, Delivery(src, tick, dests, keys, payloads, first), asked=(t, 1, src))
        return earliest

    def _recv(self, source: int):
        """The lower rank ``source``'s hand-over of this round, waited for asleep."""
        comm, pause = self.comm, 20e-6
        while not comm.iprobe(source=source, tag=_PIECES_TAG):
            time.sleep(pause)
            pause = min(pause * 2, 1e-3)
        return comm.recv(source=source, tag=_PIECES_TAG)

    def _wait_sends(self) -> None:
        pause = 20e-6
        for request in self._sends:
            while not request.test()[0]:
                time.sleep(pause)
                pause = min(pause * 2, 1e-3)
        self._sends = []

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
                    "pieces": self._share,
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
            self._add_share(part["pieces"])
            for view in part["pes"]:
                view.bind(self)
                self.pes[view.id] = view
        return {pe.id: pe.firmware for pe in self.pes if pe.firmware is not None}


    def _add_share(self, share: dict) -> None:
        """Rank 0 adds what another rank booked of the trees on its chips (``pieces``)."""
        c, noc = self.counters, self.noc
        c.deliveries += share["deliveries"]
        c.packets_routed += share["packets_routed"]
        c.packet_hops += share["packet_hops"]
        c.dropped_packets += share["route_drops"]
        noc.route_drops += share["route_drops"]
        noc.chip_link_crossings += share["chip_link_crossings"]
        for link, (packets, per_tick, busy_until) in share["links"].items():
            noc.link_packets[link] += packets
            ticks = noc.link_tick_packets[link]
            for tick, k in per_tick.items():
                ticks[tick] += k
            if busy_until > noc.link_busy_until_ns.get(link, 0.0):
                noc.link_busy_until_ns[link] = busy_until


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
