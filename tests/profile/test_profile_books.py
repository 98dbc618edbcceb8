"""The books balance on a small run: cycles, energy, memory and packets add up."""
from __future__ import annotations

import json

import numpy as np
import pytest
from profile_runs import small_run

from s2sim.energy import OPTIONAL_COMPONENTS
from s2sim.hw.params import HwParams
from s2sim.profile.summary import traffic_section
from s2sim.profile.tables import grid, load_run
from s2sim.runtime import Firmware
from s2sim.sim import Simulation


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return load_run(small_run(tmp_path_factory.mktemp("books") / "run"))


def test_phase_cycles_add_up_to_busy_cycles_per_pe_and_timestep(run):
    ts = run.ts
    phases = [k for k in ts if k.startswith("cycles_")]
    assert phases and ts["busy_cycles"].sum() > 0
    np.testing.assert_allclose(sum(ts[p] for p in phases), ts["busy_cycles"], rtol=1e-12)
    per_phase = run.summary["latency"]["per_phase_cycles"]
    for p in phases:
        assert per_phase[p[len("cycles_"):]] == pytest.approx(ts[p].sum())


def test_critical_pe_and_latency_stats_come_from_time_done(run):
    done, pes = grid(run.ts, "time_done_ns")
    lat = run.summary["latency"]
    assert lat["timestep_ns"]["max"] == pytest.approx(done.max())
    assert lat["critical_pe"] == pes[int(np.argmax(done.max(axis=0)))]
    assert lat["realtime_slack_ns"] == pytest.approx(lat["tick_ns"] - done.max())


def test_energy_of_a_real_run_is_the_arch_numbers_times_its_counters(run):
    """Each component recomputed from the run's own counters (cycles per level and phase, time per
    level, hops, bytes) and the arch file's numbers: a wrong table, level or unit breaks it."""
    hw = HwParams.from_arch("spinnaker2")
    s = run.summary
    en, end_ns, level = s["energy"], s["sim_time_s"] * 1e9, hw.perf_level()
    cycles = sum(p["active_cycles"] for p in s["pes"])
    assert cycles > 0
    assert {lvl for p in s["pes"] for lvl in p["time_by_level_ns"]} == {level.name}  # fixed level run
    expected = {
        "core_active": cycles * level.active_energy_per_cycle_pj * 1e-12,
        "core_static": s["pes_used"] * end_ns * level.static_power_mw * 1e-12,  # busy or asleep
        "chip_baseline": end_ns * hw.baseline_power_mw * 1e-12,
        "noc": s["traffic"]["packet_hops"] * hw.noc_energy_per_hop_pj * 1e-12,
        "dma": s["traffic"]["dma_bytes"] * hw.dma_energy_per_byte_pj * 1e-12,
        "dram": 0.0,  # lif_bench keeps everything in SRAM
        "dram_background": end_ns * hw.dram_background_power_mw * 1e-12,  # the devices idle but refresh
    }
    assert en["breakdown_j"] == pytest.approx(expected, rel=1e-9)
    assert en["not_used"] == {"exp_accelerator": OPTIONAL_COMPONENTS["exp_accelerator"],
                              "mac_array": OPTIONAL_COMPONENTS["mac_array"]}
    phase_cycles = s["latency"]["per_phase_cycles"]
    assert en["per_phase_j"] == pytest.approx(
        {ph: c * level.active_energy_per_cycle_pj * 1e-12 for ph, c in phase_cycles.items() if c}, rel=1e-9)
    assert sum(en["confidence_shares"].values()) == pytest.approx(1.0)


def test_regions_add_up_to_used_bytes(run):
    mem = run.summary["memory"]
    for p in mem["per_pe"]:
        assert sum(p["regions"].values()) == p["used_bytes"]
        assert sum(p["categories"].values()) == p["used_bytes"]
        assert set(p["region_categories"]) == set(p["regions"])
        assert p["free_bytes"] == p["capacity_bytes"] - p["used_bytes"]
    assert sum(mem["category_totals_bytes"].values()) == mem["total_bytes"]
    assert mem["headroom_bytes"] == mem["per_pe"][0]["capacity_bytes"] - mem["max_pe_bytes"]


def test_packets_sent_equal_delivered_plus_dropped(run):
    t, ts = run.summary["traffic"], run.ts
    assert t["packets"] > 0
    assert t["packets_routed"] == t["packets"]  # every send enters the NoC once
    assert t["copies"] == t["deliveries"] + t["copies_undelivered"]
    assert t["dropped"] == 0 and t["copies_undelivered"] == 0
    assert ts["packets_out"].sum() == t["packets"]
    assert ts["packets_in"].sum() == t["deliveries"]
    # lif_bench multicasts every spike of a layer to all PEs of the next layer: copies > sends
    assert t["copies"] > t["packets"]


class _Sender(Firmware):
    def __init__(self, keys):
        self.keys = keys

    def on_start(self, core):
        core.set_timer(1_000_000.0)

    def on_timer(self, core, tick):
        for k in self.keys:
            core.send_mc(k)


class _Sink(Firmware):
    def on_packet(self, core, key, payload):
        core.charge_cycles("rx", 10)


def test_multicast_copies_and_drops_are_counted_precisely():
    sim = Simulation(HwParams.from_arch("spinnaker2"))
    noc = sim.machine.routing
    noc.add_multicast(0x100, 0xFFFFFF00, 0, [4, 5, 9])  # 9 runs no firmware: its copy is undelivered
    sim.load(0, _Sender([0x100, 0x100, 0x200]))  # 0x200 has no route: a dropped send
    sim.load(4, _Sink())
    sim.load(5, _Sink())
    sim.run_ticks(1)
    t = traffic_section(sim)
    assert t["packets"] == t["packets_routed"] == 3
    assert t["copies"] == 2 * 3  # two routed sends x three destinations
    assert t["deliveries"] == 2 * 2
    assert t["copies_undelivered"] == 2
    assert t["dropped"] == 1 + 2  # one routing miss + two copies at a PE without firmware
    json.dumps(t)
