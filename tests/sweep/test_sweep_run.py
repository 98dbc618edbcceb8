"""Running studies: a point is the plain `s2sim run`, Dask gives the serial results, failures are rows."""
from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from s2sim.sweep import run_study

from sweep_studies import LIF, ROOT, comparable, tiny_study, write_study

METRICS = ["latency.timestep_ns.max", "energy.per_sample_j", "memory.max_pe_bytes", "traffic.packets"]


def test_serial_sweep_writes_table_plots_and_page(serial_sweep):
    out, frame = serial_sweep
    assert list(frame["status"]) == ["ok"] * 4
    assert (out / "results.csv").exists() and (out / "results.parquet").exists()
    assert (out / "plots" / "pareto.png").exists() and len(list((out / "plots").glob("*.png"))) == 2
    page = (out / "study.html").read_text()
    for point in frame["point"]:
        assert f'href="points/{point}/report.html"' in page
        assert (out / "points" / point / "report.html").exists()
    assert frame["pareto"].any()


def test_a_point_equals_the_same_run_alone(serial_sweep, tmp_path):
    out, frame = serial_sweep
    row = frame.iloc[3]  # neurons_per_pe 64, 40 Hz, seed 2
    alone = tmp_path / "alone"
    cmd = [sys.executable, "-m", "s2sim.cli", "run", str(LIF), "--out", str(alone), "--quiet",
           "--set", "run.ticks=4", "--set", "network.layers=[64,64,32]", "--set", "mapping.neurons_per_pe=64",
           "--set", "network.input_rate_hz=40.0", "--set", "run.seed=2"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    summary = json.loads((alone / "summary.json").read_text())
    swept = json.loads((out / "points" / row["point"] / "summary.json").read_text())
    for key in ("memory", "latency", "energy", "traffic", "diagnostics"):
        assert swept[key] == summary[key], key


def test_a_point_that_does_not_fit_is_a_row_with_its_error(tmp_path):
    study = tiny_study(product={"mapping.neurons_per_pe": [1, 64]}, zip={}, plots=[])  # 1 per PE: 160 PEs
    frame = run_study(study, out=tmp_path / "s", workers=1)
    failed, ok = frame.iloc[0], frame.iloc[1]
    assert failed["status"] == "failed" and "the chip has 152" in failed["error"]
    assert pd.isna(failed["energy.per_sample_j"])
    assert ok["status"] == "ok" and pd.isna(ok["error"]) and ok["energy.per_sample_j"] > 0
    assert "the chip has 152" in (tmp_path / "s" / "study.html").read_text()


def test_two_worker_local_cluster_gives_the_serial_results(serial_sweep, tmp_path):
    _, serial = serial_sweep
    clustered = run_study(tiny_study(), out=tmp_path / "dask", workers=2)
    assert comparable(clustered)[["point", *METRICS, "status"]].equals(
        comparable(serial)[["point", *METRICS, "status"]])


def test_rerun_skips_complete_points_and_report_rebuilds_the_page(serial_sweep, tmp_path):
    out, frame = serial_sweep
    summaries = {p: (out / "points" / p / "summary.json").stat().st_mtime_ns for p in frame["point"]}
    (out / "study.html").unlink()
    res = subprocess.run([sys.executable, "-m", "s2sim.cli", "sweep", str(write_study(tmp_path / "t.yaml", tiny_study())),
                          "--out", str(out), "--workers", "1", "--resume"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert "4 already complete, 0 run" in res.stdout
    assert summaries == {p: (out / "points" / p / "summary.json").stat().st_mtime_ns for p in frame["point"]}
    (out / "study.html").unlink()
    res = subprocess.run([sys.executable, "-m", "s2sim.cli", "report", str(out)], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert (out / "study.html").exists()


def test_resume_needs_a_sweep_directory(tmp_path):
    study = write_study(tmp_path / "t.yaml", tiny_study())
    res = subprocess.run([sys.executable, "-m", "s2sim.cli", "sweep", str(study), "--out", str(tmp_path / "none"),
                          "--resume"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 2 and "not a sweep directory" in res.stderr and "Traceback" not in res.stderr


def test_study_page_renders_in_headless_chromium(serial_sweep, tmp_path):
    import shutil
    if not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")):
        pytest.skip("chromium is not installed (apt-get install chromium) - cannot render study.html")
    sys.path.insert(0, str(ROOT / "tools"))
    from screenshot_report import is_blank, screenshot
    out, _ = serial_sweep
    shot = tmp_path / "study.png"
    screenshot(out / "study.html", shot, height=1600)
    from matplotlib import image
    img = image.imread(str(shot))
    assert img.shape[0] == 1600 and not is_blank(shot)
    # the page's figures are inline: the screenshot has the plot colours, not only text on white
    assert (img[..., :3].std(axis=2) > 0.1).mean() > 0.001


def test_resume_runs_a_failed_point_again_and_skips_the_complete_one(tmp_path):
    # A point that does not fit fails (a row with its error, no complete summary); --resume retries it
    # (its error may be transient) while the complete point is not run again.
    study = tiny_study(product={"mapping.neurons_per_pe": [1, 64]}, zip={}, plots=[])
    out = tmp_path / "s"
    run_study(study, out=out, workers=1)
    seen = []
    frame = run_study(study, out=out, workers=1, resume=True, report=lambda p, msg: seen.append(
        (p.skipped, p.done, p.failed)))
    assert seen[-1] == (1, 0, 1)  # the complete point skipped, the failed one run (and failing) again
    assert list(frame["status"]) == ["failed", "ok"]
