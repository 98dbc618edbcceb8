"""Small runs shared by the profiler tests (imported by the test modules; not a test file)."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from s2sim.cli import main

ROOT = Path(__file__).resolve().parents[2]
LIF = ROOT / "networks" / "lif_bench.yaml"
SMALL = ["--set", "run.ticks=20", "--set", "network.layers=[64,64,32]", "--set", "mapping.neurons_per_pe=32"]


def run_cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def small_run(out: Path, *extra: str) -> Path:
    """``s2sim run lif_bench`` with 5 PEs and 20 ticks into ``out``."""
    res = run_cli("run", LIF, "--out", out, "--quiet", *SMALL, *extra)
    assert res.exit_code == 0, res.output
    return out
