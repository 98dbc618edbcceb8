"""Group numerics of cue accumulation: the step's arithmetic of every PE in one set of numpy calls.

``CueGroup`` keeps the per-step state of every member PE stacked ``[member, ...]`` (slices padded to the
largest with neurons whose weights are 0, so they never fire and their eligibility stays 0); each PE adopts
its own slice as its SRAM arrays, so the firmware reads and writes the same memory either way. It is the
``GroupKernel`` of a runtime ``TickGroup`` whose ticks are the program's own steps (trial × (T+1) + t):
``compute`` runs one step (spec cue_accumulation.md §5.3: ε, h, ē, z̄, learning signal and gradients in the
window, the forward step and the partial readout) for some members, each exactly as it computes alone. The
elementwise updates run once over the stacked rows; the float64 synaptic sums stay one matrix-vector product
per member, on that member's own float64 copy of its weights, because a BLAS call over a stacked operand
may add in another order and round differently (and spikes must stay bit-identical to the reference).

A member is computed early, when another member's PE runs the step, if its PE ran the step before and the
step's inputs are there (its input chunk is loaded, and in the learning window its error arrived). If
anything it read changes before its PE runs the step (a spike filed into that step's buffer, an error
packet, a DMA into that input slot), the early result is undone and the PE redoes the step alone.

Imports only ``s2sim.runtime`` and numpy.
"""
from __future__ import annotations

import numpy as np

from s2sim.runtime import TickGroup

F32 = np.float32
#: The per-step state held stacked (every other region stays the PE's own allocation).
STACKED = ("w", "w_out", "grad", "grad_out", "ebar", "eps", "zbar", "h", "v", "z", "learning_signal",
           "vo_part", "x_ring", "spike_buffers", "err")


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
        self.state: dict[str, np.ndarray] = {}
        for name in STACKED:
            shape = tuple(max(dims) for dims in zip(*(m[name] for m in self.shapes)))
            self.state[name] = np.zeros((G, *shape), specs[0][name].dtype)
        for name, arr in self.state.items():
            setattr(self, name, arr)
        # what an early step overwrote, for undoing it (same layout), and what each member saved
        self._before = {name: np.zeros_like(self.state[name]) for name in
                        ("eps", "h", "ebar", "zbar", "learning_signal", "grad", "grad_out", "v", "z", "vo_part")}
        self._before_spikes = np.zeros_like(self.spike_buffers[:, 0])
        self._saved: list[tuple[str, ...]] = [()] * G
        self._w64: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = [None] * G
        self._cur = np.zeros((G, max(self.sizes)), F32)
        self._readout = np.zeros((G, p.n_out), F32)
        self.train = True
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
        """Member's W or W_out changed (load, Adam): its float64 copy is refreshed at the next step."""
        self._w64[member] = None

    def _wide(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """float64 copies of member ``k``'s weights for the wide-accumulator sums (one contiguous array each)."""
        if self._w64[k] is None:
            w = self.view(k, "w").astype(np.float64)
            n_in = self.p.n_in
            self._w64[k] = (w[:n_in], w[n_in:], self.view(k, "w_out").astype(np.float64))
        return self._w64[k]

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
        if len(members) == self.G:
            self._step(slice(None), members, step)
        else:
            for k in members:
                self._step(slice(k, k + 1), [k], step)

    def restore(self, member: int, step: int) -> None:
        for name in self._saved[member]:
            self.state[name][member] = self._before[name][member]
        self.spike_buffers[member, step & 1] = self._before_spikes[member]

    def _step(self, rows: slice, members: list[int], step: int) -> None:
        """One step of §5.3 for the members in ``rows`` (the same step: the same t and window)."""
        p, n_in = self.p, self.p.n_in
        t = step % self.tps
        train, window, forward = self.train, self.train and t >= p.learn_start, t < self.T - 1
        saved = ("eps", "zbar") + (("h", "ebar") if train else ()) \
            + (("learning_signal", "grad", "grad_out") if window else ()) + (("v", "z", "vo_part") if forward else ())
        for name in saved:
            np.copyto(self._before[name][rows], self.state[name][rows])
        z_in = self.spike_buffers[rows, step & 1]
        np.copyto(self._before_spikes[rows], z_in)
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
            ebar = self.ebar[rows]
            ebar *= self.kappa
            ebar += np.multiply(eps[:, :, None], h[:, None, :])
        zbar *= self.kappa
        zbar += z
        if window:
            err, w_out = self.err[rows], self.w_out[rows]
            L = err[:, 0, None] * w_out[:, :, 0]
            for o in range(1, p.n_out):
                L = L + err[:, o, None] * w_out[:, :, o]
            self.learning_signal[rows] = L
            self.grad[rows] += ebar * L[:, None, :]
            self.grad_out[rows] += zbar[:, :, None] * err[:, None, :]
        if forward:
            cur = self._cur[rows]
            for r, k in enumerate(members):  # one float64 product per member: rounded as it rounds alone
                w_in64, w_rec64, _ = self._wide(k)
                cur[r, :self.sizes[k]] = (x[r].astype(np.float64) @ w_in64
                                          + z_in[r].astype(np.float64) @ w_rec64).astype(F32)
            v *= self.alpha
            v += cur
            v -= self.th * z
            zb = v > self.th
            z[...] = zb
            readout = self._readout[rows]
            for r, k in enumerate(members):
                self.fired[k] = np.flatnonzero(zb[r, :self.sizes[k]])
                readout[r] = (z[r, :self.sizes[k]].astype(np.float64) @ self._wide(k)[2]).astype(F32)
            vo = self.vo_part[rows]
            vo *= self.kappa
            vo += readout
            events = x.sum(axis=1, dtype=np.int64) + z_in.sum(axis=1, dtype=np.int64)
            for r, k in enumerate(members):
                self.events[k] = int(events[r])
        eps[:, n_in:] *= self.alpha  # ε_rec[t+1] from z[t]
        eps[:, n_in:] += z_in
        z_in[...] = 0
