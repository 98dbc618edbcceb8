"""Fuzzing study files and sweeps: `s2sim validate STUDY.yaml` and `s2sim sweep` end in exit 0 with a sane
result, or exit 2 and one line ``error: ...`` — never a traceback, never a hang, never a folder outside
the one asked for.

Mutations: study names (``../``, rich markup, unicode, empty, wrong types), axes (repeated values, wrong
types, huge value lists, unknown keys and paths), bad ``--scheduler`` strings, ``--resume`` into a
foreign, corrupt or odd folder. Most cases go through ``validate`` in-process; a small sample of tiny
points (lif_bench, 3 ticks) through ``sweep --workers 1``.
"""
from __future__ import annotations

import csv
import json
import math
import tempfile
from pathlib import Path

from fuzz_cli import REPO, invoke
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SLOW_OK = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.function_scoped_fixture])


def at_most(n_ci: int, n_long: int) -> settings:
    """SLOW_OK with fewer examples than the profile's (these cases run a sweep): n_ci under ``ci``, n_long under ``long``."""
    return settings(SLOW_OK, max_examples=n_long if settings.default.max_examples > 40 else n_ci)


LIF = REPO / "networks" / "lif_bench.yaml"
#: lif_bench cut to 3 ticks of a small network: a point runs in ~1 s
TINY = {"run.ticks": 3, "network.layers": [16, 16, 8]}

NAMES = st.one_of(
    st.sampled_from(["../../../tmp/x", "..", ".", "/etc", "a/b", "[/]", "[red]x[/red]", "[bold", "é∂漢字",
                     "", "   ", "x" * 300, "nul\x00byte", "line\nbreak", "con", "-rf", "~user", "$HOME"]),
    st.text(max_size=20),
    st.sampled_from([None, 5, 1.5, True, [], {}, ["a"]]),
)
AXIS_PATHS = st.sampled_from(["run.seed", "run.ticks", "run.tick_ns", "network.input_rate_hz", "mapping.neurons_per_pe",
                              "network.layers", "run.out", "bogus.key", "network.bogus", "arch.pe.sram_bytes",
                              "run.performance_level", "", ".", "run..seed", "[red]x[/]"])
AXIS_VALUES = st.one_of(
    st.lists(st.integers(1, 3), min_size=1, max_size=4),                       # repeats likely
    st.lists(st.sampled_from([1, 1.0, "1", True, None, [], {}, "[/]", math.nan, math.inf, -1, 0, 10**30]),
             min_size=1, max_size=4),
    st.sampled_from([[], None, 5, "abc", {"a": 1}]),                           # not a list at all
    st.integers(2000, 200_000).map(lambda n: list(range(n))),                  # huge lists
)


@st.composite
def study_dict(draw) -> dict:
    """A tiny lif_bench study with one to four mutations."""
    study: dict = {"study": "fz", "network": str(LIF), "set": dict(TINY), "product": {"run.seed": [1, 2]}}
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["name", "product", "zip", "unknown", "delete", "network", "set", "metrics",
                                     "plots"]))
        if kind == "name":
            study["study"] = draw(NAMES)
        elif kind in ("product", "zip"):
            axes = study.setdefault(kind, {}) if isinstance(study.get(kind), dict) else {}
            axes[draw(AXIS_PATHS)] = draw(AXIS_VALUES)
            study[kind] = axes if draw(st.integers(0, 9)) else draw(st.sampled_from([[], "x", None, 3]))
        elif kind == "unknown":
            study[draw(st.sampled_from(["bogus", "Study", "axes", "grid", "points"]))] = draw(AXIS_VALUES)
        elif kind == "delete":
            study.pop(draw(st.sampled_from(["study", "network", "product", "set"])), None)
        elif kind == "network":
            study["network"] = draw(st.sampled_from(["", ".", "/", "missing.yaml", str(REPO / "networks"),
                                                     str(REPO / "README.md"), "../../../etc/passwd", 5, None,
                                                     str(REPO / "networks" / "studies" / "eprop_pes.yaml")]))
        elif kind == "set":
            study["set"] = draw(st.sampled_from([{"run.ticks": -1}, {"bogus": 1}, [], "x", {"run.out": "/tmp"},
                                                 {"run.ticks": math.nan}, {"network.layers": [0]}]))
        elif kind == "metrics":
            study["metrics"] = draw(st.sampled_from([["x.y"], "energy", [1], [None], ["[/]"], []]))
        else:
            study["plots"] = draw(st.sampled_from([[{"x": "run.seed"}], [{"x": "nope", "y": "pes_used"}], "x", [1],
                                                   [{"x": "run.seed", "y": "pes_used", "logx": "yes"}]]))
    return study


def fresh(tmp_path: Path) -> Path:
    """A new empty folder per example (hypothesis reuses the test's tmp_path across examples)."""
    return Path(tempfile.mkdtemp(dir=tmp_path))


def _write(tmp_path: Path, study: dict) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(json.dumps(study, allow_nan=True))  # JSON is YAML (NaN / Infinity read as strings)
    return path


@SLOW_OK
@given(study=study_dict())
def test_a_mutated_study_validates_or_is_refused_in_one_line(tmp_path, study):
    tmp_path = fresh(tmp_path)
    code, _, took = invoke(["validate", str(_write(tmp_path, study))], 30.0)
    assert not (tmp_path / "traces").exists(), "validate wrote a sweep folder"


def _rows(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "results.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@at_most(4, 40)
@given(name=NAMES, seeds=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       ticks=st.sampled_from([[3], [2, 3], [0], [-1], ["x"]]))
def test_a_tiny_sweep_runs_or_is_refused_and_stays_in_its_folder(tmp_path, name, seeds, ticks):
    tmp_path = fresh(tmp_path)
    study = {"study": name, "network": str(LIF), "set": {"network.layers": [16, 16, 8]},
             "product": {"run.seed": seeds, "run.ticks": ticks}}
    out = tmp_path / "sweep"
    code, _, _ = invoke(["sweep", str(_write(tmp_path, study)), "--workers", "1", "--no-point-reports", "--quiet",
                         "--out", str(out)], 180.0)
    outside = [p for p in tmp_path.iterdir() if p.name not in ("sweep", "study.yaml")]
    assert not outside, f"the sweep wrote outside --out: {outside}"
    if code == 0:  # a sane result: one row per distinct point, every one ok with a positive latency
        rows = _rows(out)
        assert len(rows) == len(set(seeds)) * len(ticks)
        for row in rows:
            assert row["status"] == "ok", row
            assert float(row["latency.timestep_ns.max"]) > 0
    else:
        assert not (out / "results.csv").exists(), "a refused sweep left a results table"


SCHEDULERS = st.one_of(
    st.sampled_from(["not a url", "", " ", "tcp://", "tcp://:", "tcp://host", "tcp://256.1.1.1:99999",
                     "http://[::1", "[red]x[/]", "tcp://127.0.0.1:-1", "inproc://", "ucx://", "\x00",
                     "tcp://127.0.0.1:0"]),
    st.text(max_size=15).filter(lambda s: "://" not in s),
)


@at_most(8, 60)
@given(scheduler=SCHEDULERS)
def test_a_bad_scheduler_string_is_one_line(tmp_path, scheduler):
    """Strings that are no reachable address; none of these may reach a 30 s connection timeout."""
    tmp_path = fresh(tmp_path)
    study = _write(tmp_path, {"study": "fz", "network": str(LIF), "set": dict(TINY), "product": {"run.seed": [1]}})
    code, err, _ = invoke(["sweep", str(study), "--scheduler", scheduler, "--quiet", "--out", str(tmp_path / "s")], 60.0)
    if code == 0:  # only "" (no address: the default local cluster) may run, and then fully
        assert scheduler == "" and len(_rows(tmp_path / "s")) == 1
    else:
        assert not (tmp_path / "s" / "results.csv").exists()


FOLDERS = st.sampled_from(["other_study", "corrupt_json", "json_list", "binary", "dir_as_record", "empty_dir",
                           "points_is_file", "foreign_files"])


def _make_folder(out: Path, kind: str) -> None:
    out.mkdir()
    record = out / "study.json"
    if kind == "other_study":
        record.write_text(json.dumps({"name": "someone_else", "points": []}))
    elif kind == "corrupt_json":
        record.write_text('{"name": "fz", "points": [')
    elif kind == "json_list":
        record.write_text("[1, 2, 3]")
    elif kind == "binary":
        record.write_bytes(bytes(range(256)))
    elif kind == "dir_as_record":
        record.mkdir()
    elif kind == "points_is_file":
        (out / "points").write_text("x")
    elif kind == "foreign_files":
        (out / "thesis.tex").write_text("do not delete")


@at_most(8, 8)
@given(kind=FOLDERS)
def test_resume_into_a_foreign_or_corrupt_folder_is_refused_or_harmless(tmp_path, kind):
    tmp_path = fresh(tmp_path)
    study = _write(tmp_path, {"study": "fz", "network": str(LIF), "set": dict(TINY), "product": {"run.seed": [1]}})
    out = tmp_path / f"s_{kind}"
    _make_folder(out, kind)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} if out.is_dir() else {}
    code, err, _ = invoke(["sweep", str(study), "--resume", "--workers", "1", "--no-point-reports", "--quiet",
                           "--out", str(out)], 180.0)
    assert code == 2, (kind, err)
    assert str(out) in err or out.name in err, err
    for p, blob in before.items():  # nothing of the folder's owner is overwritten
        assert p.read_bytes() == blob, p
