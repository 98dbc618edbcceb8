"""Cycle costs of the PE's accelerators (numbers from the arch file, via ``HwParams``)."""
from __future__ import annotations

from .params import HwParams


def exp_cycles(p: HwParams, n: int) -> float:
    """``n`` exponentials on the exp/log accelerator: n x its latency, as the model has charged it so far."""
    return n * p.exp_latency_cycles


def mac_array_cycles(p: HwParams, n_macs: int) -> float:
    """A MAC-array job of ``n_macs`` 8-bit MACs: setup + n / MACs per cycle."""
    return p.mac_array_setup_cycles + n_macs / p.mac_array_macs_per_cycle
