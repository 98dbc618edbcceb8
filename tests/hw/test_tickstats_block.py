"""A counted window's rows written as whole arrays (``TickStats.add_block``) read back exactly as the
same rows written one record each (``add_row``): the counted kernel's timing must stay bit-identical."""
import numpy as np

from s2sim.hw.tickstats import TickStats

PHASES = ["neuron", "synapse", "comms"]


def _window(rng, n_ticks: int, n_units: int):
    done = rng.random((n_ticks, n_units)) * 1e4
    cycles = rng.random((n_ticks, n_units, len(PHASES))) * 1e3  # not integers: the order of sums shows
    ran = rng.random((n_ticks, n_units, len(PHASES))) < 0.6
    ran[0, 0] = False  # a row where nothing ran: no phases, but time done and packets still count
    pin = rng.integers(0, 5, (n_ticks, n_units))
    pout = rng.integers(0, 5, (n_ticks, n_units))
    return done, cycles, ran, pin, pout


def _record_by_record(stats, row0, pes, levels, done, cycles, ran, pin, pout):
    for k in range(done.shape[0]):
        for u, pe in enumerate(pes):
            phases = {PHASES[p]: float(cycles[k, u, p]) for p in range(len(PHASES)) if ran[k, u, p]}
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
