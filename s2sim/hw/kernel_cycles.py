"""Kernel cycles that carry the cycle bracket (built by ``runtime.cost.CostModel.kernel``, booked per
phase by the PE)."""
from __future__ import annotations


class KernelCycles(float):
    """Charged kernel cycles (the float value) that carry every end of the cycle bracket.

    The firmware adds and scales kernel costs like plain numbers (``kernel_cost(...) + cost(...)``,
    ``k * cycles``); these operations keep ``nominal``/``low``/``high`` alongside (an op-counted
    part is the same at every end), so the PE can book, per phase, what the run would have charged
    under each kernel table (``ExecutionContext.bracket_delta``) while timing uses the float value alone. Any
    other operation gives a plain float, and that part counts the same at every end.
    """

    __slots__ = ("nominal", "low", "high")

    def __new__(cls, charged: float, nominal: float, low: float, high: float) -> "KernelCycles":
        obj = float.__new__(cls, charged)
        obj.nominal, obj.low, obj.high = nominal, low, high
        return obj

    def __add__(self, other):
        if isinstance(other, KernelCycles):
            return KernelCycles(float.__add__(self, other), self.nominal + other.nominal,
                                self.low + other.low, self.high + other.high)
        if isinstance(other, (int, float)):
            return KernelCycles(float.__add__(self, other), self.nominal + other, self.low + other,
                                self.high + other)
        return NotImplemented

    def __radd__(self, other):
        if isinstance(other, (int, float)) and not isinstance(other, KernelCycles):
            return KernelCycles(float.__radd__(self, other), other + self.nominal, other + self.low,
                                other + self.high)
        return NotImplemented

    def __mul__(self, k):
        if isinstance(k, (int, float)) and not isinstance(k, KernelCycles):
            return KernelCycles(float.__mul__(self, k), self.nominal * k, self.low * k, self.high * k)
        return NotImplemented

    def __rmul__(self, k):
        if isinstance(k, (int, float)) and not isinstance(k, KernelCycles):
            return KernelCycles(float.__rmul__(self, k), k * self.nominal, k * self.low, k * self.high)
        return NotImplemented

    def __truediv__(self, k):
        if isinstance(k, (int, float)) and not isinstance(k, KernelCycles):
            return KernelCycles(float.__truediv__(self, k), self.nominal / k, self.low / k, self.high / k)
        return NotImplemented

    def __reduce__(self):  # pickles (sweep workers, caches) keep the ends
        return (KernelCycles, (float(self), self.nominal, self.low, self.high))
