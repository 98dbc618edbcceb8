"""A board of chips: the 48-chip layout, packets crossing chip links (latency, rate, contention in
simulated-time order), multicast trees spanning chips, per-chip DRAM and energy."""
import dataclasses

import numpy as np
import pytest
from scripted_firmware import Scripted

from s2sim.energy import energy_breakdown_j
from s2sim.hw.board import Board
from s2sim.hw.board_layout import BoardLayout
from s2sim.hw.chip import Chip
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation


def board_hw(hw, chips_x=2, chips_y=1, topology="hex_torus"):
    """The round-number chip of ``conftest.hw`` on a board: 100 ns chip links at 6 Gbit/s (96-bit
    packets: 16 ns each), 480 pJ per packet per link."""
    return dataclasses.replace(hw, board_chips_x=chips_x, board_chips_y=chips_y, board_topology=topology,
                               board_link_latency_ns=100.0, board_link_bandwidth_gbit_s=6.0,
                               board_link_packet_bits=96, board_link_energy_per_packet_pj=480.0)


def arrivals(fw):
    return [t for what, _k, t in fw.log if what == "packet"]


def hops(a, b):
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def test_the_48_chip_board_is_a_hex_torus_with_six_links_per_chip():
    p = HwParams.from_arch("spinnaker2", board_chips_x=8, board_chips_y=6)
    layout = BoardLayout(p)
    assert p.n_chips == 48 and p.n_pes == 48 * 152
    assert all(len(set(layout.neighbours(c))) == 6 for c in range(48))
    assert len(layout.links()) == 48 * 6
    # every link is bidirectional, and a path walks over links only
    links = set(layout.links())
    assert all((b, a) in links for a, b in links)
    for a, b in ((0, 47), (5, 40), (17, 30)):
        path = layout.path(a, b)
        assert path[0] == a and path[-1] == b
        assert all((x, y) in links for x, y in zip(path, path[1:]))
    # wrap-around: the chip at x = 7 is one link west of the chip at x = 0
    assert layout.distance(0, 7) == 1
    # the farthest chip on an 8 x 6 triangular torus is 4 links away (x and y both half way round)
    assert max(layout.distance(0, c) for c in range(48)) == 4


def test_a_mesh_board_has_no_wrap_around():
    p = HwParams.from_arch("spinnaker2", board_chips_x=4, board_chips_y=2, board_topology="mesh")
    layout = BoardLayout(p)
    assert layout.distance(0, 3) == 3
    assert sorted(layout.neighbours(0)) == [1, 4]


def test_one_chip_stays_a_chip():
    sim = Simulation(HwParams.from_arch("spinnaker2"))
    assert type(sim.machine) is Chip
    assert "chip_links" not in energy_breakdown_j(sim.machine, 1e6)


def test_a_packet_to_the_next_chip_crosses_the_link_after_the_gateway(hw):
    p = board_hw(hw)
    sim = Simulation(p, noc_fidelity="packet")
    assert isinstance(sim.machine, Board)
    src, dst = 0, 152  # PE 0 of chip 0 and PE 0 of chip 1: QPE 0 at (0, 0) on both
    sim.machine.routing.add_multicast(key=0x100, mask=0xFFFFFF00, src_pe=src, dest_pes=[dst])
    sender = Scripted(start=lambda c: c.set_timer(1000.0), timer=lambda c, t: c.send_mc(0x100) if t == 0 else None)
    rx = Scripted()
    sim.load(src, sender), sim.load(dst, rx)
    sim.run_ticks(1)
    gateway = tuple(p.missing_routers[0])  # the event router at the centre of each chip
    mesh_hops = hops((0, 0), gateway) + hops(gateway, (0, 0))
    # inject 10 + mesh hops x 50 + link (16 ns on the wire + 100 ns latency) + eject 10 + serialisation 10
    assert arrivals(rx) == [10 + mesh_hops * 50 + 116 + 10 + 10]
    assert sim.machine.link_load()["links"] == {(0, 1): 1}


def test_bursts_from_two_pes_share_the_chip_link_in_simulated_time_order(hw):
    sim = Simulation(board_hw(hw), noc_fidelity="burst")
    gateway = tuple(sim.hw.missing_routers[0])
    for src, key in ((0, 0x100), (1, 0x200)):  # both on QPE 0 of chip 0
        sim.machine.routing.add_multicast(key=key, mask=0xFFFFFF00, src_pe=src, dest_pes=[152 + 4])
    s0 = Scripted(start=lambda c: c.set_timer(1000.0),
                  timer=lambda c, t: [c.send_mc(0x100 + i) for i in range(10)] if t == 0 else None)
    s1 = Scripted(start=lambda c: c.set_timer(1000.0),
                  timer=lambda c, t: [c.send_mc(0x200 + i) for i in range(10)] if t == 0 else None)
    rx = Scripted()
    sim.load(0, s0), sim.load(1, s1), sim.load(156, rx)
    sim.run_ticks(1)
    got = sorted(arrivals(rx))
    assert len(got) == 20
    alone_first = 10 + (hops((0, 0), gateway) + hops(gateway, (1, 0))) * 50 + 116 + 10 + 10
    assert got[0] == pytest.approx(alone_first)
    # the link carries one packet per 16 ns: the 20 packets arrive 16 ns apart, the second burst
    # waiting until the first has left the link (its packets, not the faster on-chip links, set the pace)
    assert np.diff(got) == pytest.approx([16.0] * 19)
    assert sim.machine.link_load()["links"] == {(0, 1): 20}


def test_a_multicast_tree_spans_chips_and_the_links_cost_energy(hw):
    p = board_hw(hw, chips_x=4, chips_y=1)
    sim = Simulation(p, noc_fidelity="burst")
    dests = [4, 152 + 4, 2 * 152 + 4, 3 * 152 + 4]  # one PE on each chip
    sim.machine.routing.add_multicast(key=0x100, mask=0xFFFFFF00, src_pe=0, dest_pes=dests)
    fw = Scripted(start=lambda c: c.set_timer(1000.0),
                  timer=lambda c, t: [c.send_mc(0x100 + i) for i in range(3)] if t == 0 else None)
    rxs = {d: Scripted() for d in dests}
    sim.load(0, fw)
    for d, r in rxs.items():
        sim.load(d, r)
    sim.run_ticks(1)
    assert all(len(arrivals(r)) == 3 for r in rxs.values())
    # on the 4 x 1 torus chip 3 is one link west of chip 0, chip 2 two links either way (east first)
    load = sim.machine.link_load()
    assert load["links"] == {(0, 1): 3, (0, 3): 3, (1, 2): 3}
    assert load["crossings"] == 9
    energy = energy_breakdown_j(sim.machine, sim.env.now)
    assert energy["chip_links"] == pytest.approx(9 * 480e-12)
    one = energy_breakdown_j(Simulation(hw).machine, sim.env.now)
    assert energy["chip_baseline"] == pytest.approx(4 * one["chip_baseline"])  # every chip's baseline power
    assert energy["dram_background"] == pytest.approx(4 * one["dram_background"])


def test_each_chip_has_its_own_dram(hw):
    sim = Simulation(board_hw(hw))
    board = sim.machine
    sim.store_dram("weights", np.arange(4, dtype=np.float32))
    assert board.dmas[0].dram is board.drams[0] and board.dmas[152].dram is board.drams[1]
    assert all("weights" in d.buffers for d in board.drams)
    board.dmas[152].dram.reserve(0, 4096, 0.0)  # chip 1's channel busy does not delay chip 0's
    assert board.drams[0].channel_free_ns == [0.0, 0.0]
