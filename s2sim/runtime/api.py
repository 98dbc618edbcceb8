"""What firmware sees: the ``Firmware`` base class and the ``Core`` facade (DESIGN §4).

Firmware models only import ``s2sim.runtime``, as real firmware only sees the hardware through its
API. A callback does its real numerics in numpy float32 and declares its cost; the facade turns the
declaration into cycles and the cycles into time on this PE.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..hw.dma import DmaRequest, copy_in, copy_out
from ..hw.pe import DMA, PACKET, TASK, TIMER, USER, PE
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

    # A firmware may also define ``on_packet_burst(core, keys, payloads)`` to handle a burst of
    # packets in one vectorised call; it must charge the cost of all of them.
    # For a burst reaching several PEs of one program, ``on_packet_burst_many(firmwares, cores, keys,
    # payloads)`` handles it for all of them (charging each core), and, in the fast kernel,
    # ``on_packet_burst_group(firmwares, cores, keys, payloads) -> (phase, cycles) | None`` does
    # the numerics only and returns what each member's handler charges (None: not handled, nothing
    # done), for a handler that neither sends, schedules nor starts a DMA (docs/simulation-model.md).


class Core:
    """The facade of one PE: SRAM, cost declaration, packets, DMA, timer, scheduling, DVFS."""

    def __init__(self, pe: PE, cost: CostModel):
        self._pe = pe
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
        return self._pe.now_ns

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
        self._pe.add_cycles(phase, self._cost.cycles(ops))

    def charge_cycles(self, phase: str, cycles: float) -> None:
        """Charge cycles computed earlier with ``cost``/``kernel_cost`` (hot paths precompute them)."""
        self._pe.add_cycles(phase, cycles)

    def charge_phases(self, costs: tuple[tuple[str, float], ...], total: float) -> None:
        """Charge a precomputed per-phase cost (``total`` = the sum of ``costs``) in one call."""
        self._pe.add_phase_cycles(costs, total)

    def cost(self, **ops: float) -> float:
        """Cycles the declared operations take, without charging them (to precompute a fixed cost)."""
        return self._cost.cycles(ops)

    def kernel_cost(self, name: str, iterations: float) -> float:
        return self._cost.kernel(name, iterations)

    def exp_cost(self, n: int, accelerator: bool = False) -> float:
        return n * self._pe.p.exp_latency_cycles if accelerator else self._cost.cycles({"expf": n})

    def kernel(self, phase: str, name: str, iterations: float) -> None:
        """Charge a calibrated kernel (cycles per iteration from the architecture table)."""
        self._pe.add_cycles(phase, self._cost.kernel(name, iterations))

    def exp(self, phase: str, n: int, accelerator: bool = False) -> None:
        """Charge ``n`` exponentials: software ``expf`` or the exp/log accelerator."""
        if accelerator:
            self._pe.c["exp_ops"] += n
            self._pe.add_cycles(phase, n * self._pe.p.exp_latency_cycles)
        else:
            self._pe.add_cycles(phase, self._cost.cycles({"expf": n}))

    def mac_array(self, phase: str, n_macs: int) -> None:
        """Charge a MAC-array job of ``n_macs`` 8-bit MACs (setup + n / MACs-per-cycle)."""
        p = self._pe.p
        self._pe.c["mac_ops"] += n_macs
        self._pe.add_cycles(phase, p.mac_array_setup_cycles + n_macs / p.mac_array_macs_per_cycle)

    # ---- packets -----------------------------------------------------------------------------
    def send_mc(self, key: int, payload: Any = None) -> None:
        """Send a multicast packet (routed by key through the routing tables)."""
        self._send(self._chip.noc.route(self._pe.id, key), key, payload)

    def send_mc_many(self, keys: list[int]) -> None:
        """Send one payload-free multicast packet per key, back to back (a spin1_send_mc_packet loop)."""
        route, src = self._chip.noc.route, self._pe.id
        for key in keys:
            self._send(route(src, key), key, None)

    def send_p2p(self, dest_pe: int, payload: Any = None, key: int = 0) -> None:
        """Send a point-to-point packet to ``dest_pe`` (XY-routed, no table)."""
        self._send(self._chip.noc.p2p_route(self._pe.id, dest_pe), key, payload)

    def _send(self, route, key: int, payload: Any) -> None:
        pe, p = self._pe, self._pe.p
        pe.add_cycles("comms", p.send_packet_cycles)
        t = pe.now_ns
        ser = self._chip.noc.ser_ns
        backlog = (pe.tx_free_ns - t) / ser if pe.tx_free_ns > t else 0.0
        if backlog >= p.tx_queue_size:  # TX queue full: the core waits for space
            pe.c["tx_queue_full"] += 1
            wait_ns = pe.tx_free_ns - (p.tx_queue_size - 1) * ser - t
            pe.add_cycles("comms", wait_ns / pe.ns_per_cycle)
            t = pe.now_ns
        pe.tx_free_ns = max(t, pe.tx_free_ns) + ser
        self._chip.send(pe, route, key, payload, t)

    # ---- DMA ---------------------------------------------------------------------------------
    def dma_read(self, tag: int, buffer: str, start: int, count: int, dst: np.ndarray) -> bool:
        """DRAM -> SRAM: copy ``count`` elements of DRAM ``buffer`` from ``start`` into ``dst``."""
        buf = self._chip.dram.buffers[buffer]
        nbytes = count * buf.array.itemsize
        self._chip.dram.bytes_read += nbytes
        return self._dma(tag, nbytes, buf.address + start * buf.array.itemsize,
                         copy_in(buf, start, count, dst))

    def dma_write(self, tag: int, src: np.ndarray, buffer: str, start: int, count: int) -> bool:
        """SRAM -> DRAM."""
        buf = self._chip.dram.buffers[buffer]
        nbytes = count * buf.array.itemsize
        self._chip.dram.bytes_written += nbytes
        return self._dma(tag, nbytes, buf.address + start * buf.array.itemsize,
                         copy_out(src, buf, start, count))

    def _dma(self, tag: int, nbytes: int, address: int | None, action: Callable[[], None]) -> bool:
        pe = self._pe
        pe.add_cycles("dma_setup", pe.p.dma_issue_cycles)  # register writes to queue the request
        engine = self._chip.dmas[pe.id]
        issue = pe.now_ns
        fw = pe.firmware
        rec = self._chip.recorder

        def done() -> None:
            action()
            if rec is not None:
                rec.dma(pe.id, tag, issue, self._chip.env.now, nbytes)
            pe.raise_event(DMA, lambda core, t: fw.on_dma_done(core, t), (tag,))

        pe.c["dma_bytes"] += nbytes
        return engine.submit(DmaRequest(tag, nbytes, address, done), issue)

    # ---- timer, scheduling, DVFS -----------------------------------------------------------
    def set_timer(self, period_ns: float, phase_ns: float = 0.0) -> None:
        self._chip.set_timer(self._pe, float(period_ns), float(phase_ns))

    def set_priority(self, event: str, priority: int) -> None:
        """spin1_callback_on semantics: < 0 FIQ-like, 0 non-queueable, > 0 queueable."""
        if event not in EVENTS:
            raise KeyError(f"unknown event '{event}'; expected one of: {', '.join(EVENTS)}")
        self._pe.priorities[EVENTS[event]] = int(priority)

    def schedule(self, fn: Callable[["Core", Any], None], arg: Any = None, priority: int = 1) -> bool:
        """Queue ``fn(core, arg)``; False (counted as task_queue_full) if the queue is full."""
        from ..hw.pe import _Task
        return self._pe.enqueue(_Task(TASK, fn, (arg,), max(1, int(priority))))

    def trigger_user_event(self, arg: Any = None) -> None:
        fw = self._pe.firmware
        self._pe.raise_event(USER, lambda core, a: fw.on_user(core, a), (arg,), at_ns=self._pe.now_ns)

    def set_performance_level(self, name: str) -> None:
        """Switch DVFS level; the switch itself stalls the core for the architecture's switch time."""
        pe = self._pe
        if name != pe.level.name:
            pe.add_cycles("dvfs", pe.p.pl_switch_ns / pe.ns_per_cycle)
            pe.set_level(name)

    @property
    def performance_level(self) -> str:
        return self._pe.level.name
