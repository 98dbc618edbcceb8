"""Per-PE DMA engine: a bounded request queue in front of one transfer at a time.

Time of a transfer = setup cycles (core clock) + bytes / bandwidth, where DRAM transfers reserve a
shared channel (see ``dram.py``) and SRAM<->SRAM transfers run at the engine's own rate. Completion
raises DMA_TRANSFER_DONE on the PE, like ``spin1_dma_transfer``. A DRAM request books its channel
when it reaches the controller (after setup) in simulated time, not when the issuing body runs.

Where the rules live: queueing and the transfer time ``DmaEngine._start_next``; the DRAM channel
``Dram.reserve``; the DRAM byte counts ``DmaEngine.submit`` (accepted requests only).
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from .dispatcher import DMA
from .dram import Dram
from .events import DmaDone, DramBooking


@dataclass(slots=True)
class DmaRequest:
    """One transfer: ``count`` elements between DRAM ``buffer`` (from ``start``) and ``sram_array``.

    ``to_sram``: a read (DRAM -> SRAM); else a write. ``address`` None: SRAM<->SRAM (no DRAM channel).
    """
    tag: int
    nbytes: int
    address: int | None
    buffer: str | None = None
    start: int = 0
    count: int = 0
    sram_array: np.ndarray | None = None
    to_sram: bool = True
    issue_ns: float = 0.0
    cause: int = -1  # the tick whose work issued it (its done handler is that tick's work too)

    def copy_data(self, dram: Dram) -> None:
        """Move the data, when the transfer lands."""
        if self.buffer is None:
            return
        buf, start, count = dram.buffers[self.buffer], self.start, self.count
        if self.to_sram:
            self.sram_array.reshape(-1)[:count] = buf.array.reshape(-1)[start:start + count]
        else:
            buf.array.reshape(-1)[start:start + count] = self.sram_array.reshape(-1)[:count]


class DmaEngine:
    def __init__(self, env, pe, dram: Dram, queue_size: int):
        self.env, self.pe, self.dram = env, pe, dram
        self.queue: deque[DmaRequest] = deque()
        self.queue_size = queue_size
        self.busy = False
        self.counters = pe.counters  # transfers, bytes moved, refusals and DRAM bytes go to the machine's record

    def request(self, direction: str, tag: int, buffer: str, start: int, count: int,
                sram_array: np.ndarray) -> DmaRequest:
        """A transfer of ``count`` elements of DRAM ``buffer`` from ``start`` (``direction`` "read":
        into ``sram_array``, "write": out of it); DRAM counts its bytes once ``submit`` accepts it."""
        buf = self.dram.buffers[buffer]
        nbytes = count * buf.array.itemsize
        return DmaRequest(tag, nbytes, buf.address + start * buf.array.itemsize, buffer, start, count,
                          sram_array, direction == "read")

    def submit(self, req: DmaRequest, issue_ns: float) -> bool:
        """Queue a request issued at ``issue_ns`` (>= now); False (and counted) when the queue is full."""
        if len(self.queue) >= self.queue_size:
            self.counters.dma_queue_full[self.pe.id] += 1  # refused: no bytes move (the firmware may retry)
            return False
        if req.buffer is not None:  # DRAM counts the bytes read or written
            if req.to_sram:
                self.counters.dram_bytes_read += req.nbytes
            else:
                self.counters.dram_bytes_written += req.nbytes
        self.queue.append(req)
        if not self.busy:
            self._start_next(max(issue_ns, self.env.now))
        return True

    def _start_next(self, free_ns: float) -> None:
        """Start the oldest queued request once the engine is free at ``free_ns`` — but never before
        that request was issued (a body issues it at its own ``now_ns``, which may be later)."""
        if not self.queue:
            self.busy = False
            return
        self.busy = True
        req = self.queue.popleft()
        start_ns = free_ns if free_ns > req.issue_ns else req.issue_ns
        p = self.pe.p
        setup_ns = p.dma_setup_cycles * self.pe.ns_per_cycle
        counters, pe_id = self.counters, self.pe.id
        counters.dma_transfers[pe_id] += 1
        counters.dma_bytes_moved[pe_id] += req.nbytes
        chip = self.pe.chip
        if req.address is None:
            done = start_ns + setup_ns + req.nbytes / p.dma_sram_bytes_per_cycle * self.pe.ns_per_cycle
            chip.events.call_at(done, DmaDone(self.pe.id, req))
            return
        chip.events.book_at(start_ns + setup_ns, DramBooking(self.pe.id, req, start_ns + setup_ns))

    def book_dram(self, booking: DramBooking) -> None:
        """The request reached the DRAM controller: reserve its channel, finish when the data is moved."""
        done = self.dram.reserve(booking.request.address, booking.request.nbytes, booking.request_ns)
        self.pe.chip.events.call_at(done, DmaDone(self.pe.id, booking.request))

    def finish(self, req: DmaRequest) -> None:
        """The transfer landed: copy the data, tell the recorder and the PE, start the next one."""
        req.copy_data(self.dram)
        pe = self.pe
        rec = pe.chip.recorder
        if rec is not None:
            rec.dma(pe.id, req.tag, req.issue_ns, self.env.now, req.nbytes)
        pe.raise_event(DMA, pe.firmware.on_dma_done, (req.tag,), cause=req.cause)
        self._start_next(self.env.now)
