"""A full disk and sizes too big to allocate.

* Disk full: a run or a sweep whose output folder is a tiny tmpfs (mounted here: needs root and a working
  ``mount``, else skipped with the reason) ends with exit 0 and complete files, exit 1 and one line (the run is
  complete, its report is not there), or exit 2 and one line;
  it never leaves a half-written summary.json / report.html / results.csv, nor a ``*.tmp`` file. The
  sizes step through the points where each file of a run is written.
* Sizes: class counts, sample counts x sample size and study point counts are refused in one line
  before anything is allocated (each case under a few seconds, so no allocation happened).
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest
from fuzz_cli import REPO, invoke

LIF = REPO / "networks" / "lif_bench.yaml"
TINY_RUN = ["--set", "run.ticks=3", "--set", "network.layers=[16,16,8]", "--quiet"]


@pytest.fixture
def tiny_disk(tmp_path):
    """A function that mounts a tmpfs of ``size_kb`` under tmp_path (unmounted at the end)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root")
    mounts = []

    def mount(size_kb: int) -> Path:
        where = tmp_path / f"disk{size_kb}k-{uuid.uuid4().hex[:6]}"
        where.mkdir()
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
        mounts.append(where)
        return where

    yield mount
    for where in mounts:
        subprocess.run(["umount", str(where)], check=False)


def _no_half_files(folder: Path) -> None:
    leftovers = [p for p in folder.rglob("*") if p.name.endswith(".tmp") or ".tmp" in p.suffixes]
    assert not leftovers, f"temporary files left: {leftovers}"
    summary = folder / "summary.json"
    if summary.exists():
        json.loads(summary.read_text())  # whole, or not there at all
    report = folder / "report.html"
    if report.exists():
        assert report.read_text().rstrip().endswith("</html>"), "a half-written report.html"


@pytest.mark.parametrize("size_kb", [8, 48, 120, 200, 300, 600])
def test_a_run_on_a_full_disk_is_complete_or_one_line(tiny_disk, size_kb):
    disk = tiny_disk(size_kb)
    code, err, _ = invoke(["run", str(LIF), *TINY_RUN, "--out", str(disk / "run")], 120.0)
    assert code in (0, 1, 2), err
    if code == 2:
        assert "No space left on device" in err and str(disk / "run") in err, err
        assert not (disk / "run" / "summary.json").exists(), "a refused run left a summary"
        assert not (disk / "run" / "report.html").exists()
        assert not (disk / "run" / "timesteps.csv").exists(), "timesteps.csv without a summary looks like a run"
    if code == 1:  # said even under --quiet
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: report not written"), err
        json.loads((disk / "run" / "summary.json").read_text())
        assert not {"report.html", "plots", "memory_regions.csv"} & {p.name for p in (disk / "run").iterdir()}
    if (disk / "run").exists():
        _no_half_files(disk / "run")


@pytest.mark.parametrize("size_kb", [8, 64, 400])
def test_a_sweep_on_a_full_disk_is_complete_or_one_line(tiny_disk, tmp_path, size_kb):
    disk = tiny_disk(size_kb)
    study = tmp_path / "study.yaml"
    study.write_text(json.dumps({"study": "full", "network": str(LIF),
                                 "set": {"run.ticks": 3, "network.layers": [16, 16, 8]},
                                 "product": {"run.seed": [1, 2]}}))
    out = disk / "sweep"
    code, err, _ = invoke(["sweep", str(study), "--workers", "1", "--no-point-reports", "--quiet", "--out", str(out)],
                          180.0)
    if code == 0:
        with open(out / "results.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == 2
        for row in rows:  # a point that could not write its output is a failed row saying why
            assert row["status"] == "ok" or "No space left" in row["error"], row
    if out.exists():
        for point in (out / "points").glob("*") if (out / "points").is_dir() else []:
            _no_half_files(point)
        leftovers = [p for p in out.rglob("*") if p.name.endswith(".tmp")]
        assert not leftovers, leftovers


# ---- sizes: refused before allocation ---------------------------------------------------------------
SIZE_CASES = [
    # (network, --set overrides, npz labels or None): each asks for far more than any machine has
    ("gsc.yaml", ["dataset.n_train=1000000000"], None),
    ("yinyang.yaml", ["dataset.n_train=1000000000000"], None),
    ("cue_accumulation.yaml", ["dataset.n_train=1000000000", "--fast"], None),
    ("gsc.yaml", ["network.n_out=100000000"], None),
    ("gsc.yaml", ["network.n_steps=1000000000"], None),
    ("gsc.yaml", [], 2**40),
    ("gsc.yaml", [], 10**7),
]


@pytest.mark.parametrize("network, sets, label", SIZE_CASES)
def test_a_size_beyond_any_machine_is_refused_before_allocation(tmp_path, network, sets, label):
    args = ["run", str(REPO / "networks" / network), "--quiet", "--out", str(tmp_path / "run")]
    for s in sets:
        args += ["--fast"] if s == "--fast" else ["--set", s]
    if label is not None:  # an npz whose one label implies that many classes
        x = np.zeros((3, 10, 4), np.float32)
        path = tmp_path / "d.npz"
        np.savez(path, x_train=x, y_train=np.array([0, 1, label]), x_test=x, y_test=np.array([0, 1, 1]))
        args += ["--set", "dataset.name=npz", "--set", f"dataset.path={path}", "--set", "dataset.n_train=null",
                 "--set", "dataset.n_valid=null", "--set", "dataset.n_test=null"]
    code, err, took = invoke(args, 60.0)
    assert code == 2, err
    assert took < 20, f"refused only after {took:.0f} s (allocated first?)"
    assert not (tmp_path / "run" / "summary.json").exists()
