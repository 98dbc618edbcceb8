"""The counted kernel on a board of chips: chip links (their rate, latency, contention and load
counters, ``BoardNoC.reserve``) and the sparse row index in the compiled loop, the same bits as the
exact kernel; a board split over MPI ranks stays on the event-driven kernel.

Each story runs one LIF network on the exact and the counted kernel and compares every timing result
(per-tick records, counters, energy), the rasters, and the board's chip-link records.
"""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_counted_kernel import SMALL, SOMETIMES_OVERRUNS, assert_same_run, run  # noqa: E402

from s2sim.hw.board_noc import BoardNoC  # noqa: E402

ACTIVE = SMALL + ["network.input_rate_hz=200", "network.weight_mean=0.3"]
TWO_CHIPS = ["arch.board.chips_x=2", "mapping.pes_per_chip=4"]
FOUR_CHIPS = ["arch.board.chips_x=2", "arch.board.chips_y=2", "mapping.pes_per_chip=2"]
#: chip links 60x slower than the spec's (960 ns per packet, not 16 ns): bursts queue for them
NARROW_LINKS = ["arch.board.link_bandwidth_gbit_s=0.1"]


def board_records(sim) -> dict:
    """What the board keeps beyond one chip's records: chip-link loads, crossings, hops."""
    noc, c = sim.machine.noc, sim.machine.counters
    return {"load": sim.machine.link_load(), "busy_until": dict(sorted(noc.link_busy_until_ns.items())),
            "link_free": dict(sorted((str(k), v) for k, v in noc.link_free_ns.items())),
            "machine": {name: getattr(c, name) for name in ("packet_hops", "packets_routed", "copies_sent",
                                                            "deliveries", "dropped_packets")}}


def assert_same_board_run(exact, counted):
    assert_same_run(exact, counted)
    assert board_records(exact[2]) == board_records(counted[2])


def counted_ticks(result) -> dict:
    return result[2].machine.kernel_report()["counted_ticks"]


@pytest.mark.parametrize("chips, links", [(TWO_CHIPS, 1), (FOUR_CHIPS, 3)], ids=["2 chips", "4 chips"])
def test_a_board_is_counted_whole_with_the_exact_kernels_links_records_and_energy(chips, links):
    exact = run("exact", ACTIVE + chips, 24)
    counted = run("counted", ACTIVE + chips, 24, window_ticks=8)
    assert counted[2].machine.n_chips == len(exact[2].machine.drams) > 1
    assert_same_board_run(exact, counted)
    assert counted_ticks(counted) == {"counted": 24, "event_driven": 0}
    load = counted[2].machine.link_load()
    assert load["crossings"] > 100 and len(load["links"]) >= links  # spikes did cross chips (feed-forward)
    assert counted[0]["energy_j"]["chip_links"] > 0


def test_narrow_chip_links_make_bursts_wait_for_each_other_as_on_the_event_driven_kernel(monkeypatch):
    bookings = []  # (link, start, end) of every chip-link booking of the exact run
    count_link = BoardNoC._count_link

    def record(self, link, start_ns, n_packets, end_ns):
        bookings.append((link, start_ns, end_ns))
        count_link(self, link, start_ns, n_packets, end_ns)

    monkeypatch.setattr(BoardNoC, "_count_link", record)
    sets = ACTIVE + TWO_CHIPS + NARROW_LINKS + ["arch.pe.tx_queue_size=64"]  # (the send loops never stall)
    exact = run("exact", sets, 24)
    monkeypatch.setattr(BoardNoC, "_count_link", count_link)
    counted = run("counted", sets, 24, window_ticks=8)
    assert_same_board_run(exact, counted)
    assert counted_ticks(counted)["counted"] == 24
    ends = {}
    queued = 0  # bookings that started the instant the one before them on that link ended: they waited
    for link, start, end in bookings:
        queued += ends.get(link) == start
        ends[link] = end
    assert queued > 10


def test_a_fallback_in_the_middle_of_a_window_on_a_board_commits_the_ticks_before_it():
    sets = SOMETIMES_OVERRUNS + ["arch.board.chips_x=2", "mapping.pes_per_chip=4"]
    exact = run("exact", sets, 40)
    counted = run("counted", sets, 40, window_ticks=8)
    assert_same_board_run(exact, counted)
    assert sum(pe["counters"]["timer_overruns"] for pe in exact[0]["pe"].values()) > 0
    report = counted[2].machine.kernel_report()
    assert report["counted_ticks"]["counted"] > 0 and report["counted_ticks"]["event_driven"] > 0
    assert report["counted_windows"]["cut_short"] > 0
    assert counted[2].machine.link_load()["crossings"] > 0


@pytest.mark.parametrize("chips", [[], FOUR_CHIPS], ids=["1 chip", "4 chips"])
def test_a_sparse_row_index_is_counted_with_the_exact_kernels_bits(chips):
    # lif_board48's layout: each PE finds a packet's row by binary search over the rows it holds
    sparse = ACTIVE + chips + ["mapping.row_index=sparse", "network.p_connect=0.05"]
    exact, counted = run("exact", sparse, 20), run("counted", sparse, 20, window_ticks=8)
    assert exact[2].machine.pes[exact[2].used_pes[-1]].firmware.row_keys is not None
    assert_same_board_run(exact, counted) if chips else assert_same_run(exact, counted)
    assert counted_ticks(counted) == {"counted": 20, "event_driven": 0}
    totals = {ph: sum(pe["phase_totals"].get(ph, 0.0) for pe in counted[0]["pe"].values()) for ph in ("synapses",)}
    assert totals["synapses"] > 0 and all(layer.sum() > 0 for layer in counted[1])


def test_a_board_split_over_mpi_ranks_is_never_counted():
    from s2sim.counted.engine import CountedEngine
    _, _, sim = run("counted", SMALL + TWO_CHIPS, 1)
    engine = CountedEngine(sim.machine)
    sim.machine.comm = object()  # what ``MpiBoard`` has (its own windows, ranks exchanging bursts)
    assert engine._model_for_run() is None
    assert engine.summary()["counted_fallbacks"] == {"not counted: a board split over MPI ranks": 1}
