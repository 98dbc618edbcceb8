"""Per-core e-prop firmware (Rostami et al. 2022 "divide synapses", spec eprop_gsc.md §2).

One ``EpropCore`` per PE owns a contiguous slice of the recurrent neurons (their W_in/W_rec columns, W_out rows,
eligibility and Adam state). A sample is T time-step ticks plus one learning tick:

* tick t < T: x_t is in SRAM (DMA-prefetched during tick t−1), z_{t−1} arrived as multicast packets (one key
  per neuron) into the spike double buffer. S3–S19: neuron update, surrogate ψ, eligibility in the configured
  memory layout, partial readout Σ_t y_t; the new spikes are multicast to every PE.
* tick T: partial Σ_t y_t → root PE (payload packets); root: softmax, loss, err = softmax − onehot, broadcast;
  each PE on the full err: learning signal L_j, gradients, Adam, reset.

Numerics are float32 in the reference's operation order. For speed the PEs of one network share an
``EpropGroup`` holding the network-wide arrays (each PE's state is its column block, charged to its own
SRAM): the first member whose tick callback runs computes the tick for all members from each member's own
input buffer; a member whose buffer changed afterwards (late packet / late DMA) is recomputed alone and
counted in ``late_packet_recomputes``. Eligibility updates and Adam are applied lazily (before their results are
next read), which does not change any result. Timing is each PE's own: every callback charges its own cycles.

Each core's SRAM regions are the arrays it really keeps: ``EpropGroup.member_regions`` names the member's slice of
every kept group array, ``EpropCore.sram_regions`` adds the core's own buffers, and ``on_start`` charges them
through the allocator; ``NOT_KEPT`` lists (with the reason) the group arrays that are numpy scratch or speed-trick
bookkeeping rather than state a core keeps.

Imports only ``s2sim.runtime`` and numpy; the host passes the parameters object.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from s2sim.runtime import Core, Firmware, SharedState

F32 = np.float32
SPIKE_KEY = 0x0E000000
REDUCE_KEY = 0x0E100000
ERR_KEY = 0x0E200000
TYPE_MASK = 0xFFF00000
TAG_X, TAG_LABEL = 1, 2

#: Arrays of ``EpropGroup`` that no core keeps in SRAM, and why (every other array is some member's region).
NOT_KEPT = {
    "e": "instantaneous eligibility / gradient scratch: a register in the fused C loop",
    "tmp": "numpy scratch of one vectorised statement (a register in C)",
    "tn": "numpy scratch of one vectorised statement (a register in C)",
    "zb": "bool copy of the spikes for numpy (z is the kept copy)",
    "U_used": "the input buffer the lazy eligibility update reads (C updates eligibility in the same tick)",
    "err": "copy of each core's err_buffer for the lazy learning update",
    "dirty": "group bookkeeping: member input changed after the group computed its tick",
    "learn_req": "group bookkeeping: member's learning deferred",
    "awaiting_learn": "group bookkeeping: member still waits for its error vector",
    "starts": "group index helper for reduceat", "owner": "group index helper: member of each neuron",
    "diag_rows": "group index helper: autapse rows",
    "raster": "host-side recording (record_raster)",
}


class EpropGroup:
    """Network-wide float32 state of the members; member k owns columns ``bounds[k]``."""

    def __init__(self, params, bounds: list[tuple[int, int]], n_steps: int | None = None):
        p = self.p = params
        self.G = G = len(bounds)
        self.bounds = bounds
        self.cols = [slice(a, b) for a, b in bounds]
        self.starts = np.array([a for a, _ in bounds])
        self.owner = np.repeat(np.arange(G), [b - a for a, b in bounds])  # member of each neuron
        self.T = p.n_steps
        self.n_in, self.N, self.n_out = p.n_in, p.n_rec, p.n_out
        P, N = p.n_in + p.n_rec, p.n_rec
        self.P = P
        self.shared = SharedState(G)
        # constants (float32, as the reference)
        self.alpha, self.oma, self.rho, self.omr = p.alpha, p.one_minus_alpha, p.rho, p.one_minus_rho
        self.oaor, self.kappa, self.v_th = p.one_alpha_x_one_rho, p.kappa, F32(p.v_th)
        self.beta = p.beta_vec
        self.omr_beta = (p.one_minus_rho * self.beta).astype(F32)
        self.sur = (p.surrogate_a0, p.surrogate_a1, p.surrogate_k0, p.surrogate_k1, F32(p.sigma))
        self.two_l2 = p.two_l2
        self.layout, self.exact = p.memory_layout, p.eps_a == "exact"
        self.cf_w = p.closed_form_weights() if self.layout == "closed_form" else None
        self.b1, self.b2 = F32(p.adam_beta1), F32(p.adam_beta2)
        self.omb1, self.omb2 = p.adam_one_minus_beta1, p.adam_one_minus_beta2
        self.eps = F32(p.adam_eps)
        # weights and optimiser ([W_in; W_rec] stacked like the reference)
        z = lambda *s: np.zeros(s, F32)  # noqa: E731
        self.W, self.Wout = z(P, N), z(N, p.n_out)
        self.m, self.v, self.mo, self.vo = z(P, N), z(P, N), z(N, p.n_out), z(N, p.n_out)
        self.b1p, self.b2p = np.full(G, self.b1, F32), np.full(G, self.b2, F32)
        self.steps = np.zeros(G, np.int32)  # Adam updates applied (stored: β1^t goes subnormal after ~966)
        self.lr = F32(p.lr_init)
        # eligibility
        self.ev = z(P, N) if self.layout == "paper" else z(G, P, 1)
        self.ea, self.E, self.e, self.tmp = z(P, N), z(P, N), z(P, N), z(P, N)
        self.ebar = z(P, N) if self.layout != "closed_form" else None
        self.cd, self.cc, self.cp, self.cq = z(N), z(N), z(N), z(N)
        self.psi, self.ls = z(N), z(N)  # ψ of the last tick, learning signal L of the last update
        n_lag = N if self.exact else 0  # ψ_{t−1} coefficients, kept only for eps_a='exact'
        self.pd, self.pc = np.full(n_lag, self.rho, F32), z(n_lag)
        self.gout = z(N, p.n_out)
        self.diag_rows = p.n_in + np.arange(N)
        # neuron state
        self.vm, self.b, self.a, self.cur, self.tn = z(N), z(N), z(N), z(1, N), z(N)
        self.zbar, self.zp, self.gz, self.vs = z(N), z(N), z(N), z(N)
        self.zb = np.zeros(N, bool)
        self.out = z(G, p.n_out)
        self.saved: dict[str, np.ndarray] = {}
        # per-member input buffers [G, parity, x ‖ z_{t−1}]
        self.ubuf = z(G, 2, P)
        self.U_used = z(G, P)
        self.all_eq = True
        self.pending_elig = False
        self.dirty = np.zeros(G, bool)
        # learning
        self.train = True
        self.err = z(G, p.n_out)
        self.learn_req = np.zeros(G, bool)
        self.awaiting_learn = np.zeros(G, bool)
        self.late_packet_recomputes = 0
        self.late_learning = 0
        self.cur_tick = -1  # global tick of the last group tick computation (set by the cores)
        self._fired: list[list[int]] | None = None  # spike keys per member of the computed tick
        # host-visible
        self.record_raster = False
        self.rasters: dict[int, np.ndarray] = {}
        self.raster = np.zeros((self.T, N), np.uint8)

    # ---- host helpers ----------------------------------------------------------------------------------------
    def set_weights(self, w: dict) -> None:
        self.W[:self.n_in] = w["w_in"]
        self.W[self.n_in:] = w["w_rec"]
        if self.p.autapse == "mask":
            self.W[self.diag_rows, np.arange(self.N)] = 0.0
        self.Wout[...] = w["w_out"]

    def weights(self) -> dict:
        self.flush_learning()
        return {"w_in": self.W[:self.n_in].copy(), "w_rec": self.W[self.n_in:].copy(), "w_out": self.Wout.copy()}

    def set_adam(self, m: dict, v: dict, b1p, b2p, steps: int) -> None:
        for arr, d in ((self.m, m), (self.v, v)):
            arr[:self.n_in], arr[self.n_in:] = d["w_in"], d["w_rec"]
        self.mo[...], self.vo[...] = m["w_out"], v["w_out"]
        self.b1p[:], self.b2p[:] = F32(b1p), F32(b2p)
        self.steps[:] = steps

    def adam_state(self) -> tuple[dict, dict, np.float32, np.float32, int]:
        """(m, v, β1^t, β2^t, steps) once every member's learning is applied (members then agree)."""
        self.flush_learning()
        m = {"w_in": self.m[:self.n_in].copy(), "w_rec": self.m[self.n_in:].copy(), "w_out": self.mo.copy()}
        v = {"w_in": self.v[:self.n_in].copy(), "w_rec": self.v[self.n_in:].copy(), "w_out": self.vo.copy()}
        return m, v, F32(self.b1p[0]), F32(self.b2p[0]), int(self.steps[0])

    # ---- SRAM: what member k keeps -----------------------------------------------------------------------------
    def member_regions(self, k: int) -> list[tuple[str, str, tuple]]:
        """(region, category, arrays) of member k: its slice of every array of the group that a core keeps.

        Arrays not listed are in ``NOT_KEPT`` (temporaries of a fused C loop, or bookkeeping of the shared-state
        speed trick). Scalars count 4 B each (float32 / int32).
        """
        c, n_in, kk = self.cols[k], self.n_in, slice(k, k + 1)
        W, m, v, ev, ea, E = self.W, self.m, self.v, self.ev, self.ea, self.E
        r = [("w_in", "weights", (W[:n_in, c],)), ("w_rec", "weights", (W[n_in:, c],)),
             ("w_out", "weights", (self.Wout[c],)),
             ("adam_m_in", "optimizer", (m[:n_in, c],)), ("adam_v_in", "optimizer", (v[:n_in, c],)),
             ("adam_m_rec", "optimizer", (m[n_in:, c],)), ("adam_v_rec", "optimizer", (v[n_in:, c],)),
             ("adam_m_out", "optimizer", (self.mo[c],)), ("adam_v_out", "optimizer", (self.vo[c],)),
             ("adam_scalars", "optimizer", (self.b1p[kk], self.b2p[kk], self.steps[kk], self.lr, self.b1, self.b2,
                                            self.omb1, self.omb2, self.eps))]
        if self.layout == "paper":
            r += [("eps_v_in", "eligibility", (ev[:n_in, c],)), ("eps_v_rec", "eligibility", (ev[n_in:, c],))]
        else:  # ε^v per presynaptic neuron (§3.2 lean)
            r += [("eps_v_in_vec", "eligibility", (ev[k, :n_in],)), ("eps_v_rec_vec", "eligibility", (ev[k, n_in:],))]
        r += [("eps_a_in", "eligibility", (ea[:n_in, c],)), ("eps_a_rec", "eligibility", (ea[n_in:, c],))]
        if self.ebar is not None:
            r += [("ebar_in", "eligibility", (self.ebar[:n_in, c],)),
                  ("ebar_rec", "eligibility", (self.ebar[n_in:, c],))]
        else:
            r += [("closed_form_w", "eligibility", (self.cf_w,))]  # every member keeps the T weights
        r += [("E_in", "eligibility", (E[:n_in, c],)), ("E_rec", "eligibility", (E[n_in:, c],)),
              ("grad_out", "eligibility", (self.gout[c],))]
        for name, arr in (("v", self.vm), ("b", self.b), ("thr_a", self.a), ("i_syn", self.cur[0]),
                          ("v_s", self.vs), ("z", self.zp), ("zbar", self.zbar), ("zbar_sum", self.gz),
                          ("psi", self.psi), ("beta", self.beta), ("coef_d", self.cd), ("coef_c", self.cc),
                          ("coef_p", self.cp), ("coef_q", self.cq), ("coef_rho_beta", self.omr_beta),
                          ("learning_signal", self.ls)):
            r.append((f"n_{name}", "neuron_state", (arr[c],)))
        if self.exact:  # ψ_{t−1} coefficients of the TU Graz lag
            r += [("n_coef_d_prev", "neuron_state", (self.pd[c],)), ("n_coef_c_prev", "neuron_state", (self.pc[c],))]
        r.append(("neuron_scalars", "neuron_state", (self.alpha, self.oma, self.rho, self.omr, self.oaor, self.kappa,
                                                     self.v_th, F32(self.T), *self.sur, self.two_l2)))
        r += [("x_buffers", "buffers", (self.ubuf[k, :, :n_in],)),  # x_t of this tick and the next
              ("spike_buffers", "buffers", (self.ubuf[k, :, n_in:],)),  # received z_{t−1}, double-buffered
              ("y_partial", "buffers", (self.out[k],))]  # Σ_t y_t of this member's neurons
        return r

    # ---- per tick --------------------------------------------------------------------------------------------
    def tick_compute(self, t: int, par: int) -> None:
        """Tick t < T for every member, from each member's own input buffer."""
        self.flush_learning()
        if t == 0:
            self._reset()
        elif self.pending_elig:
            self.apply_elig()
        for name in ("vm", "b", "zbar", "zp", "gz"):
            self.saved[name] = getattr(self, name).copy()
        self.saved["out"] = self.out.copy()
        U = self.ubuf[:, par]
        self.U_used[...] = U
        self.all_eq = bool((U == U[0]).all())
        self.dirty[:] = False
        self._fired = None
        if self.all_eq:
            self._forward(slice(None), U[0:1])
            self.out += np.add.reduceat(self.zbar[:, None] * self.Wout, self.starts, axis=0)
        else:
            for k, c in enumerate(self.cols):
                self._forward(c, U[k:k + 1])
                self.out[k] += (self.zbar[c, None] * self.Wout[c]).sum(axis=0)
        self.pending_elig = self.train
        self._t_of_pending = t

    def recompute(self, k: int, par: int) -> None:
        """Member k's inputs changed after the group computed its tick: redo its slice alone."""
        c = self.cols[k]
        for name in ("vm", "b", "zbar", "zp", "gz"):
            getattr(self, name)[c] = self.saved[name][c]
        self.out[k] = self.saved["out"][k]
        u = self.ubuf[k, par][None].copy()
        self.U_used[k] = u[0]
        self.all_eq = False
        self._forward(c, u)
        self.out[k] += (self.zbar[c, None] * self.Wout[c]).sum(axis=0)
        self.dirty[k] = False
        self._fired = None
        self.late_packet_recomputes += 1

    def input_changed(self, k: int, tick: int) -> None:
        """Member k's input buffer of ``tick`` was written: if the group already computed that tick
        from it (a late packet or DMA), member k must be recomputed before its result is used."""
        if tick == self.cur_tick:
            self.dirty[k] = True

    def spike_keys(self, k: int) -> list[int]:
        """Multicast keys of member k's neurons that fired in the computed tick (one key per neuron)."""
        if self._fired is None:
            fired = np.flatnonzero(self.zp)
            self._fired = per_member = [[] for _ in range(self.G)]
            for owner, key in zip(self.owner[fired].tolist(), (fired + SPIKE_KEY).tolist()):
                per_member[owner].append(key)
        return self._fired[k]

    def _forward(self, c: slice, u: np.ndarray) -> None:
        """S3–S11/S19 on columns ``c`` with u = [x_t, z_{t−1}] ([1, P]), in the reference's op order."""
        b, zp, a, v, tn = self.b[c], self.zp[c], self.a[c], self.vm[c], self.tn[c]
        b *= self.rho  # S3
        np.multiply(zp, self.omr, out=tn)
        b += tn
        if c == slice(None):
            np.matmul(u, self.W, out=self.cur)  # S4 (same shapes as the reference: bitwise equal)
        else:
            self.cur[:, c] = u @ self.W[:, c]
        cur = self.cur[0, c]
        np.multiply(b, self.beta[c], out=a)  # S5
        a += self.v_th
        v *= self.alpha  # S6
        np.multiply(cur, self.oma, out=tn)
        v += tn
        np.multiply(zp, a, out=tn)
        v -= tn
        vs = self.vs[c]
        np.subtract(v, a, out=vs)  # S7
        zb = self.zb[c]
        np.greater(vs, 0.0, out=zb)  # S8
        zp[...] = zb
        zbar = self.zbar[c]
        zbar *= self.kappa  # S10
        zbar += zp
        self.gz[c] += zbar  # S19

    def _surrogate(self, x: np.ndarray) -> np.ndarray:
        a0, a1, k0, k1, s = self.sur
        centre = np.exp(-k0 * (x * x))
        dm = x - s
        dp = x + s
        sides = np.exp(-k1 * (dm * dm)) + np.exp(-k1 * (dp * dp))
        return (a0 * centre - a1 * sides).astype(F32, copy=False)

    def apply_elig(self) -> None:
        """S12–S17 of the last computed tick (deferred until its result is needed)."""
        self.pending_elig = False
        t = self._t_of_pending
        psi = self.psi
        psi[...] = self._surrogate(self.vs)
        np.multiply(psi, self.omr_beta, out=self.cd)
        np.subtract(self.rho, self.cd, out=self.cd)
        np.multiply(psi, self.oaor, out=self.cc)
        np.multiply(psi, self.oma, out=self.cp)
        np.multiply(psi, self.beta, out=self.cq)
        if self.cf_w is not None:
            self.cp *= self.cf_w[t]
            self.cq *= self.cf_w[t]
        paper = self.layout == "paper"
        if self.all_eq:
            if paper:
                self._elig_step(slice(None), self.U_used[0], self.ev)
            else:
                self._elig_step(slice(None), self.U_used[0], self.ev[0])
                self.ev[1:] = self.ev[0]
        else:
            for k, c in enumerate(self.cols):
                self._elig_step(c, self.U_used[k], self.ev[:, c] if paper else self.ev[k])
        if self.exact:
            self.pd[...], self.pc[...] = self.cd, self.cc

    _t_of_pending = 0

    def _elig_step(self, c: slice, u: np.ndarray, ev: np.ndarray) -> None:
        ea, tmp, e = self.ea[:, c], self.tmp[:, c], self.e[:, c]
        if self.exact:
            ea *= self.pd[c]
            np.multiply(ev, self.pc[c], out=tmp)
            ea += tmp
        ev *= self.alpha  # S13 ε^v ← αε^v + u
        ev += u[:, None]
        if not self.exact:
            ea *= self.cd[c]
            np.multiply(ev, self.cc[c], out=tmp)
            ea += tmp
        np.multiply(ev, self.cp[c], out=e)
        np.multiply(ea, self.cq[c], out=tmp)
        e -= tmp
        js = np.arange(self.N)[c]
        rows = self.diag_rows[c]
        self.e[rows, js] = 0.0  # S16: no eligibility for autapses
        self.ea[rows, js] = 0.0
        if self.layout == "paper":
            self.ev[rows, js] = 0.0
        if self.ebar is None:
            self.E[:, c] += e
        else:
            eb = self.ebar[:, c]
            eb *= self.kappa
            eb += e
            self.E[:, c] += eb

    def end_compute(self, s: int) -> None:
        if self.pending_elig:
            self.apply_elig()
        if self.record_raster:
            self.rasters[s] = self.raster.copy()

    def _reset(self) -> None:
        """§2.1 per-sample reset (members still waiting for their learning keep their traces)."""
        for arr in (self.vm, self.b, self.zbar, self.zp, self.gz):
            arr[...] = 0.0
        self.out[...] = 0.0
        self.pending_elig = False
        keep = np.flatnonzero(self.awaiting_learn)
        if len(keep) == 0:
            self._reset_elig(slice(None), None)
        else:
            for k, c in enumerate(self.cols):
                if not self.awaiting_learn[k]:
                    self._reset_elig(c, k)

    def _reset_elig(self, c: slice, k: int | None) -> None:
        self.ea[:, c] = 0.0
        self.E[:, c] = 0.0
        if self.ebar is not None:
            self.ebar[:, c] = 0.0
        if self.layout == "paper":
            self.ev[:, c] = 0.0
        elif k is None:
            self.ev[...] = 0.0
        else:
            self.ev[k] = 0.0
        self.pd[c], self.pc[c] = self.rho, 0.0

    # ---- learning --------------------------------------------------------------------------------------------
    def request_learn(self, k: int, err: np.ndarray, sample_started: bool) -> None:
        """Member k has the full error vector; its update is applied before its weights are read again."""
        self.err[k] = err
        self.learn_req[k] = True
        self.awaiting_learn[k] = False
        if sample_started:  # the next sample already started on the group: learning ran late on this PE
            self.late_learning += 1
            self._learn_member(k)
            self.learn_req[k] = False
            self._reset_elig(self.cols[k], k)
            self.dirty[k] = True

    def flush_learning(self) -> None:
        ks = np.flatnonzero(self.learn_req)
        if len(ks) == 0:
            return
        if (len(ks) == self.G and (self.err == self.err[0]).all() and (self.b1p == self.b1p[0]).all()
                and (self.b2p == self.b2p[0]).all()):
            self._learn(slice(None), self.err[0], 0)
            self.b1p[:] = F32(self.b1p[0] * self.b1)
            self.b2p[:] = F32(self.b2p[0] * self.b2)
            self.steps += 1
        else:
            for k in ks:
                self._learn_member(k)
        self.learn_req[:] = False

    def _learn_member(self, k: int) -> None:
        self._learn(self.cols[k], self.err[k], k)
        self.b1p[k] = F32(self.b1p[k] * self.b1)
        self.b2p[k] = F32(self.b2p[k] * self.b2)
        self.steps[k] += 1

    def _learn(self, c: slice, err: np.ndarray, k: int) -> None:
        """R4–R8 on columns c: L = W_out·err/T, grad = L·E + 2λW, readout grad, Adam."""
        Tn, one = F32(self.T), F32(1.0)
        err2 = err[None, :]
        ls = (err2 @ self.Wout[c].T) / Tn  # R4
        self.ls[c] = ls[0]
        g = self.e[:, c]  # reuse the instantaneous-e scratch as the gradient
        np.multiply(self.E[:, c], ls, out=g)  # R5
        g += self.two_l2 * self.W[:, c]  # R7
        go = self.gout[c]
        go[...] = (self.gz[c, None] * err2) / Tn + self.two_l2 * self.Wout[c]  # R6 + R7
        lr_t = F32(self.lr) * np.sqrt(one - self.b2p[k]) / (one - self.b1p[k])
        for w, m, v, gg, tmp in ((self.W[:, c], self.m[:, c], self.v[:, c], g, self.tmp[:, c]),
                                 (self.Wout[c], self.mo[c], self.vo[c], go, np.empty_like(go))):
            m *= self.b1
            np.multiply(gg, self.omb1, out=tmp)
            m += tmp
            v *= self.b2
            np.multiply(gg, self.omb2, out=tmp)
            tmp *= gg
            v += tmp
            np.sqrt(v, out=tmp)
            tmp += self.eps
            np.divide(m, tmp, out=tmp)
            tmp *= lr_t
            w -= tmp
        if self.p.autapse == "mask":
            js = np.arange(self.N)[c]
            self.W[self.diag_rows[c], js] = 0.0


class EpropCore(Firmware):
    """The program of one PE (member ``index`` of ``group``)."""

    def __init__(self, group: EpropGroup, index: int, pe_ids: list[int],
                 tick_ns: float, phase_ns: float = 0.0, recurrent: str = "dense", chunk_frames: int = 10):
        self.g, self.k = group, index
        self.start, self.stop = group.bounds[index]
        self.n = self.stop - self.start
        self.cols = group.cols[index]
        self.pe_ids, self.root = pe_ids, index == 0
        self.tick_ns, self.phase_ns = tick_ns, phase_ns
        self.recurrent = recurrent
        self.tps = group.T + 1
        self._costs: dict[bool, tuple] = {}  # (per-phase cycles, total) by training on/off
        self._rx_costs: dict[int, float] = {}
        # Input frames arrive by DMA in chunks of ``chunk_frames`` into a two-slot ring (one DMA
        # setup per chunk instead of per frame); each frame is staged into the tick's input buffer
        # one tick ahead, so every PE's x_t is in place when its tick starts.
        self.chunk = chunk_frames
        self.n_chunks = -(-group.T // chunk_frames)
        self.xring = np.zeros((2, chunk_frames, group.n_in), F32)
        self.slot_chunk = [-1, -1]  # global chunk id held by each ring slot
        self.chunk_dma = -1  # chunk id in flight
        self.staged_tick = -1  # tick whose x_t is in its input buffer
        self.stage_pending = -1  # tick to stage as soon as its chunk lands
        self.waiting = -1
        self.err = np.zeros(group.n_out, F32)
        self.err_count = 0
        # root only (empty on the other PEs, which keep none of these)
        rows = 1 if self.root else 0
        self.red = np.zeros((group.G * rows, group.n_out), F32)  # one partial Σ_t y_t per member
        self.softmax = np.zeros(group.n_out * rows, F32)
        self.red_count = 0
        self.label = np.zeros(rows, np.int64)
        self.label_req = -1  # sample whose label DMA is in flight
        self.label_sample = -1  # sample whose label is in ``label``
        self.records: list[tuple[int, float, int, int]] = []  # (sample, loss, pred, label)
        self._pending_reduce = -1
        # host-set per run chunk
        self.dram_base = 0  # global sample index of the first sample in the DRAM buffers
        self.dram_samples = 0
        # The program counts its own steps (global tick = sample x (T+1) + step), as the C code keeps
        # its own time: a tick whose callback the full task queue dropped, or that ran late behind an
        # overrun, never loses a step or a sample boundary. Without overruns step == timer tick.
        self.step = 0  # next step to run
        self.cur_step = -1  # step last started: packets arriving now belong to it
        self.ended_sample = -1  # last sample whose end-of-sample step ran here

    # ---- start -----------------------------------------------------------------------------------------------
    def sram_regions(self) -> list[tuple[str, str, tuple]]:
        """(region, category, arrays) this core keeps: its slice of the group state plus its own buffers."""
        r = self.g.member_regions(self.k)
        r += [("x_chunks", "buffers", (self.xring,)), ("err_buffer", "buffers", (self.err,))]
        if self.root:
            r += [("reduce_buffer", "buffers", (self.red,)), ("softmax", "buffers", (self.softmax,)),
                  ("label", "buffers", (self.label,))]
        return r

    def on_start(self, core: Core) -> None:
        for name, category, arrays in self.sram_regions():
            core.sram.reserve(name, sum(a.nbytes for a in arrays), category)
        core.set_timer(self.tick_ns, self.phase_ns)

    def _chunk_of(self, tick: int) -> tuple[int, int]:
        """(global chunk id, frame within chunk) of a data tick."""
        s, t = divmod(tick, self.tps)
        return s * self.n_chunks + t // self.chunk, t % self.chunk

    def _x_dma(self, core: Core, gid: int) -> None:
        """Fetch chunk ``gid`` (frames of one sample) into ring slot gid & 1."""
        s, c = divmod(gid, self.n_chunks)
        idx = s - self.dram_base
        if not 0 <= idx < self.dram_samples or self.chunk_dma == gid or self.slot_chunk[gid & 1] == gid:
            return
        g = self.g
        t0 = c * self.chunk
        frames = min(self.chunk, g.T - t0)
        core.dma_read(TAG_X, "eprop_x", (idx * g.T + t0) * g.n_in, frames * g.n_in, self.xring[gid & 1])
        self.chunk_dma = gid

    def _stage(self, tick: int) -> bool:
        """Copy x_t of ``tick`` from the ring into its input buffer; False if the chunk is not here."""
        gid, f = self._chunk_of(tick)
        if self.slot_chunk[gid & 1] != gid:
            return False
        self.g.ubuf[self.k, tick & 1, :self.g.n_in] = self.xring[gid & 1, f]
        self.g.input_changed(self.k, tick)
        self.staged_tick = tick
        return True

    def on_dma_done(self, core: Core, tag: int) -> None:
        if tag == TAG_X:
            gid = self.chunk_dma
            self.slot_chunk[gid & 1] = gid
            self.chunk_dma = -1
            if self.stage_pending >= 0 and self._stage(self.stage_pending):
                self.stage_pending = -1
            if self.waiting >= 0 and self._stage(self.waiting):
                tick, self.waiting = self.waiting, -1
                core.schedule(lambda c, tk: self._step(c, tk), tick, 1)
        elif tag == TAG_LABEL and self.root:
            self.label_sample = self.label_req
            if self._pending_reduce >= 0:
                core.schedule(lambda c, s: self._reduce(c, s), self._pending_reduce, 1)
                self._pending_reduce = -1

    # ---- timer -----------------------------------------------------------------------------------------------
    def on_timer(self, core: Core, tick: int) -> None:
        if self.waiting >= 0:
            return  # the step before still waits for its input DMA (ticks queued behind an overrun)
        tick = self.step
        s, t = divmod(tick, self.tps)
        if not 0 <= s - self.dram_base < self.dram_samples:
            return  # no sample loaded for this step: the core idles
        self.step, self.cur_step = tick + 1, tick
        if t < self.g.T:
            if self.staged_tick != tick and not self._stage(tick):  # x_t not here: fetch, run on arrival
                self._x_dma(core, self._chunk_of(tick)[0])
                self.waiting = tick
                core.charge("input_dma", int_alu=6, branch=1)
                return
            self._step(core, tick)
        else:
            self._end_of_sample(core, tick, s)

    def _step_costs(self, core: Core) -> tuple[tuple[tuple[str, float], ...], float]:
        """Cycles per phase of one time step on this PE (fixed for a given slice: computed once)."""
        g, n = self.g, self.n
        cached = self._costs.get(g.train)
        if cached is not None:
            return cached
        n_in, n_rec, n_out = g.n_in, g.N, g.n_out
        costs: dict[str, float] = {}

        def add(phase: str, cycles: float) -> None:
            costs[phase] = costs.get(phase, 0.0) + cycles

        add("input_dma", core.cost(int_alu=6, store=2))
        add("forward", core.kernel_cost("dense_mac", (n_in + n_rec) * n if self.recurrent == "dense" else n_in * n))
        # compiled kernels (firmware_models/eprop/kernels, tools/calibrate_kernels.py); the op-count
        # sums they replace undercounted the neuron (32 vs 35 cycles) and ψ loops (23 vs 45)
        add("neuron", core.kernel_cost("eprop_neuron_update", n) + core.cost(int_alu=14, branch=1))  # + call
        if g.train:
            accel = g.p.exp_impl == "accelerator"
            if not accel:  # the accelerator's exps are charged per step by ``_step`` (they count exp_ops)
                add("surrogate", core.exp_cost(3 * n))
            add("surrogate", core.kernel_cost("eprop_surrogate_accel" if accel else "eprop_surrogate_expf", n))
            syn = (n_in + n_rec) * n
            kernel = {"paper": "eprop_eligibility_paper",  # ε^v per synapse: one more load, FMA, store
                      "lean": "eprop_eligibility_pre_post",  # all in the firmware's [pre][post] layout
                      "closed_form": "eprop_eligibility_closed_form"}[g.layout]
            m = n_in + n_rec
            # [pre][post]: the kernel's inner loop runs per synapse, its outer loop per presynaptic row
            add("eligibility", core.kernel_cost(kernel, syn) + core.kernel_cost(kernel + "_row", m))
            if n_rec:  # S16: the slice's autapse diagonal reset after the kernel (self.e/ea/ev[rows, js] = 0)
                add("eligibility", core.kernel_cost("eprop_autapse_zero", n))
            if g.layout != "paper":  # ε^v per presynaptic neuron
                add("eligibility", core.cost(fmac=m, load=m, store=m, loop=m))
        add("readout", core.kernel_cost("eprop_readout", n * n_out))
        # per output: the compiled outer loop (acc init, y += acc, pointers, branch): 14 cycles
        add("readout", core.cost(load=2 * n_out, fadd=n_out, store=n_out, int_alu=5 * n_out, loop=n_out))
        add("comms", core.cost(int_alu=2 * n, loop=n))
        self._costs[g.train] = (tuple(costs.items()), sum(costs.values()))
        return self._costs[g.train]

    def _step(self, core: Core, tick: int) -> None:
        g, k, n = self.g, self.k, self.n
        s, t = divmod(tick, self.tps)
        par = tick & 1
        if g.cur_tick != tick:  # the first member to reach this tick computes it for the group
            g.tick_compute(t, par)
            g.cur_tick = tick
        if g.dirty[k]:
            g.recompute(k, par)
        g.ubuf[k, par, g.n_in:] = 0.0  # spikes consumed
        gid, f = self._chunk_of(tick)
        if f == 0 and (gid + 1) % self.n_chunks:  # entering a chunk: prefetch the next one
            self._x_dma(core, gid + 1)
        if t + 1 < g.T and not self._stage(tick + 1):  # x_{t+1} into next tick's input buffer
            self.stage_pending = tick + 1
        core.charge_phases(*(self._costs.get(g.train) or self._step_costs(core)))
        if g.train and g.p.exp_impl == "accelerator":  # ψ's 3 Gaussians per neuron on the exp accelerator
            core.exp("surrogate", 3 * n, accelerator=True)
        if g.record_raster:
            g.raster[t, self.cols] = g.zp[self.cols]
        keys = g.spike_keys(k)
        if keys:
            core.send_mc_many(keys)

    # ---- packets ---------------------------------------------------------------------------------------------
    def on_packet(self, core: Core, key: int, payload: Any) -> None:
        self.on_packet_burst(core, [key], [payload])

    def on_packet_burst_many(self, firmwares: list, cores: list, keys, payloads) -> None:
        """The same spike burst reaching several PEs of this group: one numpy write for all of them."""
        if keys[0] & TYPE_MASK != SPIKE_KEY or self.recurrent == "event":
            for fw, core in zip(firmwares, cores):
                fw.on_packet_burst(core, keys, payloads)
            return
        g, n = self.g, len(keys)
        off = SPIKE_KEY - g.n_in
        idx = [key - off for key in keys]  # a burst holds a few spikes: scalar writes beat fancy indexing
        cycles = self._spike_rx_cycles(cores[0], n)
        for fw, core in zip(firmwares, cores):
            fw._spikes_in(fw.cur_step, idx)
            core.charge_cycles("comms", cycles)

    def on_packet_burst_group(self, firmwares: list, cores: list, keys, payloads) -> tuple[str, float] | None:
        """A spike burst reaching members of this group: their numerics at once, and the receive loop's
        cost each member's handler charges (``Firmware.on_packet_burst_group``).

        Other bursts (reduce, err) and the event-driven recurrence charge per core: None, untouched.
        """
        if keys[0] & TYPE_MASK != SPIKE_KEY or self.recurrent == "event":
            return None
        g = self.g
        off = SPIKE_KEY - g.n_in
        idx = [key - off for key in keys]
        buf, computed, dirty = g.ubuf, g.cur_tick, g.dirty
        for fw in firmwares:  # _spikes_in + input_changed of each member, inlined
            k, tick = fw.k, fw.cur_step + 1
            slot = tick & 1
            for i in idx:
                buf[k, slot, i] = 1.0
            if tick == computed:
                dirty[k] = True
        return "comms", self._spike_rx_cycles(cores[0], len(keys))

    def _spikes_in(self, tick: int, idx: list[int]) -> None:
        """z_{t} of the neurons ``idx`` (arrived during ``tick``) into the input buffer of tick + 1."""
        g, k, slot = self.g, self.k, (tick + 1) & 1
        buf = g.ubuf
        for i in idx:
            buf[k, slot, i] = 1.0
        g.input_changed(k, tick + 1)

    def _spike_rx_cycles(self, core: Core, n: int) -> float:
        cached = self._rx_costs.get(n)
        if cached is None:
            cached = self._rx_costs[n] = core.cost(int_alu=3 * n, store=n)
        return cached

    def on_packet_burst(self, core: Core, keys, payloads) -> None:
        g, n = self.g, len(keys)
        typ = keys[0] & TYPE_MASK
        if typ == SPIKE_KEY:
            self._spikes_in(self.cur_step, [key - (SPIKE_KEY - g.n_in) for key in keys])
            core.charge_cycles("comms", self._spike_rx_cycles(core, n))
            if self.recurrent == "event":
                core.kernel("forward", "event_add_dense", n * self.n)
        elif typ == REDUCE_KEY:
            for key, pl in zip(keys, payloads):
                self.red[(key >> 8) & 0xFFF, key & 0xFF] = pl
            self.red_count += n
            core.charge("reduce", int_alu=4 * n, store=n)
            if self.red_count >= g.G * g.n_out:
                core.schedule(lambda c, s: self._reduce(c, s), self.ended_sample, 1)
        elif typ == ERR_KEY:
            for key, pl in zip(keys, payloads):
                self.err[key & 0xFF] = pl
            self.err_count += n
            core.charge("learning_signal", int_alu=3 * n, store=n)
            if self.err_count >= g.n_out:
                self.err_count = 0
                core.schedule(lambda c, s: self._learn(c, s), self.ended_sample, 1)

    # ---- end of sample ---------------------------------------------------------------------------------------
    def _end_of_sample(self, core: Core, tick: int, s: int) -> None:
        g, k = self.g, self.k
        self.ended_sample = s
        g.shared.once("end", tick, lambda: g.end_compute(s))
        g.ubuf[k, tick & 1, g.n_in:] = 0.0  # z_{T−1} is not an input of any step
        if g.train:
            g.awaiting_learn[k] = True
        self._x_dma(core, self._chunk_of(tick + 1)[0])  # prefetch the next sample's first chunk
        self.stage_pending = tick + 1
        part = g.out[k]
        core.charge("reduce", load=g.n_out, loop=g.n_out)
        if self.root:
            self.red[0] = part
            self.red_count += g.n_out
            self.label_req = s
            core.dma_read(TAG_LABEL, "eprop_labels", s - self.dram_base, 1, self.label)
            if self.red_count >= g.G * g.n_out:  # a single-PE network has nothing to wait for
                core.schedule(lambda c, ss: self._reduce(c, ss), s, 1)
        else:
            base = REDUCE_KEY | (k << 8)
            for o in range(g.n_out):
                core.send_mc(base | o, F32(part[o]))

    def _reduce(self, core: Core, s: int) -> None:
        """Root: ȳ = Σ partials / T, loss, prediction; err = softmax(ȳ) − onehot broadcast (training)."""
        g = self.g
        if self.label_sample != s:
            self._pending_reduce = s  # the label DMA has not landed yet
            return
        self.red_count = 0
        tot = np.zeros(g.n_out, F32)
        for row in self.red:
            tot += row
        ym = (tot / F32(g.T))[None, :]
        label = int(self.label[0])
        sh = ym - ym.max(axis=-1, keepdims=True)
        lse = np.log(np.exp(sh).sum(axis=-1))
        loss = float((lse - sh[0, label])[0])
        pred = int(ym.argmax())
        self.records.append((s, loss, pred, label))
        no = g.n_out
        core.charge("reduce", fadd=(g.G + 3) * no, fdiv=no + 1, fcmp=no, load=g.G * no, store=2 * no, loop=g.G * no)
        core.exp("reduce", no, accelerator=g.p.exp_impl == "accelerator")
        core.charge("reduce", logf=1)
        if not g.train:
            return
        e = np.exp(ym - ym.max(axis=-1, keepdims=True))
        self.softmax[...] = (e / e.sum(axis=-1, keepdims=True))[0]
        err = self.softmax.copy()
        err[label] -= F32(1.0)
        for o in range(no):
            core.send_mc(ERR_KEY | o, F32(err[o]))

    def _learn(self, core: Core, s: int) -> None:
        g, n = self.g, self.n
        started = g.cur_tick > s * self.tps + g.T
        g.request_learn(self.k, self.err.copy(), started)
        no, syn = g.n_out, (g.n_in + g.N) * n
        core.kernel("learning_signal", "eprop_learning_signal", n * no)
        core.charge("learning_signal", fmul=n, store=n, loop=n)
        core.kernel("adam", "adam_update", syn + n * no)
        core.kernel("adam", "adam_update_row", g.n_in + g.N + n)  # outer loop: rows of W and of W_out
        # reset for the next sample: ε^a, ē (and per-synapse ε^v) zeroed; E zeroed by the fused Adam loop
        n_zero = syn * (1 + (g.ebar is not None) + (g.layout == "paper"))
        core.charge("adam", store=n_zero + 8 * n, loop=n_zero // 4)
