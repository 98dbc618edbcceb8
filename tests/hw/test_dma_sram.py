"""DMA timing over shared DRAM channels, and the SRAM allocator's named overflow error."""
import numpy as np
import pytest

from scripted_firmware import Scripted
from s2sim.hw.sram import SramOverflowError


def test_dma_takes_setup_plus_bytes_over_bandwidth(make_sim):
    sim = make_sim()
    sim.store_dram("x", np.arange(1000, dtype=np.float32))
    dst = np.zeros(1000, np.float32)
    fw = Scripted(start=lambda c: c.set_timer(100_000.0),
                  timer=lambda c, t: c.dma_read(7, "x", 0, 1000, dst) if t == 0 else None)
    sim.load(0, fw)
    sim.run_ticks(1)
    # issue: 4 core cycles (40 ns) of register writes; setup 10 cycles x 10 ns = 100 ns;
    # 4000 B at 1 B/ns per channel (2 GB/s over 2 channels) = 4000 ns
    assert fw.log[-1] == ("dma", 7, 40.0 + 100.0 + 4000.0)
    assert np.array_equal(dst, np.arange(1000, dtype=np.float32))


def test_two_dmas_on_one_channel_share_it(make_sim):
    sim = make_sim()
    sim.store_dram("x", np.zeros(1000, np.float32))  # one buffer -> one channel
    bufs = [np.zeros(500, np.float32) for _ in range(2)]
    fws = [Scripted(start=lambda c: c.set_timer(100_000.0),
                    timer=lambda c, t, b=b: c.dma_read(1, "x", 0, 500, b) if t == 0 else None) for b in bufs]
    sim.load(0, fws[0]), sim.load(1, fws[1])
    sim.run_ticks(1)
    done = sorted(f.log[-1][2] for f in fws)
    # each: 40 ns issue + 100 ns setup + 2000 B / 1 B/ns; the second waits for the channel
    assert done == [2140.0, 4140.0]


def test_sram_overflow_names_pe_region_and_bytes(make_sim, hw):
    sim = make_sim()
    free = hw.sram_bytes - hw.code_reserve_bytes - hw.stack_reserve_bytes
    with pytest.raises(SramOverflowError) as err:
        sim.load(3, Scripted(start=lambda c: c.sram.alloc("weights", free // 4 + 1, np.float32)))
    msg = str(err.value)
    assert "PE 3" in msg and "'weights'" in msg and str(free + 4 - free % 4) in msg and f"{free} B" in msg
