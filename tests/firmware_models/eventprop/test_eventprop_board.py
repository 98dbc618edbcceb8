"""EventProp copies over the chips of a board: placed chip by chip, trained as on one chip."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from firmware_models.eventprop import reference as R
from firmware_models.eventprop.app import ChipNetwork, validate
from firmware_models.eventprop.mapping import EventpropMapping, plan
from firmware_models.eventprop.params import EventpropParams
from s2sim.config import load_arch, load_network
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation

NETWORKS = Path(__file__).resolve().parents[3] / "networks"
ONE_CHIP = HwParams.from_arch(load_arch("spinnaker2"))
TWO_CHIPS = HwParams.from_arch(load_arch("spinnaker2", {"board": {"chips_x": 2, "chips_y": 1}}))


def _chips_of(copy, pes_per_chip: int) -> set[int]:
    return {pe // pes_per_chip for pe in [copy.injector, copy.loss] + [s.pe for s in copy.slices]}


def test_88_copies_fill_three_chips_of_the_2x2_board_and_none_straddles():
    loaded = load_network(NETWORKS / "yinyang_board4.yaml")
    validate(loaded)
    hw = HwParams.from_arch(loaded.arch)
    p = EventpropParams(**loaded.spec.network)
    placed = plan(p.layers, p.batch, EventpropMapping(**loaded.spec.mapping), hw.n_pes,
                  hw.sram_bytes - hw.code_reserve_bytes - hw.stack_reserve_bytes, p.n_steps, hw.pes_per_chip)
    assert (p.batch, hw.n_chips, placed.n_pes) == (88, 4, 353)
    chips = [_chips_of(cp, hw.pes_per_chip) for cp in placed.copies]
    assert all(len(c) == 1 for c in chips), "a copy crosses a chip boundary"
    per_chip = [sum(c == {k} for c in chips) for k in range(hw.n_chips)]
    assert per_chip == [37, 38, 13, 0]  # chip 0 also holds the root; 3 of its PEs stay free


def test_a_copy_that_would_cross_a_chip_moves_to_the_next_chip():
    p = EventpropParams(layers=[4, 7, 3], n_steps=16, batch=3, mu_s=[6.0] * 2, sigma_s=[3.0] * 2)
    placed = plan(p.layers, p.batch, EventpropMapping(first_pe=146), TWO_CHIPS.n_pes, 100_000, p.n_steps,
                  TWO_CHIPS.pes_per_chip)
    # root 146, copy 0 on 147-150; copy 1 would take 151-154 across the boundary at 152
    assert [cp.injector for cp in placed.copies] == [147, 152, 156]
    one_chip = plan(p.layers, p.batch, EventpropMapping(first_pe=146), TWO_CHIPS.n_pes, 100_000, p.n_steps)
    assert [cp.injector for cp in one_chip.copies] == [147, 151, 155]  # packed when nothing says chips


def _train(hw: HwParams, first_pe: int, p: EventpropParams, weights, times, labels, batches: int):
    chip = ChipNetwork(Simulation(hw), p, EventpropMapping(first_pe=first_pe), [w.copy() for w in weights])
    for _ in range(batches):
        chip.run_batch(times, labels)
    return chip


def test_copies_over_two_chips_train_bit_identically_to_one_chip():
    rng = np.random.RandomState(7)
    p = EventpropParams(layers=[5, 12, 3], n_steps=16, t_min=1, batch=4, mu_s=[6.0] * 2, sigma_s=[3.0] * 2,
                        lr=0.01)
    weights = R.init_weights(p, rng)
    times, labels = rng.randint(0, 12, (p.batch, 5)), rng.randint(0, 3, p.batch)
    alone = _train(ONE_CHIP, 0, p, weights, times, labels, batches=3)
    # root and copy 0 on chip 0, copies 1-3 on chip 1
    split = _train(TWO_CHIPS, 146, p, weights, times, labels, batches=3)
    assert {_chips_of(cp, TWO_CHIPS.pes_per_chip).pop() for cp in split.plan.copies} == {0, 1}
    assert any(not np.array_equal(a, w) for a, w in zip(alone.weights, weights)), "vacuous: nothing learned"
    for a, b in zip(alone.weights, split.weights):
        np.testing.assert_array_equal(a, b)
    # a copy's spikes and errors stay on its chip; the root's reduce reads DRAM (no chip link)
    assert split.sim.machine.link_load()["crossings"] == 0
    assert split.sim.env.now == alone.sim.env.now
