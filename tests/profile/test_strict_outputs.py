"""Issue 22: a summary with a NaN in it is still JSON, and a full disk leaves no half file behind."""
import errno
import json
from pathlib import Path

import numpy as np
import pytest

from s2sim.outdir import atomic_write_text
from s2sim.profile.summary import write_json_atomic


def test_nan_and_inf_in_a_summary_are_written_as_null_so_any_json_reader_accepts_it(tmp_path):
    path = tmp_path / "summary.json"
    write_json_atomic({"loss": float("nan"), "acc": np.float32(0.5), "hist": [1.0, np.inf],
                       "arr": np.array([np.nan, 2.0])}, path)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"loss": None, "acc": 0.5, "hist": [1.0, None], "arr": [None, 2.0]}


def test_a_full_disk_while_writing_leaves_neither_the_file_nor_its_temp(tmp_path, monkeypatch):
    out = tmp_path / "report.html"

    def full(self, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_text(out, "<html>")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rewrite_keeps_the_previous_complete_file(tmp_path, monkeypatch):
    out = tmp_path / "summary.json"
    atomic_write_text(out, "old")
    monkeypatch.setattr("os.replace", lambda *a: (_ for _ in ()).throw(OSError(errno.EROFS, "read-only")))
    with pytest.raises(OSError):
        atomic_write_text(out, "new")
    assert out.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["summary.json"]


def test_a_report_that_cannot_be_written_is_said_in_one_line_and_leaves_the_run_complete(tmp_path, monkeypatch):
    import s2sim.profile.report as report

    def full(out_dir):
        raise OSError(errno.ENOSPC, "No space left on device", str(Path(out_dir) / "report.html"))

    monkeypatch.setattr(report, "write_report", full)
    monkeypatch.setattr(report, "matplotlib_available", lambda: True)
    path, line, failed = report.auto_report(tmp_path)
    assert path is None and failed
    assert line.startswith(f"report not written: {tmp_path / 'report.html'}: No space left on device")
    assert f"s2sim report {tmp_path}" in line


def test_a_heatmap_of_nearly_equal_pes_is_scaled_from_zero_so_noise_is_not_painted_as_structure():
    from s2sim.profile.plots import HEATMAP_MIN_SPREAD, heatmap_scale
    flat = np.ma.masked_array([[900.0, 900.6], [900.3, 900.1]])  # 0.07 % apart, as gsc's PEs are
    scale, note = heatmap_scale(flat)
    assert scale == {"vmin": 0.0, "vmax": 900.6} and "all within 0.067 %" in note
    spread = np.ma.masked_array([[500.0, 900.0]])  # really different: min to max, as matplotlib does
    assert heatmap_scale(spread) == ({}, "")
    edge = np.ma.masked_array([[100.0 * (1 - HEATMAP_MIN_SPREAD), 100.0]])
    assert heatmap_scale(edge) == ({}, "")
