"""``summary.json``'s ``board`` section: per-chip memory, latency and energy, and the chip-to-chip links' load.

Only a board (``arch.board`` with more than one chip) has one; a one-chip summary is unchanged.
Link load is in packets: per directed link in total, its busiest timestep (``peak_packets_per_tick``)
and what share of that timestep the link was busy sending (packets x the link's time per packet /
the tick). ``traffic_matrix[a][b]``: packets chip ``a`` sent over its link to chip ``b`` (the heat map
in report.html).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..energy import active_pj


def board_section(sim, tick_ns: float, end_ns: float) -> dict[str, Any] | None:
    """The board's section of the summary, or None for one chip."""
    machine, hw = sim.machine, sim.hw
    if hw.n_chips == 1:
        return None
    used = sim.used_pes
    stats = machine.stats
    done = stats.time_done_ns[: stats.n_rows]
    per_chip = []
    for chip in range(hw.n_chips):
        pes = [p for p in used if machine.chip_of(p) == chip]
        entry: dict[str, Any] = {"chip": chip, "xy": list(machine.layout.xy(chip)), "pes_used": len(pes)}
        sram = [machine.pes[p].sram.used_bytes for p in pes]
        entry["memory_bytes"] = int(sum(sram))
        entry["fullest_pe_bytes"] = int(max(sram, default=0))
        steps = done[:, pes].max(axis=1) if pes and done.size else np.zeros(0)
        entry["timestep_ns"] = {"median": float(np.median(steps)) if steps.size else 0.0,
                                "max": float(steps.max()) if steps.size else 0.0}
        core_j = sum(active_pj(hw, machine.counters.cycles_by_level[p]) for p in pes) * 1e-12
        for p in pes:
            for level, ns in machine.pes[p].close_levels(end_ns).items():
                core_j += ns * 1e-9 * hw.perf_level(level).static_power_mw * 1e-3
        entry["energy_j"] = {"cores": core_j, "baseline": hw.baseline_power_mw * 1e-3 * end_ns * 1e-9,
                             "dram_background": hw.dram_background_power_mw * 1e-3 * end_ns * 1e-9}
        per_chip.append(entry)
    load = machine.link_load()
    packet_ns, link_tick_ns = load["packet_ns"], load["tick_ns"] or tick_ns
    links = []
    matrix = [[0] * hw.n_chips for _ in range(hw.n_chips)]
    for (a, b), n in load["links"].items():
        ticks = load["per_tick"].get((a, b), {})
        peak_tick, peak = max(ticks.items(), key=lambda kv: (kv[1], -kv[0])) if ticks else (0, 0)
        links.append({"from": a, "to": b, "packets": int(n), "peak_packets_per_tick": int(peak),
                      "peak_tick": int(peak_tick), "peak_busy_fraction": peak * packet_ns / link_tick_ns,
                      "packets_per_tick": [int(ticks.get(t, 0)) for t in range(max(ticks, default=-1) + 1)]})
        matrix[a][b] = int(n)
    busiest = max(links, key=lambda link: (link["peak_packets_per_tick"], link["packets"]), default=None)
    return {"chips": hw.n_chips, "chips_x": hw.board_chips_x, "chips_y": hw.board_chips_y,
            "topology": hw.board_topology, "pes_per_chip": hw.pes_per_chip,
            "chips_used": sorted({machine.chip_of(p) for p in used}),
            "link": {"latency_ns": hw.board_link_latency_ns, "packet_ns": packet_ns,
                     "energy_per_packet_pj": hw.board_link_energy_per_packet_pj},
            "per_chip": per_chip, "links": links, "link_crossings": int(load["crossings"]),
            "busiest_link": busiest and {k: busiest[k] for k in ("from", "to", "packets", "peak_packets_per_tick",
                                                                 "peak_tick", "peak_busy_fraction")},
            "traffic_matrix": matrix}


def board_line(board: dict[str, Any]) -> str:
    """One line for the CLI table: the board and its busiest chip link."""
    head = (f"{board['chips']} chips ({board['topology']} {board['chips_x']}x{board['chips_y']}), "
            f"{len(board['chips_used'])} used; {board['link_crossings']:,} packet link crossings")
    b = board.get("busiest_link")
    if not b:
        return head + "; no chip-link traffic"
    return (head + f"; busiest link {b['from']}->{b['to']}: {b['packets']:,} packets, peak "
            f"{b['peak_packets_per_tick']:,} in tick {b['peak_tick']} ({b['peak_busy_fraction']:.2%} of the tick busy)")


def board_html(board: dict[str, Any], escape) -> str:
    """report.html's board section: per-chip table, busiest links, and the chips x chips traffic heat map
    (packets chip row sent to chip column over their link; darker is more)."""
    rows = "".join(
        f"<tr><td>{c['chip']}</td><td>{c['xy'][0]},{c['xy'][1]}</td><td>{c['pes_used']}</td>"
        f"<td>{c['memory_bytes']:,}</td><td>{c['timestep_ns']['max'] / 1e3:.1f}</td>"
        f"<td>{sum(c['energy_j'].values()) * 1e3:.3f}</td></tr>" for c in board["per_chip"] if c["pes_used"])
    parts = [f"<h2>Board</h2><p>{escape(board_line(board))}. Chip links: {board['link']['latency_ns']:g} ns latency, "
             f"{board['link']['packet_ns']:g} ns per packet, {board['link']['energy_per_packet_pj']:g} pJ per packet.</p>",
             "<table><tr><th>chip</th><th>x,y</th><th>PEs used</th><th>SRAM bytes</th><th>worst timestep µs</th>"
             f"<th>energy mJ (cores, baseline, DRAM standby)</th></tr>{rows}</table>"]
    top = sorted(board["links"], key=lambda link: -link["peak_packets_per_tick"])[:20]
    if top:
        parts.append("<h3>Busiest chip links</h3><table><tr><th>link</th><th>packets</th><th>peak / tick</th>"
                     "<th>peak tick</th><th>peak busy</th></tr>" + "".join(
                         f"<tr><td>{link['from']}→{link['to']}</td><td>{link['packets']:,}</td>"
                         f"<td>{link['peak_packets_per_tick']:,}</td><td>{link['peak_tick']}</td>"
                         f"<td>{link['peak_busy_fraction']:.2%}</td></tr>" for link in top) + "</table>")
        matrix = board["traffic_matrix"]
        top_n = max(max(r) for r in matrix) or 1
        cells = []
        for a, row in enumerate(matrix):
            tds = "".join(
                f"<td title='{a}→{b}: {n:,} packets' style='background:rgba(200,40,40,{n / top_n:.3f});"
                f"width:12px;height:12px;padding:0'></td>" for b, n in enumerate(row))
            cells.append(f"<tr><th style='font-size:9px;padding:0 4px'>{a}</th>{tds}</tr>")
        parts.append("<h3>Chip-to-chip traffic (row: from chip, column: to chip)</h3>"
                     f"<table style='border-collapse:collapse'>{''.join(cells)}</table>")
    return "\n".join(parts)
