"""Per-PE DMA engine: a bounded request queue in front of one transfer at a time.

Time of a transfer = setup cycles (core clock) + bytes / bandwidth, where DRAM transfers reserve a
shared channel (see ``dram.py``) and SRAM<->SRAM transfers run at the engine's own rate. Completion
raises DMA_TRANSFER_DONE on the PE, like ``spin1_dma_transfer``. A DRAM request books its channel
when it reaches the controller (after setup) in simulated time, not when the issuing body runs.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .dram import Dram, DramBuffer


@dataclass
class DmaRequest:
    tag: int
    nbytes: int
    address: int | None  # DRAM address, None for SRAM<->SRAM
    on_done: Callable[[], None]  # copies the data and raises the event


class DmaEngine:
    def __init__(self, env, pe, dram: Dram, queue_size: int):
        self.env, self.pe, self.dram = env, pe, dram
        self.queue: deque[DmaRequest] = deque()
        self.queue_size = queue_size
        self.busy = False
        self.queue_full = 0
        self.transfers = 0
        self.bytes_moved = 0

    def submit(self, req: DmaRequest, issue_ns: float) -> bool:
        """Queue a request issued at ``issue_ns`` (>= now); False (and counted) when the queue is full."""
        if len(self.queue) >= self.queue_size:
            self.queue_full += 1
            return False
        self.queue.append(req)
        if not self.busy:
            self._start_next(max(issue_ns, self.env.now))
        return True

    def _start_next(self, start_ns: float) -> None:
        if not self.queue:
            self.busy = False
            return
        self.busy = True
        req = self.queue.popleft()
        p = self.pe.p
        setup_ns = p.dma_setup_cycles * self.pe.ns_per_cycle
        self.transfers += 1
        self.bytes_moved += req.nbytes
        chip = self.pe.chip
        if req.address is None:
            done = start_ns + setup_ns + req.nbytes / p.dma_sram_bytes_per_cycle * self.pe.ns_per_cycle
            chip.call_at(done, lambda: self._finish(req))
            return
        request_ns = start_ns + setup_ns

        def book() -> None:
            done = self.dram.reserve(req.address, req.nbytes, request_ns)
            chip.call_at(done, lambda: self._finish(req))

        chip.book_at(request_ns, self.pe.id, book)

    def _finish(self, req: DmaRequest) -> None:
        req.on_done()
        self._start_next(self.env.now)


def copy_in(buf: DramBuffer, start: int, count: int, dst: np.ndarray) -> Callable[[], None]:
    """A completion action copying ``count`` elements from DRAM into ``dst`` when the DMA lands."""
    def act() -> None:
        dst.reshape(-1)[:count] = buf.array.reshape(-1)[start:start + count]
    return act


def copy_out(src: np.ndarray, buf: DramBuffer, start: int, count: int) -> Callable[[], None]:
    def act() -> None:
        buf.array.reshape(-1)[start:start + count] = src.reshape(-1)[:count]
    return act
