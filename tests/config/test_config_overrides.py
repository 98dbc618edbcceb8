"""Overrides change a value and say so in its provenance; --set expressions parse safely."""

import pytest

from s2sim.config import ConfigError, load_arch, parse_set


def test_override_changes_value_and_marks_provenance():
    arch = load_arch("spinnaker2", {"pe": {"sram_bytes": 262144}}, origin="what-if.yaml")
    leaf = arch.provenance()["pe.sram_bytes"]
    assert leaf.value == 262144
    assert leaf.source == "override (what-if.yaml)"
    assert leaf.confidence == "estimate"
    assert "131072" in leaf.note


def test_untouched_leaves_keep_their_source():
    base = load_arch("spinnaker2").provenance()
    over = load_arch("spinnaker2", {"pe": {"sram_bytes": 262144}}).provenance()
    assert over["dram.channels"] == base["dram.channels"]


def test_override_performance_level_by_name():
    arch = load_arch("spinnaker2", {"performance_levels": {"pl_low": {"clock_mhz": 200}}})
    assert arch.performance_level("pl_low").clock_mhz.value == 200
    assert arch.performance_level("pl_high").clock_mhz.value == 300


def test_override_plain_leaf():
    assert load_arch("spinnaker2", {"default_performance_level": "pl_low"}).performance_level().name == "pl_low"


@pytest.mark.parametrize("overrides, expect", [
    ({"pe": {"sram_kb": 1}}, "ovr: pe: unknown key 'sram_kb'; expected one of: sram_bytes"),
    ({"bogus": 1}, "ovr: unknown key 'bogus'; expected one of: name, description, chip"),
    ({"pe": 4}, "ovr: pe: is a section, got 4"),
    ({"pe": {"sram_bytes": -1}}, "ovr: pe.sram_bytes: got -1; expected an integer >= 1"),
    ({"performance_levels": {"turbo": {"clock_mhz": 1}}}, "unknown key 'turbo'; expected one of: pl_low, pl_high"),
])
def test_bad_override_names_the_key(overrides, expect):
    with pytest.raises(ConfigError) as e:
        load_arch("spinnaker2", overrides, origin="ovr")
    assert expect in str(e.value)


@pytest.mark.parametrize("expr, keys, value", [
    ("run.seed=3", ["run", "seed"], 3),
    ("training.lr=1e-3", ["training", "lr"], 1e-3),
    ("run.trace=true", ["run", "trace"], True),
    ("mapping.pes=[1, 2]", ["mapping", "pes"], [1, 2]),
    ("run.out=traces/a=b", ["run", "out"], "traces/a=b"),
    ("run.ticks=null", ["run", "ticks"], None),
    (" name = x ", ["name"], "x"),
])
def test_parse_set(expr, keys, value):
    assert parse_set(expr) == (keys, value)


@pytest.mark.parametrize("expr, what", [
    ("run.seed", "missing '='"),
    ("=3", "bad key"),
    ("run..seed=3", "bad key"),
    ("run.seed=", "empty value"),
    ("run.seed=[1,", "invalid YAML"),
])
def test_parse_set_errors(expr, what):
    with pytest.raises(ConfigError) as e:
        parse_set(expr)
    assert str(e.value).startswith("--set") and what in str(e.value)


def test_parse_set_rejects_python_tags():
    with pytest.raises(ConfigError):
        parse_set("a=!!python/object/apply:os.system ['echo hi']")
