"""The hot e-prop numerics on columns [c0, c1), twice: numpy statements and one compiled loop.

Per time step: the neuron update (S3, S5–S11, S19; the input current S4 stays a numpy matmul), the
readout partials, ψ and the eligibility coefficients (S12), the eligibility update (S13–S17); per
sample: the gradients and the Adam step (R5–R8).

The numpy formulation (``*_numpy``) is the statement of the rule in the spec's order (§2.2): one
vectorised statement per operation. The loop (same name without the suffix, compiled by
``s2sim.runtime.jit``) computes each element with the same float32 operations in the same order, so
the two agree bit for bit (tests/firmware_models/eprop/test_eprop_numerics.py); the loop skips
numpy's per-statement overhead and the scratch arrays, and runs several times faster on the
slices one PE keeps. ``EpropGroup`` calls the loops when ``jit_enabled()`` and the numpy statements
otherwise. Whole arrays are passed with the column range, so one signature serves the group (every
column) and a single member (its slice).

Shapes: P = n_in + n_rec presynaptic rows, N = n_rec columns. ``u``: [P] the tick's input
[x_t, z_{t−1}]. ``eps_v``: [P, N] per synapse (``per_synapse``, the paper layout) or [P, 1] per
presynaptic neuron (lean, closed_form). ``ebar``: the filtered ē [P, N] (``filtered``; closed_form
keeps none: any [P, N] array, untouched). ``decay_prev``/``gain_prev``: the ψ_{t−1} coefficients (``exact``).
"""
from __future__ import annotations

import numpy as np

from s2sim.runtime.jit import jit, objmode

F32 = np.float32


def psi_coefficients_numpy(v_minus_thr, psi, decay, gain, v_gain, a_gain, one_minus_rho_beta, beta, rho,
                           one_alpha_x_one_rho, one_minus_alpha, surrogate_consts, w_t, c0, c1) -> None:
    """S12 ψ = a0·exp(−k0·x²) − a1·(exp(−k1·(x−σ)²) + exp(−k1·(x+σ)²)) of x = v − A on columns [c0, c1), and the
    eligibility coefficients: ε^a ← decay·ε^a + gain·ε^v, e = v_gain·ε^v − a_gain·ε^a (times w_t if not None,
    the closed-form layout's weight of this step)."""
    c = slice(c0, c1)
    a0, a1, k0, k1, s = surrogate_consts
    x = v_minus_thr[c]
    centre = np.exp(-k0 * (x * x))
    dm = x - s
    dp = x + s
    sides = np.exp(-k1 * (dm * dm)) + np.exp(-k1 * (dp * dp))
    psi[c] = a0 * centre - a1 * sides
    psi = psi[c]
    np.multiply(psi, one_minus_rho_beta[c], out=decay[c])
    np.subtract(rho, decay[c], out=decay[c])
    np.multiply(psi, one_alpha_x_one_rho, out=gain[c])
    np.multiply(psi, one_minus_alpha, out=v_gain[c])
    np.multiply(psi, beta[c], out=a_gain[c])
    if w_t is not None:
        v_gain[c] *= w_t
        a_gain[c] *= w_t


def psi_coefficients(v_minus_thr, psi, decay, gain, v_gain, a_gain, one_minus_rho_beta, beta, rho,
                     one_alpha_x_one_rho, one_minus_alpha, surrogate_consts, w_t, c0, c1, exponents) -> None:
    """``psi_coefficients_numpy`` in five calls instead of seventeen: a loop for the three exponents, numpy's
    exp on each (the same calls on the same lengths: exp is numpy's own SIMD code, which a compiled loop
    would not reproduce bit for bit), a loop for ψ and the coefficients. ``exponents``: [3, N] float32 scratch."""
    a0, a1, k0, k1, s = surrogate_consts
    surrogate_exponents(v_minus_thr, exponents, k0, k1, s, c0, c1)
    for row in exponents:
        np.exp(row[c0:c1], out=row[c0:c1])
    scaled = w_t is not None
    coefficients(exponents, psi, decay, gain, v_gain, a_gain, one_minus_rho_beta, beta, rho, one_alpha_x_one_rho,
                 one_minus_alpha, a0, a1, scaled, w_t if scaled else np.float32(1.0), c0, c1)


@jit
def surrogate_exponents(x, out, k0, k1, s, c0, c1):
    """−k0·x², −k1·(x−σ)², −k1·(x+σ)² into the rows of ``out``."""
    for j in range(c0, c1):
        xj = x[j]
        out[0, j] = -k0 * (xj * xj)
        dm = xj - s
        out[1, j] = -k1 * (dm * dm)
        dp = xj + s
        out[2, j] = -k1 * (dp * dp)


@jit
def coefficients(gauss, psi, decay, gain, v_gain, a_gain, one_minus_rho_beta, beta, rho, one_alpha_x_one_rho,
                 one_minus_alpha, a0, a1, scaled, w_t, c0, c1):
    """ψ from the three Gaussians, then the eligibility coefficients, in ``psi_coefficients_numpy``'s order."""
    for j in range(c0, c1):
        p = a0 * gauss[0, j] - a1 * (gauss[1, j] + gauss[2, j])
        psi[j] = p
        decay[j] = rho - p * one_minus_rho_beta[j]
        gain[j] = p * one_alpha_x_one_rho
        vg = p * one_minus_alpha
        ag = p * beta[j]
        if scaled:
            vg = vg * w_t
            ag = ag * w_t
        v_gain[j] = vg
        a_gain[j] = ag


def eligibility_numpy(u, eps_v, per_synapse, eps_a, ebar, filtered, elig_acc, decay, gain, v_gain, a_gain,
                      exact, decay_prev, gain_prev, alpha, kappa, c0, c1, n_in, scratch=None) -> None:
    """S13–S17 on columns [c0, c1): ε^v, ε^a, e = v_gain·ε^v − a_gain·ε^a, autapses zeroed, ē and Σ ē.

    ``scratch``: two [P, N] float32 arrays for e and a temporary (allocated if None)."""
    c = slice(c0, c1)
    ev = eps_v[:, c] if per_synapse else eps_v
    ea = eps_a[:, c]
    if scratch is None:
        scratch = (np.empty_like(eps_a), np.empty_like(eps_a))
    e, tmp = scratch[0][:, c], scratch[1][:, c]
    if exact:  # TU Graz lag: ε^a from ψ_{t−1} and ε^v_{t−1}
        ea *= decay_prev[c]
        np.multiply(ev, gain_prev[c], out=tmp)
        ea += tmp
    ev *= alpha  # S13 ε^v ← αε^v + u
    ev += u[:, None]
    if not exact:  # S14 ε^a
        ea *= decay[c]
        np.multiply(ev, gain[c], out=tmp)
        ea += tmp
    np.multiply(ev, v_gain[c], out=e)  # S15 e = ψ(ε^v − βε^a) (scaled)
    np.multiply(ea, a_gain[c], out=tmp)
    e -= tmp
    js = np.arange(c0, c1)
    rows = n_in + js
    scratch[0][rows, js] = 0.0  # S16: no eligibility for autapses
    eps_a[rows, js] = 0.0
    if per_synapse:
        eps_v[rows, js] = 0.0
    if filtered:  # S17 ē ← κē + e; Σ ē
        eb = ebar[:, c]
        eb *= kappa
        eb += e
        elig_acc[:, c] += eb
    else:  # closed form: the weights w_t are in v_gain and a_gain
        elig_acc[:, c] += e


@jit
def eligibility(u, eps_v, per_synapse, eps_a, ebar, filtered, elig_acc, decay, gain, v_gain, a_gain,
                exact, decay_prev, gain_prev, alpha, kappa, c0, c1, n_in):
    """``eligibility_numpy`` as one loop over the synapses (no scratch), bit for bit.

    Written for the vectoriser: rows taken by integer index (a slice per row costs more than the
    row's arithmetic), column indices unsigned (no negative-index wraparound in the inner loop), the
    paper layout's loop apart from the other variants', and the autapses (e = 0, ε^a = 0, ε^v = 0)
    fixed after the loop from their ē and Σ ē saved before it."""
    zero = np.float32(0.0)
    n_rows, n = eps_a.shape[0], c1 - c0
    n_aut = max(0, min(c1, n_rows - n_in) - c0)  # columns c0 + j whose autapse row n_in + c0 + j exists
    ebar_aut, acc_aut = np.empty(n_aut, np.float32), np.empty(n_aut, np.float32)
    for j in range(n_aut):
        i = n_in + c0 + j
        ebar_aut[j], acc_aut[j] = ebar[i, c0 + j] if filtered else zero, elig_acc[i, c0 + j]
    if per_synapse and filtered and not exact:  # the paper layout (gsc.yaml, fsdd.yaml)
        for i in range(n_rows):
            ui = u[i]
            ea_r, acc_r, eb_r, ev_r = eps_a[i], elig_acc[i], ebar[i], eps_v[i]
            for jj in range(n):
                j = np.uint64(c0 + jj)
                ev = ev_r[j] * alpha + ui  # S13
                ev_r[j] = ev
                ea = ea_r[j] * decay[j] + ev * gain[j]  # S14
                ea_r[j] = ea
                e = ev * v_gain[j] - ea * a_gain[j]  # S15
                eb = eb_r[j] * kappa + e  # S17
                eb_r[j] = eb
                acc_r[j] += eb
    else:
        for i in range(n_rows):
            ui = u[i]
            ea_r, acc_r, eb_r, ev_r = eps_a[i], elig_acc[i], ebar[i], eps_v[i]
            ev_row_old = ev_r[0]  # ε^v per presynaptic neuron: one value per row
            ev_row = ev_row_old * alpha + ui
            if not per_synapse:
                ev_r[0] = ev_row
            for jj in range(n):
                j = np.uint64(c0 + jj)
                if per_synapse:
                    ev_old = ev_r[j]
                    ev = ev_old * alpha + ui
                    ev_r[j] = ev
                else:
                    ev_old, ev = ev_row_old, ev_row
                if exact:  # TU Graz lag: ε^a from ψ_{t−1} and ε^v_{t−1}
                    ea = ea_r[j] * decay_prev[j] + ev_old * gain_prev[j]
                else:
                    ea = ea_r[j] * decay[j] + ev * gain[j]
                ea_r[j] = ea
                e = ev * v_gain[j] - ea * a_gain[j]
                if filtered:
                    e = eb_r[j] * kappa + e
                    eb_r[j] = e
                acc_r[j] += e
    for j in range(n_aut):  # S16: the autapses as if e = 0 (ε^v per synapse zeroed too)
        i, jc = n_in + c0 + j, c0 + j
        eps_a[i, jc] = zero
        if per_synapse:
            eps_v[i, jc] = zero
        if filtered:
            eb = ebar_aut[j] * kappa + zero
            ebar[i, jc] = eb
            elig_acc[i, jc] = acc_aut[j] + eb
        else:
            elig_acc[i, jc] = acc_aut[j] + zero


def neuron_update_numpy(i_in, b, z, thr, v, v_minus_thr, zbar, zbar_sum, beta, rho, one_minus_rho, v_th,
                        alpha, one_minus_alpha, kappa, c0, c1, scratch=None) -> None:
    """S3, S5–S11, S19 on columns [c0, c1), given the input current ``i_in`` [N] (S4, a matmul)."""
    c = slice(c0, c1)
    b, z, thr, v, v_minus_thr, zbar = b[c], z[c], thr[c], v[c], v_minus_thr[c], zbar[c]
    tmp = (np.empty_like(zbar_sum) if scratch is None else scratch)[c]
    b *= rho  # S3 adaptation
    np.multiply(z, one_minus_rho, out=tmp)
    b += tmp
    np.multiply(b, beta[c], out=thr)  # S5 threshold
    thr += v_th
    v *= alpha  # S6 membrane
    np.multiply(i_in[c], one_minus_alpha, out=tmp)
    v += tmp
    np.multiply(z, thr, out=tmp)
    v -= tmp
    np.subtract(v, thr, out=v_minus_thr)  # S7
    z[...] = v_minus_thr > 0.0  # S8 spikes
    zbar *= kappa  # S10 filtered spikes
    zbar += z
    zbar_sum[c] += zbar  # S19


@jit
def neuron_update(i_in, b, z, thr, v, v_minus_thr, zbar, zbar_sum, beta, rho, one_minus_rho, v_th,
                  alpha, one_minus_alpha, kappa, c0, c1):
    """``neuron_update_numpy`` as one loop over the neurons, bit for bit."""
    one, zero = np.float32(1.0), np.float32(0.0)
    for j in range(c0, c1):
        zj = z[j]
        bj = b[j] * rho + zj * one_minus_rho
        b[j] = bj
        th = bj * beta[j] + v_th
        thr[j] = th
        vj = v[j] * alpha + i_in[j] * one_minus_alpha
        vj = vj - zj * th
        v[j] = vj
        d = vj - th
        v_minus_thr[j] = d
        zj = one if d > zero else zero
        z[j] = zj
        zb = zbar[j] * kappa + zj
        zbar[j] = zb
        zbar_sum[j] += zb


#: The longest run numpy's pairwise summation adds as one block (numpy's PW_BLOCKSIZE); ``readout``
#: reproduces that block, so it serves members of up to 1 + READOUT_BLOCK_ROWS neurons.
READOUT_BLOCK_ROWS = 128


def readout_numpy(zbar, w_out, starts, y_partial, members) -> None:
    """Σ_t y_t partials: y_partial[k] += z̄[rows of k] · W_out[rows of k], summed over the member's rows
    by ``np.add.reduceat`` (for the whole group at once, or member by member)."""
    if len(members) == len(starts):
        y_partial += np.add.reduceat(zbar[:, None] * w_out, starts, axis=0)
        return
    bounds = list(starts) + [zbar.shape[0]]
    for k in members:
        r = slice(bounds[k], bounds[k + 1])
        y_partial[k] += np.add.reduceat(zbar[r, None] * w_out[r], [0], axis=0)[0]


@jit
def readout(zbar, w_out, starts, y_partial, members):
    """``readout_numpy`` as loops, bit for bit, for members of at most 1 + ``READOUT_BLOCK_ROWS`` rows.

    ``np.add.reduceat`` adds a segment's rows as numpy's float add reduction does: the first row,
    plus the pairwise sum of the others, which for up to 128 values is 8 running sums combined as
    ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)), then the rest one by one (fewer than 8: one
    running sum from 0)."""
    n = zbar.shape[0]
    acc = np.empty(8, np.float32)
    for k in members:
        r0 = starts[k]
        r1 = starts[k + 1] if k + 1 < starts.shape[0] else n
        m = r1 - r0 - 1  # rows after the first
        for o in range(w_out.shape[1]):
            first = zbar[r0] * w_out[r0, o]
            if m < 8:
                rest = np.float32(0.0)
                for r in range(r0 + 1, r1):
                    rest += zbar[r] * w_out[r, o]
            else:
                for q in range(8):
                    acc[q] = zbar[r0 + 1 + q] * w_out[r0 + 1 + q, o]
                i = 8
                while i < m - m % 8:
                    for q in range(8):
                        r = r0 + 1 + i + q
                        acc[q] += zbar[r] * w_out[r, o]
                    i += 8
                rest = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
                for r in range(r0 + 1 + i, r1):
                    rest += zbar[r] * w_out[r, o]
            y_partial[k, o] += first + rest if m > 0 else first


def adam_numpy(w, m, v, acc, scale, two_l2, grad, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, lr_t,
               r0, r1, c0, c1, scratch=None) -> None:
    """R5–R8 on the block [r0:r1, c0:c1]: grad = acc·scale[col] + 2λ·w (R5/R6 with R7), then one Adam step
    m ← β1·m + (1−β1)·g, v ← β2·v + ((1−β2)·g)·g, w ← w − (m / (√v + ε))·lr_t. ``scratch``: like ``w``."""
    b = (slice(r0, r1), slice(c0, c1))
    w, m, v, g = w[b], m[b], v[b], grad[b]
    tmp = (np.empty_like(w) if scratch is None else scratch[b])
    np.multiply(acc[b], scale[c0:c1], out=g)
    g += two_l2 * w
    m *= beta1
    np.multiply(g, one_minus_beta1, out=tmp)
    m += tmp
    v *= beta2
    np.multiply(g, one_minus_beta2, out=tmp)
    tmp *= g
    v += tmp
    np.sqrt(v, out=tmp)
    tmp += eps
    np.divide(m, tmp, out=tmp)
    tmp *= lr_t
    w -= tmp


@jit
def adam(w, m, v, acc, scale, two_l2, grad, beta1, one_minus_beta1, beta2, one_minus_beta2, eps, lr_t,
         r0, r1, c0, c1):
    """``adam_numpy`` as one loop over the block, bit for bit (√ and ÷ are correctly rounded in both)."""
    for i in range(r0, r1):
        w_r, m_r, v_r, a_r, g_r = w[i], m[i], v[i], acc[i], grad[i]
        for jj in range(c1 - c0):
            j = np.uint64(c0 + jj)
            wj = w_r[j]
            g = a_r[j] * scale[j] + two_l2 * wj
            g_r[j] = g
            mj = m_r[j] * beta1 + g * one_minus_beta1
            m_r[j] = mj
            vj = v_r[j] * beta2 + (g * one_minus_beta2) * g
            v_r[j] = vj
            w_r[j] = wj - (mj / (np.sqrt(vj) + eps)) * lr_t


@jit
def plain_tick(t, par, n_in, inputs, inputs_used, stage, xrings, slot1, f1, owner, counts,
               train, exponents, psi, decay, gain, v_gain, a_gain, one_minus_rho_beta, beta, rho, one_alpha_x_one_rho,
               one_minus_alpha, a0, a1, scaled, closed_form_w, k0, k1, sigma,
               eps_v_arg, per_synapse, eps_v_rows, copy_rows, eps_a, ebar, filtered, elig_acc, exact, decay_prev,
               gain_prev, alpha, kappa,
               forward_state, saved_forward_state, y_partial, saved_y_partial,
               i_in, b, z, thr, v, v_minus_thr, zbar, zbar_sum, one_minus_rho, v_th, w_out, starts, all_members):
    """Time step ``t`` (≥ 1) of every member of a group whose members all run the same plain tick, as
    ``EpropGroup.compute`` and ``EpropCore.counted_steps`` do it when every member's input buffer
    agrees: S12–S17 of step t − 1 (its ψ's three exps already taken by numpy into ``exponents``), the
    forward state saved, S3–S11 and S19 (the input current ``i_in`` taken by numpy's matmul of member
    0's input row), the readout partials, the spikes consumed, x_{t+1} staged from each member's ring
    (``stage``: slot ``slot1``, frame ``f1``), the new spikes written into every member's next buffer and
    counted per member (``counts``), and the exponents of this step's ψ for the next call. The same
    loops as the members' own calls, in the same order: the same bits.

    The caller checked that the members' input buffers of this step agree (``plain_ticks``)."""
    G, P = inputs.shape[0], inputs.shape[2]
    N = z.shape[0]
    if train:  # S12–S17 of step t − 1 (``EpropGroup._eligibility`` of every member at once)
        w_t = closed_form_w[t - 1] if scaled else np.float32(1.0)
        coefficients(exponents, psi, decay, gain, v_gain, a_gain, one_minus_rho_beta, beta, rho,
                     one_alpha_x_one_rho, one_minus_alpha, a0, a1, scaled, w_t, 0, N)
        eligibility(inputs_used[0], eps_v_arg, per_synapse, eps_a, ebar, filtered, elig_acc, decay, gain, v_gain,
                    a_gain, exact, decay_prev, gain_prev, alpha, kappa, 0, N, n_in)
        if copy_rows:  # ε^v per presynaptic neuron: every member's copy
            for k in range(1, eps_v_rows.shape[0]):
                eps_v_rows[k] = eps_v_rows[0]
        if exact:
            for j in range(N):
                decay_prev[j] = decay[j]
                gain_prev[j] = gain[j]
    saved_forward_state[:, :] = forward_state
    saved_y_partial[:, :] = y_partial
    for k in range(G):
        for i in range(P):
            inputs_used[k, i] = inputs[k, par, i]
    neuron_update(i_in, b, z, thr, v, v_minus_thr, zbar, zbar_sum, beta, rho, one_minus_rho, v_th,
                  alpha, one_minus_alpha, kappa, 0, N)
    readout(zbar, w_out, starts, y_partial, all_members)
    nxt = 1 - par
    for k in range(G):
        for i in range(n_in, P):  # the spikes consumed
            inputs[k, par, i] = np.float32(0.0)
        counts[k] = 0
        if stage:  # x_{t+1} into the next buffer
            ring = xrings[k]
            for i in range(n_in):
                inputs[k, nxt, i] = ring[slot1, f1, i]
    for j in range(N):  # z_t reaches every member
        if z[j] != np.float32(0.0):
            counts[owner[j]] += 1
            for k in range(G):
                inputs[k, nxt, n_in + j] = np.float32(1.0)
    if train:
        surrogate_exponents(v_minus_thr, exponents, k0, k1, sigma, 0, N)


@jit
def plain_ticks(tick0, n_max, tps, T, chunk, n_chunks, slots, W, i_in2d,
                n_in, inputs, inputs_used, xrings, owner, counts,
                train, exponents, psi, decay, gain, v_gain, a_gain, one_minus_rho_beta, beta, rho, one_alpha_x_one_rho,
                one_minus_alpha, a0, a1, scaled, closed_form_w, k0, k1, sigma,
                eps_v_arg, per_synapse, eps_v_rows, copy_rows, eps_a, ebar, filtered, elig_acc, exact, decay_prev,
                gain_prev, alpha, kappa,
                forward_state, saved_forward_state, y_partial, saved_y_partial,
                i_in, b, z, thr, v, v_minus_thr, zbar, zbar_sum, one_minus_rho, v_th, w_out, starts, all_members):
    """``plain_tick`` for ticks ``tick0``, ``tick0`` + 1, ... (at most ``n_max``) while each is a time step
    t >= 1 whose members' input buffers agree and whose next input frame every member's ring holds
    (``slots``: [member, ring slot] chunk held); numpy's exps of ψ and its matmul of the input current
    run as Python between the loops (``objmode``), as ``EpropGroup`` calls them. Stops after a step that
    enters a chunk (its prefetch is the caller's). Returns the ticks run; ``counts[k]``: each member's
    spikes in the k-th."""
    G, P = inputs.shape[0], inputs.shape[2]
    if train:  # the exponents of the owed step's ψ (``psi_coefficients``' first loop)
        surrogate_exponents(v_minus_thr, exponents, k0, k1, sigma, 0, z.shape[0])
    for k in range(n_max):
        tick = tick0 + k
        s = tick // tps
        t = tick - s * tps
        if t < 1 or t >= T:
            return k
        par = tick & 1
        for m in range(1, G):
            for i in range(P):
                if inputs[m, par, i] != inputs[0, par, i]:
                    return k
        stage = t + 1 < T
        slot1 = 0
        f1 = 0
        if stage:
            gid = s * n_chunks + (t + 1) // chunk
            slot1, f1 = gid & 1, (t + 1) % chunk
            for m in range(G):
                if slots[m, slot1] != gid:
                    return k
        u = inputs[0, par:par + 1]  # member 0's input row, [1, P]
        with objmode():
            if train:  # ψ's three Gaussians: numpy's exp, as ``psi_coefficients`` takes them
                for row in exponents:
                    np.exp(row, out=row)
            np.matmul(u, W, out=i_in2d)  # S4 at full width (``EpropGroup._forward``)
        plain_tick(t, par, n_in, inputs, inputs_used, stage, xrings, slot1, f1, owner, counts[k],
                   train, exponents, psi, decay, gain, v_gain, a_gain, one_minus_rho_beta, beta, rho,
                   one_alpha_x_one_rho, one_minus_alpha, a0, a1, scaled, closed_form_w, k0, k1, sigma,
                   eps_v_arg, per_synapse, eps_v_rows, copy_rows, eps_a, ebar, filtered, elig_acc, exact, decay_prev,
                   gain_prev, alpha, kappa,
                   forward_state, saved_forward_state, y_partial, saved_y_partial,
                   i_in, b, z, thr, v, v_minus_thr, zbar, zbar_sum, one_minus_rho, v_th, w_out, starts, all_members)
        if t % chunk == 0 and (s * n_chunks + t // chunk + 1) % n_chunks != 0:
            return k + 1  # entering a chunk: the caller starts the prefetch
    return n_max
