"""The compiled timing loop of the ``counted`` kernel (numba), for LIF-family windows.

One call runs a window of ticks over struct-of-arrays state. Each tick, in the order the
event-driven kernel does it (docs/simulation-model.md, "Dispatcher", "NoC"):

1. every PE's timer callback starts at the tick: a spike source (Poisson, raster) charges its input
   lines and sends the spikes drawn for it (given); a LIF PE runs ``lif_update`` on its membranes and
   input buffer of the tick's parity (a NIR ``NeuronCore`` its per-neuron update, in its operation
   order), charges its neuron lines, and sends one packet per spike (``PE.send``: the send
   cost, ``TxQueue.admit``, one send loop = one burst per route, ``SendLoops.add``);
2. the bursts are booked on the NoC in (first send, PE) order (``EventQueue.book_at``) with the link,
   injection and ejection free-at rule of ``NoC.reserve``; the last arrival as ``Chip._book_burst``;
3. each receiver handles its bursts in arrival order (its ejection port orders them as they were
   booked): the handler starts after the pre-emptive work booked (``Preemption.start_at``), adds
   each packet's synaptic row to the next tick's buffer and charges its synapse lines, and its
   handlers are placed back to back or at each arrival (``Preemption.book_handlers``), stealing from
   the timer callback while it runs (``preemption.steal``).

Every cycle figure is a priced ``CostTable`` line (``lines``: phase, count, terms), evaluated with
the same float arithmetic as ``PricedTable.charge``; every time with the same operations as the
parts of ``s2sim/hw``, so the results are the same bits.

The guard: the loop returns the first tick that leaves what it models (``REASONS``); the engine then
runs that stretch on the event-driven kernel.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .codes import (
    C_A,
    C_A_SYN,
    C_BIAS,
    C_C,
    C_G,
    C_G_SYN,
    C_NEURONS,
    C_ONCE,
    C_PACKETS,
    C_ROWS,
    C_SEARCH,
    C_SPIKES,
    C_SYNAPSES,
    C_VRESET,
    C_VTH,
    K_PRECOMPUTED,
    K_SOURCE,
    N_COUNTS,
    OK,
    R_ARRIVAL,
    R_DEST,
    R_DROP,
    R_GAP,
    R_HANDLER,
    R_TIE,
    R_TIMER,
    R_TX,
    R_UNMODELLED,
)


@njit(cache=True)
def _charge_table(table, counts, ln_table, ln_phase, ln_count, ln_tptr, t_per, t_k, t_nom, t_low, t_high,
                  t_kern, row_ph, row_seen, brk, brk_seen):
    """Charge every line of ``table`` (``PricedTable.charge``): returns the cycles added, in order
    (``ExecutionContext.add_cycles``), adds each line to the row's phase and books kernel lines'
    bracket deltas (``ExecutionContext.book_bracket``)."""
    return _charge_lines(0.0, table, counts, ln_table, ln_phase, ln_count, ln_tptr, t_per, t_k, t_nom, t_low,
                         t_high, t_kern, row_ph, row_seen, brk, brk_seen)


@njit(cache=True)
def _charge_lines(total, table, counts, ln_table, ln_phase, ln_count, ln_tptr, t_per, t_k, t_nom, t_low, t_high,
                  t_kern, row_ph, row_seen, brk, brk_seen):
    """``_charge_table`` onto a body's cycles so far (``total``): each line added to them in turn, as the
    firmware's calls in a row add to ``ExecutionContext.cycles``; returns the new total."""
    for li in range(ln_table.shape[0]):
        if ln_table[li] != table:
            continue
        units = 1.0 if ln_count[li] == C_ONCE else counts[ln_count[li]]
        c = 0.0
        nom = 0.0
        low = 0.0
        high = 0.0
        kern = False
        for ti in range(ln_tptr[li], ln_tptr[li + 1]):
            x = t_k[ti] * units
            c += t_per[ti] * x
            if t_kern[ti]:
                kern = True
                nom += t_nom[ti] * x
                low += t_low[ti] * x
                high += t_high[ti] * x
            else:
                nom += t_per[ti] * x
                low += t_per[ti] * x
                high += t_per[ti] * x
        ph = ln_phase[li]
        if kern:
            brk[ph, 0] += nom - c
            brk[ph, 1] += low - c
            brk[ph, 2] += high - c
            brk_seen[ph] = True
        total += c
        row_ph[ph] += c
        row_seen[ph] = True
    return total


@njit(cache=True)
def _insert_in_time_order(order, n, u, at, pe_id):
    """Insert unit ``u`` into ``order[:n]``, kept sorted by (``at``, PE id): the order bookings of one
    instant take on the event-driven kernel (``EventQueue.book_at``: same-instant bookings in PE order)."""
    j = n
    while j > 0 and (at[order[j - 1]] > at[u] or (at[order[j - 1]] == at[u] and pe_id[order[j - 1]] > pe_id[u])):
        order[j] = order[j - 1]
        j -= 1
    order[j] = u


@njit(cache=True)
def run_window(t0, n_ticks, tick_start, tick_bound, eps_abs,
               kind, pe_id, npc, nneur, voff, sends, route_of, timer_table, syn_table,
               v, inp, alpha, thr, reset_zero, coef, i_syn, has_syn, spiking, volt_out,
               src_fired, src_ptr,
               r_inj, r_src_node, r_eptr, e_from, e_to, e_link, r_jptr, j_unit, j_node, j_link, r_dropped,
               n_routes_deliv, n_nodes, link_free,
               rowoff, row_ptr, post_all, weight_all, base,
               ln_table, ln_phase, ln_count, ln_tptr, t_per, t_k, t_nom, t_low, t_high, t_kern,
               send_cycles, irq_cycles, ser, inject_ns, eject_ns, hop_ns, tx_size, comms_ph, irq_ph,
               pre_free, tx_free, last_send,
               done, ph, seen, pin, pout, fired_out, fired_ptr, cnt, busy, brk, brk_seen, machine,
               dma_address, dma_nbytes, dma_issue_cycles, dma_setup_cycles, dma_ph,
               dram_free, dram_block, dram_channels, dram_latency_ns, dram_bytes_per_ns,
               timer_post, per_packet, step_synapses, tu_table, tu_counts, tu_route, j_table,
               e_clink, j_spread, clink_ser, clink_after, clink_tick_ns, clink_bin0, clink_pk, clink_tick, clink_busy,
               sparse, search_steps, fanout_noff, fanout_ptr, fanout_unit, fanout_sptr, fanout_post, fanout_weight):
    """Run ``n_ticks`` ticks; returns (ticks done, reason code of the tick that stopped it or 0).

    A precomputed unit with a ``timer_post`` table (cue accumulation; -1: none) charges its timer table
    line by line after its DMA issue (``counts``' synapses: ``step_synapses[tick, unit]``), sends, then
    charges ``timer_post`` as one sum (``charge_phases``); a unit with ``per_packet`` runs one
    pre-emptive handler per packet (``PE._run_packet_handlers``) instead of one per burst.
    A unit whose numerics ran first may charge another table each tick (``tu_table`` [tick, unit] >= 0,
    with its counts ``tu_counts`` [tick, unit, count id]) and send on another of its routes
    (``tu_route``); a handler charges its (route, destination)'s table (``j_table`` >= 0) or the
    receiver's ``syn_table``.

    State arrays (``v``, ``inp``, ``link_free``, ``pre_free``, ``tx_free``, ``last_send``) are updated
    in place; per-tick outputs are indexed [tick, unit]. On a non-zero reason the arrays hold that
    tick half-done: the caller discards them.

    A board's chip links (``e_clink[edge]`` >= 0: ``BoardNoC.reserve``) take ``clink_ser`` per packet and
    deliver ``clink_after`` after the packet starts; their packets are counted per link (``clink_pk``),
    per link and timestep bin (``clink_tick[bin - clink_bin0, link]``) and their last busy instant
    (``clink_busy``).

    A sparse row index (``sparse[u]``, ``LifModel._rows``): a burst's rows are added when it is booked,
    from each spike's fan-out (the receivers and their rows, ``fanout_*``), into the receivers it
    reached; each receiver's adds still come burst by burst in booking order (its handlers' order),
    packet by packet. Its handlers then only charge the rows found (``d_rec[..., 3]``) and the searches.
    """
    U = kind.shape[0]
    counts = np.zeros(N_COUNTS)
    at = np.empty(n_nodes)
    # per tick: the bursts (one per sending unit), then per receiver its deliveries in booking order
    b_first = np.empty(U)
    b_last = np.empty(U)
    b_n = np.zeros(U, np.int64)
    b_route = np.full(U, -1, np.int64)
    order = np.empty(U, np.int64)
    d_cnt = np.zeros(U, np.int64)
    # per receiver, its deliveries: first, last arrival, sender, synapses, the handler's cost table
    d_rec = np.empty((U, U, 5))
    cb_end = np.empty(U)
    dma_at = np.empty(U)  # per PE: when its DMA was issued, then when it lands
    dma_order = np.empty(U, np.int64)
    nf = 0
    for t in range(n_ticks):
        s = tick_start[t]
        bound = tick_bound[t]
        eps = eps_abs + 1e-14 * abs(bound)  # a few dozen ulps of the largest time of the tick
        # SimPy schedules an event at now + (t - now), not at t. Every instant of this tick lies in
        # [s, bound), every "now" it is scheduled from in [s, that instant]: if bound <= 2 s, each
        # t - now is exact (Sterbenz) and each event's time is its record's value, so the kernel's
        # order is the values' order and equal values give the same result in either order (a
        # handler starting at the callback's end steals nothing). Else (the first tick) a delivery
        # within a few ulps of the callback's end might be ordered either way: fall back.
        exact_times = 2.0 * s >= bound
        par = (t0 + t) & 1  # the input buffer of this tick (its parity), as the firmware indexes it
        nxt = 1 - par
        # ---- 1. timer callbacks --------------------------------------------------------------------
        for u in range(U):
            row_ph = ph[t, u]
            row_seen = seen[t, u]
            fired_ptr[t * U + u] = nf
            if kind[u] == K_SOURCE or kind[u] == K_PRECOMPUTED:
                # a spike source (Poisson, raster), or a core whose numerics ran before the loop (e-prop):
                # its spikes were given by the caller, its cycles are its timer table
                a0 = src_ptr[t * U + u]
                a1 = src_ptr[t * U + u + 1]
                counts[C_NEURONS] = nneur[u]
                counts[C_SPIKES] = a1 - a0
                issue = 0.0
                if dma_address[t, u] >= 0:  # it first queues a DMA (``PE.dma``: the issue cycles, at that time)
                    if not exact_times:
                        return t, R_UNMODELLED
                    issue = dma_issue_cycles
                    row_ph[dma_ph] += issue
                    row_seen[dma_ph] = True
                    dma_at[u] = s + issue * npc[u]
                table = timer_table[u]
                if tu_table[t, u] >= 0:  # this tick's own table and counts
                    table = tu_table[t, u]
                    for ci in range(N_COUNTS):
                        counts[ci] = tu_counts[t, u, ci]
                if timer_post[u] >= 0:  # the firmware's calls in a row, after the DMA issue
                    counts[C_SYNAPSES] = step_synapses[t, u]
                    cycles = _charge_lines(issue, table, counts, ln_table, ln_phase, ln_count, ln_tptr,
                                           t_per, t_k, t_nom, t_low, t_high, t_kern, row_ph, row_seen, brk[u],
                                           brk_seen[u])
                else:  # one ``charge_phases``
                    cycles = issue + _charge_table(table, counts, ln_table, ln_phase, ln_count, ln_tptr,
                                                   t_per, t_k, t_nom, t_low, t_high, t_kern, row_ph, row_seen, brk[u],
                                                   brk_seen[u])
                k = a1 - a0
                for i in range(a0, a1):
                    fired_out[nf] = src_fired[i]
                    nf += 1
            elif kind[u] == 2:  # a NIR graph's NeuronCore (graph_firmware.py), in its operation order
                o = voff[u]
                n = nneur[u]
                k = 0
                for i in range(n):
                    b = inp[par, o + i] + coef[C_BIAS, o + i]
                    if has_syn[u]:
                        i_syn[o + i] = i_syn[o + i] * coef[C_A_SYN, o + i]
                        i_syn[o + i] = i_syn[o + i] + coef[C_G_SYN, o + i] * b
                        drive = i_syn[o + i]
                    else:
                        drive = b
                    x = v[o + i] * coef[C_A, o + i]
                    x = x + (coef[C_C, o + i] + coef[C_G, o + i] * drive)
                    inp[par, o + i] = 0.0
                    if spiking[u] and x > coef[C_VTH, o + i]:
                        x = coef[C_VRESET, o + i]
                        fired_out[nf] = i
                        nf += 1
                        k += 1
                    v[o + i] = x
                    volt_out[t, o + i] = x
                counts[C_NEURONS] = n
                counts[C_SPIKES] = k
                cycles = _charge_table(timer_table[u], counts, ln_table, ln_phase, ln_count, ln_tptr, t_per, t_k, t_nom,
                                       t_low, t_high, t_kern, row_ph, row_seen, brk[u], brk_seen[u])
                if not sends[u] or not spiking[u]:
                    k = 0
            else:  # LIF: lif_update of this tick's buffer
                o = voff[u]
                n = nneur[u]
                a = alpha[u]
                th = thr[u]
                k = 0
                for i in range(n):
                    x = v[o + i] * a
                    x = x + inp[par, o + i]
                    inp[par, o + i] = 0.0
                    if x > th:
                        if reset_zero[u]:
                            x = np.float32(0.0)
                        else:
                            x = x - th
                        fired_out[nf] = i
                        nf += 1
                        k += 1
                    v[o + i] = x
                counts[C_NEURONS] = n
                counts[C_SPIKES] = k
                cycles = _charge_table(timer_table[u], counts, ln_table, ln_phase, ln_count, ln_tptr, t_per, t_k, t_nom,
                                       t_low, t_high, t_kern, row_ph, row_seen, brk[u], brk_seen[u])
                if not sends[u]:
                    k = 0
            cnt[u, 0] += 1  # callbacks
            b_n[u] = 0
            r = route_of[u]
            if tu_route[t, u] >= 0:
                r = tu_route[t, u]
            b_route[u] = r
            if k > 0:
                # the send loop: each packet's cost, then the TX queue, then the burst (one route)
                for i in range(k):
                    cycles += send_cycles
                    row_ph[comms_ph] += send_cycles
                    row_seen[comms_ph] = True
                    ts = s + cycles * npc[u]
                    tf = tx_free[u]
                    backlog = (tf - ts) / ser if tf > ts else 0.0
                    if backlog >= tx_size:
                        return t, R_TX
                    tx_free[u] = (ts if ts > tf else tf) + ser
                    if i == 0:
                        b_first[u] = ts
                    elif ts > last_send[u] + send_cycles * npc[u] + ser + 1e-6:
                        return t, R_GAP
                    last_send[u] = ts
                b_last[u] = last_send[u]
                b_n[u] = k
                cnt[u, 1] += k  # packets_sent
                machine[0] += k * n_routes_deliv[r]  # copies_sent (one per PE reached; drops fail below)
                pout[t, u] = k
                if r_dropped[r]:
                    return t, R_DROP
            if kind[u] == K_PRECOMPUTED and timer_post[u] >= 0:  # the step's fixed costs, after its sends
                cycles += _charge_table(timer_post[u], counts, ln_table, ln_phase, ln_count, ln_tptr, t_per, t_k,
                                        t_nom, t_low, t_high, t_kern, row_ph, row_seen, brk[u], brk_seen[u])
            end = s + cycles * npc[u]
            if not (end < bound - eps):
                return t, R_TIMER
            cb_end[u] = end
            busy[u] += cycles
            done[t, u] = end - s
        fired_ptr[t * U + U] = nf
        # ---- 1b. DMA: each engine idle, the request reaches DRAM after the setup (``DmaEngine._start_next``);
        # the bookings in (time, PE) order reserve the channels piece by piece (``Dram.reserve``) ------------
        nd = 0
        for u in range(U):
            if dma_address[t, u] >= 0:
                dma_at[u] = dma_at[u] + dma_setup_cycles * npc[u]
                _insert_in_time_order(dma_order, nd, u, dma_at, pe_id)
                nd += 1
        for di in range(nd):
            u = dma_order[di]
            booked = dma_at[u]
            if not (booked < bound - eps):
                return t, R_UNMODELLED
            address = dma_address[t, u]
            end_address = address + dma_nbytes[t, u]
            ready = booked + dram_latency_ns
            landed = ready
            while True:
                piece_end = (address // dram_block + 1) * dram_block
                if end_address < piece_end:
                    piece_end = end_address
                ch = (address // dram_block) % dram_channels
                begin = ready if ready > dram_free[ch] else dram_free[ch]
                finish = begin + (piece_end - address) / dram_bytes_per_ns
                dram_free[ch] = finish
                if finish > landed:
                    landed = finish
                address = piece_end
                if address >= end_address:
                    break
            if not (landed < bound - eps):
                return t, R_UNMODELLED
            dma_at[u] = landed
        # ---- 2. bookings in (first send, PE) order: NoC.reserve --------------------------------------
        nb = 0
        for u in range(U):
            if b_n[u] > 0:
                _insert_in_time_order(order, nb, u, b_first, pe_id)
                nb += 1
        for u in range(U):
            d_cnt[u] = 0
        for bi in range(nb):
            u = order[bi]
            r = b_route[u]
            n = b_n[u]
            first_send = b_first[u]
            if not (first_send < bound - eps):
                return t, R_TIMER
            busy_ns = n * ser
            li = r_inj[r]
            depart = link_free[li]
            if depart < first_send:
                depart = first_send
            link_free[li] = depart + busy_ns
            at[r_src_node[r]] = depart + inject_ns
            n_chip_edges = 0
            for ei in range(r_eptr[r], r_eptr[r + 1]):
                tt = at[e_from[ei]]
                f = link_free[e_link[ei]]
                if f > tt:
                    tt = f
                cl = e_clink[ei]
                if cl < 0:
                    link_free[e_link[ei]] = tt + busy_ns
                    at[e_to[ei]] = tt + hop_ns
                else:  # a chip link: its own rate and latency, its load counted (``BoardNoC._count_link``)
                    link_end = tt + n * clink_ser
                    link_free[e_link[ei]] = link_end
                    at[e_to[ei]] = tt + clink_after
                    n_chip_edges += 1
                    tick_bin = (int(tt // clink_tick_ns) if clink_tick_ns > 0.0 else 0) - clink_bin0
                    if tick_bin < 0 or tick_bin >= clink_tick.shape[0]:
                        return t, R_UNMODELLED
                    clink_pk[cl] += n
                    clink_tick[tick_bin, cl] += n
                    if link_end > clink_busy[cl]:
                        clink_busy[cl] = link_end
            for ji in range(r_jptr[r], r_jptr[r + 1]):
                tt = at[j_node[ji]]
                lk = j_link[ji]
                f = link_free[lk]
                if f > tt:
                    tt = f
                link_free[lk] = tt + busy_ns
                first = tt + eject_ns + ser
                last = first + (n - 1) * j_spread[ji]
                alt = b_last[u] + (first - first_send)
                if alt > last:
                    last = alt
                dest = j_unit[ji]
                if dest < 0 or kind[dest] == 0:
                    return t, R_DEST
                if not (first < bound - eps):
                    return t, R_ARRIVAL
                c = d_cnt[dest]
                rec = d_rec[dest, c]
                rec[0] = first
                rec[1] = last
                rec[2] = u
                rec[3] = 0.0
                rec[4] = j_table[ji] if j_table[ji] >= 0 else syn_table[dest]
                d_cnt[dest] = c + 1
            no = fanout_noff[u]
            if no >= 0:  # the rows its spikes have in sparse receivers, added where this burst arrived
                k0 = fired_ptr[t * U + u]
                for q in range(k0, k0 + n):
                    node = no + fired_out[q]
                    for h in range(fanout_ptr[node], fanout_ptr[node + 1]):
                        dest = fanout_unit[h]
                        c = d_cnt[dest] - 1
                        if c < 0 or d_rec[dest, c, 2] != u:  # (the route does not reach it)
                            continue
                        od = voff[dest]
                        for y in range(fanout_sptr[h], fanout_sptr[h + 1]):
                            inp[nxt, od + fanout_post[y]] += fanout_weight[y]
                        d_rec[dest, c, 3] += fanout_sptr[h + 1] - fanout_sptr[h]
            machine[1] += n * (r_jptr[r + 1] - r_jptr[r])  # deliveries
            machine[2] += n  # packets_routed
            machine[3] += n * (r_eptr[r + 1] - r_eptr[r] - n_chip_edges)  # packet_hops (on chips)
        # ---- 3. handlers at each receiver, in arrival order ------------------------------------------
        for u in range(U):
            m = d_cnt[u]
            has_dma = dma_address[t, u] >= 0
            if m == 0 and not has_dma:
                continue
            row_ph = ph[t, u]
            row_seen = seen[t, u]
            o = voff[u]
            end = cb_end[u]
            free_u = pre_free[u]
            if has_dma:  # the DMA's done handler (pre-emptive, an empty body): before every burst, while the
                # timer callback runs (``PE.run_preemptive``, ``Preemption.book``); else not modelled
                landed = dma_at[u]
                if not (landed < end - eps):
                    return t, R_UNMODELLED
                for c in range(m):
                    if not (landed < d_rec[u, c, 0] - eps):
                        return t, R_UNMODELLED
                st = landed if landed > free_u else free_u
                e = st + (0.0 + irq_cycles) * npc[u]
                free_u = e
                if st < end:
                    end = end + (e - st)
                row_ph[irq_ph] += irq_cycles
                row_seen[irq_ph] = True
                busy[u] += 0.0 + irq_cycles
                cnt[u, 0] += 1  # callbacks
                dn = e - s
                if dn > done[t, u]:
                    done[t, u] = dn
            for c in range(m):
                rec = d_rec[u, c]
                first = rec[0]
                last = rec[1]
                src = int(rec[2])
                gap = abs(first - end)
                if gap <= eps and gap != 0.0 and not exact_times:
                    return t, R_TIE
                running = first < end
                k0 = fired_ptr[t * U + src]
                n = b_n[src]
                if per_packet[u]:  # one pre-emptive handler per packet, each at its arrival (``Preemption.book``)
                    cnt[u, 2] += n  # packets_received
                    pin[t, u] += n
                    counts[C_SPIKES] = 1
                    step = (last - first) / (n - 1) if n > 1 else 0.0
                    for i in range(n):
                        arrival = first + i * step
                        st = arrival if arrival > free_u else free_u
                        cycles = _charge_table(int(rec[4]), counts, ln_table, ln_phase, ln_count, ln_tptr, t_per,
                                               t_k, t_nom, t_low, t_high, t_kern, row_ph, row_seen, brk[u],
                                               brk_seen[u]) + irq_cycles
                        row_ph[irq_ph] += irq_cycles
                        row_seen[irq_ph] = True
                        e = st + cycles * npc[u]
                        free_u = e
                        if running and st < end:
                            end = end + (e - st)
                        busy[u] += cycles
                        cnt[u, 0] += 1  # callbacks
                        dn = e - s
                        if dn > done[t, u]:
                            done[t, u] = dn
                    if not (free_u < bound - eps):
                        return t, R_HANDLER
                    continue
                synapses = 0
                if kind[u] == K_PRECOMPUTED:  # its numerics ran first: the handler only charges n spikes
                    counts[C_SPIKES] = n
                elif sparse[u]:  # its rows were added at the booking; each packet's search is charged
                    synapses = int(rec[3])
                    counts[C_SEARCH] = search_steps[u] * n
                else:
                    pb = base[u, src]
                    if pb < 0:
                        return t, R_DEST
                    for q in range(k0, k0 + n):
                        row = rowoff[u] + pb + fired_out[q]
                        for y in range(row_ptr[row], row_ptr[row + 1]):
                            inp[nxt, o + post_all[y]] += weight_all[y]
                        synapses += row_ptr[row + 1] - row_ptr[row]
                cnt[u, 2] += n  # packets_received
                cnt[u, 0] += 1  # callbacks
                pin[t, u] += n
                start = first if first > free_u else free_u
                counts[C_SYNAPSES] = synapses
                counts[C_ROWS] = n
                counts[C_PACKETS] = n
                cycles = _charge_table(int(rec[4]), counts, ln_table, ln_phase, ln_count, ln_tptr, t_per, t_k, t_nom,
                                       t_low, t_high, t_kern, row_ph, row_seen, brk[u], brk_seen[u])
                row_ph[irq_ph] += irq_cycles * n
                row_seen[irq_ph] = True
                dur = (cycles / n + irq_cycles) * npc[u]
                step = (last - first) / (n - 1) if n > 1 else 0.0
                if step <= dur:
                    free_u = start + n * dur
                    if running and start < end:
                        end = end + n * dur
                else:
                    for i in range(n):
                        arrival = first + i * step
                        s_i = arrival if arrival > free_u else free_u
                        free_u = s_i + dur
                        if running and s_i < end:
                            end = end + dur
                busy[u] += cycles + irq_cycles * n
                if not (free_u < bound - eps):
                    return t, R_HANDLER
                dn = free_u - s
                if dn > done[t, u]:
                    done[t, u] = dn
            pre_free[u] = free_u
            if not (end < bound - eps):
                return t, R_TIMER
            if end != cb_end[u]:
                cb_end[u] = end
                dn = end - s
                if dn > done[t, u]:
                    done[t, u] = dn
    return n_ticks, OK
