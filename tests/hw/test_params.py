"""HwParams comes from the arch file only, and remembers which overridden numbers the models read."""
from __future__ import annotations

import dataclasses

import pytest

from s2sim.config import load_arch
from s2sim.hw.params import ARCH_PATHS, HwParams
from s2sim.runtime.cost import CostModel


def test_every_field_is_required_so_no_python_default_can_drift_from_the_yaml():
    defaults = [f.name for f in dataclasses.fields(HwParams)
                if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING]
    assert defaults == []
    with pytest.raises(TypeError):
        HwParams()  # type: ignore[call-arg]


def test_values_are_the_arch_files_and_overrides_replace_only_what_they_name():
    arch = load_arch("spinnaker2")
    prov = arch.provenance()
    hw = HwParams.from_arch(arch)
    for field, path in ARCH_PATHS.items():
        want = prov[path].value
        got = getattr(hw, field)
        assert (list(map(list, got)) if field == "missing_routers" else got) == want, path
    assert hw.exp_energy_pj == prov["accelerators.exp_energy_pj"].value
    assert hw.core_cycles["fmac"] == arch.core_cycles.fmac.value
    assert hw.kernel_cycles["adam_update"] == arch.kernels.adam_update.value
    tweaked = HwParams.from_arch("spinnaker2", dram_latency_ns=0.0)
    assert tweaked.dram_latency_ns == 0.0 and tweaked.dma_setup_cycles == hw.dma_setup_cycles
    with pytest.raises(TypeError, match="no field"):
        HwParams.from_arch("spinnaker2", dram_latency=0.0)


def test_an_override_no_model_reads_is_reported_and_a_read_one_is_not():
    arch = load_arch("spinnaker2", {"accelerators": {"exp_latency_cycles": 1, "mac_energy_pj": 0.5},
                                    "noc": {"hop_latency_cycles": 3},
                                    "performance_levels": {"pl_low": {"clock_mhz": 100}},
                                    "core_cycles": {"fmac": 2, "logf": 99}}, origin="--set")
    hw = HwParams.from_arch(arch)
    assert hw.unread_overrides() == sorted(["accelerators.exp_latency_cycles", "accelerators.mac_energy_pj",
                                            "core_cycles.fmac", "core_cycles.logf", "noc.hop_latency_cycles",
                                            "performance_levels.pl_low.clock_mhz"])
    assert hw.hop_latency_cycles == 3
    assert hw.perf_level("pl_low").ns_per_cycle == pytest.approx(10.0)
    assert CostModel(hw.core_cycles, hw.kernel_cycles).cycles({"fmac": 5}) == 10
    assert hw.unread_overrides() == ["accelerators.exp_latency_cycles", "accelerators.mac_energy_pj",
                                     "core_cycles.logf"]
    assert HwParams.from_arch("spinnaker2").unread_overrides() == []  # nothing overridden, nothing to report


def test_the_dvfs_policy_and_the_dma_issue_cost_take_their_numbers_from_the_arch_file():
    from s2sim.hw.dvfs import LoadPolicy
    arch = load_arch("spinnaker2", {"dvfs_policy": {"margin": 1.5, "history_ticks": 2}, "dma": {"issue_cycles": 7}})
    hw = HwParams.from_arch(arch)
    policy = LoadPolicy(hw, tick_ns=1e6)
    assert (policy.margin, policy.deadline, policy.history) == (1.5, arch.dvfs_policy.deadline_fraction.value, 2)
    assert hw.dma_issue_cycles == 7


def test_queueing_a_dma_costs_the_arch_files_issue_cycles(hw):
    import numpy as np

    from scripted_firmware import Scripted
    from s2sim.sim import Simulation

    def dma_done_ns(issue_cycles: float) -> float:
        sim = Simulation(dataclasses.replace(hw, dma_issue_cycles=issue_cycles))
        sim.store_dram("x", np.zeros(100, np.float32))
        dst = np.zeros(100, np.float32)
        fw = Scripted(start=lambda c: c.set_timer(100_000.0),
                      timer=lambda c, t: c.dma_read(1, "x", 0, 100, dst) if t == 0 else None)
        sim.load(0, fw)
        sim.run_ticks(1)
        return fw.log[-1][2]

    assert dma_done_ns(14) - dma_done_ns(4) == 10 * 10.0  # 10 more cycles at the fixture's 10 ns/cycle
