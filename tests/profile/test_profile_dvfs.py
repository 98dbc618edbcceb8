"""Per-tick DVFS (LoadPolicy): light load runs at the low level, saves energy, still meets the tick."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from profile_runs import run_cli, small_run

from s2sim.hw.dvfs import LoadPolicy
from s2sim.hw.params import HwParams


_ids = iter(range(10_000))


def _fake_pe(busy_history, pe_id=None):
    """A stand-in PE with a fixed past; each gets its own id (the policy remembers loads per PE)."""
    pe_id = next(_ids) if pe_id is None else pe_id
    busy = np.zeros((len(busy_history), pe_id + 1))
    busy[:, pe_id] = busy_history
    stats = SimpleNamespace(n_rows=len(busy_history), busy_cycles=busy, time_done_ns=np.zeros_like(busy))
    stats.cell = lambda name, row, pe: float(getattr(stats, name)[row, pe])  # (``TickStats.cell``)
    return SimpleNamespace(id=pe_id, chip=SimpleNamespace(stats=stats), ns_per_cycle=10 / 3, is_behind=False,
                           row_so_far=lambda row: None, accumulating_row=-1)


def test_policy_picks_the_slowest_level_that_meets_the_deadline():
    hw = HwParams.from_arch("spinnaker2")  # pl_low 150 MHz (6.67 ns/cycle), pl_high 300 MHz
    pol = LoadPolicy(hw, tick_ns=1_000_000.0, margin=1.25, deadline=0.8)
    budget_low = pol.budget_ns / hw.perf_level("pl_low").ns_per_cycle / 1.25  # cycles that fit at pl_low
    assert pol.choose(_fake_pe([1000.0]), tick=1) == "pl_low"
    assert pol.choose(_fake_pe([budget_low * 0.99]), tick=1) == "pl_low"
    assert pol.choose(_fake_pe([budget_low * 1.01]), tick=1) == "pl_high"
    assert pol.choose(_fake_pe([]), tick=0) == "pl_high"  # no history: fastest
    # the busiest of the last `history` ticks counts, not only the last one
    assert pol.choose(_fake_pe([budget_low * 2, 10, 10, 10]), tick=4) == "pl_high"
    assert pol.choose(_fake_pe([budget_low * 2, 10, 10, 10, 10]), tick=5) == "pl_low"
    behind = _fake_pe([10.0])
    behind.is_behind = True
    assert pol.choose(behind, tick=1) == "pl_high"  # previous tick still running: go fast
    assert pol.describe()["choices"] == {"pl_low": 3, "pl_high": 4}


def test_policy_rejects_nonsense_parameters():
    with pytest.raises(ValueError, match="margin"):
        LoadPolicy(HwParams.from_arch("spinnaker2"), 1e6, margin=0.5)
    with pytest.raises(ValueError, match="deadline"):
        LoadPolicy(HwParams.from_arch("spinnaker2"), 1e6, deadline=1.5)


def test_light_workload_runs_low_with_less_energy_and_still_real_time(tmp_path):
    fixed = json.loads((small_run(tmp_path / "fixed", "--set", "run.performance_level=pl_high")
                        / "summary.json").read_text())
    load = json.loads((small_run(tmp_path / "load", "--set", "run.dvfs=load") / "summary.json").read_text())
    choices = load["energy"]["dvfs"]["choices"]
    assert choices.get("pl_low", 0) > 0.8 * sum(choices.values())
    assert fixed["energy"]["dvfs"] == {"policy": "fixed", "level": "pl_high"}
    assert load["energy"]["total_j"] < fixed["energy"]["total_j"]
    assert load["energy"]["breakdown_j"]["core_static"] < fixed["energy"]["breakdown_j"]["core_static"]
    assert load["latency"]["timestep_ns"]["max"] <= load["latency"]["tick_ns"]
    assert load["diagnostics"]["timer_overruns"] == 0
    # same work, slower clock: each timestep takes longer but the same cycles
    assert load["latency"]["per_phase_cycles"] == pytest.approx(fixed["latency"]["per_phase_cycles"])
    res = run_cli("compare", tmp_path / "fixed", tmp_path / "load")
    assert res.exit_code == 0 and "energy" in res.output and "load" in res.output


class _Busy:
    """A firmware charging a fixed number of cycles per tick."""

    def __init__(self, cycles):
        self.cycles = cycles

    def on_start(self, core):
        core.set_timer(1_000_000.0)

    def on_timer(self, core, tick):
        core.charge_cycles("work", self.cycles)


@pytest.mark.parametrize("cycles, level", [(10_000, "pl_low"), (200_000, "pl_high")])
def test_policy_on_the_chip_follows_the_load(cycles, level):
    from s2sim.runtime import Firmware
    from s2sim.sim import Simulation
    hw = HwParams.from_arch("spinnaker2")
    sim = Simulation(hw)
    sim.machine.dvfs_policy = pol = LoadPolicy(hw, 1_000_000.0)
    fw = type("Busy", (_Busy, Firmware), {})(cycles)
    sim.load(0, fw)
    sim.run_ticks(10)
    assert pol.choices[level] >= 9  # all but the first tick (no history: fastest)
    pe = sim.machine.pes[0]
    assert sim.machine.counters.timer_overruns[pe.id] == 0
    assert sim.machine.stats.time_done_ns[:10, 0].max() <= 0.8 * 1_000_000.0


def test_periodic_heavy_ticks_are_learnt():
    hw = HwParams.from_arch("spinnaker2")
    pol = LoadPolicy(hw, tick_ns=1_000_000.0, history=2)
    heavy = pol.slow_capacity * 1.5  # too much for pl_low, fine for pl_high
    history = [heavy if t % 10 == 9 else 1000.0 for t in range(40)]
    picks = {}
    for tick in range(1, 40):
        pe = _fake_pe(history[:tick], pe_id=0)  # one PE followed through time
        picks[tick] = pol.choose(pe, tick)
    # after two heavy ticks (9, 19) the period is known: 29 and 39 run fast before they happen
    assert picks[29] == "pl_high" and picks[39] == "pl_high"
    assert picks[9] == "pl_low"  # not yet known
    assert picks[25] == "pl_low" and picks[35] == "pl_low"  # light ticks stay low
