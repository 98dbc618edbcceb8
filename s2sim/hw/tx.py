"""The PE's packet transmit queue: sends leave one link serialisation apart, and a full queue makes
the sending core wait for space (back-pressure, counted as ``tx_queue_full``)."""
from __future__ import annotations

from .context import ExecutionContext


class TxQueue:
    __slots__ = ("free_ns", "size", "ser_ns", "full_counts", "pe_id")

    def __init__(self, size: int, ser_ns: float, full_counts: list[int], pe_id: int):
        self.free_ns = 0.0  # when the queue has sent everything handed to it
        self.size = size  # packets it holds
        self.ser_ns = ser_ns  # one packet's serialisation onto the link
        self.full_counts, self.pe_id = full_counts, pe_id  # ``Counters.tx_queue_full``, and where this PE counts

    def admit(self, ctx: ExecutionContext) -> float:
        """When the running body's packet enters the queue (the body waits while it is full)."""
        t = ctx.now_ns
        ser = self.ser_ns
        backlog = (self.free_ns - t) / ser if self.free_ns > t else 0.0
        if backlog >= self.size:  # TX queue full: the core waits for space
            self.full_counts[self.pe_id] += 1
            wait_ns = self.free_ns - (self.size - 1) * ser - t
            ctx.add_cycles("comms", wait_ns / ctx.ns_per_cycle)
            t = ctx.now_ns
        self.free_ns = max(t, self.free_ns) + ser
        return t

    def snapshot(self) -> float:
        return self.free_ns

    def restore(self, snap: float) -> None:
        self.free_ns = snap
