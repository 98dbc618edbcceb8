"""Running one board over several processes with MPI (``mpirun -n N s2sim run ...`` or ``--ranks N``).

A process is one of several ranks when an MPI launcher started it (it sets ``PMI_SIZE`` for MPICH,
``OMPI_COMM_WORLD_SIZE`` for Open MPI); then ``Simulation`` builds this rank's share of the board
(``s2sim/hw/board_mpi.py``), and only rank 0 writes the run folder and prints. One process, the
default, never imports mpi4py. Needs ``pip install 's2sim[mpi]'`` (mpi4py and MPICH's wheel).
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK")


class MpiUnavailable(RuntimeError):
    """MPI was asked for but cannot run here (a one-line reason)."""


def launched_size() -> int:
    """How many ranks the MPI launcher started (1 when not started by one)."""
    for var in _SIZE_VARS:
        if var in os.environ:
            return int(os.environ[var])
    return 1


def launched_rank() -> int:
    for var in _RANK_VARS:
        if var in os.environ:
            return int(os.environ[var])
    return 0


def world():
    """The MPI communicator when this process is one of several ranks, else None."""
    if launched_size() <= 1:
        return None
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise MpiUnavailable(f"started as one of {launched_size()} MPI ranks but mpi4py cannot be imported "
                             f"({err}); pip install 's2sim[mpi]'") from None
    return MPI.COMM_WORLD


def is_root() -> bool:
    """True in one process, and on rank 0 of several."""
    return launched_rank() == 0


def mpirun_command(ranks: int, argv: list[str]) -> list[str]:
    """``mpirun -n ranks python -m s2sim.cli argv...`` with the mpirun next to this Python, or on PATH."""
    here = Path(sys.executable).parent
    for name in ("mpirun", "mpiexec"):
        found = here / name if (here / name).exists() else shutil.which(name)
        if found:
            return [str(found), "-n", str(ranks), sys.executable, "-m", "s2sim.cli", *argv]
    raise MpiUnavailable("--ranks needs an MPI launcher (mpirun or mpiexec): pip install 's2sim[mpi]' "
                         "(MPICH's wheel brings one) or install Open MPI / MPICH")
