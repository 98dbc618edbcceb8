"""A counted window's rows written as whole arrays (``TickStats.add_block``) read back exactly as the
same rows written one record each (``add_row``): the counted kernel's timing must stay bit-identical."""
import numpy as np
import pytest

from s2sim.hw.tickstats import TickStats

PHASES = ["neuron", "synapse", "comms"]
#: enough phases that numpy sums a cell's phases pairwise (8 or more), not one after the other
MANY_PHASES = [f"phase{i}" for i in range(11)]


def _window(rng, n_ticks: int, n_units: int, phases=PHASES):
    done = rng.random((n_ticks, n_units)) * 1e4
    # not integers, over many magnitudes: the order of every sum shows in the last bits
    cycles = rng.random((n_ticks, n_units, len(phases))) * 10.0 ** rng.integers(-3, 9, (n_ticks, n_units, len(phases)))
    ran = rng.random((n_ticks, n_units, len(phases))) < 0.6
    ran[0, 0] = False  # a row where nothing ran: no phases, but time done and packets still count
    pin = rng.integers(0, 5, (n_ticks, n_units))
    pout = rng.integers(0, 5, (n_ticks, n_units))
    return done, cycles, ran, pin, pout


def _record_by_record(stats, row0, pes, levels, done, cycles, ran, pin, pout, names=PHASES):
    for k in range(done.shape[0]):
        for u, pe in enumerate(pes):
            phases = {names[p]: float(cycles[k, u, p]) for p in range(len(names)) if ran[k, u, p]}
            stats.add_row(row0 + k, pe, float(done[k, u]), phases, int(pin[k, u]), int(pout[k, u]), levels[u])


def _readout(stats: TickStats) -> dict:
    out = {name: arr.copy() for name, arr in stats.view().items()}
    out["level"] = [stats.level_names[i] if i >= 0 else None for i in stats.level_of[:stats.n_rows].ravel()]
    out["beyond"] = stats.beyond_max_done_ns.copy()
    out["rows_seen"] = stats.rows_seen
    for pe in range(stats.n_pes):
        out[f"totals{pe}"] = stats.phase_totals(pe)
        out[f"by_level{pe}"] = stats.phase_totals_by_level(pe)
    return out


def _assert_same(a: dict, b: dict) -> None:
    assert list(a) == list(b)  # same phase columns, in the same order (timesteps.csv)
    for key in a:
        if isinstance(a[key], np.ndarray):
            assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


def test_a_block_of_rows_reads_back_as_the_same_rows_recorded_one_by_one():
    rng = np.random.default_rng(3)
    pes, levels = [4, 1, 2], ["fast", "slow", "fast"]
    windows = [(0, _window(rng, 6, 3)), (6, _window(rng, 9, 3))]
    for max_rows in (None, 10):  # with a cap, the second window runs past it
        one_by_one, block = TickStats(n_pes=6, rows=4, max_rows=max_rows), TickStats(n_pes=6, rows=4, max_rows=max_rows)
        one_by_one.work(0, 5, 12.5, {"comms": 3.25}, "slow")  # an event-driven record before the window
        block.work(0, 5, 12.5, {"comms": 3.25}, "slow")
        for row0, arrays in windows:
            _record_by_record(one_by_one, row0, pes, levels, *arrays)
            one_by_one.n_rows  # a read: the window's records are merged as one batch, as a block is
            block.add_block(row0, pes, levels, PHASES, *arrays)
        _assert_same(_readout(one_by_one), _readout(block))
    assert block.rows_seen == 15 and block.n_rows == 10 and block.beyond_max_done_ns[4] > 0


@pytest.mark.parametrize("max_rows", [None, 25, 50])
def test_many_phases_many_levels_and_a_phase_first_run_past_the_cap_read_back_the_same(max_rows):
    """11 phases (a cell's busy cycles are numpy's pairwise sum), a PE's records switching between sets of
    phases (the run totals add group by group), two levels, and a phase that first runs in rows past
    the cap (it gets run totals but no per-row column), and a cell whose phases took no time (it still has
    a level)."""
    rng = np.random.default_rng(7)
    pes, levels = [9, 3, 0, 5], ["fast", "slow", "fast", "slow"]
    windows = [(row0, _window(rng, 20, 4, MANY_PHASES)) for row0 in (0, 20, 40)]
    late_only = MANY_PHASES.index("phase10")
    for row0, (done, cycles, ran, pin, pout) in windows:
        ran[..., late_only] = row0 + np.arange(20)[:, None] >= 50  # the last phase runs only from row 50
    done, _, ran, pin, pout = windows[0][1]
    ran[3, 1, 0], done[3, 1], pin[3, 1], pout[3, 1] = True, 0.0, 0, 0
    one_by_one, block = TickStats(n_pes=12, rows=8, max_rows=max_rows), TickStats(n_pes=12, rows=8, max_rows=max_rows)
    for row0, arrays in windows:
        _record_by_record(one_by_one, row0, pes, levels, *arrays, names=MANY_PHASES)
        one_by_one.n_rows
        block.add_block(row0, pes, levels, MANY_PHASES, *arrays)
    _assert_same(_readout(one_by_one), _readout(block))
    assert ("cycles_phase10" in block.view()) == (max_rows is None)
    assert "phase10" in block.phase_totals(9)


def test_a_block_with_more_phases_than_a_mask_holds_is_refused():
    stats = TickStats(n_pes=2)
    names = [f"p{i}" for i in range(63)]
    with pytest.raises(ValueError, match="63 phases"):
        stats.add_block(0, [0], ["fast"], names, np.zeros((1, 1)), np.zeros((1, 1, 63)), np.zeros((1, 1, 63), bool),
                        np.zeros((1, 1), np.int64), np.zeros((1, 1), np.int64))
