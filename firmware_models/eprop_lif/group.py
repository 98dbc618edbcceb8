"""Group numerics of cue accumulation: the step's arithmetic of every PE in one set of numpy calls.

``CueGroup`` keeps the per-step state of every member PE stacked ``[member, ...]`` (slices padded to the
largest with neurons whose weights are 0, so they never fire and their eligibility stays 0); each PE adopts
its own slice as its SRAM arrays, so the firmware reads and writes the same memory either way. It is the
``GroupKernel`` of a runtime ``TickGroup`` whose ticks are the program's own steps (trial × (T+1) + t):
``compute`` runs one step (spec cue_accumulation.md §5.3: ε, h, ē, z̄, learning signal and gradients in the
window, the forward step and the partial readout) for some members, each exactly as it computes alone. The
elementwise updates run once over the stacked rows. The float64 synaptic sums are one batched ``np.matmul``
over the members' float64 weight copies ``[member, pre, neuron]``: numpy makes, for each member, the
same-shaped BLAS call the member alone makes (in the per-PE mode the batch is that one member, on the same
memory), so each member's sums are added in the same order and round the same. That they also equal the
former one-product-per-PE code (contiguous per-PE copies) was checked bit for bit on OpenBLAS 0.3.30,
padded slices included, and the cue timing golden pins it.

A member is computed early, when another member's PE runs the step, if its PE ran the step before and the
step's inputs are there (its input chunk is loaded, and in the learning window its error arrived). If
anything it read changes before its PE runs the step (a spike filed into that step's buffer, an error
packet, a DMA into that input slot), the early result is undone and the PE redoes the step alone.

Imports only ``s2sim.runtime`` and numpy.
"""
from __future__ import annotations

import numpy as np

from s2sim.runtime import TickGroup, jit_enabled

from . import numerics

F32 = np.float32
#: float32 state a step overwrites, stacked arrays laid out one after another in one block so that saving
#: the whole group's for an undo is one copy; the learning-window state last (saved only in the window).
STEP_STATE = ("eps", "zbar", "h", "ebar", "v", "vo_part")
WINDOW_STATE = ("learning_signal", "grad_out", "grad")
#: The per-step state held stacked (every other region stays the PE's own allocation).
STACKED = STEP_STATE + WINDOW_STATE + ("w", "w_out", "z", "x_ring", "spike_buffers", "err")


class CueGroup:
    """Stacked per-step state of the cue network's PEs and the step's numerics over any of them."""

    def __init__(self, params, arrays: list[list], chunk_frames: int, grouped: bool = True):
        """``arrays``: every member's ArraySpec list (mapping.pe_arrays), in member order."""
        p = self.p = params
        G = self.G = len(arrays)
        self.T, self.tps = p.n_steps, p.n_steps + 1
        self.chunk, self.n_chunks = chunk_frames, -(-p.n_steps // chunk_frames)
        self.alpha, self.kappa, self.th, self.gamma = p.alpha, p.kappa, F32(p.v_th), F32(p.gamma)
        specs = [{a.name: a for a in member if a.name in STACKED} for member in arrays]
        self.sizes = [member["v"].shape[0] for member in specs]
        self.shapes = [{name: a.shape for name, a in member.items()} for member in specs]
        stacked = {name: tuple(max(dims) for dims in zip(*(m[name] for m in self.shapes))) for name in STACKED}
        self.state: dict[str, np.ndarray] = {}
        # each stacked array contiguous (a view whose members interleave makes numpy copy in in-place ops)
        widths = [G * int(np.prod(stacked[name])) for name in STEP_STATE + WINDOW_STATE]
        self._block, self._block_before = np.zeros(sum(widths), F32), np.zeros(sum(widths), F32)
        self._before: dict[str, np.ndarray] = {}
        offset = 0
        for name, width in zip(STEP_STATE + WINDOW_STATE, widths):
            self.state[name] = self._block[offset:offset + width].reshape((G, *stacked[name]))
            self._before[name] = self._block_before[offset:offset + width].reshape((G, *stacked[name]))
            offset += width
        self._step_width, self._window_width = sum(widths[:len(STEP_STATE)]), offset
        for name in STACKED:
            if name not in self.state:
                self.state[name] = np.zeros((G, *stacked[name]), specs[0][name].dtype)
            setattr(self, name, self.state[name])
        # what an early step overwrote, for undoing it, and which arrays each member saved
        self._z_before = np.zeros_like(self.z)
        self._spikes_before = np.zeros_like(self.spike_buffers[:, 0])
        self._saved: list[tuple[str, ...]] = [()] * G
        # float64 copies of the weights for the wide-accumulator sums, refreshed per member after a change
        self.w64, self.w_out64 = np.zeros(self.w.shape), np.zeros(self.w_out.shape)
        self._stale = set(range(G))
        self._outer = np.zeros(self.ebar.shape, F32)  # ε ⊗ h and ē·L, rounded to float32 before they are added
        self.train = True
        self.compiled = jit_enabled()  # ē and the gradient by numerics.py's compiled loop (bit-identical)
        #: per member, of the step last computed: input events (x and z spikes) and its neurons that fired
        self.events = [0] * G
        self.fired: list[np.ndarray] = [np.zeros(0, np.int64)] * G
        self._cores: list = [None] * G
        self.ticks = TickGroup(G, self, grouped, ready=self._inputs_here)
        self.pending = self.ticks.pending

    @property
    def grouped(self) -> bool:
        return self.ticks.grouped

    @property
    def redone(self) -> int:
        """Early results undone because a member's input changed after the group computed its step."""
        return self.ticks.redone

    def view(self, member: int, name: str) -> np.ndarray:
        """Member's slice of a stacked array (the shape its own allocation would have)."""
        return self.state[name][member][tuple(slice(0, d) for d in self.shapes[member][name])]

    def join(self, member: int, firmware) -> None:
        self._cores[member] = firmware

    def weights_changed(self, member: int) -> None:
        """Member's W or W_out changed (load, Adam): its float64 copy is refreshed before its next step."""
        self._stale.add(member)

    def _widen(self, members: list[int]) -> None:
        for k in self._stale.intersection(members):
            n = self.sizes[k]
            self.w64[k, :, :n] = self.view(k, "w")
            self.w_out64[k, :n] = self.view(k, "w_out")
            self._stale.discard(k)

    def chunk_of(self, step: int) -> tuple[int, int]:
        """(global input chunk, frame in it) of a step."""
        s, t = divmod(step, self.tps)
        return s * self.n_chunks + t // self.chunk, t % self.chunk

    def _inputs_here(self, member: int, step: int) -> bool:
        """May the group run ``step`` early for ``member``: its PE ran the step before and the step's
        input chunk (and in the learning window its error) is in."""
        if self.ticks.ran[member] != step - 1:
            return False
        fw = self._cores[member]
        s, t = divmod(step, self.tps)
        if t >= self.T or not 0 <= s - fw.dram_base < fw.dram_samples:
            return False
        gid = self.chunk_of(step)[0]
        if fw.slot_chunk[gid & 1] != gid:
            return False
        return not (self.train and t >= self.p.learn_start and fw.err_count < self.p.n_out)

    # ---- GroupKernel --------------------------------------------------------------------------------
    def compute(self, members: list[int], step: int) -> None:
        save = len(members) > 1  # a member computed alone is its own PE's step, run now: never undone
        if len(members) == self.G:
            self._step(slice(None), members, step, save)
        else:
            for k in members:
                self._step(slice(k, k + 1), [k], step, save)

    def run_all_now(self, step: int) -> None:
        """Every member's PE runs ``step`` now, nothing computed early (the counted kernel's plain step): the
        computation ``TickGroup.run_tick`` makes for the first member, without the copy that lets an early
        result be undone (nothing can change the step's inputs before the others run it), and its bookkeeping."""
        ticks = self.ticks
        members = ticks.all_members
        if ticks.grouped:
            self._step(slice(None), members, step, False)
            ticks.updates += 1
        else:
            for k in members:
                self._step(slice(k, k + 1), [k], step, False)
            ticks.updates += self.G
        for k in members:
            ticks.ran[k] = step

    def restore(self, member: int, step: int) -> None:
        for name in self._saved[member]:
            self.state[name][member] = self._before[name][member]
        self.z[member] = self._z_before[member]
        self.spike_buffers[member, step & 1] = self._spikes_before[member]

    def _step(self, rows: slice, members: list[int], step: int, save: bool) -> None:
        """One step of §5.3 for the members in ``rows`` (the same step: the same t and window)."""
        p, n_in = self.p, self.p.n_in
        t = step % self.tps
        train, window, forward = self.train, self.train and t >= p.learn_start, t < self.T - 1
        z_in = self.spike_buffers[rows, step & 1]
        if save:
            saved = STEP_STATE + WINDOW_STATE if window else STEP_STATE
            if len(members) == self.G:  # the whole group: one copy
                width = self._window_width if window else self._step_width
                np.copyto(self._block_before[:width], self._block[:width])
            else:
                for name in saved:
                    np.copyto(self._before[name][rows], self.state[name][rows])
            np.copyto(self._z_before[rows], self.z[rows])
            np.copyto(self._spikes_before[rows], z_in)
            for k in members:
                self._saved[k] = saved
        gid, f = self.chunk_of(step)
        x = self.x_ring[rows, gid & 1, f]
        eps, v, z, zbar = self.eps[rows], self.v[rows], self.z[rows], self.zbar[rows]
        eps[:, :n_in] *= self.alpha  # ε_in[t]
        eps[:, :n_in] += x
        if train:
            r = F32(1.0) - np.abs(v - self.th) / self.th
            h = self.h[rows]
            h[...] = self.gamma * np.maximum(r, F32(0.0))
        zbar *= self.kappa
        zbar += z
        L = h if train else None  # the learning signal, in the window
        if window:
            err, w_out = self.err[rows], self.w_out[rows]
            L = err[:, 0, None] * w_out[:, :, 0]
            for o in range(1, p.n_out):
                L = L + err[:, o, None] * w_out[:, :, o]
            self.learning_signal[rows] = L
        if train:  # ē ← κ·ē + ε ⊗ h, and in the window G += ē·L (views: in place, no copy back)
            ebar, grad = self.ebar[rows], self.grad[rows]
            if self.compiled:
                numerics.trace_and_gradient(eps, h, ebar, self.kappa, window, L, grad)
            else:
                numerics.trace_and_gradient_numpy(eps, h, ebar, self.kappa, window, L, grad, self._outer[rows])
        if window:
            grad_out = self.grad_out[rows]
            grad_out += zbar[:, :, None] * err[:, None, :]
        if forward:
            self._widen(members)
            w64 = self.w64[rows]
            cur = (np.matmul(x.astype(np.float64)[:, None, :], w64[:, :n_in])
                   + np.matmul(z_in.astype(np.float64)[:, None, :], w64[:, n_in:]))[:, 0].astype(F32)
            v *= self.alpha
            v += cur
            v -= self.th * z
            zb = v > self.th
            z[...] = zb
            vo = self.vo_part[rows]
            vo *= self.kappa
            vo += np.matmul(z.astype(np.float64)[:, None, :], self.w_out64[rows])[:, 0].astype(F32)
            who, idx = np.nonzero(zb)  # padding neurons never fire: their v stays 0
            bounds = np.searchsorted(who, np.arange(len(members) + 1)).tolist()
            events = (x.sum(axis=1, dtype=np.int64) + z_in.sum(axis=1, dtype=np.int64)).tolist()
            for r, k in enumerate(members):
                self.fired[k] = idx[bounds[r]:bounds[r + 1]]
                self.events[k] = events[r]
        eps[:, n_in:] *= self.alpha  # ε_rec[t+1] from z[t]
        eps[:, n_in:] += z_in
        z_in[...] = 0
