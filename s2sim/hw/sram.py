"""Per-PE SRAM as named regions backed by numpy arrays.

Every byte a firmware keeps lives in a named region, so the memory report *is* the allocator's
state. Asking for more than is free raises an error naming the PE, the region, the bytes asked and
the bytes free — the message a user needs to fix the mapping.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class SramOverflowError(MemoryError):
    """A region does not fit in a PE's SRAM."""

    def __init__(self, pe_id: int, region: str, asked_bytes: int, free_bytes: int,
                 capacity_bytes: int):
        self.pe_id, self.region = pe_id, region
        self.asked_bytes, self.free_bytes, self.capacity_bytes = asked_bytes, free_bytes, capacity_bytes
        super().__init__(
            f"PE {pe_id}: SRAM region '{region}' needs {asked_bytes} B but only {free_bytes} B of "
            f"{capacity_bytes} B are free")


@dataclass(frozen=True)
class Region:
    name: str
    nbytes: int
    category: str


class Sram:
    """Named-region allocator for one PE's local SRAM (code and stack are explicit regions too)."""

    def __init__(self, pe_id: int, capacity_bytes: int):
        self.pe_id = pe_id
        self.capacity_bytes = capacity_bytes
        self.regions: dict[str, Region] = {}
        self.used_bytes = 0

    @property
    def free_bytes(self) -> int:
        return self.capacity_bytes - self.used_bytes

    def reserve(self, name: str, nbytes: int, category: str = "code_stack") -> None:
        """Account for bytes that hold no simulated data (code, stack, firmware scalars)."""
        if name in self.regions:
            raise ValueError(f"PE {self.pe_id}: SRAM region '{name}' allocated twice")
        nbytes = int(nbytes)
        if nbytes > self.free_bytes:
            raise SramOverflowError(self.pe_id, name, nbytes, self.free_bytes, self.capacity_bytes)
        self.regions[name] = Region(name, nbytes, category)
        self.used_bytes += nbytes

    def alloc(self, name: str, shape: int | tuple[int, ...], dtype=np.float32,
              category: str = "state") -> np.ndarray:
        """A zeroed array of ``shape`` charged to this PE under ``name``."""
        array = np.zeros(shape, dtype=dtype)
        self.reserve(name, array.nbytes, category)
        return array

    def adopt(self, name: str, array: np.ndarray, category: str = "state") -> np.ndarray:
        """Charge an existing array (e.g. a view into state shared for vectorised numerics)."""
        self.reserve(name, array.nbytes, category)
        return array

    def by_category(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for region in self.regions.values():
            out[region.category] = out.get(region.category, 0) + region.nbytes
        return out
