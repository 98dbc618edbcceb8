"""The simulator switches of a run: the ``run.simulator`` section, then the environment, read once.

``run.simulator`` in a network file (or ``--set run.simulator.kernel=exact``) says how the simulator
computes; ``$S2SIM_KERNEL`` and ``$S2SIM_GROUP_NUMERICS`` override it for a whole process (a test
matrix, a benchmark). This module is the only place that reads those variables; ``s2sim.run`` resolves
the switches once per run and hands the result to the hardware model and the firmware.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any, Mapping

from .errors import ConfigError

__all__ = ["SimulatorSettings", "simulator_settings", "env_overrides", "KERNEL_ENV", "GROUP_ENV", "JIT_ENV", "jit_from_env", "KERNELS",
           "MPI_EXCHANGE_ENV", "mpi_exchange_from_env",
           "MPI_CHIPS_ENV", "mpi_chips_from_env"]

KERNEL_ENV = "S2SIM_KERNEL"
GROUP_ENV = "S2SIM_GROUP_NUMERICS"
#: ``0`` turns firmware's compiled loops off (``s2sim.runtime.jit``: the same results, numpy speed)
JIT_ENV = "S2SIM_JIT"
KERNELS = ("fast", "exact", "counted")
#: how a board split over MPI ranks exchanges bursts (``s2sim.hw.board_mpi``): ``tick`` (default)
#: counts packet handlers as bodies that do not send (one exchange per timer phase for LIF inference;
#: a handler that sends stops the run with one line), ``window`` assumes any body may send
MPI_EXCHANGE_ENV = "S2SIM_MPI_EXCHANGE"
MPI_EXCHANGES = ("tick", "window")
#: which chips each MPI rank runs (``s2sim.hw.board_mpi.chips_of_rank``): ``interleaved`` (default: every
#: n-th chip, each layer's work shared out) or ``contiguous`` (a run of chips: each rank books only its
#: chips' part of the trees when they cross ranks forward only)
MPI_CHIPS_ENV = "S2SIM_MPI_CHIPS"
MPI_CHIP_SPLITS = ("contiguous", "interleaved")


@dataclass(frozen=True)
class SimulatorSettings:
    """The resolved switches and where each came from (``run.simulator`` or the variable's name)."""

    kernel: str = "counted"
    group_numerics: bool = True
    noc_fidelity: str = "burst"
    origin: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["origin"] = dict(self.origin)
        return out


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``{"kernel": ..., "group_numerics": ...}`` for the variables that are set (and valid).

    A value that is neither empty nor valid is a ConfigError naming the variable.
    """
    environ = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    kernel = (environ.get(KERNEL_ENV) or "").strip()
    if kernel:
        if kernel not in KERNELS:
            raise ConfigError(f"{KERNEL_ENV}={kernel!r}", None, "unknown kernel", "one of " + ", ".join(KERNELS))
        out["kernel"] = kernel
    group = (environ.get(GROUP_ENV) or "").strip()
    if group:
        if group not in ("0", "1"):
            raise ConfigError(f"{GROUP_ENV}={group!r}", None, "unknown value",
                              "0 (per-PE numerics) or 1 (group numerics)")
        out["group_numerics"] = group == "1"
    jit_from_env(environ)  # a typo fails every run up front, not only those whose firmware has loops
    return out


def jit_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``$S2SIM_JIT`` allows compiled loops (unset or ``1``: yes; ``0``: no); else a ConfigError."""
    environ = os.environ if environ is None else environ
    value = (environ.get(JIT_ENV) or "").strip()
    if value not in ("", "0", "1"):
        raise ConfigError(f"{JIT_ENV}={value!r}", None, "unknown value", "0 (numpy numerics) or 1 (compiled loops)")
    return value != "0"


def _choice_from_env(name: str, default: str, choices, expected: str, environ: Mapping[str, str] | None) -> str:
    """``$name`` (unset or empty: ``default``) if it is one of ``choices``; else a ConfigError saying ``expected``."""
    environ = os.environ if environ is None else environ
    value = (environ.get(name) or "").strip() or default
    if value not in choices:
        raise ConfigError(f"{name}={value!r}", None, "unknown value", expected)
    return value


def mpi_exchange_from_env(environ: Mapping[str, str] | None = None) -> str:
    """``$S2SIM_MPI_EXCHANGE`` (unset: ``tick``); else a ConfigError."""
    return _choice_from_env(MPI_EXCHANGE_ENV, "tick", MPI_EXCHANGES,
                            "tick (handlers do not send) or window (any body may send)", environ)


def mpi_chips_from_env(environ: Mapping[str, str] | None = None) -> str:
    """``$S2SIM_MPI_CHIPS`` (unset: ``interleaved``); else a ConfigError."""
    return _choice_from_env(MPI_CHIPS_ENV, "interleaved", MPI_CHIP_SPLITS,
                            "interleaved (every n-th chip) or contiguous (a run of chips per rank)", environ)


def simulator_settings(section: Any = None, environ: Mapping[str, str] | None = None) -> SimulatorSettings:
    """``section`` (a ``SimulatorConfig``; None = defaults) with the environment's overrides applied."""
    from .network import SimulatorConfig
    section = section if section is not None else SimulatorConfig()
    values = section.model_dump()
    origin = {name: "run.simulator" for name in values}
    for name, value in env_overrides(environ).items():
        values[name] = value
        origin[name] = f"${KERNEL_ENV if name == 'kernel' else GROUP_ENV}"
    return SimulatorSettings(origin=tuple(sorted(origin.items())), **values)
