"""Per-core firmware of online e-prop on LIF neurons (cue accumulation, spec cue_accumulation.md §5.3).

One ``CueEpropCore`` per PE owns recurrent neurons [start, stop): their W_in/W_rec columns, W_out rows,
eligibility ē, batch gradient and Adam state, all charged to its SRAM (the list comes from the host, see
mapping.pe_arrays; the per-step state is this PE's row of the ``CueGroup``'s stacked arrays). A trial is
T step ticks plus one learning tick (1 ms timer):

* step t: x[t] from the DMA'd input ring, z[t] of every neuron from the spike buffer (multicast packets
  of step t−1). ε_in ← αε_in + x[t]; h = γ·max(0, 1 − |v − ϑ|/ϑ); ē ← κē + ε ⊗ h; z̄ ← κz̄ + z[t].
  In the last ``learn_steps`` steps the root's error err[t] (sent during step t−1) gives
  L = W_out·err and G += L·ē, G_out += z̄ ⊗ err. Then the forward step v ← αv + I − ϑz, z[t+1] = H(v − ϑ)
  (spikes multicast, one key per neuron), the partial readout vo_part ← κ vo_part + W_outᵀz[t+1] (sent to
  the root when step t+1 is scored), and ε_rec ← αε_rec + z[t] (one step behind ε_in).
* root: sums the partials in PE order, y = softmax(vo), Σy for the prediction, err = y − onehot multicast.
* learning tick: after every ``batch`` trials, Adam on lr_layer·G (torch's form); W_rec's diagonal is kept 0.

The program counts its own steps (global step = trial × (T+1) + t), as the C code keeps its own time: a
tick whose callback a full task queue dropped, or that ran late behind an overrun, never loses a step or a
trial boundary (the host keeps the timer running until every PE has run every step). Without overruns the
step is the timer tick. A step waits (and runs when they arrive) if its input chunk or its error is not there
yet; a tick that fires meanwhile finds the program busy and returns. A step that starts after the tick that
triggered it has ended is counted in ``late_steps``.

Spikes are filed for the step after the one the program is in (started or waiting for its input/error).
With a long tick that is exactly the next step. With a tick shorter than a step's work the PEs run steps
back to back at their own pace: in the learning window they stay in lock-step (every step waits for the
root's error, which needs every PE's partial readout), before it nothing ties them together, so a PE that
drifted a step ahead or behind files other PEs' spikes one step off and the run learns something else. On
one PE nothing crosses PEs unsynchronised and a too-short tick changes only the timing.
Synaptic currents are summed in float64 and rounded once, like the reference, so spikes are bit-identical.

Group numerics (a speed trick of the simulator, not of the chip; group.py): the step's arithmetic is the
``CueGroup``'s, run through the runtime's ``TickGroup``: computed early together with the other PEs that are
ready, or alone when this PE runs the step. This program keeps the rest: its step count, DMAs, packets,
the root's reduce, Adam, and its own cycles. A spike, error or DMA that changes what an early step read
undoes it (``input_changed``/``undo``), and the PE redoes the step alone.

Imports only ``s2sim.runtime`` and numpy.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from s2sim.runtime import ADAM_COSTS, Core, CostTable, Firmware, kernel_line, op_line

from .group import STACKED, CueGroup

F32 = np.float32
SPIKE_KEY = 0x0C000000
PART_KEY = 0x0C100000  # | member << 8 | output
ERR_KEY = 0x0C200000  # | output
TYPE_MASK = 0xFFF00000
TAG_X, TAG_LABEL = 1, 2


#: receiving one spike packet (``on_packet``): file it into the next step's buffer
SPIKE_RX_COSTS = CostTable(op_line("comms", "spikes", int_alu=3, store=1))


def step_event_costs(p) -> CostTable:
    """The step's event-driven parts, charged before its spikes are sent: the forward pass adds the active
    inputs' rows (``synapses`` = input events × neurons) and the readout the fired neurons' W_out rows."""
    return CostTable(kernel_line("forward", "event_add", "synapses"),
                     kernel_line("readout", "event_add", "spikes", iterations=p.n_out))


def step_cost_table(p, n: int, train: bool, window: bool) -> CostTable:
    """Cycles of one step on a PE of ``n`` neurons, by phase (the event-driven parts are charged by hand)."""
    n_in, n_rec, O, syn = p.n_in, p.n_rec, p.n_out, p.n_pre * n
    lines = [op_line("input_dma", load=n_in, int_alu=4),
             op_line("eligibility", fmul=p.n_pre, fadd=p.n_pre, load=2 * p.n_pre, store=p.n_pre, loop=p.n_pre),
             op_line("neuron", fmul=2 * n, fadd=2 * n, fcmp=n, load=3 * n, store=3 * n, loop=n),
             op_line("readout", fmul=O + n, fadd=O + n, load=n, store=n),
             op_line("comms", int_alu=2 * n, store=n_rec // 4, loop=n)]
    if train:
        lines += [op_line("surrogate", fadd=2 * n, fdiv=n, fmul=n, fcmp=n, load=n, store=n, loop=n),
                  op_line("eligibility", fmul=syn, fmac=syn, load=2 * syn, store=syn, loop=syn)]
    if window:
        lines += [op_line("learning_signal", fmac=n * O, load=2 * n * O, store=n, loop=n),
                  op_line("gradient", fmac=syn + n * O, load=2 * syn + 2 * n * O, store=syn + n * O, loop=syn)]
    return CostTable(*lines)


class CueEpropCore(Firmware):
    """The program of member ``index`` (neurons [start, stop)) of a ``members``-PE network."""

    def __init__(self, params, index: int, members: int, start: int, stop: int, arrays: list,
                 tick_ns: float, chunk_frames: int, group: CueGroup):
        """``group``: the network's ``CueGroup``, whose row ``index`` holds this PE's per-step state."""
        p = self.p = params
        self.k, self.G, self.start, self.stop = index, members, start, stop
        self.n = stop - start
        self.root = index == 0
        self.arrays, self.tick_ns, self.chunk = arrays, tick_ns, chunk_frames
        self.group, self.pending = group, group.pending  # the group's early steps, by member
        self.T, self.tps = p.n_steps, p.n_steps + 1
        self.n_chunks = -(-p.n_steps // chunk_frames)
        self.alpha, self.kappa, self.th = p.alpha, p.kappa, F32(p.v_th)
        self.gamma = F32(p.gamma)
        self.record_raster = False
        self.rasters: dict[int, np.ndarray] = {}
        self.records: list[tuple[int, float, int, int]] = []  # root: (trial, window loss, prediction, label)
        self.late_steps = 0
        self.dram_base = self.dram_samples = 0  # host: global index of the first trial in DRAM, trial count
        self.slot_chunk = [-1, -1]  # global chunk id held by each ring slot
        self.chunk_dma = -1
        self.step = 0  # next step to run (its own count: trial × (T+1) + t)
        self.cur_step = -1  # step the program is in (started or waiting): spikes arriving now are for the next
        self.waiting = False  # step ``cur_step`` waits for its input chunk or its error
        self.trigger_tick = -1  # timer tick that triggered ``cur_step`` (a later one: the step runs late)
        self.err_count = 0
        self.part_count = 0
        self.label_trial = self.pending_label = -1
        self.scored = 0  # root: window steps scored in this trial
        self.loss_sum = 0.0
        self._costs: dict = {}  # one step's (phase, cycles) and total on this core, by (training, learning window)

    # ---- start -----------------------------------------------------------------------------------------
    @property
    def train(self) -> bool:
        return self.group.train

    @train.setter
    def train(self, on: bool) -> None:  # the host sets it for every PE of the network alike
        self.group.train = on

    def on_start(self, core: Core) -> None:
        g = self.group
        self.a = {a.name: core.sram.adopt(a.name, g.view(self.k, a.name), a.category) if a.name in STACKED
                  else core.sram.alloc(a.name, a.shape, a.dtype, a.category) for a in self.arrays}
        g.join(self.k, self)
        for name, arr in self.a.items():
            setattr(self, name, arr)
        self.adam_scalars[:] = (0.0, 1.0, 1.0, self.p.lr)
        self.raster = np.zeros((self.T, self.n), np.uint8)
        self.adam_costs = ADAM_COSTS.priced(core)
        self.event_costs = step_event_costs(self.p).priced(core)
        self.spike_rx_costs = SPIKE_RX_COSTS.priced(core)
        self._rx_cycles = self.spike_rx_costs.total(spikes=1)
        core.set_timer(self.tick_ns)

    def load_weights(self, w_in: np.ndarray, w_rec: np.ndarray, w_out: np.ndarray) -> None:
        """Host: this PE's columns of the full matrices."""
        c = slice(self.start, self.stop)
        self.w[:self.p.n_in], self.w[self.p.n_in:] = w_in[:, c], w_rec[:, c]
        self.w_out[...] = w_out[c]
        self.group.weights_changed(self.k)

    # ---- input DMA -------------------------------------------------------------------------------------
    def _chunk_of(self, tick: int) -> tuple[int, int]:
        s, t = divmod(tick, self.tps)
        return s * self.n_chunks + t // self.chunk, t % self.chunk

    def _fetch(self, core: Core, gid: int) -> None:
        """DMA chunk ``gid`` (frames of one trial) into ring slot gid & 1, unless loaded or in flight."""
        request = self._prefetch_request(gid)
        if request is None:
            return
        pending = self.pending[self.k]
        if pending is not None and self._chunk_of(pending)[0] & 1 == gid & 1:
            self.group.ticks.undo(self.k)  # the early step read this slot
        core.dma_read(TAG_X, *request)

    def on_dma_done(self, core: Core, tag: int) -> None:
        if tag == TAG_X:
            self.slot_chunk[self.chunk_dma & 1] = self.chunk_dma
            self.chunk_dma = -1
            self._resume(core)
        elif tag == TAG_LABEL:
            self.label_trial = self.pending_label

    def _resume(self, core: Core) -> None:
        if self.waiting:
            self.waiting = False
            core.schedule(lambda c, _: self._run_step(c), None, 1)

    # ---- timer -----------------------------------------------------------------------------------------
    def on_timer(self, core: Core, tick: int) -> None:
        if self.waiting:
            return  # the step before still waits for its input or error: it runs when they arrive
        s = self.step // self.tps
        if not 0 <= s - self.dram_base < self.dram_samples:
            return  # no trial loaded for this step: the core idles
        self.cur_step, self.trigger_tick = self.step, tick
        self._run_step(core)

    def _run_step(self, core: Core) -> None:
        """Run step ``cur_step`` if its input (and error) are here, else fetch/wait for them."""
        step = self.cur_step
        s, t = divmod(step, self.tps)
        if t < self.T:
            if not self._ready(core, step, t):
                self.waiting = True
                return  # resumed by the DMA or the error packets
            if core.tick != self.trigger_tick:
                self.late_steps += 1
            self.step = step + 1
            self._step(core, step, s, t)
        else:
            self.step = step + 1
            self.group.ticks.passed(self.k, step)
            self._end_of_trial(core, s)

    def _ready(self, core: Core, tick: int, t: int) -> bool:
        """Input chunk and (in the learning window) err[t] are here; else fetch/wait and say so."""
        gid, _ = self._chunk_of(tick)
        if self.slot_chunk[gid & 1] != gid:
            self._fetch(core, gid)
            core.charge("input_dma", int_alu=6, branch=1)
            return False
        if self.train and t >= self.p.learn_start and self.err_count < self.p.n_out:
            core.charge("learning_signal", int_alu=4, branch=1)  # err[t] not here yet
            return False
        return True

    def _step(self, core: Core, tick: int, s: int, t: int) -> None:
        p = self.p
        gid, f = self._chunk_of(tick)
        if t == 0 and self.root:
            self.pending_label = s
            core.dma_read(TAG_LABEL, "cue_labels", s - self.dram_base, 1, self.label)
        if f == 0 and (gid + 1) % self.n_chunks:
            self._fetch(core, gid + 1)  # prefetch the next chunk of this trial
        window = self.train and t >= p.learn_start
        self.group.ticks.run_tick(self.k, tick)  # this PE's numerics (computed early with others, or now)
        if window:
            self.err_count = 0
        if t < self.T - 1:
            own = self.group.fired[self.k]
            fired = len(own)
            if self.record_raster:
                self.raster[t + 1] = self.z
            self.event_costs.charge(synapses=self.group.events[self.k] * self.n, spikes=fired)
            core.send_mc_many((own + self.start + SPIKE_KEY).tolist())
            if t + 1 >= p.learn_start:
                self._send_partial(core)
        core.charge_phases(*self.step_phases(core, self.train, window))

    def step_phases(self, core: Core, train: bool, window: bool) -> tuple[tuple[tuple[str, float], ...], float]:
        """One step's fixed costs on this core, merged per phase (``step_cost_table``; cached)."""
        key = (train, window)
        phases = self._costs.get(key)
        if phases is None:
            phases = self._costs[key] = step_cost_table(self.p, self.n, train, window).priced(core).phases()
        return phases

    # ---- what the counted kernel runs itself (s2sim/counted/cue.py) -----------------------------------------
    def plain_step(self) -> bool:
        """The next timer callback would run the program's next step (``step``: its own count, which lags the
        timer's after a dropped tick), and that step lies before the learning window and waits for nothing:
        its input chunk is in, nothing is in flight or computed early, it sends no partial readout and issues
        at most the next chunk's prefetch (what the counted kernel times; ``counted_steps``). A trial's first
        step (the root's label DMA) and the window's steps (partials, error) are not plain."""
        step = self.step
        s, t = divmod(step, self.tps)
        if self.waiting or not 0 <= s - self.dram_base < self.dram_samples:
            return False
        if t == 0 or t + 1 >= self.p.learn_start or t >= self.T - 1:
            return False
        gid = self._chunk_of(step)[0]
        return self.slot_chunk[gid & 1] == gid and self.chunk_dma < 0 and self.pending[self.k] is None

    @staticmethod
    def counted_steps(cores: list[CueEpropCore], tick: int) -> tuple[list[np.ndarray], list, list[int]]:
        """``on_timer`` of timer tick ``tick`` on every member (``cores``, in member order, each at the same
        ``plain_step``) without the core: each one's prefetch request (name, start, count, destination; None:
        none), then the step's numerics (every member at once, as the first ``run_tick`` computes them when
        the timers fire in PE order: ``CueGroup.run_all_now``). Returns each core's fired neurons (own indices), prefetch request and
        synaptic events (the forward pass's input events × neurons). The caller files the spikes
        (``counted_spikes_in``) and lands the prefetched data."""
        step = cores[0].step
        requests = []
        for fw in cores:
            fw.cur_step, fw.trigger_tick = step, tick
            fw.step = step + 1
            gid, f = fw._chunk_of(step)
            request = None
            if f == 0 and (gid + 1) % fw.n_chunks:
                request = fw._prefetch_request(gid + 1)
            requests.append(request)
        g = cores[0].group
        t = step % cores[0].tps
        g.run_all_now(step)
        fired, synapses = [], []
        for fw in cores:
            own = g.fired[fw.k]
            if fw.record_raster:
                fw.raster[t + 1] = fw.z
            fired.append(own)
            synapses.append(g.events[fw.k] * fw.n)
        return fired, requests, synapses

    def _prefetch_request(self, gid: int) -> tuple | None:
        """``_fetch`` of chunk ``gid`` without the core: the DMA it would queue, marked in flight (None: none)."""
        s, c = divmod(gid, self.n_chunks)
        idx = s - self.dram_base
        if not 0 <= idx < self.dram_samples or self.chunk_dma >= 0 or self.slot_chunk[gid & 1] == gid:
            return None
        t0 = c * self.chunk
        frames = min(self.chunk, self.T - t0)
        n_in = self.p.n_in
        self.chunk_dma = gid
        return "cue_x", (idx * self.T + t0) * n_in, frames * n_in, self.x_ring[gid & 1, :frames].reshape(-1)

    @staticmethod
    def counted_spikes_in(cores: list[CueEpropCore], fired: list[np.ndarray]) -> None:
        """Every core's spikes of one plain step reaching every member (the routes send each spike to all PEs),
        filed for the next step as ``on_packet`` files them (nothing is computed early)."""
        g = cores[0].group
        slot = (cores[0].cur_step + 1) & 1
        for fw, own in zip(cores, fired):
            if len(own):
                g.spike_buffers[:, slot, own + fw.start] = 1

    def _send_partial(self, core: Core) -> None:
        if self.root:
            self.vo_parts[0] = self.vo_part
            self.part_count += 1
            if self.part_count == self.G:
                self._reduce(core)
        else:
            base = PART_KEY | (self.k << 8)
            for o in range(self.p.n_out):
                core.send_mc(base | o, F32(self.vo_part[o]))

    # ---- packets ---------------------------------------------------------------------------------------
    def on_packet(self, core: Core, key: int, payload: Any) -> None:
        typ = key & TYPE_MASK
        if typ == SPIKE_KEY:
            if self.pending[self.k] is not None:
                self.group.ticks.input_changed(self.k, self.cur_step + 1)
            self.spike_buffers[(self.cur_step + 1) & 1, key - SPIKE_KEY] = 1  # z[t+1], used at the next step
            core.charge_cycles("comms", self._rx_cycles)
        elif typ == PART_KEY:
            self.vo_parts[(key >> 8) & 0xFFF, key & 0xFF] = payload
            core.charge("reduce", int_alu=4, store=1)
            if (key & 0xFF) == self.p.n_out - 1:
                self.part_count += 1
                if self.part_count == self.G:
                    self._reduce(core)
        elif typ == ERR_KEY:
            if self.pending[self.k] is not None:
                self.group.ticks.undo(self.k)  # the early step read the error it overwrites
            self.err[key & 0xFF] = payload
            self.err_count += 1
            core.charge("learning_signal", int_alu=3, store=1)
            if self.err_count == self.p.n_out:
                self._resume(core)

    def _reduce(self, core: Core) -> None:
        """Root, step t' of the window: vo = Σ partials (PE order), y = softmax(vo), err = y − onehot."""
        p, O = self.p, self.p.n_out
        self.part_count = 0
        vo = self.vo_parts[0].copy()
        for k in range(1, self.G):
            vo += self.vo_parts[k]
        e = np.exp(vo - vo.max())
        y = (e / e.sum()).astype(F32)
        label = int(self.label[0])
        self.y_sum += y
        self.loss_sum += float(-np.log(max(float(y[label]), 1e-30)))
        self.scored += 1
        core.charge("reduce", fadd=(self.G + 2) * O, fdiv=O, fcmp=O, load=self.G * O, store=2 * O, loop=self.G)
        core.exp("reduce", O)
        core.charge("reduce", logf=1)
        if self.scored == p.learn_steps:
            s = self.label_trial
            self.records.append((s, self.loss_sum / p.learn_steps, int(self.y_sum.argmax()), label))
        if self.train:
            err = y.copy()
            err[label] -= F32(1.0)
            for o in range(O):
                core.send_mc(ERR_KEY | o, F32(err[o]))

    # ---- end of trial ----------------------------------------------------------------------------------
    def _end_of_trial(self, core: Core, s: int) -> None:
        """Learning tick: Adam after each batch, then reset the trial state and prefetch the next input."""
        p = self.p
        syn = p.n_pre * self.n
        if self.record_raster:
            self.rasters[s] = self.raster.copy()
        i = s - self.dram_base + 1
        if self.train and (i % p.batch == 0 or i == self.dram_samples):
            self._adam()
            # the e-prop firmware's Adam kernel: per weight and per row of W [pre][post] and W_out [neuron][out]
            self.adam_costs.charge(weights=syn + self.n * p.n_out, rows=p.n_pre + self.n)
            core.charge("adam", store=syn + self.n * p.n_out, loop=syn // 4)  # G ← 0
        for arr in (self.ebar, self.eps, self.zbar, self.v, self.z, self.vo_part, self.h):
            arr[...] = 0
        core.charge("adam", store=syn + p.n_pre + 5 * self.n, loop=syn // 4)
        if self.root:
            self.y_sum[...] = 0
            self.loss_sum, self.scored = 0.0, 0
        self._fetch(core, self._chunk_of((s + 1) * self.tps)[0])

    def _adam(self) -> None:
        """torch.optim.Adam on lr_layer·G; W_rec's diagonal (this PE's neurons) stays 0; G is zeroed."""
        p, n_in = self.p, self.p.n_in
        sc = self.adam_scalars
        sc[0] += 1
        sc[1] *= F32(p.adam_beta1)  # β1^t, β2^t (as torch: from the step count)
        sc[2] *= F32(p.adam_beta2)
        step = int(sc[0])
        b1, b2 = F32(p.adam_beta1), F32(p.adam_beta2)
        bc1 = F32(1.0 - p.adam_beta1 ** step)
        bc2_sqrt = F32(np.sqrt(1.0 - p.adam_beta2 ** step))
        step_size = F32(p.lr) / bc1
        f_in, f_rec, f_out = (F32(f) for f in p.lr_layer)
        g = self.grad
        g[:n_in] *= f_in
        g[n_in:] *= f_rec
        self.grad_out *= f_out
        for w, m, v, gg in ((self.w, self.adam_m, self.adam_v, g),
                            (self.w_out, self.adam_m_out, self.adam_v_out, self.grad_out)):
            m *= b1
            m += (F32(1.0) - b1) * gg
            v *= b2
            v += (F32(1.0) - b2) * gg * gg
            denom = np.sqrt(v) / bc2_sqrt + F32(p.adam_eps)
            w -= step_size * (m / denom)
            gg[...] = 0
        j = np.arange(self.n)
        self.w[n_in + self.start + j, j] = 0.0
        self.group.weights_changed(self.k)
