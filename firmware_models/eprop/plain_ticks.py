"""A group's plain time steps in one compiled call per tick (what the counted kernel runs most).

``EpropCore.counted_steps`` runs a tick of every member through the ordinary path: the tick group
(``TickGroup.run_tick`` -> ``EpropGroup.compute``), then each core's staging, spike keys and
prefetch, some hundred Python calls a tick. On most ticks of a sample every member does the same:
a time step t >= 1 of the same sample, nothing computed early, nothing owed but the last step's
eligibility, every member's input buffer equal (the spikes reach every member). There that path is
numpy's three exps of ψ and its matmul of the input current, and the same compiled loops in the same
order, which ``numerics.plain_tick`` runs in one call for the whole group: the same bits.

``PlainTicks.step`` runs such a tick, or returns None (the caller then takes the ordinary path for it).
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
        self.counts = np.zeros(g.G, np.int64)
        self.last = -1  # the last tick run here and not synced yet (-1: none)
        self.run_length = 0
        self.ready_gid = -1  # the chunk every member's ring holds (checked once per chunk)
        self.u_rows = (g.inputs[0, 0:1], g.inputs[0, 1:2])  # member 0's input row of each parity, [1, P]
        self.exp_rows = tuple(g.exponents[r] for r in range(g.exponents.shape[0]))
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

    def step(self, tick: int) -> np.ndarray | None:
        """Run ``tick`` for every member; returns the spikes each member sent (a reused array), or None if
        the tick is not one of these (nothing changed: the caller syncs and takes the ordinary path)."""
        if not self.usable:
            return None
        g = self.g
        t = tick % self.tps
        if self.last != tick - 1 or self.last < 0 or not 1 <= t < self.T:
            self.sync()
            if not self._can_start(tick):
                return None
            self._args_now = self._args()
            if g.train:  # the exponents of the owed step's ψ (``psi_coefficients``' first loop)
                a0, a1, k0, k1, sigma = g.surrogate_consts
                numerics.surrogate_exponents(g.v_minus_thr, g.exponents, k0, k1, sigma, 0, g.N)
        stage = t + 1 < self.T
        slot1 = f1 = 0
        if stage:
            s, t1 = divmod(tick + 1, self.tps)
            gid = s * self.n_chunks + t1 // self.chunk
            if gid != self.ready_gid:
                if not all(fw.slot_chunk[gid & 1] == gid for fw in self.cores):
                    self.sync()
                    return None
                self.ready_gid = gid
            slot1, f1 = gid & 1, t1 % self.chunk
        if g.train:  # ψ's three Gaussians: numpy's exp, as ``psi_coefficients`` takes them
            for row in self.exp_rows:
                np.exp(row, out=row)
        par = tick & 1
        np.matmul(self.u_rows[par], g.W, out=g.i_in)  # S4 at full width (``EpropGroup._forward``)
        if not numerics.plain_tick(t, par, g.n_in, g.inputs, g.inputs_used, stage,
                                   self.xrings, slot1, f1, g.owner, self.counts,
                                   *self._args_now):
            self.sync()
            return None
        self.last = tick
        self.run_length += 1
        return self.counts

    def sync(self) -> None:
        """Write the bookkeeping of the ticks run since the last sync, as the ordinary path leaves it."""
        self.ready_gid = -1
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
