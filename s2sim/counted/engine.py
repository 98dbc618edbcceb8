"""The window driver of the ``counted`` kernel: runs a chip's ticks in windows through the compiled
loop, and hands every stretch the loop does not model to the event-driven kernel (``fast`` rules).

Guard and fallback live here, in one place:

* *static* (the whole run goes event-driven): a trace recorder, DVFS, packet-level NoC fidelity, a
  board split over MPI ranks, e-prop on a board of several chips, a firmware family the counted
  kernel does not cover yet, timers of different periods or phases (a LIF board is counted: its chip
  links are in the loop, ``_BoardLinks`` books their load into ``BoardNoC``);
* *at a window's start*: work carried over from the ticks before (a callback, handler, booking or
  delivery still pending: the chip is not quiescent) -> that tick runs event-driven;
* *inside a window*: the loop returns the first tick that leaves its model (``loop.REASONS``: an
  overrun, a late packet, a full TX queue, a drop, ...). Nothing was written to the chip or the
  firmware yet (the loop works on copies; the Poisson generators' states are put back), so the
  ticks before it are rerun and committed, and the event-driven kernel runs that tick
  (``EVENT_TICKS``); then counting resumes where the chip is quiescent again.

The summary's ``simulator`` section counts windows and ticks on each path (``summary``).
"""
from __future__ import annotations

import sys

import numpy as np
from simpy.core import URGENT
from simpy.events import Event

from ..hw.events import TimerTick
from .checks import check_model, check_window
from .codes import K_PRECOMPUTED, K_SOURCE, OK, R_UNMODELLED, REASONS
from .lif import LifModel, NotModelled

#: ticks per counted window
WINDOW_TICKS = 64
#: ticks run event-driven after a fallback before counting is tried again
EVENT_TICKS = 1
#: two times closer than this (ns, plus a few dozen ulps of the time: SimPy adds and subtracts
#: ``now`` when it schedules, so it may order them either way) count as one instant
EPS_NS = 1e-9


def _model_of(chip) -> LifModel:
    """The arrays of the loaded family (``NotModelled`` if the counted kernel does not cover it)."""
    from .cue import CueModel, is_cue
    from .eprop import EpropModel, is_eprop
    from .eventprop import EventpropModel, is_eventprop
    if is_cue(chip):
        return CueModel(chip)
    if is_eventprop(chip):
        return EventpropModel(chip)
    return EpropModel(chip) if is_eprop(chip) else LifModel(chip)


def _step_extras(model, n: int, U: int) -> tuple:
    """What only some families' steps have (cue accumulation, ``CueModel.step_extras``): a table charged
    after the sends, one handler per packet, the step's synaptic events; by default none of them."""
    extras = getattr(model, "step_extras", None)
    if extras is not None:
        return extras(n)
    return np.full(U, -1, np.int64), np.zeros(U, bool), np.zeros((n, U), np.int64)


class _BoardLinks:
    """A window's chip-link load, as the loop counts it, and how it goes into ``BoardNoC``'s counters."""

    def __init__(self, chip, model: LifModel, n: int, starts):
        links = len(model.clink_keys)
        tick_ns = getattr(chip.noc, "tick_ns", None) or 0.0
        self.tick_ns = float(tick_ns)
        # timestep bins as ``BoardNoC._count_link`` makes them; a window's fit in n + 2 from its first tick's
        self.bin0 = int(starts[0] // tick_ns) if tick_ns and n else 0
        self.packets = np.zeros(links, np.int64)
        self.tick = np.zeros((n + 2 if links else 1, links), np.int64)
        before = getattr(chip.noc, "link_busy_until_ns", {})
        self.busy = np.asarray([before.get(k, 0.0) for k in model.clink_keys], float)

    def commit(self, noc, keys: list) -> None:
        """Add the committed ticks' link loads (``link_packets``, ``link_tick_packets``,
        ``link_busy_until_ns``, ``chip_link_crossings``)."""
        used = np.flatnonzero(self.packets)
        if not len(used):
            return
        noc.chip_link_crossings += int(self.packets.sum())
        for li in used.tolist():
            key = keys[li]
            noc.link_packets[key] += int(self.packets[li])
            per_tick = noc.link_tick_packets[key]
            for b in np.flatnonzero(self.tick[:, li]).tolist():
                per_tick[self.bin0 + b] += int(self.tick[b, li])
            noc.link_busy_until_ns[key] = float(self.busy[li])


class _SparseRows:
    """The sparse-row-index arrays the loop reads (``LifModel._rows``; a model without them: all dense)."""

    def __init__(self, model: LifModel):
        U = len(model.pes)
        self.sparse = getattr(model, "sparse", None)
        if self.sparse is None:
            self.sparse = np.zeros(U, bool)
        self.search_steps = getattr(model, "search_steps", np.zeros(U, np.int64))
        self.fanout_noff = getattr(model, "fanout_noff", np.full(U, -1, np.int64))
        self.fanout_ptr = getattr(model, "fanout_ptr", np.zeros(1, np.int64))
        self.fanout_unit = getattr(model, "fanout_unit", np.zeros(0, np.int32))
        self.fanout_sptr = getattr(model, "fanout_sptr", np.zeros(1, np.int64))
        self.fanout_post = getattr(model, "fanout_post", np.zeros(0, np.int64))
        self.fanout_weight = getattr(model, "fanout_weight", np.zeros(0, np.float32))


class CountedEngine:
    def __init__(self, chip):
        self.chip = chip
        self._model: LifModel | None = None
        self._model_key: tuple | None = None
        self._static: str | None = None
        self.window_ticks: int | None = None  # ticks per window (None: the model's ``window_ticks``, or WINDOW_TICKS)
        #: counted windows, event-driven ones, and counted ones cut short by the guard
        self.windows = {"counted": 0, "event_driven": 0, "cut_short": 0}
        self.ticks = {"counted": 0, "event_driven": 0}
        self.fallbacks: dict[str, int] = {}  # reason -> windows that fell back for it

    # ---- what the summary shows ------------------------------------------------------------------------
    def summary(self) -> dict:
        return {"counted_windows": dict(self.windows), "counted_ticks": dict(self.ticks),
                "counted_fallbacks": dict(sorted(self.fallbacks.items()))}

    def _fallback(self, reason: str) -> None:
        self.fallbacks[reason] = self.fallbacks.get(reason, 0) + 1

    # ---- static coverage -----------------------------------------------------------------------------
    def _model_for_run(self) -> LifModel | None:
        chip = self.chip
        key = tuple((pe.id, id(pe.firmware)) for pe in chip.used_pes())
        if key != self._model_key or (self._model is not None and not self._model.still_valid()):
            self._model_key, self._model, self._static = key, None, None
            if chip.recorder is not None:
                self._static = "trace recorder attached"
            elif chip.fidelity != "burst":
                self._static = "packet-level NoC fidelity"
            elif chip.n_chips > 1 and hasattr(chip, "comm"):  # (``MpiBoard`` runs its own windows)
                self._static = "a board split over MPI ranks"
            else:
                try:
                    model = _model_of(chip)
                    if chip.n_chips > 1 and type(model) is not LifModel:  # (its DMAs: each chip's DRAM)
                        raise NotModelled(f"{type(model).__name__} on a board of several chips")
                    check_model(model)
                    self._model = model
                    from . import loop
                except NotModelled as err:
                    self._static = str(err)
                except ImportError as err:  # numba is installed but does not import
                    self._model, self._static = None, f"numba does not import ({err})"
                    print(f"s2sim: the counted kernel runs as fast: numba does not import ({err})", file=sys.stderr)
        reason = "DVFS" if chip.dvfs_policy is not None else self._static
        if reason is not None:
            self._fallback(f"not counted: {reason}")
            return None
        return self._model

    # ---- running ticks -----------------------------------------------------------------------------------
    def run_ticks(self, n_ticks: int, drain_ns: float | None) -> None:
        chip = self.chip
        model = self._model_for_run() if n_ticks > 0 else None
        timer = model.timer if model is not None else None
        if timer is None or timer.next_tick != chip.tick_limit or timer.armed:
            if model is not None:
                self._fallback("not counted: timer state")
            self.windows["event_driven"] += 1
            self.ticks["event_driven"] += n_ticks
            chip.run_ticks_event_driven(n_ticks, drain_ns)
            return
        env = chip.env
        t_first = timer.next_tick
        t_end = t_first + n_ticks
        until = timer.time_of(t_end - 1) + (timer.period_ns if drain_ns is None else drain_ns)
        u0 = env.now
        if until <= u0:
            chip.run_ticks_event_driven(n_ticks, drain_ns)
            return
        chip.tick_limit = t_end  # as the event-driven run_ticks sets it: a fire arms the next tick
        stop = self._event_at(until, u0)  # what env.run(until) would schedule, from the call's start
        until_at = u0 + (until - u0)
        t = t_first
        window = self.window_ticks or getattr(model, "window_ticks", WINDOW_TICKS)
        while t < t_end:
            w_end = min(t + window, t_end)
            if self._quiescent(model, t, stop):
                self._disarm(timer)
                b, reason = self._counted(model, t, w_end, t_first, u0, until_at)
                if b > t:
                    self._arm_after(timer, b, t_end)
                    if b < w_end:
                        self.windows["cut_short"] += 1
                t = b
                if b == w_end:
                    continue
                self._fallback(REASONS[reason])
            else:
                self._fallback("work carried over from the ticks before")
            e_end = min(t + EVENT_TICKS, t_end)
            self._event_driven(timer, t, e_end, t_end, t_first, stop)
            t = e_end
        if stop.callbacks is not None:  # not processed yet
            env.run(until=stop)
        chip.flush_stats()

    def _event_at(self, t_ns: float, now: float) -> Event:
        """An URGENT event at ``t_ns`` scheduled now (= ``now``), as ``simpy.Environment.run`` makes its
        ``until``: the call ends at the instant the event-driven kernel would end it."""
        env = self.chip.env
        ev = Event(env)
        ev._ok, ev._value = True, None
        env.schedule(ev, URGENT, t_ns - now)
        return ev

    def _event_driven(self, timer, t: int, w_end: int, t_end: int, t_first: int, stop: Event) -> None:
        """Ticks ``t`` .. ``w_end`` - 1 on the event-driven kernel; it stops just before tick ``w_end``
        fires (the next window may be counted), or at the call's end."""
        env = self.chip.env
        self.windows["event_driven"] += 1
        self.ticks["event_driven"] += w_end - t
        if not timer.armed:  # (a counted window took it back, or this is the call's first tick)
            if t == t_first:
                timer.arm()  # as run_ticks arms it, at the call's start
            else:
                self._arm_after(timer, t, t_end)
        if w_end == t_end:
            env.run(until=stop)
            return
        pause = timer.time_of(w_end) - 10 * EPS_NS
        if pause > env.now:
            env.run(until=pause)

    def _arm_after(self, timer, t: int, t_end: int) -> None:
        """Counted ticks up to ``t`` - 1 were committed: arm tick ``t`` as the fire of ``t`` - 1 arms it
        (``TimerGroup.fire``: at that instant, so the same float arithmetic gives its time)."""
        if t >= t_end:
            return
        env = self.chip.env
        saved = env._now
        env._now = self.chip.tick_time(timer.pes[0], t - 1)
        timer.arm()
        env._now = saved

    def _disarm(self, timer) -> None:
        """Take back the armed next tick (``_quiescent`` found it the only thing pending): the counted
        window fires its ticks itself."""
        if not timer.armed:
            return
        events = self.chip.events
        for t_ns, group in list(events._due.items()):
            if len(group) == 1 and type(group[0]) is TimerTick:
                del events._due[t_ns]
                for entry in self.chip.env._queue:
                    ev = entry[3]
                    if ev.callbacks and getattr(ev, "_value", None) == t_ns and events._run_due in ev.callbacks:
                        ev.callbacks.remove(events._run_due)
                        break
        timer.armed = False

    def _quiescent(self, model: LifModel, t: int, stop: Event) -> bool:
        """Nothing pending before tick ``t``: no event but the call's stop and the armed tick ``t``,
        every PE idle."""
        chip, env = self.chip, self.chip.env
        due = chip.events._due
        if chip.events._bookings or len(due) > 1:
            return False
        armed_at = None
        if due:
            (armed_at, group), = due.items()
            if not model.timer.armed or len(group) != 1 or type(group[0]) is not TimerTick \
                    or model.timer.next_tick != t:
                return False
        for entry in env._queue:  # (a stop of an earlier env.run stays queued without callbacks: a no-op)
            ev = entry[3]
            if ev is stop or not ev.callbacks:
                continue
            if armed_at is not None and getattr(ev, "_value", None) == armed_at:
                continue
            return False
        for pe in model.pes:
            d = pe.dispatcher
            if d.running is not None or d.tasks_outstanding or d.in_preempt or any(d.queues):
                return False
            if pe.sends.pending or pe.sends.closed or pe.tick != t - 1:
                return False
            engine = chip.dmas[pe.id]
            if engine.busy or engine.queue:
                return False
            free = pe.preemption.free_ns  # (0.0: no handler ever ran)
            if free > 0.0 and free >= model.timer.time_of(t) - EPS_NS:
                return False
        return True

    # ---- a counted stretch ---------------------------------------------------------------------------------
    def _tick_starts(self, timer, t: int, n: int, t_first: int, u0: float, until_at: float):
        """When ticks ``t`` .. ``t + n - 1`` fire (each armed at the previous fire, the call's first at
        its start: ``TimerGroup.arm``, ``EventQueue.call_at``), and the instant each tick's work must
        end before (the next fire, or the call's end)."""
        now = u0 if t == t_first else self.chip.tick_time(timer.pes[0], t - 1)
        starts = np.empty(n)
        for k in range(n):
            target = timer.time_of(t + k)
            t_ns = target if target >= now else now
            delay = t_ns - now
            now = now + (delay if delay > 0.0 else 0.0)
            starts[k] = now
        bounds = np.empty(n)
        bounds[:-1] = starts[1:]
        nxt = timer.time_of(t + n)
        last = starts[-1]
        delay = (nxt if nxt >= last else last) - last
        bounds[-1] = min(last + (delay if delay > 0.0 else 0.0), until_at)
        return starts, bounds

    def _counted(self, model: LifModel, t: int, w_end: int, t_first: int, u0: float, until_at: float):
        """Run ticks ``t`` .. ``w_end`` - 1 in the loop; commit what it modelled. Returns (first tick not
        committed, reason code)."""
        if not model.counts(t):
            return t, R_UNMODELLED
        starts, bounds = self._tick_starts(model.timer, t, w_end - t, t_first, u0, until_at)
        saved = model.save()
        out = self._loop(model, t, w_end - t, starts, bounds)
        done, reason = out["ticks"], out["reason"]
        if done == 0:
            model.restore(saved)
            return t, reason
        if reason != OK and done < out["numerics_ticks"]:  # the loop stopped before the numerics did
            model.restore(saved)
            if done == 0:
                return t, reason
            out = self._loop(model, t, done, starts[:done], bounds[:done])  # the same, stopping before it
            assert out["reason"] == OK and out["ticks"] == done
        self._commit(model, t, done, starts, out)
        return t + done, reason

    def _loop(self, model: LifModel, t: int, n: int, starts, bounds) -> dict:
        chip = self.chip
        n_window = n
        U, P = len(model.pes), len(model.phases)
        src_fired, src_ptr, n_numerics = model.window_inputs(t, n)
        if n_numerics < n:  # the model's numerics stop before a tick they do not model
            if n_numerics == 0:
                return {"ticks": 0, "reason": R_UNMODELLED}
            n, starts, bounds = n_numerics, starts[:n_numerics], bounds[:n_numerics]
        v, inp, i_syn = model.read_state()
        volt = np.zeros((n, model.n_state), np.float32)
        free = chip.noc.link_free_ns
        link_free = np.asarray([free.get(k, 0.0) for k in model.link_keys], float)
        link_before = link_free.copy()
        pre_free = np.asarray([pe.preemption.free_ns for pe in model.pes], float)
        tx_free = np.asarray([pe.tx.free_ns for pe in model.pes], float)
        last_send = np.asarray([pe.sends.last_send_ns for pe in model.pes], float)
        done = np.zeros((n, U))
        ph = np.zeros((n, U, P))
        seen = np.zeros((n, U, P), bool)
        pin = np.zeros((n, U), np.int64)
        pout = np.zeros((n, U), np.int64)
        fired = np.empty(n * (model.n_state + int(model.nneur[(model.kind == K_SOURCE) | (model.kind == K_PRECOMPUTED)].sum())), np.int64)
        fired_ptr = np.zeros(n * U + 1, np.int64)
        cnt = np.zeros((U, 3), np.int64)
        # busy cycles go on from the counters too (``PE.count_busy``: one addition per callback)
        busy = np.asarray([chip.counters.cycles_by_level[pe.id].get(pe.level.name, 0.0) for pe in model.pes], float)
        # the bracket deltas go on from the counters' values, one addition per kernel line as
        # ``ExecutionContext.book_bracket`` makes them (the same sums, not a window's sum added once)
        brk = np.zeros((U, P, 3))
        for u, pe in enumerate(model.pes):
            for phase, d in chip.counters.bracket_delta[pe.id].items():
                if phase in model.phases:
                    brk[u, model.phases.index(phase)] = d
        brk_seen = np.zeros((U, P), bool)
        machine = np.zeros(4, np.int64)
        dma_address, dma_nbytes = model.dma_requests(n)
        hw = chip.p
        dram_free = np.asarray(chip.dram.channel_free_ns, float)
        tu_table, tu_counts, tu_route = model.tick_costs(n)
        board = _BoardLinks(chip, model, n, starts)
        sp = _SparseRows(model)
        check_window(model, n, src_fired, src_ptr, link_free, board.tick.shape[0])
        from .loop import run_window  # (numba: imported when a window is first counted)
        c = model.costs
        ticks, reason = run_window(
            t, n, starts, bounds, EPS_NS,
            model.kind, model.pe_id, model.npc, model.nneur, model.voff, model.sends, model.route_of,
            model.timer_table, model.syn_table,
            v, inp, model.alpha, model.thr, model.reset_zero, model.coef, i_syn, model.has_syn, model.spiking, volt,
            src_fired, src_ptr,
            model.r_inj, model.r_src_node, model.r_eptr, model.e_from, model.e_to, model.e_link,
            model.r_jptr, model.j_unit, model.j_node, model.j_link, model.r_dropped, model.n_routes_deliv,
            model.n_nodes, link_free, model.rowoff, model.row_ptr, model.post_all, model.weight_all, model.base,
            c.ln_table, c.ln_phase, c.ln_count, c.ln_tptr, c.t_per, c.t_k, c.t_nom, c.t_low, c.t_high, c.t_kern,
            model.send_cycles, model.irq_cycles, model.ser, model.inject_ns, model.eject_ns, model.hop_ns,
            model.tx_size, model.phases.index("comms"), model.phases.index("irq"),
            pre_free, tx_free, last_send, done, ph, seen, pin, pout, fired, fired_ptr, cnt, busy, brk, brk_seen,
            machine, dma_address, dma_nbytes, hw.dma_issue_cycles, hw.dma_setup_cycles,
            model.phases.index("dma_setup") if "dma_setup" in model.phases else 0,
            dram_free, hw.dram_interleave_bytes, hw.dram_channels, hw.dram_latency_ns, hw.dram_channel_bytes_per_ns,
            *_step_extras(model, n, U), tu_table, tu_counts, tu_route, model.j_table,
            model.e_clink, model.j_spread, model.clink_ser_ns, model.clink_after_ns, board.tick_ns, board.bin0,
            board.packets, board.tick, board.busy, sp.sparse, sp.search_steps, sp.fanout_noff, sp.fanout_ptr,
            sp.fanout_unit, sp.fanout_sptr, sp.fanout_post, sp.fanout_weight)
        if reason == OK and n < n_window:
            reason = R_UNMODELLED
        return {"ticks": int(ticks), "reason": int(reason), "numerics_ticks": n, "v": v, "inp": inp, "i_syn": i_syn, "volt": volt,
                "link_free": link_free,
                "link_before": link_before, "pre_free": pre_free, "tx_free": tx_free, "last_send": last_send,
                "done": done, "ph": ph, "seen": seen, "pin": pin, "pout": pout,
                "fired": fired[:fired_ptr[-1]].copy() if n else fired[:0], "fired_ptr": fired_ptr, "cnt": cnt,
                "busy": busy, "brk": brk, "brk_seen": brk_seen, "machine": machine, "dram_free": dram_free,
                "dma_nbytes": np.where(dma_address >= 0, dma_nbytes, 0), "board": board}

    def _commit(self, model: LifModel, t: int, n: int, starts, out: dict) -> None:
        """Write ``n`` modelled ticks into the chip and the firmware, as the event-driven kernel leaves them."""
        chip, c = self.chip, self.chip.counters
        phases = model.phases
        self.windows["counted"] += 1
        self.ticks["counted"] += n
        model.commit_numerics(t, n, out)
        stats = chip.stats
        done, ph, seen, pin, pout = out["done"], out["ph"], out["seen"], out["pin"], out["pout"]
        for u, pe in enumerate(model.pes):
            pe.rows.flush()
        stats.add_block(t, [pe.id for pe in model.pes], [pe.level.name for pe in model.pes], phases,
                        done[:n], ph[:n], seen[:n], pin[:n], pout[:n])
        # (numpy values as Python ones once: the same ints and floats, without a scalar per PE and field)
        cnt, busy, brk = out["cnt"].tolist(), out["busy"].tolist(), out["brk"]
        seen_u, seen_p = np.nonzero(out["brk_seen"])
        brk_of = {}
        for u, p, values in zip(seen_u.tolist(), seen_p.tolist(), brk[seen_u, seen_p].tolist()):
            brk_of.setdefault(u, []).append((phases[p], values))
        last_tick, last_start = t + n - 1, float(starts[n - 1])
        for u, (pe, (n_callbacks, n_sent, n_received), pre_free, tx_free, last_send) in enumerate(zip(
                model.pes, cnt, out["pre_free"].tolist(), out["tx_free"].tolist(), out["last_send"].tolist())):
            i = pe.id
            c.callbacks[i] += n_callbacks
            c.packets_sent[i] += n_sent
            c.packets_received[i] += n_received
            if n_callbacks:  # (callbacks ran: the level's count exists, as count_busy makes it)
                c.cycles_by_level[i][pe.level.name] = busy[u]
            if u in brk_of:
                c.bracket_delta[i].update(brk_of[u])
            pe.tick = last_tick
            pe.tick_start_ns = last_start
            pe.preemption.free_ns = pre_free
            pe.preemption.intervals = []
            pe.tx.free_ns = tx_free
            pe.sends.last_send_ns = last_send
            rows = pe.rows
            rows.row, rows.phases, rows.done_ns, rows.packets_in, rows.packets_out = last_tick, {}, 0.0, 0, 0
        dma = out["dma_nbytes"][:n]
        if dma.any():  # the input prefetches: each accepted and started at once (``DmaEngine.submit``)
            moved, transfers = dma.sum(axis=0).tolist(), (dma > 0).sum(axis=0).tolist()
            for u, pe in enumerate(model.pes):
                if transfers[u]:
                    i = pe.id
                    c.dma_bytes[i] += moved[u]
                    c.dma_bytes_moved[i] += moved[u]
                    c.dma_transfers[i] += transfers[u]
            c.dram_bytes_read += int(dma.sum())
            chip.dram.channel_free_ns[:] = out["dram_free"].tolist()
        m = out["machine"]
        c.copies_sent += int(m[0])
        c.deliveries += int(m[1])
        c.packets_routed += int(m[2])
        c.packet_hops += int(m[3])
        free = chip.noc.link_free_ns
        for key, before, after in zip(model.link_keys, out["link_before"].tolist(), out["link_free"].tolist()):
            if after != before or key in free:
                free[key] = after
        out["board"].commit(chip.noc, model.clink_keys)
        timer = model.timer
        timer.next_tick = t + n
        for k in range(n):
            if starts[k] != timer.time_of(t + k):
                timer.fired_late[t + k] = float(starts[k])
