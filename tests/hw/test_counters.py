"""One ``Counters`` record per machine: every part of the hardware counts into it, readers read only it.

Times and routes use the ``hw`` fixture (PEs 0-3 share a router; PE 9 is two routers away).
"""
import numpy as np
import pytest
from scripted_firmware import Scripted

from s2sim.hw.counters import MACHINE_COUNTERS, PE_COUNTERS, Counters
from s2sim.profile.summary import diagnostics_section, traffic_section

KEY = 0x100


def three_packets_from_pe_0(make_sim, dests, loaded):
    """PE 0 sends 3 packets on tick 0 along one multicast to ``dests``; ``loaded`` PEs run a program."""
    sim = make_sim()
    sim.machine.routing.add_multicast(KEY, 0xFFFFFF00, 0, dests)
    sim.load(0, Scripted(start=lambda c: c.set_timer(100_000.0),
                         timer=lambda c, t: [c.send_mc(KEY + i) for i in range(3)] if t == 0 else None))
    for pe in loaded:
        sim.load(pe, Scripted(start=lambda c: c.set_timer(100_000.0)))
    sim.run_ticks(1)
    return sim


@pytest.mark.parametrize("fidelity", ["burst", "packet"])
def test_a_multicast_is_counted_once_where_sent_once_per_copy_where_it_lands_and_per_link_it_crosses(
        make_sim, fidelity):
    sim = three_packets_from_pe_0(lambda: make_sim(fidelity), [1, 9], loaded=[1, 9])
    c = sim.machine.counters
    links = len(sim.chip.noc.route(0, KEY).edges)
    assert links == 2  # the tree to PE 9 crosses two links (PE 1 is on PE 0's router)
    assert c.array("packets_sent").tolist() == [3] + [0] * (c.n_pes - 1)
    assert (c.packets_received[1], c.packets_received[9]) == (3, 3)
    assert (c.packets_routed, c.deliveries, c.packet_hops, c.dropped_packets) == (3, 6, 3 * links, 0)
    assert c.total("packets_received") == c.total("packets_received", [1, 9]) == 6
    traffic = traffic_section(sim)  # the summary reads the same record
    assert (traffic["packets"], traffic["copies"], traffic["copies_undelivered"]) == (3, 6, 0)


def test_packets_reaching_a_pe_without_a_program_are_dropped_machine_wide_not_received(make_sim):
    sim = three_packets_from_pe_0(make_sim, [1, 9], loaded=[1])
    c = sim.machine.counters
    assert (c.packets_received[1], c.packets_received[9], c.dropped_packets) == (3, 0, 3)
    assert traffic_section(sim)["copies_undelivered"] == 3
    assert diagnostics_section(sim)["dropped_packets"] == 3


def test_each_callback_and_its_busy_cycles_are_counted_on_the_pe_that_ran_it(make_sim):
    sim = make_sim()
    sim.load(2, Scripted(start=lambda c: c.set_timer(100_000.0), timer=lambda c, t: c.charge_cycles("work", 50)))
    sim.run_ticks(3)
    c = sim.machine.counters
    assert c.of(2)["callbacks"] == 1 + 3  # on_start and three ticks
    assert c.array("callbacks").sum() == 4
    assert c.cycles_by_level[2] == {"pl": 3 * 50.0}
    assert sim.chip.pes[2].cycles_by_level is c.cycles_by_level[2]  # the PE books straight into the record


def test_a_pe_snapshot_restores_its_counts_and_keeps_booking_into_the_record():
    c = Counters(4)
    c.callbacks[1], c.tx_queue_full[1] = 7, 2
    c.cycles_by_level[1]["pl"] = 10.0
    c.bracket_delta[1]["work"] = [1.0, -2.0, 3.0]
    mine, bracket = c.cycles_by_level[1], c.bracket_delta[1]
    snap = c.snapshot_pe(1)
    c.callbacks[1] += 5
    c.cycles_by_level[1]["pl"] += 99.0
    c.bracket_delta[1]["work"][2] += 7.0
    c.bracket_delta[1]["other"] = [0.0, 0.0, 1.0]
    c.callbacks[2] = 1  # another PE's counts are not part of PE 1's snapshot
    c.restore_pe(1, snap)
    assert c.of(1) == {**{name: 0 for name in PE_COUNTERS}, "callbacks": 7, "tx_queue_full": 2}
    assert c.cycles_by_level[1] == {"pl": 10.0} and c.cycles_by_level[1] is mine
    assert c.bracket_delta[1] == {"work": [1.0, -2.0, 3.0]} and c.bracket_delta[1] is bracket
    assert c.callbacks[2] == 1


def test_the_readers_say_which_names_they_take():
    c = Counters(3)
    c.exp_ops[0], c.exp_ops[2], c.deliveries = 4, 6, 9
    assert c.array("exp_ops").dtype == np.int64 and c.total("exp_ops", [2]) == 6
    assert c.machine() == {**{name: 0 for name in MACHINE_COUNTERS}, "deliveries": 9}
    with pytest.raises(KeyError, match="machine-wide"):
        c.total("deliveries", [0])
    with pytest.raises(KeyError, match="not a per-PE counter"):
        c.total("exp_opps")
