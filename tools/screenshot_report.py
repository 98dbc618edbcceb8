#!/usr/bin/env python3
"""Render a run's report.html in headless Chromium and save a screenshot.

    python tools/screenshot_report.py RUN_DIR OUT.png [--height 6000]

Builds the report first if RUN_DIR has none. Exits 2 with one line if Chromium is missing or the
run directory is not a run; exits 1 if the screenshot is missing or blank.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html: Path, out: Path, width: int = 1200, height: int = 6000, timeout_s: float = 90.0) -> None:
    """Headless Chromium screenshot of ``html`` into ``out`` (PNG). Raises RuntimeError on failure."""
    exe = find_chromium()
    if exe is None:
        raise RuntimeError("chromium not found (apt-get install chromium)")
    out = out.resolve()
    with tempfile.TemporaryDirectory(prefix="s2sim-chromium-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-dev-shm-usage", "--hide-scrollbars", "--no-first-run", f"--user-data-dir={profile}",
               f"--window-size={width},{height}", f"--screenshot={out}", html.resolve().as_uri()]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    if not out.exists() or out.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr.strip()[-400:]}")


def is_blank(png: Path) -> bool:
    """True when the image has (almost) a single colour."""
    import numpy as np
    from matplotlib import image
    img = image.imread(str(png))
    rgb = img[..., :3] if img.ndim == 3 else img
    return float(np.asarray(rgb).std()) < 1e-3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--height", type=int, default=6000)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from s2sim.profile.report import write_report
    from s2sim.profile.tables import RunDirError
    html = args.run_dir / "report.html"
    try:
        if not html.exists():
            html = write_report(args.run_dir)
    except RunDirError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        screenshot(html, args.out, args.width, args.height)
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2 if "not found" in str(err) else 1
    if is_blank(args.out):
        print(f"error: {args.out} is blank", file=sys.stderr)
        return 1
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
