"""Cue accumulation as the counted kernel sees it (``firmware_models/eprop_lif/firmware.py``: ``CueEpropCore``).

The e-prop model's way (``eprop.EpropModel``, whose snapshot and undo, DMA requests and route building
this reuses by inheritance): numerics first, by the firmware's own step for the whole group
(``CueEpropCore.counted_steps``: the group's ε, h, ē and forward step, the next chunk's prefetch request),
each step's spikes filed into every PE's buffer for the next step (the nominal schedule; every spike goes
to every PE), then the compiled loop times the tick from what that left. The step's cycles are the
firmware's priced tables, in the order its timer callback charges them: the prefetch's DMA issue, the
forward and readout kernels line by line (``step_event_costs``, scaled by the step's input events and
spikes), the spikes' send loop, then the step's fixed phases in one sum (``step_cost_table``, as
``charge_phases``); each receiver runs one ``on_packet`` handler per spike packet (``SPIKE_RX_COSTS``;
the program declares no burst hook, so ``PE._run_packet_handlers`` places them one by one).

Counted: every step of a trial before the learning window but its first (``CueEpropCore.plain_step``),
also when the programs' own step count lags the timer's (a tick dropped behind an overrun).
Event-driven: a trial's first step (the root's label DMA), the learning window (partial readouts to the
root, its softmax and error broadcast, steps waiting for the error) and the learning tick (Adam); with
the shipped 2,250 steps and 150 in the window, 2,098 of 2,251 ticks per trial are counted.
"""
from __future__ import annotations

import numpy as np

from ..hw.pe import PE
from .codes import K_PRECOMPUTED
from .eprop import EpropModel
from .lif import NotModelled, check_priorities, one_timer, runs_only


def cue_core_class():
    try:
        from firmware_models.eprop_lif.firmware import CueEpropCore
    except ImportError:
        return None
    return CueEpropCore


def is_cue(chip) -> bool:
    """Every loaded program is a ``CueEpropCore``."""
    cls = cue_core_class()
    return runs_only(chip, None if cls is None else (cls,))


class CueModel(EpropModel):
    """The loaded cue-accumulation programs of one chip as the loop's arrays; raises ``NotModelled`` if
    they are not."""

    def __init__(self, chip):  # noqa: super().__init__ is e-prop's: only its routes, undo and checks are shared
        from firmware_models.eprop_lif.firmware import SPIKE_KEY, TAG_X
        self.chip, self.spike_key, self.tag_x = chip, SPIKE_KEY, TAG_X
        pes = chip.used_pes()
        self.pes, self.firmwares = pes, [pe.firmware for pe in pes]
        if len({id(fw.group) for fw in self.firmwares}) != 1:
            raise NotModelled("cue-accumulation cores of more than one network")
        g = self.group = self.firmwares[0].group
        if [fw.k for fw in self.firmwares] != list(range(len(pes))) or len(pes) != g.G:
            raise NotModelled("a cue-accumulation network not wholly on this chip, in member order")
        for pe in pes:
            check_priorities(pe)
            if pe.burst_group is not None or pe.burst_many is not None \
                    or getattr(pe.receive_packets, "__func__", None) is not PE._run_packet_handlers:
                raise NotModelled(f"PE {pe.id} receives packets otherwise than one handler per packet")
        self.timer = one_timer(chip, pes)
        self.unit_of = {pe.id: u for u, pe in enumerate(pes)}
        U = len(pes)
        self.train = g.train
        self.kind = np.full(U, K_PRECOMPUTED, np.int64)
        self.pe_id = np.asarray([pe.id for pe in pes], np.int64)
        self.npc = np.asarray([pe.ns_per_cycle for pe in pes], float)
        self.nneur = np.asarray([fw.n for fw in self.firmwares], np.int64)
        self._no_neuron_state(U)
        self._routes(chip)
        for u in range(U):  # every spike reaches every PE once (what ``counted_spikes_in`` files)
            r = self.route_of[u]
            reached = sorted(self.j_unit[self.r_jptr[r]:self.r_jptr[r + 1]].tolist()) if r >= 0 else []
            if reached != list(range(U)):
                raise NotModelled(f"PE {pes[u].id}'s spikes do not reach every PE of the network once")
        self.base = np.full((U, U), -1, np.int64)
        self.rowoff = np.zeros(U, np.int64)
        self.row_ptr = np.zeros(1, np.int64)
        self.post_all = np.zeros(0, np.int64)
        self.weight_all = np.zeros(0, np.float32)
        # tables: each PE's forward/readout kernels (charged line by line), its spike handler, then the step's
        # fixed phases as one line per phase (the merged cycles ``charge_phases`` charges after the sends)
        # phases in the order a step's row first meets them (a tick's busy cycles sum them in this order):
        # the prefetch's DMA issue, the kernels, the sends, the fixed phases, the handlers
        self.phases: list[str] = ["dma_setup"]
        tables = [fw.event_costs.resolved_lines for fw in self.firmwares]
        tables += [fw.spike_rx_costs.resolved_lines for fw in self.firmwares]
        tables += [tuple((phase, None, ((cycles, 1.0),))
                         for phase, cycles in fw.step_phases(pe.core, g.train, False)[0])
                   for pe, fw in zip(pes, self.firmwares)]
        self.timer_table = np.arange(U, dtype=np.int64)
        self.syn_table = np.arange(U, 2 * U, dtype=np.int64)
        self.timer_post = np.arange(2 * U, 3 * U, dtype=np.int64)
        self.per_packet = np.ones(U, bool)
        self._take_costs_and_chip(chip, pes, tables, ("comms", "irq", "dma_setup"))
        self.synapses = np.zeros((0, U), np.int64)

    def _sent_keys(self, u: int, pe, fw) -> tuple[int, int] | None:
        if fw.n == 0:
            return None
        return self.spike_key + fw.start, self.spike_key + fw.stop - 1

    def step_extras(self, n_ticks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The loop's per-unit step parts (``engine._step_extras``): the fixed-phase table charged after the
        sends, one handler per packet, and each step's synaptic events (input events × neurons)."""
        return self.timer_post, self.per_packet, self.synapses[:n_ticks]

    # ---- numerics ------------------------------------------------------------------------------------------
    def counts(self, t: int) -> bool:
        """Tick ``t`` runs a plain step on every PE, the same step (the programs count their own steps)."""
        step = self.firmwares[0].step
        return all(fw.step == step and fw.plain_step() for fw in self.firmwares)

    def window_inputs(self, t0: int, n_ticks: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Run the plain steps of ticks ``t0`` .. (at most ``n_ticks``), stopping before the first tick that is
        not one; returns each PE's spikes per tick ([tick * units + unit] offsets; the loop only counts them)
        and the ticks run. The prefetches' data lands at once (nothing reads that ring slot before the DMA's
        end, which the loop checks lies inside the step)."""
        fws, U = self.firmwares, len(self.firmwares)
        cls = type(fws[0])
        sizes = np.zeros(n_ticks * U, np.int64)
        self.synapses = np.zeros((n_ticks, U), np.int64)
        self.dma_address = np.full((n_ticks, U), -1, np.int64)
        self.dma_nbytes = np.zeros((n_ticks, U), np.int64)
        buffers = self.chip.dram.buffers
        done = 0
        for k in range(n_ticks):
            tick = t0 + k
            if not self.counts(tick):
                break
            fired, requests, synapses = cls.counted_steps(fws, tick)
            for u, request in enumerate(requests):
                if request is not None:
                    name, start, count, dst = request
                    buf = buffers[name]
                    dst[:count] = buf.array.reshape(-1)[start:start + count]
                    self.dma_address[k, u] = buf.address + start * buf.array.itemsize
                    self.dma_nbytes[k, u] = count * buf.array.itemsize
                    fws[u].on_dma_done(None, self.tag_x)
            cls.counted_spikes_in(fws, fired)
            sizes[k * U:(k + 1) * U] = [len(own) for own in fired]
            self.synapses[k] = synapses
            done = k + 1
        ptr = np.zeros(done * U + 1, np.int64)
        np.cumsum(sizes[:done * U], out=ptr[1:])
        return np.zeros(int(ptr[-1]), np.int64), ptr, done

    # ---- undo ----------------------------------------------------------------------------------------------
    def save(self) -> list[dict]:
        """e-prop's snapshot (arrays, plain values, lists), and the sets a step changes (the group's stale
        float64 weight copies)."""
        saved = super().save()
        for obj, d in zip(self._objects(), saved):
            for name, value in vars(obj).items():
                if type(value) is set:
                    d[name] = set(value)
        return saved

    def restore(self, saved: list[dict]) -> None:
        """Arrays, lists and sets put back in place: the cores share the group's lists (``pending``) and
        views of its arrays, which must stay shared."""
        for obj, d in zip(self._objects(), saved):
            for name, value in d.items():
                now = getattr(obj, name)
                if isinstance(value, np.ndarray) and isinstance(now, np.ndarray) and now.shape == value.shape:
                    np.copyto(now, value)
                elif type(value) is list and type(now) is list:
                    now[:] = value
                elif type(value) is set and type(now) is set:
                    now.clear()
                    now.update(value)
                else:
                    setattr(obj, name, value)
