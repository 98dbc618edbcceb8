"""Cost model: declared operation counts -> Cortex-M4F cycles.

Firmware does its numerics in numpy and declares what a real core would have executed, e.g.
``core.charge("eligibility", fmac=3*n, fmul=2*n, load=4*n, store=3*n, loop=n)``. Cycles are the
dot product of those counts with the architecture's per-op table, or a calibrated per-kernel
figure (``core.kernel("eligibility", "eprop_eligibility_post_pre", n)``) where one exists.
"""
from __future__ import annotations

from typing import Mapping


class CostModel:
    def __init__(self, op_cycles: Mapping[str, float], kernel_cycles: Mapping[str, float]):
        # kept, not copied: the arch's tables log reads of overridden entries (HwParams.unread_overrides)
        self.op_cycles = op_cycles
        self.kernel_cycles = kernel_cycles

    def cycles(self, ops: Mapping[str, float]) -> float:
        table, total = self.op_cycles, 0.0
        for op, count in ops.items():
            per = table.get(op)
            if per is None:
                known = ", ".join(sorted(table))
                raise KeyError(f"unknown operation '{op}' in a cost declaration; expected one of: {known}")
            total += per * count
        return total

    def kernel(self, name: str, iterations: float) -> float:
        per = self.kernel_cycles.get(name)
        if per is None:
            known = ", ".join(sorted(self.kernel_cycles)) or "(none)"
            raise KeyError(f"unknown kernel '{name}'; the architecture calibrates: {known}")
        return per * iterations
