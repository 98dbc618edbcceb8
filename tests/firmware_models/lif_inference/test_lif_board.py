"""lif_board's network (networks/lif_chip.yaml) split in half over two chips spikes exactly as on
one chip; the traffic between the halves crosses the chip link, and only what crosses it is later."""
from pathlib import Path

import numpy as np
import pytest

from firmware_models.lif_inference.app import load_and_place, raster
from firmware_models.lif_inference.network import build
from firmware_models.lif_inference.params import LifMapping, LifNetwork
from s2sim.config import load_network
from s2sim.hw.params import HwParams

REPO = Path(__file__).resolve().parents[3]
LIF_CHIP = REPO / "networks" / "lif_chip.yaml"
TICKS = 12
HALVES = ["arch.board.chips_x=2", "mapping.pes_per_chip=76"]


def run(sets):
    ctx, sim, built, fws = load_and_place(LIF_CHIP, sets)
    sim.run_ticks(TICKS)
    return sim, built, [raster(built, fws, layer, TICKS) for layer in range(len(built.net.layers))]


@pytest.fixture(scope="module")
def one_and_two():
    return run([]), run(HALVES)


def test_split_in_half_spikes_like_one_chip(one_and_two):
    (_, _, one), (sim, built, two) = one_and_two
    assert sum(int(r.sum()) for r in one) > 0
    for layer, (a, b) in enumerate(zip(one, two)):
        assert np.array_equal(a, b), f"layer {layer} spikes differ"
    assert sim.machine.counters.total("late_packets") == 0
    chips = {s.pe // 152 for s in built.slices}
    assert chips == {0, 1} and sum(s.pe < 152 for s in built.slices) == 76


def test_the_spikes_that_cross_the_halves_go_over_the_link(one_and_two):
    _, (sim, built, two) = one_and_two
    crossing = 0  # spikes of chip-0 PEs whose next layer has a PE on chip 1
    for s in built.slices:
        nxt = built.slices_of(s.layer + 1)
        if s.pe < 152 and any(t.pe >= 152 for t in nxt):
            crossing += int(two[s.layer][:, s.start:s.stop].sum())
    assert crossing > 0
    assert sim.machine.link_load()["links"] == {(0, 1): crossing}


def worst_done_per_layer(sim, built):
    done = sim.machine.stats.time_done_ns[:TICKS]
    return [max(done[:, s.pe].max() for s in built.slices_of(layer)) for layer in range(len(built.net.layers))]


def test_only_what_crosses_the_link_is_later(one_and_two):
    (sim1, built1, _), (sim2, built2, spikes) = one_and_two
    done1, done2 = sim1.machine.stats.time_done_ns[:TICKS], sim2.machine.stats.time_done_ns[:TICKS]
    by_index = {s.index: s for s in built2.slices}
    for s in built1.slices_of(1):  # fed by layer 0 over chip 0's mesh, on the same PEs both times
        assert np.array_equal(done1[:, s.pe], done2[:, by_index[s.index].pe])
    # a chip link 4.9 us slower: layers 0 and 1 (chip 0 only) keep their times, the layers fed over
    # the link finish their slowest timestep exactly 4.9 us later, and nothing spikes differently
    slow, _, slow_spikes = run(HALVES + ["arch.board.link_latency_ns=5000"])
    before, after = worst_done_per_layer(sim2, built2), worst_done_per_layer(slow, built2)
    assert after[:2] == before[:2]
    assert after[2:] == pytest.approx([b + 4900.0 for b in before[2:]])
    assert all(np.array_equal(a, b) for a, b in zip(spikes, slow_spikes))


def test_a_mapping_that_does_not_fit_the_board_says_so():
    loaded = load_network(LIF_CHIP, ["mapping.pes_per_chip=50"])  # 152 PEs at 50 per chip: 4 chips, one given
    hw = HwParams.from_arch(loaded.arch)
    with pytest.raises(ValueError, match="50 per chip.*chip has 152"):
        build(LifNetwork(**loaded.spec.network), LifMapping(**loaded.spec.mapping), 1, hw.n_pes,
              with_weights=False, pes_per_chip=hw.pes_per_chip)


def test_splitting_a_projection_in_one_pass_gives_each_slices_columns():
    loaded = load_network(LIF_CHIP, ["network.layers=[300,700]", "mapping.neurons_per_pe=96", "network.p_connect=0.05"])
    built = build(LifNetwork(**loaded.spec.network), LifMapping(**loaded.spec.mapping), 3, 152)
    proj, slices = built.projections[0], built.slices_of(1)
    for s, rows in zip(slices, built.slice_rows(1)):
        want = proj.columns(s.start, s.stop)
        for name in ("indptr", "post", "weight"):
            assert np.array_equal(getattr(rows, name), getattr(want, name)) and getattr(rows, name).dtype == getattr(want, name).dtype
    for s, rows in zip(slices, built.slice_rows(1, sparse=True)):  # only rows with a synapse here, same synapses
        want = proj.columns(s.start, s.stop)
        kept = np.flatnonzero(np.diff(want.indptr))
        assert np.array_equal(rows.pre, kept)
        assert np.array_equal(rows.post, want.post) and np.array_equal(rows.weight, want.weight)
        assert np.array_equal(np.diff(rows.indptr), np.diff(want.indptr)[kept])


def test_a_sparse_row_index_spikes_the_same_and_costs_its_search():
    sets = ["network.layers=[400,1200,1200]", "mapping.neurons_per_pe=100", "run.ticks=8"]
    results = {}
    for index in ("dense", "sparse"):
        ctx, sim, built, fws = load_and_place(LIF_CHIP, sets + [f"mapping.row_index={index}"])
        sim.run_ticks(8)
        rasters = [raster(built, fws, layer, 8) for layer in range(3)]
        pe = built.slices_of(2)[0].pe
        sram = sim.machine.pes[pe].sram
        results[index] = (rasters, sim.machine.pes[pe].phase_cycles_total["synapses"],
                          {r.name: r.nbytes for r in sram.regions.values()}, fws[pe])
    (r_dense, syn_dense, sram_dense, _), (r_sparse, syn_sparse, sram_sparse, fw) = results["dense"], results["sparse"]
    assert sum(int(r.sum()) for r in r_dense[1:]) > 0
    assert all(np.array_equal(a, b) for a, b in zip(r_dense, r_sparse))
    # the row index holds the neurons with a synapse here (keys + offsets), not all 1200 of the layer
    n_rows = len(fw.row_keys)
    assert n_rows < 1200 and sram_dense["row_index"] == 4 * 1201
    assert sram_sparse["row_keys"] == 4 * n_rows and sram_sparse["row_index"] == 4 * (n_rows + 1)
    assert syn_sparse > syn_dense  # the binary search per packet is charged on top
