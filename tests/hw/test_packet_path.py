"""How arriving packets reach a firmware is chosen from what the firmware declares, once at load (and
again when it changes its packet priority), never by probing it per burst.

Times use the round numbers of the ``hw`` fixture (10 ns per core cycle, no interrupt overhead)."""
from scripted_firmware import Scripted
from s2sim.hw.pe import PacketHooks
from s2sim.runtime.api import Firmware, packet_hooks

KEY = 0x100


class BurstReceiver(Scripted):
    """Declares ``on_packet_burst``: one body per burst, 20 cycles per packet."""

    def on_packet_burst(self, core, keys, payloads):
        self.log.append(("burst", len(keys), core.now))
        core.charge_cycles("rx", 20 * len(keys))


def four_packets_to_pe_1(make_sim, receiver, priority=None):
    """PE 0 sends 4 packets back to back on tick 0; PE 1 receives them (optionally at ``priority``)."""
    sim = make_sim()
    sim.chip.noc.add_multicast(key=KEY, mask=0xFFFFFF00, src_pe=0, dest_pes=[1])

    def start(core):
        core.set_timer(100_000.0)
        if priority is not None:
            core.set_priority("packet", priority)

    receiver.cb["start"] = start
    sim.load(0, Scripted(start=lambda c: c.set_timer(100_000.0),
                         timer=lambda c, t: [c.send_mc(KEY + i) for i in range(4)] if t == 0 else None))
    sim.load(1, receiver)
    sim.run_ticks(1)
    return sim.chip.pes[1], receiver.log


def test_the_hooks_a_firmware_declares_are_the_ones_it_overrides():
    assert packet_hooks(Scripted()) == PacketHooks()
    assert packet_hooks(BurstReceiver()) == PacketHooks(burst=True)

    class Group(Firmware):
        def on_packet_burst_many(self, firmwares, cores, keys, payloads): ...
        def on_packet_burst_group(self, firmwares, cores, keys, payloads): ...
    assert packet_hooks(Group()) == PacketHooks(many=True, group=True)


def test_a_firmware_with_a_burst_hook_gets_one_body_per_burst(make_sim):
    pe, log = four_packets_to_pe_1(make_sim, BurstReceiver())
    assert [entry[:2] for entry in log if entry[0] in ("burst", "packet")] == [("burst", 4)]
    assert pe.counters.packets_received[1] == 4 and pe.counters.callbacks[1] == 3  # on_start, tick 0, one burst body


def test_without_a_burst_hook_each_packet_runs_its_own_handler(make_sim):
    pe, log = four_packets_to_pe_1(make_sim, Scripted(packet=lambda c, k, p: c.charge_cycles("rx", 20)))
    assert [entry[:2] for entry in log if entry[0] == "packet"] == [("packet", KEY + i) for i in range(4)]
    assert pe.counters.callbacks[1] == 2 + 4  # on_start, tick 0, a handler per packet


def test_a_queueable_packet_priority_set_in_on_start_queues_one_task_per_packet(make_sim):
    """The path is chosen again when the firmware changes its packet priority: the burst hook is
    not used for queued packets, each packet is a task of its own."""
    pe, log = four_packets_to_pe_1(make_sim, BurstReceiver(), priority=1)
    assert [entry[:2] for entry in log if entry[0] in ("burst", "packet")] == [("packet", KEY + i) for i in range(4)]
    assert pe.receive_packets == pe._queue_packets


def test_packets_to_a_pe_without_a_program_are_dropped(make_sim):
    sim = make_sim()
    sim.chip.noc.add_multicast(key=KEY, mask=0xFFFFFF00, src_pe=0, dest_pes=[1])
    sim.load(0, Scripted(start=lambda c: c.set_timer(100_000.0),
                         timer=lambda c, t: c.send_mc(KEY) if t == 0 else None))
    sim.run_ticks(1)
    assert sim.machine.counters.dropped_packets == 1 and sim.machine.counters.packets_received[1] == 0
