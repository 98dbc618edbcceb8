"""Flat, plain-number view of an architecture, the only thing the hardware model reads.

The typed, sourced architecture (``s2sim.config.ArchConfig``) is for people: every number with a
source. The hardware model only needs the numbers, so it reads this flat dataclass; tests can build
one by hand with round values and check hand-computed timings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PerfLevel:
    """One DVFS performance level: clock, supply voltage and the power figures that go with it."""

    name: str
    clock_mhz: float
    voltage_v: float
    active_energy_per_cycle_pj: float
    sleep_power_mw: float

    @property
    def ns_per_cycle(self) -> float:
        return 1e3 / self.clock_mhz


@dataclass(frozen=True)
class HwParams:
    """Every number the SimPy hardware model uses (units in the names)."""

    # chip
    mesh_width: int = 7
    mesh_height: int = 6
    qpe_count: int = 38
    pes_per_qpe: int = 4
    router_entries: int = 16384
    baseline_power_mw: float = 75.2
    missing_routers: tuple[tuple[int, int], ...] = ((3, 2), (3, 3))
    # PE
    sram_bytes: int = 131072
    code_reserve_bytes: int = 32768
    stack_reserve_bytes: int = 4096
    task_queue_size: int = 16
    task_queue_count: int = 4
    tx_queue_size: int = 16
    dma_queue_size: int = 16
    irq_entry_cycles: int = 12
    irq_exit_cycles: int = 10
    send_packet_cycles: int = 4
    perf_levels: tuple[PerfLevel, ...] = (
        PerfLevel("pl_low", 150.0, 0.5, 8.3, 1.05),
        PerfLevel("pl_high", 300.0, 0.8, 15.0, 3.22),
    )
    default_perf_level: str = "pl_high"
    pl_switch_ns: float = 100.0
    core_cycles: dict[str, float] = field(default_factory=lambda: dict(
        int_alu=1, int_mul=1, int_div=12, load=2, store=1, branch=2, loop=3,
        fadd=1, fmul=1, fmac=3, fdiv=14, fsqrt=14, fcmp=1, fcvt=1, expf=150, logf=150))
    kernel_cycles: dict[str, float] = field(default_factory=dict)
    # accelerators
    exp_latency_cycles: float = 22.0
    exp_energy_pj: float = 100.0
    mac_array_macs_per_cycle: float = 64.0
    mac_array_setup_cycles: float = 20.0
    mac_energy_pj: float = 0.72
    # NoC
    noc_clock_mhz: float = 300.0
    hop_latency_cycles: float = 5.0
    link_width_bits: int = 192
    packet_bits: int = 96
    injection_cycles: float = 2.0
    ejection_cycles: float = 2.0
    noc_energy_per_hop_pj: float = 10.0
    # DMA / DRAM
    dma_setup_cycles: float = 50.0
    dma_sram_bytes_per_cycle: float = 4.0
    dma_energy_per_byte_pj: float = 1.0
    dram_channels: int = 2
    dram_total_bandwidth_gb_s: float = 6.4
    dram_latency_ns: float = 100.0
    dram_energy_per_byte_pj: float = 40.0
    dram_interleave_bytes: int = 4096

    @property
    def n_pes(self) -> int:
        return self.qpe_count * self.pes_per_qpe

    @property
    def noc_ns_per_cycle(self) -> float:
        return 1e3 / self.noc_clock_mhz

    @property
    def hop_ns(self) -> float:
        return self.hop_latency_cycles * self.noc_ns_per_cycle

    @property
    def packet_serialization_ns(self) -> float:
        """Time a packet occupies one link: whole flits of ``link_width_bits`` at the NoC clock."""
        flits = -(-self.packet_bits // self.link_width_bits)
        return flits * self.noc_ns_per_cycle

    @property
    def dram_channel_bytes_per_ns(self) -> float:
        return self.dram_total_bandwidth_gb_s / self.dram_channels  # GB/s == bytes/ns

    def perf_level(self, name: str | None = None) -> PerfLevel:
        name = name or self.default_perf_level
        for level in self.perf_levels:
            if level.name == name:
                return level
        known = ", ".join(level.name for level in self.perf_levels)
        raise KeyError(f"unknown performance level '{name}'; expected one of: {known}")

    @classmethod
    def from_arch(cls, arch: Any) -> "HwParams":
        """Build from a typed ``ArchConfig`` (values only; sources stay with the config)."""
        v = lambda sourced: sourced.value  # noqa: E731
        levels = tuple(
            PerfLevel(pl.name, v(pl.clock_mhz), v(pl.voltage_v), v(pl.active_energy_per_cycle_pj),
                      v(pl.sleep_power_mw))
            for pl in arch.performance_levels)
        cc = {name: v(val) for name, val in arch.core_cycles}
        kc = {name: v(val) for name, val in arch.kernels}
        c, p, a, n, d, r = arch.chip, arch.pe, arch.accelerators, arch.noc, arch.dma, arch.dram
        return cls(
            mesh_width=v(c.mesh_width), mesh_height=v(c.mesh_height), qpe_count=v(c.qpe_count),
            pes_per_qpe=v(c.pes_per_qpe), router_entries=v(c.router_entries),
            baseline_power_mw=v(c.baseline_power_mw),
            sram_bytes=v(p.sram_bytes), code_reserve_bytes=v(p.code_reserve_bytes),
            stack_reserve_bytes=v(p.stack_reserve_bytes), task_queue_size=v(p.task_queue_size),
            task_queue_count=v(p.task_queue_count), tx_queue_size=v(p.tx_queue_size),
            dma_queue_size=v(p.dma_queue_size), irq_entry_cycles=v(p.irq_entry_cycles),
            irq_exit_cycles=v(p.irq_exit_cycles), send_packet_cycles=v(p.send_packet_cycles),
            perf_levels=levels, default_perf_level=arch.default_performance_level,
            pl_switch_ns=v(arch.pl_switch_ns), core_cycles=cc, kernel_cycles=kc,
            exp_latency_cycles=v(a.exp_latency_cycles), exp_energy_pj=v(a.exp_energy_pj),
            mac_array_macs_per_cycle=v(a.mac_array_macs_per_cycle),
            mac_array_setup_cycles=v(a.mac_array_setup_cycles), mac_energy_pj=v(a.mac_energy_pj),
            noc_clock_mhz=v(n.clock_mhz), hop_latency_cycles=v(n.hop_latency_cycles),
            link_width_bits=v(n.link_width_bits), packet_bits=v(n.packet_bits),
            injection_cycles=v(n.injection_cycles), ejection_cycles=v(n.ejection_cycles),
            noc_energy_per_hop_pj=v(n.energy_per_hop_pj),
            dma_setup_cycles=v(d.setup_cycles), dma_sram_bytes_per_cycle=v(d.sram_bytes_per_cycle),
            dma_energy_per_byte_pj=v(d.energy_per_byte_pj),
            dram_channels=v(r.channels), dram_total_bandwidth_gb_s=v(r.total_bandwidth_gb_s),
            dram_latency_ns=v(r.latency_ns), dram_energy_per_byte_pj=v(r.energy_per_byte_pj),
            dram_interleave_bytes=v(r.interleave_bytes),
        )
