"""The exchange rounds of a board split over ranks, on one rank (mpi4py's singleton world): a packet
handler that sends is what the once-per-timer-phase exchange (``tick``) cannot order, so it stops with
one line; the ``window`` exchange, which counts every body as one that may send, reproduces one process."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hw"))
pytest.importorskip("mpi4py", reason="MPI tests need mpi4py: pip install -e '.[mpi]'")

from scripted_firmware import Scripted  # noqa: E402  (tests/hw)

from s2sim.hw.board import Board  # noqa: E402
from s2sim.hw.board_mpi import MpiBoard, MpiSplitError  # noqa: E402
from s2sim.hw.params import HwParams  # noqa: E402
from s2sim.runtime.api import Core, packet_hooks  # noqa: E402
from s2sim.runtime.cost import CostModel  # noqa: E402

PING, PONG = 0x10000, 0x20000


LATE = 0x30000


def ping_pong(machine, late_sender: bool = False):
    """PE 1 (chip 0) sends a ping to PE 152 (chip 1) on tick 0; PE 152's packet handler answers at once
    with a pong to PE 2 (chip 0), which logs when it arrives. ``late_sender``: PE 3 also works 10 µs on
    tick 0 before it sends to PE 4, so its burst is booked before the pong is sent, though sent after it."""
    machine.routing.add_multicast(key=PING, mask=0xFFFF0000, src_pe=1, dest_pes=[152])
    machine.routing.add_multicast(key=PONG, mask=0xFFFF0000, src_pe=152, dest_pes=[2])
    programs = {1: Scripted(start=lambda c: c.set_timer(1e6), timer=lambda c, t: c.send_mc(PING) if t == 0 else None),
                152: Scripted(packet=lambda c, key, payload: c.send_mc(PONG)),
                2: Scripted()}
    if late_sender:
        def work_then_send(core, tick):
            if tick == 0:
                core.charge_cycles("work", 10_000 / machine.pes[3].ns_per_cycle)
                core.send_mc(LATE)
        machine.routing.add_multicast(key=LATE, mask=0xFFFF0000, src_pe=3, dest_pes=[4])
        programs.update({3: Scripted(start=lambda c: c.set_timer(1e6), timer=work_then_send), 4: Scripted()})
    cost = CostModel(machine.p.core_cycles, machine.p.kernel_cycles, machine.p.kernel_cycles_bracket)
    for pe_id, fw in programs.items():
        pe = machine.pes[pe_id]
        pe.load(fw, Core(pe, cost), packet_hooks(fw))
    machine.run_ticks(2)
    return programs[2].log


def split_board(monkeypatch, exchange):
    from mpi4py import MPI
    monkeypatch.setenv("S2SIM_MPI_EXCHANGE", exchange)
    return MpiBoard(HwParams.from_arch("spinnaker2", board_chips_x=2), MPI.COMM_WORLD, kernel="fast")


def test_a_handler_that_sends_stops_the_tick_exchange_with_one_line(monkeypatch):
    with pytest.raises(MpiSplitError, match="S2SIM_MPI_EXCHANGE=window") as err:
        ping_pong(split_board(monkeypatch, "tick"))
    assert "\n" not in str(err.value)


def test_a_handler_sending_before_a_burst_already_booked_stops_the_run_with_one_line(monkeypatch):
    with pytest.raises(MpiSplitError, match="after the ranks had booked the bursts up to") as err:
        ping_pong(split_board(monkeypatch, "tick"), late_sender=True)
    assert "\n" not in str(err.value) and "S2SIM_MPI_EXCHANGE=window" in str(err.value)


def test_the_window_exchange_orders_a_handler_that_sends_as_one_process(monkeypatch):
    one = ping_pong(Board(HwParams.from_arch("spinnaker2", board_chips_x=2), kernel="fast"))
    split = split_board(monkeypatch, "window")
    assert ping_pong(split) == one and [what for what, *_ in one] == ["packet"]
    one_late = ping_pong(Board(HwParams.from_arch("spinnaker2", board_chips_x=2), kernel="fast"), late_sender=True)
    assert ping_pong(split_board(monkeypatch, "window"), late_sender=True) == one_late == one
    assert split.windows > 2  # it synchronised around the delivery, not once per tick


def test_an_unknown_exchange_is_a_config_error(monkeypatch):
    from s2sim.config.errors import ConfigError
    with pytest.raises(ConfigError, match="S2SIM_MPI_EXCHANGE"):
        split_board(monkeypatch, "sometimes")
