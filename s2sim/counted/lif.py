"""The LIF family as the counted kernel sees it: the loaded programs turned into flat arrays once.

What it reads of the firmware (``firmware_models/lif_inference/firmware.py``): its priced cost tables
(``neuron_costs``, ``synapse_costs``, ``input_costs``), its SRAM arrays (membranes, input buffers,
compressed synaptic rows) and its parameters. The firmware itself is unchanged: the event-driven
kernels still run its callbacks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..hw.dispatcher import PACKET, TIMER
from ..hw.kernel_cycles import KernelCycles
from .loop import C_NEURONS, C_ROWS, C_SPIKES, C_SYNAPSES, T_INPUT, T_NEURON, T_SYNAPSE

COUNT_IDS = {"neurons": C_NEURONS, "spikes": C_SPIKES, "synapses": C_SYNAPSES, "rows": C_ROWS}
KEY_SHIFT = 16  # the LIF firmware's key layout: source PE << 16 | neuron


class NotModelled(Exception):
    """The loaded programs are not (all) a family the counted kernel models; the message says why."""


def lif_classes():
    """(LifCore, PoissonSource), or None where the LIF firmware package is not importable."""
    try:
        from firmware_models.lif_inference.firmware import LifCore, PoissonSource
    except ImportError:
        return None
    return LifCore, PoissonSource


@dataclass
class CostLines:
    """Every line of the LIF tables as arrays (the loop's ``ln_*`` and ``t_*`` arguments)."""
    ln_table: np.ndarray
    ln_phase: np.ndarray
    ln_count: np.ndarray
    ln_tptr: np.ndarray
    t_per: np.ndarray
    t_k: np.ndarray
    t_nom: np.ndarray
    t_low: np.ndarray
    t_high: np.ndarray
    t_kern: np.ndarray


def cost_lines(tables: dict[int, object], phases: list[str]) -> CostLines:
    """Flatten priced tables (``PricedTable.resolved_lines``) keyed by the loop's table id; phase
    names are added to ``phases`` as met."""
    ln_table, ln_phase, ln_count, ln_tptr = [], [], [], [0]
    t_per, t_k, t_nom, t_low, t_high, t_kern = [], [], [], [], [], []
    for table_id, priced in tables.items():
        for phase, per, terms in priced.resolved_lines:
            if per is not None and per not in COUNT_IDS:
                raise NotModelled(f"a cost line scales with {per!r}")
            if phase not in phases:
                phases.append(phase)
            ln_table.append(table_id)
            ln_phase.append(phases.index(phase))
            ln_count.append(0 if per is None else COUNT_IDS[per])
            for per_op, k in terms:
                kern = type(per_op) is KernelCycles
                t_per.append(float(per_op))
                t_k.append(float(k))
                t_nom.append(per_op.nominal if kern else float(per_op))
                t_low.append(per_op.low if kern else float(per_op))
                t_high.append(per_op.high if kern else float(per_op))
                t_kern.append(kern)
            ln_tptr.append(len(t_per))
    f = np.asarray
    return CostLines(f(ln_table, np.int64), f(ln_phase, np.int64), f(ln_count, np.int64), f(ln_tptr, np.int64),
                     f(t_per, float), f(t_k, float), f(t_nom, float), f(t_low, float), f(t_high, float),
                     f(t_kern, bool))


class LifModel:
    """The loaded LIF programs of one chip as flat arrays; raises ``NotModelled`` if they are not."""

    def __init__(self, chip):
        classes = lif_classes()
        if classes is None:
            raise NotModelled("the LIF firmware package is not importable")
        lif_core, source = classes
        self.chip = chip
        pes = chip.used_pes()
        if not pes:
            raise NotModelled("no program loaded")
        for pe in pes:
            if type(pe.firmware) not in (lif_core, source):
                raise NotModelled(f"PE {pe.id} runs {type(pe.firmware).__name__} (family not counted yet)")
            prios = pe.dispatcher.priorities
            if prios[TIMER] != 2 or prios[PACKET] != -1:
                raise NotModelled(f"PE {pe.id} changed its callback priorities")
        groups = {id(g): g for g in chip.timer_groups.values() if g.pes}
        if len(groups) != 1:
            raise NotModelled("PEs with different timer periods or phases")
        self.timer = next(iter(groups.values()))
        if sorted(pe.id for pe in self.timer.pes) != sorted(pe.id for pe in pes):
            raise NotModelled("a loaded PE without a timer")
        self.pes = pes
        self.firmwares = [pe.firmware for pe in pes]
        self.unit_of = {pe.id: u for u, pe in enumerate(pes)}
        U = len(pes)
        self.kind = np.asarray([1 if type(fw) is lif_core else 0 for fw in self.firmwares], np.int64)
        self.pe_id = np.asarray([pe.id for pe in pes], np.int64)
        self.npc = np.asarray([pe.ns_per_cycle for pe in pes], float)
        self.nneur = np.asarray([fw.n for fw in self.firmwares], np.int64)
        self.voff = np.zeros(U, np.int64)
        off = 0
        for u, fw in enumerate(self.firmwares):
            self.voff[u] = off
            off += fw.n if self.kind[u] == 1 else 0
        self.n_state = off
        self.sends = np.asarray([self.kind[u] == 0 or fw.send for u, fw in enumerate(self.firmwares)], bool)
        lif = [fw for fw in self.firmwares if type(fw) is lif_core]
        self.alpha = np.asarray([np.float32(fw.alpha) if type(fw) is lif_core else 0 for fw in self.firmwares],
                                np.float32)
        self.thr = np.asarray([fw.thr if type(fw) is lif_core else 0 for fw in self.firmwares], np.float32)
        self.reset_zero = np.asarray([type(fw) is lif_core and fw.reset == "zero" for fw in self.firmwares], bool)
        self.lif_groups = list({id(fw.group): fw.group for fw in lif if fw.group is not None}.values())
        self._routes(chip)
        self._rows()
        self.phases: list[str] = []
        tables = {}
        for u, fw in enumerate(self.firmwares):
            mine = ({T_NEURON: fw.neuron_costs, T_SYNAPSE: fw.synapse_costs} if self.kind[u] == 1
                    else {T_INPUT: fw.input_costs})
            for tid, priced in mine.items():
                first = tables.setdefault(tid, priced)
                if first.resolved_lines != priced.resolved_lines:
                    raise NotModelled("PEs priced the same table differently")
        self.costs = cost_lines(dict(sorted(tables.items())), self.phases)
        for name in ("comms", "irq"):
            if name not in self.phases:
                self.phases.append(name)
        self.priorities = [dict(pe.dispatcher.priorities) for pe in pes]
        self.levels = [pe.level for pe in pes]
        p = chip.p
        self.send_cycles = float(p.send_packet_cycles)
        self.irq_cycles = float(p.irq_entry_cycles + p.irq_exit_cycles)
        noc = chip.noc
        self.ser, self.inject_ns, self.eject_ns, self.hop_ns = noc.ser_ns, noc.inject_ns, noc.eject_ns, noc.hop_ns
        self.tx_size = float(p.tx_queue_size)

    # ---- the NoC: routes as int arrays ---------------------------------------------------------------
    def _routes(self, chip) -> None:
        noc, U = chip.noc, len(self.pes)
        nodes: dict = {}
        self.link_keys: list = []
        link_ids: dict = {}

        def node(xy) -> int:
            return nodes.setdefault(xy, len(nodes))

        def link(key) -> int:
            if key not in link_ids:
                link_ids[key] = len(self.link_keys)
                self.link_keys.append(key)
            return link_ids[key]

        r_inj, r_src, r_eptr, e_from, e_to, e_link = [], [], [0], [], [], []
        r_jptr, j_unit, j_node, j_link, r_drop, r_ndel = [0], [], [], [], [], []
        self.routes: list = []  # (PE, key, Route) as compiled: a routing change between calls rebuilds the model
        self.route_of = np.full(U, -1, np.int64)
        for u, (pe, fw) in enumerate(zip(self.pes, self.firmwares)):
            if not self.sends[u] or fw.n == 0:
                continue
            base = pe.id << KEY_SHIFT
            route = noc.route(pe.id, base)
            self.routes.append((pe.id, base, route))
            if noc.route(pe.id, base | (fw.n - 1)) is not route:
                raise NotModelled(f"PE {pe.id}'s keys take more than one route")
            self.route_of[u] = len(r_inj)
            r_inj.append(link(route.inject_key))
            r_src.append(node(noc.mesh.router_of(pe.id)))
            for a, b in route.edges:
                e_from.append(node(a))
                e_to.append(node(b))
                e_link.append(link((a, b)))
            r_eptr.append(len(e_from))
            for dest, router, eject_key in route.ejects:
                j_unit.append(self.unit_of.get(dest, -1))
                j_node.append(node(router))
                j_link.append(link(eject_key))
            r_jptr.append(len(j_unit))
            r_drop.append(route.dropped)
            r_ndel.append(len(route.deliveries) + int(route.dropped))
        a = np.asarray
        self.r_inj, self.r_src_node, self.r_eptr = a(r_inj, np.int64), a(r_src, np.int64), a(r_eptr, np.int64)
        self.e_from, self.e_to, self.e_link = a(e_from, np.int64), a(e_to, np.int64), a(e_link, np.int64)
        self.r_jptr, self.j_unit = a(r_jptr, np.int64), a(j_unit, np.int64)
        self.j_node, self.j_link = a(j_node, np.int64), a(j_link, np.int64)
        self.r_dropped, self.n_routes_deliv = a(r_drop, bool), a(r_ndel, np.int64)
        self.n_nodes = max(1, len(nodes))

    # ---- synaptic rows ---------------------------------------------------------------------------------
    def _rows(self) -> None:
        U = len(self.pes)
        self.base = np.full((U, U), -1, np.int64)
        rowoff, ptrs, posts, weights = np.zeros(U, np.int64), [], [], []
        n_rows, n_syn = 0, 0
        for u, fw in enumerate(self.firmwares):
            if self.kind[u] != 1:
                continue
            for src_pe, first in fw.row_base.items():
                if src_pe in self.unit_of:
                    self.base[u, self.unit_of[src_pe]] = first
            indptr = np.asarray(fw.row_index, np.int64)
            rowoff[u] = n_rows
            ptrs.append(indptr[:-1] + n_syn)
            posts.append(np.asarray(fw.syn_post, np.int64))
            weights.append(np.asarray(fw.syn_weight, np.float32))
            n_rows += len(indptr) - 1
            n_syn += int(indptr[-1])
        ptrs.append(np.asarray([n_syn], np.int64))
        self.rowoff = rowoff
        self.row_ptr = np.concatenate(ptrs)
        self.post_all = np.concatenate(posts) if posts else np.zeros(0, np.int64)
        self.weight_all = np.concatenate(weights) if weights else np.zeros(0, np.float32)

    def still_valid(self) -> bool:
        """What the arrays were built from is unchanged: routes, callback priorities, performance
        levels, timers (the synaptic rows of inference never change)."""
        noc = self.chip.noc
        if any(noc.route(pe, key) is not route for pe, key, route in self.routes):
            return False
        if any(pe.dispatcher.priorities != prios for pe, prios in zip(self.pes, self.priorities)):
            return False
        if any(pe.level is not level for pe, level in zip(self.pes, self.levels)):
            return False
        groups = [g for g in self.chip.timer_groups.values() if g.pes]
        return len(groups) == 1 and groups[0] is self.timer and len(self.timer.pes) == len(self.pes)

    # ---- numerics state --------------------------------------------------------------------------------
    def read_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of every LIF PE's membranes and both input buffers, flat."""
        v = np.zeros(self.n_state, np.float32)
        inp = np.zeros((2, self.n_state), np.float32)
        for u, fw in enumerate(self.firmwares):
            if self.kind[u] == 1:
                o = self.voff[u]
                v[o:o + fw.n] = fw.v
                inp[:, o:o + fw.n] = fw.inp
        return v, inp

    def write_state(self, v: np.ndarray, inp: np.ndarray) -> None:
        for u, fw in enumerate(self.firmwares):
            if self.kind[u] == 1:
                o = self.voff[u]
                fw.v[...] = v[o:o + fw.n]
                fw.inp[...] = inp[:, o:o + fw.n]

    def draw_inputs(self, n_ticks: int) -> tuple[np.ndarray, np.ndarray]:
        """Each Poisson source's spikes for ``n_ticks`` ticks, drawn from its own generator as its
        ``on_timer`` does (one ``random(n)`` per tick): flat indices and [tick * units + unit] offsets."""
        U = len(self.pes)
        chunks, ptr = [], np.zeros(n_ticks * U + 1, np.int64)
        total = 0
        for t in range(n_ticks):
            for u, fw in enumerate(self.firmwares):
                ptr[t * U + u] = total
                if self.kind[u] == 0:
                    fired = np.flatnonzero(fw.rng.random(fw.n) < fw.p)
                    chunks.append(fired)
                    total += len(fired)
        ptr[n_ticks * U] = total
        return (np.concatenate(chunks) if chunks else np.zeros(0, np.int64)).astype(np.int64), ptr

    def rng_states(self) -> list:
        return [fw.rng.bit_generator.state if self.kind[u] == 0 else None for u, fw in enumerate(self.firmwares)]

    def set_rng_states(self, states: list) -> None:
        for u, fw in enumerate(self.firmwares):
            if states[u] is not None:
                fw.rng.bit_generator.state = states[u]
