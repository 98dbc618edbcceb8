"""`s2sim sweep` runs a study over a NIR model like any other network: the shipped study
(networks/studies/nir_snntorch_tick.yaml), cut to two tick lengths."""
import json
from pathlib import Path

import pytest
import yaml

nir = pytest.importorskip("nir")
pytest.importorskip("pandas")

from s2sim.sweep import run_study  # noqa: E402

STUDY = Path(__file__).resolve().parents[2] / "networks" / "studies" / "nir_snntorch_tick.yaml"


def test_two_tick_lengths_of_the_snntorch_model_keep_its_dynamics_and_scale_its_energy(tmp_path):
    study = yaml.safe_load(STUDY.read_text())
    study["network"] = str((STUDY.parent / study["network"]).resolve())
    study["product"] = {"run.tick_ns": [25000, 100000]}
    study["plots"] = [{"x": "run.tick_ns", "y": "energy.per_sample_j"}]
    frame = run_study(study, out=tmp_path / "sweep", workers=1).sort_values("run.tick_ns")
    assert list(frame["status"]) == ["ok", "ok"], frame["error"].tolist()
    apps = [json.loads((tmp_path / "sweep" / "points" / p / "summary.json").read_text())["app"]
            for p in frame["point"]]
    assert [a["dt_ns"] for a in apps] == [100000.0, 100000.0]  # the file's dt, not the tick
    assert apps[0]["spikes_per_population"] == apps[1]["spikes_per_population"]
    short, long = frame["energy.per_sample_j"].tolist()
    assert long > 2 * short  # the same work, four times the idle time at the chip's baseline power
    assert (frame["latency.overruns"] == 0).all()
