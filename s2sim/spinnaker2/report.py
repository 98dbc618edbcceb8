"""The profile a ``SpiNNaker2Chip.run`` prints: what py-spinnaker2 cannot tell offline.

Printed to stdout (a script's own output), because a py-spinnaker2 script never asks for it: time_done
per PE (worst tick), packets received per PE, SRAM per PE and the run's energy.
"""
from __future__ import annotations

import numpy as np

#: PEs listed without ``debug=True``
PES_LISTED = 20


def profile_lines(summary: dict, result, per_pe: bool = False) -> list[str]:
    stats, mapped = result.sim.machine.stats, result.mapped
    ticks = summary["timesteps"]
    done, packets = stats.time_done_ns[:ticks], stats.packets_in[:ticks]
    sram = {m["pe"]: m["used_bytes"] for m in summary["memory"]["per_pe"]}
    capacity = summary["memory"]["per_pe"][0]["capacity_bytes"] if summary["memory"]["per_pe"] else 0
    lat, energy, traffic = summary["latency"], summary["energy"], summary["traffic"]
    lines = [f"s2sim profile of '{summary['network']}': {ticks} ticks of {lat['tick_ns'] / 1e3:g} us on "
             f"{summary['arch']} (simulated), {summary['pes_used']} PEs",
             f"  time step (slowest PE's time_done): median {lat['timestep_ns']['median'] / 1e3:.3f} us, max "
             f"{lat['timestep_ns']['max'] / 1e3:.3f} us (PE {lat['critical_pe']}); timer overruns {lat['overruns']}",
             f"  packets: {traffic['packets']} sent, {traffic['deliveries']} delivered, {traffic['dropped']} dropped",
             f"  SRAM: fullest PE {summary['memory']['fullest_pe']} uses {summary['memory']['max_pe_bytes']} of "
             f"{capacity} B; all PEs {summary['memory']['total_bytes']} B",
             f"  energy: {energy['total_j'] * 1e3:.4f} mJ ("
             + ", ".join(f"{k} {v * 1e3:.4f}" for k, v in energy["breakdown_j"].items() if v) + " mJ)",
             "  PE  population          neurons  time_done max us  packets in  SRAM B"]
    rows = [(s.pe, pop, s.n) for pop, sl in mapped.slices.items() for s in sl]
    shown = rows if per_pe or len(rows) <= PES_LISTED else rows[:PES_LISTED]
    for pe, pop, n in shown:
        lines.append(f"  {pe:>3} {pop[:18]:<18} {n:>8} {np.max(done[:, pe]) / 1e3:>17.3f} "
                     f"{int(packets[:, pe].sum()):>11} {sram.get(pe, 0):>7}")
    if len(shown) < len(rows):
        lines.append(f"  ... {len(rows) - len(shown)} more PEs (run(..., debug=True) lists all)")
    return lines


def print_profile(summary: dict, result, per_pe: bool = False) -> None:
    print("\n".join(profile_lines(summary, result, per_pe)), flush=True)
