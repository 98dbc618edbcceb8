"""Reading YAML config files safely (SafeLoader only, never eval) with errors that point at lines."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

__all__ = ["read_yaml_mapping", "parse_yaml_text"]


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys: a silently ignored duplicate hides a typo."""

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# Scalars follow YAML 1.2 (core schema, decimal integers only), not PyYAML's YAML 1.1: there ``yes``,
# ``on`` and ``n`` are booleans (``training.epochs: yes`` ran 1 epoch), ``0x10``/``010``/``1:30`` are
# 16/8/90 and ``1_000`` is 1000, while ``1e-3`` is a string. Here only ``true``/``false`` are booleans
# and only plain decimal numbers are numbers; anything else stays a string, which a typed field refuses
# naming its key (``expected an integer``) instead of silently reading it as something else.
_YAML12_SCALARS = {
    "tag:yaml.org,2002:bool": (re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")),
    "tag:yaml.org,2002:int": (re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789")),
    "tag:yaml.org,2002:float": (re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+.0123456789")),
}
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _YAML12_SCALARS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _tag, (_regexp, _first) in _YAML12_SCALARS.items():
    _UniqueKeyLoader.add_implicit_resolver(_tag, _regexp, _first)


def _construct_decimal_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    """A YAML 1.2 integer: ``010`` is ten (YAML 1.1 read it as octal eight)."""
    return int(loader.construct_scalar(node), 10)


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _construct_decimal_int)


def parse_yaml_text(text: str, file: str) -> Any:
    """Parse YAML text; syntax errors become ConfigError with line and column."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise ConfigError(file, None, "nesting too deep to read", "a YAML file of plain sections") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(file, where, f"invalid YAML: {problem}", "valid YAML") from None


def read_yaml_mapping(path: str | Path, label: str | None = None) -> dict[str, Any]:
    """Load a YAML file whose top level must be a non-empty mapping."""
    label = label or str(path)
    p = Path(path)
    if not p.is_file():
        raise ConfigError(label, None, "file not found")
    from .ranges import MAX_FILE_BYTES
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(label, None, f"file is {size:,} bytes", f"a YAML file under {MAX_FILE_BYTES:,} bytes")
        blob = p.read_bytes()
    except OSError as err:
        raise ConfigError(label, None, f"cannot read ({err.strerror or type(err).__name__})") from None
    key = (str(p.resolve()), blob)
    cached = _PARSED.get(key)
    if cached is not None:  # a study validates thousands of points against the same two files
        return copy.deepcopy(cached)
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(label, None, f"not UTF-8 text (byte 0x{blob[err.start]:02x} at offset {err.start})",
                          "a UTF-8 YAML file") from None
    data = parse_yaml_text(text, label)
    if data is None:
        raise ConfigError(label, None, "file is empty", "a mapping of keys")
    if not isinstance(data, dict):
        raise ConfigError(label, None, f"top level is a {type(data).__name__}", "a mapping of keys")
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.pop(next(iter(_PARSED)))
    _PARSED[key] = copy.deepcopy(data)
    return data


#: Parsed files by (path, content): the content is the key, so an edited file is parsed again.
_PARSED: dict[tuple[str, bytes], dict[str, Any]] = {}
_PARSED_MAX = 32
