"""Stories for the float32 e-prop reference (spec eprop_gsc.md §1–§3).

The central check is an independent, deliberately naive scalar implementation written straight from the §2.2/§2.3
tables (explicit loops over i, j, k; np.float32 scalars) that the vectorised reference must reproduce.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from firmware_models.eprop import reference as R
from firmware_models.eprop.params import EpropParams

F = np.float32
SMALL = dict(n_in=6, n_rec=5, n_out=3, n_steps=12)


# ------------------------------------------------------------------------------------------------------------
# scalar oracle
# ------------------------------------------------------------------------------------------------------------
def scalar_psi(vs: np.float32) -> np.float32:
    """§1.3 written out with the un-folded constants γ, h, σ, S."""
    g, h, sig, S = F(0.5), F(0.15), F(0.5), F(6.0)
    sq = F(math.sqrt(2 * math.pi))

    def gauss(x, mu, s):
        return np.exp(-(x - mu) * (x - mu) / (F(2) * s * s)) / (sq * s)

    return g * ((F(1) + h) * gauss(vs, F(0), sig) - h * gauss(vs, sig, S * sig) - h * gauss(vs, -sig, S * sig))


def scalar_eprop(w_in, w_rec, w_out, x, label, p: EpropParams):
    """One sample, S3–S19 then R1–R7, loop by loop. Returns (z [T,N], grads dict)."""
    n_in, n, n_out, T = p.n_in, p.n_rec, p.n_out, p.n_steps
    alpha, rho, kappa = F(math.exp(-1 / p.tau_m)), F(math.exp(-1 / p.tau_a)), F(math.exp(-1 / p.tau_out))
    oma, omr = F(1) - alpha, F(1) - rho
    beta = F(0) if p.neuron == "lif" else F(p.beta)
    vth = F(p.v_th)
    exact, mask = p.eps_a == "exact", p.autapse == "mask"
    wr = w_rec.copy()
    if mask:
        np.fill_diagonal(wr, 0)
    z = np.zeros(n, F); v = np.zeros(n, F); b = np.zeros(n, F); zbar = np.zeros(n, F)
    out = np.zeros(n_out, F); g_out = np.zeros(n, F)
    n_pre = {"in": n_in, "rec": n}
    ev = {k: np.zeros((m, n), F) for k, m in n_pre.items()}
    ea = {k: np.zeros((m, n), F) for k, m in n_pre.items()}
    ebar = {k: np.zeros((m, n), F) for k, m in n_pre.items()}
    E = {k: np.zeros((m, n), F) for k, m in n_pre.items()}
    psi_prev = np.zeros(n, F)
    Z = np.zeros((T, n), np.uint8)
    for t in range(T):
        z_pre = z.copy()
        for j in range(n):
            b[j] = rho * b[j] + omr * z_pre[j]
        vs = np.zeros(n, F)
        for j in range(n):
            acc = F(0)
            for i in range(n_in):
                acc += x[t, i] * w_in[i, j]
            for i in range(n):
                acc += z_pre[i] * wr[i, j]
            A = vth + beta * b[j]
            v[j] = alpha * v[j] + oma * acc - z_pre[j] * A
            vs[j] = v[j] - A
            z[j] = F(1) if vs[j] > 0 else F(0)
            zbar[j] = kappa * zbar[j] + z[j]
        for k in range(n_out):
            y = F(0)
            for j in range(n):
                y += zbar[j] * w_out[j, k]
            out[k] += y
        psi = np.array([scalar_psi(vs[j]) for j in range(n)], F)
        for name, pre in (("in", x[t]), ("rec", z_pre)):
            for i in range(n_pre[name]):
                for j in range(n):
                    evo = ev[name][i, j]
                    ev[name][i, j] = alpha * evo + pre[i]
                    if exact:
                        ea[name][i, j] = (rho - omr * beta * psi_prev[j]) * ea[name][i, j] \
                            + oma * omr * psi_prev[j] * evo
                    else:
                        ea[name][i, j] = (rho - omr * beta * psi[j]) * ea[name][i, j] \
                            + oma * omr * psi[j] * ev[name][i, j]
                    e = psi[j] * (oma * ev[name][i, j] - beta * ea[name][i, j])
                    if name == "rec" and i == j:
                        e = F(0); ev[name][i, j] = F(0); ea[name][i, j] = F(0)
                    ebar[name][i, j] = kappa * ebar[name][i, j] + e
                    E[name][i, j] += ebar[name][i, j]
        for j in range(n):
            g_out[j] += zbar[j]
        psi_prev = psi
        Z[t] = z
    ybar = out / F(T)
    soft = np.exp(ybar - ybar.max()); soft = soft / soft.sum()
    err = soft.copy(); err[label] -= F(1)
    L = np.zeros(n, F)
    for j in range(n):
        for k in range(n_out):
            L[j] += w_out[j, k] * err[k]
        L[j] /= F(T)
    two_l2 = F(2 * p.l2)
    gi = np.array([[L[j] * E["in"][i, j] + two_l2 * w_in[i, j] for j in range(n)] for i in range(n_in)], F)
    gr = np.array([[L[j] * E["rec"][i, j] + two_l2 * w_rec[i, j] for j in range(n)] for i in range(n)], F)
    go = np.array([[g_out[j] * err[k] / F(T) + two_l2 * w_out[j, k] for k in range(n_out)] for j in range(n)], F)
    return Z, {"w_in": gi, "w_rec": gr, "w_out": go}


def tiny_problem(p: EpropParams, seed: int = 3, gain: float = 5.0):
    rng = np.random.default_rng(seed)
    w = R.init_weights(p, rng)
    x = (gain * np.abs(rng.standard_normal((p.n_steps, p.n_in)))).astype(F)
    return w, x


def assert_close(a, b, scale_tol=1e-6):
    """Agreement within 1e-6 of the gradient's magnitude (float32 summation order differs)."""
    tol = scale_tol * max(1.0, float(np.abs(b).max()))
    assert np.abs(a - b).max() <= tol, (np.abs(a - b).max(), tol)


# ------------------------------------------------------------------------------------------------------------
# stories
# ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("neuron,autapse,eps_a", list(itertools.product(["alif", "lif"], ["keep", "mask"],
                                                                          ["repo", "exact"])))
def test_vectorised_matches_scalar_oracle(neuron, autapse, eps_a):
    p = EpropParams(**SMALL, neuron=neuron, autapse=autapse, eps_a=eps_a)
    w, x = tiny_problem(p)
    z_ref, g_ref = scalar_eprop(w["w_in"], w["w_rec"], w["w_out"], x, 1, p)
    assert 0.05 < z_ref.mean() < 0.95, "test input must make neurons spike sometimes"
    r = R.run_sample(w, x, 1, p)
    np.testing.assert_array_equal(r.z[0], z_ref)
    for key, g in zip(R.WEIGHT_KEYS, (r.grad_in, r.grad_rec, r.grad_out)):
        assert g.dtype == np.float32
        assert_close(g[0], g_ref[key])


def test_variants_really_differ():
    """Guards the oracle comparison: eps_a and neuron options must change the gradient."""
    base = EpropParams(**SMALL)
    w, x = tiny_problem(base)
    g_repo = R.run_sample(w, x, 1, base).grad_in[0]
    g_exact = R.run_sample(w, x, 1, base.model_copy(update={"eps_a": "exact"})).grad_in[0]
    g_lif = R.run_sample(w, x, 1, base.model_copy(update={"neuron": "lif"})).grad_in[0]
    assert np.abs(g_repo - g_exact).max() > 1e-5
    assert np.abs(g_repo - g_lif).max() > 1e-5


@pytest.mark.parametrize("eps_a", ["repo", "exact"])
def test_memory_layouts_and_engines_agree(eps_a):
    base = EpropParams(n_in=10, n_rec=16, n_out=4, n_steps=40, eps_a=eps_a)
    rng = np.random.default_rng(7)
    w = R.init_weights(base, rng)
    x = (6.0 * np.abs(rng.standard_normal((3, base.n_steps, base.n_in)))).astype(F)
    labels = np.array([0, 2, 3])
    ref = R.run_sample(w, x, labels, base)
    assert ref.z.mean() > 0.02
    runs = [(lay, eng) for lay in ("paper", "lean", "closed_form") for eng in ("stepwise", "factorized")]
    for lay, eng in runs:
        r = R.run_sample(w, x, labels, base.model_copy(update={"memory_layout": lay}), engine=eng)
        np.testing.assert_array_equal(r.z, ref.z)
        for a, b in ((r.grad_in, ref.grad_in), (r.grad_rec, ref.grad_rec), (r.grad_out, ref.grad_out)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max(), err_msg=f"{lay}/{eng}")


def test_batch_equals_independent_samples():
    p = EpropParams(**SMALL)
    rng = np.random.default_rng(1)
    w = R.init_weights(p, rng)
    x = (4 * np.abs(rng.standard_normal((3, p.n_steps, p.n_in)))).astype(F)
    rb = R.run_sample(w, x, [0, 1, 2], p)
    for s in range(3):
        r1 = R.run_sample(w, x[s], s, p)
        np.testing.assert_array_equal(r1.z[0], rb.z[s])
        np.testing.assert_allclose(r1.grad_rec[0], rb.grad_rec[s], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(rb.grads()["w_in"], rb.grad_in.sum(0), rtol=1e-6)


def test_surrogate_spec_values():
    v = np.array([0.0, 0.5, -0.5, 1.0, -1.6, 3.0, 8.0], F)
    psi = R.surrogate(v)
    assert psi.dtype == np.float32
    np.testing.assert_allclose(psi, [0.43911, 0.25886, 0.25886, 0.04345, -0.01439, -0.01210, -0.00062], atol=6e-6)
    p = EpropParams()
    assert abs(p.surrogate_a0 - 0.45878362) < 1e-7 and abs(p.surrogate_a1 - 0.00997356) < 1e-8
    assert abs(float(R.surrogate(np.float32(1.2722)))) < 1e-4  # zero crossing


def test_adam_one_hand_computed_step():
    p = EpropParams(n_in=1, n_rec=2, n_out=1)
    w = {"w_in": np.ones((1, 2), F), "w_rec": np.zeros((2, 2), F), "w_out": np.zeros((2, 1), F)}
    g = {"w_in": np.array([[0.5, -2.0]], F), "w_rec": np.zeros((2, 2), F), "w_out": np.zeros((2, 1), F)}
    adam = R.Adam(w, p)
    adam.step(w, g, 0.01)
    m = 0.1 * np.array([0.5, -2.0])
    v = 0.001 * np.array([0.25, 4.0])
    lr_t = 0.01 * math.sqrt(1 - 0.999) / (1 - 0.9)
    expected = 1.0 - lr_t * m / (np.sqrt(v) + 1e-5)  # ε outside the sqrt
    np.testing.assert_allclose(w["w_in"][0], expected, rtol=2e-6)
    eps_inside = 1.0 - lr_t * m / np.sqrt(v + 1e-5)
    assert np.abs(w["w_in"][0] - eps_inside).max() > 1e-4
    assert adam.beta1_power == F(0.9) * F(0.9) and adam.beta2_power == F(0.999) * F(0.999)
    assert w["w_in"].dtype == np.float32


def c_adam_moments(g: np.ndarray, steps: int, beta1: float = 0.9, beta2: float = 0.999):
    """m, v after ``steps`` updates with gradient g, as ``eprop.c:AdamOptimizer`` forms them in float32:
    the (1−β) factors are ``1.0f - 0.9f`` and ``1.0f - 0.999f`` (float32 subtraction of float32 literals)."""
    b1, b2 = F(beta1), F(beta2)
    omb1, omb2 = F(1.0) - b1, F(1.0) - b2
    m, v = np.zeros_like(g), np.zeros_like(g)
    for _ in range(steps):
        m = b1 * m + omb1 * g
        v = b2 * v + (omb2 * g) * g
    return m, v


def test_adam_moments_use_the_c_trainers_float32_one_minus_beta():
    """float32(1 − 0.9) = 0.1 is 2.4e-8 away from C's 1.0f − 0.9f; every saturated step would be 6.6e-6 smaller."""
    p = EpropParams(n_in=1, n_rec=2, n_out=1)
    assert p.adam_one_minus_beta1 == F(1.0) - F(0.9) != F(1.0 - 0.9)
    assert p.adam_one_minus_beta2 == F(1.0) - F(0.999) != F(1.0 - 0.999)
    g_in = np.array([[0.37, -2.9]], F)
    w = {"w_in": np.ones((1, 2), F), "w_rec": np.zeros((2, 2), F), "w_out": np.zeros((2, 1), F)}
    g = {"w_in": g_in, "w_rec": np.zeros((2, 2), F), "w_out": np.zeros((2, 1), F)}
    adam = R.Adam(w, p)
    for _ in range(3):
        adam.step(w, g, 0.01)
    m, v = c_adam_moments(g_in, 3)
    np.testing.assert_array_equal(adam.m["w_in"], m)
    np.testing.assert_array_equal(adam.v["w_in"], v)


def test_autapse_keep_diagonal_gets_only_l2():
    p = EpropParams(**SMALL)
    w, x = tiny_problem(p)
    r = R.run_sample(w, x, 0, p)
    np.testing.assert_array_equal(np.diag(r.grad_rec[0]), p.two_l2 * np.diag(w["w_rec"]))
    off = r.grad_rec[0] - p.two_l2 * w["w_rec"]
    assert np.abs(off).max() > 10 * np.abs(np.diag(r.grad_rec[0])).max()


def test_autapse_mask_diagonal_stays_zero():
    p = EpropParams(**SMALL, autapse="mask")
    w, x = tiny_problem(p)
    assert not np.diag(w["w_rec"]).any()
    adam = R.Adam(w, p)
    before = w["w_rec"].copy()
    R.train_online(w, adam, np.stack([x, x * 0.5, x]), np.array([0, 1, 2]), p, epoch=0)
    assert not np.diag(w["w_rec"]).any()
    assert np.abs(w["w_rec"] - before).max() > 1e-4


def test_lr_schedule():
    p = EpropParams()
    got = [float(R.lr_for_epoch(p, e)) for e in range(7)]
    np.testing.assert_allclose(got, [0.01, 0.01, 0.003, 0.003, 0.0009, 0.0009, 0.00027], rtol=1e-6)
    assert R.lr_for_epoch(p, 3).dtype == np.float32


def test_memory_bytes_match_spec():
    p = EpropParams()
    assert (p.memory_bytes("paper"), p.memory_bytes("lean"), p.memory_bytes("closed_form")) == \
        (695_040, 599_040, 503_040)
    assert EpropParams(n_rec=10, n_out=12).memory_bytes("paper") == 4 * (7 * (80 * 10 + 100) + 4 * 120)


def test_params_are_strict_and_float32():
    with pytest.raises(Exception):
        EpropParams(n_inn=3)
    p = EpropParams()
    assert abs(p.alpha - 0.818730753) < 1e-7 and abs(p.rho - 0.993355506) < 1e-7 and abs(p.kappa - 0.904837418) < 1e-7
    assert all(isinstance(c, np.float32) for c in (p.alpha, p.rho, p.kappa, p.one_alpha_x_one_rho))
    assert EpropParams(neuron="lif").beta_eff == 0


def test_derived_constants_are_float_arithmetic_on_the_rounded_decays_as_in_the_c_trainer():
    # initialize_eprop_parameters: float alpha = exp(-dt/tau_m); then 1 - alpha etc. in float.
    p = EpropParams()
    one = np.float32(1.0)
    alpha, rho = np.float32(0.8187307530779818), np.float32(0.9933555062550344)  # exp(-1/5), exp(-1/150)
    assert (p.alpha, p.rho) == (alpha, rho)
    assert p.one_minus_alpha == one - alpha and p.one_minus_rho == one - rho
    assert p.one_alpha_x_one_rho == (one - alpha) * (one - rho)
    # not the double-then-round values, which differ in the last bits
    assert p.one_minus_rho != np.float32(1.0 - 0.9933555062550344)
    assert all(type(c) is np.float32 for c in (p.one_minus_alpha, p.one_minus_rho, p.one_alpha_x_one_rho))


def two_class_data(p: EpropParams, n: int, seed: int):
    """Class 0 drives the first half of the inputs early, class 1 the second half late."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = 0.3 * rng.standard_normal((n, p.n_steps, p.n_in))
    h, tt = p.n_in // 2, p.n_steps // 2
    for s in range(n):
        if y[s] == 0:
            x[s, :tt, :h] += 3.0
        else:
            x[s, tt:, h:] += 3.0
    return x.astype(F), y


def test_online_learning_lowers_loss():
    p = EpropParams(n_in=8, n_rec=16, n_out=2, n_steps=30)
    w = R.init_weights(p, np.random.default_rng(0))
    x, y = two_class_data(p, 40, seed=5)
    adam = R.Adam(w, p)
    first, _ = R.train_online(w, adam, x, y, p, epoch=0)
    for ep in range(1, 4):
        last, correct = R.train_online(w, adam, x, y, p, epoch=ep)
    assert last.mean() < 0.7 * first.mean(), (first.mean(), last.mean())
    acc, loss = R.evaluate(w, x, y, p, batch=16)
    assert acc > 0.8 and loss < first.mean()


def test_eprop_alone_lowers_loss_with_frozen_readout():
    """Only W_in/W_rec learn (grad_out dropped): catches a wrong sign in the learning signal or eligibility,
    which the readout gradient alone would otherwise hide."""
    p = EpropParams(n_in=8, n_rec=16, n_out=2, n_steps=30)
    w = R.init_weights(p, np.random.default_rng(0))
    x, y = two_class_data(p, 40, seed=5)
    adam = R.Adam(w, p)
    w_out0 = w["w_out"].copy()
    epoch_loss = []
    for ep in range(3):
        losses = []
        for s in range(len(x)):
            r = R.run_sample(w, x[s], int(y[s]), p)
            g = r.grads()
            g["w_out"][...] = 0.0
            adam.step(w, g, R.lr_for_epoch(p, ep))
            losses.append(r.loss[0])
        epoch_loss.append(np.mean(losses))
    np.testing.assert_array_equal(w["w_out"], w_out0)
    assert epoch_loss[-1] < 0.8 * epoch_loss[0], epoch_loss


def test_online_engines_give_same_weights():
    """train_online's fast default (factorized) tracks the firmware-order stepwise recursion over several updates."""
    p = EpropParams(n_in=8, n_rec=16, n_out=2, n_steps=30)
    x, y = two_class_data(p, 6, seed=2)
    out = {}
    for eng in ("stepwise", "factorized"):
        w = R.init_weights(p, np.random.default_rng(4))
        R.train_online(w, R.Adam(w, p), x, y, p, epoch=0, engine=eng)
        out[eng] = w
    for k in R.WEIGHT_KEYS:
        np.testing.assert_allclose(out["factorized"][k], out["stepwise"][k], atol=2e-5)
