"""Stories for the compiled loops of firmware numerics (``s2sim.runtime.jit``): IEEE float32 arithmetic
as numpy does it (every operation rounded, in the written order: no FMA, no reordering), the numpy
path without numba, and the switch."""
from __future__ import annotations

import numpy as np
import pytest

from s2sim.config import ConfigError
from s2sim.runtime import jit as jit_module
from s2sim.runtime.jit import CompiledLoop, jit, jit_enabled, objmode

F32 = np.float32


@jit
def multiply_add(a, b, c, out):
    for i in range(a.shape[0]):
        out[i] = a[i] * b[i] + c[i]


@jit
def running_sum(a):
    total = np.float32(0.0)
    for i in range(a.shape[0]):
        total += a[i]
    return total


@jit
def exp_then_sum(a, out):
    """numpy's own exp (its SIMD code, which a compiled exp would not match bit for bit), then another loop."""
    with objmode():
        np.exp(a, out=out)
    return running_sum(out)


def random_f32(rng, n):
    return (rng.standard_normal(n) * np.exp2(rng.integers(-8, 8, n))).astype(F32)


def test_a_compiled_multiply_add_rounds_twice_as_numpy_does_not_once_as_an_fma():
    rng = np.random.default_rng(0)
    a, b, c = (random_f32(rng, 4096) for _ in range(3))
    out = np.empty_like(a)
    multiply_add(a, b, c, out)
    numpy_result = a * b + c  # two float32 roundings
    assert np.array_equal(out.view(np.uint32), numpy_result.view(np.uint32))
    # the input tells the two apart: a fused multiply-add (one rounding; a*b is exact in float64) differs
    fused = (a.astype(np.float64) * b + c).astype(F32)
    assert (fused != numpy_result).sum() > 100


def test_a_compiled_sum_adds_in_the_written_order_without_reassociating():
    rng = np.random.default_rng(1)
    a = random_f32(rng, 10_000)
    sequential = np.cumsum(a)[-1]  # numpy's accumulate adds one by one, in order
    assert F32(running_sum(a)).view(np.uint32) == sequential.view(np.uint32)
    assert np.sum(a) != sequential  # numpy's pairwise sum (what a reordering compiler would do) differs


def test_a_compiled_loop_calls_another_and_numpy_in_between_with_the_same_bits_as_python():
    rng = np.random.default_rng(2)
    a = random_f32(rng, 1000) / F32(64)
    out, out_python = np.empty_like(a), np.empty_like(a)
    total = exp_then_sum(a, out)
    assert exp_then_sum._run.signatures  # compiled (nopython, the exp in object mode)
    assert np.array_equal(out.view(np.uint32), np.exp(a).view(np.uint32))
    assert F32(total).view(np.uint32) == F32(exp_then_sum.py_func(a, out_python)).view(np.uint32)


def test_without_numba_a_loop_runs_as_its_python_function_and_firmware_is_told_once(monkeypatch, capsys):
    monkeypatch.setattr(jit_module, "NUMBA_AVAILABLE", False)
    monkeypatch.setattr(jit_module, "_noticed", False)
    monkeypatch.delenv("S2SIM_JIT", raising=False)
    loop = CompiledLoop(running_sum.py_func)
    assert loop.compiled() is running_sum.py_func
    assert loop(np.ones(3, F32)) == 3.0
    assert jit_enabled() is False and jit_enabled() is False
    notices = capsys.readouterr().err.splitlines()
    assert notices == ["s2sim: numba is not installed; firmware numerics run in numpy (same results, slower)"]


def test_the_environment_switches_the_compiled_loops_off_and_a_typo_is_one_line(monkeypatch):
    monkeypatch.setenv("S2SIM_JIT", "0")
    assert jit_enabled() is False
    monkeypatch.setenv("S2SIM_JIT", "1")
    assert jit_enabled() is jit_module.NUMBA_AVAILABLE
    monkeypatch.setenv("S2SIM_JIT", "yes")
    with pytest.raises(ConfigError, match=r"S2SIM_JIT='yes': unknown value; expected 0 .* or 1"):
        jit_enabled()


def test_where_numba_cannot_cache_a_loop_is_compiled_for_the_run_alone(monkeypatch):
    numba = pytest.importorskip("numba")
    real_njit = numba.njit

    caches = []

    def njit_without_cache_location(*args, cache=False, **kwargs):
        caches.append(cache)
        if cache:  # what numba raises when no cache directory is writable
            raise RuntimeError("cannot cache function 'running_sum': no locator available")
        return real_njit(*args, cache=cache, **kwargs)

    monkeypatch.setattr(numba, "njit", njit_without_cache_location)
    loop = CompiledLoop(running_sum.py_func)
    assert F32(loop(np.ones(5, F32))) == 5.0
    assert caches == [True, False]  # asked with a cache, then compiled without one
