"""Scheduling the points: in this process (``workers=1``) or as Dask tasks, never anything else.

Every point is the same task (``point.run_point_task``) whichever way it runs, so a serial run and a
cluster run give identical per-point results. Complete points are skipped before anything is
submitted; the driver only counts and reports, each task writes its own point directory.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .point import is_complete, point_dir, run_point_task, write_status
from .study import Point, Study

__all__ = ["Progress", "pending_points", "run_points", "SCHEDULER_ENV"]

SCHEDULER_ENV = "S2SIM_DASK_SCHEDULER"


@dataclass
class Progress:
    """Counts the progress bar shows; ``on_change`` is called after every change."""

    total: int
    skipped: int = 0
    done: int = 0
    failed: int = 0
    running: int = 0

    @property
    def finished(self) -> int:
        return self.skipped + self.done + self.failed


Reporter = Callable[[Progress, str | None], None]  # (counts, message about the point that just finished)


def pending_points(study: Study, out_dir: Path) -> list[Point]:
    """Points without a complete summary.json (a failed point is retried: its error may be transient)."""
    return [p for p in study.points if not is_complete(point_dir(out_dir, p.id))]


def run_points(study: Study, out_dir: Path, workers: int | None = None, scheduler: str | None = None,
               report: Reporter | None = None, point_reports: bool = True) -> Progress:
    """Run every incomplete point; ``scheduler`` (or ``$S2SIM_DASK_SCHEDULER``) = an existing cluster.

    ``point_reports=False`` skips each point's report.html (often slower than a small point's run).
    """
    report = report or (lambda progress, message: None)
    todo = pending_points(study, out_dir)
    progress = Progress(total=len(study.points), skipped=len(study.points) - len(todo))
    report(progress, None)
    if not todo:
        return progress
    origin = "--scheduler" if scheduler else f"${SCHEDULER_ENV}"
    scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
    # one point left (e.g. a failed one retried): starting a local cluster would cost more than it saves
    if scheduler is None and ((workers or default_workers()) == 1 or len(todo) == 1):
        _run_serial(study, out_dir, todo, progress, report, point_reports)
    else:
        _run_dask(study, out_dir, todo, progress, report, workers, scheduler, origin, point_reports)
    return progress


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def _finish(progress: Progress, point: Point, status: dict, report: Reporter) -> None:
    if status["status"] == "ok":
        progress.done += 1
        report(progress, None)
    else:
        progress.failed += 1
        report(progress, f"point {point.id} ({point.label()}) failed: {status['error']}")


def _run_serial(study: Study, out_dir: Path, todo: list[Point], progress: Progress, report: Reporter,
                point_reports: bool = True) -> None:
    for point in todo:  # Ctrl-C inside a point stops the whole loop (run_point lets it through)
        progress.running = 1
        report(progress, None)
        status = run_point_task(str(study.network), point.sets, str(point_dir(out_dir, point.id)), point_reports)
        progress.running = 0
        _finish(progress, point, status, report)


def _check_address(scheduler: str, origin: str) -> None:
    """Refuse an address that cannot name a scheduler (port 0 or above 65535, no host) at once, instead of
    after Dask's 30 s connection timeout."""
    from distributed.comm.addressing import parse_address, parse_host_port

    from ..apps import AppError
    try:
        protocol, location = parse_address(scheduler)
        host, port = parse_host_port(location) if protocol in ("tcp", "tls") else (location, 1)
    except (ValueError, TypeError) as err:
        reason = str(err).replace("\n", " ") or type(err).__name__
        raise AppError(f"{origin} {scheduler}: not a scheduler address ({reason}); "
                       "expected an address like tcp://host:8786") from None
    if not host or not 0 < int(port) < 65536:
        raise AppError(f"{origin} {scheduler}: not a scheduler address (host {host!r}, port {port}); "
                       "expected an address like tcp://host:8786")


def _run_dask(study: Study, out_dir: Path, todo: list[Point], progress: Progress, report: Reporter,
              workers: int | None, scheduler: str | None, origin: str = "--scheduler",
              point_reports: bool = True) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        from ..apps import AppError
        raise AppError("running a sweep on Dask needs dask[distributed]: pip install 's2sim[sweep]' "
                       "(or use --workers 1)") from None
    cluster = None
    if scheduler is None:
        n = workers or default_workers()
        # one single-threaded worker process per core: the simulator is pure Python (GIL-bound)
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                               silence_logs=40)
        client = Client(cluster)
    else:
        _check_address(scheduler, origin)
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError, ValueError, TypeError) as err:
            from ..apps import AppError
            reason = str(err).replace("\n", " ") or type(err).__name__
            raise AppError(f"{origin} {scheduler}: cannot connect to the Dask scheduler ({reason}); "
                           "expected an address like tcp://host:8786") from None
    try:
        slots = max(1, sum(client.nthreads().values()))
        # a retry after a killed worker continues the point from its checkpoint (point.run_point)
        futures = {client.submit(run_point_task, str(study.network), p.sets, str(point_dir(out_dir, p.id)),
                                 point_reports, key=f"s2sim-point-{p.id}", pure=False, retries=1): p for p in todo}
        in_flight = len(futures)
        progress.running = min(in_flight, slots)
        report(progress, None)
        for future in as_completed(futures):
            point = futures[future]
            try:
                status = future.result()
            except Exception as exc:  # noqa: BLE001 - e.g. the worker died twice: a failed row
                status = {"status": "failed", "error": f"{type(exc).__name__}: {exc}".replace("\n", " ")}
                directory = point_dir(out_dir, point.id)
                if not is_complete(directory):  # the task never wrote one: status.json must agree
                    directory.mkdir(parents=True, exist_ok=True)
                    write_status(directory, status)
            in_flight -= 1
            progress.running = min(in_flight, slots)
            _finish(progress, point, status, report)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
