"""Study files: a base network + axes over ``--set`` paths -> a list of content-addressed points.

A study file is YAML with a top-level ``study:`` name::

    study: eprop_pes
    network: ../gsc.yaml            # relative to the study file
    set: {training.engine: reference}   # fixed overrides of every point
    product: {mapping.pes: [6, 12]} # grid axes (every combination)
    zip: {network.n_rec: [120, 240], mapping.pes: [12, 24]}   # paired axes (same length, side by side)
    metrics: [memory.max_pe_bytes]  # dotted paths into summary.json (added to the defaults)
    plots: [{x: mapping.pes, y: latency.timestep_ns.max, colour: run.dvfs}]

A point is exactly the ``--set`` list one ``s2sim run`` would get. Its id is a hash of the resolved
config (with no path of this machine in it: see ``portable_config``) and the s2sim version, so an
identical point is found again on a re-run, from any checkout, and skipped.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .. import __version__
from ..config import ConfigError, load_network, validate_section
from ..config.yamlio import read_yaml_mapping

__all__ = ["StudyFile", "PlotSpec", "Point", "Study", "load_study", "is_study_file", "set_expr",
           "DEFAULT_METRICS", "PARETO_X", "PARETO_Y"]

PARETO_X = "latency.timestep_ns.max"
PARETO_Y = "energy.per_sample_j"
#: Metrics every results table carries (the Pareto front needs the first two).
DEFAULT_METRICS = (PARETO_X, PARETO_Y, "latency.timestep_ns.median", "memory.max_pe_bytes",
                   "memory.total_bytes", "pes_used")
#: Most points a study may have: every point is resolved and validated (~5 ms each, so 10,000 take about a
#: minute), and a larger grid is almost always a typo (a value list meant as a range); split it instead.
MAX_STUDY_POINTS = 10_000
_STRICT = ConfigDict(extra="forbid")


class PlotSpec(BaseModel):
    """One PNG: ``y`` against ``x``, one line per value of ``colour`` (any axis or metric column)."""

    model_config = _STRICT

    x: str = Field(min_length=1)
    y: str = Field(min_length=1)
    colour: str | None = None
    logx: bool = False
    logy: bool = False
    title: str | None = None


class StudyFile(BaseModel):
    """Top level of ``networks/studies/<name>.yaml``."""

    model_config = _STRICT

    study: str = Field(min_length=1, description="study name (output folder, page title)")
    description: str = ""
    network: str = Field(min_length=1, description="base network YAML, relative to the study file")
    set: dict[str, Any] = Field(default_factory=dict, description="overrides applied to every point")
    product: dict[str, list[Any]] = Field(default_factory=dict, description="grid axes: path -> values")
    zip: dict[str, list[Any]] = Field(default_factory=dict, description="paired axes: path -> values")
    metrics: list[str] = Field(default_factory=list, description="dotted paths into summary.json")
    plots: list[PlotSpec] = Field(default_factory=list)

    @field_validator("product", "zip")
    @classmethod
    def _non_empty_axes(cls, axes: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for path, values in axes.items():
            if not values:
                raise ValueError(f"axis '{path}' has no values")
        return axes


@dataclass(frozen=True)
class Point:
    """One run of the study: its axis values, the ``--set`` list it runs with, and its id."""

    id: str
    axes: dict[str, Any]
    sets: list[str]

    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.axes.items())


@dataclass
class Study:
    """A validated study: the base network, the points in order, what to measure and plot."""

    name: str
    description: str
    network: Path
    axis_names: list[str]
    points: list[Point]
    metrics: list[str]
    plots: list[PlotSpec]
    source: str = "<dict>"

    def to_json(self) -> dict[str, Any]:
        """What ``DIR/study.json`` keeps so ``s2sim report DIR`` can rebuild the outputs alone."""
        return {"study": self.name, "description": self.description, "network": str(self.network),
                "source": self.source, "s2sim_version": __version__, "axes": self.axis_names,
                "metrics": self.metrics, "plots": [p.model_dump() for p in self.plots],
                "points": [{"id": p.id, "axes": p.axes, "sets": p.sets} for p in self.points]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Study":
        return cls(name=data["study"], description=data.get("description", ""), network=Path(data["network"]),
                   axis_names=list(data["axes"]), metrics=list(data["metrics"]),
                   plots=[PlotSpec(**p) for p in data.get("plots", [])], source=data.get("source", ""),
                   points=[Point(p["id"], dict(p["axes"]), list(p["sets"])) for p in data["points"]])


def is_study_file(path: str | Path) -> bool:
    """True when ``path`` is a YAML mapping with a top-level ``study:`` key (not a network file)."""
    try:
        return "study" in read_yaml_mapping(path)
    except ConfigError:
        return False


def set_expr(path: str, value: Any) -> str:
    """``--set`` text of one axis value (JSON is valid YAML, so the value round-trips exactly)."""
    return f"{path}={json.dumps(value)}"


def load_study(source: str | Path | Mapping[str, Any], base_dir: str | Path | None = None) -> Study:
    """Read and validate a study (file or dict); every point is validated as ``s2sim validate`` would.

    A point whose config is invalid raises ConfigError naming the axis values; a point that is valid
    but will fail when run (e.g. it does not fit in SRAM) is kept: it becomes a row with its error.
    """
    if isinstance(source, Mapping):
        raw, label = dict(source), "<study dict>"
        base = Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        label = str(source)
        raw = read_yaml_mapping(source, label)
        base = Path(base_dir) if base_dir is not None else Path(source).resolve().parent
    spec = validate_section(StudyFile, raw, label, "")
    _check_axes(spec, label)
    network = (base / spec.network).resolve()
    base_sets = [set_expr(k, v) for k, v in spec.set.items()]
    axis_names = list(spec.product) + list(spec.zip)
    points = [_point(network, base_sets, axes, label) for axes in _combinations(spec)]
    _check_distinct(points, label)
    metrics = list(DEFAULT_METRICS) + [m for m in spec.metrics if m not in DEFAULT_METRICS]
    _check_plot_columns(spec, axis_names, metrics, label)
    return Study(name=spec.study, description=spec.description, network=network, axis_names=axis_names,
                 points=points, metrics=metrics, plots=spec.plots, source=label)


def _check_axes(spec: StudyFile, label: str) -> None:
    _check_point_count(spec, label)
    for kind, axes in (("product", spec.product), ("zip", spec.zip)):
        for path, values in axes.items():
            counts = Counter(json.dumps(v, sort_keys=True) for v in values)
            dupes = sorted(t for t, n in counts.items() if n > 1)
            if dupes and kind == "product":
                raise ConfigError(label, f"product.{path}", f"repeats the value(s) {', '.join(dupes)}",
                                  "each value once (a repeated value is the same point)")
    if spec.zip:
        rows = Counter(json.dumps([v[i] for v in spec.zip.values()], sort_keys=True)
                       for i in range(min(len(v) for v in spec.zip.values())))
        dupes = sorted(r for r, n in rows.items() if n > 1)
        if dupes and len({len(v) for v in spec.zip.values()}) == 1:
            names = ", ".join(spec.zip)
            raise ConfigError(label, "zip", f"repeats the pair(s) ({names}) = {'; '.join(dupes)}",
                              "each combination once (a repeated one is the same point)")
    both = set(spec.product) & set(spec.zip)
    if both:
        raise ConfigError(label, "zip", f"axis '{sorted(both)[0]}' is also a product axis", "each path once")
    lengths = {k: len(v) for k, v in spec.zip.items()}
    if len(set(lengths.values())) > 1:
        raise ConfigError(label, "zip", "paired axes differ in length: " +
                          ", ".join(f"{k} has {n}" for k, n in lengths.items()), "lists of equal length")
    for path in list(spec.product) + list(spec.zip) + list(spec.set):
        if path.split(".")[0] == "run" and path.split(".")[-1] == "out":
            raise ConfigError(label, path, "the sweep chooses each point's run directory", "no run.out axis")


def _check_point_count(spec: StudyFile, label: str) -> None:
    """Refuse a study of more than MAX_STUDY_POINTS points from its axis lengths, before building any point."""
    n_zip = max((len(v) for v in spec.zip.values()), default=1)
    n_points = math.prod(len(v) for v in spec.product.values()) * n_zip
    if n_points > MAX_STUDY_POINTS:
        sizes = ", ".join(f"{k} has {len(v)}" for k, v in {**spec.product, **spec.zip}.items())
        raise ConfigError(label, "product" if spec.product else "zip",
                          f"makes {n_points} points ({sizes})",
                          f"at most {MAX_STUDY_POINTS} points per study (split it into several studies)")


def _combinations(spec: StudyFile) -> list[dict[str, Any]]:
    grid = [dict(zip(spec.product, values)) for values in itertools.product(*spec.product.values())]
    n_zip = len(next(iter(spec.zip.values()))) if spec.zip else 1
    paired = [{k: v[i] for k, v in spec.zip.items()} for i in range(n_zip)]
    return [{**g, **p} for g in grid for p in paired]


def _point(network: Path, base_sets: list[str], axes: dict[str, Any], label: str) -> Point:
    sets = base_sets + [set_expr(k, v) for k, v in axes.items()]
    try:
        loaded = load_network(network, sets)
        _validate_app_sections(loaded)
    except ConfigError as err:
        raise ConfigError(label, f"point {_shown(axes)}", str(err)) from None
    return Point(id=point_id(portable_config(loaded)), axes=axes, sets=sets)


def _shown(axes: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in axes.items()) or "base point"


def _check_distinct(points: list[Point], label: str) -> None:
    """Two axis combinations that resolve to the same config (``1`` and ``1.0``) are one point."""
    first: dict[str, Point] = {}
    for point in points:
        other = first.setdefault(point.id, point)
        if other is not point:
            raise ConfigError(label, "axes", f"points {_shown(other.axes)} and {_shown(point.axes)} resolve "
                              "to the same config", "axis values that change what runs")


def _validate_app_sections(loaded) -> None:
    """The app's own checks (``s2sim validate``); only config errors make a point invalid."""
    from ..apps import AppError, load_app
    from ..hw.sram import SramOverflowError
    try:
        app = load_app(loaded.spec.firmware.package)
    except AppError as err:
        raise ConfigError(str(loaded.file), "firmware.package", str(err)) from None
    if hasattr(app, "validate"):
        try:
            app.validate(loaded)
        except (AppError, SramOverflowError):
            pass  # valid config that will not fit/run: the point runs and records this error


def portable_config(loaded) -> dict[str, Any]:
    """The resolved config without anything that depends on where the checkout is.

    Where the network file lives and how the overrides were spelled do not change what runs, so
    ``file`` and ``sets`` are left out (the resolved values already carry every override); the arch
    file's absolute path is left out too (every value it gave is in ``arch.config``), and an imported
    model file is named by its content (sha256), not by where it is.
    """
    resolved = loaded.resolved()
    content = {k: v for k, v in resolved.items() if k not in ("file", "sets")}
    content["arch"] = {k: v for k, v in content["arch"].items() if k != "path"}
    model = dict(content.get("model") or {})
    if isinstance(model.get("nir"), str):
        model["nir_sha256"] = _file_sha256(Path(loaded.file).parent / model["nir"])
        content["model"] = model
    return content


def _file_sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None  # a missing file fails when the point runs, with its own message


def point_id(content: dict[str, Any]) -> str:
    """Content address: the portable resolved config (``portable_config``) + the s2sim version."""
    content = {k: v for k, v in content.items() if k not in ("file", "sets")}
    text = json.dumps({"config": content, "s2sim_version": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_plot_columns(spec: StudyFile, axes: list[str], metrics: list[str], label: str) -> None:
    known = set(axes) | set(metrics) | {"wall_time_s"}
    for i, plot in enumerate(spec.plots):
        for role in ("x", "y", "colour"):
            column = getattr(plot, role)
            if column is not None and column not in known:
                raise ConfigError(label, f"plots[{i}].{role}", f"unknown column '{column}'",
                                  "an axis or a metric: " + ", ".join(sorted(known)))
