"""Send loops: a callback's packets grouped per multicast route into bursts (``burst`` NoC fidelity).

A send loop ends where the core worked between two sends: a gap longer than the send cost plus one
link serialisation. The packets after it form new bursts. When the body ends, each burst becomes one
NoC transaction booked at its first packet's send time (``Chip.flush_bursts``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Burst:
    """Packets one send loop sent along one route, back to back."""
    first_send_ns: float
    last_send_ns: float
    keys: list
    payloads: list


class SendLoops:
    """The bursts of the running callback body, per route (one PE)."""

    __slots__ = ("pending", "closed", "last_send_ns")

    def __init__(self):
        self.pending: dict[Any, Burst] = {}  # route -> burst of the send loop under way
        self.closed: list[tuple[Any, Burst]] = []  # earlier send loops of the running body
        self.last_send_ns = -1.0

    def add(self, route, key: int, payload, send_ns: float, send_cost_ns: float, ser_ns: float) -> None:
        """A packet sent at ``send_ns``; a gap of more than ``send_cost_ns + ser_ns`` since the last
        send closes the loop under way."""
        pending = self.pending
        if pending and send_ns > self.last_send_ns + send_cost_ns + ser_ns + 1e-6:
            self.closed.extend(pending.items())
            pending = self.pending = {}
        self.last_send_ns = send_ns
        burst = pending.get(route)
        if burst is None:
            pending[route] = Burst(send_ns, send_ns, [key], [payload])
        else:
            burst.last_send_ns = send_ns
            burst.keys.append(key)
            burst.payloads.append(payload)

    def take(self) -> list[tuple[Any, Burst]]:
        """Every burst of the body, in the order their loops ran; the PE starts empty again."""
        bursts = self.closed
        bursts.extend(self.pending.items())
        self.pending, self.closed = {}, []
        return bursts

    def snapshot(self) -> tuple:
        return dict(self.pending), list(self.closed), self.last_send_ns

    def restore(self, snap: tuple) -> None:
        pending, closed, self.last_send_ns = snap
        self.pending, self.closed = dict(pending), list(closed)
