"""Pinned cycles of one e-prop tick per PE, derived in this test from the arch YAML's cost table.

The expected cycles of each phase are the operation counts of spec eprop_gsc.md §4.3 / the firmware for that PE's
slice of neurons times the per-operation and per-kernel cycles read from ``s2sim/arch/spinnaker2.yaml``. A change
that charges a phase twice (or half) of what its operations cost fails here. Phases that depend on packet timing
(comms receive, irq, dma_setup) are not pinned.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import s2sim
from firmware_models.eprop import reference as R
from firmware_models.eprop.app import ChipNetwork
from firmware_models.eprop.mapping import EpropMapping
from firmware_models.eprop.params import EpropParams
from s2sim.config import load_arch
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation

ARCH = yaml.safe_load((Path(s2sim.__file__).parent / "arch" / "spinnaker2.yaml").read_text())
OP = {name: float(entry["value"]) for name, entry in ARCH["core_cycles"].items()}
KERNEL = {name: float(entry["value"]) for name, entry in ARCH["kernels"].items()}


def ops(**counts: float) -> float:
    """Cycles of the declared Cortex-M4F operations."""
    return sum(OP[op] * n for op, n in counts.items())


def step_phases(p: EpropParams, n: int) -> dict[str, float]:
    """One time step (t < T) of a PE with n neurons: dense recurrent, paper layout, software expf, training."""
    fan_in = p.n_in + p.n_rec
    return {
        "input_dma": ops(int_alu=6, store=2),  # stage x_{t+1} from the DMA ring
        "forward": KERNEL["dense_mac"] * fan_in * n,  # S4: I_j = Σ_i W_ij u_i over the whole fan-in
        "neuron": KERNEL["eprop_neuron_update"] * n + ops(int_alu=14, branch=1),  # S3, S5–S11 + the call
        "surrogate": ops(expf=3 * n) + KERNEL["eprop_surrogate_expf"] * n,  # ψ: 3 Gaussians per neuron
        "eligibility": KERNEL["eprop_eligibility_paper"] * fan_in * n  # S12–S17 per synapse, [pre][post]
                       + KERNEL["eprop_eligibility_paper_row"] * fan_in  # its outer loop, per presynaptic row
                       + KERNEL["eprop_autapse_zero"] * n,  # S16: the slice's autapse diagonal reset
        "readout": KERNEL["eprop_readout"] * n * p.n_out  # S19 partial Σ y down W_out's columns [neuron][out]
                   + KERNEL["eprop_readout_row"] * p.n_out  # + the outer loop per output
                   + ops(int_alu=12, branch=1),  # + the call
    }


def learning_phases(p: EpropParams, n: int, pes: int, root: bool) -> dict[str, float]:
    """The learning tick (t = T): readout reduce, error broadcast, learning signal, Adam with trace reset."""
    no, syn = p.n_out, (p.n_in + p.n_rec) * n
    reduce = ops(load=no, loop=no)  # this PE's partial Σ_t y_t
    if root:  # receive the other PEs' partials, softmax, loss, error
        reduce += ops(int_alu=4 * (pes - 1) * no, store=(pes - 1) * no)
        reduce += ops(fadd=(pes + 3) * no, fdiv=no + 1, fcmp=no, load=pes * no, store=2 * no, loop=pes * no)
        reduce += ops(expf=no, logf=1)
    n_zero = 3 * syn  # ε^a, ē, ε^v zeroed for the next sample (paper layout); E zeroed inside the Adam loop
    return {
        "reduce": reduce,
        "learning_signal": ops(int_alu=3 * no, store=no)  # the error packets
                           + KERNEL["eprop_learning_signal"] * n * no  # L_j = Σ_k W_out[j][k] err_k / T
                           + KERNEL["eprop_learning_signal_row"] * n  # its outer loop per neuron
                           + ops(int_alu=11, branch=1),  # the call
        "adam": KERNEL["adam_update"] * (syn + n * no) + KERNEL["adam_update_row"] * (syn // n + n)  # rows of W, W_out
                + ops(store=n_zero + 8 * n, loop=n_zero // 4),
    }


@pytest.fixture(scope="module", params=[12, 9], ids=lambda pes: f"{pes}pes")
def one_sample(request):
    """One training sample of the gsc network (80-120-12, T shortened to 6 steps) on ``pes`` PEs."""
    p = EpropParams(n_steps=6)
    rng = np.random.default_rng(1)
    chip = ChipNetwork(Simulation(HwParams.from_arch(load_arch("spinnaker2"))), p, EpropMapping(pes=request.param),
                       R.init_weights(p, rng))
    chip.run_samples((rng.standard_normal((1, p.n_steps, p.n_in)) * 4).astype(np.float32), np.array([3]),
                     train=True, lr=0.01)
    return p, chip, chip.sim.machine.stats.phase_cycles


def test_every_time_step_tick_costs_what_its_operations_cost(one_sample):
    p, chip, phase_cycles = one_sample
    for s in chip.slices:
        expected = step_phases(p, s.n)
        for t in range(1, p.n_steps):  # tick 0 also waits for the first input DMA
            got = {ph: phase_cycles[ph][t, s.pe] for ph in expected}
            assert got == pytest.approx(expected, rel=1e-12), (s.pe, t)
    # by hand for the 12-PE slice (n = 10, fan-in 200, 12 outputs) from the arch table:
    # 8 + 8·2000 + (35·10 + 16) + (150·30 + 45·10) + (28·2000 + 21·200 + 15·10) + (8·120 + 13·12 + 14) = 82,804
    assert sum(step_phases(p, 10).values()) == 82_804


def test_the_learning_tick_costs_what_its_operations_cost(one_sample):
    p, chip, phase_cycles = one_sample
    T, pes = p.n_steps, len(chip.slices)
    for s in chip.slices:
        expected = learning_phases(p, s.n, pes, root=s.index == 0)
        got = {ph: phase_cycles[ph][T, s.pe] for ph in expected}
        assert got == pytest.approx(expected, rel=1e-12), s.pe
