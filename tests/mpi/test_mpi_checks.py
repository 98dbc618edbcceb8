"""The split's run-time checks, on one rank (mpi4py's singleton world): what the windows cannot
reproduce stops the run with one line instead of giving different results."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hw"))
pytest.importorskip("mpi4py", reason="MPI tests need mpi4py: pip install -e '.[mpi]'")

from scripted_firmware import Scripted  # noqa: E402  (tests/hw)

from s2sim.hw.board_mpi import MpiBoard, MpiSplitError, chips_of_rank  # noqa: E402
from s2sim.hw.params import HwParams  # noqa: E402


def board(**kw):
    from mpi4py import MPI
    return MpiBoard(HwParams.from_arch("spinnaker2", board_chips_x=2), MPI.COMM_WORLD, **kw)


def test_ranks_take_contiguous_chips_as_even_as_they_divide():
    assert [list(chips_of_rank(48, 5, r)) for r in range(5)][0] == list(range(0, 9))
    sizes = [len(chips_of_rank(48, 5, r)) for r in range(5)]
    assert sizes == [9, 10, 9, 10, 10] and sum(sizes) == 48


def test_interleaved_ranks_take_every_nth_chip():
    parts = [list(chips_of_rank(6, 2, r, "interleaved")) for r in range(2)]
    assert parts == [[0, 2, 4], [1, 3, 5]]


def test_packet_fidelity_and_traces_are_refused():
    with pytest.raises(MpiSplitError, match="noc_fidelity: burst"):
        board(noc_fidelity="packet")
    with pytest.raises(MpiSplitError, match="--trace"):
        board(recorder=object())


def test_a_delivery_inside_its_own_window_stops_the_run():
    machine = board()
    machine.lookahead_ns = 10_000.0  # wider than the fastest packet: a delivery would come too late
    machine.routing.add_multicast(key=0x10000, mask=0xFFFF0000, src_pe=1, dest_pes=[152])
    sender = Scripted(start=lambda c: c.set_timer(1e6), timer=lambda c, t: c.send_mc(0x10000) if t == 0 else None)

    from s2sim.runtime.api import Core, packet_hooks
    from s2sim.runtime.cost import CostModel
    cost = CostModel(machine.p.core_cycles, machine.p.kernel_cycles, machine.p.kernel_cycles_bracket)
    for pe_id, fw in ((1, sender), (152, Scripted())):
        pe = machine.pes[pe_id]
        pe.load(fw, Core(pe, cost), packet_hooks(fw))
    with pytest.raises(MpiSplitError, match="before the ranks exchanged it"):
        machine.run_ticks(1)


def test_records_due_at_one_instant_run_in_the_order_one_process_asked_for_them():
    """A delivery booked early (at an exchange round) for a burst sent at 50 ns runs after what was
    asked for before 50 ns and before what was asked for after it, as when one process books it at 50."""
    import simpy

    from s2sim.hw.board_mpi import OrderedEventQueue
    from s2sim.hw.events import DispatchIfIdle

    env = simpy.Environment()
    ran = []
    queue = OrderedEventQueue(env, {DispatchIfIdle: lambda record: ran.append(record.pe)})
    queue.call_at(100.0, DispatchIfIdle(2), asked=(50.0, 1, 7))  # booked at the round, for a send at 50
    env.run(until=40.0)
    queue.call_at(100.0, DispatchIfIdle(1))  # asked at 40
    env.run(until=60.0)
    queue.call_at(100.0, DispatchIfIdle(3))  # asked at 60
    env.run(until=101.0)
    assert ran == [1, 2, 3]
