"""Energy = counts x energy-per-action + power x time (Accelergy-style), in one auditable place.

Each component names the architecture entries it rests on, so the report can say what share of
the total comes from measured, derived or estimated numbers.

Core model (docs/simulation-model.md, Energy): a used PE draws its level's static power for all the
time it spends at that level, busy or asleep (``core_static``), plus the level's dynamic energy per
busy cycle (``core_active``). Busy power = static + pJ/cycle x clock, which is exactly how the two
numbers were split from the chip's measured sleep and CoreMark power. The off-chip LPDDR4 adds
energy per byte moved (``dram``) and its standby + refresh power for the whole run
(``dram_background``).
"""
from __future__ import annotations

from .machine import Machine

#: Which architecture parameters each energy component is computed from.
COMPONENT_SOURCES: dict[str, list[str]] = {
    "core_active": ["performance_levels.{level}.active_energy_per_cycle_pj"],
    "core_static": ["performance_levels.{level}.static_power_mw"],
    "chip_baseline": ["chip.baseline_power_mw"],
    "noc": ["noc.energy_per_hop_pj"],
    "dma": ["dma.energy_per_byte_pj"],
    "dram": ["dram.energy_per_byte_pj"],
    "dram_background": ["dram.background_power_mw"],
    "exp_accelerator": ["accelerators.exp_energy_pj"],
    "mac_array": ["accelerators.mac_energy_pj"],
    "chip_links": ["board.link_energy_per_packet_pj"],
}


#: Components whose hardware no firmware may use; left out of the breakdown when nothing used them.
OPTIONAL_COMPONENTS: dict[str, str] = {
    "exp_accelerator": "not used by this firmware (no exp/log accelerator results)",
    "mac_array": "not used by this firmware (no MAC-array jobs)",
}


def energy_breakdown_j(machine: Machine, end_ns: float) -> dict[str, float]:
    """Joules per component for the used PEs over [0, end_ns]; unused PEs are powered off.

    ``exp_accelerator`` and ``mac_array`` appear only when some PE used them (``unused_components``).
    """
    p, counters = machine.p, machine.counters
    used = machine.used_pes()
    ids = [pe.id for pe in used]
    static_j = 0.0
    for pe in used:
        for name, total_ns in pe.close_levels(end_ns).items():
            static_j += total_ns * 1e-9 * p.perf_level(name).static_power_mw * 1e-3
    dma_bytes = counters.total("dma_bytes", ids)
    out = {
        "core_active": sum(active_pj(p, counters.cycles_by_level[i]) for i in ids) * 1e-12,
        "core_static": static_j,
        "chip_baseline": p.n_chips * p.baseline_power_mw * 1e-3 * end_ns * 1e-9,  # every chip of the board
        "noc": counters.packet_hops * p.noc_energy_per_hop_pj * 1e-12,
        "dma": dma_bytes * p.dma_energy_per_byte_pj * 1e-12,
        "dram": (counters.dram_bytes_read + counters.dram_bytes_written) * p.dram_energy_per_byte_pj * 1e-12,
        # the DRAM devices' standby + refresh power, paid for the whole run whether or not it is accessed
        "dram_background": p.n_chips * p.dram_background_power_mw * 1e-3 * end_ns * 1e-9,
    }
    if p.n_chips > 1:  # a board: packets x chip-to-chip links they crossed
        out["chip_links"] = machine.link_load()["crossings"] * p.board_link_energy_per_packet_pj * 1e-12
    unused = unused_components(machine)  # their energy parameters are not read: an override of them changed nothing
    if "exp_accelerator" not in unused:
        out["exp_accelerator"] = counters.total("exp_ops", ids) * p.exp_energy_pj * 1e-12
    if "mac_array" not in unused:
        out["mac_array"] = counters.total("mac_ops", ids) * p.mac_energy_pj * 1e-12
    return out


def active_pj(p, cycles_by_level: dict[str, float]) -> float:
    """One PE's active (dynamic) energy from its ``Counters.cycles_by_level`` entry: busy cycles x the
    energy per cycle of their level."""
    return sum(cyc * p.perf_level(name).active_energy_per_cycle_pj for name, cyc in cycles_by_level.items())


def unused_components(machine: Machine) -> dict[str, str]:
    """Optional components no used PE touched, with the sentence the report shows instead of 0 J."""
    ids = [pe.id for pe in machine.used_pes()]
    counts = {"exp_accelerator": machine.counters.total("exp_ops", ids),
              "mac_array": machine.counters.total("mac_ops", ids)}
    return {name: why for name, why in OPTIONAL_COMPONENTS.items() if counts[name] == 0}


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
