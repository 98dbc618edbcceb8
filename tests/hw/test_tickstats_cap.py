"""Long runs keep only the first ``record_timesteps`` timesteps in detail, but never lose the slowest one."""
from scripted_firmware import Scripted


def test_timesteps_past_the_cap_only_update_the_maximum(hw):
    from s2sim.sim import Simulation
    sim = Simulation(hw, record_timesteps=5)
    # tick 7 is slow (300 cycles = 3 us), every other tick 10 cycles
    sim.load(0, Scripted(start=lambda c: c.set_timer(10_000.0),
                         timer=lambda c, t: c.charge_cycles("w", 300 if t == 7 else 10)))
    sim.run_ticks(10)
    stats = sim.chip.stats
    assert stats.n_rows == 5 and stats.rows_seen == 10
    assert list(stats.time_done_ns[:5, 0]) == [100.0] * 5
    assert stats.beyond_max_done_ns[0] == 3000.0
    from s2sim.profile.summary import latency_section
    lat = latency_section(sim, 10_000.0)
    assert lat["timestep_ns"]["max"] == 3000.0 and lat["timestep_ns"]["median"] == 100.0
    assert (lat["timesteps_recorded"], lat["timesteps_total"]) == (5, 10)


def test_dvfs_keeps_choosing_low_level_past_the_recording_cap(hw):
    """A light PE drops to the slow level and stays there after per-timestep detail stops."""
    from s2sim.hw.dvfs import LoadPolicy
    from s2sim.hw.params import PerfLevel
    from s2sim.sim import Simulation
    levels = (PerfLevel("slow", 50.0, 0.5, 5.0, 0.5), PerfLevel("fast", 100.0, 0.8, 10.0, 1.0))
    hw2 = type(hw)(**{**hw.__dict__, "perf_levels": levels, "default_perf_level": "fast"})
    sim = Simulation(hw2, record_timesteps=3)
    sim.chip.dvfs_policy = LoadPolicy(hw2, 10_000.0)
    sim.load(0, Scripted(start=lambda c: c.set_timer(10_000.0), timer=lambda c, t: c.charge_cycles("w", 10)))
    sim.run_ticks(12)
    assert sim.chip.pes[0].level.name == "slow"
    assert sim.chip.dvfs_policy.choices["slow"] >= 9
