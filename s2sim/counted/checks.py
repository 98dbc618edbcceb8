"""Bounds checks of the counted kernel's arrays, in Python, before the compiled loop reads them.

The loop (``loop.run_window``) indexes its arrays without bounds checks (numba's default), so an
index out of range in a model reads or writes outside an array: a wrong result or a crash, not an
error. These checks are cheap (vectorised, once per model and once per window) and make a bad model
fail with one line naming the array and what was expected (``ModelArrayError``).
"""
from __future__ import annotations

import numpy as np

from .codes import K_LIF, K_NEURON, N_COUNTS

#: rows of the receiver x source matrices checked per numpy call (bounds a temporary's size)
_CHUNK = 256


class ModelArrayError(ValueError):
    """A counted-kernel model array is inconsistent (a bug in the model's builder, not user input)."""


def _in_range(name: str, values, low: int, high: int) -> None:
    """Every value of ``values`` in [low, high)."""
    values = np.asarray(values)
    if values.size and (values.min() < low or values.max() >= high):
        bad = values[(values < low) | (values >= high)].ravel()[0]
        raise ModelArrayError(f"counted kernel: {name} holds {bad}, expected values in [{low}, {high})")


def _length(name: str, array, n: int) -> None:
    if len(array) != n:
        raise ModelArrayError(f"counted kernel: {name} has {len(array)} entries, expected {n}")


def _pointers(name: str, ptr, n: int, end: int) -> None:
    """``ptr`` is a CSR pointer array of ``n`` segments over ``end`` entries."""
    _length(name, ptr, n + 1)
    ptr = np.asarray(ptr)
    if ptr[0] != 0 or ptr[-1] != end or (np.diff(ptr) < 0).any():
        raise ModelArrayError(f"counted kernel: {name} is not an ascending pointer array from 0 to {end}")


def check_model(model) -> None:
    """The model's fixed arrays: per-unit lengths, routes, cost lines, synaptic rows."""
    U = len(model.pes)
    for name in ("kind", "pe_id", "npc", "nneur", "voff", "sends", "route_of", "timer_table", "syn_table",
                 "alpha", "thr", "reset_zero", "has_syn", "spiking"):
        _length(name, getattr(model, name), U)
    neurons = np.isin(model.kind, (K_LIF, K_NEURON))
    _in_range("voff + nneur", (model.voff + model.nneur)[neurons], 0, model.n_state + 1)
    if model.coef.shape[1] != model.n_state:
        raise ModelArrayError(f"counted kernel: coef has {model.coef.shape[1]} columns, expected {model.n_state}")
    # routes
    R = len(model.r_inj)
    _in_range("route_of", model.route_of, -1, R)
    for name in ("r_src_node", "r_dropped", "n_routes_deliv"):
        _length(name, getattr(model, name), R)
    _pointers("r_eptr", model.r_eptr, R, len(model.e_from))
    _pointers("r_jptr", model.r_jptr, R, len(model.j_unit))
    for name in ("e_to", "e_link", "e_clink"):
        _length(name, getattr(model, name), len(model.e_from))
    for name in ("j_node", "j_link", "j_spread"):
        _length(name, getattr(model, name), len(model.j_unit))
    for name in ("r_src_node", "e_from", "e_to", "j_node"):
        _in_range(name, getattr(model, name), 0, model.n_nodes)
    for name in ("r_inj", "e_link", "j_link"):
        _in_range(name, getattr(model, name), 0, len(model.link_keys))
    _in_range("e_clink", model.e_clink, -1, len(model.clink_keys))
    _in_range("j_unit", model.j_unit, -1, U)
    for r0 in range(0, R, _CHUNK):  # (the loop keeps at most one delivery per sender and receiver)
        r1 = min(r0 + _CHUNK, R)
        a, b = model.r_jptr[r0], model.r_jptr[r1]
        units = model.j_unit[a:b].astype(np.int64)
        pairs = np.repeat(np.arange(r0, r1), np.diff(model.r_jptr[r0:r1 + 1]))[units >= 0] * (U + 1) + units[units >= 0]
        if len(np.unique(pairs)) != len(pairs):
            raise ModelArrayError("counted kernel: a route delivers to one unit twice (j_unit)")
    # cost lines
    c = model.costs
    n_lines, n_tables = len(c.ln_table), int(c.ln_table.max()) + 1 if len(c.ln_table) else 0
    for name in ("ln_phase", "ln_count"):
        _length(name, getattr(c, name), n_lines)
    _pointers("ln_tptr", c.ln_tptr, n_lines, len(c.t_per))
    _in_range("ln_phase", c.ln_phase, 0, len(model.phases))
    _in_range("ln_count", c.ln_count, 0, N_COUNTS)
    _in_range("timer_table", model.timer_table, 0, n_tables)
    _in_range("syn_table", model.syn_table, -1, n_tables)
    _check_rows(model, U)


def _check_rows(model, U: int) -> None:
    """Every row a packet can reach lies in its receiver's rows, every synapse's target in its neurons."""
    n_rows = len(model.row_ptr) - 1
    _pointers("row_ptr", model.row_ptr, n_rows, len(model.post_all))
    _length("weight_all", model.weight_all, len(model.post_all))
    _length("rowoff", model.rowoff, U)
    rows_of = _rows_of_units(model, U, n_rows)
    sparse = getattr(model, "sparse", None)
    dense = rows_of >= 0 if sparse is None else ~sparse
    if dense.any() and np.isin(model.kind[dense], (K_LIF, K_NEURON)).any():
        if model.base.shape != (U, U):
            raise ModelArrayError(f"counted kernel: base has shape {model.base.shape}, expected {(U, U)}")
        for u0 in range(0, U, _CHUNK):  # a source's first row + its neurons within the receiver's rows
            base = model.base[u0:u0 + _CHUNK]
            reach = np.where((base >= 0) & dense[u0:u0 + _CHUNK, None],
                             base + model.nneur[None, :] - rows_of[u0:u0 + _CHUNK, None], 0)
            _in_range("base (+ a source's neurons, past the receiver's rows)", reach, -np.iinfo(np.int64).max, 1)
    if sparse is not None and sparse.any():
        _check_fanout(model, U, sparse, rows_of)
    for u in np.flatnonzero(rows_of).tolist():  # synapse targets: each unit's posts below its neuron count
        a, b = model.row_ptr[model.rowoff[u]], model.row_ptr[model.rowoff[u] + rows_of[u]]
        if b > a:
            _in_range(f"post_all (unit {u})", model.post_all[a:b], 0, int(model.nneur[u]))


def _check_fanout(model, U: int, sparse, rows_of) -> None:
    """Each source neuron's fan-out names sparse receivers and rows of theirs."""
    nodes = len(model.fanout_ptr) - 1
    _pointers("fanout_ptr", model.fanout_ptr, nodes, len(model.fanout_unit))
    _pointers("fanout_sptr", model.fanout_sptr, len(model.fanout_unit), len(model.fanout_post))
    _length("fanout_weight", model.fanout_weight, len(model.fanout_post))
    _length("fanout_noff", model.fanout_noff, U)
    has = model.fanout_noff >= 0
    _in_range("fanout_noff + nneur", (model.fanout_noff + model.nneur)[has], 0, nodes + 1)
    _in_range("fanout_unit", model.fanout_unit, 0, U)
    if len(model.fanout_unit) and not sparse[model.fanout_unit].all():
        raise ModelArrayError("counted kernel: fanout_unit names a receiver without a sparse row index")
    for h0 in range(0, len(model.fanout_unit), _CHUNK * 4096):  # each synapse's target among its receiver's neurons
        h1 = min(h0 + _CHUNK * 4096, len(model.fanout_unit))
        a, b = model.fanout_sptr[h0], model.fanout_sptr[h1]
        owner = np.repeat(model.fanout_unit[h0:h1], np.diff(model.fanout_sptr[h0:h1 + 1]))
        _in_range("fanout_post - the receiver's neurons", model.fanout_post[a:b] - model.nneur[owner],
                  -np.iinfo(np.int64).max, 0)
        _in_range("fanout_post", model.fanout_post[a:b], 0, np.iinfo(np.int64).max)


def _rows_of_units(model, U: int, n_rows: int) -> np.ndarray:
    """Rows each unit holds: from its ``rowoff`` to the next row-holding unit's (units with rows in order)."""
    holds = np.isin(model.kind, (K_LIF, K_NEURON))
    rows = np.zeros(U, np.int64)
    units = np.flatnonzero(holds)
    if len(units):
        starts = model.rowoff[units]
        ends = np.append(starts[1:], n_rows)
        if (ends < starts).any() or starts[0] < 0:
            raise ModelArrayError("counted kernel: rowoff is not ascending over the units with rows")
        rows[units] = ends - starts
    return rows


def check_window(model, n: int, src_fired, src_ptr, link_free, clink_bins: int) -> None:
    """A window's inputs: the sources' spikes within their units, the link state the model's size."""
    U = len(model.pes)
    ticks = (len(src_ptr) - 1) // U if U else 0  # (the numerics may have drawn more ticks than the loop runs)
    if ticks < n:
        raise ModelArrayError(f"counted kernel: src_ptr covers {ticks} ticks, expected at least {n}")
    _pointers("src_ptr", src_ptr[:ticks * U + 1], ticks * U, len(src_fired))
    if len(src_fired):
        unit = np.repeat(np.tile(np.arange(U), ticks), np.diff(src_ptr[:ticks * U + 1]))
        _in_range("src_fired - nneur", src_fired - model.nneur[unit], -np.iinfo(np.int64).max, 0)
        _in_range("src_fired", src_fired, 0, np.iinfo(np.int64).max)
    _length("link_free", link_free, len(model.link_keys))
    if clink_bins < 1:
        raise ModelArrayError("counted kernel: no timestep bin for the chip links' load")
