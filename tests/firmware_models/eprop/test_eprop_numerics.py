"""The e-prop numerics' compiled loops (firmware_models/eprop/numerics.py) are a speed trick only: each
gives, bit for bit, what its numpy statements give, on random float32 state, for every memory layout
and ε^a variant, for the whole group and for one member's columns; and a chip run trains to the
same weights, records and timing with the loops on and off (``S2SIM_JIT=0``)."""
from __future__ import annotations

import numpy as np
import pytest

from firmware_models.eprop import numerics as nm
from firmware_models.eprop import reference as R
from firmware_models.eprop.app import ChipNetwork
from firmware_models.eprop.mapping import EpropMapping
from firmware_models.eprop.params import EpropParams
from s2sim.config import load_arch
from s2sim.hw.params import HwParams
from s2sim.runtime import NUMBA_AVAILABLE
from s2sim.sim import Simulation

F32 = np.float32
N_IN, N_REC = 24, 40
P = N_IN + N_REC
COLUMNS = {"every column": (0, N_REC), "one member's columns": (13, 27)}


def same_bits(a: dict, b: dict) -> None:
    for name in a:
        assert a[name].dtype == b[name].dtype == F32, name
        assert np.array_equal(a[name].view(np.uint32), b[name].view(np.uint32)), name


def eligibility_state(rng, per_synapse: bool) -> dict:
    """Traces as they are some ticks into a sample, and the coefficients of one tick's ψ."""
    small = lambda *shape: (rng.random(shape) * 2).astype(F32)  # noqa: E731
    x = rng.standard_normal(N_IN).astype(F32)
    z_prev = (rng.random(N_REC) < 0.3).astype(F32)
    return {"u": np.concatenate([x, z_prev]), "eps_v": small(P, N_REC) if per_synapse else small(P, 1),
            "eps_a": small(P, N_REC), "ebar": small(P, N_REC), "elig_acc": rng.standard_normal((P, N_REC)).astype(F32),
            "decay": small(N_REC) / 2, "gain": small(N_REC), "v_gain": small(N_REC), "a_gain": small(N_REC) / 4,
            "decay_prev": small(N_REC) / 2, "gain_prev": small(N_REC)}


def run_eligibility(fn, s: dict, per_synapse: bool, filtered: bool, exact: bool, c0: int, c1: int, **kw) -> None:
    fn(s["u"], s["eps_v"], per_synapse, s["eps_a"], s["ebar"], filtered, s["elig_acc"], s["decay"], s["gain"],
       s["v_gain"], s["a_gain"], exact, s["decay_prev"], s["gain_prev"], F32(0.951229), F32(0.904837), c0, c1, N_IN,
       **kw)


LAYOUTS = {"paper": (True, True), "lean": (False, True), "closed_form": (False, False)}  # (per synapse, ē kept)


@pytest.mark.parametrize("columns", COLUMNS)
@pytest.mark.parametrize("eps_a", ["repo", "exact"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_eligibility_loop_is_the_numpy_statements_bit_for_bit(layout, eps_a, columns):
    per_synapse, filtered = LAYOUTS[layout]
    c0, c1 = COLUMNS[columns]
    rng = np.random.default_rng(7)
    numpy_state = eligibility_state(rng, per_synapse)
    loop_state = {k: v.copy() for k, v in numpy_state.items()}
    before = {k: v.copy() for k, v in numpy_state.items()}
    for tick in range(3):  # a few ticks, each on new inputs and coefficients
        run_eligibility(nm.eligibility_numpy, numpy_state, per_synapse, filtered, eps_a == "exact", c0, c1)
        run_eligibility(nm.eligibility, loop_state, per_synapse, filtered, eps_a == "exact", c0, c1)
        same_bits(numpy_state, loop_state)
        fresh = eligibility_state(np.random.default_rng(tick), per_synapse)
        for name in ("u", "decay", "gain", "v_gain", "a_gain", "decay_prev", "gain_prev"):
            numpy_state[name][...] = loop_state[name][...] = fresh[name]
    # not vacuous: the traces moved, only inside the columns, and the autapses hold no eligibility
    assert not np.array_equal(loop_state["elig_acc"][:, c0:c1], before["elig_acc"][:, c0:c1])
    outside = np.r_[0:c0, c1:N_REC]
    assert np.array_equal(loop_state["eps_a"][:, outside], before["eps_a"][:, outside])
    js = np.arange(c0, c1)
    assert (loop_state["eps_a"][N_IN + js, js] == 0).all()


def test_the_eligibility_loop_as_plain_python_is_the_same_too():
    """What runs without numba (or under NUMBA_DISABLE_JIT): the loop's own Python, not only its machine code."""
    rng = np.random.default_rng(8)
    compiled, python = eligibility_state(rng, True), None
    python = {k: v.copy() for k, v in compiled.items()}
    run_eligibility(nm.eligibility, compiled, True, True, False, 5, 17)
    run_eligibility(nm.eligibility.py_func, python, True, True, False, 5, 17)
    same_bits(compiled, python)


@pytest.mark.parametrize("closed_form", [False, True])
@pytest.mark.parametrize("columns", COLUMNS)
def test_psi_and_the_coefficients_from_fewer_calls_are_the_numpy_statements_bit_for_bit(columns, closed_form):
    c0, c1 = COLUMNS[columns]
    p = EpropParams()
    rng = np.random.default_rng(11)
    v_minus_thr = (rng.standard_normal(N_REC) * 2).astype(F32)  # ψ's three Gaussians all matter within ±3
    beta = (rng.random(N_REC) * 0.3).astype(F32)
    consts = ((p.one_minus_rho * beta).astype(F32), beta, p.rho, p.one_alpha_x_one_rho, p.one_minus_alpha,
              (p.surrogate_a0, p.surrogate_a1, p.surrogate_k0, p.surrogate_k1, F32(p.sigma)),
              F32(0.37) if closed_form else None, c0, c1)
    outputs = {"numpy": [np.full(N_REC, 9, F32) for _ in range(5)], "loops": [np.full(N_REC, 9, F32) for _ in range(5)]}
    nm.psi_coefficients_numpy(v_minus_thr, *outputs["numpy"], *consts)
    nm.psi_coefficients(v_minus_thr, *outputs["loops"], *consts, np.zeros((3, N_REC), F32))
    names = ("psi", "decay", "gain", "v_gain", "a_gain")
    same_bits(dict(zip(names, outputs["numpy"])), dict(zip(names, outputs["loops"])))
    psi = outputs["loops"][0]
    assert np.array_equal(psi[c0:c1], R.surrogate(v_minus_thr, p)[c0:c1])  # the reference's ψ, too
    assert (psi[c0:c1] != 9).all() and (np.delete(psi, np.s_[c0:c1]) == 9).all()  # only the columns asked


def neuron_state(rng) -> dict:
    return {"i_in": (rng.standard_normal(N_REC) * 3).astype(F32), "b": rng.random(N_REC).astype(F32),
            "z": (rng.random(N_REC) < 0.4).astype(F32), "thr": np.zeros(N_REC, F32),
            "v": (rng.standard_normal(N_REC) * 2).astype(F32), "v_minus_thr": np.zeros(N_REC, F32),
            "zbar": rng.random(N_REC).astype(F32), "zbar_sum": rng.random(N_REC).astype(F32)}


@pytest.mark.parametrize("columns", COLUMNS)
def test_the_neuron_update_loop_is_the_numpy_statements_bit_for_bit(columns):
    c0, c1 = COLUMNS[columns]
    p = EpropParams()
    rng = np.random.default_rng(9)
    numpy_state = neuron_state(rng)
    loop_state = {k: v.copy() for k, v in numpy_state.items()}
    beta = (rng.random(N_REC) * 0.3).astype(F32)
    consts = (beta, p.rho, p.one_minus_rho, F32(0.6), p.alpha, p.one_minus_alpha, p.kappa, c0, c1)
    spikes = 0
    for _ in range(5):
        for fn, s in ((nm.neuron_update_numpy, numpy_state), (nm.neuron_update, loop_state)):
            fn(s["i_in"], s["b"], s["z"], s["thr"], s["v"], s["v_minus_thr"], s["zbar"], s["zbar_sum"], *consts)
        same_bits(numpy_state, loop_state)
        spikes += int(loop_state["z"][c0:c1].sum())
        numpy_state["i_in"][...] = loop_state["i_in"][...] = (rng.standard_normal(N_REC) * 3).astype(F32)
    assert 0 < spikes < 5 * (c1 - c0), "vacuous: every neuron fired always or never"


@pytest.mark.parametrize("rows", [[1, 3, 7], [8, 9, 16], [17, 40, 2], [129, 5]])
@pytest.mark.parametrize("n_out", [1, 12])
def test_the_readout_loop_adds_each_members_rows_as_numpys_reduceat_does(rows, n_out):
    """Rows per member around numpy's pairwise blocks: under 8 (one running sum), 8 running sums, and a rest."""
    rng = np.random.default_rng(10)
    starts = np.cumsum([0] + rows[:-1]).astype(np.int64)
    n = sum(rows)
    zbar = (rng.random(n) * (rng.random(n) < 0.8)).astype(F32)
    w_out = rng.standard_normal((n, n_out)).astype(F32)
    for members in (np.arange(len(rows)), np.arange(len(rows))[1:]):
        y_numpy = rng.standard_normal((len(rows), n_out)).astype(F32)
        y_loop = y_numpy.copy()
        nm.readout_numpy(zbar, w_out, starts, y_numpy, members)
        nm.readout(zbar, w_out, starts, y_loop, members)
        same_bits({"y": y_numpy}, {"y": y_loop})
    # a plain running sum over the rows rounds differently on these inputs (so the test can tell)
    running = np.zeros((len(rows), n_out), F32)
    for k, r0 in enumerate(starts):
        for r in range(r0, r0 + rows[k]):
            running[k] += zbar[r] * w_out[r]
    summed = np.zeros_like(running)
    nm.readout_numpy(zbar, w_out, starts, summed, np.arange(len(rows)))
    if max(rows) >= 9:
        assert not np.array_equal(running, summed)


@pytest.mark.parametrize("block", [(0, P, 0, N_REC), (0, P, 13, 27), (13, 27, 0, 3)])
def test_the_adam_loop_is_the_numpy_statements_bit_for_bit(block):
    """One Adam step on W's columns (the group, one member) and on a member's W_out rows."""
    p = EpropParams()
    rng = np.random.default_rng(12)
    shape = (P, N_REC) if block[1] == P else (N_REC, 3)
    state = {"w": rng.standard_normal(shape).astype(F32), "m": (rng.standard_normal(shape) * 1e-2).astype(F32),
             "v": (rng.random(shape) * 1e-4).astype(F32), "grad": np.zeros(shape, F32)}
    loop_state = {k: a.copy() for k, a in state.items()}
    acc = rng.standard_normal(shape).astype(F32)
    scale = rng.standard_normal(shape[1]).astype(F32)
    lr_t = F32(0.01) * np.sqrt(F32(1) - F32(p.adam_beta2) ** 3) / (F32(1) - F32(p.adam_beta1) ** 3)
    consts = (p.two_l2, F32(p.adam_beta1), p.adam_one_minus_beta1, F32(p.adam_beta2), p.adam_one_minus_beta2,
              F32(p.adam_eps), F32(lr_t), *block)
    before = state["w"].copy()
    for fn, s in ((nm.adam_numpy, state), (nm.adam, loop_state)):
        fn(s["w"], s["m"], s["v"], acc, scale, consts[0], s["grad"], *consts[1:])
    same_bits(state, loop_state)
    r0, r1, c0, c1 = block
    moved = loop_state["w"] != before
    assert moved[r0:r1, c0:c1].all() and moved.sum() == (r1 - r0) * (c1 - c0)  # the block, all of it, only it


HW = HwParams.from_arch(load_arch("spinnaker2"))


def chip_training(monkeypatch, compiled: bool, samples: int = 3, **network) -> dict:
    """A small network trained on the chip engine, then one evaluation sample: what a user sees of it."""
    monkeypatch.setenv("S2SIM_JIT", "1" if compiled else "0")
    p = EpropParams(**{"n_in": 10, "n_rec": 21, "n_out": 3, "n_steps": 12, "v_th": 0.3, **network})
    rng = np.random.default_rng(3)
    X = (rng.random((samples + 1, p.n_steps, p.n_in)) < 0.3).astype(F32)
    Y = rng.integers(0, p.n_out, samples + 1)
    sim = Simulation(HW)
    chip = ChipNetwork(sim, p, EpropMapping(pes=4), R.init_weights(p, np.random.default_rng(5)))
    assert chip.group.compiled is compiled
    chip.group.record_raster = True
    records = chip.run_samples(X[:samples], Y[:samples], train=True)
    records += chip.run_samples(X[samples:], Y[samples:], train=False)
    m, v, *powers = chip.group.adam_state()
    st = sim.machine.stats
    return {"records": records, "weights": chip.weights(), "m": m, "v": v, "powers": powers,
            "rasters": chip.group.rasters, "time_done_ns": st.time_done_ns[:st.n_rows].copy()}


@pytest.mark.skipif(not NUMBA_AVAILABLE, reason="the compiled loops need numba (the numpy path is the other side)")
@pytest.mark.parametrize("network", [{}, {"memory_layout": "lean", "eps_a": "exact"},
                                     {"memory_layout": "closed_form", "autapse": "mask"}])
def test_chip_training_is_bit_identical_with_the_compiled_loops_and_with_numpy(monkeypatch, network):
    compiled, numpy_only = chip_training(monkeypatch, True, **network), chip_training(monkeypatch, False, **network)
    assert compiled["records"] == numpy_only["records"]
    for part in ("weights", "m", "v"):
        same_bits(compiled[part], numpy_only[part])
    assert compiled["powers"] == numpy_only["powers"]
    assert compiled["rasters"].keys() == numpy_only["rasters"].keys()
    assert all(np.array_equal(compiled["rasters"][s], numpy_only["rasters"][s]) for s in compiled["rasters"])
    assert sum(r.sum() for r in compiled["rasters"].values()) > 0, "vacuous: no neuron ever fired"
    assert np.array_equal(compiled["time_done_ns"], numpy_only["time_done_ns"])
