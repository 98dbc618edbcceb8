"""The one place where config values get their ranges, so ``validate`` rejects what ``run`` would.

Two layers:

* ``check_values(raw, file)`` walks a whole network file (after ``--set``) once: no number is NaN
  or infinite, nothing is nested deeper than ``MAX_DEPTH``. Every section, including the ones an
  app validates itself, gets this for free.
* annotated types for the fields (``Seed``, ``PosFinite``, ``Count``, ...) that the schema models
  (``RunConfig``, ``DatasetConfig``, the apps' parameter models) use, so a range is declared once
  and its error message (``expected an integer >= 1``) comes from the same table.
"""
from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from .errors import ConfigError, format_key

__all__ = ["check_values", "MAX_DEPTH", "MAX_FILE_BYTES", "Seed", "Count", "NonNegCount",
           "PosFinite", "NonNegFinite", "Finite", "Fraction", "SEED_MAX"]

#: deepest nesting a network file may have (the shipped ones use 3)
MAX_DEPTH = 16
#: a network file is a page of YAML; anything much larger is a mistake (or not a network file)
MAX_FILE_BYTES = 1 << 20
#: seeds feed numpy's generators, which take unsigned 32-bit seeds
SEED_MAX = 2**32 - 1



def _not_a_bool(value: Any) -> Any:
    """``epochs: true`` is not 1 epoch: a boolean where a count belongs is a mistake, not a number."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a count")
    return value


_NoBool = BeforeValidator(_not_a_bool)
Seed = Annotated[int, _NoBool, Field(ge=0, le=SEED_MAX)]
Count = Annotated[int, _NoBool, Field(ge=1)]
NonNegCount = Annotated[int, _NoBool, Field(ge=0)]
PosFinite = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegFinite = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


def check_values(raw: Any, file: str, blame_set: list[str] | None = None) -> None:
    """Reject non-finite numbers and over-deep nesting anywhere in ``raw``, naming the key."""
    _walk(raw, [], file, blame_set or [], set())


def _walk(node: Any, path: list[Any], file: str, blame_set: list[str], seen: set[int]) -> None:
    if isinstance(node, (dict, list)):  # YAML aliases share one object: look at it once
        if id(node) in seen:
            return
        seen.add(id(node))
    if len(path) > MAX_DEPTH:
        raise ConfigError(_blame(path, file, blame_set), format_key(path[:MAX_DEPTH]) or None,
                          f"nested deeper than {MAX_DEPTH} levels", "a flat section of keys")
    if isinstance(node, dict):
        for k, v in node.items():
            _walk(v, path + [str(k)], file, blame_set, seen)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _walk(v, path + [i], file, blame_set, seen)
    elif isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(_blame(path, file, blame_set), format_key(path) or None,
                          f"got {node}", "a finite number")


def _blame(path: list[Any], file: str, blame_set: list[str]) -> str:
    key = format_key(path)
    return "--set" if any(key == s or key.startswith(s + ".") or key.startswith(s + "[")
                          for s in blame_set) else file
