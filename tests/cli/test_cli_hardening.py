"""Issue 10: output folders, plain-text errors, lazy commands, progress lines, data prepare, arch show."""
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from s2sim.cli import main

REPO = Path(__file__).resolve().parents[2]
LIF = str(REPO / "networks" / "lif_bench.yaml")
TINY_LIF = ["--set", "run.ticks=5", "--set", "network.layers=[8,16,8]", "--set", "mapping.neurons_per_pe=8",
            "--quiet"]


def cli(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def error_line(res):
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    return lines[0]


# ---- output paths --------------------------------------------------------------------------------
def test_an_out_folder_holding_a_run_is_refused_unless_forced(tmp_path):
    out = tmp_path / "run"
    assert cli("run", LIF, *TINY_LIF, "--out", out).exit_code == 0
    (out / "checkpoint.npz").write_bytes(b"stale")
    line = error_line(cli("run", LIF, *TINY_LIF, "--out", out))
    assert "already holds a run" in line and "--force" in line
    assert (out / "summary.json").exists(), "a refused run must not touch the old one"
    assert cli("run", LIF, *TINY_LIF, "--out", out, "--force").exit_code == 0
    assert not (out / "checkpoint.npz").exists(), "--force removes the stale checkpoint"


def test_the_run_name_cannot_escape_traces(tmp_path):
    net = tmp_path / "net.yaml"
    net.write_text((REPO / "networks" / "lif_bench.yaml").read_text().replace("name: lif_bench",
                                                                               "name: ../../../../tmp/escape"))
    res = CliRunner().invoke(main, ["run", str(net), *TINY_LIF], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    with_cwd = list((Path.cwd() / "traces").glob("tmp_escape-*"))
    try:
        assert with_cwd, "the run folder is traces/<sanitised name>-<time>"
    finally:
        import shutil
        for d in with_cwd:
            shutil.rmtree(d)


def test_arch_must_be_a_packaged_name_or_a_yaml_file(tmp_path):
    line = error_line(cli("validate", LIF, "--set", "arch=/etc/passwd"))
    assert "arch" in line and ".yaml" in line


def test_a_number_of_ranks_below_one_is_one_line_and_writes_nothing(tmp_path):
    line = error_line(cli("run", LIF, "--ranks", 0, "--out", tmp_path / "run"))
    assert "--ranks 0" in line and ">= 1" in line
    assert not (tmp_path / "run").exists()


def test_resume_from_a_file_or_a_missing_folder_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    assert "is a file" in error_line(cli("run", LIF, "--resume", tmp_path / "file"))
    line = error_line(cli("run", LIF, "--resume", tmp_path / "nowhere"))
    assert "does not exist" in line and "earlier run" in line


def test_an_unwritable_out_is_one_line_and_a_failed_run_leaves_no_empty_folder(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    line = error_line(cli("run", LIF, *TINY_LIF, "--out", blocker / "run"))
    assert "cannot create" in line
    out = tmp_path / "new" / "run"
    error_line(cli("run", LIF, *TINY_LIF, "--out", out, "--set", "network.layers=[8,16,8,8,8,8,8,8,8,8,8,8]",
                   "--set", "mapping.neurons_per_pe=1", "--set", "mapping.first_pe=150"))
    assert not (tmp_path / "new").exists(), "the folders the failed run created are removed"


# ---- errors are plain text ----------------------------------------------------------------------
def test_markup_in_a_user_value_survives_in_the_error(tmp_path):
    line = error_line(cli("validate", LIF, "--set", "run.simulator.noc_fidelity='[red]x[/red]'"))
    assert "[red]x[/red]" in line


def test_the_error_label_is_plain_in_a_subprocess():
    res = subprocess.run([sys.executable, "-m", "s2sim.cli", "validate", LIF, "--set", "name=[bold]n[/]",
                          "--set", "run.seed=-1"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and res.stderr.startswith("error: "), res.stderr


# ---- commands and speed ----------------------------------------------------------------------------
def test_report_and_compare_are_always_commands_and_validate_imports_no_scipy():
    code = ("import sys; from click.testing import CliRunner; from s2sim.cli import main; "
            "r = CliRunner().invoke(main, ['validate', 'networks/gsc.yaml']); assert r.exit_code == 0, r.output; "
            "print(sorted(m for m in ('scipy', 'matplotlib', 's2sim.profile.commands') if m in sys.modules)); "
            "print(sorted(main.list_commands(None)))")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    heavy, commands = res.stdout.strip().splitlines()
    assert heavy == "[]", "validate must not import scipy, matplotlib or the profiler"
    assert "'report'" in commands and "'compare'" in commands
    assert cli("report", "--help").exit_code == 0 and cli("compare", "--help").exit_code == 0


def test_a_logged_run_prints_a_progress_line_every_ten_percent():
    from s2sim.progress import progress_factory
    stream = io.StringIO()
    with progress_factory(True, stream=stream) as make:
        advance = make("epoch 1/1", 200)
        for _ in range(200):
            advance(1)
    lines = stream.getvalue().splitlines()
    assert [ln.split(":")[1].split("%")[0].strip() for ln in lines] == [str(p) for p in range(10, 101, 10)]


def test_data_prepare_fsdd_reports_sizes_and_skipped_files(tmp_path, monkeypatch):
    from scipy.io import wavfile
    monkeypatch.setenv("S2SIM_CACHE", str(tmp_path / "cache"))
    rec = tmp_path / "fsdd" / "recordings"
    rec.mkdir(parents=True)
    t = np.arange(4000) / 8000
    for name in ["1_a_0.wav", "1_a_7.wav", "2_b_8.wav", "2_b_1.wav", "3_c_9.wav"]:
        wavfile.write(rec / name, 8000, (8000 * np.sin(2 * np.pi * 300 * int(name[0]) * t)).astype(np.int16))
    (rec / "4_d_9.wav").write_bytes(b"RIFF junk")
    res = cli("data", "prepare", "fsdd", "--source", tmp_path / "fsdd")
    assert res.exit_code == 0, (res.output, res.exception)
    assert "1 files skipped" in res.output
    assert "4_d_9.wav" in res.stderr


def test_arch_show_prints_parameter_paths_unbroken():
    from s2sim.config import load_arch
    res = CliRunner().invoke(main, ["arch", "show", "spinnaker2"], terminal_width=60)
    assert res.exit_code == 0
    text = res.output
    for key in load_arch("spinnaker2").provenance():
        assert key in text, key


def test_a_line_break_inside_a_user_value_keeps_the_error_on_one_line():
    line = error_line(cli("validate", LIF, "--set", 'firmware.package="dense\\n"'))
    assert "dense\\n" in line


def test_ctrl_c_during_a_run_without_checkpoint_says_nothing_was_kept(tmp_path, monkeypatch):
    """An interrupted LIF run (no checkpoint) leaves no folder and does not promise a resume."""
    from firmware_models.lif_inference import app as lif_app

    def interrupted(ctx):
        raise KeyboardInterrupt
    monkeypatch.setattr(lif_app, "run", interrupted)
    res = cli("run", LIF, *TINY_LIF, "--out", tmp_path / "run")
    assert res.exit_code == 130, (res.exit_code, res.output)
    assert "nothing was kept" in res.stderr and "--resume" not in res.stderr
    assert not (tmp_path / "run").exists()


def test_ctrl_c_while_writing_the_report_keeps_the_complete_run(tmp_path, monkeypatch):
    from s2sim.profile import report

    def interrupted(out_dir):
        raise KeyboardInterrupt
    monkeypatch.setattr(report, "auto_report", interrupted)
    res = cli("run", LIF, *TINY_LIF, "--out", tmp_path / "run")
    assert res.exit_code == 130 and "is complete" in res.stderr and "s2sim report" in res.stderr
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["timesteps"] == 5


def test_an_unknown_group_numerics_switch_in_the_environment_is_one_line(tmp_path):
    line = error_line(cli("run", LIF, "--out", tmp_path / "run", *TINY_LIF, env={"S2SIM_GROUP_NUMERICS": "maybe"}))
    assert "S2SIM_GROUP_NUMERICS='maybe'" in line and "expected 0" in line
    assert not (tmp_path / "run").exists()


def test_an_unknown_simulation_kernel_in_the_environment_is_one_line(tmp_path):
    line = error_line(cli("run", LIF, "--out", tmp_path / "run", *TINY_LIF, env={"S2SIM_KERNEL": "turbo"}))
    assert "S2SIM_KERNEL='turbo'" in line and "fast, exact" in line
    assert not (tmp_path / "run").exists()


def test_an_out_that_is_an_existing_file_is_one_line_naming_it_and_the_file_is_untouched(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    line = error_line(cli("run", LIF, *TINY_LIF, "--out", target))
    assert f"--out {target}: is a file" in line and "expected a folder" in line
    assert target.read_text() == "mine"


GSC = str(REPO / "networks" / "gsc.yaml")


def test_a_bad_app_value_given_by_set_is_blamed_on_the_set_not_the_network_file(tmp_path):
    for command in (["validate", GSC], ["run", GSC, "--quiet", "--out", tmp_path / "run"]):
        line = error_line(cli(*command, "--set", "network.n_rec=-3"))
        assert line.startswith("error: --set: network.n_rec: got -3") and "gsc.yaml" not in line, line
    assert not (tmp_path / "run").exists()
    line = error_line(cli("validate", LIF, "--set", "training.epochs=3"))  # a section the app does not use
    assert line.startswith("error: --set: training:") and "does not use this section" in line


def test_a_bad_app_value_in_the_file_is_still_blamed_on_the_file_beside_an_unrelated_set(tmp_path):
    net = tmp_path / "net.yaml"
    net.write_text(Path(GSC).read_text().replace("n_rec: 120", "n_rec: -3"))
    line = error_line(cli("validate", net, "--set", "network.n_in=80"))
    assert line.startswith(f"error: {net}: network.n_rec: got -3"), line


# ---- a full disk ----------------------------------------------------------------------------------
def _disk_full(path):
    import errno
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


def test_a_report_lost_to_a_full_disk_is_said_under_quiet_and_leaves_none_of_its_files(tmp_path, monkeypatch):
    """The run is complete (summary.json whole) but the disk fills while the report's plots are written: one
    line, exit 1 (not 0: the user asked for a report; not 2: the run is usable), no cut PNG or CSV left."""
    from s2sim.profile import plots

    def one_plot_then_full(run, out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "memory.png").write_bytes(b"\x89PNG cut")
        _disk_full(out_dir / "latency_heatmap.png")
    monkeypatch.setattr(plots, "all_plots", one_plot_then_full)
    out = tmp_path / "run"
    res = cli("run", LIF, *TINY_LIF, "--out", out)
    assert res.exit_code == 1, (res.exit_code, res.output)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: report not written: {out / 'plots'}"), res.stderr
    assert "No space left on device" in lines[0] and f"s2sim report {out}" in lines[0]
    assert json.loads((out / "summary.json").read_text())["timesteps"] == 5
    assert sorted(p.name for p in out.iterdir()) == ["summary.json", "timesteps.csv"]


def test_a_summary_lost_to_a_full_disk_leaves_no_cut_outputs_and_no_folder(tmp_path, monkeypatch):
    from s2sim.profile import summary
    monkeypatch.setattr(summary, "write_json_atomic", lambda obj, path: _disk_full(path))
    out = tmp_path / "new" / "run"
    line = error_line(cli("run", LIF, *TINY_LIF, "--out", out))
    assert f"{out / 'summary.json'}: cannot write run output (No space left on device)" in line
    assert not (tmp_path / "new").exists(), "timesteps.csv without a summary would look like a run"
