"""Compiled loops for firmware numerics: the one module of s2sim that imports numba.

A firmware's per-tick numerics written as numpy statements pay numpy's per-call overhead for every
statement on small arrays. The same statements written as one loop, element by element in the same
operation order, and compiled, give the same float32 results bit for bit: each +, −, × and ÷ of
two float32 numbers rounds once, in numpy and in compiled code alike, provided the compiler neither
reorders (no fast-math) nor fuses a*b + c into one FMA (LLVM fuses only with the fast-math
``contract`` flag, which numba sets only under ``fastmath``). tests/runtime/test_jit.py checks that.

``jit`` makes a function a ``CompiledLoop``: compiled on its first call with those settings, the
machine code cached on disk (only the first run after an install or an edit pays numba's compile
time), and numba imported only then (a run that compiles nothing does not pay for the import).
Without numba the function runs as plain Python, identical and slow; firmware asks ``jit_enabled()``
and keeps its numpy formulation instead (a one-line notice says so, once per process).
``S2SIM_JIT=0`` turns the compiled loops off where numba is installed (to compare or rule them out).
"""
from __future__ import annotations

import functools
import importlib.util
import sys
from collections.abc import Callable
from typing import Any

from ..config.simulator import JIT_ENV, jit_from_env

__all__ = ["jit", "jit_enabled", "objmode", "CompiledLoop", "NUMBA_AVAILABLE", "JIT_ENV"]

#: Whether numba is installed (found without importing it: the import costs ~0.3 s).
NUMBA_AVAILABLE = importlib.util.find_spec("numba") is not None

_noticed = False


class _Objmode:
    """``with objmode():`` in a compiled loop runs its body as Python (numba's ``objmode``): for a numpy call
    that must be numpy's own (its SIMD exp, its BLAS matmul) between compiled steps. A module using it
    imports this placeholder; ``CompiledLoop.compiled`` puts numba's in its place when it compiles, and
    without numba (or in plain Python) it does nothing."""

    def __call__(self, **_types) -> "_Objmode":
        return self

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc) -> bool:
        return False


objmode = _Objmode()


class CompiledLoop:
    """``py_func`` compiled by numba in nopython mode on the first call: IEEE float semantics (no
    fast-math, so no reordering and no FMA contraction; division by zero gives inf/nan as in numpy),
    machine code cached on disk. Without numba, calls run ``py_func`` itself."""

    def __init__(self, py_func: Callable):
        self.py_func = py_func
        self._run: Callable | None = None
        functools.update_wrapper(self, py_func)

    def __call__(self, *args: Any) -> Any:
        run = self._run
        if run is None:
            run = self._run = self.compiled()
        return run(*args)

    @property
    def _numba_type_(self):
        """What numba sees where one compiled loop calls another: this loop's dispatcher (loops compose; the
        callee must live in the caller's file, as numba's disk cache only notices edits to that file)."""
        run = self._run
        if run is None:
            run = self._run = self.compiled()
        from numba.core import types
        return types.Dispatcher(run)

    def compiled(self) -> Callable:
        """The numba dispatcher (``py_func`` without numba)."""
        if not NUMBA_AVAILABLE:
            return self.py_func
        import numba
        if self.py_func.__globals__.get("objmode") is objmode:
            self.py_func.__globals__["objmode"] = numba.objmode
        try:
            return numba.njit(cache=True, fastmath=False, error_model="numpy")(self.py_func)
        except RuntimeError:  # no writable cache location (read-only install, no home): compile every run
            return numba.njit(cache=False, fastmath=False, error_model="numpy")(self.py_func)


def jit(fn: Callable) -> CompiledLoop:
    """Decorator: ``fn`` as a ``CompiledLoop``."""
    return CompiledLoop(fn)


def jit_enabled() -> bool:
    """Whether firmware should call its compiled loops: numba is installed and ``$S2SIM_JIT`` is not
    ``0``. Without numba, prints a one-line notice (once) that the numpy formulation runs instead."""
    global _noticed
    if not jit_from_env():  # read where every switch is read (a typo: one line from the CLI, exit 2)
        return False
    if not NUMBA_AVAILABLE and not _noticed:
        _noticed = True
        print("s2sim: numba is not installed; firmware numerics run in numpy (same results, slower)", file=sys.stderr)
    return NUMBA_AVAILABLE
