"""ConfigError and the translation of pydantic errors into one readable line.

Users fix configs from the error message alone, so every error names the file, the key path and
what was expected, on one line: ``<file>: <key.path>: <what is wrong>; expected <what>``.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Sequence, Union

import annotated_types as at
from pydantic import BaseModel, ValidationError

__all__ = ["ConfigError", "format_key", "from_validation_error", "describe_type"]


class ConfigError(Exception):
    """A configuration problem, reported as one line naming file, key path and expectation."""

    def __init__(self, file: str, key: str | None, problem: str, expected: str | None = None):
        self.file = str(file)
        self.key = key or None
        self.problem = problem
        self.expected = expected
        parts = [self.file] + ([self.key] if self.key else []) + [problem]
        msg = ": ".join(parts)
        if expected:
            msg += f"; expected {expected}"
        super().__init__(msg.replace("\n", " "))


def format_key(parts: Sequence[Any]) -> str:
    """Dotted key path; list indices are shown as ``[i]`` (``performance_levels[0].name``)."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out


def _show(value: Any, limit: int = 40) -> str:
    text = repr(value) if isinstance(value, str) else _plain(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _plain(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- walking a model's annotations along an error location ----------------------------------

def _strip(ann: Any) -> tuple[Any, list[Any]]:
    """Remove Annotated/Optional wrappers, collecting constraint metadata."""
    meta: list[Any] = []
    while True:
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            args = typing.get_args(ann)
            ann = args[0]
            for m in args[1:]:
                meta.extend(getattr(m, "metadata", [m]))
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            if len(args) != 1:
                return ann, meta
            ann = args[0]
        else:
            return ann, meta


def _field_at(model: type[BaseModel], loc: Sequence[Any]) -> tuple[Any, list[Any]] | None:
    """(annotation, constraints) of the value at ``loc`` inside ``model``; None if unknown."""
    ann: Any = model
    meta: list[Any] = []
    for part in loc:
        ann, _ = _strip(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            field = ann.model_fields.get(str(part))
            if field is None:
                return None
            ann, meta = field.annotation, list(field.metadata)
        elif typing.get_origin(ann) in (list, tuple, Sequence) and isinstance(part, int):
            ann, meta = (typing.get_args(ann) or (Any,))[0], []
        elif typing.get_origin(ann) is dict:
            ann, meta = (typing.get_args(ann) or (Any, Any))[-1], []
        else:
            return None
    ann, more = _strip(ann)
    return ann, meta + more


def _bounds(meta: list[Any]) -> str:
    words = []
    for m in meta:
        for attr, sym in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="), ("min_length", "length >=")):
            if isinstance(m, (at.Gt, at.Ge, at.Lt, at.Le, at.MinLen)) and hasattr(m, attr):
                words.append(f"{sym} {getattr(m, attr)}")
    return (" " + " and ".join(words)) if words else ""


def describe_type(ann: Any, meta: list[Any] | None = None) -> str:
    """Human description of what a field accepts, e.g. ``an integer >= 1``."""
    meta = meta or []
    ann, more = _strip(ann)
    meta = meta + more
    origin = typing.get_origin(ann)
    if ann is bool:
        return "true or false"
    if ann is int:
        return "an integer" + _bounds(meta)
    if ann is float:
        return "a number" + _bounds(meta)
    if ann is str:
        return "a non-empty string" if any(isinstance(m, at.MinLen) for m in meta) else "a string"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(ann))
    if ann is dict or origin is dict:
        return "a mapping"
    if ann is list or origin is list:
        return "a list"
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        if "value" in ann.model_fields and "source" in ann.model_fields:
            inner = ann.model_fields["value"]
            what = describe_type(inner.annotation, list(inner.metadata))
            return f"a mapping {{value: {what}, source, confidence[, note]}}"
        return "a mapping with keys: " + ", ".join(ann.model_fields)
    return getattr(ann, "__name__", str(ann))


# --- pydantic ValidationError -> ConfigError -------------------------------------------------

def from_validation_error(
    model: type[BaseModel], exc: ValidationError, file: str, key_prefix: str = ""
) -> ConfigError:
    """Turn the first pydantic error into a one-line ConfigError."""
    err = exc.errors(include_url=False)[0]
    loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]  # drop union tags
    key = ".".join(k for k in (key_prefix, format_key(loc)) if k)
    kind = err["type"]
    found = _field_at(model, loc)
    expected = describe_type(*found) if found else None
    if kind == "extra_forbidden":
        parent = _field_at(model, loc[:-1])
        allowed = []
        if parent and isinstance(parent[0], type) and issubclass(parent[0], BaseModel):
            allowed = list(parent[0].model_fields)
        parent_key = ".".join(k for k in (key_prefix, format_key(loc[:-1])) if k)
        return ConfigError(file, parent_key or None, f"unknown key '{loc[-1]}'",
                           "one of: " + ", ".join(allowed) if allowed else "no such key")
    if kind == "missing":
        return ConfigError(file, key or None, "missing", expected or "a value")
    if kind in ("value_error", "assertion_error"):
        text = str(err.get("ctx", {}).get("error", err["msg"]))
        problem, _, exp = text.partition("; expected ")
        return ConfigError(file, key or None, problem, exp or None)
    return ConfigError(file, key or None, f"got {_show(err.get('input'))}", expected or err["msg"])
