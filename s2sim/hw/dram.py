"""Off-chip LPDDR4: named buffers (what the host loaded) and channels shared by reservation.

Transfers on one channel are serialised by a "free-at" time, so two DMAs to the same channel share
its bandwidth; which channel a transfer uses follows its address (interleaved in fixed blocks).
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
        self.channel_free_ns = [0.0] * p.dram_channels
        self.bytes_read = 0
        self.bytes_written = 0

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
        """Occupy the channel of ``address`` for ``nbytes``; return when the data has moved."""
        ch = self.channel_of(address)
        begin = max(start_ns + self.p.dram_latency_ns, self.channel_free_ns[ch])
        done = begin + nbytes / self.p.dram_channel_bytes_per_ns
        self.channel_free_ns[ch] = done
        return done
