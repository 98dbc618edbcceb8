"""Bad or surprising sweep input: one plain line and exit 2 before any point runs, never a traceback,
never someone else's folder taken over, never a user string read as markup."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from s2sim.cli import main
from s2sim.config import ConfigError
from s2sim.sweep import load_study
from s2sim.sweep.api import default_sweep_dir, prepare_out_dir

from sweep_studies import tiny_study, write_study

SMALL = {"product": {"run.seed": [1, 2]}, "zip": {}, "plots": []}


def cli(*args) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.stdout, res.stderr


def one_error_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def test_repeated_axis_values_are_refused_with_the_values_named():
    with pytest.raises(ConfigError, match=r"product\.run\.seed: repeats the value\(s\) 1"):
        load_study(tiny_study(product={"run.seed": [1, 1, 1, 2]}, zip={}, plots=[]))
    with pytest.raises(ConfigError, match=r"zip: repeats the pair\(s\) \(network.input_rate_hz, run.seed\) = \[10.0, 1\]"):
        load_study(tiny_study(zip={"network.input_rate_hz": [10.0, 10.0], "run.seed": [1, 1]}))


def test_values_that_resolve_to_the_same_config_are_one_point():
    with pytest.raises(ConfigError, match=r"points run.tick_ns=1000000 and run.tick_ns=1000000.0 resolve to the same"):
        load_study(tiny_study(product={"run.tick_ns": [1000000, 1000000.0]}, zip={}, plots=[]))


def test_a_study_name_never_writes_outside_traces():
    study = load_study(tiny_study(study="../../../tmp/x", **SMALL))
    assert default_sweep_dir(study) == Path("traces") / "study-tmp_x"


def test_resume_refuses_another_studys_folder_and_a_corrupt_record(tmp_path):
    prepare_out_dir(load_study(tiny_study(study="first", **SMALL)), tmp_path / "s", resume=False)
    other = write_study(tmp_path / "other.yaml", tiny_study(study="second", **SMALL))
    code, _, err = cli("sweep", other, "--out", tmp_path / "s", "--resume", "--workers", "1")
    assert code == 2 and "holds the sweep of study 'first', not 'second'" in one_error_line(err)
    code, _, err = cli("sweep", other, "--out", tmp_path / "s", "--workers", "1")
    assert code == 2, "without --resume too: the folder is another study's"
    assert json.loads((tmp_path / "s" / "study.json").read_text())["study"] == "first", "left untouched"
    (tmp_path / "s" / "study.json").write_text("{not json")
    code, _, err = cli("sweep", other, "--out", tmp_path / "s", "--resume", "--workers", "1")
    assert code == 2 and "study.json: not a readable sweep record" in one_error_line(err)
    assert not any((tmp_path / "s" / "points").iterdir()), "no point ran"


def test_markup_in_a_study_name_is_printed_as_text(tmp_path):
    study = write_study(tmp_path / "t.yaml", tiny_study(study="a[/]b[bold]", **SMALL))
    code, out, err = cli("validate", study)
    assert code == 0 and "study a[/]b[bold]: 2 points" in out, err
    code, out, err = cli("sweep", study, "--out", tmp_path / "o", "--workers", "1", "--no-point-reports")
    assert code == 0 and "study a[/]b[bold]: 2 points (0 already complete, 2 run, 0 failed)" in out, err


def test_a_failing_points_label_with_markup_is_printed_as_text(tmp_path):
    from s2sim.sweep.commands import _ProgressBar
    from s2sim.sweep.execute import Progress
    bar = _ProgressBar(enabled=False)
    bar(Progress(total=1, failed=1), "point abc (name=[/]) failed: [red]x")  # no MarkupError


def test_a_scheduler_that_is_no_address_is_one_line(tmp_path):
    pytest.importorskip("distributed")
    study = write_study(tmp_path / "t.yaml", tiny_study(**SMALL))
    code, _, err = cli("sweep", study, "--out", tmp_path / "o", "--scheduler", "not a url")
    line = one_error_line(err)
    assert code == 2 and "--scheduler not a url: not a scheduler address" in line


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:99999", "tcp://:8786", "tcp://127.0.0.1:0"])
def test_an_address_no_scheduler_can_have_is_refused_without_waiting_for_the_timeout(tmp_path, address):
    """Fuzzing (issue 22): port 99999 waited out Dask's 30 s connection timeout before saying so."""
    pytest.importorskip("distributed")
    import time
    study = write_study(tmp_path / "t.yaml", tiny_study(**SMALL))
    t0 = time.perf_counter()
    code, _, err = cli("sweep", study, "--out", tmp_path / "o", "--scheduler", address)
    assert code == 2 and f"--scheduler {address}: not a scheduler address" in one_error_line(err)
    assert time.perf_counter() - t0 < 20, "refused only after the connection timeout"


def test_an_output_folder_that_cannot_be_made_is_named(tmp_path):
    (tmp_path / "file").write_text("")
    study = write_study(tmp_path / "t.yaml", tiny_study(**SMALL))
    code, _, err = cli("sweep", study, "--out", tmp_path / "file" / "sweep", "--workers", "1")
    line = one_error_line(err)
    assert code == 2 and str(tmp_path / "file") in line and "t.yaml" not in line


def test_an_out_that_is_an_existing_file_is_one_line_naming_it(tmp_path):
    (tmp_path / "file").write_text("mine")
    study = write_study(tmp_path / "t.yaml", tiny_study(**SMALL))
    code, _, err = cli("sweep", study, "--out", tmp_path / "file", "--workers", "1")
    line = one_error_line(err)
    assert code == 2 and f"--out {tmp_path / 'file'}: is a file; expected a folder" in line
    assert (tmp_path / "file").read_text() == "mine"


def test_a_big_sweep_needs_yes_before_it_starts(tmp_path, monkeypatch):
    import s2sim.sweep.commands as commands
    monkeypatch.setattr(commands, "CONFIRM_POINTS", 1)
    study = write_study(tmp_path / "t.yaml", tiny_study(**SMALL))
    code, _, err = cli("sweep", study, "--out", tmp_path / "o", "--workers", "1")
    assert code == 2 and "has 2 points to run (more than 1); rerun with --yes" in one_error_line(err)
    assert not any((tmp_path / "o" / "points").iterdir()), "nothing ran"
    code, _, err = cli("sweep", study, "--out", tmp_path / "o", "--workers", "1", "--yes", "--no-point-reports")
    assert code == 0, err


def test_point_reports_can_be_skipped(tmp_path):
    from s2sim.sweep import run_study
    frame = run_study(tiny_study(**SMALL), out=tmp_path / "o", workers=1, point_reports=False, plots=False)
    assert (frame["status"] == "ok").all() and frame["report"].isna().all()
    assert not list((tmp_path / "o" / "points").glob("*/report.html"))


def test_a_study_too_big_to_validate_is_refused_before_any_point_is_built(tmp_path):
    """Fuzzing (issue 22): 3,000 seeds x 10 tick counts made `validate` resolve 30,000 configs (146 s)."""
    from s2sim.sweep.study import MAX_STUDY_POINTS
    study = write_study(tmp_path / "big.yaml", tiny_study(product={"run.seed": list(range(3000)), "run.ticks": list(range(1, 11))},
                                             zip={}, plots=[]))
    code, _, err = cli("validate", study)
    line = one_error_line(err)
    assert code == 2 and "makes 30000 points" in line and "run.seed has 3000" in line
    assert f"at most {MAX_STUDY_POINTS}" in line
    just_below = tiny_study(product={"run.seed": list(range(MAX_STUDY_POINTS // 2)), "run.ticks": [1, 2]}, zip={}, plots=[])
    from s2sim.sweep.study import StudyFile, _check_point_count
    _check_point_count(StudyFile(**just_below), "s.yaml")  # exactly the limit passes


@pytest.mark.parametrize("scheduler", ["\x1e", "a\u2028b", "x\x0bz"])
def test_a_control_character_in_a_user_string_stays_on_the_one_error_line(tmp_path, scheduler):
    """Fuzzing (issue 22): '\\x1e' (which str.splitlines breaks at) split the error over two lines."""
    pytest.importorskip("distributed")
    study = write_study(tmp_path / "t.yaml", tiny_study(**SMALL))
    code, _, err = cli("sweep", study, "--out", tmp_path / "o", "--scheduler", scheduler)
    assert code == 2 and "not a scheduler address" in one_error_line(err)
    assert len(err.strip().splitlines()) == 1
