"""Invariants on every shipped network (small sizes) and on random small programs, both kernels.

What must hold at the end of any run (``s2sim.hw.checks``): busy cycles = the sum of phase cycles;
core-active energy = the sum of its phases; packet copies sent = received + dropped + in flight;
every tick fired ran, was dropped or is still queued (work left at the end is counted); and, with
the causality checker attached, no DMA completes before its issue + its shortest time and no DMA
payload or packet is used before the simulated time it was produced.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripted_firmware import Scripted
from s2sim.hw.checks import CausalityChecker, run_invariants
from s2sim.sim import Simulation

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
from timing_fingerprint import SMALL_RUNS, kernel_env, run_network  # noqa: E402


@pytest.mark.parametrize("name", sorted(SMALL_RUNS))
def test_every_shipped_network_keeps_the_invariants_and_causality(name):
    network, sets, options = SMALL_RUNS[name]
    checker = CausalityChecker()
    with kernel_env("exact"):
        sim = run_network(REPO / network, list(sets), options, checker).sim
    assert checker.events, "vacuous: the checker saw nothing"
    assert checker.violations(sim.hw) == []
    assert run_invariants(sim, checker) == []
    with kernel_env("fast"):  # no recorder: the fast kernel's grouped paths too
        fast = run_network(REPO / network, list(sets), options).sim
    assert run_invariants(fast) == []
    if name.startswith("lif"):  # the counted kernel's windows (other families run event-driven on it)
        with kernel_env("counted"):
            counted = run_network(REPO / network, list(sets), options).sim
        assert run_invariants(counted) == []


# ---- random small programs ------------------------------------------------------------------------
KEY_BASE = 0x1000

action = st.one_of(
    st.tuples(st.just("work"), st.integers(0, 300)),
    st.tuples(st.just("send"), st.integers(1, 4)),
    st.tuples(st.just("dma"), st.integers(1, 400)),
    st.tuples(st.just("task"), st.integers(0, 200), st.integers(1, 3)),
    st.tuples(st.just("user"), st.integers(0, 100)),
)
pe_program = st.fixed_dictionaries({
    "tick_ns": st.sampled_from([1000.0, 2000.0, 3000.0]),
    "timer": st.lists(action, max_size=5),
    "packet_cycles": st.integers(0, 150),
    "dma_cycles": st.integers(0, 300),
    "dma_schedules": st.booleans(),
    "packet_priority": st.sampled_from([-1, 0, 1]),
    "dma_priority": st.sampled_from([0, 1]),
    "dests": st.lists(st.integers(0, 7), min_size=0, max_size=3, unique=True),
})
program = st.fixed_dictionaries({
    "pes": st.dictionaries(st.integers(0, 7), pe_program, min_size=1, max_size=4),
    "ticks": st.integers(2, 8),
    "fidelity": st.sampled_from(["burst", "packet"]),
})


def scripted(pe_id: int, spec: dict) -> Scripted:
    dst = np.zeros(400, np.float32)

    def start(core):
        core.set_timer(spec["tick_ns"])
        core.set_priority("packet", spec["packet_priority"])
        core.set_priority("dma_done", spec["dma_priority"])

    def timer(core, tick):
        for act in spec["timer"]:
            what = act[0]
            if what == "work":
                core.charge_cycles("work", act[1])
            elif what == "send":
                for i in range(act[1]):
                    core.send_mc(KEY_BASE * (pe_id + 1) + i)
            elif what == "dma":
                core.dma_read(tick, "x", 0, act[1], dst)
            elif what == "task":
                core.schedule(lambda c, a, n=act[1]: c.charge_cycles("task", n), None, act[2])
            else:
                core.trigger_user_event(act[1])

    def dma_done(core, tag):
        core.charge_cycles("dma", spec["dma_cycles"])
        if spec["dma_schedules"]:
            core.schedule(lambda c, a: c.charge_cycles("task", 50), None, 1)

    return Scripted(start=start, timer=timer, dma=dma_done,
                    packet=lambda c, k, p: c.charge_cycles("rx", spec["packet_cycles"]),
                    user=lambda c, arg: c.charge_cycles("user", arg))


def run_program(hw, prog: dict, kernel: str, checker=None):
    sim = Simulation(hw, noc_fidelity=prog["fidelity"], kernel=kernel, recorder=checker)
    sim.store_dram("x", np.zeros(400, np.float32))
    for pe_id, spec in sorted(prog["pes"].items()):
        sim.chip.noc.add_multicast(key=KEY_BASE * (pe_id + 1), mask=0xFFFFF000, src_pe=pe_id,
                                   dest_pes=spec["dests"])
        sim.load(pe_id, scripted(pe_id, spec))
    sim.run_ticks(prog["ticks"])
    return sim


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])  # the ci profile's seed (tests/conftest.py); each example runs 2 kernels
@given(prog=program)
def test_random_small_programs_keep_the_invariants_and_causality_on_both_kernels(hw, prog):
    for kernel in ("exact", "fast"):
        checker = CausalityChecker()
        sim = run_program(hw, prog, kernel, checker)
        assert checker.violations(sim.hw) == [], kernel
        assert run_invariants(sim, checker) == [], kernel
        assert run_invariants(run_program(hw, prog, kernel)) == [], kernel  # without a recorder
