"""Arguments and numpy references for running each compiled kernel on the emulator.

``CASES[function](n, rng)`` gives the call's arguments with the table loop's bound ``n`` (other
loop bounds fixed, small) and the outputs numpy expects. Inputs keep the common path (no spikes,
membranes below threshold) that the nominal column costs. References are float64 on the float32
inputs, so a difference is the kernel's own float32/FMA rounding.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Callable

import numpy as np

from kernel_trace import Arg

OUTER = 3  # fixed outer loop bound where the table loop is the inner one
F32 = np.float32


@dataclass
class Case:
    args: list[Arg]
    expect: dict  # out-array position (among the arrays) -> expected array; "r0"/"s0" -> return value


def _a(rng, *shape, lo=0.1, hi=0.5) -> np.ndarray:
    return rng.uniform(lo, hi, shape).astype(F32)


def _i(v) -> Arg:
    return Arg("int", int(v))


def _f(v) -> Arg:
    return Arg("float", float(F32(v)))


def _arr(x) -> Arg:
    return Arg("array", np.array(x))


def _d(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def dense_mac(n, rng):  # W [pre][post]: n presynaptic rows of OUTER post neurons
    w, u = _a(rng, n, OUTER), _a(rng, n)
    return Case([_i(OUTER), _i(n), _arr(w), _arr(u), _arr(np.zeros(OUTER, F32))], {2: _d(u) @ _d(w)})


def event_add_dense(n, rng):
    row, cur = _a(rng, n), _a(rng, n)
    return Case([_i(n), _arr(row), _arr(cur)], {1: _d(cur) + _d(row)})


def eprop_neuron_update(n, rng):
    cur, beta, v, b, vs, zbar, zsum = (_a(rng, n) for _ in range(7))
    z = np.zeros(n, F32)  # no spike last step: the common path
    alpha, rho, kappa, v_th = 0.9, 0.95, 0.8, 10.0
    bj = rho * _d(b) + (1 - rho) * _d(z)
    a = v_th + _d(beta) * bj
    vj = alpha * _d(v) + (1 - alpha) * _d(cur) - _d(z) * a
    vsn = vj - a
    zj = (vsn > 0).astype(float)
    zb = kappa * _d(zbar) + zj
    args = [_i(n), _arr(cur), _arr(beta), _arr(v), _arr(b), _arr(z), _arr(vs), _arr(zbar), _arr(zsum),
            _f(alpha), _f(rho), _f(kappa), _f(v_th)]
    return Case(args, {2: vj, 3: bj, 4: zj, 5: vsn, 6: zb, 7: _d(zsum) + zb})


def _surrogate(n, rng, exp):
    vs, beta = _a(rng, n, lo=-0.5, hi=0.5), _a(rng, n)
    alpha, rho = 0.9, 0.95
    x = _d(vs)
    psi = 0.45878362 * exp(-2 * x * x) - 0.00997356 * (exp((x - 0.5) ** 2 * (-1 / 18)) + exp((x + 0.5) ** 2 * (-1 / 18)))
    outs = [np.zeros(n, F32) for _ in range(4)]
    args = [_i(n), _arr(vs), _arr(beta), *map(_arr, outs), _f(alpha), _f(rho)]
    b = _d(beta)
    return Case(args, {2: rho - (1 - rho) * b * psi, 3: (1 - alpha) * (1 - rho) * psi, 4: (1 - alpha) * psi,
                       5: b * psi})


def eprop_surrogate_expf(n, rng):
    return _surrogate(n, rng, np.exp)


def eprop_surrogate_accel(n, rng):  # the accelerator call is stubbed by the identity in the image
    return _surrogate(n, rng, lambda x: x)


def _coeffs(rng, k):
    return [_a(rng, k) for _ in range(4)]


def _elig_core(d, c, p, q, ev, ea, eb, kappa):
    a = d * ea + c * ev
    e = p * ev - q * a
    return a, kappa * eb + e


def eprop_eligibility_post_pre(n, rng):
    d, c, p, q = _coeffs(rng, OUTER)
    ev, ea, eb, E = _a(rng, n), _a(rng, OUTER, n), _a(rng, OUTER, n), _a(rng, OUTER, n)
    kappa = 0.8
    a, b = _elig_core(*(_d(x)[:, None] for x in (d, c, p, q)), _d(ev)[None, :], _d(ea), _d(eb), kappa)
    args = [_i(OUTER), _i(n), *map(_arr, (d, c, p, q, ev, ea, eb, E)), _f(kappa)]
    return Case(args, {5: a, 6: b, 7: _d(E) + b})


def eprop_eligibility_pre_post(n, rng):
    d, c, p, q = _coeffs(rng, n)
    ev, ea, eb, E = _a(rng, OUTER), _a(rng, OUTER, n), _a(rng, OUTER, n), _a(rng, OUTER, n)
    kappa = 0.8
    a, b = _elig_core(*(_d(x)[None, :] for x in (d, c, p, q)), _d(ev)[:, None], _d(ea), _d(eb), kappa)
    args = [_i(OUTER), _i(n), *map(_arr, (d, c, p, q, ev, ea, eb, E)), _f(kappa)]
    return Case(args, {5: a, 6: b, 7: _d(E) + b})


def eprop_eligibility_paper(n, rng):  # [pre][post]: OUTER presynaptic rows of n post neurons
    d, c, p, q = _coeffs(rng, n)
    u, ev, ea, eb, E = _a(rng, OUTER), _a(rng, OUTER, n), _a(rng, OUTER, n), _a(rng, OUTER, n), _a(rng, OUTER, n)
    alpha, kappa = 0.9, 0.8
    v = alpha * _d(ev) + _d(u)[:, None]
    a, b = _elig_core(*(_d(x)[None, :] for x in (d, c, p, q)), v, _d(ea), _d(eb), kappa)
    args = [_i(OUTER), _i(n), *map(_arr, (d, c, p, q, u, ev, ea, eb, E)), _f(alpha), _f(kappa)]
    return Case(args, {5: v, 6: a, 7: b, 8: _d(E) + b})


def eprop_eligibility_closed_form(n, rng):  # [pre][post]
    d, c, p, q = _coeffs(rng, n)
    ev, ea, E = _a(rng, OUTER), _a(rng, OUTER, n), _a(rng, OUTER, n)
    dd, cc, pp, qq = (_d(x)[None, :] for x in (d, c, p, q))
    a = dd * _d(ea) + cc * _d(ev)[:, None]
    args = [_i(OUTER), _i(n), *map(_arr, (d, c, p, q, ev, ea, E))]
    return Case(args, {5: a, 6: _d(E) + pp * _d(ev)[:, None] - qq * a})


def eprop_autapse_zero(n, rng):  # own neurons 0..n-1 sit in presynaptic rows 1..n (one input row first)
    row0 = 1
    ev, ea, E = _a(rng, n + row0, n), _a(rng, n + row0, n), _a(rng, n + row0, n)
    eb = _a(rng, n + row0, n)
    rows, cols = np.arange(n) + row0, np.arange(n)
    want = {k: _d(x).copy() for k, x in zip((2, 3, 4, 5), (ev, ea, eb, E))}
    want[5][rows, cols] -= _d(eb)[rows, cols]
    for k in (2, 3, 4):
        want[k][rows, cols] = 0.0
    return Case([_i(n), _i(row0), *map(_arr, (ev, ea, eb, E))], {k - 2: v for k, v in want.items()})


def eprop_eps_v(n, rng):
    u, ev = _a(rng, n), _a(rng, n)
    return Case([_i(n), _arr(u), _arr(ev), _f(0.9)], {1: 0.9 * _d(ev) + _d(u)})


def eprop_readout(n, rng):  # W_out [neuron][out]: n neurons of OUTER outputs
    w, zbar, y = _a(rng, n, OUTER), _a(rng, n), _a(rng, OUTER)
    return Case([_i(OUTER), _i(n), _arr(w), _arr(zbar), _arr(y)], {2: _d(y) + _d(zbar) @ _d(w)})


def eprop_learning_signal(n, rng):  # W_out [neuron][out]: OUTER neurons of n outputs
    n_out = n  # the table loop (outputs) is the inner one
    w, err = _a(rng, OUTER, n_out), _a(rng, n_out)
    inv_t = 0.01
    return Case([_i(OUTER), _i(n_out), _arr(w), _arr(err), _arr(np.zeros(OUTER, F32)), _f(inv_t)],
                {2: (_d(w) @ _d(err)) * inv_t})


def adam_update(n, rng):  # [pre][post]: OUTER presynaptic rows of n post neurons
    sig, w, m, v, E = _a(rng, n), _a(rng, OUTER, n), _a(rng, OUTER, n), _a(rng, OUTER, n), _a(rng, OUTER, n)
    two_l2, b1, b2, lr, eps = 1e-4, 0.9, 0.999, 1e-3, 1e-8
    g = _d(sig)[None, :] * _d(E) + two_l2 * _d(w)
    mi = b1 * _d(m) + (1 - b1) * g
    vi = b2 * _d(v) + (1 - b2) * g * g
    args = [_i(OUTER), _i(n), *map(_arr, (sig, w, m, v, E)), *map(_f, (two_l2, b1, 1 - b1, b2, 1 - b2, lr, eps))]
    return Case(args, {1: _d(w) - lr * mi / (np.sqrt(vi) + eps), 2: mi, 3: vi, 4: np.zeros_like(g)})


def eventprop_receive_spike(n, rng):  # W [post][pre]: the spike of input 2 adds column 2 (stride n_in)
    n_in, index = 5, 2
    w, inp = _a(rng, n, n_in), _a(rng, n)
    hist, nh = np.zeros(8, np.uint16), np.array([1], np.int32)
    want_hist = hist.copy()
    want_hist[2:4] = (7, index)
    return Case([_i(n), _i(n_in), _i(7), _i(index), _arr(w), _arr(inp), _arr(hist), _arr(nh)],
                {1: _d(inp) + _d(w)[:, index], 2: want_hist, 3: np.array([2])})


def eventprop_error_in(n, rng):
    neuron = rng.permutation(max(n, 4))[:n].astype(np.uint16)
    val, grad = _a(rng, n), _a(rng, max(n, 4))
    want = _d(grad).copy()
    np.add.at(want, neuron, _d(val))
    return Case([_i(n), _arr(neuron), _arr(val), _arr(grad)], {2: want})


def eventprop_forward_step(n, rng):
    cur, inp, v = _a(rng, n), _a(rng, n), _a(rng, n)
    alpha, beta = 0.9, 0.8
    i_syn = alpha * _d(cur) + _d(inp)
    vj = beta * _d(v) + (1 - beta) * i_syn  # < 1: no spike, the common path
    hist = np.zeros(3 * 4, np.uint32)
    return Case([_i(n), _i(3), _arr(cur), _arr(inp), _arr(v), _arr(hist), _f(alpha), _f(beta)],
                {0: i_syn, 1: np.zeros(n), 2: vj, "r0": 0})


def eventprop_adjoint_step(n, rng):
    li, lv, go, eo = _a(rng, n), _a(rng, n), _a(rng, n), np.zeros(n, F32)
    alpha, beta = 0.9, 0.8
    li_new = alpha * _d(li) + (1 - alpha) * _d(lv)
    lv_new = beta * _d(lv) + _d(go)
    return Case([_i(n), *map(_arr, (li, lv, go, eo)), _f(alpha), _f(beta)],
                {0: li_new, 1: lv_new, 2: np.zeros(n), 3: lv_new - li_new})


def eventprop_adjoint_jump(n, rng):
    n_neurons = max(n, 4)
    neurons = rng.permutation(n_neurons)[:n]
    recs = np.zeros(n, dtype=[("step", "<u2"), ("neuron", "<u2"), ("current", "<f4"), ("v_pre", "<f4")])
    recs["step"], recs["neuron"] = 1, neurons
    recs["current"], recs["v_pre"] = _a(rng, n, lo=1.5, hi=2.0), _a(rng, n, lo=0.9, hi=1.1)
    lv, gs = _a(rng, n_neurons), _a(rng, n_neurons)
    want = _d(lv).copy()
    vdot = _d(recs["current"]) - _d(recs["v_pre"]) + 1e-10
    want[neurons] += (want[neurons] + _d(gs)[neurons]) / vdot
    return Case([_i(n), _arr(recs.view(np.uint32).reshape(n, 3)), _arr(lv), _arr(gs)], {1: want})


def eventprop_grad_accumulate(n, rng):
    n_in, i = 5, 2
    li, acc = _a(rng, n), _a(rng, n, n_in)
    want = _d(acc).copy()
    want[:, i] += _d(li)
    return Case([_i(n), _i(n_in), _i(i), _arr(li), _arr(acc)], {1: want})


def eventprop_error_out(n, rng):
    n_in, i = 5, 2
    w, err = _a(rng, n, n_in), _a(rng, n)
    return Case([_i(n), _i(n_in), _i(i), _arr(w), _arr(err)], {"s0": float(_d(w)[:, i] @ _d(err))})


def eventprop_loss(n, rng):
    t = _a(rng, n, lo=1.0, hi=5.0)
    label, inv_tau0, alpha_reg, inv_tau1 = 1, 0.5, 0.01, 0.1
    e = np.exp(-_d(t) * inv_tau0)
    soft = e / e.sum()
    grad = -inv_tau0 * soft
    grad[label] += inv_tau0 + alpha_reg * inv_tau1 * np.exp(_d(t)[label] * inv_tau1)
    args = [_i(n), _arr(t), _i(label), _arr(np.zeros(n, F32)), _f(inv_tau0), _f(alpha_reg), _f(inv_tau1)]
    return Case(args, {1: grad, "s0": float(-np.log(soft[label]))})


def event_add(n, rng):
    n_post = max(n, 4)
    post = rng.permutation(n_post)[:n].astype(np.uint16)
    wt, inp = _a(rng, n), _a(rng, n_post)
    want = _d(inp).copy()
    want[post] += _d(wt)
    return Case([_i(n), _arr(wt), _arr(post), _arr(inp)], {2: want})


def lif_neuron_update(n, rng):
    v, inp = _a(rng, n), _a(rng, n)
    alpha, thr = 0.9, 10.0  # below threshold: the common path
    return Case([_i(n), _arr(v), _arr(inp), _arr(np.zeros(n, np.uint16)), _f(alpha), _f(thr)],
                {0: alpha * _d(v) + _d(inp), 1: np.zeros(n), "r0": 0})


CASES: dict[str, Callable[[int, np.random.Generator], Case]] = {
    name: fn for name, fn in list(globals().items())
    if inspect.isfunction(fn) and fn.__module__ == __name__ and not name.startswith("_")
}


def max_error(case: Case, arrays: list[np.ndarray], r0: int, s0: float) -> float:
    """Largest |emulator - numpy| / (1 + |numpy|) over the outputs the case checks."""
    worst = 0.0
    for key, want in case.expect.items():
        got = {"r0": r0, "s0": s0}[key] if isinstance(key, str) else arrays[key]
        if isinstance(key, str) and key == "r0":
            got = np.int32(np.uint32(got))
        got = np.asarray(got, dtype=np.float64)
        want = np.asarray(want, dtype=np.float64)
        if got.shape != want.shape:
            got = got.reshape(-1)[:want.size].reshape(want.shape)
        worst = max(worst, float(np.max(np.abs(got - want) / (1 + np.abs(want)))))
    return worst
