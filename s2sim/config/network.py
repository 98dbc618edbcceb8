"""Experiment (network) YAML: top-level schema, --set handling and arch resolution.

Sections owned by a firmware app (network, mapping, dataset, training, firmware.params) stay
plain dicts here; the app validates them with its own models through ``validate_section``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..arch import list_arches
from .arch_loader import OverrideLayer, load_arch_layers
from .arch_model import ArchConfig
from .errors import ConfigError, from_validation_error
from .overrides import nest, parse_set
from .ranges import PosFinite, Seed, check_values
from .yamlio import read_yaml_mapping

__all__ = ["RunConfig", "SimulatorConfig", "FirmwareSection", "NetworkFile", "LoadedNetwork", "load_network",
           "validate_section"]

M = TypeVar("M", bound=BaseModel)
_STRICT = ConfigDict(extra="forbid", strict=True)


class SimulatorConfig(BaseModel):
    """How the simulator computes a run; none of these switches changes a result.

    ``kernel`` and ``group_numerics`` can be overridden per process by ``$S2SIM_KERNEL`` and
    ``$S2SIM_GROUP_NUMERICS`` (read once, by ``s2sim.run.simulator_settings``).
    """

    model_config = _STRICT

    kernel: Literal["fast", "exact", "counted"] = Field(
        default="counted", description="fast: grouped hot paths; exact: every callback through the per-PE "
        "dispatcher (bit-identical timing, slower); counted: windows of ticks in a compiled loop where it "
        "models the run, else fast (bit-identical timing)")
    group_numerics: bool = Field(
        default=True, description="PEs running the same program share one numpy call per tick "
        "(identical results); false: each PE computes alone")
    noc_fidelity: Literal["burst", "packet"] = Field(
        default="burst", description="burst: one event per back-to-back transfer; packet: per packet")


class RunConfig(BaseModel):
    """How to run the simulation (not what to simulate)."""

    model_config = _STRICT

    seed: Seed = Field(default=0, description="seed for every random stream of the run (0 .. 2**32-1)")
    tick_ns: PosFinite = Field(default=1_000_000.0, description="timer tick period (1 ms default)")
    ticks: int | None = Field(default=None, ge=1, description="ticks to simulate; None = app decides")
    simulator: SimulatorConfig = Field(default_factory=SimulatorConfig,
                                       description="simulator switches (kernel, group numerics, NoC fidelity)")
    performance_level: str | None = Field(default=None, description="DVFS level; None = arch default")
    out: str | None = Field(default=None, description="output directory; None = traces/<name>-<time>")
    trace: bool = Field(default=False, description="write a Perfetto trace")
    progress: bool = Field(default=True, description="show a progress bar")
    record_timesteps: int = Field(
        default=20_000, ge=1, description="timesteps kept per PE in timesteps.csv and the latency "
        "distribution; later ones only update the maximum (bounds memory on long training runs)")
    dvfs: Literal["fixed", "load"] = Field(
        default="fixed", description="fixed: stay at performance_level; load: pick a level per tick from pending load")

    @model_validator(mode="before")
    @classmethod
    def _old_noc_fidelity_key(cls, data: Any) -> Any:
        """``run.noc_fidelity`` (before ``run.simulator`` existed) still works: it moves into the section."""
        if isinstance(data, dict) and "noc_fidelity" in data:
            data = dict(data)
            simulator = data.get("simulator")
            simulator = dict(simulator) if isinstance(simulator, dict) else {} if simulator is None else simulator
            if isinstance(simulator, dict):
                if "noc_fidelity" in simulator:
                    raise ValueError("run.noc_fidelity and run.simulator.noc_fidelity are both given; "
                                     "keep run.simulator.noc_fidelity")
                simulator["noc_fidelity"] = data.pop("noc_fidelity")
                data["simulator"] = simulator
        return data


class FirmwareSection(BaseModel):
    """Which firmware package runs on the PEs, and its parameters."""

    model_config = _STRICT

    package: str = Field(min_length=1, description="python package, e.g. firmware_models.eprop")
    params: dict[str, Any] = Field(default_factory=dict, description="firmware-specific parameters")


class NetworkFile(BaseModel):
    """Top level of ``networks/<name>.yaml``."""

    model_config = _STRICT

    name: str = Field(min_length=1, description="experiment name (used in output paths)")
    description: str = ""
    arch: str = Field(default="spinnaker2", description="packaged arch name or YAML path")
    arch_overrides: dict[str, Any] = Field(default_factory=dict, description="nested arch values")
    firmware: FirmwareSection
    model: dict[str, Any] = Field(default_factory=dict, description="imported model, e.g. {nir: file.nir}")
    network: dict[str, Any] = Field(default_factory=dict)
    mapping: dict[str, Any] = Field(default_factory=dict)
    dataset: dict[str, Any] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict)
    run: RunConfig = Field(default_factory=RunConfig)
    expect: dict[str, Any] = Field(default_factory=dict, description="assertions on the results")


def validate_section(model: type[M], data: Any, file: str, key_prefix: str) -> M:
    """Validate ``data`` against ``model``; the first problem becomes a one-line ConfigError."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise from_validation_error(model, exc, str(file), key_prefix) from None


@dataclass
class LoadedNetwork:
    """A network file after --set overrides, validated, with its architecture resolved."""

    file: Path
    raw: dict[str, Any]
    spec: NetworkFile
    arch: ArchConfig
    sets: list[str] = field(default_factory=list)
    set_roots: list[str] = field(default_factory=list)  # the dotted keys the --set expressions changed

    def origin_of(self, err: ConfigError) -> ConfigError:
        """``err`` blamed on ``--set`` when it names this file and a key a ``--set`` changed (an app validating its
        own section sees only the merged values and names the file); otherwise ``err`` itself."""
        if err.file != str(self.file) or not _set_by(err.key, self.set_roots):
            return err
        return ConfigError("--set", err.key, err.problem, err.expected)

    def resolved(self) -> dict[str, Any]:
        """JSON-serialisable resolved config (arch values with their sources) for summary.json."""
        out = self.spec.model_dump(mode="json")
        out["file"] = str(self.file)
        out["sets"] = list(self.sets)
        out["arch"] = {
            "name": self.arch.name,
            "path": str(self.arch.path) if self.arch.path else None,
            "config": self.arch.model_dump(mode="json"),
        }
        return out


def load_network(path: str | Path, sets: Sequence[str] = ()) -> LoadedNetwork:
    """Read a network YAML, apply ``--set`` expressions, validate, and load its arch."""
    file = Path(path)
    label = str(path)
    raw = _nir_network(file) if file.suffix == ".nir" else read_yaml_mapping(file, label)
    if isinstance(raw.get("model"), dict) and "nir" in raw["model"] and "firmware" not in raw:
        raw["firmware"] = {"package": "nir"}
    arch_sets: dict[str, Any] = {}
    set_roots: list[str] = []
    arch_from_set = False
    for expr in sets:
        keys, value = parse_set(expr)
        if keys[0] not in NetworkFile.model_fields:
            raise ConfigError("--set", keys[0], f"unknown key '{keys[0]}'",
                              "one of: " + ", ".join(NetworkFile.model_fields))
        if keys[0] == "arch" and len(keys) > 1:
            _merge(arch_sets, nest(keys[1:], value))
            continue
        arch_from_set |= keys == ["arch"]
        _set_in(raw, keys, value)
        set_roots.append(".".join(keys))
    check_values(raw, label, set_roots)
    if arch_sets:
        check_values({"arch": arch_sets}, "--set")
    spec = _validate_spec(raw, label, set_roots)
    arch_name = _resolve_arch(spec.arch, file, from_set=arch_from_set, label=label)
    layers: list[OverrideLayer] = []
    if spec.arch_overrides:
        layers.append((spec.arch_overrides, label, label, "arch_overrides"))
    if arch_sets:
        layers.append((arch_sets, "--set", "--set", "arch"))
    arch = load_arch_layers(arch_name, layers)
    if spec.run.performance_level is not None:
        names = [pl.name for pl in arch.performance_levels]
        if spec.run.performance_level not in names:
            blame = "--set" if "run.performance_level" in set_roots else label
            raise ConfigError(blame, "run.performance_level", f"got {spec.run.performance_level!r}",
                              "one of: " + ", ".join(names))
    return LoadedNetwork(file=file, raw=raw, spec=spec, arch=arch, sets=list(sets), set_roots=set_roots)


def _nir_network(file: Path) -> dict[str, Any]:
    """``s2sim run MODEL.nir``: a network file in memory that runs the graph with defaults (input:
    ``MODEL.npz`` beside it; any key can still be changed with ``--set``)."""
    if not file.is_file():
        raise ConfigError(str(file), None, "no such file", "a NIR graph file")
    return {"name": file.stem, "firmware": {"package": "nir"}, "model": {"nir": file.name}}


def _validate_spec(raw: dict[str, Any], label: str, set_roots: list[str]) -> NetworkFile:
    try:
        return NetworkFile.model_validate(raw)
    except ValidationError as exc:
        err = from_validation_error(NetworkFile, exc, label, "")
        if _set_by(err.key, set_roots):
            raise ConfigError("--set", err.key, err.problem, err.expected) from None
        raise err from None


def _set_by(key: str | None, set_roots: Sequence[str]) -> bool:
    """Whether a problem at ``key`` lies in what a ``--set`` of one of ``set_roots`` changed (the key itself, a key
    inside it, or the section holding it)."""
    key = key or ""
    return any(key == s or key.startswith(s + ".") or s.startswith(key + ".") for s in set_roots)


def _resolve_arch(arch: str, network_file: Path, from_set: bool, label: str = "") -> str:
    """Packaged name as is; a relative path against the network file's folder (or cwd for --set)."""
    if arch in list_arches():
        return arch
    if not arch.endswith((".yaml", ".yml")):
        raise ConfigError("--set" if from_set else label or str(network_file), "arch", f"got {arch!r}",
                          "a packaged arch (" + ", ".join(list_arches()) + ") or the path of a .yaml file")
    p = Path(arch).expanduser()
    if not p.is_absolute() and not from_set:
        p = network_file.parent / p
    return str(p)


def _set_in(raw: dict[str, Any], keys: list[str], value: Any) -> None:
    node = raw
    for i, k in enumerate(keys[:-1]):
        nxt = node.get(k)
        if nxt is None:
            nxt = node[k] = {}
        if not isinstance(nxt, dict):
            raise ConfigError("--set", ".".join(keys[: i + 1]),
                              f"is {nxt!r}, not a section", "a mapping to set keys in")
        node = nxt
    node[keys[-1]] = copy.deepcopy(value)


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v
