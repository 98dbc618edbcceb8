"""What-if studies: a study file -> content-addressed points -> one run each (serially or as Dask
tasks) -> results table, plots and ``study.html``. A sweep adds scheduling, never a second
simulator: every point goes through ``s2sim.run.run_network``, the entry ``s2sim run`` uses.
"""
from .api import run_study
from .execute import Progress, run_points
from .report import is_sweep_dir, write_study_outputs
from .study import Point, Study, is_study_file, load_study

__all__ = ["run_study", "load_study", "is_study_file", "Study", "Point", "Progress", "run_points",
           "is_sweep_dir", "write_study_outputs"]
