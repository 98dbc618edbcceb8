"""A NIR graph over the chips of a board: slices go where they add the fewest chip-link crossings,
spike exactly as on one chip, and what crosses a chip boundary is counted on the links."""
import numpy as np
import pytest

nir = pytest.importorskip("nir")

from firmware_models.lif_inference import graph_app  # noqa: E402
from firmware_models.lif_inference.graph_placement import ChipGrid, place_populations  # noqa: E402
from s2sim.apps import AppError, RunContext  # noqa: E402
from s2sim.config import load_arch, load_network  # noqa: E402
from s2sim.hw.params import HwParams  # noqa: E402

TICKS = 40


def _layer(n_pre: int, n: int, rng) -> tuple:
    weight = (rng.integers(-20, 90, (n, n_pre)) / 256).astype(np.float32)  # dyadic: exact in any order
    lif = nir.LIF(tau=np.full(n, 0.02), r=np.full(n, 20.0), v_leak=np.zeros(n), v_threshold=np.full(n, 0.5),
                  v_reset=np.zeros(n))
    return nir.Linear(weight), lif


def _chain(sizes: list[int], seed: int = 0):
    """Input(sizes[0]) -> Linear -> LIF(sizes[1]) -> ... -> Output."""
    rng = np.random.default_rng(seed)
    nodes, edges, prev = {"in": nir.Input(np.array([sizes[0]]))}, [], "in"
    for k, (n_pre, n) in enumerate(zip(sizes, sizes[1:])):
        nodes[f"fc{k}"], nodes[f"l{k}"] = _layer(n_pre, n, rng)
        edges += [(prev, f"fc{k}"), (f"fc{k}", f"l{k}")]
        prev = f"l{k}"
    nodes["out"] = nir.Output(np.array([sizes[-1]]))
    return nir.NIRGraph(nodes=nodes, edges=edges + [(prev, "out")])


def _run(tmp_path, name: str, graph, raster, *sets):
    folder = tmp_path / name
    folder.mkdir()
    nir.write(folder / "model.nir", graph)
    np.savez(folder / "model.npz", input=raster.astype(np.uint8))
    loaded = load_network(folder / "model.nir", ["run.progress=false", "model.dt_ns=1000000", *sets])
    ctx = RunContext(loaded=loaded, hw=HwParams.from_arch(loaded.arch), out_dir=None,
                     progress=lambda label, total: (lambda n=1: None))
    return graph_app.run(ctx)


def test_a_graph_on_two_chips_spikes_as_on_one_with_the_crossing_spikes_on_the_link(tmp_path):
    graph = _chain([20, 40, 30, 10])
    raster = np.random.default_rng(1).random((TICKS, 20)) < 0.3
    atoms = "mapping.max_atoms_per_core=10"  # slices: in 2, l0 4, l1 3, l2 1 = 10 PEs
    alone = _run(tmp_path, "one", graph, raster, atoms)
    split = _run(tmp_path, "two", graph, raster, atoms, "arch.board.chips_x=2", "mapping.pes_per_chip=5")

    slices = split.mapped.slices
    chip = {name: [s.pe // 152 for s in sl] for name, sl in slices.items()}
    # chip 0 fills with the input and l0's first 3 slices; l0's last slice, l1 and l2 go to chip 1
    assert chip == {"in": [0, 0], "l0": [0, 0, 0, 1], "l1": [1, 1, 1], "l2": [1]}
    assert [s.index for s in slices["l1"]] == [s.pe for s in alone.mapped.slices["l1"]]  # one-chip index kept

    for pop in ("l0", "l1", "l2"):
        assert 0 < alone.arrays[f"spikes_{pop}"].sum() < alone.arrays[f"spikes_{pop}"].size, f"{pop}: vacuous"
        np.testing.assert_array_equal(split.arrays[f"spikes_{pop}"], alone.arrays[f"spikes_{pop}"], err_msg=pop)
        np.testing.assert_array_equal(split.arrays[f"v_{pop}"], alone.arrays[f"v_{pop}"], err_msg=pop)

    # crossing: every input spike (l0 has a slice on chip 1) and l0's spikes from chip 0 (l1 is on chip 1)
    input_spikes = int(raster[:TICKS].sum())
    l0_from_chip0 = int(alone.arrays["spikes_l0"][:, :30].sum())
    assert split.sim.machine.link_load()["links"] == {(0, 1): input_spikes + l0_from_chip0}
    assert alone.sim.hw.n_chips == 1


def test_the_order_the_host_loads_the_pes_in_changes_nothing(tmp_path, monkeypatch):
    graph = _chain([20, 40, 30, 10])
    raster = np.random.default_rng(4).random((TICKS, 20)) < 0.3
    sets = ("mapping.max_atoms_per_core=10", "arch.board.chips_x=2", "mapping.pes_per_chip=5")
    usual = _run(tmp_path, "usual", graph, raster, *sets)
    load = graph_app.route_and_load

    def reversed_order(sim, slices, dests, firmwares):
        load(sim, slices, dict(reversed(dests.items())), dict(reversed(firmwares.items())))
    monkeypatch.setattr(graph_app, "route_and_load", reversed_order)
    backwards = _run(tmp_path, "backwards", graph, raster, *sets)
    for name, array in usual.arrays.items():
        np.testing.assert_array_equal(backwards.arrays[name], array, err_msg=name)
    np.testing.assert_array_equal(backwards.sim.machine.stats.time_done_ns, usual.sim.machine.stats.time_done_ns)
    assert backwards.sim.machine.link_load() == usual.sim.machine.link_load()


def test_on_a_mesh_a_chain_snakes_to_the_nearest_free_chip(tmp_path):
    """2 x 2 mesh, chips 0 1 / 2 3: filling by chip id would send layer 1's spikes from chip 1 to chip 2,
    two links; the placement goes 0 -> 1 -> 3 -> 2, one link per layer."""
    graph = _chain([10, 10, 10, 10])
    raster = np.random.default_rng(2).random((TICKS, 10)) < 0.4
    board = ["arch.board.chips_x=2", "arch.board.chips_y=2", "arch.board.topology=mesh", "mapping.pes_per_chip=1"]
    alone = _run(tmp_path, "one", graph, raster)
    result = _run(tmp_path, "mesh", graph, raster, *board)
    assert {name: sl[0].pe // 152 for name, sl in result.mapped.slices.items()} == {"in": 0, "l0": 1, "l1": 3, "l2": 2}
    spikes = {pop: int(alone.arrays[f"spikes_{pop}"].sum()) for pop in ("l0", "l1")}
    assert min(spikes.values()) > 0
    assert result.sim.machine.link_load()["links"] == {
        (0, 1): int(raster[:TICKS].sum()), (1, 3): spikes["l0"], (3, 2): spikes["l1"]}
    np.testing.assert_array_equal(result.arrays["spikes_l2"], alone.arrays["spikes_l2"])


def test_a_slice_goes_where_its_sources_trees_already_reach():
    hw = HwParams.from_arch(load_arch("spinnaker2", {"board": {"chips_x": 3, "chips_y": 1, "topology": "mesh"}}))
    grid = ChipGrid.of(hw, first_pe=0, pes_per_chip=3)
    # a: 2 PEs; b (fed by a): 3; d (fed by a): 1; c (an input of its own): 2
    pes = place_populations([("a", 20, 2), ("b", 30, 3), ("d", 10, 1), ("c", 20, 2)],
                            [("a", "b"), ("a", "d")], grid)
    chips = {name: [pe // hw.pes_per_chip for pe in p] for name, p in pes.items()}
    # b fills chip 0 and goes on to chip 1, next to a; d joins chip 1, which a's trees reach for b
    # already; c, which nothing feeds, takes chip 2: a's spikes cross one link and only to chip 1
    assert chips == {"a": [0, 0], "b": [0, 1, 1], "d": [1], "c": [2, 2]}
    assert pes["d"] == [hw.pes_per_chip + 2] and pes["c"] == [2 * hw.pes_per_chip, 2 * hw.pes_per_chip + 1]


def test_on_one_chip_the_slices_take_the_pes_in_graph_order_from_first_pe():
    hw = HwParams.from_arch(load_arch("spinnaker2"))
    pes = place_populations([("a", 20, 2), ("b", 30, 3), ("c", 5, 1)], [("a", "b"), ("b", "c")],
                            ChipGrid.of(hw, first_pe=7, pes_per_chip=None))
    assert pes == {"a": [7, 8], "b": [9, 10, 11], "c": [12]}


def test_too_few_chips_for_the_graph_is_one_line_naming_the_mapping(tmp_path):
    graph = _chain([20, 40, 30, 10])
    folder = tmp_path / "g"
    folder.mkdir()
    nir.write(folder / "model.nir", graph)
    np.savez(folder / "model.npz", input=np.zeros((5, 20), np.uint8))
    loaded = load_network(folder / "model.nir", ["mapping.max_atoms_per_core=10", "arch.board.chips_x=2",
                                                 "mapping.pes_per_chip=4"])
    with pytest.raises(AppError) as err:
        graph_app.validate(loaded)
    message = str(err.value)
    assert "\n" not in message and "mapping:" in message
    assert "the graph needs 10 PEs but the board offers 8 (2 chips" in message
    assert "arch_overrides.board" in message and "mapping.max_atoms_per_core" in message
