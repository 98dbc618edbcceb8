"""load_arch: packaged name or YAML path -> validated ArchConfig, with overrides layered on top."""

from __future__ import annotations

import json

from pathlib import Path
from typing import Any, Mapping, Sequence

from pydantic import ValidationError

from ..arch import arch_path, list_arches
from .arch_model import ArchConfig
from .errors import ConfigError, from_validation_error
from .overrides import apply_arch_overrides
from .ranges import check_values
from .yamlio import read_yaml_mapping

__all__ = ["load_arch", "load_arch_layers", "OverrideLayer"]

# (overrides, origin for provenance, file named in errors, key prefix in errors)
OverrideLayer = tuple[Mapping[str, Any], str, str, str]


def load_arch(name_or_path: str | Path, overrides: Mapping[str, Any] | None = None,
              origin: str | None = None) -> ArchConfig:
    """Load a packaged arch (``"spinnaker2"``) or an arch YAML file, then apply ``overrides``.

    ``overrides`` is a nested dict of plain values (``{"pe": {"sram_bytes": 262144}}``); each
    overridden leaf gets source ``override (<origin>)`` and confidence ``estimate``.
    """
    origin = origin or "overrides"
    layers: list[OverrideLayer] = [(overrides, origin, origin, "")] if overrides else []
    return load_arch_layers(name_or_path, layers)


def load_arch_layers(name_or_path: str | Path, layers: Sequence[OverrideLayer]) -> ArchConfig:
    """Load an arch and apply override layers in order, blaming each layer for its own errors."""
    path = arch_path(str(name_or_path))
    if not path.is_file():
        raise ConfigError(str(name_or_path), None, "file not found",
                          "a packaged arch (" + ", ".join(list_arches()) + ") or a YAML file path")
    raw = read_yaml_mapping(path, label=_label(path))
    arch = _validated_base(path, raw)
    for overrides, origin, file, prefix in layers:
        raw = apply_arch_overrides(raw, overrides, origin, file, prefix)
        arch = _validate(raw, file, prefix, from_override=True)
    arch._path = path
    return arch


def _validated_base(path: Path, raw: dict[str, Any]) -> ArchConfig:
    """The arch file validated once per content (a study loads it for every point); a private copy."""
    key = (str(path.resolve()), json.dumps(raw, sort_keys=True, default=str))
    base = _BASES.get(key)
    if base is None:
        check_values(raw, _label(path))
        base = _validate(raw, _label(path), "", from_override=False)
        _BASES.clear()  # one arch at a time is the common case; never grows
        _BASES[key] = base
    return base.model_copy(deep=True)


_BASES: dict[tuple[str, str], ArchConfig] = {}


def _validate(raw: dict[str, Any], file: str, prefix: str, from_override: bool) -> ArchConfig:
    try:
        return ArchConfig.model_validate(raw)
    except ValidationError as exc:
        err = from_validation_error(ArchConfig, exc, file, prefix)
        if from_override and err.key and err.key.endswith(".value"):  # overrides address the leaf itself
            raise ConfigError(err.file, err.key[: -len(".value")], err.problem, err.expected) from None
        raise err from None


def _label(path: Path) -> str:
    """Short file label for messages: relative to cwd when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
