"""Sweeps under faults: a point interrupted after its first checkpoint (kill -9 of the driver, kill -9
of a Dask worker, Ctrl-C) is continued from that checkpoint and ends exactly as an uninterrupted
sweep; the same study resumed from a second checkout at another path runs nothing again.

The interrupted study is a tiny e-prop training (2 points, a checkpoint after every sample), so a
kill right after the first checkpoint always lands mid-point.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from sweep_studies import ROOT, write_study

GSC = ROOT / "networks" / "gsc.yaml"
#: e-prop training, small enough for a test, long enough (12 samples) to be killed mid-point
TRAINING = {"network.n_rec": 20, "mapping.pes": 2, "dataset.n_train": 12, "dataset.n_valid": 1,
            "dataset.n_test": 1, "training.checkpoint_every": 1, "training.epochs": 1}
#: whole-run results (a resumed run's median/p99 latency cover only its resumed part: summary "resume")
METRICS = ["latency.timestep_ns.max", "energy.per_sample_j", "memory.max_pe_bytes", "learning.test_accuracy",
           "learning.train_accuracy", "pes_used"]


def training_study(name: str = "faults") -> dict:
    return {"study": name, "network": str(GSC), "set": dict(TRAINING), "product": {"run.seed": [1, 2]},
            "metrics": METRICS[3:5]}


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def _sweep(study: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "s2sim.cli", "sweep", str(study), "--out", str(out), "--no-point-reports",
            "--quiet", *extra]


def _wait_for_a_checkpoint(out: Path, proc: subprocess.Popen, timeout_s: float = 300) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        found = list((out / "points").glob("*/checkpoint.npz")) if (out / "points").is_dir() else []
        if found:
            return found[0].parent
        time.sleep(0.02)
    raise AssertionError(f"no checkpoint appeared (sweep exit {proc.poll()})")


def _status(point: Path) -> dict:
    return json.loads((point / "status.json").read_text())


def _metrics(out: Path) -> pd.DataFrame:
    table = pd.read_csv(out / "results.csv")
    assert (table["status"] == "ok").all(), table[["point", "status", "error"]].to_string()
    return table[["point", *METRICS]].sort_values("point").reset_index(drop=True)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The training study run once without interruption: the reference table."""
    from s2sim.sweep import run_study
    out = tmp_path_factory.mktemp("uninterrupted")
    run_study(training_study(), out=out, workers=1, point_reports=False, plots=False)
    return _metrics(out)


def test_kill_9_of_the_driver_mid_point_then_resume_continues_the_point(uninterrupted, tmp_path):
    study, out = write_study(tmp_path / "t.yaml", training_study()), tmp_path / "sweep"
    driver = subprocess.Popen(_sweep(study, out, "--workers", "1"), cwd=ROOT, env=_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        point = _wait_for_a_checkpoint(out, driver)
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.kill()
        driver.wait(timeout=30)
    assert not (point / "summary.json").exists(), "killed after the point finished: the test proves nothing"
    resumed = subprocess.run(_sweep(study, out, "--workers", "1", "--resume"), cwd=ROOT, env=_env(),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert _status(point)["how"] == "resumed", "the killed point continued from its checkpoint"
    pd.testing.assert_frame_equal(_metrics(out), uninterrupted)


def test_ctrl_c_stops_the_whole_serial_sweep_and_resume_finishes_it(uninterrupted, tmp_path):
    study, out = write_study(tmp_path / "t.yaml", training_study()), tmp_path / "sweep"
    driver = subprocess.Popen(_sweep(study, out, "--workers", "1"), cwd=ROOT, env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    point = _wait_for_a_checkpoint(out, driver)
    driver.send_signal(signal.SIGINT)
    _, stderr = driver.communicate(timeout=120)
    assert driver.returncode == 130
    assert "sweep interrupted" in stderr and "--resume" in stderr and "s2sim run" not in stderr
    assert len(list((out / "points").iterdir())) == 1, "no other point started after Ctrl-C"
    assert _status(point)["status"] == "interrupted"
    rows = pd.read_csv(out / "results.csv")  # the table agrees with the points' status.json
    assert sorted(rows["status"]) == ["interrupted", "not run"]
    resumed = subprocess.run(_sweep(study, out, "--workers", "1", "--resume"), cwd=ROOT, env=_env(),
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert _status(point)["how"] == "resumed"
    pd.testing.assert_frame_equal(_metrics(out), uninterrupted)


def test_kill_9_of_a_dask_worker_mid_point_is_continued_by_the_retry(uninterrupted, tmp_path):
    psutil = pytest.importorskip("psutil")
    pytest.importorskip("distributed")
    study, out = write_study(tmp_path / "t.yaml", training_study()), tmp_path / "sweep"
    driver = subprocess.Popen(_sweep(study, out, "--workers", "2"), cwd=ROOT, env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        point = _wait_for_a_checkpoint(out, driver, timeout_s=400)
        workers = [p for p in psutil.Process(driver.pid).children()
                   if "resource_tracker" not in " ".join(p.cmdline())]
        assert workers, "the local cluster's worker processes"
        for worker in workers:  # the driver's own worker processes, by pid
            worker.send_signal(signal.SIGKILL)
        assert not (point / "summary.json").exists(), "killed after the point finished"
        _, stderr = driver.communicate(timeout=600)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait(timeout=30)
    assert driver.returncode == 0, stderr
    assert _status(point)["how"] == "resumed", "the retry continued the killed point from its checkpoint"
    pd.testing.assert_frame_equal(_metrics(out), uninterrupted)


def test_a_second_checkout_at_another_path_runs_nothing_again(tmp_path):
    """Study, network and arch file copied to another folder: every point id is the same, so --resume
    finds every point complete (the arch file's absolute path is not part of a point's id)."""
    from s2sim.sweep import run_study
    first = tmp_path / "first"
    first.mkdir()
    shutil.copy(ROOT / "s2sim" / "arch" / "spinnaker2.yaml", first / "chip.yaml")
    net = (ROOT / "networks" / "lif_bench.yaml").read_text().replace("arch: spinnaker2", "arch: chip.yaml")
    (first / "net.yaml").write_text(net)
    write_study(first / "study.yaml", {"study": "moved", "network": "net.yaml",
                                       "set": {"run.ticks": 3, "network.layers": [32, 32]},
                                       "product": {"run.seed": [1, 2]}})
    run_study(first / "study.yaml", out=first / "sweep", workers=1, point_reports=False, plots=False)
    second = tmp_path / "elsewhere" / "second"
    shutil.copytree(first, second)
    ran = []
    frame = run_study(second / "study.yaml", out=second / "sweep", workers=1, resume=True, point_reports=False,
                      plots=False, report=lambda progress, _message: ran.append(progress.done + progress.failed))
    assert len(frame) == 2 and (frame["status"] == "ok").all()
    assert max(ran) == 0, "no point ran again from the second checkout"
    assert sorted(p.name for p in (second / "sweep" / "points").iterdir()) == sorted(frame["point"])


def test_a_point_killed_after_its_summary_is_finished_not_run_again(tmp_path):
    """Killed between summary.json and status.json (e.g. while writing the report): not complete, so
    the table says so; the next attempt writes only what is missing and keeps the run's results."""
    from s2sim.sweep.point import is_complete, run_point
    from s2sim.sweep.results import collect_rows
    from s2sim.sweep.study import load_study
    study = load_study({"study": "s", "network": str(ROOT / "networks" / "lif_bench.yaml"),
                        "set": {"run.ticks": 3, "network.layers": [32, 32]}})
    point = tmp_path / "points" / study.points[0].id
    run_point(study.network, study.points[0].sets, point, report=False)
    written = (point / "summary.json").stat().st_mtime_ns
    (point / "status.json").unlink()  # what a kill after the summary leaves
    assert not is_complete(point)
    assert collect_rows(study, tmp_path)[0]["status"] == "not run", "the table agrees: not complete"
    status = run_point(study.network, study.points[0].sets, point, report=False)
    assert status["status"] == "ok" and status["how"] == "finished"
    assert (point / "summary.json").stat().st_mtime_ns == written, "the run was not repeated"
    assert collect_rows(study, tmp_path)[0]["status"] == "ok"


def test_a_point_whose_report_cannot_be_written_is_failed_and_the_retry_writes_only_the_report(tmp_path,
                                                                                                monkeypatch):
    """The disk fills while the point's report is written: the run's results are whole, but the point is
    not done, so its row says failed with the reason; once there is room, the next attempt writes the
    report and keeps the run's results."""
    pytest.importorskip("matplotlib", reason="the point report needs matplotlib")
    import errno

    import s2sim.profile.report as report_module
    from s2sim.sweep.point import is_complete, run_point
    from s2sim.sweep.study import load_study
    study = load_study({"study": "s", "network": str(ROOT / "networks" / "lif_bench.yaml"),
                        "set": {"run.ticks": 3, "network.layers": [32, 32]}})
    point = tmp_path / "points" / study.points[0].id

    def disk_full(out_dir):
        raise OSError(errno.ENOSPC, "No space left on device", str(Path(out_dir) / "report.html"))

    monkeypatch.setattr(report_module, "write_report", disk_full)
    status = run_point(study.network, study.points[0].sets, point, report=True)
    assert status["status"] == "failed" and "No space left on device" in status["error"]
    assert not is_complete(point) and not (point / "report.html").exists()
    written = (point / "summary.json").stat().st_mtime_ns

    monkeypatch.undo()
    status = run_point(study.network, study.points[0].sets, point, report=True)
    assert status["status"] == "ok" and status["how"] == "finished"
    assert (point / "report.html").is_file() and is_complete(point)
    assert (point / "summary.json").stat().st_mtime_ns == written, "the run was not repeated"
