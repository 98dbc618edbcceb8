"""Every run reports its timestep latency at each end of the cycle bracket.

The story: one PE runs a calibrated kernel (``event_add``) and some op-counted work each tick. Its
kernel cycles differ between the nominal, low and high tables; its op-counted work does not. The
latency the summary reports at each end must be the nominal one plus exactly the extra kernel
cycles, and a whole run at ``arch.cycle_model=high`` must land where the bracket said it would.
"""
from __future__ import annotations

import pytest

from s2sim.hw.kernel_cycles import KernelCycles
from s2sim.hw.params import HwParams
from s2sim.profile.bracket import verdict
from s2sim.profile.summary import latency_section
from s2sim.runtime import Firmware
from s2sim.sim import Simulation

TICK_NS = 100_000.0
SYNAPSES, OTHER_CYCLES = 400, 700


class _Worker(Firmware):
    def on_start(self, core):
        core.set_timer(TICK_NS)

    def on_timer(self, core, tick):
        core.kernel("synapses", "event_add", SYNAPSES)
        core.charge_cycles("other", OTHER_CYCLES)


def _run(hw: HwParams) -> Simulation:
    sim = Simulation(hw)
    sim.load(0, _Worker())
    sim.run_ticks(3)
    return sim


def test_kernel_cycles_keep_every_end_through_the_firmware_s_arithmetic():
    k = KernelCycles(10.0, 10.0, 13.0, 16.0)
    total = 2 * k + 5.0 + KernelCycles(1.0, 1.0, 2.0, 3.0) / 2
    assert float(total) == 25.5
    assert (total.nominal, total.low, total.high) == (25.5, 32.0, 38.5)
    assert type(0.0 + k) is KernelCycles and type(max(k, 3.0)) is KernelCycles  # max returns k itself
    assert type(k - 1.0) is float  # anything else is a plain float: it counts the same at every end


def test_each_end_adds_exactly_the_extra_kernel_cycles_and_nothing_for_op_counted_work():
    hw = HwParams.from_arch("spinnaker2")
    nominal, low, high = hw.kernel_cycles_bracket["event_add"]
    lat = latency_section(_run(hw), TICK_NS)
    band = lat["bracket"]
    ns = hw.perf_level().ns_per_cycle
    assert band["timestep_ns"]["nominal"]["max"] == pytest.approx(lat["timestep_ns"]["max"], rel=1e-12)
    for end, per in (("low", low), ("high", high)):
        extra_ns = (per - nominal) * SYNAPSES * ns
        assert band["timestep_ns"][end]["max"] == pytest.approx(lat["timestep_ns"]["max"] + extra_ns, rel=1e-9)
    assert band["critical_pe_phase_ratio"]["other"] == {"low": 1.0, "high": 1.0}
    charged = nominal * SYNAPSES
    assert band["critical_pe_phase_ratio"]["synapses"]["high"] == pytest.approx(high * SYNAPSES / charged, abs=1e-4)


def test_a_whole_run_at_the_high_end_lands_where_the_bracket_said():
    arch_hw = HwParams.from_arch("spinnaker2")
    predicted = latency_section(_run(arch_hw), TICK_NS)["bracket"]["timestep_ns"]["high"]["max"]
    from s2sim.config import load_arch
    arch = load_arch("spinnaker2")
    high_hw = HwParams.from_arch(arch.model_copy(update={"cycle_model": "high"}))
    lat = latency_section(_run(high_hw), TICK_NS)
    assert lat["timestep_ns"]["max"] == pytest.approx(predicted, rel=1e-9)
    assert lat["bracket"]["cycle_model"] == "high"
    assert lat["bracket"]["timestep_ns"]["high"]["max"] == pytest.approx(lat["timestep_ns"]["max"], rel=1e-12)
    assert lat["bracket"]["timestep_ns"]["nominal"]["max"] < lat["timestep_ns"]["max"]


def test_the_verdict_names_the_ends_that_keep_real_time():
    assert verdict({"nominal": True, "low": True, "high": False}) == "real time: yes at nominal and low, no at high"
    assert verdict({"nominal": True, "low": True, "high": True}) == "real time: yes at every end"
    assert verdict({"nominal": False, "low": False, "high": False}) == "real time: no at every end"


def test_timesteps_past_the_recording_still_count_at_each_end():
    """Only the first timestep is recorded; the later ones keep their per-PE maximum, and the band
    adds to it the extra the recorded timestep had (every tick here does the same work)."""
    hw = HwParams.from_arch("spinnaker2")
    full = latency_section(_run(hw), TICK_NS)["bracket"]["timestep_ns"]
    sim = Simulation(hw, record_timesteps=1)
    sim.load(0, _Worker())
    sim.run_ticks(3)
    lat = latency_section(sim, TICK_NS)
    assert lat["timesteps_recorded"] < lat["timesteps_total"]
    for end in ("nominal", "low", "high"):
        assert lat["bracket"]["timestep_ns"][end]["max"] == pytest.approx(full[end]["max"], rel=1e-9)


def test_under_overruns_only_the_charged_end_is_given_and_no_end_is_real_time():
    # A tick shorter than the work: every later tick waits for the ones before, so a slower end would
    # compound the wait; a first-order band (time_done + extra cycles) would understate it.
    hw = HwParams.from_arch("spinnaker2")
    work_ns = (float(hw.kernel_cycles["event_add"]) * SYNAPSES + OTHER_CYCLES) * hw.perf_level().ns_per_cycle
    sim = Simulation(hw)

    class Tight(_Worker):
        def on_start(self, core):
            core.set_timer(work_ns / 2)

    sim.load(0, Tight())
    sim.run_ticks(6)
    lat = latency_section(sim, work_ns / 2)
    band = lat["bracket"]
    assert lat["overruns"] > 0
    assert band["timestep_ns"]["nominal"] == lat["timestep_ns"]
    assert band["timestep_ns"]["low"] is None and band["timestep_ns"]["high"] is None
    assert band["realtime"] == {"nominal": False, "low": False, "high": False}
    assert "overruns: only the charged end is measured" in band["verdict"]
