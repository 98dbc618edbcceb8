"""The compiled passes of ``TickStats.add_block`` (the counted kernel's window of per-(timestep, PE) rows).

``add_block`` must give what one ``add_row`` per cell merged as one batch gives, bit for bit: records
grouped by (level, phases ran) in order of first appearance, each group's phases added into the run
totals record by record (``np.add.at``), and a cell's busy cycles as numpy's ``sum`` of its phases
(pairwise summation). These loops do that in one pass over the window instead of a numpy call per
(group, phase). Imported when a counted window is first committed (numba loads with it).
"""
from __future__ import annotations

import numpy as np
from numba import njit

#: phases a block may carry: a record's phases ran are one int64 bit mask
MAX_PHASES = 62


@njit(cache=True)
def group_records(ran: np.ndarray, rec_lid: np.ndarray) -> tuple:
    """Group the records (rows of ``ran``, [record, phase] bool) by (level, phases ran), groups numbered in
    order of first appearance; records that ran no phase are in no group (-1). Returns (group of each
    record, each group's level, each group's phase mask, each group's first record)."""
    n, n_phases = ran.shape
    group = np.full(n, -1, np.int64)
    g_lid = np.empty(n, np.int64)
    g_mask = np.empty(n, np.int64)
    g_first = np.empty(n, np.int64)
    n_groups = 0
    last = -1
    for r in range(n):
        mask = np.int64(0)
        for c in range(n_phases):
            if ran[r, c]:
                mask |= np.int64(1) << np.int64(c)
        if mask == 0:
            continue
        lid = np.int64(rec_lid[r])
        if last >= 0 and g_mask[last] == mask and g_lid[last] == lid:
            group[r] = last
            continue
        found = -1
        for g in range(n_groups):
            if g_mask[g] == mask and g_lid[g] == lid:
                found = g
                break
        if found < 0:
            found = n_groups
            g_lid[found], g_mask[found], g_first[found] = lid, mask, r
            n_groups += 1
        group[r] = found
        last = found
    return group, g_lid[:n_groups].copy(), g_mask[:n_groups].copy(), g_first[:n_groups].copy()


@njit(cache=True)
def _pairwise_sum(values: np.ndarray, n: int) -> float:
    """numpy's ``sum`` of ``values[:n]`` (n <= 128: one block of its pairwise summation)."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += values[i]
        return res
    r0, r1, r2, r3 = values[0], values[1], values[2], values[3]
    r4, r5, r6, r7 = values[4], values[5], values[6], values[7]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += values[i]
        r1 += values[i + 1]
        r2 += values[i + 2]
        r3 += values[i + 3]
        r4 += values[i + 4]
        r5 += values[i + 5]
        r6 += values[i + 6]
        r7 += values[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += values[i]
        i += 1
    return res


@njit(cache=True)
def add_records(group: np.ndarray, n_groups: int, ran: np.ndarray, cycles: np.ndarray, rec_pe: np.ndarray,
                rec_level: np.ndarray, totals: np.ndarray, level_totals: np.ndarray,
                n_keep: int, cell: np.ndarray, busy: np.ndarray) -> None:
    """Add each record's phases to the run totals (``totals`` [phase, PE], ``level_totals`` [level, phase,
    PE]; NaN: never ran, as ``TickStats._add_totals``) group by group, records in order within a group;
    and the busy cycles of the first ``n_keep`` records' cells (``cell``: their flat index into ``busy``,
    distinct) as numpy sums their phases."""
    n, n_phases = ran.shape
    start = np.zeros(n_groups + 1, np.int64)
    for r in range(n):
        if group[r] >= 0:
            start[group[r] + 1] += 1
    for g in range(n_groups):
        start[g + 1] += start[g]
    order = np.empty(start[n_groups], np.int64)
    fill = start[:n_groups].copy()
    for r in range(n):
        g = group[r]
        if g >= 0:
            order[fill[g]] = r
            fill[g] += 1
    row = np.empty(n_phases)
    for k in range(order.size):
        r = order[k]
        pe, lv = rec_pe[r], rec_level[r]
        m = 0
        for c in range(n_phases):
            if ran[r, c]:
                v = cycles[r, c]
                if np.isnan(totals[c, pe]):
                    totals[c, pe] = 0.0
                totals[c, pe] += v
                if np.isnan(level_totals[lv, c, pe]):
                    level_totals[lv, c, pe] = 0.0
                level_totals[lv, c, pe] += v
                row[m] = v
                m += 1
        if r < n_keep:
            busy[cell[r]] += _pairwise_sum(row, m)


@njit(cache=True)
def add_cells(row0: int, n_keep_rows: int, width: int, col_of_unit: np.ndarray, rec_lid: np.ndarray,
              group: np.ndarray, ran: np.ndarray, cycles: np.ndarray, done: np.ndarray, packets_in: np.ndarray,
              packets_out: np.ndarray, time_done: np.ndarray, packets_in_store: np.ndarray,
              packets_out_store: np.ndarray, level_store: np.ndarray, phase_stores: tuple, has_store: np.ndarray) -> None:
    """Write the first ``n_keep_rows`` timesteps' cells (record ``r`` is timestep ``r // units``, unit
    ``r % units``, in the stores' column ``col_of_unit[unit]``: distinct cells) into the flat stores, as
    ``TickStats._materialize`` writes records: time done the larger, packets and phases added, the level
    set where the cell has a record."""
    n_units = col_of_unit.size
    n_phases = ran.shape[1]
    for k in range(n_keep_rows):
        base = (row0 + k) * width
        for u in range(n_units):
            r = k * n_units + u
            cell = base + col_of_unit[u]
            d = done[r]
            if d > time_done[cell]:
                time_done[cell] = d
            packets_in_store[cell] += packets_in[r]
            packets_out_store[cell] += packets_out[r]
            if group[r] >= 0 or d != 0.0 or packets_in[r] != 0 or packets_out[r] != 0:
                level_store[cell] = rec_lid[r]
            for c in range(n_phases):
                if ran[r, c] and has_store[c]:
                    phase_stores[c][cell] += cycles[r, c]
