"""The tiny study run once per session, serially: the reference table of the sweep tests."""
from __future__ import annotations

import pytest

from sweep_studies import tiny_study


@pytest.fixture(scope="session")
def serial_sweep(tmp_path_factory):
    """The tiny study run once in this process (``workers=1``, no Dask): the reference table."""
    from s2sim.sweep import run_study
    out = tmp_path_factory.mktemp("serial")
    frame = run_study(tiny_study(), out=out, workers=1)
    return out, frame
