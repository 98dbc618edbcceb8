"""The ``counted`` simulation kernel: windows of ticks run by a compiled (numba) timing loop over
struct-of-arrays state, fed by the window's numerics, with the event-driven kernel as the fallback
for whatever the loop does not model (docs/simulation-model.md, "The counted kernel").

``engine.CountedEngine`` drives windows, guards and falls back; ``lif.LifModel`` turns the LIF
family's loaded programs into arrays, ``eprop.EpropModel`` the e-prop family's, ``cue.CueModel`` cue
accumulation's and ``eventprop.EventpropModel`` EventProp's (whose numerics run first, by the
firmware's own step); ``loop.run_window`` is the compiled loop.
"""
from __future__ import annotations

__all__ = ["make_engine", "numba_available"]


def numba_available() -> bool:
    """numba is installed (found, not imported: a run that counts no window never pays its import)."""
    from importlib.util import find_spec
    return find_spec("numba") is not None


def make_engine(chip):
    """The counted kernel's engine for ``chip`` (numba must be importable)."""
    from .engine import CountedEngine
    return CountedEngine(chip)
