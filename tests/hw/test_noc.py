"""Packets on an idle mesh arrive after injection + hops x hop latency + ejection + serialisation;
packets that want the same link at once leave it one after the other."""
from scripted_firmware import Scripted


def arrivals(fw):
    return [t for what, _k, t in fw.log if what == "packet"]


def test_packet_latency_over_n_hops_on_idle_mesh(make_sim, hw):
    sim = make_sim("packet")
    src, dst = 0, 4 * 3  # QPE 0 at (0,0) -> QPE 3 at (3,0): 3 hops east
    assert sim.chip.noc.mesh.hops(src, dst) == 3
    sim.chip.noc.add_multicast(key=0x100, mask=0xFFFFFF00, src_pe=src, dest_pes=[dst])
    sender = Scripted(start=lambda c: c.set_timer(1000.0),
                      timer=lambda c, t: c.send_mc(0x100) if t == 0 else None)
    receiver = Scripted()
    sim.load(src, sender)
    sim.load(dst, receiver)
    sim.run_ticks(1)
    # inject 10 + 3 hops x 50 + eject 10 + serialisation 10 = 180 ns after the send at t=0
    assert arrivals(receiver) == [180.0]


def test_two_packets_contending_for_one_link_serialise(make_sim):
    sim = make_sim("packet")
    # PEs 0 and 1 share QPE 0's router; both send east to QPE 1 at the same instant.
    for src, key in ((0, 0x100), (1, 0x200)):
        sim.chip.noc.add_multicast(key=key, mask=0xFFFFFF00, src_pe=src, dest_pes=[4])
    s0 = Scripted(start=lambda c: c.set_timer(1000.0), timer=lambda c, t: c.send_mc(0x100) if t == 0 else None)
    s1 = Scripted(start=lambda c: c.set_timer(1000.0), timer=lambda c, t: c.send_mc(0x201) if t == 0 else None)
    rx = Scripted()
    sim.load(0, s0), sim.load(1, s1), sim.load(4, rx)
    sim.run_ticks(1)
    # alone: 10 + 50 + 10 + 10 = 80 ns; the second waits one serialisation (10 ns) on the shared link
    assert sorted(arrivals(rx)) == [80.0, 90.0]


def test_routing_table_miss_is_counted_as_dropped(make_sim):
    sim = make_sim("packet")
    sim.chip.noc.add_multicast(key=0x100, mask=0xFFFFFF00, src_pe=0, dest_pes=[4])
    fw = Scripted(start=lambda c: c.set_timer(1000.0),
                  timer=lambda c, t: (c.send_mc(0x100), c.send_mc(0x999)) if t == 0 else None)
    rx = Scripted()
    sim.load(0, fw), sim.load(4, rx)
    sim.run_ticks(1)
    assert len(arrivals(rx)) == 1
    assert sim.machine.counters.dropped_packets == 1


def test_multicast_reaches_every_destination_once(make_sim):
    sim = make_sim("burst")
    dests = [4, 8, 25, 100]
    sim.chip.noc.add_multicast(key=0x100, mask=0xFFFFFF00, src_pe=0, dest_pes=dests)
    fw = Scripted(start=lambda c: c.set_timer(1000.0),
                  timer=lambda c, t: [c.send_mc(0x100 + i) for i in range(3)] if t == 0 else None)
    rxs = {d: Scripted() for d in dests}
    sim.load(0, fw)
    for d, r in rxs.items():
        sim.load(d, r)
    sim.run_ticks(1)
    for d, r in rxs.items():
        keys = [k for what, k, _t in r.log if what == "packet"]
        assert keys == [0x100, 0x101, 0x102], d
