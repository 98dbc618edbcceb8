"""``run_study``: the whole sweep (validate, run what is missing, write the outputs) in one call.

The CLI ``s2sim sweep`` and notebooks both use it::

    from s2sim.sweep import run_study
    df = run_study("networks/studies/eprop_pes.yaml", out="traces/eprop_pes", workers=2)
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from ..apps import AppError
from .execute import Reporter, run_points
from .report import write_study_outputs
from .results import STUDY_JSON, results_frame
from .study import Study, load_study

__all__ = ["run_study", "prepare_out_dir"]


def prepare_out_dir(study: Study, out: str | Path | None, resume: bool) -> Path:
    """The sweep directory with this study's ``study.json`` (written atomically before any point runs).

    ``resume`` insists the directory already holds a sweep; without it a new or existing directory
    is fine (points already complete there are skipped either way, they are content-addressed).
    """
    out_dir = Path(out) if out is not None else Path("traces") / f"study-{study.name}"
    if resume and not (out_dir / STUDY_JSON).is_file():
        raise AppError(f"--resume {out_dir}: no {STUDY_JSON} there (not a sweep directory); "
                       "run without --resume to start it")
    (out_dir / "points").mkdir(parents=True, exist_ok=True)
    tmp = out_dir / (STUDY_JSON + ".tmp")
    tmp.write_text(json.dumps(study.to_json(), indent=2, default=str) + "\n")
    os.replace(tmp, out_dir / STUDY_JSON)
    return out_dir


def run_study(study: str | Path | Mapping[str, Any] | Study, out: str | Path | None = None,
              workers: int | None = None, scheduler: str | None = None, resume: bool = False,
              plots: bool = True, report: Reporter | None = None):
    """Run a study (file path, dict or loaded ``Study``) and return its results as a pandas DataFrame.

    ``workers=1`` runs the points in this process (no Dask); otherwise a Dask ``LocalCluster`` with
    ``workers`` single-threaded processes (default: one per core), or the cluster at ``scheduler``
    (default ``$S2SIM_DASK_SCHEDULER``). Complete points in ``out`` are not run again.
    """
    loaded = study if isinstance(study, Study) else load_study(study)
    out_dir = prepare_out_dir(loaded, out, resume)
    run_points(loaded, out_dir, workers=workers, scheduler=scheduler, report=report)
    outputs = write_study_outputs(out_dir, plots=plots)
    frame = results_frame(outputs["rows"])
    frame.attrs["out_dir"] = str(out_dir)
    return frame

