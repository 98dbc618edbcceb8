"""The e-prop LIF reference against a scalar oracle written from spec §5.3, and its two engines against each other."""
import numpy as np

from firmware_models.eprop_lif import reference as R
from firmware_models.eprop_lif.params import CueEpropParams

P = CueEpropParams(n_in=6, n_rec=5, n_out=2, n_steps=60, learn_steps=15, tau_mem_ms=50.0, tau_out_ms=5.0,
                   init_gains=(3.0, 1.0, 1.0))


def _trial(seed=0, p=P, rate=0.3):
    rng = np.random.default_rng(seed)
    return R.init_weights(p, rng), (rng.random((p.n_steps, p.n_in)) < rate).astype(np.float32)


def oracle(w, x, label, p, rec_lag=1):
    """§5.3 literally, float64 scalar loops: the repo's convolutions as explicit sums over past steps."""
    T, N, O, I = p.n_steps, p.n_rec, p.n_out, p.n_in
    a, k, th = np.exp(-p.dt_ms / p.tau_mem_ms), np.exp(-p.dt_ms / p.tau_out_ms), p.v_th
    Win, Wrec, Wout = (w[n].astype(np.float64) for n in ("w_in", "w_rec", "w_out"))
    v, z, vo, y = np.zeros((T, N)), np.zeros((T, N)), np.zeros((T, O)), np.zeros((T, O))
    for t in range(T - 1):
        for j in range(N):
            v[t + 1, j] = a * v[t, j] + sum(Wrec[i, j] * z[t, i] for i in range(N)) \
                + sum(Win[i, j] * x[t, i] for i in range(I)) - th * z[t, j]
            z[t + 1, j] = float(v[t + 1, j] > th)
        vo[t + 1] = k * vo[t] + z[t + 1] @ Wout
        y[t + 1] = np.exp(vo[t + 1]) / np.exp(vo[t + 1]).sum()
    h = p.gamma * np.maximum(0.0, 1.0 - np.abs((v - th) / th))
    eps_in = np.array([[sum(a ** (t - s) * x[s, i] for s in range(t + 1)) for i in range(I)] for t in range(T)])
    eps_rec = np.array([[sum(a ** (t - rec_lag - s) * z[s, i] for s in range(t + 1 - rec_lag)) for i in range(N)]
                        for t in range(T)])
    g_in, g_rec, g_out = np.zeros((I, N)), np.zeros((N, N)), np.zeros((N, O))
    err = y - np.eye(O)[label]
    for t in range(T - p.learn_steps, T):
        L = Wout @ err[t]
        ebar_in = sum(k ** (t - s) * np.outer(eps_in[s], h[s]) for s in range(t + 1))
        ebar_rec = sum(k ** (t - s) * np.outer(eps_rec[s], h[s]) for s in range(t + 1))
        zbar = sum(k ** (t - s) * z[s] for s in range(t + 1))
        g_in += L * ebar_in
        g_rec += L * ebar_rec
        g_out += np.outer(zbar, err[t])
    return z, y, {"w_in": g_in, "w_rec": g_rec, "w_out": g_out}


def test_stepwise_engine_matches_the_spec_equations():
    w, x = _trial()
    z, y, g = oracle(w, x, 1, P)
    acc = R.zero_grads(P)
    fw = R.stepwise_trial(w, x, 1, P, acc)
    assert 10 < z.sum() < z.size - 10  # neurons both fire and stay silent: the test means something
    assert np.array_equal(fw.z[0], z)
    np.testing.assert_allclose(fw.y[0], y, atol=1e-5)
    for key in g:
        assert np.abs(g[key]).max() > 1e-3
        np.testing.assert_allclose(acc[key], g[key], rtol=1e-4, atol=1e-5 * np.abs(g[key]).max())


def test_eps_rec_is_one_step_behind_eps_in():
    """A recurrent spike at step s reaches ε_rec at s+1 only; an input spike reaches ε_in at s already."""
    w, x = _trial(1)
    z, _, g = oracle(w, x, 0, P)
    acc = R.zero_grads(P)
    R.stepwise_trial(w, x, 0, P, acc)
    np.testing.assert_allclose(acc["w_rec"], g["w_rec"], rtol=1e-4, atol=1e-5 * np.abs(g["w_rec"]).max())
    _, _, aligned = oracle(w, x, 0, P, rec_lag=0)
    # 100× the tolerance the right rule is met with (α is slow, so the one-step shift is a small change)
    assert np.abs(aligned["w_rec"] - acc["w_rec"]).max() > 1e-3 * np.abs(g["w_rec"]).max()


def test_factorized_engine_equals_stepwise_on_a_batch():
    p = P.model_copy(update={"n_steps": 120})
    rng = np.random.default_rng(2)
    w = R.init_weights(p, rng)
    X = (rng.random((3, p.n_steps, p.n_in)) < 0.3).astype(np.float32)
    Y = np.array([0, 1, 1])
    acc = R.zero_grads(p)
    for b in range(3):
        R.stepwise_trial(w, X[b], int(Y[b]), p, acc)
    fast, _ = R.factorized_grads(w, X, Y, p)
    for key in acc:
        np.testing.assert_allclose(fast[key], acc[key], rtol=1e-4, atol=1e-6 * np.abs(acc[key]).max())


def test_adam_takes_torch_steps_of_lr_times_sign_and_keeps_the_diagonal_zero():
    w, _ = _trial(3)
    before = {k: v.copy() for k, v in w.items()}
    raw = {k: np.full_like(v, 2.0) for k, v in w.items()}
    raw["w_in"][0, 0] = -2.0
    adam = R.Adam(w, P)
    adam.step(w, raw)  # first torch step: m̂/√v̂ = sign(g), whatever the layer factor
    step = w["w_in"] - before["w_in"]
    np.testing.assert_allclose(step[1:], -P.lr, atol=3e-7)  # float32 weights near 1: ulp 1e-7
    np.testing.assert_allclose(step[0, 0], P.lr, atol=3e-7)
    np.testing.assert_allclose(w["w_out"] - before["w_out"], -P.lr, atol=3e-7)
    assert np.all(np.diag(w["w_rec"]) == 0)


def test_only_the_last_learn_steps_drive_learning():
    """Errors before the window are ignored: a trial whose window output is already right learns little."""
    w, x = _trial(4)
    fw = R.forward(w, x[None], P)
    err = R.errors(fw.y, np.array([1]), P)
    assert np.all(err[0, :P.learn_start] == 0) and np.all(err[0, P.learn_start:] != 0)
