"""The results table: one row per point (axes, metrics, status, wall time), read back from disk.

The table is always rebuilt from the point directories (never from what the driver happened to
see), so an interrupted, resumed or re-reported sweep gives the same table as an uninterrupted one.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .point import is_complete, point_dir, read_status
from .study import PARETO_X, PARETO_Y, Study

__all__ = ["collect_rows", "results_frame", "pareto_mask", "write_tables", "metric_value", "STUDY_JSON"]

STUDY_JSON = "study.json"


def metric_value(summary: dict[str, Any], path: str) -> Any:
    """``a.b.c`` looked up in summary.json; None when absent (a metric some apps do not report)."""
    node: Any = summary
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if not isinstance(node, (dict, list)) else json.dumps(node)


def collect_rows(study: Study, out_dir: Path) -> list[dict[str, Any]]:
    rows = []
    for point in study.points:
        directory = point_dir(out_dir, point.id)
        status = read_status(directory) or {}
        row: dict[str, Any] = {"point": point.id}
        row.update({name: point.axes.get(name) for name in study.axis_names})
        if is_complete(directory):
            summary = json.loads((directory / "summary.json").read_text())
            row.update({m: metric_value(summary, m) for m in study.metrics})
            row["status"], row["error"] = "ok", None
            row["wall_time_s"] = status.get("wall_time_s", summary.get("wall_time_s"))
        else:
            row.update({m: None for m in study.metrics})
            row["status"] = status.get("status", "not run") if status.get("status") != "ok" else "failed"
            row["error"] = status.get("error") or ("no summary.json" if status else None)
            row["wall_time_s"] = status.get("wall_time_s")
        row["report"] = (f"points/{point.id}/report.html"
                         if (directory / "report.html").exists() else None)
        rows.append(row)
    mask = pareto_mask([(r.get(PARETO_X), r.get(PARETO_Y)) if r["status"] == "ok" else (None, None)
                        for r in rows])
    for row, on_front in zip(rows, mask):
        row["pareto"] = bool(on_front)
    return rows


def pareto_mask(pairs: list[tuple[Any, Any]]) -> list[bool]:
    """Non-dominated points when both coordinates are minimised; pairs with a None are never on it."""
    pts = [(float(x), float(y)) if x is not None and y is not None else None for x, y in pairs]
    out = []
    for i, p in enumerate(pts):
        if p is None:
            out.append(False)
            continue
        dominated = any(q is not None and j != i and q[0] <= p[0] and q[1] <= p[1] and q != p
                        for j, q in enumerate(pts))
        out.append(not dominated)
    return out


def results_frame(rows: list[dict[str, Any]]):
    """pandas DataFrame of the rows (axis/metric columns keep their dotted names)."""
    import pandas as pd
    return pd.DataFrame(rows)


def write_tables(rows: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """results.csv always; results.parquet when pandas + pyarrow are installed. Atomic writes."""
    written = [_atomic(out_dir / "results.csv", lambda tmp: _write_csv(rows, tmp))]
    try:
        import pyarrow  # noqa: F401
        frame = results_frame(rows)
    except ImportError:
        return written
    written.append(_atomic(out_dir / "results.parquet", lambda tmp: _parquet(frame, tmp)))
    return written


def _parquet(frame, path: Path) -> None:
    frame = frame.copy()
    for column in frame.columns:  # mixed-type axis values (e.g. numbers and strings) -> text
        kinds = {type(v) for v in frame[column] if v is not None and v == v}
        if len(kinds) > 1 and not kinds <= {int, float, np.int64, np.float64}:
            frame[column] = frame[column].map(lambda v: None if v is None else str(v))
    frame.to_parquet(path, index=False)


def _write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    import csv
    fields = list(rows[0]) if rows else ["point"]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})


def _atomic(path: Path, write) -> Path:
    """Write via a temp file + rename; a failed write (disk full) removes the temp file and re-raises."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
