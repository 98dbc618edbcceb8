"""What firmware sees: the ``Firmware`` base class and the ``Core`` facade (DESIGN §4).

Firmware models only import ``s2sim.runtime``, as real firmware only sees the hardware through its
API. A callback does its real numerics in numpy float32 and declares its cost; the facade turns the
declaration into cycles and the cycles into time on this PE.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..hw.pe import DMA, PACKET, TIMER, USER, PE, PacketHooks
from ..hw import accelerators
from .cost import CostModel

EVENTS = {"timer": TIMER, "packet": PACKET, "dma_done": DMA, "user": USER}


class Firmware:
    """One instance per PE. Override the callbacks you need; all receive the PE's ``Core``."""

    def on_start(self, core: "Core") -> None:
        """Allocate SRAM, set the timer and priorities. Runs once before the first tick."""

    def on_timer(self, core: "Core", tick: int) -> None:
        """Timer tick (queueable, priority 2 by default)."""

    def on_packet(self, core: "Core", key: int, payload: Any) -> None:
        """Multicast/p2p packet received (pre-emptive, FIQ-like, by default)."""

    def on_dma_done(self, core: "Core", tag: int) -> None:
        """A DMA transfer of this PE completed."""

    def on_user(self, core: "Core", arg: Any) -> None:
        """Software-triggered user event."""

    # ---- optional packet hooks: a firmware declares one by overriding it (read once at load) ----
    def on_packet_burst(self, core: "Core", keys: list, payloads: list) -> None:
        """Handle a burst of packets (one send loop of one sender, arriving back to back) in one call.

        Optional: without it, ``on_packet`` runs once per packet. It must charge the cost of the
        whole burst; each packet still books its own handler time (pre-emptive) on the core.
        """
        raise NotImplementedError

    def on_packet_burst_many(self, firmwares: list, cores: list, keys: list, payloads: list) -> None:
        """Handle one burst reaching several cores that run this program, for all of them at once.

        Optional (``firmwares[i]`` runs on ``cores[i]``, all of this class): the arithmetic may be
        shared, but each core must be charged what its own ``on_packet_burst`` would charge.
        """
        raise NotImplementedError

    def on_packet_burst_group(self, firmwares: list, cores: list, keys: list,
                              payloads: list) -> tuple[str, float] | None:
        """Do the numerics of one burst for several cores of this program; return the ``(phase,
        cycles)`` each core's handler charges, or None (having changed nothing) when this burst needs
        the per-core handler.

        Optional, for a handler that neither sends, schedules, starts a DMA nor charges differently
        per core. The simulator may use it instead of the per-core handlers when no trace is recorded;
        the results must be the same either way (docs/simulation-model.md).
        """
        raise NotImplementedError


_PACKET_HOOKS = ("on_packet_burst", "on_packet_burst_many", "on_packet_burst_group")


def packet_hooks(firmware: Any) -> PacketHooks:
    """The optional packet hooks ``firmware`` declares (overrides of ``Firmware``'s)."""
    cls = type(firmware)
    declared = [getattr(cls, name, None) not in (None, getattr(Firmware, name)) for name in _PACKET_HOOKS]
    return PacketHooks(*declared)


class Core:
    """The facade of one PE: SRAM, cost declaration, packets, DMA, timer, scheduling, DVFS."""

    def __init__(self, pe: PE, cost: CostModel):
        self._pe = pe
        self._ctx = pe.ctx
        self._chip = pe.chip
        self._cost = cost
        self.sram = pe.sram
        self.log_lines: list[tuple[float, str]] = []

    # ---- identity and time ---------------------------------------------------------------
    @property
    def pe_id(self) -> int:
        return self._pe.id

    @property
    def now(self) -> float:
        """Simulated ns at this point of the running callback."""
        return self._ctx.now_ns

    @property
    def tick(self) -> int:
        return self._pe.tick

    @property
    def clock_mhz(self) -> float:
        return self._pe.level.clock_mhz

    def log(self, message: str) -> None:
        self.log_lines.append((self.now, message))

    # ---- cost --------------------------------------------------------------------------------
    def charge(self, phase: str, **ops: float) -> None:
        """Declare the operations just done, e.g. ``charge("neuron", fmac=3*n, load=2*n, loop=n)``."""
        self._ctx.add_cycles(phase, self._cost.cycles(ops))

    def charge_cycles(self, phase: str, cycles: float) -> None:
        """Charge cycles computed earlier with ``cost``/``kernel_cost`` (hot paths precompute them)."""
        self._ctx.add_cycles(phase, cycles)

    def charge_phases(self, costs: tuple[tuple[str, float], ...], total: float) -> None:
        """Charge a precomputed per-phase cost (``total`` = the sum of ``costs``) in one call."""
        self._ctx.add_phase_cycles(costs, total)

    def cost(self, **ops: float) -> float:
        """Cycles the declared operations take, without charging them (to precompute a fixed cost)."""
        return self._cost.cycles(ops)

    def kernel_cost(self, name: str, iterations: float) -> float:
        return self._cost.kernel(name, iterations)

    def exp_cost(self, n: int, accelerator: bool = False) -> float:
        return accelerators.exp_cycles(self._pe.p, n) if accelerator else self._cost.cycles({"expf": n})

    def kernel(self, phase: str, name: str, iterations: float) -> None:
        """Charge a calibrated kernel (cycles per iteration from the architecture table)."""
        self._ctx.add_cycles(phase, self._cost.kernel(name, iterations))

    def exp(self, phase: str, n: int, accelerator: bool = False) -> None:
        """Charge ``n`` exponentials: software ``expf`` or the exp/log accelerator."""
        if accelerator:
            self._pe.exp_accelerator(phase, n)
        else:
            self._ctx.add_cycles(phase, self._cost.cycles({"expf": n}))

    def mac_array(self, phase: str, n_macs: int) -> None:
        """Charge a MAC-array job of ``n_macs`` 8-bit MACs (setup + n / MACs-per-cycle)."""
        self._pe.mac_array(phase, n_macs)

    # ---- packets -----------------------------------------------------------------------------
    def send_mc(self, key: int, payload: Any = None) -> None:
        """Send a multicast packet (routed by key through the routing tables)."""
        self._pe.send(self._chip.noc.route(self._pe.id, key), key, payload)

    def send_mc_many(self, keys: list[int]) -> None:
        """Send one payload-free multicast packet per key, back to back (a spin1_send_mc_packet loop)."""
        pe = self._pe
        route, src, send = self._chip.noc.route, pe.id, pe.send
        for key in keys:
            send(route(src, key), key, None)

    def send_p2p(self, dest_pe: int, payload: Any = None, key: int = 0) -> None:
        """Send a point-to-point packet to ``dest_pe`` (XY-routed, no table)."""
        self._pe.send(self._chip.noc.p2p_route(self._pe.id, dest_pe), key, payload)

    # ---- DMA ---------------------------------------------------------------------------------
    def dma_read(self, tag: int, buffer: str, start: int, count: int, dst: np.ndarray) -> bool:
        """DRAM -> SRAM: copy ``count`` elements of DRAM ``buffer`` from ``start`` into ``dst``."""
        return self._pe.dma("read", tag, buffer, start, count, dst)

    def dma_write(self, tag: int, src: np.ndarray, buffer: str, start: int, count: int) -> bool:
        """SRAM -> DRAM."""
        return self._pe.dma("write", tag, buffer, start, count, src)

    # ---- timer, scheduling, DVFS -----------------------------------------------------------
    def set_timer(self, period_ns: float, phase_ns: float = 0.0) -> None:
        self._chip.set_timer(self._pe, float(period_ns), float(phase_ns))

    def set_priority(self, event: str, priority: int) -> None:
        """spin1_callback_on semantics: < 0 FIQ-like, 0 non-queueable, > 0 queueable."""
        if event not in EVENTS:
            raise KeyError(f"unknown event '{event}'; expected one of: {', '.join(EVENTS)}")
        self._pe.set_priority(EVENTS[event], int(priority))

    def schedule(self, fn: Callable[["Core", Any], None], arg: Any = None, priority: int = 1) -> bool:
        """Queue ``fn(core, arg)``; False (counted as task_queue_full) if the queue is full."""
        return self._pe.schedule(fn, arg, priority)

    def trigger_user_event(self, arg: Any = None) -> None:
        pe = self._pe
        pe.raise_event(USER, pe.firmware.on_user, (arg,), at_ns=self._ctx.now_ns)

    def set_performance_level(self, name: str) -> None:
        """Switch DVFS level; the switch itself stalls the core for the architecture's switch time."""
        self._pe.switch_level_from_body(name)

    @property
    def performance_level(self) -> str:
        return self._pe.level.name
