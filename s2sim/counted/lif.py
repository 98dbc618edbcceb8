"""The LIF family as the counted kernel sees it: the loaded programs turned into flat arrays once.

What it reads of the firmware (``firmware_models/lif_inference/firmware.py``: ``PoissonSource``,
``LifCore``; ``graph_firmware.py``: ``RasterSource``, ``NeuronCore``): its priced cost tables
(``neuron_costs`` / ``tick_costs``, ``synapse_costs``, ``input_costs``), its SRAM arrays (membranes,
input buffers, synaptic currents, compressed synaptic rows) and its parameters. The firmware itself is unchanged: the event-driven
kernels still run its callbacks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..hw.dispatcher import PACKET, TIMER
from ..hw.kernel_cycles import KernelCycles
from .codes import (
    C_INPUT_SPIKES,
    C_NEURONS,
    C_OWN_SPIKES,
    C_PACKETS,
    C_ROWS,
    C_SEARCH,
    C_SPIKES,
    C_SYNAPSES,
    COEF_NAMES,
    N_COUNTS,
)

COUNT_IDS = {"neurons": C_NEURONS, "spikes": C_SPIKES, "synapses": C_SYNAPSES, "rows": C_ROWS,
             "own_spikes": C_OWN_SPIKES, "input_spikes": C_INPUT_SPIKES, "packets": C_PACKETS,
             "search_steps": C_SEARCH}
KEY_SHIFT = 16  # the LIF firmware's key layout: source PE << 16 | neuron


class NotModelled(Exception):
    """The loaded programs are not (all) a family the counted kernel models; the message says why."""


def lif_classes():
    """(LifCore, PoissonSource, NeuronCore, RasterSource), or None where the LIF firmware package
    is not importable."""
    try:
        from firmware_models.lif_inference.firmware import LifCore, PoissonSource
        from firmware_models.lif_inference.graph_firmware import (
            NeuronCore,
            RasterSource,
        )
    except ImportError:
        return None
    return LifCore, PoissonSource, NeuronCore, RasterSource


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


def cost_lines(tables: list, phases: list[str]) -> CostLines:
    """Flatten priced tables' lines (``PricedTable.resolved_lines``; the loop's table id is the index);
    phase names are added to ``phases`` as met."""
    ln_table, ln_phase, ln_count, ln_tptr = [], [], [], [0]
    t_per, t_k, t_nom, t_low, t_high, t_kern = [], [], [], [], [], []
    for table_id, lines in enumerate(tables):
        for phase, per, terms in lines:
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


def _handler_costs(fw):
    """The cost lines a burst handler charges, in its order: a sparse row index's search first, then the
    rows (``LifCore._burst_sparse_index``), as one table (one callback adds them line by line)."""
    if getattr(fw, "row_keys", None) is None:
        return fw.synapse_costs
    return fw.search_costs.resolved_lines + fw.synapse_costs.resolved_lines


def _gather(chunks: list, index: np.ndarray) -> np.ndarray:
    """``concatenate(chunks)[index]``, the chunks freed first (the list is emptied)."""
    whole = np.concatenate(chunks)
    chunks.clear()
    return whole[index]


_PLAIN = (int, float, bool, str, type(None), np.generic)


def save_state(objects: list, nested_lists: bool = False) -> list[dict]:
    """A window's undo: of each object, every array (copied), plain value and list (copied; with
    ``nested_lists`` also the lists inside it). Dicts and tuples are left out: the families' ticks replace
    them (per-tick results, caches, host records), never change them in place."""
    saved = []
    for obj in objects:
        d = {}
        for name, value in vars(obj).items():
            if isinstance(value, np.ndarray):
                d[name] = value.copy()
            elif type(value) is list:
                d[name] = [list(x) if type(x) is list else x for x in value] if nested_lists else list(value)
            elif isinstance(value, _PLAIN):
                d[name] = value
        saved.append(d)
    return saved


def restore_state(objects: list, saved: list[dict]) -> None:
    """Put ``save_state``'s copies back; arrays in place where the shape allows (views of them stay views)."""
    for obj, d in zip(objects, saved):
        for name, value in d.items():
            now = getattr(obj, name)
            if isinstance(value, np.ndarray) and isinstance(now, np.ndarray) and now.shape == value.shape:
                np.copyto(now, value)
            else:
                setattr(obj, name, value)


def runs_only(chip, classes: tuple | None) -> bool:
    """Every loaded program is one of ``classes`` (None: the family's package is not importable)."""
    pes = chip.used_pes()
    return classes is not None and bool(pes) and all(type(pe.firmware) in classes for pe in pes)


def check_priorities(pe) -> None:
    """The loop's dispatcher: the timer at priority 2, packets pre-emptive (-1), as spin1 sets them."""
    prios = pe.dispatcher.priorities
    if prios[TIMER] != 2 or prios[PACKET] != -1:
        raise NotModelled(f"PE {pe.id} changed its callback priorities")


def one_timer(chip, pes) -> object:
    """The one timer group every loaded PE (``pes``) runs on (the loop has one period and phase)."""
    groups = {id(g): g for g in chip.timer_groups.values() if g.pes}
    if len(groups) != 1:
        raise NotModelled("PEs with different timer periods or phases")
    timer = next(iter(groups.values()))
    if sorted(pe.id for pe in timer.pes) != sorted(pe.id for pe in pes):
        raise NotModelled("a loaded PE without a timer")
    return timer


class LifModel:
    """The loaded LIF programs of one chip as flat arrays; raises ``NotModelled`` if they are not."""

    def __init__(self, chip):
        classes = lif_classes()
        if classes is None:
            raise NotModelled("the LIF firmware package is not importable")
        lif_core, source, neuron_core, raster = classes
        self.chip = chip
        pes = chip.used_pes()
        if not pes:
            raise NotModelled("no program loaded")
        for pe in pes:
            if type(pe.firmware) not in classes:
                raise NotModelled(f"PE {pe.id} runs {type(pe.firmware).__name__} (family not counted yet)")
            check_priorities(pe)
        self.timer = one_timer(chip, pes)
        self.pes = pes
        self.firmwares = [pe.firmware for pe in pes]
        self.unit_of = {pe.id: u for u, pe in enumerate(pes)}
        U = len(pes)
        kinds = {source: 0, raster: 0, lif_core: 1, neuron_core: 2}
        self.kind = np.asarray([kinds[type(fw)] for fw in self.firmwares], np.int64)
        self.pe_id = np.asarray([pe.id for pe in pes], np.int64)
        self.npc = np.asarray([pe.ns_per_cycle for pe in pes], float)
        self.nneur = np.asarray([fw.n for fw in self.firmwares], np.int64)
        self.voff = np.zeros(U, np.int64)
        off = 0
        for u, fw in enumerate(self.firmwares):
            self.voff[u] = off
            off += fw.n if self.kind[u] != 0 else 0
        self.n_state = off
        self.has_syn = np.asarray([self.kind[u] == 2 and fw.has_syn for u, fw in enumerate(self.firmwares)], bool)
        self.spiking = np.asarray([self.kind[u] != 2 or fw.spiking for u, fw in enumerate(self.firmwares)], bool)
        self.sends = np.asarray([self.kind[u] == 0 or (fw.send and self.spiking[u])
                                 for u, fw in enumerate(self.firmwares)], bool)
        self.coef = np.zeros((len(COEF_NAMES), self.n_state), np.float32)
        for u, fw in enumerate(self.firmwares):
            if self.kind[u] == 2:
                o = self.voff[u]
                for row, name in enumerate(COEF_NAMES):
                    if name in fw.p:
                        self.coef[row, o:o + fw.n] = fw.p[name]
        lif = [fw for fw in self.firmwares if type(fw) is lif_core]
        self.alpha = np.asarray([np.float32(fw.alpha) if type(fw) is lif_core else 0 for fw in self.firmwares],
                                np.float32)
        self.thr = np.asarray([fw.thr if type(fw) is lif_core else 0 for fw in self.firmwares], np.float32)
        self.reset_zero = np.asarray([type(fw) is lif_core and fw.reset == "zero" for fw in self.firmwares], bool)
        self.lif_groups = list({id(fw.group): fw.group for fw in lif if fw.group is not None}.values())
        self._routes(chip)
        self._rows()
        self._unknown_sources_unmodelled()
        self.phases: list[str] = []
        tables: dict[tuple, int] = {}  # a priced table's lines -> the loop's table id

        def table_id(priced) -> int:
            return tables.setdefault(priced if type(priced) is tuple else priced.resolved_lines, len(tables))

        timer_costs = {0: "input_costs", 1: "neuron_costs", 2: "tick_costs"}
        self.timer_table = np.asarray([table_id(getattr(fw, timer_costs[self.kind[u]]))
                                       for u, fw in enumerate(self.firmwares)], np.int64)
        self.syn_table = np.asarray([table_id(_handler_costs(fw)) if self.kind[u] else -1
                                     for u, fw in enumerate(self.firmwares)], np.int64)
        self._take_costs_and_chip(chip, pes, list(tables), ("comms", "irq"))

    def _take_costs_and_chip(self, chip, pes, tables: list, extra_phases: tuple[str, ...]) -> None:
        """The cost lines of ``tables`` (phases the loop books itself appended), and the per-PE and chip
        figures the loop reads: callback priorities, performance levels, send/IRQ cycles, NoC timing."""
        self.costs = cost_lines(tables, self.phases)
        for name in extra_phases:
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

        # a board (``BoardNoC``): routers are (chip, x, y); an edge between chips is a chip link, with its
        # own rate and latency and its load counted per directed link and timestep
        board = hasattr(noc, "link_ser_ns")
        clink_ids: dict = {}  # (from chip, to chip) -> the loop's chip link id

        def clink(a, b) -> int:
            if not board or a[0] == b[0]:
                return -1
            return clink_ids.setdefault((a[0], b[0]), len(clink_ids))

        # per route, its edges' and ejections' ids as int32 chunks (a board's 16.8 M ejections as Python
        # lists took gigabytes while the model was built)
        r_inj, r_src, r_eptr, e_from, e_to, e_link, e_clink = [], [], [0], [], [], [], []
        r_jptr, j_unit, j_node, j_link, j_spread, r_drop, r_ndel = [0], [], [], [], [], [], []
        unit_get, i32 = self.unit_of.get, np.int32
        # each tree walked from the tables once and dropped (a board's hold millions of deliveries: kept as
        # Python objects they took gigabytes); a table change between calls rebuilds the model
        self.routing_version = noc.routing_version
        self.route_of = np.full(U, -1, np.int64)
        self.route_id: dict[tuple[int, int], int] = {}  # (unit, first key) -> route
        for u, base, last in self._route_keys():
            pe, base, last = self.pes[u], int(base), int(last)
            route, examined = noc.tree(pe.id, base)
            varying = (1 << (base ^ last).bit_length()) - 1  # the key bits that differ between its keys
            if examined & varying:  # the tables look at them: the first and last key must take one tree
                other, _ = noc.tree(pe.id, last)
                if (other.edges, other.deliveries, other.dropped) != (route.edges, route.deliveries, route.dropped):
                    raise NotModelled(f"PE {pe.id}'s keys take more than one route")
            if self.route_of[u] < 0:
                self.route_of[u] = len(r_inj)
            self.route_id[(u, base)] = len(r_inj)
            r_inj.append(link(route.inject_key))
            r_src.append(node(noc.router_of(pe.id)))
            edges, ejects = route.edges, route.ejects
            e_from.append(np.fromiter((node(a) for a, _ in edges), i32, len(edges)))
            e_to.append(np.fromiter((node(b) for _, b in edges), i32, len(edges)))
            e_link.append(np.fromiter(map(link, edges), i32, len(edges)))
            e_clink.append(np.fromiter((clink(a, b) for a, b in edges), i32, len(edges)))
            r_eptr.append(r_eptr[-1] + len(edges))
            j_unit.append(np.fromiter((unit_get(dest, -1) for dest, _, _ in ejects), i32, len(ejects)))
            j_node.append(np.fromiter((node(router) for _, router, _ in ejects), i32, len(ejects)))
            j_link.append(np.fromiter((link(key) for _, _, key in ejects), i32, len(ejects)))
            # (a chip link's rate once the path crosses one)
            j_spread.append(np.fromiter((noc.spread_ser_ns(route, dest) for dest, _, _ in ejects), float, len(ejects)))
            r_jptr.append(r_jptr[-1] + len(ejects))
            r_drop.append(route.dropped)
            r_ndel.append(len(route.deliveries) + int(route.dropped))
        a = np.asarray

        def joined(chunks: list, dtype=i32) -> np.ndarray:
            out = np.concatenate(chunks) if chunks else np.zeros(0, dtype)
            chunks.clear()
            return out

        self.r_inj, self.r_src_node, self.r_eptr = a(r_inj, np.int64), a(r_src, np.int64), a(r_eptr, np.int64)
        self.e_from, self.e_to, self.e_link = joined(e_from), joined(e_to), joined(e_link)
        self.r_jptr, self.j_unit = a(r_jptr, np.int64), joined(j_unit)
        self.j_node, self.j_link = joined(j_node), joined(j_link)
        self.e_clink, self.j_spread = joined(e_clink), joined(j_spread, float)
        self.clink_keys = sorted(clink_ids, key=clink_ids.get)  # (from chip, to chip) of each chip link id
        # ``BoardNoC.reserve``'s figures (a plain chip: no chip link, unused)
        self.clink_ser_ns = float(noc.link_ser_ns) if board else 0.0
        self.clink_after_ns = noc.link_ser_ns + noc.link_latency_ns if board else 0.0
        self.r_dropped, self.n_routes_deliv = a(r_drop, bool), a(r_ndel, np.int64)
        self.n_nodes = max(1, len(nodes))
        #: per (route, destination): the handler's cost table (-1: the destination's ``syn_table``)
        self.j_table = np.full(len(self.j_unit), -1, np.int64)

    def _no_neuron_state(self, U: int) -> None:
        """Units whose numerics ran first (``K_PRECOMPUTED``): none of the loop's LIF or NeuronCore state,
        each sends (its packets per tick come with the window's inputs)."""
        self.voff = np.zeros(U, np.int64)
        self.n_state = 0
        self.has_syn = np.zeros(U, bool)
        self.spiking = np.ones(U, bool)
        self.sends = np.ones(U, bool)
        self.coef = np.zeros((len(COEF_NAMES), 0), np.float32)
        self.alpha = np.zeros(U, np.float32)
        self.thr = np.zeros(U, np.float32)
        self.reset_zero = np.zeros(U, bool)
        self.lif_groups = []

    def _route_keys(self):
        """(unit, first key, last key) of every key range a unit sends on one route; a unit's first is its
        ``route_of``."""
        for u, (pe, fw) in enumerate(zip(self.pes, self.firmwares)):
            keys = self._sent_keys(u, pe, fw)
            if keys is not None:
                yield u, keys[0], keys[1]

    def _sent_keys(self, u: int, pe, fw) -> tuple[int, int] | None:
        """The first and last key unit ``u`` sends (None: it sends none)."""
        if not self.sends[u] or fw.n == 0:
            return None
        base = pe.id << KEY_SHIFT
        return base, base | (fw.n - 1)

    # ---- synaptic rows ---------------------------------------------------------------------------------
    def _rows(self) -> None:
        """Every neuron PE's compressed rows, concatenated. A dense index: a packet from unit ``src`` with
        neuron ``i`` finds its row at ``rowoff[u] + base[u, src] + i``. A sparse index
        (``mapping.row_index: sparse``, ``sparse[u]``; ``LifCore`` finds a packet's row by binary search
        over its ``row_keys``, most packets finding none): inverted once, here, into each source
        neuron's rows (``fanout_*``), so the loop visits only the rows a spike has, not every receiver.
        """
        U = len(self.pes)
        self.sparse = np.asarray([getattr(fw, "row_keys", None) is not None for fw in self.firmwares], bool)
        dense = (self.kind != 0) & ~self.sparse
        self.base = np.full((U, U) if dense.any() else (1, 1), -1, np.int64)
        self.search_steps = np.asarray([fw.search_steps if self.sparse[u] else 0
                                        for u, fw in enumerate(self.firmwares)], np.int64)
        unit_of_pe = np.full(max(self.unit_of) + 1, -1, np.int64)
        unit_of_pe[list(self.unit_of)] = list(self.unit_of.values())
        sources: dict[int, tuple] = {}  # id(row_base) -> (source units, their first pre index), sorted by it
        self.known_sources: dict[int, np.ndarray] = {}  # sparse unit -> the source units its rows name
        rowoff, ptrs, posts, weights = np.zeros(U, np.int64), [], [], []
        hit_src, hit_nid, hit_unit, hit_start, hit_len, sp_posts, sp_weights = [], [], [], [], [], [], []
        n_rows, n_syn, n_sp_syn = 0, 0, 0
        for u, fw in enumerate(self.firmwares):
            if self.kind[u] == 0:
                continue
            src_units, firsts = sources.get(id(fw.row_base)) or sources.setdefault(
                id(fw.row_base), self._sources(fw.row_base, unit_of_pe))
            indptr = np.asarray(fw.row_index, np.int64)
            rows = len(indptr) - 1
            if self.sparse[u]:
                self.known_sources[u] = src_units
                keys = np.frombuffer(fw.row_keys, np.uint32).astype(np.int64)
                owner = np.searchsorted(firsts, keys, "right") - 1  # the source PE each row's neuron is of
                ok = owner >= 0
                nid = keys[ok] - firsts[owner[ok]]
                src = src_units[owner[ok]]
                ok_nid = nid < self.nneur[src]
                hit_src.append(src[ok_nid])
                hit_nid.append(nid[ok_nid])
                hit_unit.append(np.full(int(ok_nid.sum()), u, np.int32))
                row = np.flatnonzero(ok)[ok_nid]
                hit_start.append(n_sp_syn + indptr[row])
                hit_len.append(indptr[row + 1] - indptr[row])
                sp_posts.append(np.asarray(fw.syn_post))
                sp_weights.append(np.asarray(fw.syn_weight, np.float32))
                n_sp_syn += int(indptr[-1])
                rowoff[u] = n_rows
                continue  # (its rows live in the fan-out only)
            self.base[u, src_units] = firsts
            rowoff[u] = n_rows
            ptrs.append(indptr[:-1] + n_syn)
            posts.append(np.asarray(fw.syn_post, np.int64))
            weights.append(np.asarray(fw.syn_weight, np.float32))
            n_rows += rows
            n_syn += int(indptr[-1])
        ptrs.append(np.asarray([n_syn], np.int64))
        self.rowoff = rowoff
        self.row_ptr = np.concatenate(ptrs)
        self.post_all = np.concatenate(posts) if posts else np.zeros(0, np.int64)
        self.weight_all = np.concatenate(weights) if weights else np.zeros(0, np.float32)
        self._fanout(U, hit_src, hit_nid, hit_unit, hit_start, hit_len, sp_posts, sp_weights)

    def _fanout(self, U: int, hit_src: list, hit_nid: list, hit_unit: list, hit_start: list, hit_len: list,
                sp_posts: list, sp_weights: list) -> None:
        """The sparse receivers' rows by source neuron: neuron ``i`` of unit ``s`` has the rows
        ``fanout_ptr[fanout_noff[s] + i]`` .. ``fanout_ptr[... + 1]`` - 1, row ``h`` in unit
        ``fanout_unit[h]`` with the synapses ``fanout_post`` / ``fanout_weight[fanout_sptr[h]:fanout_sptr[h + 1]]``
        in the row's order (``fanout_noff[s]`` = -1: no sparse receiver has a row of ``s``). Stored in
        the order the loop reads them: one stream per spike, not a row pointer per receiver."""
        self.fanout_noff = np.full(U, -1, np.int64)
        self.fanout_sptr = np.zeros(1, np.int64)
        self.fanout_post, self.fanout_weight = np.zeros(0, np.int64), np.zeros(0, np.float32)
        if not hit_src:
            self.fanout_ptr, self.fanout_unit = np.zeros(1, np.int64), np.zeros(0, np.int32)
            return
        src, nid = np.concatenate(hit_src), np.concatenate(hit_nid)
        hit_src.clear()
        hit_nid.clear()
        has = np.zeros(U, bool)
        has[src] = True
        sizes = np.where(has, self.nneur, 0)
        starts = np.cumsum(sizes) - sizes
        self.fanout_noff[has] = starts[has]
        node = starts[src] + nid
        order = np.argsort(node, kind="stable")
        self.fanout_ptr = np.zeros(int(sizes.sum()) + 1, np.int64)
        np.cumsum(np.bincount(node, minlength=int(sizes.sum())), out=self.fanout_ptr[1:])
        del src, nid, node  # (a board's fan-out has ~30 M rows: what is built here is freed as soon as it is used)
        self.fanout_unit = _gather(hit_unit, order)
        start, length = _gather(hit_start, order), _gather(hit_len, order)
        del order
        self.fanout_sptr = np.zeros(len(length) + 1, np.int64)
        np.cumsum(length, out=self.fanout_sptr[1:])
        # each row's synapses, gathered in the fan-out's order
        start -= self.fanout_sptr[:-1]
        syn = np.repeat(start, length)
        del start, length
        syn += np.arange(len(syn))
        self.fanout_post = _gather(sp_posts, syn)
        self.fanout_weight = _gather(sp_weights, syn)

    def _unknown_sources_unmodelled(self) -> None:
        """A packet reaching a sparse receiver from a PE its rows do not name is a ``KeyError`` in
        ``LifCore`` (``row_base``): such a delivery is marked not modelled (``j_unit`` -1), as the dense
        path finds it at run time (``base`` -1), and the event-driven kernel runs the tick it happens in."""
        known = self.__dict__.pop("known_sources")
        if not known:
            return
        U = len(self.pes)
        route_src = np.full(len(self.r_inj), -1, np.int64)
        sends = np.flatnonzero(self.route_of >= 0)
        route_src[self.route_of[sends]] = sends
        ej_src = np.repeat(route_src, np.diff(self.r_jptr))
        dest = self.j_unit
        to_sparse = np.flatnonzero((dest >= 0) & self.sparse[np.maximum(dest, 0)])
        pairs = dest[to_sparse] * U + ej_src[to_sparse]
        named = np.concatenate([u * U + srcs for u, srcs in known.items()])
        self.j_unit[to_sparse[~np.isin(pairs, named, kind="table")]] = -1  # (a bitmap of U x U: no sort)

    @staticmethod
    def _sources(row_base: dict, unit_of_pe: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A PE's source PEs that are loaded units, as (units, first pre index), ordered by first index."""
        pes = np.fromiter(row_base.keys(), np.int64, len(row_base))
        firsts = np.fromiter(row_base.values(), np.int64, len(row_base))
        inside = pes < len(unit_of_pe)
        pes, firsts = pes[inside], firsts[inside]
        units = unit_of_pe[pes]
        keep = units >= 0
        order = np.argsort(firsts[keep], kind="stable")
        return units[keep][order], firsts[keep][order]

    def still_valid(self) -> bool:
        """What the arrays were built from is unchanged: routes, callback priorities, performance
        levels, timers (the synaptic rows of inference never change)."""
        if self.chip.noc.routing_version != self.routing_version:
            return False
        if any(pe.dispatcher.priorities != prios for pe, prios in zip(self.pes, self.priorities)):
            return False
        if any(pe.level is not level for pe, level in zip(self.pes, self.levels)):
            return False
        groups = [g for g in self.chip.timer_groups.values() if g.pes]
        return len(groups) == 1 and groups[0] is self.timer and len(self.timer.pes) == len(self.pes)

    # ---- numerics state --------------------------------------------------------------------------------
    def read_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of every neuron PE's membranes, both input buffers and synaptic currents, flat."""
        v = np.zeros(self.n_state, np.float32)
        inp = np.zeros((2, self.n_state), np.float32)
        i_syn = np.zeros(self.n_state, np.float32)
        for u, fw in enumerate(self.firmwares):
            if self.kind[u] != 0:
                o = self.voff[u]
                v[o:o + fw.n] = fw.v
                inp[:, o:o + fw.n] = fw.inp
                if self.has_syn[u]:
                    i_syn[o:o + fw.n] = fw.i_syn
        return v, inp, i_syn

    def write_state(self, v: np.ndarray, inp: np.ndarray, i_syn: np.ndarray) -> None:
        for u, fw in enumerate(self.firmwares):
            if self.kind[u] != 0:
                o = self.voff[u]
                fw.v[...] = v[o:o + fw.n]
                fw.inp[...] = inp[:, o:o + fw.n]
                if self.has_syn[u]:
                    fw.i_syn[...] = i_syn[o:o + fw.n]

    def draw_inputs(self, t0: int, n_ticks: int) -> tuple[np.ndarray, np.ndarray]:
        """Each source's spikes for ticks ``t0`` .. ``t0 + n_ticks`` - 1 as its ``on_timer`` draws them (a
        Poisson source: one ``random(n)`` per tick from its own generator; a raster source: its row):
        flat indices and [tick * units + unit] offsets."""
        U = len(self.pes)
        chunks, ptr = [], np.zeros(n_ticks * U + 1, np.int64)
        total = 0
        for t in range(n_ticks):
            for u, fw in enumerate(self.firmwares):
                ptr[t * U + u] = total
                if self.kind[u] == 0:
                    if hasattr(fw, "rng"):
                        fired = np.flatnonzero(fw.rng.random(fw.n) < fw.p)
                    else:
                        tick = t0 + t
                        fired = (np.flatnonzero(fw.raster[tick]) if tick < len(fw.raster)
                                 else np.zeros(0, np.int64))
                    chunks.append(fired)
                    total += len(fired)
        ptr[n_ticks * U] = total
        return (np.concatenate(chunks) if chunks else np.zeros(0, np.int64)).astype(np.int64), ptr

    def counts(self, t: int) -> bool:
        """Tick ``t``'s numerics are modelled (every LIF tick's are)."""
        return True

    def window_inputs(self, t0: int, n_ticks: int) -> tuple[np.ndarray, np.ndarray, int]:
        """The sources' spikes of the window (``draw_inputs``) and the ticks whose numerics the loop runs (all)."""
        fired, ptr = self.draw_inputs(t0, n_ticks)
        return fired, ptr, n_ticks

    def dma_requests(self, n_ticks: int) -> tuple[np.ndarray, np.ndarray]:
        """Each tick's DMA per unit, as DRAM address and bytes (address -1: none; the LIF family DMAs nothing
        the loop models)."""
        U = len(self.pes)
        return np.full((n_ticks, U), -1, np.int64), np.zeros((n_ticks, U), np.int64)

    def tick_costs(self, n_ticks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per tick and unit whose numerics ran first: the timer callback's cost table, its counts
        [tick, unit, count id] and the route its packets take (-1: the unit's ``timer_table`` with the
        loop's own counts, and its ``route_of``; the LIF family's are fixed)."""
        U = len(self.pes)
        return (np.full((n_ticks, U), -1, np.int64), np.zeros((n_ticks, U, N_COUNTS)),
                np.full((n_ticks, U), -1, np.int64))

    def save(self) -> list:
        """What ``draw_inputs`` changes (the Poisson generators' states), for ``restore``."""
        return self.rng_states()

    def restore(self, saved: list) -> None:
        self.set_rng_states(saved)

    def commit_numerics(self, t: int, n: int, out: dict) -> None:
        """Write the window's numerics into the firmware: membranes, buffers, spike and voltage records."""
        U = len(self.pes)
        self.write_state(out["v"], out["inp"], out["i_syn"])
        fired, ptr, volt = out["fired"], out["fired_ptr"], out["volt"]
        for u, fw in enumerate(self.firmwares):
            kind = self.kind[u]
            if kind == 0 or (kind == 1 and fw.record) or (kind == 2 and fw.spiking):
                fw.spikes.extend(fired[ptr[k * U + u]:ptr[k * U + u + 1]] for k in range(n))
            if kind == 2:  # a NeuronCore records its voltages every tick
                o = self.voff[u]
                fw.voltages.extend(volt[k, o:o + fw.n].copy() for k in range(n))
        for group in self.lif_groups:
            ticks = group.ticks
            ticks.updates += n
            for m in range(ticks.n_members):
                ticks.ran[m] = t + n - 1
                ticks.pending[m] = None

    def rng_states(self) -> list:
        return [fw.rng.bit_generator.state if hasattr(fw, "rng") else None for fw in self.firmwares]

    def set_rng_states(self, states: list) -> None:
        for u, fw in enumerate(self.firmwares):
            if states[u] is not None:
                fw.rng.bit_generator.state = states[u]
