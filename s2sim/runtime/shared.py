"""State of several PEs that run the same program, stacked so one numpy call serves them all.

Real firmware keeps each PE's arrays in that PE's SRAM. A Python model that loops over PEs pays
numpy's per-call overhead once per PE per tick; stacking the arrays on a leading PE axis lets the
numerics of one tick run for all members at once. Each member still owns (and is charged SRAM for)
its own slice, and each member's timing is still its own: only the arithmetic is shared.
"""
from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Callable

import numpy as np

#: Set to ``0`` to make every PE compute its own numerics (no stacking): the reference mode the
#: bit-identity tests compare group numerics with, and a way to rule the speed trick out.
GROUP_ENV = "S2SIM_GROUP_NUMERICS"
#: The running run's ``run.simulator.group_numerics`` (after the environment), set by ``s2sim.run``.
RUN_GROUPING: ContextVar[bool | None] = ContextVar("s2sim_run_group_numerics", default=None)


def grouping_enabled(requested: bool | None = None) -> bool:
    """Whether firmware may share numerics over a group of PEs: ``requested`` if given, else the
    run's setting, else (a Simulation built outside ``s2sim.run``) ``$S2SIM_GROUP_NUMERICS``."""
    if requested is not None:
        return bool(requested)
    run_setting = RUN_GROUPING.get()
    if run_setting is not None:
        return run_setting
    from ..config.simulator import env_overrides
    try:
        return env_overrides().get("group_numerics", True)
    except Exception as err:  # a ConfigError: keep this module's historical ValueError
        raise ValueError(str(err)) from None


class SharedState:
    def __init__(self, n_members: int):
        self.n_members = n_members
        self.arrays: dict[str, np.ndarray] = {}
        self._memo: dict[str, tuple[Any, Any]] = {}

    def stack(self, name: str, per_member_shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
        """The stacked array ``[n_members, *shape]`` (created zeroed on first use)."""
        arr = self.arrays.get(name)
        if arr is None:
            arr = self.arrays[name] = np.zeros((self.n_members, *per_member_shape), dtype=dtype)
        return arr

    def claim(self, core, index: int, name: str, per_member_shape: tuple[int, ...],
              dtype=np.float32, category: str = "state", charge_bytes: int | None = None) -> np.ndarray:
        """Member ``index``'s slice of ``name``, charged to its SRAM (``charge_bytes`` when padded)."""
        view = self.stack(name, per_member_shape, dtype)[index]
        nbytes = view.nbytes if charge_bytes is None else int(charge_bytes)
        core.sram.reserve(name, nbytes, category)
        return view

    def once(self, key: str, stamp: Any, compute: Callable[[], Any]) -> Any:
        """Run ``compute`` once per ``stamp`` (e.g. a tick) for the whole group; cache the result."""
        hit = self._memo.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        value = compute()
        self._memo[key] = (stamp, value)
        return value
