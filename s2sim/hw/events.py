"""The chip's schedule: small typed records on SimPy's clock, dispatched by their type.

Every scheduled action is a record of plain data (which PE, which packets, which times), not a
closure, so a schedule can be inspected, and a delivery could cross a chip link or a process boundary.

Ordering (what makes results independent of the order Python runs callback bodies in):
* ``call_at``: records due at the same instant share one SimPy event and run in the order they were
  asked for, which is the order SimPy gives same-time events (a tick's 12 callback ends or a burst's
  deliveries are one event instead of many).
* ``book_at``: bookings of shared resources (links, DRAM channels) run after every ordinary event of
  their instant, so every body that uses the resource at that instant has run, and same-instant
  bookings run in PE order (a fixed arbitration; one PE's own bookings keep the order it made them).
"""
from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Callable

import simpy
from simpy.events import Timeout

# SimPy runs same-time events by priority (URGENT 0, NORMAL 1), then in scheduling order.
BOOKING_PRIORITY = 2


# ---- ordinary events ---------------------------------------------------------------------------
@dataclass(slots=True)
class TimerTick:
    """The timers of every PE with this (period, phase) fire their next tick."""
    period_ns: float
    phase_ns: float


@dataclass(slots=True, frozen=True)
class CallbackEnd:
    """PE ``pe``'s running queueable callback may be done (pre-emptive work may have moved its end)."""
    pe: int


@dataclass(slots=True, frozen=True)
class DispatchIfIdle:
    """A pre-emptive handler that found PE ``pe`` idle queued work: start it if still idle."""
    pe: int


@dataclass(slots=True)
class Delivery:
    """Packets sent by ``src`` in its timestep ``src_tick`` reach ``dests`` from ``first_ns``.

    ``dests``: (PE, arrival of the last packet) per destination; the arrivals spread evenly from
    ``first_ns`` to that time. ``keys`` and ``payloads`` are the packets, in send order.
    """
    src: int
    src_tick: int
    dests: list[tuple[int, float]]
    keys: list
    payloads: list
    first_ns: float


@dataclass(slots=True)
class DmaDone:
    """PE ``pe``'s DMA engine finished ``request`` (a ``dma.DmaRequest``)."""
    pe: int
    request: Any


# ---- bookings of shared resources (run after the ordinary events of their instant) --------------
@dataclass(slots=True)
class PacketBooking:
    """One packet of ``pe`` (timestep ``tick``) enters the NoC on ``route`` at ``send_ns``."""
    pe: int
    tick: int
    route: Any
    send_ns: float
    key: int
    payload: Any


@dataclass(slots=True)
class BurstBooking:
    """One send loop's packets of ``pe`` (timestep ``tick``) on ``route``: a ``bursts.Burst``."""
    pe: int
    tick: int
    route: Any
    burst: Any


@dataclass(slots=True)
class DramBooking:
    """PE ``pe``'s DMA ``request`` reaches the DRAM controller at ``request_ns``."""
    pe: int
    request: Any
    request_ns: float


_by_pe = attrgetter("pe")


class EventQueue:
    """Records due at simulated times; ``handlers`` maps each record type to what runs it."""

    def __init__(self, env: simpy.Environment, handlers: dict[type, Callable[[Any], None]]):
        self.env = env
        self.handlers = handlers
        self._due: dict[float, list] = {}  # call_at records waiting for their SimPy event
        self._bookings: dict[float, list] = {}  # book_at records waiting for their SimPy event

    def call_at(self, t_ns: float, record) -> None:
        """Run ``record`` at simulated time ``t_ns`` (>= now)."""
        group = self._due.get(t_ns)
        if group is None:
            self._due[t_ns] = [record]
            delay = t_ns - self.env.now
            Timeout(self.env, delay if delay > 0.0 else 0.0, t_ns).callbacks.append(self._run_due)
        else:
            group.append(record)

    def _run_due(self, event) -> None:
        handlers = self.handlers
        for record in self._due.pop(event._value):
            handlers[type(record)](record)

    def book_at(self, t_ns: float, record) -> None:
        """Run the booking ``record`` (it has a ``pe``) at ``t_ns`` (>= now), after that instant's
        ordinary events, in PE order among the bookings of that instant."""
        group = self._bookings.get(t_ns)
        if group is None:
            self._bookings[t_ns] = [record]
            env = self.env
            event = simpy.Event(env)
            event._ok, event._value = True, t_ns  # a triggered event, as Timeout makes it
            event.callbacks.append(self._run_bookings)
            delay = t_ns - env.now
            env.schedule(event, BOOKING_PRIORITY, delay if delay > 0.0 else 0.0)
        else:
            group.append(record)

    def pending(self) -> list[list]:
        """The records still waiting, grouped by instant (for invariant checks, not the hot path)."""
        return list(self._due.values()) + list(self._bookings.values())

    def _run_bookings(self, event) -> None:
        group = self._bookings.pop(event._value)
        if len(group) > 1:
            group.sort(key=_by_pe)  # stable
        handlers = self.handlers
        for record in group:
            handlers[type(record)](record)
