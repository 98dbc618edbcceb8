"""``TickStats`` keeps a column only for PEs that recorded something; readers still get [timestep, PE]
arrays over every PE of the chip, with what each PE recorded in its own column."""
import numpy as np

from s2sim.hw.tickstats import TickStats

N_PES = 152
PHASES = ["neuron", "comms"]


def record(stats, expected, row, pe, done, cycles, pin=0, pout=0):
    """One ``add_row``, and what a dense [timestep, PE] table should hold after it."""
    stats.add_row(row, pe, done, dict(zip(PHASES, cycles)), pin, pout, "nominal")
    expected["done"][row, pe] = max(expected["done"][row, pe], done)
    expected["busy"][row, pe] += sum(cycles)
    for phase, c in zip(PHASES, cycles):
        expected[phase][row, pe] += c
    expected["in"][row, pe] += pin


def test_eighteen_scattered_pes_read_back_in_their_own_columns_past_the_first_columns_width():
    stats = TickStats(N_PES)
    expected = {name: np.zeros((300, N_PES)) for name in ("done", "busy", "in", *PHASES)}
    pes = [151, 3, 77, *range(100, 115)]  # 18 PEs, in no order: the stores widen past 16 columns
    rng = np.random.default_rng(1)
    for row in range(0, 200, 7):
        for pe in pes[: 2 + row // 12]:  # more PEs join as the run goes on (rows grow too)
            record(stats, expected, row, pe, float(rng.integers(1, 1000)), [float(rng.integers(0, 50)), 3.0],
                   int(rng.integers(0, 4)))
        record(stats, expected, row, pes[0], 5.0, [1.0, 1.0])  # a second record of a cell: merged
        assert stats.n_rows == row + 1  # (reading merges the records: the stores grow with data in them)
    n = stats.n_rows
    assert n == 197
    np.testing.assert_array_equal(stats.time_done_ns[:n], expected["done"][:n])
    np.testing.assert_array_equal(stats.busy_cycles[:n], expected["busy"][:n])
    np.testing.assert_array_equal(stats.packets_in[:n], expected["in"][:n])
    for phase in PHASES:
        np.testing.assert_array_equal(stats.phase_cycles[phase][:n], expected[phase][:n])
    assert stats.time_done_ns.shape[1] == N_PES
    idle = [pe for pe in range(N_PES) if pe not in pes]
    assert (stats.level_of[:n][:, idle] == -1).all() and (stats.level_of[:n][:, pes[:2]] >= 0).any()
    assert stats.cell("busy_cycles", 196, 114) == expected["busy"][196, 114] > 0
    assert stats.cell("time_done_ns", 196, 5) == 0.0  # a PE that recorded nothing


def test_arrays_read_before_a_write_are_not_what_is_read_after_it():
    stats = TickStats(N_PES)
    stats.add_row(0, 9, 100.0, {"neuron": 10.0}, 0, 0)
    assert stats.busy_cycles[0, 9] == 10.0
    done = np.full((2, 2), 50.0)
    cycles, ran = np.ones((2, 2, 1)), np.ones((2, 2, 1), bool)
    stats.add_block(1, [9, 40], ["", ""], ["neuron"], done, cycles, ran, np.ones((2, 2), int), np.zeros((2, 2), int))
    assert stats.busy_cycles[2, 40] == 1.0 and stats.packets_in[1, 9] == 1
    assert stats.cell("time_done_ns", 2, 40) == 50.0


def test_columns_moved_to_another_process_read_back_the_same():
    a, b = TickStats(N_PES), TickStats(N_PES)
    for row in range(5):
        a.add_row(row, 30, 10.0 * row, {"neuron": float(row)}, 1, 2, "nominal")
        a.add_row(row, 120, 20.0 * row, {"comms": 2.0}, 0, 1, "low")
        b.add_row(row, 7, 1.0, {"neuron": 1.0}, 0, 0, "nominal")
    b.import_columns(a.export_columns([30, 120]))
    for name in ("time_done_ns", "busy_cycles", "packets_in", "packets_out"):
        np.testing.assert_array_equal(getattr(b, name)[:5][:, [30, 120]], getattr(a, name)[:5][:, [30, 120]])
    assert b.busy_cycles[3, 7] == 1.0  # b's own column kept
    assert [b.level_names[i] for i in b.level_of[:5, 120]] == ["low"] * 5
    assert b.phase_totals(120) == a.phase_totals(120) == {"comms": 10.0}
