import pytest

from s2sim.hw.params import HwParams, PerfLevel
from s2sim.sim import Simulation


@pytest.fixture
def hw():
    """The SpiNNaker2 arch file with round numbers where tests compute expectations by hand:
    100 MHz core (10 ns/cycle), NoC at 100 MHz (10 ns/cycle), 5-cycle hops (50 ns), 1-flit packets
    (10 ns serialisation), 1-cycle injection and ejection (10 ns each), no interrupt or send overhead,
    a 10-cycle DMA setup, a 4-cycle DMA issue cost, and 2 DRAM channels of 1 byte/ns with no latency."""
    return HwParams.from_arch(
        "spinnaker2",
        perf_levels=(PerfLevel("pl", 100.0, 0.8, 10.0, 1.0),), default_perf_level="pl",
        noc_clock_mhz=100.0, hop_latency_cycles=5, injection_cycles=1, ejection_cycles=1,
        link_width_bits=192, packet_bits=96,
        irq_entry_cycles=0, irq_exit_cycles=0, send_packet_cycles=0, dma_issue_cycles=4,
        dma_setup_cycles=10, dram_total_bandwidth_gb_s=2.0, dram_channels=2, dram_latency_ns=0.0,
        dram_interleave_bytes=4096,
    )


@pytest.fixture
def make_sim(hw):
    def make(fidelity="burst", **kw):
        return Simulation(hw, noc_fidelity=fidelity, **kw)
    return make
