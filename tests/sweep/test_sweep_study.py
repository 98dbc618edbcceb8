"""Study files: axes expand into points, every point is validated first, ids are content addresses."""
from __future__ import annotations

import subprocess
import sys

import pytest

from s2sim.config import ConfigError
from s2sim.sweep import load_study
from s2sim.sweep.results import pareto_mask

from sweep_studies import ROOT, tiny_study, write_study


def test_product_axes_cross_and_zip_axes_pair():
    study = load_study(tiny_study())
    combos = [(p.axes["mapping.neurons_per_pe"], p.axes["network.input_rate_hz"], p.axes["run.seed"])
              for p in study.points]
    assert combos == [(32, 10.0, 1), (32, 40.0, 2), (64, 10.0, 1), (64, 40.0, 2)]
    assert study.points[0].sets[-3:] == ["mapping.neurons_per_pe=32", "network.input_rate_hz=10.0", "run.seed=1"]


def test_point_ids_are_content_addresses():
    a, b = load_study(tiny_study()), load_study(tiny_study())
    assert [p.id for p in a.points] == [p.id for p in b.points]
    assert len({p.id for p in a.points}) == 4
    # the same config spelled differently (a fixed override instead of the network's own value) is the same point
    same = load_study(tiny_study(product={"mapping.neurons_per_pe": [128]}, zip={}, plots=[]))
    spelled = load_study(tiny_study(product={}, zip={}, plots=[]))
    assert same.points[0].id == spelled.points[0].id


def test_an_invalid_point_names_the_axis_and_value():
    bad = tiny_study(product={"mapping.neurons_per_pe": [32, "lots"]})
    with pytest.raises(ConfigError) as err:
        load_study(bad)
    assert 'mapping.neurons_per_pe="lots"' in str(err.value)


def test_zip_axes_must_have_equal_length():
    with pytest.raises(ConfigError, match="paired axes differ in length"):
        load_study(tiny_study(zip={"network.input_rate_hz": [10.0, 40.0], "run.seed": [1]}))


def test_plots_name_known_columns():
    with pytest.raises(ConfigError, match=r"plots\[0\].y: unknown column"):
        load_study(tiny_study(plots=[{"x": "mapping.neurons_per_pe", "y": "latency.nope"}]))


def test_validate_accepts_a_study_and_rejects_a_bad_point_in_one_line(tmp_path):
    good = write_study(tmp_path / "good.yaml", tiny_study())
    res = subprocess.run([sys.executable, "-m", "s2sim.cli", "validate", str(good)], capture_output=True,
                         text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 0 and "4 points" in res.stdout, res.stderr
    bad = write_study(tmp_path / "bad.yaml", tiny_study(product={"network.p_connect": [0.1, "x"]}))
    res = subprocess.run([sys.executable, "-m", "s2sim.cli", "sweep", str(bad), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert 'network.p_connect="x"' in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "points").exists() or not any((tmp_path / "o" / "points").iterdir())


def test_pareto_front_keeps_the_non_dominated_points():
    pairs = [(1, 5), (2, 2), (3, 3), (5, 1), (None, 0), (2, 2)]
    assert pareto_mask(pairs) == [True, True, False, True, False, True]


def test_a_point_id_changes_with_the_s2sim_version(monkeypatch):
    # A new s2sim may time the same config differently: its results must not be taken for the old ones.
    import s2sim.sweep.study as study_module
    before = [p.id for p in load_study(tiny_study()).points]
    monkeypatch.setattr(study_module, "__version__", study_module.__version__ + ".post1")
    after = [p.id for p in load_study(tiny_study()).points]
    assert len(set(after)) == len(after) and not set(before) & set(after)
    monkeypatch.undo()
    assert [p.id for p in load_study(tiny_study()).points] == before
