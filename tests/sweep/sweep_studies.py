"""Tiny lif_bench studies shared by the sweep tests (imported by the test modules; not a test file)."""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIF = ROOT / "networks" / "lif_bench.yaml"
BASE_SET = {"run.ticks": 4, "network.layers": [64, 64, 32]}
#: Columns that depend on the machine, not on the simulation.
WALL_CLOCK = ("wall_time_s",)


def tiny_study(**extra) -> dict:
    """2 x 2 points: PE size (grid) x input rate (paired with the seed), all on 3-5 PEs."""
    study = {"study": "tiny", "description": "tiny lif_bench study for the tests", "network": str(LIF),
             "set": dict(BASE_SET),
             "product": {"mapping.neurons_per_pe": [32, 64]},
             "zip": {"network.input_rate_hz": [10.0, 40.0], "run.seed": [1, 2]},
             "metrics": ["traffic.packets"],
             "plots": [{"x": "mapping.neurons_per_pe", "y": "latency.timestep_ns.max",
                        "colour": "network.input_rate_hz"}]}
    study.update(extra)
    return study


def write_study(path: Path, study: dict) -> Path:
    path.write_text(json.dumps(study))  # JSON is YAML
    return path


def comparable(frame):
    """The results table without wall-clock columns, in point order."""
    return frame.drop(columns=[c for c in WALL_CLOCK if c in frame.columns]).sort_values("point").reset_index(drop=True)


