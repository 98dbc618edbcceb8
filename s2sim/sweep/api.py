"""``run_study``: the whole sweep (validate, run what is missing, write the outputs) in one call.

The CLI ``s2sim sweep`` and notebooks both use it::

    from s2sim.sweep import run_study
    df = run_study("networks/studies/eprop_pes.yaml", out="traces/eprop_pes", workers=2)
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from ..apps import AppError
from ..outdir import atomic_write_text, safe_run_name
from .execute import Reporter, run_points
from .report import write_study_outputs
from .results import STUDY_JSON, results_frame
from .study import Study, load_study

__all__ = ["run_study", "prepare_out_dir", "default_sweep_dir"]


def default_sweep_dir(study: Study) -> Path:
    """``traces/study-<name>``, the name reduced to one harmless path component (like run names)."""
    return Path("traces") / f"study-{safe_run_name(study.name)}"


def prepare_out_dir(study: Study, out: str | Path | None, resume: bool) -> Path:
    """The sweep directory with this study's ``study.json`` (written atomically before any point runs).

    ``resume`` insists the directory already holds a sweep; without it a new or existing directory
    is fine (points already complete there are skipped either way, they are content-addressed).
    A folder holding another study's sweep, or a ``study.json`` that does not parse, is refused
    either way: taking it over would orphan (or mix in) someone else's points.
    """
    out_dir = Path(out) if out is not None else default_sweep_dir(study)
    if out_dir.exists() and not out_dir.is_dir():
        raise AppError(f"{'--out ' if out is not None else ''}{out_dir}: is a file; expected a folder for the sweep")
    held = out_dir / STUDY_JSON
    if resume and not held.is_file():
        raise AppError(f"--resume {out_dir}: no {STUDY_JSON} there (not a sweep directory); "
                       "run without --resume to start it")
    if held.is_file():
        _check_same_study(held, study)
    try:
        (out_dir / "points").mkdir(parents=True, exist_ok=True)
        atomic_write_text(held, json.dumps(study.to_json(), indent=2, default=str) + "\n")
    except OSError as err:
        raise AppError(f"{err.filename or out_dir}: cannot write the sweep folder "
                       f"({err.strerror or type(err).__name__})") from None
    return out_dir


def _check_same_study(held: Path, study: Study) -> None:
    try:
        data = json.loads(held.read_text())
        name = data["study"]
    except (OSError, ValueError, KeyError, TypeError):
        raise AppError(f"{held}: not a readable sweep record (corrupt or not from s2sim); "
                       "choose another --out folder") from None
    if name != study.name:
        raise AppError(f"{held.parent}: holds the sweep of study {name!r}, not {study.name!r}; "
                       "choose another --out folder") from None


def run_study(study: str | Path | Mapping[str, Any] | Study, out: str | Path | None = None,
              workers: int | None = None, scheduler: str | None = None, resume: bool = False,
              plots: bool = True, report: Reporter | None = None, point_reports: bool = True):
    """Run a study (file path, dict or loaded ``Study``) and return its results as a pandas DataFrame.

    ``workers=1`` runs the points in this process (no Dask); otherwise a Dask ``LocalCluster`` with
    ``workers`` single-threaded processes (default: one per core), or the cluster at ``scheduler``
    (default ``$S2SIM_DASK_SCHEDULER``). Complete points in ``out`` are not run again; an
    interrupted one continues from its checkpoint. ``point_reports=False`` skips each point's
    report.html. In a script (not a notebook) call it under ``if __name__ == "__main__":``: Dask's
    worker processes import the script again.
    """
    loaded = study if isinstance(study, Study) else load_study(study)
    out_dir = prepare_out_dir(loaded, out, resume)
    run_points(loaded, out_dir, workers=workers, scheduler=scheduler, report=report, point_reports=point_reports)
    outputs = write_study_outputs(out_dir, plots=plots)
    frame = results_frame(outputs["rows"])
    frame.attrs["out_dir"] = str(out_dir)
    return frame

