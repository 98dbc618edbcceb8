"""Links and DRAM channels are shared in simulated-time order: whoever sends (or reaches the DRAM
controller) first goes first, whichever PE's callback body Python happened to run first.

Times use the round numbers of the ``hw`` fixture (10 ns per core cycle, 10 ns injection, ejection and
serialisation, 50 ns per hop; DMA setup 100 ns, 1 B/ns per DRAM channel)."""
from dataclasses import replace

import numpy as np
import pytest

from scripted_firmware import Scripted, sender
from s2sim.sim import Simulation


def reader(buffer, count, work_cycles):
    """Works ``work_cycles`` on tick 0, then DMA-reads ``count`` floats of ``buffer``."""
    dst = np.zeros(count, np.float32)
    return Scripted(start=lambda c: c.set_timer(100_000.0),
                    timer=lambda c, t: (c.charge_cycles("work", work_cycles),
                                        c.dma_read(1, buffer, 0, count, dst)) if t == 0 else None)


def packet_arrivals(fw):
    return {key: t for what, key, t in fw.log if what == "packet"}


def dma_done(fw):
    return [t for what, _tag, t in fw.log if what == "dma"]


def run(sim, firmwares, order, buffers=()):
    """Store ``buffers`` in DRAM, load ``firmwares`` ({pe: fw}) in ``order`` and run one tick."""
    for name, n in buffers:
        sim.store_dram(name, np.zeros(n, np.float32))
    for pe in order:
        sim.load(pe, firmwares[pe])
    sim.run_ticks(1)
    return sim


@pytest.mark.parametrize("fidelity", ["burst", "packet"])
def test_a_packet_sent_first_is_not_delayed_by_one_sent_later_whatever_the_load_order(make_sim, fidelity):
    # PE 0 works 10 us before sending; PE 1 sends at once. Both cross the link east of QPE 0 to PE 4.
    for order in ([0, 1, 4], [1, 0, 4], [4, 1, 0]):
        fws = {0: sender(0x100, 1000), 1: sender(0x200, 0), 4: Scripted()}
        sim = make_sim(fidelity)
        for src, key in ((0, 0x100), (1, 0x200)):
            sim.chip.noc.add_multicast(key=key, mask=0xFFFFFF00, src_pe=src, dest_pes=[4])
        for pe in order:
            sim.load(pe, fws[pe])
        sim.run_ticks(1)
        # alone on an idle mesh: 10 inject + 50 hop + 10 eject + 10 serialisation = 80 ns after the send
        assert packet_arrivals(fws[4]) == {0x200: 80.0, 0x100: 10_000.0 + 80.0}, order


@pytest.mark.parametrize("fidelity", ["burst", "packet"])
def test_two_pes_contending_for_one_link_go_in_send_order(make_sim, fidelity):
    # PE 1 sends 3 packets at t=0; PE 0 (loaded first) sends one at 10 ns, while PE 1's train still
    # holds the link east of QPE 0 (10..40 ns): PE 0's packet waits for it and for PE 4's ejection port.
    fws = {0: sender(0x100, 1), 1: sender(0x200, 0, n_packets=3), 4: Scripted()}
    sim = make_sim(fidelity)
    for src, key in ((0, 0x100), (1, 0x200)):
        sim.chip.noc.add_multicast(key=key, mask=0xFFFFFF00, src_pe=src, dest_pes=[4])
    for pe in (0, 1, 4):
        sim.load(pe, fws[pe])
    sim.run_ticks(1)
    # PE 1: link 10..40 ns, at QPE 1 from 60 ns, ejected 60..90 ns -> arrivals 80, 90, 100.
    # PE 0: injected 10..20 ns, link free at 40 ns -> at QPE 1 at 90 ns, ejection free at 90 -> 110.
    assert packet_arrivals(fws[4]) == {0x200: 80.0, 0x201: 90.0, 0x202: 100.0, 0x100: 110.0}


def test_a_dma_issued_first_is_not_delayed_by_one_issued_later_whatever_the_load_order(make_sim):
    # PE 0 works 10 us before its DMA; PE 1 reads at once; both read the same buffer (one channel).
    for order in ([0, 1], [1, 0]):
        fws = {0: reader("x", 500, 1000), 1: reader("x", 500, 0)}
        run(make_sim(), fws, order, buffers=[("x", 1000)])
        # 40 ns issue + 100 ns setup + 2000 B at 1 B/ns
        assert dma_done(fws[1]) == [2140.0], order
        assert dma_done(fws[0]) == [10_000.0 + 2140.0], order


def test_two_pes_contending_for_one_dram_channel_go_in_request_order(make_sim):
    # PE 0 (loaded first) reaches the channel at 1140 ns, PE 1 at 140 ns: PE 1 holds it 140..2140 ns.
    fws = {0: reader("x", 500, 100), 1: reader("x", 500, 0)}
    run(make_sim(), fws, [0, 1], buffers=[("x", 1000)])
    assert dma_done(fws[1]) == [2140.0]
    assert dma_done(fws[0]) == [2140.0 + 2000.0]


def test_both_dram_channels_serve_in_parallel_with_latency(hw):
    # "a" fills the first 4096 B interleave block (channel 0), "b" starts the next (channel 1).
    # On each channel a late reader is loaded before an early one; latency 500 ns.
    fws = {0: reader("a", 500, 100), 1: reader("a", 500, 0), 2: reader("b", 500, 100), 3: reader("b", 500, 0)}
    sim = run(Simulation(replace(hw, dram_latency_ns=500.0)), fws, [0, 2, 1, 3],
              buffers=[("a", 1024), ("b", 1024)])
    dram = sim.chip.dram
    assert [dram.channel_of(dram.buffers[b].address) for b in ("a", "b")] == [0, 1]
    # early reader: request at 140 ns, data from 140 + 500 = 640 ns for 2000 ns -> 2640 ns
    # late reader: request at 1140 ns, data from max(1140 + 500, 2640) = 2640 ns -> 4640 ns
    for early, late in ((1, 0), (3, 2)):
        assert dma_done(fws[early]) == [2640.0]
        assert dma_done(fws[late]) == [4640.0]


def test_a_transfer_crossing_interleave_blocks_uses_both_channels_at_once(make_sim):
    # 8192 B from the start of "x": the first 4096 B block is on channel 0, the second on channel 1.
    # Both halves move in parallel at 1 B/ns from the request at 140 ns (one channel alone: 8332 ns).
    fws = {0: reader("x", 2048, 0)}
    run(make_sim(), fws, [0], buffers=[("x", 2048)])
    assert dma_done(fws[0]) == [140.0 + 4096.0]


def test_a_transfer_crossing_a_block_waits_for_the_busier_channel(make_sim):
    # Both request at 140 ns; same-instant requests go in PE order. PE 0 reads 2000 B from the start
    # of "x" (channel 0 busy 140..2140 ns). PE 1 reads 4096 B from byte 2048: 2048 B on channel 0 (queued
    # behind PE 0 until 2140 -> 4188 ns) and 2048 B on channel 1 (140 -> 2188 ns). PE 1's transfer is
    # done when its last piece is: 4188 ns.
    dst = np.zeros(1024, np.float32)
    offset_reader = Scripted(start=lambda c: c.set_timer(100_000.0),
                             timer=lambda c, t: c.dma_read(1, "x", 512, 1024, dst) if t == 0 else None)
    fws = {0: reader("x", 500, 0), 1: offset_reader}
    run(make_sim(), fws, [1, 0], buffers=[("x", 2048)])
    assert dma_done(fws[0]) == [2140.0]
    assert dma_done(fws[1]) == [2140.0 + 2048.0]


@pytest.mark.parametrize("fidelity", ["burst", "packet"])
def test_sends_separated_by_work_are_not_one_burst(make_sim, fidelity):
    # PE 0 sends at 0, works 1 us, sends again at 1 us on the same tree; PE 1 sends at 1 us too.
    # Booked as one burst at t=0, PE 0's second packet would hold no link at 1 us and reach PE 4's
    # ejection port together with PE 1's. As two send loops, same-instant sends go in PE order.
    def twice(core, tick):
        if tick == 0:
            core.send_mc(0x100)
            core.charge_cycles("work", 100)
            core.send_mc(0x101)
    fws = {0: Scripted(start=lambda c: c.set_timer(100_000.0), timer=twice), 1: sender(0x200, 100),
           4: Scripted()}
    sim = make_sim(fidelity)
    for src, key in ((0, 0x100), (1, 0x200)):
        sim.chip.noc.add_multicast(key=key, mask=0xFFFFFF00, src_pe=src, dest_pes=[4])
    run(sim, fws, [1, 0, 4])
    assert packet_arrivals(fws[4]) == {0x100: 80.0, 0x101: 1080.0, 0x200: 1090.0}
