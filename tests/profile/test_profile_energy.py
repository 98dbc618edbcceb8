"""Energy worked by hand from the arch file's numbers, under DVFS, and the static-power model.

The story: one PE runs two heavy ticks at pl_high, then two light ticks at pl_low; every tick it
sends packets one hop and reads a block from DRAM. Its energy is computed here the way a reader
would on paper (cycles x pJ/cycle of the level they ran at + static power x time at each level +
hops x pJ/hop + bytes x pJ/byte + baseline power x time) and must match the summary.
"""
from __future__ import annotations

import numpy as np
import pytest

from s2sim.config import load_arch
from s2sim.hw.params import HwParams, PerfLevel
from s2sim.profile.summary import energy_section, latency_section, traffic_section
from s2sim.runtime import Firmware
from s2sim.sim import Simulation

TICK_NS = 100_000.0
HEAVY_CYCLES, LIGHT_CYCLES = 9_000, 2_000
PACKETS, DMA_FLOATS = 3, 256
KEY = 0x100


class _Worker(Firmware):
    """Heavy work in the first two ticks, light work after; packets and a DRAM read every tick."""

    def __init__(self):
        self.dst = np.zeros(DMA_FLOATS, np.float32)

    def on_start(self, core):
        core.set_timer(TICK_NS)

    def on_timer(self, core, tick):
        if tick < 2:
            core.charge_cycles("heavy", HEAVY_CYCLES)
        else:
            core.charge_cycles("light", LIGHT_CYCLES)
        for _ in range(PACKETS):
            core.send_mc(KEY)
        core.dma_read(1, "block", 0, DMA_FLOATS, self.dst)


class _TwoLevels:
    """A DVFS policy fixed in advance: pl_high for ticks 0-1, pl_low from tick 2 on."""

    def choose(self, pe, tick):
        return "pl_high" if tick < 2 else "pl_low"


def _run_worker(hw: HwParams) -> Simulation:
    sim = Simulation(hw)
    sim.machine.dvfs_policy = _TwoLevels()
    sim.store_dram("block", np.arange(DMA_FLOATS, dtype=np.float32))
    # PE 0 sits in QPE 0 at mesh slot (0, 0); PE 4 in QPE 1 at (1, 0): one link away. PE 4 runs no
    # firmware (powered off, its copies are dropped), so the chip's energy is PE 0's plus the NoC's.
    sim.machine.routing.add_multicast(KEY, 0xFFFFFFFF, 0, [4])
    sim.load(0, _Worker())
    sim.run_ticks(4)
    return sim


def test_one_pe_energy_under_dvfs_matches_a_hand_computation():
    hw = HwParams.from_arch("spinnaker2")
    high, low = hw.perf_level("pl_high"), hw.perf_level("pl_low")
    sim = _run_worker(hw)
    end_ns = sim.env.now
    assert end_ns > 3 * TICK_NS  # the last tick ran

    # cycles of one tick besides its work: packet hand-offs, queueing the DMA, the DMA-done handler
    overhead = PACKETS * hw.send_packet_cycles + hw.dma_issue_cycles + hw.irq_entry_cycles + hw.irq_exit_cycles
    cycles_high = 2 * (HEAVY_CYCLES + overhead)
    cycles_low = 2 * (LIGHT_CYCLES + overhead)
    dynamic_pj = cycles_high * high.active_energy_per_cycle_pj + cycles_low * low.active_energy_per_cycle_pj
    # static power for the whole time at each level, busy or asleep: pl_high until tick 2 fires
    static_mw_ns = high.static_power_mw * 2 * TICK_NS + low.static_power_mw * (end_ns - 2 * TICK_NS)
    dma_bytes = 4 * 4 * DMA_FLOATS
    expected_j = {
        "core_active": dynamic_pj * 1e-12,
        "core_static": static_mw_ns * 1e-12,  # mW x ns = pJ
        "chip_baseline": hw.baseline_power_mw * end_ns * 1e-12,
        "noc": 4 * PACKETS * 1 * hw.noc_energy_per_hop_pj * 1e-12,
        "dma": dma_bytes * hw.dma_energy_per_byte_pj * 1e-12,
        "dram": dma_bytes * hw.dram_energy_per_byte_pj * 1e-12,
        "dram_background": hw.dram_background_power_mw * end_ns * 1e-12,  # standby + refresh, all run long
    }

    en = energy_section(sim, end_ns, samples=1, arch=None)
    assert set(en["breakdown_j"]) == set(expected_j)  # no exp or MAC-array work: not listed as 0 J
    for component, joules in expected_j.items():
        assert en["breakdown_j"][component] == pytest.approx(joules, rel=1e-9), component
    assert en["total_j"] == pytest.approx(sum(expected_j.values()), rel=1e-9)
    # each phase at the level it ran at (pl_high for "heavy", pl_low for "light")
    assert en["per_phase_j"]["heavy"] == pytest.approx(2 * HEAVY_CYCLES * high.active_energy_per_cycle_pj * 1e-12)
    assert en["per_phase_j"]["light"] == pytest.approx(2 * LIGHT_CYCLES * low.active_energy_per_cycle_pj * 1e-12)
    assert en["pe_time_by_level_s"] == pytest.approx({"pl_high": 2 * TICK_NS * 1e-9,
                                                      "pl_low": (end_ns - 2 * TICK_NS) * 1e-9})
    assert sim.machine.counters.packet_hops == 4 * PACKETS  # the one-hop route the hand computation assumed


def test_phase_time_per_timestep_uses_the_level_of_that_timestep():
    hw = HwParams.from_arch("spinnaker2")
    sim = _run_worker(hw)
    lat = latency_section(sim, TICK_NS)
    ns_high, ns_low = hw.perf_level("pl_high").ns_per_cycle, hw.perf_level("pl_low").ns_per_cycle
    # mean over the 4 timesteps of the phase's time: heavy in ticks 0-1 at pl_high, light in 2-3 at pl_low
    assert lat["per_phase_ns"]["heavy"] == pytest.approx(2 * HEAVY_CYCLES * ns_high / 4)
    assert lat["per_phase_ns"]["light"] == pytest.approx(2 * LIGHT_CYCLES * ns_low / 4)
    assert traffic_section(sim)["dma_bytes"] == 4 * 4 * DMA_FLOATS


class _Busy(Firmware):
    def __init__(self, cycles: int):
        self.cycles = cycles

    def on_start(self, core):
        core.set_timer(1_000_000.0)

    def on_timer(self, core, tick):
        core.charge_cycles("work", self.cycles)


def _energy_j(hw: HwParams, level: str, cycles: int, ticks: int = 5) -> float:
    sim = Simulation(hw, perf_level=level)
    sim.load(0, _Busy(cycles))
    sim.run_ticks(ticks)
    return energy_section(sim, sim.env.now, samples=1, arch=None)["total_j"]


def _with_half_clock_level(hw: HwParams) -> HwParams:
    """pl_high plus a level at the same voltage (same static power and pJ/cycle) and half the clock."""
    high = hw.perf_level("pl_high")
    half = PerfLevel("half_clock", high.clock_mhz / 2, high.voltage_v, high.active_energy_per_cycle_pj,
                     high.static_power_mw)
    return HwParams.from_arch("spinnaker2", perf_levels=(*hw.perf_levels, half))


@pytest.mark.parametrize("cycles", [0, 1_000, 60_000, 140_000])
def test_a_slower_clock_at_the_same_voltage_never_lowers_energy(cycles):
    hw = _with_half_clock_level(HwParams.from_arch("spinnaker2"))
    assert _energy_j(hw, "half_clock", cycles) >= _energy_j(hw, "pl_high", cycles) * (1 - 1e-12)


@pytest.mark.parametrize("cycles", [1_000, 60_000, 140_000])
def test_the_low_voltage_level_lowers_energy(cycles):
    hw = HwParams.from_arch("spinnaker2")
    assert _energy_j(hw, "pl_low", cycles) < _energy_j(hw, "pl_high", cycles)


def test_busy_power_at_each_level_is_the_measured_coremark_power():
    """Static + pJ/cycle x clock reproduces the chip's CoreMark power per PE it was derived from."""
    arch = load_arch("spinnaker2")
    coremark_mw = {"pl_low": 424.6, "pl_high": 1247.9}  # all 152 PEs busy (spec §2.8, chip paper via notes)
    for level in HwParams.from_arch(arch).perf_levels:
        busy_mw = level.static_power_mw + level.active_energy_per_cycle_pj * level.clock_mhz * 1e-3
        per_pe = (coremark_mw[level.name] - arch.chip.baseline_power_mw.value) / arch.n_pes
        assert busy_mw == pytest.approx(per_pe, rel=0.01), level.name


class _SwitchesItself(Firmware):
    """Works W cycles a tick and drops to pl_low itself at the start of tick 2's callback."""

    def on_start(self, core):
        core.set_timer(TICK_NS)

    def on_timer(self, core, tick):
        if tick == 2:
            core.set_performance_level("pl_low")
        core.charge_cycles("work", HEAVY_CYCLES)


def test_a_switch_made_by_the_firmware_bills_each_callback_at_the_level_it_started_at():
    hw = HwParams.from_arch("spinnaker2")
    high, low = hw.perf_level("pl_high"), hw.perf_level("pl_low")
    sim = Simulation(hw)
    sim.load(0, _SwitchesItself())
    sim.run_ticks(4)
    en = energy_section(sim, sim.env.now, samples=1, arch=None)
    switch_cycles = hw.pl_switch_ns / high.ns_per_cycle  # the stall, charged in tick 2's callback
    # ticks 0-2 started at pl_high (tick 2 switches inside its callback), tick 3 runs at pl_low
    assert en["per_phase_j"]["work"] == pytest.approx(
        (3 * HEAVY_CYCLES * high.active_energy_per_cycle_pj + HEAVY_CYCLES * low.active_energy_per_cycle_pj) * 1e-12)
    assert en["per_phase_j"]["dvfs"] == pytest.approx(switch_cycles * high.active_energy_per_cycle_pj * 1e-12)
    assert sum(en["per_phase_j"].values()) == pytest.approx(en["breakdown_j"]["core_active"])
    lat = latency_section(sim, TICK_NS)
    assert lat["per_phase_ns"]["work"] == pytest.approx(HEAVY_CYCLES * (3 * high.ns_per_cycle + low.ns_per_cycle) / 4)


def test_dram_background_power_is_the_quoted_idd_figures_times_their_supplies():
    """The arch's LPDDR4 standby + refresh power, recomputed from the IDD currents its source quotes
    (mA at VDD1 1.8 V / VDD2 1.1 V / VDDQ 1.1 V): power-down standby plus refresh's share of time."""
    power_down_mw = 1.2 * 1.8 + 3.0 * 1.1 + 0.75 * 1.1  # IDD2P on each rail
    refresh_mw = ((2.5 - 1.2) * 1.8 + (30.0 - 3.0) * 1.1) * 280.0 / 3903.75  # IDD5AB above IDD2P, tRFCab / tREFI
    hw = HwParams.from_arch("spinnaker2")
    assert hw.dram_background_power_mw == pytest.approx(hw.dram_channels * (power_down_mw + refresh_mw), abs=0.05)
    leaf = load_arch("spinnaker2").dram.background_power_mw
    assert "IDD2P" in leaf.source and "IDD5AB" in leaf.source and leaf.confidence == "estimate"
