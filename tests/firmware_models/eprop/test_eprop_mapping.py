"""Mapping stories: memory totals per layout, uneven splits give the same learning, too few PEs is a named error."""
import numpy as np
import pytest

from firmware_models.eprop import reference as R
from firmware_models.eprop.app import ChipNetwork
from firmware_models.eprop.firmware import NOT_KEPT
from firmware_models.eprop.mapping import (EpropMapping, MappingError, learning_bytes, memory_report, pe_regions,
                                           plan, slices)
from firmware_models.eprop.params import EpropParams
from s2sim.config import load_arch
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation

HW = HwParams.from_arch(load_arch("spinnaker2"))


@pytest.mark.parametrize("layout,total", [("paper", 695_040), ("lean", 599_040), ("closed_form", 503_040)])
def test_learning_state_totals_add_up_over_pes(layout, total):
    p = EpropParams(memory_layout=layout)
    for pes in (12, 9, 8):
        sl = plan(p, EpropMapping(pes=pes), HW)
        assert memory_report(p, sl)["learning_state_bytes"] == total == p.memory_bytes(layout)
    assert sum(s.n for s in sl) == 120


def test_paper_layout_fits_12_pes_with_room():
    p = EpropParams()
    for s in slices(p, EpropMapping(pes=12)):
        regs = pe_regions(p, s.n, root=s.index == 0, n_pes=12)
        assert learning_bytes(regs) == 57_920
        assert sum(r.nbytes for r in regs) + HW.code_reserve_bytes + HW.stack_reserve_bytes <= 128 * 1024
        assert len({r.name for r in regs}) == len(regs)


def test_too_few_pes_names_pe_region_and_smallest_count():
    p = EpropParams()
    with pytest.raises(MappingError) as exc:
        plan(p, EpropMapping(pes=4), HW)
    msg = str(exc.value)
    assert "PE 0" in msg and "SRAM region '" in msg and "mapping.pes=" in msg
    best = int(msg.rsplit("mapping.pes=", 1)[1].split(")")[0])
    plan(p, EpropMapping(pes=best), HW)  # fits
    with pytest.raises(MappingError):
        plan(p, EpropMapping(pes=best - 1), HW)


def test_uneven_splits_learn_the_same():
    p = EpropParams(n_in=20, n_rec=30, n_out=4, n_steps=25)
    rng = np.random.default_rng(3)
    w0 = R.init_weights(p, rng)
    X = (rng.standard_normal((2, 25, 20)) * 4).astype(np.float32)
    Y = np.array([1, 3])
    out = {}
    for pes in (1, 3, 4, 7):
        chip = ChipNetwork(Simulation(HW), p, EpropMapping(pes=pes), {k: v.copy() for k, v in w0.items()})
        chip.group.record_raster = True
        chip.run_samples(X, Y, train=True, lr=0.01)
        out[pes] = (chip.weights(), chip.group.rasters[0].copy())
        assert memory_report(p, chip.slices)["learning_state_bytes"] == p.memory_bytes()
    for pes in (3, 4, 7):
        assert np.array_equal(out[pes][1], out[1][1])
        for k in ("w_in", "w_rec", "w_out"):
            np.testing.assert_allclose(out[pes][0][k], out[1][0][k], atol=1e-6)
    assert out[1][1].sum() > 0


def _covered_bytes(array: np.ndarray, region_arrays) -> int:
    """Bytes of the region arrays that are views of ``array`` (or ``array`` itself)."""
    return sum(a.nbytes for a in region_arrays if isinstance(a, np.ndarray) and np.shares_memory(a, array))


@pytest.mark.parametrize("kw", [dict(), dict(memory_layout="lean", eps_a="exact"),
                                dict(memory_layout="closed_form", autapse="mask")])
def test_each_core_sram_region_is_the_arrays_it_keeps(kw):
    """Regions are charged from the arrays each core keeps, every kept array is some core's region, and the plan
    the mapping checks before placement is exactly what the cores allocate."""
    p = EpropParams(**kw)
    sim = Simulation(HW)
    chip = ChipNetwork(sim, p, EpropMapping(pes=9), R.init_weights(p, np.random.default_rng(0)))
    g, per_core = chip.group, {}
    for s, fw in zip(chip.slices, chip.cores):
        sram = sim.machine.pes[s.pe].sram
        regions = fw.sram_regions()
        per_core[s.pe] = [a for _, _, arrays in regions for a in arrays]
        for name, _, arrays in regions:
            assert sram.regions[name].nbytes >= sum(a.nbytes for a in arrays), (s.pe, name)
        for attr, arr in vars(fw).items():  # the core's own arrays (input ring, err, reduce buffer...) are charged
            if isinstance(arr, np.ndarray):
                assert _covered_bytes(arr, per_core[s.pe]) >= arr.nbytes, (s.pe, attr)
        allocated = {r.name: r.nbytes for r in sram.regions.values() if r.category != "code_stack"}
        assert allocated == {r.name: r.nbytes for r in pe_regions(p, s.n, root=s.index == 0, n_pes=9)}
    root = sim.machine.pes[chip.slices[0].pe].sram.regions["reduce_buffer"]
    assert root.nbytes == 4 * 9 * p.n_out  # one partial readout sum per PE
    everything = [a for arrays in per_core.values() for a in arrays]
    for attr, arr in vars(g).items():  # the group's state is all charged to its members, but for named scratch
        if isinstance(arr, np.ndarray) and attr not in NOT_KEPT:
            assert _covered_bytes(arr, everything) >= arr.nbytes, attr
    assert memory_report(p, chip.slices, {s.pe: sim.machine.pes[s.pe].sram for s in chip.slices}
                         )["learning_state_bytes"] == p.memory_bytes()
