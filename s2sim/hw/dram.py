"""Off-chip LPDDR4: named buffers (what the host loaded) and channels shared by reservation.

Transfers on one channel are serialised by a "free-at" time, so two DMAs to the same channel share
its bandwidth; which channel a byte uses follows its address (interleaved in fixed blocks). A transfer
that crosses block boundaries is split at them: each block-sized piece queues on its own channel, the
pieces on different channels move in parallel, and the transfer is done when its last piece is.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import HwParams


@dataclass
class DramBuffer:
    """A host-loaded array in DRAM; ``address`` decides the channel, ``array`` holds the data."""

    name: str
    address: int
    array: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)


class Dram:
    def __init__(self, p: HwParams):
        self.p = p
        self.buffers: dict[str, DramBuffer] = {}
        self._next_address = 0
        self.channel_free_ns = [0.0] * p.dram_channels  # (bytes read and written: ``Counters``)

    def store(self, name: str, array: np.ndarray) -> DramBuffer:
        """Place (or replace) a host array in DRAM; buffers start on interleave boundaries."""
        if name in self.buffers:
            buf = self.buffers[name]
            buf.array = array
            return buf
        buf = DramBuffer(name, self._next_address, array)
        block = self.p.dram_interleave_bytes
        self._next_address += -(-max(array.nbytes, 1) // block) * block
        self.buffers[name] = buf
        return buf

    def channel_of(self, address: int) -> int:
        return (address // self.p.dram_interleave_bytes) % self.p.dram_channels

    def reserve(self, address: int, nbytes: int, start_ns: float) -> float:
        """Occupy the channels of ``nbytes`` from ``address`` (piece by interleave block, in address order);
        return when the last piece has moved."""
        block, free = self.p.dram_interleave_bytes, self.channel_free_ns
        ready_ns, bytes_per_ns = start_ns + self.p.dram_latency_ns, self.p.dram_channel_bytes_per_ns
        end, done = address + nbytes, ready_ns
        while True:
            piece_end = min(end, (address // block + 1) * block)
            ch = self.channel_of(address)
            begin = ready_ns if ready_ns > free[ch] else free[ch]
            free[ch] = finish = begin + (piece_end - address) / bytes_per_ns
            if finish > done:
                done = finish
            address = piece_end
            if address >= end:
                return done
