"""A group's plain time steps in one compiled call per tick (what the counted kernel runs most).

``EpropCore.counted_steps`` runs a tick of every member through the ordinary path: the tick group
(``TickGroup.run_tick`` -> ``EpropGroup.compute``), then each core's staging, spike keys and
prefetch, some hundred Python calls a tick. On most ticks of a sample every member does the same:
a time step t >= 1 of the same sample, nothing computed early, nothing owed but the last step's
eligibility, every member's input buffer equal (the spikes reach every member). There that path is
numpy's three exps of ψ and its matmul of the input current, and the same compiled loops in the same
order, which ``numerics.plain_tick`` runs for the whole group: the same bits.

``PlainTicks.run`` runs such ticks, one compiled call (``numerics.plain_ticks``) for all of them up to
the next chunk's prefetch, or returns 0 (the caller then takes the ordinary path for that tick).
The bookkeeping the ordinary path writes on every tick (each core's step counter and staged tick, the
tick group's ``ran``, the group's owed eligibility) is written once, by ``sync``, before anything
else reads it: the caller syncs before any ordinary tick and at the end of its window.
"""
from __future__ import annotations

import numpy as np

from . import numerics


class PlainTicks:
    """The whole group's plain ticks (``cores``: every member, in member order)."""

    def __init__(self, cores: list) -> None:
        self.cores = cores
        g = self.g = cores[0].g
        self.usable = (g.compiled and g.compiled_readout and g.grouped and len(cores) == g.G
                       and [fw.k for fw in cores] == list(range(g.G))
                       and all(fw.recurrent == "dense" for fw in cores)
                       and len({(fw.chunk, fw.tps) for fw in cores}) == 1)
        first = cores[0]
        self.tps, self.T, self.chunk, self.n_chunks = first.tps, g.T, first.chunk, first.n_chunks
        self.counts = np.zeros((g.tps, g.G), np.int64)
        self.last = -1  # the last tick run here and not synced yet (-1: none)
        self.run_length = 0
        self.xrings = tuple(fw.xring for fw in cores)  # each member's input ring (filled in place by its DMAs)

    def _args(self) -> tuple:
        """Everything ``numerics.plain_tick`` reads or writes past its first arguments (fixed arrays)."""
        g = self.g
        paper = g.layout == "paper"
        filtered = g.elig_filtered is not None
        a0, a1, k0, k1, sigma = g.surrogate_consts
        scaled = g.closed_form_w is not None
        return (g.train, g.exponents, g.psi, g.eps_a_decay, g.eps_a_gain, g.elig_v_gain, g.elig_a_gain,
                g.one_minus_rho_beta, g.beta, g.rho, g.one_alpha_x_one_rho, g.one_minus_alpha, a0, a1, scaled,
                g.closed_form_w if scaled else np.ones(1, np.float32), k0, k1, sigma,
                g.eps_v if paper else g.eps_v[0], paper, g.eps_v if not paper else np.zeros((1, 1, 1), np.float32),
                not paper, g.eps_a, g.elig_filtered if filtered else g.elig, filtered, g.elig_acc, g.exact,
                g.eps_a_decay_prev, g.eps_a_gain_prev, g.alpha, g.kappa,
                g.forward_state, g.saved_forward_state, g.y_partial, g.saved_y_partial,
                g.i_in[0], g.b, g.z, g.thr_a, g.v, g.v_minus_thr, g.zbar, g.zbar_sum, g.one_minus_rho, g.v_th,
                g.W_out, g.starts, g.all_members)

    def _can_start(self, tick: int) -> bool:
        """Tick ``tick`` is a time step t >= 1 that ``counted_steps`` would run for every member at once."""
        g, cores = self.g, self.cores
        t = tick % self.tps
        if not 1 <= t < self.T or g.record_raster or True in g.learn_owed or g.awaiting_learn.any():
            return False
        ticks = g.ticks
        if ticks.pending.count(None) != g.G or ticks.ran.count(tick - 1) != g.G:
            return False
        owed = t - 1 if g.train else None
        if g.elig_owed.count(owed) != g.G or (g.train and not g.inputs_equal):
            return False
        return all(fw.plain_step(tick) for fw in cores)

    def run(self, tick: int, n_max: int) -> int:
        """Run ticks ``tick`` .. (at most ``n_max``) for every member while they are such ticks, stopping after
        one that enters a chunk (its prefetch is the caller's); returns the ticks run (0: ``tick`` is not one,
        nothing changed: the caller syncs and takes the ordinary path). ``counts[k]``: each member's spikes
        in the k-th."""
        if not self.usable:
            return 0
        g = self.g
        if self.last != tick - 1 or self.last < 0:
            self.sync()
            if not self._can_start(tick):
                return 0
            self._args_now = self._args()
        if self.counts.shape[0] < n_max:
            self.counts = np.zeros((n_max, g.G), np.int64)
        slots = np.array([fw.slot_chunk for fw in self.cores], np.int64)  # (each member's ring, now)
        ran = numerics.plain_ticks(tick, n_max, self.tps, self.T, self.chunk, self.n_chunks, slots, g.W, g.i_in,
                                   g.n_in, g.inputs, g.inputs_used, self.xrings, g.owner, self.counts,
                                   *self._args_now)
        if ran == 0:
            self.sync()
            return 0
        self.last = tick + ran - 1
        self.run_length += ran
        return ran

    def sync(self) -> None:
        """Write the bookkeeping of the ticks run since the last sync, as the ordinary path leaves it."""
        tick, n = self.last, self.run_length
        if tick < 0:
            return
        self.last, self.run_length = -1, 0
        g = self.g
        t = tick % self.tps
        staged = tick + 1 if t + 1 < self.T else tick
        for fw in self.cores:
            fw.step, fw.cur_step, fw.staged_tick = tick + 1, tick, staged
        ticks = g.ticks
        ticks.ran[:] = [tick] * g.G
        ticks.updates += n
        g.elig_owed = [t if g.train else None] * g.G
        g.computed_tick = [tick] * g.G
        g.inputs_equal = True
        g._fired = None
        g.spike_keys(0)  # the last tick's keys per member, as ``counted_steps`` leaves them
