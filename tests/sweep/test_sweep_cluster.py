"""A sweep survives a kill -9 of its driver, and runs unchanged on a real external Dask cluster."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from s2sim.sweep import run_study

from sweep_studies import ROOT, comparable, tiny_study, write_study

METRICS = ["latency.timestep_ns.max", "energy.per_sample_j", "memory.max_pe_bytes", "traffic.packets"]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def _complete(out: Path) -> dict[str, int]:
    """point id -> summary.json mtime of every complete point."""
    return {p.parent.name: p.stat().st_mtime_ns for p in (out / "points").glob("*/summary.json")}


def test_kill_9_of_the_driver_then_resume_loses_and_reruns_nothing(serial_sweep, tmp_path):
    _, uninterrupted = serial_sweep
    study, out = write_study(tmp_path / "t.yaml", tiny_study()), tmp_path / "killed"
    driver = subprocess.Popen([sys.executable, "-m", "s2sim.cli", "sweep", str(study), "--out", str(out),
                               "--workers", "1", "--quiet"], cwd=ROOT, env=_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while len(_complete(out)) < 2 and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        driver.send_signal(signal.SIGKILL)  # mid-sweep: while the next point is being simulated
    finally:
        driver.kill()
        driver.wait(timeout=30)
    before = _complete(out)
    assert 2 <= len(before) < 4, "the driver was not killed mid-sweep"
    assert not (out / "results.csv").exists()
    resumed = subprocess.run([sys.executable, "-m", "s2sim.cli", "sweep", str(study), "--out", str(out),
                              "--workers", "1", "--resume"], cwd=ROOT, env=_env(), capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    after = _complete(out)
    assert len(after) == 4
    assert {p: after[p] for p in before} == before  # no completed point ran again
    table = pd.read_csv(out / "results.csv")
    reference = comparable(uninterrupted)[["point", *METRICS]]
    assert comparable(table)[["point", *METRICS]].equals(reference.astype(table[["point", *METRICS]].dtypes))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_a_study_runs_on_an_external_dask_scheduler(serial_sweep, tmp_path):
    dask_cli = Path(sys.executable).parent / "dask"
    if not dask_cli.exists():
        pytest.skip("the 'dask' command of dask[distributed] is not installed (pip install 's2sim[sweep]')")
    _, serial = serial_sweep
    address = f"tcp://127.0.0.1:{_free_port()}"
    procs: list[subprocess.Popen] = []
    try:
        procs.append(subprocess.Popen([str(dask_cli), "scheduler", "--host", "127.0.0.1", "--port",
                                       address.rsplit(":", 1)[1], "--no-dashboard"], env=_env(),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen([str(dask_cli), "worker", address, "--nworkers", "1", "--nthreads", "1",
                                       "--no-dashboard", "--death-timeout", "60"], env=_env(),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(1, timeout=120)
        frame = run_study(tiny_study(), out=tmp_path / "remote", scheduler=address)
    finally:
        _stop(procs)
    assert comparable(frame)[["point", *METRICS, "status"]].equals(comparable(serial)[["point", *METRICS, "status"]])
    summary = json.loads((tmp_path / "remote" / "points" / frame["point"][0] / "summary.json").read_text())
    assert summary["network"] == "lif_bench"
