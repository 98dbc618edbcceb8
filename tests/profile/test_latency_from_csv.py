"""The summary's latency and energy numbers are the ones a reader computes from the run's own files.

Per timestep the critical (slowest) PE's lag is the max over PEs of ``time_done_ns`` in timesteps.csv;
the summary's min / median / p99 / max are those of that series (ticks a PE never ran left out:
``latency.timesteps_not_run``), and ``per_sample_j`` is the total energy over the samples.
"""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from profile_runs import small_run


@pytest.mark.parametrize("tick_ns", [None, 1200])  # as shipped; overrunning (lags of 1.6 us and growing)
def test_latency_median_min_p99_max_and_per_sample_energy_follow_from_the_run_files(tmp_path, tick_ns):
    out = small_run(tmp_path / "run", *(["--set", f"run.tick_ns={tick_ns}"] if tick_ns else []))
    summary = json.loads((out / "summary.json").read_text())
    per_step: dict[int, float] = {}
    with open(out / "timesteps.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            t = int(row["timestep"])
            per_step[t] = max(per_step.get(t, 0.0), float(row["time_done_ns"]))
    lat, ts = summary["latency"], summary["latency"]["timestep_ns"]
    lags = np.array([per_step[t] for t in sorted(per_step)])
    assert lags.size == 20
    # overrunning, the last ticks were still queued when the run stopped: they have no lag yet
    not_run = lat["timesteps_not_run"]
    assert (not_run > 0) == (tick_ns is not None) and summary["diagnostics"]["work_left_at_end"]["timer_ticks"] >= not_run
    ran = lags[:20 - not_run]
    assert ts["median"] == pytest.approx(float(np.median(ran)), rel=1e-12)
    assert ts["min"] == pytest.approx(float(ran.min()), rel=1e-12)
    assert ts["p99"] == pytest.approx(float(np.percentile(ran, 99)), rel=1e-12)
    assert ts["max"] == pytest.approx(float(lags.max()), rel=1e-12)
    if tick_ns:  # the lag grows tick by tick: most ticks end well after the next one started
        assert ts["median"] > 2 * tick_ns and np.all(np.diff(ran) >= 0)
    energy = summary["energy"]
    assert summary["samples"] > 0
    assert energy["per_sample_j"] == pytest.approx(energy["total_j"] / summary["samples"], rel=1e-12)
    assert energy["total_j"] == pytest.approx(sum(energy["breakdown_j"].values()), rel=1e-12)


def test_per_sample_energy_is_the_total_over_the_samples_of_a_run_with_several(tmp_path):
    from profile_runs import ROOT, run_cli
    out = tmp_path / "gsc"
    res = run_cli("run", ROOT / "networks" / "gsc.yaml", "--out", out, "--quiet", "--set", "dataset.n_train=2",
                  "--set", "dataset.n_valid=1", "--set", "dataset.n_test=1")
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    energy = summary["energy"]
    assert summary["samples"] == 2
    assert energy["per_sample_j"] == pytest.approx(energy["total_j"] / 2, rel=1e-12)
