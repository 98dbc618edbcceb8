"""Report: PNGs + self-contained report.html; `s2sim report` / `compare` and their bad-input errors."""
from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys

import pytest
from profile_runs import ROOT, run_cli, small_run

from s2sim.profile.report import write_report
from s2sim.profile.summary import SUMMARY_SCHEMA

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return small_run(tmp_path_factory.mktemp("report") / "run")


def test_report_html_embeds_every_figure_as_png(run_dir):
    res = run_cli("report", run_dir)
    assert res.exit_code == 0, res.output
    html = (run_dir / "report.html").read_text()
    uris = re.findall(r'<img[^>]*src="([^"]+)"', html)
    assert len(uris) == 4
    for uri in uris:
        assert uri.startswith("data:image/png;base64,")  # self-contained: no external files
        assert base64.b64decode(uri.split(",", 1)[1]).startswith(PNG_MAGIC)
    for name in ("memory.png", "latency_heatmap.png", "phases.png", "energy.png"):
        assert (run_dir / "plots" / name).read_bytes().startswith(PNG_MAGIC)
    for section in ("Memory", "Latency", "Energy", "Provenance", "timer_overruns"):
        assert section in html
    assert "mac_array: not used by this firmware" in html  # said, instead of a 0 J component


def test_report_csvs_agree_with_summary(run_dir):
    write_report(run_dir, plots=False)
    summary = json.loads((run_dir / "summary.json").read_text())
    rows = (run_dir / "memory_regions.csv").read_text().splitlines()[1:]
    assert sum(int(r.split(",")[3]) for r in rows) == summary["memory"]["total_bytes"]
    lat = (run_dir / "latency_per_pe.csv").read_text().splitlines()
    assert len(lat) == 1 + summary["pes_used"]


def test_report_on_a_directory_that_is_not_a_run_exits_2(tmp_path):
    res = run_cli("report", tmp_path)
    assert res.exit_code == 2
    assert "no summary.json" in res.output and len(res.output.strip().splitlines()) == 1


def test_report_on_a_run_of_another_schema_exits_2(run_dir, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    s = json.loads((old / "summary.json").read_text())
    s["schema"] = SUMMARY_SCHEMA + 1
    (old / "summary.json").write_text(json.dumps(s))
    res = run_cli("report", old)
    assert res.exit_code == 2 and "schema" in res.output
    res = run_cli("compare", run_dir, old)
    assert res.exit_code == 2 and "schema" in res.output


def test_compare_shows_what_changed(run_dir, tmp_path):
    other = small_run(tmp_path / "other", "--set", "network.layers=[64,96,32]")
    res = run_cli("compare", run_dir, other)
    assert res.exit_code == 0, res.output
    assert "memory" in res.output and "total" in res.output and "network.layers" in res.output


def test_report_renders_in_headless_chromium(run_dir, tmp_path):
    if not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")):
        pytest.skip("chromium is not installed (apt-get install chromium) - cannot render report.html")
    write_report(run_dir)
    out = tmp_path / "shot.png"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "screenshot_report.py"), str(run_dir), str(out),
                           "--height", "2500"], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(PNG_MAGIC)
    from matplotlib import image
    img = image.imread(str(out))
    assert img.shape[0] == 2500 and img[..., :3].std() > 0.01  # not blank


def test_auto_report_for_run_writes_the_report(run_dir):
    from s2sim.profile.report import auto_report
    (run_dir / "report.html").unlink(missing_ok=True)
    path, message, failed = auto_report(run_dir)
    assert not failed
    assert path == run_dir / "report.html" and path.exists() and str(path) in message
