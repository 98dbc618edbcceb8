"""Issue 10 item 4: a resumed run's summary covers the whole run; EventProp refuses a mismatched resume."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from s2sim.cli import main

REPO = Path(__file__).resolve().parents[2]
YINYANG = ["run", str(REPO / "networks" / "yinyang.yaml"), "--quiet", "--set", "network.batch=2",
           "--set", "network.layers=[5,8,3]", "--set", "training.max_batches=2"]
GSC = ["run", str(REPO / "networks" / "gsc.yaml"), "--quiet", "--set", "network.n_rec=12",
       "--set", "dataset.n_train=3", "--set", "dataset.n_valid=2", "--set", "dataset.n_test=2"]


def cli(*args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    return res


def summary(d: Path) -> dict:
    return json.loads((d / "summary.json").read_text())


@pytest.mark.parametrize("base, epochs_key", [(YINYANG, "training.epochs"), (GSC, "training.epochs")],
                         ids=["eventprop", "eprop"])
def test_a_resumed_run_reports_the_whole_run(tmp_path, base, epochs_key):
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert cli(*base, "--set", f"{epochs_key}=2", "--out", whole).exit_code == 0
    first = cli(*base, "--set", f"{epochs_key}=1", "--out", split)
    assert first.exit_code == 0, first.output
    part1 = summary(split)
    res = cli(*base, "--set", f"{epochs_key}=2", "--resume", split)
    assert res.exit_code == 0, (res.output, res.exception)
    a, b = summary(whole), summary(split)
    assert b["samples"] == a["samples"] and b["timesteps"] == a["timesteps"]
    assert b["samples"] > part1["samples"] > 0
    assert b["resume"]["covers_whole_run"] is True and b["covers_samples"] == a["samples"]
    assert b["resumed_from"] == str(split)
    assert b["energy"]["total_j"] == pytest.approx(a["energy"]["total_j"], rel=0.02)
    assert b["energy"]["total_j"] == pytest.approx(sum(b["energy"]["breakdown_j"].values()))
    assert b["traffic"]["packets"] == a["traffic"]["packets"]
    assert b["latency"]["timestep_ns"]["max"] == pytest.approx(a["latency"]["timestep_ns"]["max"])
    assert "latency.timestep_ns.median" in b["resume"]["covers_only_resumed_part"]


@pytest.fixture(scope="module")
def finished_yinyang_run(tmp_path_factory):
    """One finished 1-epoch EventProp chip run, shared: a refused resume leaves it untouched."""
    run = tmp_path_factory.mktemp("yinyang") / "run"
    assert cli(*YINYANG, "--set", "training.epochs=1", "--out", run).exit_code == 0
    return run


@pytest.mark.parametrize("change, key", [("run.seed=43", "run.seed"), ("training.init_seed=3", "training.init_seed"),
                                         ("training.max_batches=1", "training.max_batches"),
                                         ("network.layers=[5,9,3]", "network.layers")])
def test_eventprop_refuses_a_checkpoint_made_with_other_settings(finished_yinyang_run, change, key):
    run = finished_yinyang_run
    res = cli(*YINYANG, "--set", "training.epochs=2", "--set", change, "--resume", run)
    assert res.exit_code == 2, res.output
    assert key in res.stderr and "Traceback" not in res.stderr
    assert (run / "summary.json").exists(), "a refused resume keeps the finished run's summary"
