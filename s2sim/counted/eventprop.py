"""The EventProp family as the counted kernel sees it (``firmware_models/eventprop/firmware.py``).

Numerics first, timing second, as for e-prop: each tick of a window runs every copy's tick at once by
the firmware's group numerics (``LayerGroup.counted_tick``: the layer groups' forward or adjoint step;
``LossGroup.counted_loss``: the loss PEs' dL/dt; the injectors' events from their SRAM arrays) and hands
the packets to the copies their routes reach (``record_inputs``, ``record_errors``, ``take_loss``,
``record_first``: input spikes into the next tick's buffer and history, error events, dL/dt,
first-spike steps) under the nominal schedule (every packet of tick t in before tick t + 1): the same
numerics as each PE's ``tick_work`` and its receivers' ``take_packets``, which the event-driven kernel
runs (``vectorised = False`` runs those PE by PE; the tests hold the two equal). The loop then times
the tick from what that left: each PE's callback charges the priced lines of the tables its tick
names (``tick_costs``: a table and its counts per tick and PE), and sends its packets as one send loop
on the route of its keys (spikes, or error events with their payloads); each receiver's handler charges
the table of the route's kind (``receive_spikes``, ``receive_errors``, ``receive_loss``).

The forward, loss and backward ticks (2T of a batch's 2T + 3) are counted; the reduce tick (the
layer PEs' gradient DMA), the root's tick (its chain of DMA reads and Adam) and the weight
distribution run event-driven. Before a window the engine snapshots what a tick writes (``save``:
the groups' arrays and bookkeeping, the packet counters); a tick the loop does not model puts it back
and the ticks before it are rerun.

Not modelled (the whole run goes event-driven; ``NotModelled`` says why): group numerics off, more
than one PE per layer (several bursts reach a PE in one tick), loss shaping (the loss PE sends on two
routes in one loop), changed callback priorities, timers of different periods.
"""
from __future__ import annotations

import numpy as np

from .codes import (
    C_INPUT_SPIKES,
    C_OWN_SPIKES,
    C_SPIKES,
    K_PRECOMPUTED,
    N_COUNTS,
)
from .lif import (
    COUNT_IDS,
    LifModel,
    NotModelled,
    check_priorities,
    one_timer,
    restore_state,
    runs_only,
    save_state,
)



def eventprop_classes():
    """(InjectorCore, LayerCore, LossCore, RootCore), or None where the EventProp firmware is not importable."""
    try:
        from firmware_models.eventprop.firmware import (
            InjectorCore,
            LayerCore,
            LossCore,
            RootCore,
        )
    except ImportError:
        return None
    return InjectorCore, LayerCore, LossCore, RootCore


def is_eventprop(chip) -> bool:
    """Every loaded program is one of the EventProp programs."""
    return runs_only(chip, eventprop_classes())


class EventpropModel(LifModel):
    """The loaded EventProp programs of one chip as the loop's arrays; raises ``NotModelled`` if they are not."""

    #: a tick's numerics for every copy at once (False: PE by PE, each PE's own ``tick_work``)
    vectorised = True

    def __init__(self, chip):  # noqa: super().__init__ is the LIF family's: only the route and validity parts are shared
        from firmware_models.eventprop.firmware import (
            ERR_FLAG,
            SLICE_SHIFT,
            SPIKE_SHIFT,
        )
        self._err_flag = ERR_FLAG
        injector, layer, loss, root = eventprop_classes()
        self.chip = chip
        pes = chip.used_pes()
        self.pes, self.firmwares = pes, [pe.firmware for pe in pes]
        self.unit_of = {pe.id: u for u, pe in enumerate(pes)}
        fws = self.firmwares
        layers = [fw for fw in fws if type(fw) is layer]
        losses = [fw for fw in fws if type(fw) is loss]
        if not layers or sum(type(fw) is root for fw in fws) != 1:
            raise NotModelled("EventProp without layer PEs or with other than one root PE")
        self.layer_groups = list({id(fw.g): fw.g for fw in layers}.values())
        self.loss_groups = list({id(fw.g): fw.g for fw in losses}.values())
        if len(self.layer_groups) != len({(g.layer, g.start) for g in self.layer_groups}):
            raise NotModelled("EventProp numerics per core (group_numerics off)")
        if any(len(fw.err_route) > 1 or len(fw.pre_base) != 1 for fw in layers) \
                or any(len(fw.out_route) != 1 for fw in losses):
            raise NotModelled("EventProp with more than one PE per layer (mapping.pes_per_layer)")
        c = self.c = layers[0].g.c
        if c.shape_weight:
            raise NotModelled("EventProp loss shaping (the loss PE sends on two routes)")
        for pe in pes:
            check_priorities(pe)
        self.timer = one_timer(chip, pes)
        self.cnt = layers[0].cnt
        U = len(pes)
        self.kind = np.full(U, K_PRECOMPUTED, np.int64)
        self.pe_id = np.asarray([pe.id for pe in pes], np.int64)
        self.npc = np.asarray([pe.ns_per_cycle for pe in pes], float)
        # at most the packets a PE sends in one tick: its events, spikes, error events or dL/dt
        self.nneur = np.asarray([fw.n_in if type(fw) is injector else max(fw.g.n, fw.g.n_in) if type(fw) is layer
                                 else fw.g.n if type(fw) is loss else 0 for fw in fws], np.int64)
        self._no_neuron_state(U)
        # every key range a PE sends on (one route each) and what its receivers' handlers charge for it
        self._keys: list[tuple[int, int, int, str | None]] = []
        for u, fw in enumerate(fws):
            own = int(self.pe_id[u]) << SPIKE_SHIFT  # (a Python int: the routes walk its bits)
            if type(fw) is injector:
                self._keys.append((u, own, own | (fw.n_in - 1), "receive_spikes"))
            elif type(fw) is layer:
                self._keys.append((u, own, own | (fw.g.n - 1), "receive_spikes"))
                for start, stop, sl in fw.err_route:
                    err = ERR_FLAG | own | (sl << SLICE_SHIFT)
                    self._keys.append((u, err, err | (stop - start - 1), "receive_errors"))
            elif type(fw) is loss:
                for start, stop, sl in fw.out_route:
                    err = ERR_FLAG | own | (sl << SLICE_SHIFT)
                    self._keys.append((u, err, err | (stop - start - 1), "receive_loss"))
        self._routes(chip)
        self.base = np.full((U, U), -1, np.int64)
        self.rowoff = np.zeros(U, np.int64)
        self.row_ptr = np.zeros(1, np.int64)
        self.post_all = np.zeros(0, np.int64)
        self.weight_all = np.zeros(0, np.float32)
        # cost tables: each PE's priced tables, and the combinations a tick charges in a row (their lines in order)
        self.phases: list[str] = []
        tables: dict[tuple, int] = {(): 0}

        def table_id(lines: tuple) -> int:
            return tables.setdefault(lines, len(tables))

        self.tick_table: list[dict[tuple[str, ...], int]] = []  # per unit: names charged in a row -> table
        for fw in fws:
            costs = getattr(fw, "costs", {})
            combos = {(): 0}
            for name in costs:
                combos[(name,)] = table_id(costs[name].resolved_lines)
            if "error_events" in costs:
                combos[("backward_step", "error_events")] = table_id(
                    costs["backward_step"].resolved_lines + costs["error_events"].resolved_lines)
            self.tick_table.append(combos)
        self.timer_table = np.zeros(U, np.int64)
        self.syn_table = np.zeros(U, np.int64)
        self.j_table = np.zeros(len(self.j_unit), np.int64)
        self.route_handler: list[str] = []  # per route: the table its receivers charge
        for (u, base, _, handler) in self._keys:
            r = self.route_id[(u, base)]
            self.route_handler.append(handler)
            for ji in range(self.r_jptr[r], self.r_jptr[r + 1]):
                dest = self.j_unit[ji]
                if dest < 0 or (handler,) not in self.tick_table[dest]:
                    raise NotModelled(f"PE {self.pe_id[u]} sends to a PE that does not handle {handler}")
                self.j_table[ji] = self.tick_table[dest][(handler,)]
        self.n_tables = len(tables)
        self._take_costs_and_chip(chip, pes, list(tables), ("comms", "irq"))
        self.dests = [[self.firmwares[j] for j in self.j_unit[self.r_jptr[r]:self.r_jptr[r + 1]]]
                      for r in range(len(self.r_inj))]
        # per unit: its routes as (first key, last key, route), spikes first
        self.unit_routes: list[list[tuple[int, int, int]]] = [[] for _ in range(U)]
        for u, base, last, _ in self._keys:
            self.unit_routes[u].append((base, last, self.route_id[(u, base)]))
        self.tick_work = [getattr(fw, "tick_work", None) for fw in fws]
        self._copies(injector, layer, loss)

    def _copies(self, injector, layer, loss) -> None:
        """Each role's units per copy (the groups' member order), checked against the routes: a copy's
        spikes reach the next layer's (or its loss PE's) same copy, its errors the layer below's, its loss
        PE's dL/dt its output layer's; the vectorised ticks rely on it."""
        self.layer_groups.sort(key=lambda g: g.layer)
        if len(self.loss_groups) != 1 or any(g.start != 0 for g in self.layer_groups):
            raise NotModelled("EventProp with more than one loss group or a layer slice not at 0")
        lg, C = self.loss_groups[0], self.loss_groups[0].C
        by_role: dict = {}
        for u, fw in enumerate(self.firmwares):
            if type(fw) is layer:
                by_role[(id(fw.g), fw.m)] = u
            elif type(fw) is loss:
                by_role[(id(lg), fw.m)] = u
        try:
            self.layer_units = [np.asarray([by_role[(id(g), m)] for m in range(C)], np.int64) for g in self.layer_groups]
            self.loss_units = np.asarray([by_role[(id(lg), m)] for m in range(C)], np.int64)
        except KeyError:
            raise NotModelled("EventProp copies not all on this chip") from None
        if any(g.C != C for g in self.layer_groups):
            raise NotModelled("EventProp layer groups of different sizes")
        injectors = {self.unit_routes[u][0][2]: u for u, fw in enumerate(self.firmwares) if type(fw) is injector}
        inj_of_member = {}
        for r, u in injectors.items():
            reached = [self.unit_of[f.pe_id] for f in self.dests[r]]
            if len(reached) != 1 or reached[0] not in self.layer_units[0]:
                raise NotModelled("an EventProp injector not wired to one first-layer PE")
            inj_of_member[int(np.flatnonzero(self.layer_units[0] == reached[0])[0])] = u
        if sorted(inj_of_member) != list(range(C)):
            raise NotModelled("EventProp copies without their injector")
        self.inj_units = np.asarray([inj_of_member[m] for m in range(C)], np.int64)
        self.injectors = [self.firmwares[u] for u in self.inj_units]

        def route_to(u: int, err: bool, targets: np.ndarray) -> int:
            for base, _, r in self.unit_routes[u]:
                if bool(base & self._err_flag) == err:
                    if [self.unit_of[f.pe_id] for f in self.dests[r]] != [targets]:
                        raise NotModelled("EventProp routes not copy to copy")
                    return r
            raise NotModelled("an EventProp PE without its route")

        L = len(self.layer_groups)
        self.spike_route = [np.asarray([route_to(u, False, (self.layer_units[l + 1] if l + 1 < L else self.loss_units)[m])
                                        for m, u in enumerate(units)], np.int64)
                            for l, units in enumerate(self.layer_units)]
        self.err_route = [None] + [np.asarray([route_to(u, True, self.layer_units[l - 1][m]) for m, u in enumerate(units)],
                                              np.int64) for l, units in enumerate(self.layer_units) if l > 0]
        self.loss_route = np.asarray([route_to(u, True, self.layer_units[-1][m]) for m, u in enumerate(self.loss_units)],
                                     np.int64)
        self.inj_route = np.asarray([self.unit_routes[u][0][2] for u in self.inj_units], np.int64)

        def tids(units: np.ndarray, *names: str) -> np.ndarray:
            return np.asarray([self.tick_table[u][names] for u in units], np.int64)

        self.inj_tid = tids(self.inj_units, "inject")
        self.start_tid = [tids(units, "batch_start") for units in self.layer_units]
        self.forward_tid = [tids(units, "forward_step") for units in self.layer_units]
        self.backward_tid = [tids(units, "backward_step") for units in self.layer_units]
        self.errors_tid = [None] + [tids(units, "backward_step", "error_events") for units in self.layer_units[1:]]
        self.loss_start_tid = tids(self.loss_units, "batch_start")
        self.loss_tid = tids(self.loss_units, "loss")

    def _route_keys(self):
        for u, base, last, _ in self._keys:
            yield u, base, last

    # ---- numerics ------------------------------------------------------------------------------------------
    def counts(self, t: int) -> bool:
        """Tick ``t`` is a forward, loss or backward tick (not the reduce, the root's or the weight tick, nor
        a tick the copies wait in for the root's weights), in the schedule as the stalls so far moved it
        (``batch_sync.BatchSchedule``: every copy's PE takes the same hold and ready)."""
        schedule = self.layer_groups[0].schedule
        return not schedule.idle(t) and schedule.phase(t) < 2 * self.c.n_steps

    def window_inputs(self, t0: int, n_ticks: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Run ticks ``t0`` .. (at most ``n_ticks``) by the firmware's own numerics, stopping before the first
        tick the loop does not model; returns each PE's packets per tick ([tick * units + unit] offsets; the
        loop only counts them) and the ticks run. Per tick and PE it also keeps the table, counts and
        route the loop charges (``tick_costs``)."""
        U = len(self.firmwares)
        sizes = np.zeros(n_ticks * U, np.int64)
        self.tu_table = np.zeros((n_ticks, U), np.int64)
        self.tu_counts = np.zeros((n_ticks, U, N_COUNTS))
        self.tu_route = np.full((n_ticks, U), -1, np.int64)
        done = 0
        if self.vectorised:
            self._load_events()
            self._rows: dict[tuple, tuple[list, list]] = {}  # what the ticks write per role, written at the end
        for k in range(n_ticks):
            tick = t0 + k
            if not self.counts(tick):
                break
            (self._tick_all if self.vectorised else self._tick)(k, tick, sizes[k * U:(k + 1) * U])
            done = k + 1
        if self.vectorised:
            self._write_rows(sizes.reshape(n_ticks, U))
        ptr = np.zeros(done * U + 1, np.int64)
        np.cumsum(sizes[:done * U], out=ptr[1:])
        return np.zeros(int(ptr[-1]), np.int64), ptr, done

    def _load_events(self) -> None:
        """The injectors' events (``InjectorCore.load_raster``: (step, channel) sorted by step) of every copy,
        as arrays: the read pointer of each step per copy, (copy, channel) of every event by step, copy and
        channel, and where each step's events start."""
        injectors = self.injectors
        self.inj_at = np.asarray([inj._at_step for inj in injectors], np.int64)
        ev_copy = np.concatenate([np.full(len(inj.ev_step), m, np.int64) for m, inj in enumerate(injectors)])
        ev_chan = np.concatenate([inj.ev_chan for inj in injectors]).astype(np.int64)
        ev_step = np.concatenate([inj.ev_step for inj in injectors]).astype(np.int64)
        # by step, then copy, then channel (stable: equal events keep their order), and where each step starts
        order = np.lexsort((ev_chan, ev_copy, ev_step))
        self.ev_copy, self.ev_chan = ev_copy[order], ev_chan[order]
        self.ev_at = np.searchsorted(ev_step[order], np.arange(self.c.n_steps + 1)).tolist()

    def _row(self, field: str, k: int, units: np.ndarray, values) -> None:
        """Tick ``k`` gives ``units`` these ``values`` of ``field`` (``table``, ``route``, ``sent`` or a count
        column): kept per (field, units) and written for the whole window at once (``_write_rows``)."""
        ks, rows = self._rows.setdefault((field, id(units)), ([], []))
        ks.append(k)
        rows.append((units, values))

    def _write_rows(self, sent: np.ndarray) -> None:
        """Every ``_row`` of the window into the loop's per-(tick, PE) arrays, one assignment per (field, units)
        (a tick gives each unit each field at most once: the order of the writes does not matter)."""
        for (field, _), (ks, rows) in self._rows.items():
            units = rows[0][0]
            at = (np.asarray(ks)[:, None], units[None, :])
            values = np.asarray([v for _, v in rows])  # (each an array over ``units``)
            if field == "table":
                self.tu_table[at] = values
            elif field == "route":
                self.tu_route[at] = values
            elif field == "sent":
                sent[at] = values
            else:
                self.tu_counts[at + (field,)] = values
        self._rows = {}

    def _tick_all(self, k: int, tick: int, sent: np.ndarray) -> None:
        """One tick of every copy at once: the groups' own ticks (``LayerGroup.counted_tick``, the loss PEs'
        ``LossGroup.counted_loss``) and their packets' handlers (``record_inputs``, ``record_errors``,
        ``take_loss``, ``record_first``), the same numerics as each PE's ``tick_work`` and ``take_packets``
        (``vectorised = False`` runs those: the tests hold the two equal); per PE what the loop charges and sends."""
        row = self._row
        c, cnt = self.c, self.cnt
        T, phi = c.n_steps, self.layer_groups[0].schedule.phase(tick)
        lg = self.loss_groups[0]
        events = None
        if phi < T:  # the injectors: the events of step phi
            u = self.inj_units
            m = self.inj_at[:, phi + 1] - self.inj_at[:, phi]
            row("table", k, u, self.inj_tid)
            row(C_SPIKES, k, u, m)
            row("sent", k, u, m)
            row("route", k, u, self.inj_route)
            cnt.spike_packets += int(m.sum())
            a, b = self.ev_at[phi], self.ev_at[phi + 1]
            if b > a:  # each copy's channels ascending
                events = self.ev_copy[a:b], self.ev_chan[a:b]
        outs = [g.counted_tick(tick) for g in self.layer_groups]
        loss_events = None
        if phi == 0:
            lg.first[...] = T
            row("table", k, self.loss_units, self.loss_start_tid)
        elif phi == T:
            rows, idx, vals = lg.counted_loss(tick)
            active = self.loss_units[lg.active]
            table = self.tu_table[k]  # (once a batch: which loss PEs are active varies)
            table[active] = self.loss_tid[lg.active]
            n = np.bincount(rows, minlength=lg.C)
            row("sent", k, self.loss_units, n)
            row("route", k, self.loss_units, self.loss_route)
            cnt.loss_packets += len(rows)
            loss_events = rows, idx, vals
        # the handlers (the nominal schedule: every packet of the tick in before the next)
        L = len(self.layer_groups)
        if events is not None:
            self.layer_groups[0].record_inputs(tick, phi, *events)
        for l, (g, out) in enumerate(zip(self.layer_groups, outs)):
            units, kind = self.layer_units[l], out["kind"]
            if kind == "batch_start":
                row("table", k, units, self.start_tid[l])
            elif kind == "forward":
                n = out["spikes"]
                row("table", k, units, self.forward_tid[l])
                row(C_SPIKES, k, units, n)
                row("sent", k, units, n)
                row("route", k, units, self.spike_route[l])
                cnt.spike_packets += int(n.sum())
                if len(out["rows"]):
                    if l + 1 < L:
                        self.layer_groups[l + 1].record_inputs(tick, phi, out["rows"], out["idx"])
                    else:
                        lg.record_first(phi, out["rows"], out["idx"])
            elif kind == "backward":
                inputs = out["inputs"]
                row(C_OWN_SPIKES, k, units, out["own"])
                row(C_INPUT_SPIKES, k, units, inputs)
                if out["errors"] is None:
                    row("table", k, units, self.backward_tid[l])
                else:
                    ci, ii, errs = out["errors"]
                    row("table", k, units, np.where(inputs > 0, self.errors_tid[l], self.backward_tid[l]))
                    row("sent", k, units, inputs)
                    row("route", k, units, self.err_route[l])
                    cnt.error_packets += len(ci)
                    self.layer_groups[l - 1].record_errors(tick, ci, ii, errs)
        if loss_events is not None and len(loss_events[0]):
            self.layer_groups[-1].take_loss(*loss_events)

    def _tick(self, k: int, tick: int, sent: np.ndarray) -> None:
        """One tick's numerics, and per PE what the loop charges and sends, PE by PE (the firmware's own
        ``tick_work`` and ``take_packets``). What the static checks rule out
        (a PE charging tables in an order not declared, keys off its routes, two bursts reaching one PE)
        is a bug of this model, not a departure from the nominal schedule: it raises."""
        table, counts, route = self.tu_table[k], self.tu_counts[k], self.tu_route[k]
        bursts = []
        for u, work in enumerate(self.tick_work):
            if work is None:
                continue  # (the root: nothing to do in these ticks)
            charges, keys, payloads = work(tick)
            names = tuple(name for name, _ in charges)
            tid = self.tick_table[u].get(names)
            if tid is None:
                raise RuntimeError(f"counted EventProp: PE {self.pe_id[u]} charged {names}, not a declared combination")
            table[u] = tid
            for _, by_name in charges:
                for name, value in by_name.items():
                    counts[u, COUNT_IDS[name]] = value
            if keys:
                r = self._route_of_keys(u, keys)
                route[u] = r
                sent[u] = len(keys)
                bursts.append((r, keys, payloads))
        # the nominal schedule: every packet of the tick in its receivers' buffers before the next tick;
        # one burst per receiver (the handlers' order within a tick does not matter then)
        reached = set()
        for r, keys, payloads in bursts:
            handler = self.route_handler[r]
            for fw in self.dests[r]:
                charged = fw.take_packets(tick, keys, payloads)
                if id(fw) in reached or len(charged) != 1 or charged[0][0] != handler:
                    raise RuntimeError(f"counted EventProp: a burst's handler charged {charged}, expected one "
                                       f"{handler} per PE and tick")
                reached.add(id(fw))

    def _route_of_keys(self, u: int, keys: list[int]) -> int:
        """The route of unit ``u`` all ``keys`` take (one send loop, one route)."""
        lo, hi = min(keys), max(keys)
        for base, last, r in self.unit_routes[u]:
            if base <= lo and hi <= last:
                if len(keys) > self.nneur[u]:
                    break
                return r
        raise RuntimeError(f"counted EventProp: PE {self.pe_id[u]} sent keys off its routes or more than it can")

    def tick_costs(self, n_ticks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.tu_table[:n_ticks], self.tu_counts[:n_ticks], self.tu_route[:n_ticks]

    def dma_requests(self, n_ticks: int) -> tuple[np.ndarray, np.ndarray]:
        U = len(self.pes)
        return np.full((n_ticks, U), -1, np.int64), np.zeros((n_ticks, U), np.int64)

    def read_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.zeros(0, np.float32), np.zeros((2, 0), np.float32), np.zeros(0, np.float32)

    def commit_numerics(self, t: int, n: int, out: dict) -> None:
        """Nothing to write: ``window_inputs`` ran the numerics on the firmware's own state."""

    # ---- undo ----------------------------------------------------------------------------------------------
    def _objects(self) -> list:
        groups = self.layer_groups + self.loss_groups
        return [*groups, *(g.ticks for g in self.layer_groups), self.cnt]

    def save(self) -> list[dict]:
        """What a tick writes: every array of the groups, and the plain values and lists of the groups, their
        tick bookkeeping and the packet counters (dicts and tuples are per-tick results and caches, which a
        tick replaces, not changes)."""
        return save_state(self._objects())

    def restore(self, saved: list[dict]) -> None:
        restore_state(self._objects(), saved)
