"""Issue 22: config scalars are read as YAML 1.2 reads them, so a value never turns silently into another.

PyYAML alone reads YAML 1.1: ``yes`` is True (``training.epochs: yes`` ran one epoch), ``0x10`` is 16,
``010`` is 8, ``1:30`` is 90 and ``1_000`` is 1000.
"""
from pathlib import Path

import pytest
from click.testing import CliRunner

from s2sim.cli import main
from s2sim.config.yamlio import parse_yaml_text

GSC = str(Path(__file__).resolve().parents[2] / "networks" / "gsc.yaml")


@pytest.mark.parametrize("text, value", [
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"), ("n", "n"),
    ("0x10", "0x10"), ("0o17", "0o17"), ("1:30", "1:30"), ("1_000", "1_000"),
    ("010", 10), ("-7", -7), ("+3", 3),
    ("true", True), ("False", False),
    ("1e-3", 0.001), ("2.5", 2.5), (".5", 0.5), ("-1.5E+2", -150.0),
])
def test_a_scalar_means_what_yaml_1_2_says(text, value):
    got = parse_yaml_text(f"k: {text}", "t.yaml")["k"]
    assert got == value and type(got) is type(value)


def test_infinity_and_nan_are_still_read_as_floats_for_the_range_checks_to_refuse():
    got = parse_yaml_text("a: .inf\nb: -.inf\nc: .nan", "t.yaml")
    assert got["a"] == float("inf") and got["b"] == float("-inf") and got["c"] != got["c"]


@pytest.mark.parametrize("override, key", [("training.epochs=yes", "training.epochs"),
                                           ("network.n_rec=0x10", "network.n_rec"),
                                           ("run.seed=true", "run.seed")])
def test_a_yaml_1_1_spelling_is_a_one_line_error_naming_the_key(override, key):
    res = CliRunner().invoke(main, ["validate", GSC, "--set", override])
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and key in lines[0] and "Traceback" not in res.output
