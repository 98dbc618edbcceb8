"""Firmware stories: the chip's rasters and learned weights equal the stepwise reference; memory is what it keeps."""
import numpy as np
import pytest

from firmware_models.eprop_lif import reference as R
from firmware_models.eprop_lif.app import ChipNetwork
from firmware_models.eprop_lif.mapping import CueMapping, MappingError, memory_report, pe_arrays, plan, total_bytes
from firmware_models.eprop_lif.params import CueEpropParams
from s2sim.config import load_arch
from s2sim.data.cue import CueConfig, load_cue
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation

HW = HwParams.from_arch(load_arch("spinnaker2"))
# a short task (2 cues, 60 steps of wait, 30-step recall) on 20 neurons: the same rule, seconds to simulate
CFG = CueConfig(n_cues=2, t_wait_steps=60, recall_steps=30, n_train=4, n_test=0)
P = CueEpropParams(n_steps=CFG.n_steps, learn_steps=30, n_rec=20, batch=2, lr=1e-2, init_gains=(1.0, 0.5, 0.5))


def _setup(pes=3, seed=3):
    ds = load_cue(CFG, seed)
    w0 = R.init_weights(P, np.random.default_rng(seed))
    chip = ChipNetwork(Simulation(HW), P, CueMapping(pes=pes), {k: v.copy() for k, v in w0.items()})
    chip.record_rasters()
    return chip, w0, ds.splits["train"].X, ds.splits["train"].y


def test_two_batches_on_three_pes_match_the_reference_raster_for_raster_and_weight_for_weight():
    chip, w0, X, Y = _setup()
    recs = chip.run_trials(X, Y, train=True)
    wr = {k: v.copy() for k, v in w0.items()}
    adam = R.Adam(wr, P)
    fws = [R.train_batch(wr, adam, X[a:a + 2], Y[a:a + 2], P, engine="stepwise") for a in (0, 2)]
    z = np.concatenate([f.z for f in fws])
    assert z[2:].sum() > 50  # enough spikes after the first update for the comparison to mean something
    for s in range(4):
        assert np.array_equal(chip.raster(s), z[s])
    wc = chip.weights()
    for k in wr:
        assert np.abs(wc[k] - w0[k]).max() > 1e-3  # learning happened (two Adam steps of lr 1e-2)
        assert np.abs(wc[k] - wr[k]).max() <= 1e-6
    preds = np.concatenate([R.predict(f, P) for f in fws])
    assert [r[2] for r in recs] == list(preds) and [r[3] for r in recs] == list(Y)
    assert chip.late_steps == 0


def test_inference_trials_leave_the_weights_alone_and_predict_like_the_reference():
    chip, w0, X, Y = _setup(pes=2)
    recs = chip.run_trials(X[:2], Y[:2], train=False)
    for k, v in chip.weights().items():
        assert np.array_equal(v, w0[k])
    assert [r[2] for r in recs] == list(R.predict(R.forward(w0, X[:2], P), P))
    phases = chip.sim.machine.pes[0].phase_cycles_total
    assert "eligibility" in phases and "gradient" not in phases and "adam" in phases  # ε_in always, no learning


def test_a_learning_tick_charges_adam_per_weight_and_per_weight_row_like_the_eprop_firmware():
    """One batch of 2 trials on 2 PEs: each PE's adam phase is the compiled Adam kernel over its W [pre][post]
    and W_out [neuron][out] (per weight and per row: the table both e-prop firmwares charge from), G zeroed,
    and the trial-state reset after each of the 2 trials."""
    chip, _, X, Y = _setup(pes=2)
    chip.run_trials(X[:2], Y[:2], train=True)
    op, kernel = HW.core_cycles, HW.kernel_cycles
    for s, fw in zip(chip.slices, chip.cores):
        n, syn = fw.n, P.n_pre * fw.n
        weights, rows = syn + n * P.n_out, P.n_pre + n  # W is n_pre rows of n, W_out n rows of n_out
        adam = kernel["adam_update"] * weights + kernel["adam_update_row"] * rows
        zero_g = op["store"] * weights + op["loop"] * (syn // 4)
        reset = op["store"] * (syn + P.n_pre + 5 * n) + op["loop"] * (syn // 4)
        got = chip.sim.machine.pes[s.pe].phase_cycles_total["adam"]
        assert got == pytest.approx(adam + zero_g + 2 * reset, rel=1e-12), s.pe


def test_each_pe_allocates_exactly_its_listed_arrays():
    chip, *_ = _setup()
    for s, fw in zip(chip.slices, chip.cores):
        regions = chip.sim.machine.pes[s.pe].sram.regions
        for spec in pe_arrays(P, s.n, root=s.index == 0, pes=3):
            assert regions[spec.name].nbytes == spec.nbytes == getattr(fw, spec.name).nbytes
    assert "vo_parts" in chip.sim.machine.pes[0].sram.regions and "vo_parts" not in chip.sim.machine.pes[1].sram.regions


def test_the_full_network_needs_four_pes_and_bptt_would_need_far_more():
    p = CueEpropParams()
    sl = plan(p, CueMapping(), HW)
    assert [s.n for s in sl] == [25, 25, 25, 25]
    with pytest.raises(MappingError, match=r"PE 0: SRAM region '\w+' .* smallest PE count that fits is 4"):
        plan(p, CueMapping(pes=3), HW)
    mem = memory_report(p, sl, HW)
    bptt = mem["bptt_same_mapping_per_pe"][0]
    assert bptt["bytes_by_category"]["history"] == 2250 * 25 * 4 + 2250 * 18 + 150 * 2 * 4  # v, packed spikes, err
    assert mem["bptt_smallest_fitting_pes"] > 4 * mem["eprop_smallest_fitting_pes"]
    assert mem["per_pe"][0]["total_bytes"] == total_bytes(pe_arrays(p, 25, root=True, pes=4))

