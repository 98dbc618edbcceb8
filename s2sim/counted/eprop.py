"""The e-prop family as the counted kernel sees it (``firmware_models/eprop/firmware.py``: ``EpropCore``).

Numerics first, timing second: for each tick of a window the firmware's own step runs without the
core (``EpropCore.counted_step``: the group's S3–S19 in one call, the spike buffer consumed, the next
input frame staged), its spikes land in the receivers' next-tick buffers as the group's burst handler
writes them (``on_packet_burst_group``: the nominal schedule, every spike of tick t in before tick
t + 1), and the loop times the tick from what it left: each PE's step costs (its ``step_phases``,
merged per phase as ``Core.charge_phases`` charges them) and its spikes, one send loop per PE on its
multicast route, each receiver's handler charging ``SPIKE_RX_COSTS`` for the burst.

Every time step is counted (``EpropCore.plain_step``), its input prefetch included (the DMA's issue
cycles, the engine's setup, the DRAM channels booked in (time, PE) order, the done handler pre-empting
the step; the data lands when the step's numerics run, as nothing reads that ring slot before), and a
sample's first step applies the learning its PE owes as the event-driven kernel does. The learning
tick (reduce, error broadcast, Adam, label DMA) and a step that waits for its input end the window;
the engine runs that tick event-driven. The numerics a window ran are undone (``save``/``restore``: the
arrays the forward step writes, the group's and the cores' bookkeeping) when the loop finds a tick
it does not model, so the event-driven kernel starts from the window's snapshot.
"""
from __future__ import annotations

import numpy as np

from .codes import K_PRECOMPUTED
from .lif import LifModel, NotModelled, check_priorities, one_timer, restore_state, runs_only, save_state



def _plain_ticks_class():
    from firmware_models.eprop.plain_ticks import PlainTicks
    return PlainTicks


def _tag_x() -> int:
    from firmware_models.eprop.firmware import TAG_X
    return TAG_X


def eprop_core_class():
    try:
        from firmware_models.eprop.firmware import EpropCore
    except ImportError:
        return None
    return EpropCore


def is_eprop(chip) -> bool:
    """Every loaded program is an ``EpropCore``."""
    cls = eprop_core_class()
    return runs_only(chip, None if cls is None else (cls,))


class EpropModel(LifModel):
    """The loaded e-prop programs of one chip as the loop's arrays; raises ``NotModelled`` if they are not."""

    def __init__(self, chip):  # noqa: super().__init__ is the LIF family's: only the route and validity parts are shared
        self.chip = chip
        pes = chip.used_pes()
        self.pes, self.firmwares = pes, [pe.firmware for pe in pes]
        groups = {id(fw.g) for fw in self.firmwares}
        if len(groups) != 1:
            raise NotModelled("e-prop cores of more than one network")
        g = self.group = self.firmwares[0].g
        if not g.grouped:
            raise NotModelled("e-prop numerics per core (group_numerics off)")
        if any(fw.recurrent != "dense" for fw in self.firmwares):
            raise NotModelled("e-prop event-driven recurrence")
        if g.train and g.p.exp_impl == "accelerator":
            raise NotModelled("e-prop with the exp accelerator")
        for pe in pes:
            check_priorities(pe)
        self.timer = one_timer(chip, pes)
        self.unit_of = {pe.id: u for u, pe in enumerate(pes)}
        U = len(pes)
        self.train = g.train
        self.window_ticks = g.tps  # a window per sample: its T time steps (the learning tick ends it)
        self.tag_x = _tag_x()
        self.kind = np.full(U, K_PRECOMPUTED, np.int64)
        self.pe_id = np.asarray([pe.id for pe in pes], np.int64)
        self.npc = np.asarray([pe.ns_per_cycle for pe in pes], float)
        self.nneur = np.asarray([fw.n for fw in self.firmwares], np.int64)
        self._no_neuron_state(U)
        self._routes(chip)
        self.dests = [[self.firmwares[j] for j in self.j_unit[self.r_jptr[r]:self.r_jptr[r + 1]] if j >= 0]
                      if r >= 0 else [] for r in self.route_of]
        self.core_class = type(self.firmwares[0])
        # the whole group on this chip, in member order; each PE's spikes reach every member
        self.whole_group = [fw.k for fw in self.firmwares] == list(range(g.G))
        self.to_all = self.whole_group and all(
            r >= 0 and sorted(fw.k for fw in d) == list(range(g.G)) and len(d) == g.G
            for r, d in zip(self.route_of, self.dests))
        # the plain ticks of the whole group, one compiled call each (the rest: ``counted_steps``)
        self.plain_ticks = _plain_ticks_class()(self.firmwares) if self.whole_group and self.to_all else None
        self.base = np.full((U, U), -1, np.int64)
        self.rowoff = np.zeros(U, np.int64)
        self.row_ptr = np.zeros(1, np.int64)
        self.post_all = np.zeros(0, np.int64)
        self.weight_all = np.zeros(0, np.float32)
        # tables: each PE's step as one line per phase (the merged cycles ``charge_phases`` charges), then its
        # spike handler's priced lines
        self.phases: list[str] = []
        tables = [tuple((phase, None, ((cycles, 1.0),)) for phase, cycles in fw.step_phases[g.train][0])
                  for fw in self.firmwares]
        tables += [fw.spike_rx_costs.resolved_lines for fw in self.firmwares]
        self.timer_table = np.arange(U, dtype=np.int64)
        self.syn_table = np.arange(U, 2 * U, dtype=np.int64)
        self._take_costs_and_chip(chip, pes, tables, ("comms", "irq", "dma_setup"))

    def _sent_keys(self, u: int, pe, fw) -> tuple[int, int] | None:
        from firmware_models.eprop.firmware import SPIKE_KEY
        if fw.n == 0:
            return None
        return SPIKE_KEY + fw.start, SPIKE_KEY + fw.stop - 1

    def still_valid(self) -> bool:
        return self.group.train == self.train and super().still_valid()

    # ---- numerics ------------------------------------------------------------------------------------------
    def counts(self, t: int) -> bool:
        """Tick ``t`` is a plain step on every PE."""
        return all(fw.plain_step(t) for fw in self.firmwares)

    def window_inputs(self, t0: int, n_ticks: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Run the plain steps of ticks ``t0`` .. (at most ``n_ticks``), stopping before the first tick that is
        not one; returns each PE's spikes per tick ([tick * units + unit] offsets; the loop only counts them, so
        the indices are zeros) and the ticks run."""
        fws, U = self.firmwares, len(self.firmwares)
        sizes = np.zeros(n_ticks * U, np.int64)
        self.dma_address = np.full((n_ticks, U), -1, np.int64)  # the tick's input prefetch, per PE (-1: none)
        self.dma_nbytes = np.zeros((n_ticks, U), np.int64)
        buffers = self.chip.dram.buffers
        done = 0
        plain = self.plain_ticks
        k = 0
        while k < n_ticks:
            tick = t0 + k
            ran = plain.run(tick, n_ticks - k) if plain is not None else 0
            if ran:  # the whole group's steps in one compiled call, their spikes written
                sizes[k * U:(k + ran) * U] = plain.counts[:ran].reshape(-1)
                k += ran
                requests = self.core_class.counted_prefetches(fws, tick + ran - 1) or ()
            else:
                if plain is not None:
                    plain.sync()
                if not all(fw.plain_step(tick) for fw in fws):
                    break
                if self.whole_group:
                    sent, requests = self.core_class.counted_steps(fws, tick)
                else:
                    sent, requests = zip(*(fw.counted_step(tick) for fw in fws))
                if self.to_all:  # every spike reaches every member: one write
                    every = [key for keys in sent for key in keys]
                    if every:
                        self.core_class.counted_spikes_in(fws, every)
                else:
                    for u, keys in enumerate(sent):
                        dests = self.dests[u]
                        if keys and dests:
                            dests[0].on_packet_burst_group(dests, None, keys, None)
                sizes[k * U:(k + 1) * U] = [len(keys) for keys in sent]
                k += 1
            for u, request in enumerate(requests):  # (of the last tick run)
                if request is not None:  # the data lands now (nothing reads that ring slot before the DMA's end)
                    fw = fws[u]
                    name, start, count, dst = request
                    buf = buffers[name]
                    dst.reshape(-1)[:count] = buf.array.reshape(-1)[start:start + count]
                    self.dma_address[k - 1, u] = buf.address + start * buf.array.itemsize
                    self.dma_nbytes[k - 1, u] = count * buf.array.itemsize
                    fw.on_dma_done(None, self.tag_x)
            done = k
        if plain is not None:
            plain.sync()
        ptr = np.zeros(done * U + 1, np.int64)
        np.cumsum(sizes[:done * U], out=ptr[1:])
        return np.zeros(int(ptr[-1]), np.int64), ptr, done

    def dma_requests(self, n_ticks: int) -> tuple[np.ndarray, np.ndarray]:
        """The input prefetches ``window_inputs`` found, per tick and PE (address -1: none)."""
        return self.dma_address[:n_ticks], self.dma_nbytes[:n_ticks]

    def read_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.zeros(0, np.float32), np.zeros((2, 0), np.float32), np.zeros(0, np.float32)

    def commit_numerics(self, t: int, n: int, out: dict) -> None:
        """Nothing to write: ``window_inputs`` ran the numerics on the firmware's own state."""

    # ---- undo ----------------------------------------------------------------------------------------------
    def _objects(self) -> list:
        return [self.group, self.group.ticks, *self.firmwares]

    def save(self) -> list[dict]:
        """The state a plain step writes: every array, and the plain values and
        lists of the group, its tick bookkeeping and the cores (dicts and tuples are caches, host records and
        constants a plain step does not change; a sample's first step applies the owed learning: W, Adam;
        lists hold plain values or lists of them: ``_fired``)."""
        return save_state(self._objects(), nested_lists=True)

    def restore(self, saved: list[dict]) -> None:
        restore_state(self._objects(), saved)  # (the group's views: v, b, ... of forward_state, stay views)
