"""Flat, plain-number view of an architecture, the only thing the hardware model reads.

The typed, sourced architecture (``s2sim.config.ArchConfig``, loaded from ``s2sim/arch/*.yaml``) is
the one source of hardware numbers, and its registry (``s2sim/config/arch_model.py``) the one place a
parameter is declared: ``HwParams`` and ``PerfLevel`` are generated from it (``hw_leaves``,
``level_leaves``), every field required and filled by ``HwParams.from_arch``; there are no numeric
defaults to drift from the YAML. Tests that need round numbers for a hand computation start from the
arch file and override what they rely on (``HwParams.from_arch("spinnaker2", dram_latency_ns=0.0)``).

Reads of overridden parameters are recorded, so a run can report an override (``--set arch.…``,
``arch_overrides:``) that no model ever read (``unread_overrides``): such an override changed
nothing, and the user should know.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterator, Mapping

from ..config.arch_model import hw_leaves, level_leaves

#: HwParams field -> dotted path of its leaf in the arch config (what ``--set arch.<path>`` names).
ARCH_PATHS: dict[str, str] = {leaf.name: leaf.path for leaf in hw_leaves()}
_LEVEL_PATHS = {leaf.name: leaf.path for leaf in level_leaves()}
_OVERRIDE_SOURCE = "override ("  # how the config loader marks an overridden leaf's source


class _PerfLevelMethods:
    """One DVFS performance level: clock, supply voltage and the power figures that go with it.

    Energy model (docs/simulation-model.md, Energy): a PE at this level draws ``static_power_mw``
    the whole time it is powered, busy or asleep, plus ``active_energy_per_cycle_pj`` per busy cycle.
    Fields: ``name`` and every number of ``config.arch_model.PerformanceLevel``.
    """

    @property
    def ns_per_cycle(self) -> float:
        return 1e3 / self.clock_mhz


PerfLevel = dataclasses.make_dataclass(
    "PerfLevel", [("name", str)] + [(leaf.name, leaf.type) for leaf in level_leaves()],
    bases=(_PerfLevelMethods,), frozen=True, namespace={"__doc__": _PerfLevelMethods.__doc__, "__module__": __name__})


class _HwParamsMethods:
    """Every number the SimPy hardware model uses (units in the names); all from the arch file.

    Fields: one per registry leaf (``ARCH_PATHS``), plus ``perf_levels``, ``default_perf_level`` and
    the cycle tables ``core_cycles`` / ``kernel_cycles`` (the table of ``cycle_model``, nominal, low or high)
    and ``kernel_cycles_bracket`` (every end per kernel, for the latency band).
    """

    @property
    def n_pes(self) -> int:
        """PEs of the machine (every chip of the board), numbered chip by chip: ``chip * pes_per_chip + local``."""
        return self.qpe_count * self.pes_per_qpe * self.board_chips_x * self.board_chips_y

    @property
    def pes_per_chip(self) -> int:
        return self.qpe_count * self.pes_per_qpe

    @property
    def n_chips(self) -> int:
        return self.board_chips_x * self.board_chips_y

    @property
    def chip_link_ser_ns(self) -> float:
        """Time one packet occupies one direction of a chip-to-chip link (its bits at the link rate)."""
        return self.board_link_packet_bits / self.board_link_bandwidth_gbit_s  # Gbit/s == bits/ns

    @property
    def noc_ns_per_cycle(self) -> float:
        return 1e3 / self.noc_clock_mhz

    @property
    def hop_ns(self) -> float:
        return self.hop_latency_cycles * self.noc_ns_per_cycle

    @property
    def packet_serialization_ns(self) -> float:
        """Time a packet occupies one link: whole flits of ``link_width_bits`` at the NoC clock."""
        flits = -(-self.packet_bits // self.link_width_bits)
        return flits * self.noc_ns_per_cycle

    @property
    def dram_channel_bytes_per_ns(self) -> float:
        return self.dram_total_bandwidth_gb_s / self.dram_channels  # GB/s == bytes/ns

    def perf_level(self, name: str | None = None) -> PerfLevel:
        name = name or self.default_perf_level
        for level in self.perf_levels:
            if level.name == name:
                return level
        known = ", ".join(level.name for level in self.perf_levels)
        raise KeyError(f"unknown performance level '{name}'; expected one of: {known}")

    # ---- construction from the arch file ---------------------------------------------------------
    @classmethod
    def from_arch(cls, arch: Any, **overrides: Any):
        """Build from a typed ``ArchConfig`` or a packaged arch name; ``overrides`` replace fields.

        Overrides given in the arch config itself (their source starts with ``override (``) are
        watched: ``unread_overrides()`` lists those no model read. Keyword ``overrides`` are for tests.
        """
        if isinstance(arch, str):
            from ..config import load_arch
            arch = load_arch(arch)
        prov = arch.provenance()
        values: dict[str, Any] = {name: prov[path].value for name, path in ARCH_PATHS.items()}
        values["missing_routers"] = tuple(tuple(xy) for xy in values["missing_routers"])
        levels = tuple(
            PerfLevel(pl.name, *(getattr(pl, f).value for f in _LEVEL_PATHS)) for pl in arch.performance_levels)
        values.update(
            perf_levels=levels,
            default_perf_level=arch.default_performance_level,
            core_cycles={name: val.value for name, val in arch.core_cycles},
            kernel_cycles={name: val.value for name, val in arch.kernel_table()},
            cycle_model=arch.cycle_model,
            kernel_cycles_bracket={name: (val.value, getattr(arch.kernels_low, name).value,
                                          getattr(arch.kernels_high, name).value) for name, val in arch.kernels})
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise TypeError(f"HwParams has no field(s) {', '.join(unknown)}")
        values.update(overrides)
        watched = sorted(path for path, leaf in prov.items() if leaf.source.startswith(_OVERRIDE_SOURCE))
        hw = cls(**values)
        return _watch_reads(hw, watched) if watched else hw

    # ---- overrides nobody read -----------------------------------------------------------------
    def unread_overrides(self) -> list[str]:
        """Overridden arch paths (``accelerators.exp_latency_cycles``) no model has read so far."""
        watch: _ReadLog | None = self.__dict__.get("_read_log")
        return watch.unread() if watch is not None else []


HwParams = dataclasses.make_dataclass(
    "HwParams",
    [(leaf.name, leaf.type) for leaf in hw_leaves()]
    + [("perf_levels", tuple), ("default_perf_level", str), ("core_cycles", Mapping[str, float]),
       # the kernel table of ``cycle_model`` (what runs charge), and every end per kernel for the bracket
       ("kernel_cycles", Mapping[str, float]), ("cycle_model", str),
       ("kernel_cycles_bracket", Mapping[str, tuple[float, float, float]])],
    bases=(_HwParamsMethods,), frozen=True, namespace={"__doc__": _HwParamsMethods.__doc__, "__module__": __name__})


# ---- read tracking of overridden parameters ------------------------------------------------------
class _ReadLog:
    """Which watched (overridden) arch paths were read."""

    def __init__(self, watched: list[str]):
        self.watched = list(watched)
        self.read: set[str] = set()

    def unread(self) -> list[str]:
        return [path for path in self.watched if path not in self.read]


class _WatchedMapping(dict):
    """A cycle table (``core_cycles``/``kernels``) that logs reads of its overridden entries."""

    def __init__(self, data: Mapping[str, float], prefix: str, log: _ReadLog):
        super().__init__(data)
        self._prefix, self._log = prefix, log

    def __getitem__(self, key):
        self._log.read.add(f"{self._prefix}.{key}")
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._log.read.add(f"{self._prefix}.{key}")
        return super().get(key, default)

    def __iter__(self) -> Iterator[str]:  # a copy (dict(table)) reads everything
        self._log.read.update(f"{self._prefix}.{k}" for k in self.keys())
        return super().__iter__()

    def items(self):
        self._log.read.update(f"{self._prefix}.{k}" for k in self.keys())
        return super().items()


def _logged_class(base: type, fields: dict[str, str], log: _ReadLog) -> type:
    """A subclass of ``base`` whose listed fields log their reads (other fields keep full speed)."""
    def prop(field: str, path: str) -> property:
        def get(self):
            log.read.add(path)
            return self.__dict__[field]
        return property(get)
    return type(base.__name__, (base,), {f: prop(f, path) for f, path in fields.items()})


def _retype(obj: Any, cls: type) -> Any:
    copy = object.__new__(cls)
    copy.__dict__.update(obj.__dict__)
    return copy


def _watch_reads(hw, watched: list[str]):
    """Wrap ``hw`` so reads of the ``watched`` arch paths are logged (see ``HwParams.unread_overrides``)."""
    log = _ReadLog(watched)
    wanted = set(watched)
    by_path = {path: name for name, path in ARCH_PATHS.items()}
    fields = {by_path[p]: p for p in wanted if p in by_path}
    levels = []
    for lv in hw.perf_levels:
        lv_fields = {f: f"performance_levels.{lv.name}.{p}" for f, p in _LEVEL_PATHS.items()
                     if f"performance_levels.{lv.name}.{p}" in wanted}
        levels.append(_retype(lv, _logged_class(PerfLevel, lv_fields, log)) if lv_fields else lv)
    tables = {}
    kernels = "kernels" if hw.cycle_model == "nominal" else f"kernels_{hw.cycle_model}"
    for field, prefix in (("core_cycles", "core_cycles"), ("kernel_cycles", kernels)):
        if any(p.startswith(prefix + ".") for p in wanted):
            tables[field] = _WatchedMapping(getattr(hw, field), prefix, log)
    watched_hw = _retype(hw, _logged_class(HwParams, fields, log))
    watched_hw.__dict__.update(perf_levels=tuple(levels), _read_log=log, **tables)
    return watched_hw
