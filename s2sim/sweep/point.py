"""One point of a study = one ``s2sim.run.run_network`` into ``DIR/points/<id>/``.

The point calls the same run entry as ``s2sim run`` (``s2sim/run.py``), so a sweep can never compute
anything a plain ``s2sim run NETWORK --set ...`` would not.

A point is complete when its ``status.json`` says ok *and* its summary.json parses: the run writes
summary.json last and atomically (and removes an older one before new results are made), the point
then writes its report (unless skipped) and, last, ``status.json``. So every kill leaves a point that
is not complete, and the next attempt (a Dask retry, ``--resume``) picks it up:

* summary.json whole but no ok status (killed while writing the report): the run is not repeated,
  only the report and the status are written;
* a ``checkpoint.npz`` kept by an interrupted run: the run continues from it (``--resume``);
* anything else: the folder's old outputs are removed and the point runs from the start.

One process at a time works on a point (an advisory lock on ``.point.lock``, released by the kernel
when its holder dies): a Dask worker orphaned by a killed driver finishes dying before a resumed
sweep touches the point, and two sweeps of one folder never write the same point at once.
"""
from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from ..profile.summary import write_json_atomic

__all__ = ["point_dir", "is_complete", "read_status", "write_status", "run_point", "run_point_task"]

SUMMARY = "summary.json"
STATUS = "status.json"
CHECKPOINT = "checkpoint.npz"


def point_dir(out_dir: str | Path, point_id: str) -> Path:
    return Path(out_dir) / "points" / point_id


def summary_written(directory: Path) -> bool:
    """The run's summary.json is there and parses (written atomically by the run entry)."""
    try:
        return "s2sim_version" in json.loads((directory / SUMMARY).read_text())
    except (OSError, ValueError):
        return False


def is_complete(directory: Path) -> bool:
    """The point finished: its status says ok and its summary.json is whole."""
    status = read_status(directory)
    return bool(status) and status.get("status") == "ok" and summary_written(directory)


def read_status(directory: Path) -> dict[str, Any] | None:
    try:
        status = json.loads((directory / STATUS).read_text())
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) else None


def write_status(directory: Path, status: dict[str, Any]) -> None:
    write_json_atomic(status, Path(directory) / STATUS)


def run_point(network: str | Path, sets: list[str], directory: str | Path, report: bool = True) -> dict[str, Any]:
    """Run (or continue, or finish) one point; return its status, also written to ``status.json``.

    A user error of the run (one line, e.g. a PE that overflows SRAM) and an unexpected exception
    both become ``status: failed`` with the message: a sweep records a failing point as a row, it does
    not stop. Ctrl-C is not swallowed: the point is marked ``interrupted`` and the interrupt goes on.
    """
    directory = Path(directory)
    if is_complete(directory):
        return read_status(directory) or {}
    directory.mkdir(parents=True, exist_ok=True)
    with _point_lock(directory):
        if is_complete(directory):  # another process finished it while we waited
            return read_status(directory) or {}
        return _run_locked(Path(network), sets, directory, report)


@contextlib.contextmanager
def _point_lock(directory: Path):
    """Hold ``directory/.point.lock`` exclusively (blocking); a no-op where ``fcntl`` does not exist."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(directory / ".point.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run_locked(network: Path, sets: list[str], directory: Path, report: bool) -> dict[str, Any]:
    (directory / STATUS).unlink(missing_ok=True)
    t0 = time.perf_counter()
    try:
        how, error = _run_or_continue(network, sets, directory, report)
    except KeyboardInterrupt:
        write_status(directory, {"status": "interrupted", "error": "interrupted (rerun the sweep with --resume "
                                 "to continue this point)", "wall_time_s": time.perf_counter() - t0})
        raise
    if error is None and not summary_written(directory):
        error = "the run finished without writing summary.json"
    status = {"status": "failed" if error else "ok", "error": error, "how": how,
              "wall_time_s": time.perf_counter() - t0}
    write_status(directory, status)
    return status


def _run_or_continue(network: Path, sets: list[str], directory: Path, report: bool) -> tuple[str, str | None]:
    """(``ran`` / ``resumed`` / ``finished``, the one-line error or None)."""
    from ..config import load_network
    from ..run import USER_ERRORS, RunOptions, run_network
    how = "finished"
    try:
        if not summary_written(directory):
            resume = directory if (directory / CHECKPOINT).is_file() else None
            how = "resumed" if resume is not None else "ran"
            loaded = load_network(network, sets)
            run_network(loaded, RunOptions(out_dir=directory, resume=resume, force=resume is None,
                                           out_option="point folder"))
        if report:
            from ..profile.report import auto_report
            written = auto_report(directory)
            if written.failed:  # the run is complete; the point is not (the next attempt writes only the report)
                return how, written.message
        else:
            (directory / "report.html").unlink(missing_ok=True)  # never an older point's stale report
    except USER_ERRORS as err:
        return how, str(err).replace("\n", " ")
    except OSError as err:
        return how, f"{err.filename or directory}: cannot write ({err.strerror or type(err).__name__})"
    except Exception as exc:  # noqa: BLE001 - a crashing point is a row with its error
        return how, f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return how, None


def run_point_task(network: str, sets: list[str], directory: str, report: bool = True) -> dict[str, Any]:
    """The Dask task: plain arguments in, plain dict out (nothing to pickle but strings)."""
    return run_point(network, sets, directory, report)
