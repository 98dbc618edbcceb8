"""Cost model: declared operation counts -> Cortex-M4F cycles.

Firmware does its numerics in numpy and declares what a real core would have executed, e.g.
``core.charge("eligibility", fmac=3*n, fmul=2*n, load=4*n, store=3*n, loop=n)``. Cycles are the
dot product of those counts with the architecture's per-op table, or a calibrated per-kernel
figure (``core.kernel("eligibility", "eprop_eligibility_post_pre", n)``) where one exists.
Kernel costs carry the cycle bracket (``KernelCycles``: nominal, low and high tables) so every run
can report its latency at each end without running again.
"""
from __future__ import annotations

from typing import Mapping

from ..hw.kernel_cycles import KernelCycles


class CostModel:
    def __init__(self, op_cycles: Mapping[str, float], kernel_cycles: Mapping[str, float],
                 kernel_bracket: Mapping[str, tuple[float, float, float]] | None = None):
        # kept, not copied: the arch's tables log reads of overridden entries (HwParams.unread_overrides)
        self.op_cycles = op_cycles
        self.kernel_cycles = kernel_cycles
        #: name -> (nominal, low, high) cycles per iteration; without it kernels charge plain floats
        self.kernel_bracket = kernel_bracket

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
        ends = self.kernel_bracket.get(name) if self.kernel_bracket else None
        if ends is None:
            return per * iterations
        nominal, low, high = ends
        return KernelCycles(per * iterations, nominal * iterations, low * iterations, high * iterations)
