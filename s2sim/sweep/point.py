"""One point of a study = one ``s2sim run`` into ``DIR/points/<id>/``, through the CLI command itself.

The point calls the very click command a user types (in-process, ``--quiet``), so a sweep can never
compute anything a plain ``s2sim run NETWORK --set ...`` would not. A point is complete when its
summary.json exists: ``s2sim run`` writes it last and atomically, and removes an older one before it
starts, so a killed point never looks complete. ``status.json`` (also atomic) adds the sweep's view:
ok/failed, the one-line error, wall time.
"""
from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path
from typing import Any

from ..profile.summary import write_json_atomic

__all__ = ["point_dir", "is_complete", "read_status", "run_point", "run_point_task"]

SUMMARY = "summary.json"
STATUS = "status.json"


def point_dir(out_dir: str | Path, point_id: str) -> Path:
    return Path(out_dir) / "points" / point_id


def is_complete(directory: Path) -> bool:
    """A point whose summary.json is there and parses (written atomically by ``s2sim run``)."""
    try:
        return "s2sim_version" in json.loads((directory / SUMMARY).read_text())
    except (OSError, ValueError):
        return False


def read_status(directory: Path) -> dict[str, Any] | None:
    try:
        return json.loads((directory / STATUS).read_text())
    except (OSError, ValueError):
        return None


def run_point(network: str | Path, sets: list[str], directory: str | Path) -> dict[str, Any]:
    """Run ``s2sim run NETWORK --set ... --out DIRECTORY --quiet``; return (and write) its status.

    A user error of the run (``exit 2`` with one line, e.g. a PE that overflows SRAM) and an
    unexpected exception both become ``status: failed`` with the message: a sweep records a failing
    point as a row, it does not stop.
    """
    from ..cli import run as run_command
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / STATUS).unlink(missing_ok=True)
    args = [str(network)] + [a for s in sets for a in ("--set", s)] + ["--out", str(directory), "--quiet"]
    stderr = io.StringIO()
    t0 = time.perf_counter()
    error = None
    try:
        with contextlib.redirect_stderr(stderr):
            run_command.main(args=args, prog_name="s2sim run", standalone_mode=False)
    except SystemExit as exc:
        if exc.code not in (0, None):
            error = _last_error_line(stderr.getvalue()) or f"s2sim run exited with status {exc.code}"
    except Exception as exc:  # noqa: BLE001 - a crashing point is a row with its error
        error = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    wall_s = time.perf_counter() - t0
    if error is None and not is_complete(directory):
        error = "s2sim run finished without writing summary.json"
    status = {"status": "failed" if error else "ok", "error": error, "wall_time_s": wall_s}
    write_json_atomic(status, directory / STATUS)
    return status


def run_point_task(network: str, sets: list[str], directory: str) -> dict[str, Any]:
    """The Dask task: plain arguments in, plain dict out (nothing to pickle but strings)."""
    return run_point(network, sets, directory)


def _last_error_line(text: str) -> str | None:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.startswith("error:"):
            return line[len("error:"):].strip()
    return lines[-1] if lines else None
