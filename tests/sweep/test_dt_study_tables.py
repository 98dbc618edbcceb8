"""The time-step studies' drivers (benchmarks/dt_eventprop.py, dt_eprop_fsdd.py) answer latency with the cycle
bracket: the slowest and median tick at each end and whether each end keeps real time; a short variant of a
study (``--set training.epochs=1``) keeps its axes."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

from dt_sweep import bracket_cells, load_with  # noqa: E402

STUDY = ROOT / "networks" / "studies" / "dt_eventprop.yaml"


def _row(nominal: float | None, low: float | None, high: float | None, tick_ns: float, median: float) -> dict:
    row = {}
    for end, worst in (("nominal", nominal), ("low", low), ("high", high)):
        row[f"latency.bracket.timestep_ns.{end}.max"] = worst
        row[f"latency.bracket.timestep_ns.{end}.median"] = None if worst is None else median
        row[f"latency.bracket.realtime.{end}"] = worst is not None and worst <= tick_ns
    return row


def test_the_band_is_given_per_end_and_real_time_must_hold_for_every_seed():
    rows = [_row(900_000, 1_100_000, 1_300_000, 1_200_000, 12_000),
            _row(940_000, 1_140_000, 1_180_000, 1_200_000, 14_000)]  # this seed keeps real time at high
    slowest, median, realtime = bracket_cells(rows)
    assert slowest == "920 / 1120 / 1240"
    assert median == "13.0 / 13.0 / 13.0"
    assert realtime == "yes / yes / no"  # the first seed overruns at high: the dt does not keep real time


def test_an_end_a_run_could_not_estimate_is_a_dash_and_not_real_time():
    overran = _row(1_400_000, None, None, 1_000_000, 20_000)  # summary.json: only the charged end under overruns
    slowest, median, realtime = bracket_cells([overran])
    assert slowest == "1400 / - / -" and median == "20.0 / - / -"
    assert realtime == "no / no / no"


def test_a_short_variant_keeps_the_axes_and_runs_other_points():
    full, short = load_with(STUDY), load_with(STUDY, ["training.epochs=1"])
    assert [p.axes for p in short.points] == [p.axes for p in full.points]
    assert all("training.epochs=1" in p.sets for p in short.points)
    assert {p.id for p in short.points}.isdisjoint(p.id for p in full.points)  # never mixed with the full study


@pytest.mark.parametrize("bad", ["training.epochs", "nope.x=1"])
def test_a_bad_override_is_one_line_and_exit_2(bad, capsys):
    with pytest.raises(SystemExit) as stop:
        load_with(STUDY, [bad])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and bad.split("=")[0] in err
