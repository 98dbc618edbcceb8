"""Per-(timestep, PE) counters: what ``timesteps.csv`` and the latency report are built from.

Recording is always on, so it must be cheap: during a run each PE hands over one record per
timestep (``add_row`` only appends it), and the arrays are built in vectorised form when someone
reads them. The counted kernel hands over a whole window of timesteps as arrays (``add_block``, compiled
loops in ``tickstats_block``), which skips the records. The stores keep one column per PE that recorded something (a chip uses a
few of its PEs); the [timestep, PE] arrays a reader gets are spread from them when read (and kept
until the next write); ``cell`` reads one value without that (DVFS, every tick).

Each record carries the performance level its PE ran that timestep at (a PE picks its level when
the tick fires, and a callback runs at the level it started at, so one (timestep, PE) cell has one
level): per-phase time and energy under DVFS need it (``level_of``, ``phase_totals_by_level``).
"""
from __future__ import annotations

import numpy as np

_NO_LEVEL = -2  # a record that leaves the row's level as it is (``TickStats.lag``)
_BASE = ("time_done_ns", "busy_cycles", "packets_in", "packets_out")


def _merged(name: str) -> property:
    """A [timestep, PE] array, built from the pending records when read."""
    def get(self: "TickStats") -> np.ndarray:
        return self._full(name)
    return property(get, doc=f"[timestep, PE] {name}")


class TickStats:
    def __init__(self, n_pes: int, rows: int = 64, max_rows: int | None = None):
        """``max_rows``: timesteps kept in full detail; later ones only update ``beyond_max_done_ns``."""
        self.n_pes = n_pes
        self.max_rows = max_rows
        self.rows_seen = 0  # highest tick index seen + 1, recorded or not
        self.beyond_max_done_ns = np.zeros(n_pes)  # per PE, the slowest timestep past max_rows
        rows = min(rows, max_rows) if max_rows else rows
        self._n_rows = 0  # highest recorded tick index + 1
        # The stores keep a column per PE that recorded something (a chip uses a few of its PEs: memory
        # and page faults per used PE); the [timestep, PE] arrays readers get are spread from them when read.
        self._col_of = np.full(n_pes, -1, dtype=np.intp)  # PE -> its column in the stores (-1: none)
        self._pe_of = np.zeros(0, dtype=np.intp)  # column -> PE
        width = min(n_pes, 16)
        self._a = {"time_done_ns": np.zeros((rows, width)), "busy_cycles": np.zeros((rows, width)),
                   "packets_in": np.zeros((rows, width), dtype=np.int64),
                   "packets_out": np.zeros((rows, width), dtype=np.int64),
                   "level": np.full((rows, width), -1, dtype=np.int16)}  # index into level_names; -1: none
        self._version = 0  # stores written so far (the spread arrays are rebuilt when it moved)
        self._spread: dict[tuple[str, str], tuple[int, np.ndarray]] = {}
        self.level_names: list[str] = []
        self._level_ids: dict[str, int] = {}
        self._phases: dict[str, np.ndarray] = {}
        self._totals: dict[str, np.ndarray] = {}  # per phase: cycles of each PE over the whole run
        self._level_totals: dict[tuple[int, str], np.ndarray] = {}  # (level, phase): cycles of each PE
        self._pending: list[tuple] = []
        self.not_run: set[tuple[int, int]] = set()  # (tick, PE) whose timer callback was dropped (full queue)

    # ---- recording (hot path) -------------------------------------------------------------------
    def add_row(self, row: int, pe: int, done_ns: float, phases: dict[str, float] | None,
                packets_in: int, packets_out: int, level: str = "") -> None:
        """Record what ``pe`` did in timestep ``row`` at performance level ``level`` (merged with
        earlier records of that row).

        A negative row (work before the first tick) counts only in the run totals.
        """
        lid = self._level_ids.get(level)
        if lid is None:
            lid = self._level_ids[level] = len(self.level_names)
            self.level_names.append(level)
        self._pending.append((row, pe, done_ns, phases, packets_in, packets_out, lid))
        if len(self._pending) >= 4096:  # keep few live records (they would slow the GC down)
            self._materialize()

    def work(self, row: int, pe: int, done_ns: float, phases: dict[str, float], level: str = "") -> None:
        """Record one callback of tick ``row`` on ``pe`` ending ``done_ns`` after the tick started."""
        self.add_row(row, pe, done_ns, phases, 0, 0, level)

    def lag(self, row: int, pe: int, done_ns: float) -> None:
        """Work tick ``row`` caused on ``pe`` ran late and ended ``done_ns`` after that tick started
        (only the row's time done can grow; its phases, packets and level stay)."""
        self._pending.append((row, pe, done_ns, None, 0, 0, _NO_LEVEL))
        if len(self._pending) >= 4096:
            self._materialize()

    def tick_not_run(self, row: int, pe: int) -> None:
        """Tick ``row``'s timer callback on ``pe`` was dropped: that tick has no lag (``latency_section``)."""
        self.not_run.add((row, pe))

    def packet_in(self, row: int, pe: int, n: int = 1) -> None:
        self.add_row(row, pe, 0.0, None, n, 0)

    def packet_out(self, row: int, pe: int, n: int = 1) -> None:
        self.add_row(row, pe, 0.0, None, 0, n)

    def add_block(self, row0: int, pe_ids: list[int], levels: list[str], phase_names: list[str],
                  done_ns: np.ndarray, cycles: np.ndarray, ran: np.ndarray,
                  packets_in: np.ndarray, packets_out: np.ndarray) -> None:
        """Record timesteps ``row0 ..`` of the PEs ``pe_ids`` at once, as whole arrays (the counted kernel's
        window): ``done_ns``, ``packets_in/out`` are [timestep, unit], ``cycles``/``ran`` [timestep, unit,
        phase] (a phase counts where ``ran``); unit ``u`` is ``pe_ids[u]`` at level ``levels[u]``.

        The same arithmetic, in the same order, as one ``add_row`` per (timestep, unit) in timestep-major
        order, merged as one batch: two compiled passes over the window (``tickstats_block``) instead of a
        dict and a record per cell. (Records are merged in batches, and a block is a batch of its own; run
        totals of cycles that are not whole numbers could differ in the last bit from the same records
        batched otherwise.)
        """
        self._materialize()  # earlier records first, as they were added first
        n, n_units = done_ns.shape
        if n == 0:
            return
        from .tickstats_block import (  # (numba: the counted kernel's)
            MAX_PHASES,
            add_cells,
            add_records,
            group_records,
        )
        if len(phase_names) > MAX_PHASES:
            raise ValueError(f"TickStats.add_block: {len(phase_names)} phases, at most {MAX_PHASES}")
        lids = np.empty(n_units, dtype=np.int16)
        for u, level in enumerate(levels):
            lid = self._level_ids.get(level)
            if lid is None:
                lid = self._level_ids[level] = len(self.level_names)
                self.level_names.append(level)
            lids[u] = lid
        ran = np.ascontiguousarray(ran, dtype=bool).reshape(n * n_units, -1)
        pe_ids = np.asarray(pe_ids, dtype=np.intp)
        pes = np.tile(pe_ids, n)
        rec_lids = np.tile(lids, n)
        done = np.ascontiguousarray(done_ns, dtype=float).reshape(-1)
        table_all = np.ascontiguousarray(cycles, dtype=float).reshape(n * n_units, -1)
        group, g_lid, g_mask, g_first = group_records(ran, rec_lids)
        self.rows_seen = max(self.rows_seen, row0 + n)
        keep_rows = n if self.max_rows is None else max(0, min(n, self.max_rows - row0))
        n_keep = keep_rows * n_units
        # the run totals' and phase stores' keys are made in the order ``_add_totals`` and ``_materialize``
        # make them: groups in order of first appearance, a group's phases in column order
        level_index: dict[int, int] = {}
        new_phases: list[str] = []
        for lid, mask, first in zip(g_lid.tolist(), g_mask.tolist(), g_first.tolist()):
            level_index.setdefault(lid, len(level_index))
            for c, phase in enumerate(phase_names):
                if mask >> c & 1:
                    for store, key in ((self._totals, phase), (self._level_totals, (lid, phase))):
                        if key not in store:
                            store[key] = np.full(self.n_pes, np.nan)
                    if first < n_keep and phase not in self._phases and phase not in new_phases:
                        new_phases.append(phase)
        nan_row = np.full(self.n_pes, np.nan)
        totals = np.stack([self._totals.get(phase, nan_row) for phase in phase_names])
        level_totals = np.stack([[self._level_totals.get((lid, phase), nan_row) for phase in phase_names]
                                 for lid in level_index]) if level_index else np.zeros((0, len(phase_names), self.n_pes))
        level_row = np.zeros(len(self.level_names), np.int64)  # level id -> its row in level_totals
        for lid, i in level_index.items():
            level_row[lid] = i
        if keep_rows < n:
            np.maximum.at(self.beyond_max_done_ns, pes[n_keep:], done[n_keep:])
        if keep_rows > 0:
            top = row0 + keep_rows
            unit_cols = self._columns(pe_ids)
            self._ensure(top)
            self._n_rows = max(self._n_rows, top)
            self._version += 1
            shape = self._a["time_done_ns"].shape
            for phase in new_phases:
                self._phases[phase] = np.zeros(shape)
            cells = (np.arange(row0, top)[:, None] * shape[1] + unit_cols).reshape(-1)  # distinct cells
            busy = self._a["busy_cycles"].reshape(-1)
        else:
            cells, busy = np.zeros(0, np.intp), np.zeros(0)
        add_records(group, len(g_lid), ran, table_all, pes, level_row[rec_lids], totals, level_totals,
                    n_keep, cells, busy)
        for c, phase in enumerate(phase_names):
            if phase in self._totals:
                self._totals[phase][:] = totals[c]
                for lid, i in level_index.items():
                    tot = self._level_totals.get((lid, phase))
                    if tot is not None:
                        tot[:] = level_totals[i, c]
        if keep_rows == 0:
            return
        no_store = np.zeros(1)
        stores = tuple(self._phases[phase].reshape(-1) if phase in self._phases else no_store for phase in phase_names)
        add_cells(row0, keep_rows, shape[1], unit_cols, rec_lids, group, ran, table_all, done,
                  np.ascontiguousarray(packets_in, dtype=np.int64).reshape(-1),
                  np.ascontiguousarray(packets_out, dtype=np.int64).reshape(-1),
                  self._a["time_done_ns"].reshape(-1), self._a["packets_in"].reshape(-1),
                  self._a["packets_out"].reshape(-1), self._a["level"].reshape(-1), stores,
                  np.asarray([phase in self._phases for phase in phase_names]))

    # ---- reading --------------------------------------------------------------------------------
    def _columns(self, pes: np.ndarray) -> np.ndarray:
        """The store columns of ``pes`` (new PEs get the next columns, in order of appearance)."""
        cols = self._col_of[pes]
        if (cols < 0).any():
            new = pes[cols < 0]
            _, first = np.unique(new, return_index=True)
            new = new[np.sort(first)]
            self._col_of[new] = np.arange(len(self._pe_of), len(self._pe_of) + len(new))
            self._pe_of = np.concatenate([self._pe_of, new])
            cols = self._col_of[pes]
        return cols

    def _ensure(self, rows_needed: int) -> None:
        """Room for ``rows_needed`` rows (grown at least fourfold: fewer copies of the rows so far; rows never
        written stay untouched pages) and a column for every PE seen (grown at least twofold)."""
        have, width = self._a["time_done_ns"].shape
        if rows_needed > have or len(self._pe_of) > width:
            new = max(rows_needed, 4 * have) if rows_needed > have else have
            new_width = min(self.n_pes, max(len(self._pe_of), 2 * width)) if len(self._pe_of) > width else width
            for store in (self._a, self._phases):
                for name, old in store.items():
                    shape = (new, new_width)
                    grown = np.full(shape, -1, dtype=old.dtype) if name == "level" else np.zeros(shape, old.dtype)
                    grown[:have, :width] = old
                    store[name] = grown

    def _full(self, name: str, phase: bool = False) -> np.ndarray:
        """Store ``name`` (a phase's, if ``phase``) as a [timestep, PE] array (cached until the next write)."""
        self._materialize()
        key = ("phase" if phase else "base", name)
        got = self._spread.get(key)
        if got is not None and got[0] == self._version:
            return got[1]
        store = (self._phases if phase else self._a)[name]
        n = len(self._pe_of)
        full = np.full((store.shape[0], self.n_pes), -1 if name == "level" and not phase else 0, dtype=store.dtype)
        full[:, self._pe_of] = store[:, :n]
        self._spread[key] = (self._version, full)
        return full

    def cell(self, name: str, row: int, pe: int) -> float:
        """One recorded value (``time_done_ns``, ``busy_cycles``, ...) of timestep ``row`` on ``pe``, without
        building the [timestep, PE] array (a per-tick reader: DVFS)."""
        self._materialize()
        col = self._col_of[pe]
        return float(self._a[name][row, col]) if col >= 0 and row < self._a[name].shape[0] else 0.0

    def _materialize(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        rows, pes, done, _, pin, pout, lids = zip(*pending)
        lids = np.asarray(lids, dtype=np.int16)
        rows, pes, done = np.asarray(rows), np.asarray(pes), np.asarray(done, dtype=float)
        pin, pout = np.asarray(pin, dtype=float), np.asarray(pout, dtype=float)
        groups = self._phase_groups(pending)
        self._add_totals(groups, pes)
        self.rows_seen = max(self.rows_seen, int(rows.max()) + 1)
        late = rows >= self.max_rows if self.max_rows is not None else np.zeros(len(rows), bool)
        if late.any():
            np.maximum.at(self.beyond_max_done_ns, pes[late], done[late])
        keep = ~late & (rows >= 0)  # rows kept in detail (negative: before the first tick)
        if not keep.all():
            if not keep.any():
                return
            new_index = np.cumsum(keep) - 1
            groups = {key: (new_index[idx[keep[idx]]], table[keep[idx]])
                      for key, (idx, table) in groups.items() if keep[idx].any()}
            rows, pes, done, pin, pout = rows[keep], pes[keep], done[keep], pin[keep], pout[keep]
            lids = lids[keep]
        top = int(rows.max()) + 1
        cols = self._columns(pes)
        self._ensure(top)
        self._n_rows = max(self._n_rows, top)
        self._version += 1
        shape = self._a["time_done_ns"].shape
        lin = rows * shape[1] + cols

        def add(arr: np.ndarray, where: np.ndarray, vals) -> None:
            np.add.at(arr.reshape(-1), where, np.asarray(vals).astype(arr.dtype, copy=False))

        order = np.argsort(done, kind="stable")  # ascending: for repeated cells the largest lands last
        flat = self._a["time_done_ns"].reshape(-1)
        flat[lin[order]] = np.maximum(flat[lin[order]], done[order])
        add(self._a["packets_in"], lin, pin)
        add(self._a["packets_out"], lin, pout)
        has_level = lids != _NO_LEVEL
        self._a["level"].reshape(-1)[lin[has_level]] = lids[has_level]
        busy = self._a["busy_cycles"]
        for (_, names), (idx, table) in groups.items():
            where = lin[idx]
            add(busy, where, table.sum(axis=1))
            for col, phase in enumerate(names):
                arr = self._phases.get(phase)
                if arr is None:
                    arr = self._phases[phase] = np.zeros(shape)
                add(arr, where, table[:, col])

    @staticmethod
    def _phase_groups(pending: list[tuple]) -> dict[tuple, tuple[np.ndarray, np.ndarray]]:
        """Records of one PE usually have the same phases: group by (level, key set), one 2-D array per group."""
        groups: dict[tuple, tuple[list, list]] = {}
        for i, rec in enumerate(pending):
            phases = rec[3]
            if phases:
                idx, vals = groups.setdefault((rec[6], tuple(phases)), ([], []))
                idx.append(i)
                vals.extend(phases.values())  # flat: one list -> array conversion, no list per record
        return {key: (np.asarray(idx), np.asarray(vals, dtype=float).reshape(len(idx), len(key[1])))
                for key, (idx, vals) in groups.items()}

    def _add_totals(self, groups: dict, pes: np.ndarray) -> None:
        for (lid, names), (idx, table) in groups.items():
            who = pes[idx]
            for col, phase in enumerate(names):
                for store, key in ((self._totals, phase), (self._level_totals, (lid, phase))):
                    tot = store.get(key)
                    if tot is None:
                        tot = store[key] = np.full(self.n_pes, np.nan)
                    seen = np.isnan(tot[who])
                    tot[who[seen]] = 0.0
                    np.add.at(tot, who, table[:, col])

    def phase_totals(self, pe: int) -> dict[str, float]:
        """Cycles per phase of ``pe`` over the whole run, recorded rows or not (phases it never ran are absent)."""
        self._materialize()
        return {phase: float(tot[pe]) for phase, tot in self._totals.items() if not np.isnan(tot[pe])}

    def phase_totals_by_level(self, pe: int) -> dict[str, dict[str, float]]:
        """Cycles per performance level and phase of ``pe`` over the whole run."""
        self._materialize()
        out: dict[str, dict[str, float]] = {}
        for (lid, phase), tot in self._level_totals.items():
            if not np.isnan(tot[pe]):
                out.setdefault(self.level_names[lid], {})[phase] = float(tot[pe])
        return out

    @property
    def level_of(self) -> np.ndarray:
        """[timestep, PE] index into ``level_names`` of the level the PE ran that timestep at (-1: idle)."""
        return self._full("level")

    @property
    def n_rows(self) -> int:
        self._materialize()
        return self._n_rows

    time_done_ns = _merged("time_done_ns")
    busy_cycles = _merged("busy_cycles")
    packets_in = _merged("packets_in")
    packets_out = _merged("packets_out")

    @property
    def phase_cycles(self) -> dict[str, np.ndarray]:
        self._materialize()
        return {phase: self._full(phase, phase=True) for phase in self._phases}

    def view(self, rows: slice | None = None) -> dict[str, np.ndarray]:
        rows = rows or slice(0, self.n_rows)
        out = {name: getattr(self, name)[rows] for name in _BASE}
        for phase, arr in self.phase_cycles.items():
            out[f"cycles_{phase}"] = arr[rows]
        return out

    # ---- moving PEs' columns between processes (a board split over MPI ranks: ``hw/board_mpi.py``) ----
    def export_columns(self, pes: list[int]) -> dict:
        """Everything recorded for ``pes``, as plain arrays (level and phase names, not ids)."""
        self._materialize()
        n, cols = self._n_rows, np.asarray(pes, dtype=np.intp)
        return {"pes": list(pes), "n_rows": n, "rows_seen": self.rows_seen,
                "base": {name: self._full(name)[:n][:, cols] for name in self._a if name != "level"},
                "level": [[self.level_names[i] if i >= 0 else None for i in row] for row in self.level_of[:n][:, cols]],
                "phases": {ph: self._full(ph, phase=True)[:n][:, cols] for ph in self._phases},
                "beyond": self.beyond_max_done_ns[cols],
                "totals": {ph: tot[cols] for ph, tot in self._totals.items()},
                "level_totals": {(self.level_names[lid], ph): tot[cols] for (lid, ph), tot in self._level_totals.items()},
                "not_run": sorted((r, p) for r, p in self.not_run if p in set(pes))}

    def import_columns(self, part: dict) -> None:
        """Write another process's ``export_columns`` into these columns (they held nothing)."""
        self._materialize()
        n, pes = part["n_rows"], np.asarray(part["pes"], dtype=np.intp)
        cols = self._columns(pes)
        self._ensure(n)
        self._version += 1
        self._n_rows = max(self._n_rows, n)
        self.rows_seen = max(self.rows_seen, part["rows_seen"])
        for name, arr in part["base"].items():
            self._a[name][:n, cols] = arr

        def lid(name: str) -> int:
            if name not in self._level_ids:
                self._level_ids[name] = len(self.level_names)
                self.level_names.append(name)
            return self._level_ids[name]
        self._a["level"][:n, cols] = [[-1 if name is None else lid(name) for name in row] for row in part["level"]]
        for ph, arr in part["phases"].items():
            if ph not in self._phases:
                self._phases[ph] = np.zeros(self._a["time_done_ns"].shape)  # (stores' shape)
            self._phases[ph][:n, cols] = arr
        self.beyond_max_done_ns[pes] = part["beyond"]
        for store, items in ((self._totals, part["totals"].items()),
                             (self._level_totals, (((lid(lv), ph), v) for (lv, ph), v in part["level_totals"].items()))):
            for key, values in items:
                if key not in store:
                    store[key] = np.full(self.n_pes, np.nan)
                store[key][pes] = values
        self.not_run.update(tuple(x) for x in part["not_run"])
