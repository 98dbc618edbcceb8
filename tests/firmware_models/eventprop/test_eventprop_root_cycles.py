"""The root PE's slowest tick (reduce + Adam) is charged from compiled kernels, so it has a cycle bracket."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_models.eventprop import reference as R
from firmware_models.eventprop.app import ChipNetwork
from firmware_models.eventprop.firmware import REDUCE_ADD_KERNEL
from firmware_models.eventprop.mapping import EventpropMapping
from firmware_models.eventprop.params import EventpropParams
from s2sim.config import load_arch
from s2sim.hw.params import HwParams
from s2sim.profile.bracket import phase_ratios
from s2sim.sim import Simulation

HW = HwParams.from_arch(load_arch("spinnaker2"))
SIZES, T, COPIES = [4, 7, 3], 16, 5  # W is 7 x 4 and 3 x 7 ([post][pre]): 10 rows, 11 columns, 49 weights


def _one_batch() -> ChipNetwork:
    rng = np.random.RandomState(0)
    p = EventpropParams(layers=SIZES, n_steps=T, t_min=1, batch=COPIES, mu_s=[6.0] * 2, sigma_s=[3.0] * 2, lr=0.01)
    chip = ChipNetwork(Simulation(HW), p, EventpropMapping(), R.init_weights(p, rng))
    chip.run_batch(rng.randint(0, T - 4, (COPIES, SIZES[0])), rng.randint(0, SIZES[-1], COPIES))
    return chip


def test_the_roots_adam_is_the_compiled_kernel_over_its_post_pre_weights_and_the_reduce_a_vector_add():
    """One batch of 5 copies: the root's adam phase is the compiled Adam kernel (the table both e-prop
    firmwares charge) per weight and per row of W [post][pre] (10 postsynaptic rows, not the 11
    presynaptic columns); its reduce adds each copy's 49 partials with the compiled vector add. The
    operation-count charge it replaces had no adam phase (3,479 cycles booked as 'update') and charged
    the reduce 2,257 cycles."""
    chip = _one_batch()
    kernel = HW.kernel_cycles
    weights, rows = 7 * 4 + 3 * 7, 7 + 3
    phases = chip.sim.machine.pes[chip.plan.root].phase_cycles_total
    assert phases["adam"] == pytest.approx(kernel["adam_update"] * weights + kernel["adam_update_row"] * rows,
                                           rel=1e-12)
    assert phases["reduce"] == pytest.approx(kernel[REDUCE_ADD_KERNEL] * COPIES * weights, rel=1e-12)
    assert "update" not in phases


def test_the_roots_tick_has_a_band_from_the_kernels_timing_rules():
    """Both root phases carry the kernels' low and high ends (the op-count charge had none: ratio 1 at
    every end), so the slowest tick of an EventProp run is no longer the same at every end."""
    chip = _one_batch()
    ends = HW.kernel_cycles_bracket
    weights, rows = 49, 10
    ratios = phase_ratios(chip.sim, chip.plan.root)
    adam = [ends["adam_update"][e] * weights + ends["adam_update_row"][e] * rows for e in range(3)]
    assert ratios["adam"] == pytest.approx(tuple(x / adam[0] for x in adam), rel=1e-12)
    assert 1.0 < ratios["adam"][1] < ratios["adam"][2]  # the timing rules' ends lie above llvm-mca's nominal
    red = ends[REDUCE_ADD_KERNEL]
    assert ratios["reduce"] == pytest.approx((1.0, red[1] / red[0], red[2] / red[0]), rel=1e-12)
    assert 1.0 < ratios["reduce"][1] < ratios["reduce"][2]
