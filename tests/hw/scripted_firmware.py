"""``Scripted``: a firmware whose callbacks are plain functions, for the small timing stories of tests/hw.

A module of its own (not conftest.py): test modules import it by name, and several test folders have a
conftest.py, so ``from conftest import ...`` could find another folder's.
"""
from s2sim.runtime import Firmware


class Scripted(Firmware):
    """A firmware whose callbacks are given as plain functions, for small test stories."""

    def __init__(self, **callbacks):
        self.cb = callbacks
        self.log = []

    def on_start(self, core):
        if "start" in self.cb:
            self.cb["start"](core)

    def on_timer(self, core, tick):
        self.log.append(("timer", tick, core.now))
        if "timer" in self.cb:
            self.cb["timer"](core, tick)

    def on_packet(self, core, key, payload):
        self.log.append(("packet", key, core.now))
        if "packet" in self.cb:
            self.cb["packet"](core, key, payload)

    def on_dma_done(self, core, tag):
        self.log.append(("dma", tag, core._chip.env.now))
        if "dma" in self.cb:
            self.cb["dma"](core, tag)

    def on_user(self, core, arg):
        self.log.append(("user", arg, core.now))
        if "user" in self.cb:
            self.cb["user"](core, arg)


def sender(key: int, work_cycles: float, n_packets: int = 1) -> Scripted:
    """Works ``work_cycles`` on tick 0 (of a 100 µs tick), then sends ``n_packets`` keys from ``key`` back to back."""
    def timer(core, tick):
        if tick == 0:
            core.charge_cycles("work", work_cycles)
            for i in range(n_packets):
                core.send_mc(key + i)
    return Scripted(start=lambda c: c.set_timer(100_000.0), timer=timer)
