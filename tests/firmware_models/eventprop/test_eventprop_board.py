"""EventProp copies over the chips of a board: placed chip by chip, trained as on one chip."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from firmware_models.eventprop import reference as R
from firmware_models.eventprop.app import ChipNetwork, validate
from firmware_models.eventprop.mapping import EventpropMapping, plan
from firmware_models.eventprop.params import EventpropParams
from s2sim.apps import AppError
from s2sim.profile.board_summary import board_section
from s2sim.config import load_arch, load_network
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation

NETWORKS = Path(__file__).resolve().parents[3] / "networks"
ONE_CHIP = HwParams.from_arch(load_arch("spinnaker2"))
TWO_CHIPS = HwParams.from_arch(load_arch("spinnaker2", {"board": {"chips_x": 2, "chips_y": 1}}))


def _pes(copy) -> list[int]:
    return [copy.injector, copy.loss] + [s.pe for s in copy.slices]


def _chips_of(copy, pes_per_chip: int) -> set[int]:
    return {pe // pes_per_chip for pe in _pes(copy)}


def test_88_copies_fill_three_chips_of_the_2x2_board_and_none_straddles():
    loaded = load_network(NETWORKS / "yinyang_board4.yaml")
    validate(loaded)
    hw = HwParams.from_arch(loaded.arch)
    p = EventpropParams(**loaded.spec.network)
    placed = plan(p.layers, p.batch, EventpropMapping(**loaded.spec.mapping), hw.n_pes,
                  hw.sram_bytes - hw.code_reserve_bytes - hw.stack_reserve_bytes, p.n_steps, hw.pes_per_chip)
    assert (p.batch, hw.n_chips, placed.n_pes) == (88, 4, 355)
    chips = [_chips_of(cp, hw.pes_per_chip) for cp in placed.copies]
    assert all(len(c) == 1 for c in chips), "a copy crosses a chip boundary"
    per_chip = [sum(c == {k} for c in chips) for k in range(hw.n_chips)]
    assert per_chip == [37, 37, 14, 0]  # chips 1 and 2 give their first PE to a reducer
    assert placed.reducers == [152, 304] and placed.chain == [0, 152, 304]
    assert [len(c) for c in placed.chain_copies] == per_chip[:3]


def test_a_copy_that_would_cross_a_chip_moves_to_the_next_chip_behind_its_reducer():
    p = EventpropParams(layers=[4, 7, 3], n_steps=16, batch=3, mu_s=[6.0] * 2, sigma_s=[3.0] * 2)
    placed = plan(p.layers, p.batch, EventpropMapping(first_pe=146), TWO_CHIPS.n_pes, 100_000, p.n_steps,
                  TWO_CHIPS.pes_per_chip)
    # root 146, copy 0 on 147-150; copy 1 would take 151-154 across the boundary at 152: chip 1's
    # reducer takes 152, copies 1 and 2 follow it
    assert [cp.injector for cp in placed.copies] == [147, 153, 157]
    assert placed.chain == [146, 152] and placed.chain_copies == [[0], [1, 2]]
    one_chip = plan(p.layers, p.batch, EventpropMapping(first_pe=146), TWO_CHIPS.n_pes, 100_000, p.n_steps)
    assert [cp.injector for cp in one_chip.copies] == [147, 151, 155]  # packed when nothing says chips
    assert one_chip.reducers == [] and one_chip.chain == [146]


def test_too_few_chips_for_the_copies_is_one_line_naming_the_mapping(tmp_path):
    text = (NETWORKS / "yinyang_board4.yaml").read_text().replace("chips_x: 2, chips_y: 2", "chips_x: 2, chips_y: 1")
    (tmp_path / "small_board.yaml").write_text(text)
    with pytest.raises(AppError) as err:
        validate(load_network(tmp_path / "small_board.yaml"))
    message = str(err.value)
    assert "\n" not in message and "mapping:" in message and "batch 88" in message
    assert "the board (2 chips) has 304" in message and "arch_overrides.board" in message


def _params(**kw) -> EventpropParams:
    return EventpropParams(**{**dict(layers=[5, 12, 3], n_steps=16, t_min=1, batch=4, mu_s=[6.0] * 2,
                                     sigma_s=[3.0] * 2, lr=0.01), **kw})


def _train(hw: HwParams, first_pe: int, p: EventpropParams, weights, times, labels, batches: int,
           **mapping):
    chip = ChipNetwork(Simulation(hw), p, EventpropMapping(first_pe=first_pe, **mapping), [w.copy() for w in weights])
    for _ in range(batches):
        chip.run_batch(times, labels)
    return chip


def _data(p: EventpropParams, seed: int = 7):
    rng = np.random.RandomState(seed)
    weights = R.init_weights(p, rng)
    return weights, rng.randint(0, 12, (p.batch, 5)), rng.randint(0, 3, p.batch)


def _sum_values(p: EventpropParams, silent_batch: bool = False) -> int:
    """Values of one running sum: every weight's gradient (+ fired flags and input counts per layer)."""
    return sum(a * b + ((a + b) if silent_batch else 0) for a, b in zip(p.layers[:-1], p.layers[1:]))


def test_copies_over_two_chips_train_bit_identically_to_one_chip_with_the_reduce_on_the_link():
    p = _params()
    weights, times, labels = _data(p)
    batches = 3
    alone = _train(ONE_CHIP, 0, p, weights, times, labels, batches)
    # root and copy 0 on chip 0; chip 1: its reducer (152), then copies 1-3
    split = _train(TWO_CHIPS, 146, p, weights, times, labels, batches)
    assert {_chips_of(cp, TWO_CHIPS.pes_per_chip).pop() for cp in split.plan.copies} == {0, 1}
    assert any(not np.array_equal(a, w) for a, w in zip(alone.weights, weights)), "vacuous: nothing learned"
    for a, b in zip(alone.weights, split.weights):
        np.testing.assert_array_equal(a, b)
    # the new weights reached chip 1's DRAM by link (each chip's DRAM has its own copy)
    drams = split.sim.machine.drams
    for l, w in enumerate(split.weights):
        np.testing.assert_array_equal(drams[1].buffers[f"ep_w_l{l}"].array, w)
        assert drams[1].buffers[f"ep_w_l{l}"].array is not drams[0].buffers[f"ep_w_l{l}"].array
    # per batch: the running sum 0 -> 1 and the full sum back, the new weights 0 -> 1 and chip 1's
    # reducer's "written" back; nothing else crosses (a copy's spikes and errors stay on its chip, and
    # the weights are written in time: no hold, no ready)
    s_values, w_values = _sum_values(p), sum(w.size for w in weights)
    load = split.sim.machine.link_load()
    assert load["links"] == {(0, 1): batches * (s_values + w_values), (1, 0): batches * (s_values + 1)}
    assert split.stalls["stalled_batches"] == 0
    assert split.chain_cnt.sum_packets == 2 * batches * s_values
    assert split.chain_cnt.weight_packets == batches * w_values
    # the root's reduce tick waits for the sum's round trip over the link: at least both sums'
    # serialisation and two link latencies later than on one chip
    reduce_tick = 2 * p.n_steps + 1
    done_alone = alone.sim.machine.stats.time_done_ns[reduce_tick, alone.plan.root]
    done_split = split.sim.machine.stats.time_done_ns[reduce_tick, split.plan.root]
    link_ns = TWO_CHIPS.chip_link_ser_ns
    assert done_split - done_alone >= 2 * (s_values * link_ns + TWO_CHIPS.board_link_latency_ns)
    # the forward and backward ticks of the copies run as on one chip, but for their mesh positions
    stats_a, stats_s = alone.sim.machine.stats.time_done_ns, split.sim.machine.stats.time_done_ns
    for a, b in zip(alone.plan.copies, split.plan.copies):
        for pe_a, pe_b in zip(_pes(a), _pes(b)):
            assert np.abs(stats_s[:2 * p.n_steps, pe_b] - stats_a[:2 * p.n_steps, pe_a]).max() < 1000.0


def test_the_chain_carries_the_batch_scope_silent_counts_too():
    p = _params(silent_rate=[0.05, 0.05], silent_scope="batch")
    weights, times, labels = _data(p, seed=3)
    alone = _train(ONE_CHIP, 0, p, weights, times, labels, batches=2)
    split = _train(TWO_CHIPS, 146, p, weights, times, labels, batches=2)
    for a, b in zip(alone.weights, split.weights):
        np.testing.assert_array_equal(a, b)
    assert split.chain_cnt.sum_packets == 2 * 2 * _sum_values(p, silent_batch=True)


def test_row_slices_of_a_layer_travel_the_chain_slice_by_slice():
    p = _params()
    weights, times, labels = _data(p, seed=5)
    alone = _train(ONE_CHIP, 0, p, weights, times, labels, batches=2, pes_per_layer=[3, 1])
    split = _train(TWO_CHIPS, 140, p, weights, times, labels, batches=2, pes_per_layer=[3, 1])
    assert len(split.root.layout.keys) == 4 and split.plan.chain == [140, 152]
    for a, b in zip(alone.weights, split.weights):
        np.testing.assert_array_equal(a, b)
    assert split.sim.machine.link_load()["links"][(1, 0)] == 2 * (_sum_values(p) + 1)  # + "written"


def test_a_root_on_a_chip_without_copies_gets_the_sum_from_the_reducers():
    p = _params()
    weights, times, labels = _data(p, seed=11)
    alone = _train(ONE_CHIP, 0, p, weights, times, labels, batches=2)
    # root at chip 0's last PE; every copy on chip 1 behind its reducer, which starts the chain
    split = _train(TWO_CHIPS, 151, p, weights, times, labels, batches=2)
    assert split.plan.chain == [152] and split.plan.chain_copies == [[0, 1, 2, 3]]
    for a, b in zip(alone.weights, split.weights):
        np.testing.assert_array_equal(a, b)
    load = split.sim.machine.link_load()["links"]
    assert load == {(1, 0): 2 * (_sum_values(p) + 1), (0, 1): 2 * sum(w.size for w in weights)}


def test_the_board_summary_shows_the_reduce_on_the_link_in_the_reduce_tick():
    p = _params()
    weights, times, labels = _data(p)
    split = _train(TWO_CHIPS, 146, p, weights, times, labels, batches=1)
    board = board_section(split.sim, 1e6, split.sim.env.now)
    to_chip1 = next(link for link in board["links"] if (link["from"], link["to"]) == (0, 1))
    reduce_tick = 2 * p.n_steps + 1
    assert to_chip1["peak_tick"] == reduce_tick
    assert to_chip1["packets"] == _sum_values(p) + sum(w.size for w in weights)
    assert board["traffic_matrix"][1][0] == _sum_values(p) + 1  # + the reducer's "written"


class _ReversedLoads(Simulation):
    """Holds the host's loads and then loads the PEs in the reverse order (``load_all``)."""

    def __init__(self, hw: HwParams):
        super().__init__(hw)
        self.held: list = []

    def load(self, pe_id, firmware):
        self.held.append((pe_id, firmware))

    def load_all(self) -> None:
        for pe_id, firmware in reversed(self.held):
            Simulation.load(self, pe_id, firmware)


def test_the_order_the_host_loads_the_pes_in_changes_nothing():
    p = _params()
    weights, times, labels = _data(p, seed=13)
    usual = _train(TWO_CHIPS, 146, p, weights, times, labels, batches=2)
    sim = _ReversedLoads(TWO_CHIPS)
    reversed_ = ChipNetwork(sim, p, EventpropMapping(first_pe=146), [w.copy() for w in weights])
    sim.load_all()
    for _ in range(2):
        reversed_.run_batch(times, labels)
    for a, b in zip(usual.weights, reversed_.weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(usual.sim.machine.stats.time_done_ns, sim.machine.stats.time_done_ns)
    assert usual.sim.machine.link_load() == sim.machine.link_load()
