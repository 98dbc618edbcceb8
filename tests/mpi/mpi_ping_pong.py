"""A ping from PE 1 (chip 0) to PE 152 (chip 1) and a pong back, on a 2 x 1 board, in one process or
over 2 MPI ranks (chip 0 on rank 0, chip 1 on rank 1); rank 0 prints one JSON line: what the
receiving PEs logged, how the ranks booked and how often they met.

    [mpirun -n 2] python tests/mpi/mpi_ping_pong.py VARIANT

``timer-back``: PE 152's timer sends the pong to PE 2 (chip 0) on tick 1: a tree from rank 1 into
rank 0, so every rank books every burst. ``handler-forward``: PE 152's packet handler sends the pong
to PE 153 (chip 1) at once: a handler that sends, which only the ``window`` exchange orders.
``handler-across``: the ping goes to PE 2 (chip 0), whose handler sends the pong to PE 152 (chip 1),
while PE 153 works 1 µs on tick 0 and then sends to PE 152 too: rank 1 must not book PE 153's burst
before rank 0's handler has sent the pong (both reach PE 152's ejection port).
"""
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO), str(REPO / "tests" / "hw")]

from scripted_firmware import Scripted  # noqa: E402

from s2sim import mpi  # noqa: E402
from s2sim.hw.board import Board  # noqa: E402
from s2sim.hw.board_mpi import MpiBoard, MpiSplitError  # noqa: E402
from s2sim.hw.params import HwParams  # noqa: E402
from s2sim.runtime.api import Core, packet_hooks  # noqa: E402
from s2sim.runtime.cost import CostModel  # noqa: E402

PING, PONG = 0x10000, 0x20000


def main() -> None:
    variant = sys.argv[1]
    p = HwParams.from_arch("spinnaker2", board_chips_x=2)
    comm = mpi.world()
    machine = MpiBoard(p, comm, kernel="fast") if comm is not None else Board(p, kernel="fast")
    back, across = variant == "timer-back", variant == "handler-across"
    ponger, pong_to = (2, 152) if across else (152, 2 if back else 153)
    machine.routing.add_multicast(key=PING, mask=0xFFFF0000, src_pe=1, dest_pes=[ponger])
    machine.routing.add_multicast(key=PONG, mask=0xFFFF0000, src_pe=ponger, dest_pes=[pong_to])
    ping = Scripted(start=lambda c: c.set_timer(1e6), timer=lambda c, t: c.send_mc(PING) if t == 0 else None)
    if back:
        pong = Scripted(start=lambda c: c.set_timer(1e6), timer=lambda c, t: c.send_mc(PONG) if t == 1 else None)
    else:
        pong = Scripted(packet=lambda c, key, payload: c.send_mc(PONG))
    programs = {1: ping, ponger: pong, pong_to: Scripted()}
    if across:
        def work_then_send(core, tick):
            if tick == 0:
                core.charge_cycles("work", 1000 / machine.pes[153].ns_per_cycle)
                core.send_mc(0x30000)
        machine.routing.add_multicast(key=0x30000, mask=0xFFFF0000, src_pe=153, dest_pes=[152])
        programs[153] = Scripted(start=lambda c: c.set_timer(1e6), timer=work_then_send)
    cost = CostModel(p.core_cycles, p.kernel_cycles, p.kernel_cycles_bracket)
    owns = getattr(machine, "owns", lambda pe: True)
    for pe_id, fw in programs.items():
        if owns(pe_id):
            pe = machine.pes[pe_id]
            pe.load(fw, Core(pe, cost), packet_hooks(fw))
    try:
        machine.run_ticks(3)
    except MpiSplitError as err:  # every rank stops with the same line: rank 0 prints it (two would interleave)
        if comm is None or comm.Get_rank() == 0:
            print(json.dumps({"error": str(err)}), flush=True)
        return
    logs = {pe: programs[pe].log for pe in (ponger, pong_to) if owns(pe)}
    if comm is not None:
        logs = {pe: log for part in comm.gather(logs, root=0) or [] for pe, log in part.items()}
        if comm.Get_rank() != 0:
            return
    print(json.dumps({"logs": {str(pe): log for pe, log in sorted(logs.items())},
                      "booking": getattr(machine, "booking", None), "windows": getattr(machine, "windows", 0)}))


if __name__ == "__main__":
    main()
