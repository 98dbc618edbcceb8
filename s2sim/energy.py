"""Energy = counts x energy-per-action + power x time (Accelergy-style), in one auditable place.

Each component names the architecture entries it rests on, so the report can say what share of
the total comes from measured, derived or estimated numbers.
"""
from __future__ import annotations

from .hw.chip import Chip

#: Which architecture parameters each energy component is computed from.
COMPONENT_SOURCES: dict[str, list[str]] = {
    "core_active": ["performance_levels.{level}.active_energy_per_cycle_pj"],
    "core_sleep": ["performance_levels.{level}.sleep_power_mw"],
    "chip_baseline": ["chip.baseline_power_mw"],
    "noc": ["noc.energy_per_hop_pj"],
    "dma": ["dma.energy_per_byte_pj"],
    "dram": ["dram.energy_per_byte_pj"],
    "exp_accelerator": ["accelerators.exp_energy_pj"],
    "mac_array": ["accelerators.mac_energy_pj"],
}


def energy_breakdown_j(chip: Chip, end_ns: float) -> dict[str, float]:
    """Joules per component for the used PEs over [0, end_ns]; unused PEs are powered off."""
    p = chip.p
    used = chip.used_pes()
    sleep_j = 0.0
    for pe in used:
        for name, total_ns in pe.close_levels(end_ns).items():
            idle_ns = max(0.0, total_ns - pe.active_ns_by_level.get(name, 0.0))
            sleep_j += idle_ns * 1e-9 * p.perf_level(name).sleep_power_mw * 1e-3
    dma_bytes = sum(pe.c["dma_bytes"] for pe in used)
    return {
        "core_active": sum(pe.active_pj for pe in used) * 1e-12,
        "core_sleep": sleep_j,
        "chip_baseline": p.baseline_power_mw * 1e-3 * end_ns * 1e-9,
        "noc": chip.noc.packet_hops * p.noc_energy_per_hop_pj * 1e-12,
        "dma": dma_bytes * p.dma_energy_per_byte_pj * 1e-12,
        "dram": (chip.dram.bytes_read + chip.dram.bytes_written) * p.dram_energy_per_byte_pj * 1e-12,
        "exp_accelerator": sum(pe.c["exp_ops"] for pe in used) * p.exp_energy_pj * 1e-12,
        "mac_array": sum(pe.c["mac_ops"] for pe in used) * p.mac_energy_pj * 1e-12,
    }


def provenance_shares(breakdown_j: dict[str, float], confidence_of: dict[str, str],
                      levels: list[str]) -> dict[str, float]:
    """Fraction of the total energy resting on measured / derived / estimate entries.

    ``confidence_of`` maps architecture paths to confidences. A component built from several
    entries counts at its weakest confidence.
    """
    rank = {"measured": 0, "derived": 1, "estimate": 2}
    total = sum(breakdown_j.values()) or 1.0
    shares = {"measured": 0.0, "derived": 0.0, "estimate": 0.0}
    for component, joules in breakdown_j.items():
        paths = [s.format(level=lv) for s in COMPONENT_SOURCES[component] for lv in levels]
        confs = [confidence_of.get(path, "estimate") for path in paths] or ["estimate"]
        worst = max(confs, key=lambda c: rank.get(c, 2))
        shares[worst] += joules / total
    return shares
