"""Packaged architecture descriptions (``<name>.yaml``), every number with a source.

``arch_path`` resolves what a user writes after ``arch:``: a packaged name (``spinnaker2``) or a
filesystem path to a YAML file.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ARCH_DIR", "list_arches", "arch_path"]

ARCH_DIR = Path(__file__).resolve().parent


def list_arches() -> list[str]:
    """Names of the packaged architecture YAMLs, sorted."""
    return sorted(p.stem for p in ARCH_DIR.glob("*.yaml"))


def arch_path(name: str) -> Path:
    """Path of packaged arch ``name``, else ``name`` taken as a filesystem path (not checked)."""
    if name in list_arches():
        return ARCH_DIR / f"{name}.yaml"
    return Path(name).expanduser()
