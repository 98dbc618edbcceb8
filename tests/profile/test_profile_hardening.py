"""Issue 10: the console and the report agree on warnings; compare lists changed leaves; honest plots."""
import json

import numpy as np
from profile_runs import ROOT, run_cli, small_run

from s2sim.config.simulator import SimulatorSettings
from s2sim.run import simulator_section
from s2sim.profile.plots import outlier_steps, recording_cap_note
from s2sim.profile.tables import chip_warnings, simulator_rows, warning_rows


def _summary_with(app: dict, diagnostics: dict | None = None) -> dict:
    d = {"timer_overruns": 0, "task_queue_full": 0, "tx_queue_full": 0, "dma_queue_full": 0, "per_pe": {}}
    d.update(diagnostics or {})
    return {"diagnostics": d, "traffic": {"dropped": 0, "copies_undelivered": 0}, "app": dict(app)}


def test_late_packet_recomputes_is_simulator_bookkeeping_not_a_chip_warning():
    app, simulator = simulator_section({"late_packet_recomputes": 7, "late_learning": 0},
                                       SimulatorSettings(kernel="exact"))
    s = _summary_with(app)
    s["simulator"] = simulator
    assert s["simulator"]["kernel"] == "exact", "the section says which kernel ran"
    assert "late_packet_recomputes" not in s["app"]
    assert s["simulator"]["late_packet_recomputes"] == 7
    assert chip_warnings(s) == {}
    assert all(w["status"] != "WARN" for w in warning_rows(s))
    assert [r["counter"] for r in simulator_rows(s)] == ["late_packet_recomputes"]


def test_console_and_report_name_the_same_warnings():
    s = _summary_with({"late_learning": 2}, {"timer_overruns": 3})
    s["traffic"]["dropped"] = 1
    flagged = {w["warning"] for w in warning_rows(s) if w["status"] == "WARN"}
    assert set(chip_warnings(s)) == flagged == {"timer_overruns", "dropped", "late_learning"}


def test_compare_lists_changed_config_leaves_and_warns_on_different_networks(tmp_path):
    a = small_run(tmp_path / "a")
    b = small_run(tmp_path / "b", "--set", "arch.pe.sram_bytes=262144", "--set", "run.seed=5")
    res = run_cli("compare", a, b)
    assert res.exit_code == 0
    lines = [ln.strip() for ln in res.output.splitlines()]
    assert "run.seed = 1 → 5" in lines
    assert "arch.config.pe.sram_bytes = 131072 → 262144" in lines
    assert not any(".source =" in ln or ".confidence =" in ln for ln in lines), "one line per changed value"
    assert "different networks" not in res.stderr
    other = tmp_path / "c"
    res = run_cli("run", ROOT / "networks" / "lif_bench.yaml", "--out", other, "--quiet", "--set", "name=other",
                  "--set", "run.ticks=5", "--set", "network.layers=[8,8]", "--set", "mapping.neurons_per_pe=8")
    assert res.exit_code == 0
    assert "different networks" in run_cli("compare", a, other).stderr


def test_a_step_far_slower_than_the_rest_gets_its_own_colour_scale():
    heat = np.full((101, 12), 206e3)
    heat[100] = 429e3  # the e-prop learning tick
    apart = outlier_steps(heat)
    assert apart.tolist() == [False] * 100 + [True]
    assert not outlier_steps(heat[:100]).any()


def test_the_plot_says_when_the_recording_cap_cut_timesteps(tmp_path):
    out = small_run(tmp_path / "capped", "--set", "run.record_timesteps=8")
    s = json.loads((out / "summary.json").read_text())
    note = recording_cap_note(s)
    assert "first 8 of 20 timesteps" in note
    assert recording_cap_note(json.loads((small_run(tmp_path / "full") / "summary.json").read_text())) == ""


def test_the_latency_axis_has_no_offset(tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from s2sim.profile import plots
    from s2sim.profile.tables import load_run
    out = small_run(tmp_path / "r")
    monkeypatch.setattr(plt, "close", lambda *a, **k: None)  # keep the figure to look at it
    plots.latency_heatmap(load_run(out), tmp_path / "h.png")
    fig = plt.figure(plt.get_fignums()[-1])
    ax0 = fig.axes[0]
    assert ax0.yaxis.get_major_formatter().get_useOffset() is False
    monkeypatch.undo()
    plt.close("all")
