"""Run directories: where a run writes, and the rules that keep one run from spoiling another.

* the default folder is ``traces/<name>-<time>`` with the network's name reduced to one safe path
  component (a ``name: ../../x`` never writes outside ``traces/``);
* a folder that already holds a run is refused unless the user says ``--force`` (its old outputs,
  including a stale ``checkpoint.npz``, are removed first) or resumes that very folder;
* a folder that cannot be created or written is a one-line error, not a traceback;
* a run that fails removes the folders it created as long as they are still empty.
"""
from __future__ import annotations

import os
import re
import shutil
from datetime import datetime
from pathlib import Path

__all__ = ["OutputDirError", "RunDir", "safe_run_name", "default_run_dir", "RUN_OUTPUTS", "atomic_write_text", "non_empty_path"]

#: Files (and folders) a run writes; any of the first three marks a folder as holding a run.
RUN_OUTPUTS = ("summary.json", "checkpoint.npz", "timesteps.csv", "trace.pftrace", "trace.json",
               "report.html", "plots", "tables")
_RUN_MARKERS = RUN_OUTPUTS[:3]


class OutputDirError(Exception):
    """The run directory cannot be used (already holds a run, not writable, ...)."""


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``path`` via a temp file + rename: a crash or a full disk never leaves a half file that looks
    complete, nor the temp file (the OSError is re-raised for the caller to report)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def non_empty_path(ctx, param, value: str | None) -> Path | None:
    """A click callback for a folder option (``--out``): the value as a Path; ``''`` (which Path reads as the current folder) is refused, since
    ``--out ''`` is a slip, not a request to write a run into the current folder (``--out .`` is)."""
    if value is None:
        return None
    if value == "":
        import click
        raise click.BadParameter("an empty path; name a folder (or leave the option out for the default)")
    return Path(value)


def safe_run_name(name: str) -> str:
    """``name`` as a single, harmless path component (``../../tmp/x`` -> ``tmp_x``)."""
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")
    return text or "run"


def default_run_dir(name: str, now: datetime | None = None) -> Path:
    return Path("traces") / f"{safe_run_name(name)}-{(now or datetime.now()):%Y%m%d-%H%M%S}"


class RunDir:
    """Claims an output folder for one run and undoes the claim if the run fails early."""

    def __init__(self, path: Path, option: str = "--out"):
        self.path = Path(path)
        self.option = option
        self._created: list[Path] = []

    def holds_run(self) -> list[str]:
        """The run outputs already present (empty if the folder is new or holds none)."""
        return [m for m in _RUN_MARKERS if (self.path / m).exists()]

    def claim(self, force: bool = False, resuming: bool = False) -> Path:
        """Create (or reuse, under the rules above) the folder and check it is writable."""
        if self.path.exists() and not self.path.is_dir():
            raise OutputDirError(f"{self.option} {self.path}: is a file; expected a folder for the run's outputs")
        found = self.holds_run() if self.path.is_dir() else []
        if found and not (force or resuming):
            raise OutputDirError(f"{self.option} {self.path}: already holds a run ({', '.join(found)}); "
                                 "choose another folder, --force to overwrite it, or --resume it")
        if found and force and not resuming:
            self._remove_outputs()
        missing = []
        p = self.path
        while not p.exists() and p != p.parent:
            missing.append(p)
            p = p.parent
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise OutputDirError(f"{self.option} {self.path}: cannot create the run directory "
                                 f"({err.strerror or type(err).__name__})") from None
        self._created = missing  # deepest first
        self._check_writable()
        return self.path

    def _check_writable(self) -> None:
        probe = self.path / ".s2sim-write-test"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as err:
            self.release_if_empty()
            raise OutputDirError(f"{self.option} {self.path}: not writable "
                                 f"({err.strerror or type(err).__name__})") from None

    def _remove_outputs(self) -> None:
        for name in RUN_OUTPUTS:
            target = self.path / name
            try:
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                elif target.exists() or target.is_symlink():
                    target.unlink()
            except OSError as err:
                raise OutputDirError(f"--force {self.path}: cannot remove {name} "
                                     f"({err.strerror or type(err).__name__})") from None

    def release_if_empty(self) -> None:
        """Remove the folders this claim created, deepest first, while they are empty."""
        for p in self._created:
            try:
                p.rmdir()
            except OSError:
                return  # not empty (a checkpoint was kept) or already gone: leave the rest
        self._created = []

    @staticmethod
    def writable_file(path: Path, option: str) -> None:
        """Fail early when a file option (``--save-weights``) names a place we cannot write."""
        parent = Path(path).parent
        if not parent.is_dir() or not os.access(parent, os.W_OK):
            raise OutputDirError(f"{option} {path}: folder {parent} does not exist or is not writable")
