"""Per-core e-prop firmware (Rostami et al. 2022 "divide synapses", spec eprop_gsc.md §2).

One ``EpropCore`` per PE owns a contiguous slice of the recurrent neurons (their W_in/W_rec columns, W_out rows,
eligibility and Adam state). A sample is T time-step ticks plus one learning tick:

* tick t < T: x_t is in SRAM (DMA-prefetched during tick t−1), z_{t−1} arrived as multicast packets (one key
  per neuron) into the spike double buffer. S3–S19: neuron update, surrogate ψ, eligibility in the configured
  memory layout, partial readout Σ_t y_t; the new spikes are multicast to every PE.
* tick T: partial Σ_t y_t → root PE (payload packets); root: softmax, loss, err = softmax − onehot, broadcast;
  each PE on the full err: learning signal L_j, gradients, Adam, reset.

Numerics are float32 in the reference's operation order. For speed the PEs of one network share an
``EpropGroup`` (the ``GroupKernel`` of a runtime ``TickGroup``) holding the network-wide arrays; each PE's state is
its column block, charged to its own SRAM. ``EpropGroup.compute`` is one tick of any set of members, in the spec's
order; the first member whose tick callback runs computes it for every member not yet computed, from each member's
own input buffer; a member whose buffer changes afterwards (late packet / late DMA) is put back and redone alone when
its PE runs the tick (counted in ``late_packet_recomputes``). ``S2SIM_GROUP_NUMERICS=0`` (or
``firmware.params.group_numerics: false``) makes every member compute alone when its PE runs the tick, with
identical results (tests/firmware_models/test_group_numerics.py, including a tick shorter than a step).
Eligibility updates and Adam are applied lazily (before their results are next
read), which does not change any result. Timing is each PE's own: every callback charges its own cycles, from cost
tables declared once (``step_cost_table``, ``SPIKE_RX_COSTS``).

Each core's SRAM regions are the arrays it really keeps, from one table: ``EpropGroup.member_regions`` names the
member's slice of every kept group array, ``EpropCore.sram_regions`` adds the core's own buffers, and ``on_start``
charges them through the allocator; ``NOT_KEPT`` lists (with the reason) the group arrays that are numpy scratch or
speed-trick bookkeeping rather than state a core keeps.

The hot numerics (neuron update, readout partials, ψ, eligibility, gradients and Adam) are in ``numerics``, each
twice: numpy statements and a compiled loop, bit-identical; the group calls the loops when ``jit_enabled()``.

Imports only ``s2sim.runtime`` and numpy; the host passes the parameters object.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from s2sim.runtime import (ADAM_COSTS, Core, CostTable, Firmware, TickGroup, expf_line, jit_enabled, kernel_line,
                           op_line)

from . import numerics

F32 = np.float32
SPIKE_KEY = 0x0E000000
REDUCE_KEY = 0x0E100000
ERR_KEY = 0x0E200000
TYPE_MASK = 0xFFF00000
TAG_X, TAG_LABEL = 1, 2

def step_cost_table(p, recurrent: str, train: bool) -> CostTable:
    """Cycles of one time step (S3–S19) by phase, per neuron of the PE's slice.

    The neuron, ψ and eligibility lines are compiled kernels (firmware_models/eprop/kernels,
    tools/calibrate_kernels.py); the op-count sums they replaced undercounted the neuron (32 vs 35
    cycles) and ψ loops (23 vs 45). The exp accelerator's exps are charged by ``_step`` (they count
    ``exp_ops``).
    """
    n_in, n_rec, n_out = p.n_in, p.n_rec, p.n_out
    pre = n_in + n_rec  # presynaptic inputs of a neuron
    lines = [op_line("input_dma", int_alu=6, store=2),
             kernel_line("forward", "dense_mac", "neurons", pre if recurrent == "dense" else n_in),
             kernel_line("neuron", "eprop_neuron_update", "neurons"), op_line("neuron", int_alu=14, branch=1)]
    if train:
        accel = p.exp_impl == "accelerator"
        if not accel:
            lines.append(expf_line("surrogate", "neurons", 3))
        lines.append(kernel_line("surrogate", "eprop_surrogate_accel" if accel else "eprop_surrogate_expf", "neurons"))
        kernel = {"paper": "eprop_eligibility_paper",  # ε^v per synapse: one more load, FMA, store
                  "lean": "eprop_eligibility_pre_post",  # all in the firmware's [pre][post] layout
                  "closed_form": "eprop_eligibility_closed_form"}[p.memory_layout]
        # [pre][post]: the kernel's inner loop runs per synapse, its outer loop per presynaptic row
        lines += [kernel_line("eligibility", kernel, "neurons", pre), kernel_line("eligibility", kernel + "_row", None, pre)]
        if n_rec:  # S16: the slice's autapse diagonal reset after the kernel (self.e/ea/ev[rows, js] = 0)
            lines.append(kernel_line("eligibility", "eprop_autapse_zero", "neurons"))
        if p.memory_layout != "paper":  # ε^v per presynaptic neuron
            lines.append(op_line("eligibility", fmac=pre, load=pre, store=pre, loop=pre))
    # W_out [neuron][out]: per output a strided column walk, then its outer loop (acc init, y += acc)
    lines += [kernel_line("readout", "eprop_readout", "neurons", n_out),
              kernel_line("readout", "eprop_readout_row", None, n_out),
              op_line("readout", int_alu=12, branch=1),  # the call: 14 cycles (calibration.json call overhead)
              op_line("comms", "neurons", int_alu=2, loop=1)]
    return CostTable(*lines)


#: Receiving a burst of spikes: file each in the input buffer.
SPIKE_RX_COSTS = CostTable(op_line("comms", "spikes", int_alu=3, store=1))


#: Arrays of ``EpropGroup`` that no core keeps in SRAM, and why (every other array is some member's region).
NOT_KEPT = {
    "elig": "instantaneous eligibility / gradient scratch: a register in the fused C loop",
    "scratch": "numpy scratch of one vectorised statement (a register in C)",
    "scratch_n": "numpy scratch of one vectorised statement (a register in C)",
    "readout_acc": "R6 before its L2 term: a register in the fused C loop",
    "ones_out": "the readout gradient's scale (1): lets one Adam loop serve W and W_out",
    "exponents": "scratch of the compiled path: the arguments of ψ's three exps (registers in C)",
    "inputs_used": "the input buffer the lazy eligibility update reads (C updates eligibility in the same tick)",
    "err": "copy of each core's err_buffer for the lazy learning update",
    "awaiting_learn": "group bookkeeping: member still waits for its error vector",
    "starts": "group index helper for reduceat", "owner": "group index helper: member of each neuron",
    "all_members": "group index helper: every member, for the readout",
    "autapse_rows": "group index helper: autapse rows",
    "raster": "host-side recording (record_raster)",
    "saved_forward_state": "the forward state before an early computation (group bookkeeping to undo it)",
    "saved_y_partial": "the readout partials before an early computation (group bookkeeping to undo it)",
}
#: Neuron state a tick overwrites: what an early computation saves and ``restore`` puts back (the rows of
#: ``EpropGroup.forward_state``).
FORWARD_STATE = ("v", "b", "zbar", "z", "zbar_sum")


class EpropGroup:
    """Network-wide float32 state of the members; member k owns columns ``bounds[k]``.

    The ``GroupKernel`` of a ``TickGroup``: ``compute`` runs one tick (§2, S3–S19) for some members, each
    on its own columns from its own input buffer, all at once where their inputs agree; the result is
    bit for bit what each member computes alone (``grouped=False``: every member does, when its PE
    runs the tick). Products with W are taken at full width and sliced, as BLAS rounds a column
    slice's product differently. The eligibility update (S12–S17) of a tick is applied lazily, at
    the member's next tick or end of sample (before anything reads it), and learning (R4–R8) when
    the member's next tick starts: neither changes a result.
    """

    def __init__(self, params, bounds: list[tuple[int, int]], n_steps: int | None = None, grouped: bool = True):
        p = self.p = params
        self.G = G = len(bounds)
        self.bounds = bounds
        self.cols = [slice(a, b) for a, b in bounds]
        self.starts = np.array([a for a, _ in bounds], np.int64)
        self.all_members = np.arange(G)
        self.owner = np.repeat(np.arange(G), [b - a for a, b in bounds])  # member of each neuron
        self.T = p.n_steps
        self.tps = p.n_steps + 1  # ticks per sample: T steps and the end-of-sample tick
        self.n_in, self.N, self.n_out = p.n_in, p.n_rec, p.n_out
        P, N = p.n_in + p.n_rec, p.n_rec
        self.P = P
        # constants (float32, as the reference)
        self.alpha, self.one_minus_alpha, self.rho, self.one_minus_rho = (p.alpha, p.one_minus_alpha, p.rho,
                                                                          p.one_minus_rho)
        self.one_alpha_x_one_rho, self.kappa, self.v_th = p.one_alpha_x_one_rho, p.kappa, F32(p.v_th)
        self.beta = p.beta_vec
        self.one_minus_rho_beta = (p.one_minus_rho * self.beta).astype(F32)
        self.surrogate_consts = (p.surrogate_a0, p.surrogate_a1, p.surrogate_k0, p.surrogate_k1, F32(p.sigma))
        self.two_l2 = p.two_l2
        self.layout, self.exact = p.memory_layout, p.eps_a == "exact"
        self.closed_form_w = p.closed_form_weights() if self.layout == "closed_form" else None
        self.adam_beta1, self.adam_beta2 = F32(p.adam_beta1), F32(p.adam_beta2)
        self.one_minus_beta1, self.one_minus_beta2 = p.adam_one_minus_beta1, p.adam_one_minus_beta2
        self.adam_eps = F32(p.adam_eps)
        # weights and optimiser ([W_in; W_rec] stacked like the reference)
        z = lambda *s: np.zeros(s, F32)  # noqa: E731
        self.W, self.W_out = z(P, N), z(N, p.n_out)
        self.adam_m, self.adam_v, self.adam_m_out, self.adam_v_out = z(P, N), z(P, N), z(N, p.n_out), z(N, p.n_out)
        self.beta1_power, self.beta2_power = np.full(G, self.adam_beta1, F32), np.full(G, self.adam_beta2, F32)
        self.adam_steps = np.zeros(G, np.int32)  # updates applied (stored: β1^t goes subnormal after ~966)
        self.lr = F32(p.lr_init)
        # eligibility: ε^v (per synapse, or per presynaptic neuron and member), ε^a, filtered ē, Σ ē
        self.eps_v = z(P, N) if self.layout == "paper" else z(G, P, 1)
        self.eps_a, self.elig_acc, self.elig, self.scratch = z(P, N), z(P, N), z(P, N), z(P, N)
        self.elig_filtered = z(P, N) if self.layout != "closed_form" else None
        # ψ-dependent coefficients: ε^a ← decay·ε^a + gain·ε^v; e = v_gain·ε^v − a_gain·ε^a
        self.eps_a_decay, self.eps_a_gain, self.elig_v_gain, self.elig_a_gain = z(N), z(N), z(N), z(N)
        self.psi, self.learning_signal = z(N), z(N)  # ψ of the last tick, L of the last update
        self.exponents = z(3, N)  # the exponents of ψ's three Gaussians (compiled path)
        n_lag = N if self.exact else 0  # ψ_{t−1} coefficients, kept only for eps_a='exact'
        self.eps_a_decay_prev, self.eps_a_gain_prev = np.full(n_lag, self.rho, F32), z(n_lag)
        self.grad_out = z(N, p.n_out)
        self.readout_acc, self.ones_out = z(N, p.n_out), np.ones(p.n_out, F32)  # R6's Σ z̄·err / T; its scale
        self.autapse_rows = p.n_in + np.arange(N)
        # neuron state: membrane v, adaptation b, threshold A = v_th + βb, input current, v − A, spikes z,
        # filtered spikes z̄ and their sum over the sample (the readout gradient)
        # (the state a tick overwrites is one array, FORWARD_STATE its rows: saved, restored and reset at once)
        self.forward_state = z(len(FORWARD_STATE), N)
        self.v, self.b, self.zbar, self.z, self.zbar_sum = self.forward_state
        self.thr_a, self.i_in, self.scratch_n, self.v_minus_thr = z(N), z(1, N), z(N), z(N)
        self.y_partial = z(G, p.n_out)  # Σ_t y_t of each member's neurons
        self.saved_forward_state, self.saved_y_partial = z(len(FORWARD_STATE), N), z(G, p.n_out)
        # per-member input buffers [G, parity, x ‖ z_{t−1}]
        self.inputs = z(G, 2, P)
        self.inputs_used = z(G, P)
        self.inputs_equal = True  # every member's inputs_used is the same (the last tick ran for all at once)
        self.elig_owed: list[int | None] = [None] * G  # per member: t of the eligibility update still to apply
        self.computed_tick = [-1] * G  # per member: the last tick computed for it
        # learning
        self.train = True
        self.err = z(G, p.n_out)
        self.learn_owed = [False] * G  # per member: its error vector arrived, its learning is not applied yet
        self.awaiting_learn = np.zeros(G, bool)
        self.late_learning = 0
        self._fired: list[list[int]] | None = None  # spike keys per member of the last computation
        self.ticks = TickGroup(G, self, grouped, ready=self._ready)
        # the compiled loops (numerics.py) or the numpy statements, bit-identical
        self.compiled = jit_enabled()
        self.compiled_readout = self.compiled and max(b - a for a, b in bounds) <= 1 + numerics.READOUT_BLOCK_ROWS
        # host-visible
        self.record_raster = False
        self.rasters: dict[int, np.ndarray] = {}
        self.raster = np.zeros((self.T, N), np.uint8)
        self._raster_sample = -1

    def _ready(self, member: int, tick: int) -> bool:
        """Which other members the group computes early: those whose PE ran the tick before (``in_step``) and
        that do not await their learning. The error vector of a member still awaiting it may arrive after its
        next sample started (``request_learn``, late); alone, its PE would have applied fewer of that sample's
        eligibility updates by then, so computing it early would change what the late learning resets."""
        return self.ticks.in_step(member, tick) and not self.awaiting_learn[member]

    @property
    def grouped(self) -> bool:
        return self.ticks.grouped

    @property
    def late_packet_recomputes(self) -> int:
        """Early results undone because a member's input changed (simulator bookkeeping)."""
        return self.ticks.redone

    # ---- host helpers ----------------------------------------------------------------------------------------
    def set_weights(self, w: dict) -> None:
        self.W[:self.n_in] = w["w_in"]
        self.W[self.n_in:] = w["w_rec"]
        if self.p.autapse == "mask":
            self.W[self.autapse_rows, np.arange(self.N)] = 0.0
        self.W_out[...] = w["w_out"]

    def weights(self) -> dict:
        self.flush_learning()
        return {"w_in": self.W[:self.n_in].copy(), "w_rec": self.W[self.n_in:].copy(), "w_out": self.W_out.copy()}

    def set_adam(self, m: dict, v: dict, b1p, b2p, steps: int) -> None:
        for arr, d in ((self.adam_m, m), (self.adam_v, v)):
            arr[:self.n_in], arr[self.n_in:] = d["w_in"], d["w_rec"]
        self.adam_m_out[...], self.adam_v_out[...] = m["w_out"], v["w_out"]
        self.beta1_power[:], self.beta2_power[:] = F32(b1p), F32(b2p)
        self.adam_steps[:] = steps

    def adam_state(self) -> tuple[dict, dict, np.float32, np.float32, int]:
        """(m, v, β1^t, β2^t, steps) once every member's learning is applied (members then agree)."""
        self.flush_learning()
        n_in, m, v = self.n_in, self.adam_m, self.adam_v
        m = {"w_in": m[:n_in].copy(), "w_rec": m[n_in:].copy(), "w_out": self.adam_m_out.copy()}
        v = {"w_in": v[:n_in].copy(), "w_rec": v[n_in:].copy(), "w_out": self.adam_v_out.copy()}
        return m, v, F32(self.beta1_power[0]), F32(self.beta2_power[0]), int(self.adam_steps[0])

    # ---- SRAM: what member k keeps -----------------------------------------------------------------------------
    def member_regions(self, k: int) -> list[tuple[str, str, tuple]]:
        """(region, category, arrays) of member k: its slice of every array of the group that a core keeps.

        Arrays not listed are in ``NOT_KEPT`` (temporaries of a fused C loop, or bookkeeping of the shared-state
        speed trick). Scalars count 4 B each (float32 / int32).
        """
        c, n_in, kk = self.cols[k], self.n_in, slice(k, k + 1)
        W, m, v, ev, ea, E = self.W, self.adam_m, self.adam_v, self.eps_v, self.eps_a, self.elig_acc
        r = [("w_in", "weights", (W[:n_in, c],)), ("w_rec", "weights", (W[n_in:, c],)),
             ("w_out", "weights", (self.W_out[c],)),
             ("adam_m_in", "optimizer", (m[:n_in, c],)), ("adam_v_in", "optimizer", (v[:n_in, c],)),
             ("adam_m_rec", "optimizer", (m[n_in:, c],)), ("adam_v_rec", "optimizer", (v[n_in:, c],)),
             ("adam_m_out", "optimizer", (self.adam_m_out[c],)), ("adam_v_out", "optimizer", (self.adam_v_out[c],)),
             ("adam_scalars", "optimizer", (self.beta1_power[kk], self.beta2_power[kk], self.adam_steps[kk], self.lr,
                                            self.adam_beta1, self.adam_beta2, self.one_minus_beta1,
                                            self.one_minus_beta2, self.adam_eps))]
        if self.layout == "paper":
            r += [("eps_v_in", "eligibility", (ev[:n_in, c],)), ("eps_v_rec", "eligibility", (ev[n_in:, c],))]
        else:  # ε^v per presynaptic neuron (§3.2 lean)
            r += [("eps_v_in_vec", "eligibility", (ev[k, :n_in],)), ("eps_v_rec_vec", "eligibility", (ev[k, n_in:],))]
        r += [("eps_a_in", "eligibility", (ea[:n_in, c],)), ("eps_a_rec", "eligibility", (ea[n_in:, c],))]
        if self.elig_filtered is not None:
            r += [("ebar_in", "eligibility", (self.elig_filtered[:n_in, c],)),
                  ("ebar_rec", "eligibility", (self.elig_filtered[n_in:, c],))]
        else:
            r += [("closed_form_w", "eligibility", (self.closed_form_w,))]  # every member keeps the T weights
        r += [("E_in", "eligibility", (E[:n_in, c],)), ("E_rec", "eligibility", (E[n_in:, c],)),
              ("grad_out", "eligibility", (self.grad_out[c],))]
        for name, arr in (("v", self.v), ("b", self.b), ("thr_a", self.thr_a), ("i_syn", self.i_in[0]),
                          ("v_s", self.v_minus_thr), ("z", self.z), ("zbar", self.zbar), ("zbar_sum", self.zbar_sum),
                          ("psi", self.psi), ("beta", self.beta), ("coef_d", self.eps_a_decay),
                          ("coef_c", self.eps_a_gain), ("coef_p", self.elig_v_gain), ("coef_q", self.elig_a_gain),
                          ("coef_rho_beta", self.one_minus_rho_beta), ("learning_signal", self.learning_signal)):
            r.append((f"n_{name}", "neuron_state", (arr[c],)))
        if self.exact:  # ψ_{t−1} coefficients of the TU Graz lag
            r += [("n_coef_d_prev", "neuron_state", (self.eps_a_decay_prev[c],)),
                  ("n_coef_c_prev", "neuron_state", (self.eps_a_gain_prev[c],))]
        r.append(("neuron_scalars", "neuron_state", (self.alpha, self.one_minus_alpha, self.rho, self.one_minus_rho,
                                                     self.one_alpha_x_one_rho, self.kappa, self.v_th, F32(self.T),
                                                     *self.surrogate_consts, self.two_l2)))
        r += [("x_buffers", "buffers", (self.inputs[k, :, :n_in],)),  # x_t of this tick and the next
              ("spike_buffers", "buffers", (self.inputs[k, :, n_in:],)),  # received z_{t−1}, double-buffered
              ("y_partial", "buffers", (self.y_partial[k],))]  # Σ_t y_t of this member's neurons
        return r

    # ---- one tick (GroupKernel) ----------------------------------------------------------------------------------
    def compute(self, members: list[int], tick: int) -> None:
        """Tick t < T of ``members``, each from its own input buffer, in the spec's order."""
        t, par = tick % self.tps, tick & 1
        self._learn_owed(members)  # R4–R8 of the last sample, if its error vector has arrived
        if t == 0:
            self._start_sample(members)  # §2.1 reset
        else:
            self._eligibility_owed(members)  # S12–S17 of tick t − 1
        self._save(members)
        self._neuron_update(members, par)  # S3–S11, S19 and this member's partial readout Σ y
        owed = t if self.train else None
        if len(members) == self.G:
            self.elig_owed, self.computed_tick = [owed] * self.G, [tick] * self.G
        else:
            for k in members:
                self.elig_owed[k], self.computed_tick[k] = owed, tick
        self._fired = None

    def restore(self, member: int, tick: int) -> None:
        """Put member's neuron state back as before its early computation of ``tick``."""
        c = self.cols[member]
        self.forward_state[:, c] = self.saved_forward_state[:, c]
        self.y_partial[member] = self.saved_y_partial[member]
        self.elig_owed[member] = None  # the last tick's update was applied before the save
        self.inputs_equal = False
        self.computed_tick[member] = tick - 1
        self._fired = None

    def input_changed(self, k: int, tick: int) -> None:
        """Member k's input buffer of ``tick`` was written: an early result that used it is undone."""
        if self.ticks.pending[k] is not None:
            self.ticks.input_changed(k, tick)

    def _save(self, members: list[int]) -> None:
        if len(members) == self.G:
            np.copyto(self.saved_forward_state, self.forward_state)
            np.copyto(self.saved_y_partial, self.y_partial)
            return
        for k in members:
            c = self.cols[k]
            self.saved_forward_state[:, c] = self.forward_state[:, c]
            self.saved_y_partial[k] = self.y_partial[k]

    def _neuron_update(self, members: list[int], par: int) -> None:
        U = self.inputs[:, par]
        if len(members) == self.G and bool((U == U[0]).all()):  # every member has the same inputs: one call
            self.inputs_used[...] = U
            self.inputs_equal = True
            self._forward(0, self.N, U[0:1])
            self._readout(self.all_members)
            return
        self.inputs_equal = False
        for k in members:
            u = U[k:k + 1].copy()
            self.inputs_used[k] = u[0]
            self._forward(*self.bounds[k], u)
        self._readout(np.array(members))

    def _forward(self, c0: int, c1: int, u: np.ndarray) -> None:
        """S3–S11/S19 on columns [c0, c1) with u = [x_t, z_{t−1}] ([1, P]), in the reference's op order."""
        # S4 at full width (the reference's shapes, so bitwise equal to it), also for one member's columns
        if c1 - c0 == self.N:
            np.matmul(u, self.W, out=self.i_in)
        else:
            self.i_in[:, c0:c1] = (u @ self.W)[:, c0:c1]
        args = (self.i_in[0], self.b, self.z, self.thr_a, self.v, self.v_minus_thr, self.zbar, self.zbar_sum,
                self.beta, self.rho, self.one_minus_rho, self.v_th, self.alpha, self.one_minus_alpha, self.kappa,
                c0, c1)
        if self.compiled:
            numerics.neuron_update(*args)
        else:
            numerics.neuron_update_numpy(*args, scratch=self.scratch_n)

    def _readout(self, members: np.ndarray) -> None:
        """Σ_t y_t: each member's partial over its own rows, summed in the group's order (``np.add.reduceat``)."""
        if self.compiled_readout:
            numerics.readout(self.zbar, self.W_out, self.starts, self.y_partial, members)
        else:
            numerics.readout_numpy(self.zbar, self.W_out, self.starts, self.y_partial, members)

    def spike_keys(self, k: int) -> list[int]:
        """Multicast keys of member k's neurons that fired in its computed tick (one key per neuron)."""
        if not self.ticks.grouped:
            return (np.flatnonzero(self.z[self.cols[k]]) + (self.bounds[k][0] + SPIKE_KEY)).tolist()
        if self._fired is None:
            fired = np.flatnonzero(self.z)
            self._fired = per_member = [[] for _ in range(self.G)]
            for owner, key in zip(self.owner[fired].tolist(), (fired + SPIKE_KEY).tolist()):
                per_member[owner].append(key)
        return self._fired[k]

    # ---- eligibility (S12–S17 of a computed tick) ----------------------------------------------------------------
    def _eligibility_owed(self, members: list[int]) -> None:
        elig_owed = self.elig_owed
        t = elig_owed[0]
        if (t is not None and self.inputs_equal and len(members) == self.G
                and elig_owed.count(t) == self.G):  # every member owes the same tick's update: one call
            self._eligibility(slice(None), None, t)
            self.elig_owed = [None] * self.G
            return
        for k in members:
            if elig_owed[k] is not None:
                self._eligibility(self.cols[k], k, elig_owed[k])
                elig_owed[k] = None

    def finish_sample(self, k: int, s: int) -> None:
        """Member k ended sample s: apply the eligibility it owes (with every member whose PE is past its last
        tick, when grouped), and record the sample's raster once."""
        if self.grouped:
            pending = self.ticks.pending
            self._eligibility_owed([j for j in range(self.G) if pending[j] is None])
        else:
            self._eligibility_owed([k])
        if self.record_raster and self._raster_sample != s:
            self._raster_sample = s
            self.rasters[s] = self.raster.copy()

    def _eligibility(self, c: slice, k: int | None, t: int) -> None:
        """S12–S17 of tick t on columns ``c`` (member ``k``; None: every member, whose inputs agree)."""
        c0, c1 = (0, self.N) if k is None else self.bounds[k]
        w_t = None if self.closed_form_w is None else self.closed_form_w[t]
        psi_args = (self.v_minus_thr, self.psi, self.eps_a_decay, self.eps_a_gain, self.elig_v_gain, self.elig_a_gain,
                    self.one_minus_rho_beta, self.beta, self.rho, self.one_alpha_x_one_rho, self.one_minus_alpha,
                    self.surrogate_consts, w_t, c0, c1)
        if self.compiled:  # S12 ψ and the coefficients of S13–S15
            numerics.psi_coefficients(*psi_args, self.exponents)
        else:
            numerics.psi_coefficients_numpy(*psi_args)
        paper = self.layout == "paper"
        u = self.inputs_used[0 if k is None else k]
        eps_v = self.eps_v if paper else self.eps_v[0 if k is None else k]
        filtered = self.elig_filtered is not None
        args = (u, eps_v, paper, self.eps_a, self.elig_filtered if filtered else self.elig, filtered,
                self.elig_acc, self.eps_a_decay, self.eps_a_gain, self.elig_v_gain, self.elig_a_gain,
                self.exact, self.eps_a_decay_prev, self.eps_a_gain_prev, self.alpha, self.kappa, c0, c1, self.n_in)
        if self.compiled:
            numerics.eligibility(*args)
        else:
            numerics.eligibility_numpy(*args, scratch=(self.elig, self.scratch))
        if k is None and not paper:
            self.eps_v[1:] = self.eps_v[0]
        if self.exact:
            self.eps_a_decay_prev[c], self.eps_a_gain_prev[c] = self.eps_a_decay[c], self.eps_a_gain[c]

    # ---- sample boundary -------------------------------------------------------------------------------------
    def _start_sample(self, members: list[int]) -> None:
        """§2.1 per-sample reset (a member still waiting for its learning keeps its traces)."""
        if len(members) == self.G:
            self.forward_state[...] = 0.0
            self.y_partial[...] = 0.0
        else:
            for k in members:
                self.forward_state[:, self.cols[k]] = 0.0
                self.y_partial[k] = 0.0
        for k in members:
            self.elig_owed[k] = None
        fresh = [k for k in members if not self.awaiting_learn[k]]
        if len(fresh) == self.G:
            self._reset_elig(slice(None), None)
        else:
            for k in fresh:
                self._reset_elig(self.cols[k], k)

    def _reset_elig(self, c: slice, k: int | None) -> None:
        self.eps_a[:, c] = 0.0
        self.elig_acc[:, c] = 0.0
        if self.elig_filtered is not None:
            self.elig_filtered[:, c] = 0.0
        if self.layout == "paper":
            self.eps_v[:, c] = 0.0
        elif k is None:
            self.eps_v[...] = 0.0
        else:
            self.eps_v[k] = 0.0
        self.eps_a_decay_prev[c], self.eps_a_gain_prev[c] = self.rho, 0.0

    # ---- learning --------------------------------------------------------------------------------------------
    def request_learn(self, k: int, err: np.ndarray, sample_started: bool) -> None:
        """Member k has the full error vector; its update is applied before its weights are read again. If its
        next sample already started, now (late), and a tick of it computed early is redone alone."""
        self.err[k] = err
        self.learn_owed[k] = True
        self.awaiting_learn[k] = False
        if sample_started:
            self.late_learning += 1
            self._learn_member(k)
            self.learn_owed[k] = False
            self._reset_elig(self.cols[k], k)
            if self.ticks.pending[k] is not None:
                self.ticks.undo(k)

    def _learn_owed(self, members: list[int]) -> None:
        if True not in self.learn_owed:
            return
        ks = [k for k in members if self.learn_owed[k]]
        if ks:
            self._learn_members(ks)

    def flush_learning(self) -> None:
        ks = [k for k, owed in enumerate(self.learn_owed) if owed]
        if ks:
            self._learn_members(ks)

    def _learn_members(self, ks: list[int]) -> None:
        b1p, b2p = self.beta1_power, self.beta2_power
        if (len(ks) == self.G and (self.err == self.err[0]).all() and (b1p == b1p[0]).all()
                and (b2p == b2p[0]).all()):
            self._learn(slice(None), self.err[0], 0)
            b1p[:] = F32(b1p[0] * self.adam_beta1)
            b2p[:] = F32(b2p[0] * self.adam_beta2)
            self.adam_steps += 1
        else:
            for k in ks:
                self._learn_member(k)
        for k in ks:
            self.learn_owed[k] = False

    def _learn_member(self, k: int) -> None:
        self._learn(self.cols[k], self.err[k], k)
        self.beta1_power[k] = F32(self.beta1_power[k] * self.adam_beta1)
        self.beta2_power[k] = F32(self.beta2_power[k] * self.adam_beta2)
        self.adam_steps[k] += 1

    def _learn(self, c: slice, err: np.ndarray, k: int) -> None:
        """R4–R8 on columns c: L = W_out·err/T, grad = L·E + 2λW, readout grad, Adam."""
        Tn, one = F32(self.T), F32(1.0)
        err2 = err[None, :]
        ls = (err2 @ self.W_out.T)[:, c] / Tn  # R4 (at full width, as in _forward)
        self.learning_signal[c] = ls[0]
        c0, c1 = (0, self.N) if c == slice(None) else (c.start, c.stop)
        self.readout_acc[c] = (self.zbar_sum[c, None] * err2) / Tn  # R6 before its L2 term
        lr_t = F32(self.lr) * np.sqrt(one - self.beta2_power[k]) / (one - self.beta1_power[k])
        adam = (self.adam_beta1, self.one_minus_beta1, self.adam_beta2, self.one_minus_beta2, self.adam_eps, lr_t)
        # R5 + R7 and Adam on W (the gradient in the instantaneous-e scratch), R6 + R7 and Adam on W_out
        for w, m, v, acc, scale, grad, block in (
                (self.W, self.adam_m, self.adam_v, self.elig_acc, self.learning_signal, self.elig, (0, self.P, c0, c1)),
                (self.W_out, self.adam_m_out, self.adam_v_out, self.readout_acc, self.ones_out, self.grad_out,
                 (c0, c1, 0, self.n_out))):
            if self.compiled:
                numerics.adam(w, m, v, acc, scale, self.two_l2, grad, *adam, *block)
            else:
                numerics.adam_numpy(w, m, v, acc, scale, self.two_l2, grad, *adam, *block)
        if self.p.autapse == "mask":
            js = np.arange(self.N)[c]
            self.W[self.autapse_rows[c], js] = 0.0


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
        self._rx_cycles: dict[int, float] = {}  # receiving n spikes, by n (from SPIKE_RX_COSTS)
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
        p = self.g.p
        self.spike_rx_costs = SPIKE_RX_COSTS.priced(core)
        self.adam_costs = ADAM_COSTS.priced(core)
        #: one step's (phase, cycles) and total, by training on/off: fixed for this slice
        self.step_phases = {train: step_cost_table(p, self.recurrent, train).priced(core).phases(neurons=self.n)
                            for train in (True, False)}
        for name, category, arrays in self.sram_regions():
            core.sram.reserve(name, sum(a.nbytes for a in arrays), category)
        core.set_timer(self.tick_ns, self.phase_ns)

    def _chunk_of(self, tick: int) -> tuple[int, int]:
        """(global chunk id, frame within chunk) of a data tick."""
        s, t = divmod(tick, self.tps)
        return s * self.n_chunks + t // self.chunk, t % self.chunk

    def _x_dma(self, core: Core, gid: int) -> None:
        """Fetch chunk ``gid`` (frames of one sample) into ring slot gid & 1."""
        request = self._x_request(gid)
        if request is not None:
            core.dma_read(TAG_X, *request)
            self.chunk_dma = gid

    def _x_request(self, gid: int) -> tuple[str, int, int, np.ndarray] | None:
        """The DMA read (DRAM buffer, first element, elements, SRAM destination) fetching chunk ``gid``;
        None if it is in flight, held, or of a sample not loaded."""
        s, c = divmod(gid, self.n_chunks)
        idx = s - self.dram_base
        if not 0 <= idx < self.dram_samples or self.chunk_dma == gid or self.slot_chunk[gid & 1] == gid:
            return None
        g = self.g
        t0 = c * self.chunk
        frames = min(self.chunk, g.T - t0)
        return "eprop_x", (idx * g.T + t0) * g.n_in, frames * g.n_in, self.xring[gid & 1]

    def _stage(self, tick: int) -> bool:
        """Copy x_t of ``tick`` from the ring into its input buffer; False if the chunk is not here."""
        gid, f = self._chunk_of(tick)
        if self.slot_chunk[gid & 1] != gid:
            return False
        self.g.inputs[self.k, tick & 1, :self.g.n_in] = self.xring[gid & 1, f]
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

    def _step(self, core: Core, tick: int) -> None:
        """One time step of this PE, in the spec's order: the numerics of its neurons (``EpropGroup.compute``:
        learning it still owes, reset or the last step's eligibility, neuron update, readout partial), its spike
        buffer consumed, the next input staged, the step's phases charged, its spikes sent."""
        g, n = self.g, self.n
        gid, f = self._chunk_of(tick)
        keys = self.step_numerics(tick)
        if f == 0 and (gid + 1) % self.n_chunks:  # entering a chunk: prefetch the next one
            self._x_dma(core, gid + 1)
        core.charge_phases(*self.step_phases[g.train])
        if g.train and g.p.exp_impl == "accelerator":  # ψ's 3 Gaussians per neuron on the exp accelerator
            core.exp("surrogate", 3 * n, accelerator=True)
        if keys:
            core.send_mc_many(keys)

    def counted_step(self, tick: int) -> tuple[list[int], tuple | None]:
        """``on_timer`` of a ``plain_step`` tick without the core: the step's numerics; returns its spike keys
        and the input prefetch it starts (``_x_request``; the caller moves the data and calls
        ``on_dma_done``), or None."""
        self.step, self.cur_step = tick + 1, tick
        gid, f = self._chunk_of(tick)
        keys = self.step_numerics(tick)
        request = None
        if f == 0 and (gid + 1) % self.n_chunks:  # entering a chunk: prefetch the next one (as ``_step``)
            request = self._x_request(gid + 1)
            if request is not None:
                self.chunk_dma = gid + 1
        return keys, request

    @staticmethod
    def counted_steps(cores: list[EpropCore], tick: int) -> tuple[list[list[int]], list[tuple | None]]:
        """``counted_step`` of every member of one group (``cores``, in member order) at once: the same state
        as each in turn (the group computes the tick at the first ``run_tick``; nothing the others do before
        their own ``run_tick`` is read by it), in fewer calls. Returns each core's spike keys and prefetch."""
        g, first = cores[0].g, cores[0]
        t = tick % first.tps
        run_tick = g.ticks.run_tick
        for fw in cores:
            fw.step, fw.cur_step = tick + 1, tick
            run_tick(fw.k, tick)
        g.inputs[:, tick & 1, g.n_in:] = 0.0  # spikes consumed (every member's)
        if t + 1 < g.T:
            for fw in cores:
                if not fw._stage(tick + 1):
                    fw.stage_pending = tick + 1
        if g.record_raster:
            for fw in cores:
                g.raster[t, fw.cols] = g.z[fw.cols]
        keys = [g.spike_keys(fw.k) for fw in cores]
        return keys, EpropCore.counted_prefetches(cores, tick) or [None] * len(cores)

    @staticmethod
    def counted_prefetches(cores: list[EpropCore], tick: int) -> list[tuple | None] | None:
        """The input prefetch each core starts in step ``tick`` (``_x_request``, marked in flight), or None if
        the step enters no chunk."""
        gid, f = cores[0]._chunk_of(tick)
        if f != 0 or not (gid + 1) % cores[0].n_chunks:
            return None
        requests: list[tuple | None] = [None] * len(cores)
        for i, fw in enumerate(cores):  # entering a chunk: prefetch the next one
            requests[i] = fw._x_request(gid + 1)
            if requests[i] is not None:
                fw.chunk_dma = gid + 1
        return requests

    @staticmethod
    def counted_spikes_in(cores: list[EpropCore], keys: list[int]) -> None:
        """Spike keys of one tick reaching every member (``cores``, all of them, in member order), none of which
        has its next tick computed early: what ``on_packet_burst_group`` writes for each burst, in one write."""
        g = cores[0].g
        assert all(p is None for p in g.ticks.pending)
        g.inputs[:, (cores[0].cur_step + 1) & 1, np.asarray(keys, np.int64) - (SPIKE_KEY - g.n_in)] = 1.0

    def step_numerics(self, tick: int) -> list[int]:
        """What a time step does to this PE's state, without the core (the counted kernel runs it for
        ticks it times itself): S3–S19, the spike buffer consumed, x_{t+1} staged; returns the spike keys."""
        g, k = self.g, self.k
        t = tick % self.tps
        g.ticks.run_tick(k, tick)  # S3–S19 for this PE's neurons (computed early with the group, or now alone)
        g.inputs[k, tick & 1, g.n_in:] = 0.0  # spikes consumed
        if t + 1 < g.T and not self._stage(tick + 1):  # x_{t+1} into next tick's input buffer
            self.stage_pending = tick + 1
        if g.record_raster:
            g.raster[t, self.cols] = g.z[self.cols]
        return g.spike_keys(k)

    def plain_step(self, tick: int) -> bool:
        """The timer callback of ``tick`` would be one time step that waits for no DMA: the step's costs, its
        spikes and at most the next chunk's prefetch (what the counted kernel times; ``counted_step``)."""
        s, t = divmod(tick, self.tps)
        if self.step != tick or self.waiting >= 0 or not 0 <= s - self.dram_base < self.dram_samples:
            return False
        if t >= self.g.T:  # the learning tick: reduce, error broadcast, Adam (and the label DMA)
            return False
        return self.staged_tick == tick and self.stage_pending < 0 and self.chunk_dma < 0

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
        cycles = self._spike_rx_cycles(n)
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
        buf, pending = g.inputs, g.ticks.pending
        for fw in firmwares:  # _spikes_in + input_changed of each member, inlined
            k, tick = fw.k, fw.cur_step + 1
            slot = tick & 1
            for i in idx:
                buf[k, slot, i] = 1.0
            if pending[k] is not None:
                g.ticks.input_changed(k, tick)
        return "comms", self._spike_rx_cycles(len(keys))

    def _spikes_in(self, tick: int, idx: list[int]) -> None:
        """z_{t} of the neurons ``idx`` (arrived during ``tick``) into the input buffer of tick + 1."""
        g, k, slot = self.g, self.k, (tick + 1) & 1
        buf = g.inputs
        for i in idx:
            buf[k, slot, i] = 1.0
        g.input_changed(k, tick + 1)

    def _spike_rx_cycles(self, n: int) -> float:
        cycles = self._rx_cycles.get(n)
        if cycles is None:
            cycles = self._rx_cycles[n] = self.spike_rx_costs.total(spikes=n)
        return cycles

    def on_packet_burst(self, core: Core, keys, payloads) -> None:
        g, n = self.g, len(keys)
        typ = keys[0] & TYPE_MASK
        if typ == SPIKE_KEY:
            self._spikes_in(self.cur_step, [key - (SPIKE_KEY - g.n_in) for key in keys])
            core.charge_cycles("comms", self._spike_rx_cycles(n))
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
        g.finish_sample(k, s)
        g.ticks.passed(k, tick)  # a tick without group numerics: the group may compute this member's next one
        g.inputs[k, tick & 1, g.n_in:] = 0.0  # z_{T−1} is not an input of any step
        if g.train:
            g.awaiting_learn[k] = True
        self._x_dma(core, self._chunk_of(tick + 1)[0])  # prefetch the next sample's first chunk
        self.stage_pending = tick + 1
        part = g.y_partial[k]
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
        started = g.computed_tick[self.k] > s * self.tps + g.T
        g.request_learn(self.k, self.err.copy(), started)
        no, syn = g.n_out, (g.n_in + g.N) * n
        core.kernel("learning_signal", "eprop_learning_signal", n * no)  # W_out [neuron][out]: row j
        core.kernel("learning_signal", "eprop_learning_signal_row", n)  # its outer loop: scale by 1/T, store
        core.charge("learning_signal", int_alu=11, branch=1)  # the call: 13 cycles (calibration.json)
        self.adam_costs.charge(weights=syn + n * no, rows=g.n_in + g.N + n)  # rows of W and of W_out
        # reset for the next sample: ε^a, ē (and per-synapse ε^v) zeroed; E zeroed by the fused Adam loop
        n_zero = syn * (1 + (g.elig_filtered is not None) + (g.layout == "paper"))
        core.charge("adam", store=n_zero + 8 * n, loop=n_zero // 4)
