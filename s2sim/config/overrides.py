"""Overrides: ``--set a.b.c=value`` parsing and applying plain values onto sourced arch leaves.

An overridden parameter is no longer what its document says, so its provenance changes to
``override (<origin>)`` with confidence ``estimate``; the old value and source go into ``note``.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Mapping

from .errors import ConfigError
from .yamlio import parse_yaml_text

__all__ = ["parse_set", "apply_arch_overrides", "nest", "is_sourced_leaf"]

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*$")


def parse_set(expr: str) -> tuple[list[str], Any]:
    """Split ``"a.b.c=value"`` into (["a","b","c"], value); value parsed as YAML (safe)."""
    key, eq, text = expr.partition("=")
    key = key.strip()
    if not eq:
        raise ConfigError("--set", repr(expr), "missing '='", "KEY.PATH=VALUE")
    if not _KEY.match(key):
        raise ConfigError("--set", repr(expr), f"bad key {key!r}", "dotted names like run.seed")
    if not text.strip():
        raise ConfigError("--set", key, "empty value", "a YAML value (use null for none)")
    return key.split("."), parse_yaml_text(text, f"--set {key}")


def nest(keys: list[str], value: Any) -> dict[str, Any]:
    """``(["a","b"], 1) -> {"a": {"b": 1}}``."""
    out: Any = value
    for k in reversed(keys):
        out = {k: out}
    return out


def is_sourced_leaf(node: Any) -> bool:
    """A YAML mapping of the form {value, source, confidence[, note]}."""
    return isinstance(node, dict) and "value" in node and "source" in node


def apply_arch_overrides(
    raw: dict[str, Any], overrides: Mapping[str, Any], origin: str, file: str, key_prefix: str = ""
) -> dict[str, Any]:
    """Return a copy of raw arch data with ``overrides`` (nested plain values) applied."""
    out = copy.deepcopy(raw)
    if not isinstance(overrides, Mapping):
        raise ConfigError(file, key_prefix or None, f"got {overrides!r}", "a mapping")
    _apply(out, overrides, [], origin, file, key_prefix)
    return out


def _apply(node: dict, over: Mapping[str, Any], path: list[str], origin: str, file: str,
           prefix: str) -> None:
    for key, new in over.items():
        here = path + [str(key)]
        shown = ".".join(([prefix] if prefix else []) + here)
        target, slot = _child(node, key)
        if slot is None:
            raise ConfigError(file, ".".join(([prefix] if prefix else []) + path) or None,
                              f"unknown key '{key}'", "one of: " + ", ".join(_names(node)))
        if is_sourced_leaf(target):
            if isinstance(new, dict):  # a full {value, source, ...} replacement
                if "value" not in new:
                    raise ConfigError(file, shown, f"got mapping {new!r}", "a plain value")
                slot(dict(new, source=new.get("source", f"override ({origin})"),
                          confidence=new.get("confidence", "estimate")))
            else:
                was = f"was {target['value']!r}: {target['source']}"
                slot({"value": new, "source": f"override ({origin})",
                      "confidence": "estimate", "note": was})
        elif isinstance(target, (dict, list)):
            if not isinstance(new, Mapping):
                raise ConfigError(file, shown, f"is a section, got {new!r}",
                                  "a mapping of its keys: " + ", ".join(_names(target)))
            _apply(target if isinstance(target, dict) else _as_named(target), new, here,
                   origin, file, prefix)
        else:  # plain leaf such as name or default_performance_level
            slot(new)


def _child(node: Any, key: Any):
    """(current value, setter) of ``key`` in a dict or a named list; (None, None) if absent."""
    if isinstance(node, dict) and key in node:
        return node[key], lambda v: node.__setitem__(key, v)
    return None, None


def _as_named(items: list) -> dict:
    """View a list of ``{name: ...}`` mappings as a dict so overrides address levels by name."""
    class _Named(dict):
        def __setitem__(self, k, v):  # write through to the list element
            items[self._index[k]] = v
            super().__setitem__(k, v)
    view = _Named()
    view._index = {}
    for i, item in enumerate(items):
        label = item.get("name", str(i)) if isinstance(item, dict) else str(i)
        view._index[label] = i
        dict.__setitem__(view, label, item)
    return view


def _names(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [str(k) for k in node]
    if isinstance(node, list):
        return [str(i.get("name", n)) if isinstance(i, dict) else str(n) for n, i in enumerate(node)]
    return []
