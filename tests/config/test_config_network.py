"""Network files: --set overrides, arch resolution and validation of the top level."""

import json

import pytest
from pydantic import BaseModel, ConfigDict, Field

from s2sim.config import ConfigError, RunConfig, load_network, validate_section

NET = """\
name: tiny
arch: spinnaker2
firmware:
  package: firmware_models.lif_inference
mapping:
  pes: 2
run:
  seed: 1
"""


@pytest.fixture
def net(tmp_path):
    f = tmp_path / "tiny.yaml"
    f.write_text(NET)
    return f


def test_defaults_and_values(net):
    loaded = load_network(net)
    assert loaded.spec.run.seed == 1
    assert loaded.spec.run.tick_ns == 1_000_000
    assert loaded.spec.run.simulator.noc_fidelity == "burst"
    assert loaded.spec.run.simulator.kernel == "counted"
    assert loaded.spec.run.simulator.group_numerics is True
    assert loaded.arch.n_pes == 152
    assert loaded.file == net


def test_set_run_seed(net):
    loaded = load_network(net, ["run.seed=3", "training.epochs=2", "mapping.pes=4"])
    assert loaded.spec.run.seed == 3
    assert loaded.raw["training"] == {"epochs": 2}
    assert loaded.spec.mapping["pes"] == 4


def test_set_arch_parameter_goes_to_arch(net):
    loaded = load_network(net, ["arch.pe.sram_bytes=262144"])
    leaf = loaded.arch.provenance()["pe.sram_bytes"]
    assert leaf.value == 262144 and leaf.source == "override (--set)"
    assert "pe" not in loaded.raw.get("arch_overrides", {})


def test_arch_overrides_then_set(tmp_path):
    f = tmp_path / "n.yaml"
    f.write_text(NET + "arch_overrides:\n  pe:\n    sram_bytes: 65536\n  dram:\n    channels: 4\n")
    loaded = load_network(f, ["arch.pe.sram_bytes=262144"])
    assert loaded.arch.pe.sram_bytes.value == 262144
    assert loaded.arch.dram.channels.value == 4
    assert loaded.arch.dram.channels.source == f"override ({f})"


def test_bad_arch_override_blames_network_file(tmp_path):
    f = tmp_path / "n.yaml"
    f.write_text(NET + "arch_overrides:\n  pe:\n    sram_bytes: -5\n")
    with pytest.raises(ConfigError) as e:
        load_network(f)
    assert str(e.value) == f"{f}: arch_overrides.pe.sram_bytes: got -5; expected an integer >= 1"


def test_bad_set_blames_set(net):
    with pytest.raises(ConfigError, match=r"^--set: arch\.pe: unknown key 'sram'"):
        load_network(net, ["arch.pe.sram=1"])
    with pytest.raises(ConfigError, match=r"^--set: run\.seed: got 'x'; expected an integer"):
        load_network(net, ["run.seed=x"])


def test_set_unknown_top_level_key(net):
    with pytest.raises(ConfigError) as e:
        load_network(net, ["sead=3"])
    assert str(e.value).startswith("--set: sead: unknown key 'sead'; expected one of: name,")


def test_relative_arch_path_resolves_against_network_folder(tmp_path):
    from s2sim.arch import arch_path
    (tmp_path / "archs").mkdir()
    (tmp_path / "archs" / "mine.yaml").write_text(arch_path("spinnaker2").read_text().replace(
        "name: spinnaker2", "name: mine"))
    (tmp_path / "nets").mkdir()
    f = tmp_path / "nets" / "n.yaml"
    f.write_text(NET.replace("arch: spinnaker2", "arch: ../archs/mine.yaml"))
    assert load_network(f).arch.name == "mine"


def test_missing_arch_file(tmp_path):
    f = tmp_path / "n.yaml"
    f.write_text(NET.replace("arch: spinnaker2", "arch: nowhere.yaml"))
    with pytest.raises(ConfigError, match="nowhere.yaml: file not found"):
        load_network(f)


def test_top_level_errors(tmp_path):
    f = tmp_path / "n.yaml"
    f.write_text(NET + "trainning: {}\n")
    with pytest.raises(ConfigError, match=r"n\.yaml: unknown key 'trainning'; expected one of: name,"):
        load_network(f)
    f.write_text(NET.replace("  package: firmware_models.lif_inference\n", "  params: {}\n"))
    with pytest.raises(ConfigError, match=r"n\.yaml: firmware\.package: missing; expected a non-empty string"):
        load_network(f)
    f.write_text(NET + "  simulator: {noc_fidelity: cycle}\n")
    with pytest.raises(ConfigError, match=r"run\.simulator\.noc_fidelity: got 'cycle'; expected one of 'burst', 'packet'"):
        load_network(f)
    f.write_text(NET + "  simulator: {kernel: turbo}\n")
    with pytest.raises(ConfigError, match=r"run\.simulator\.kernel: got 'turbo'; expected one of 'fast', 'exact'"):
        load_network(f)


def test_the_older_run_noc_fidelity_key_still_sets_the_simulator_section(net):
    loaded = load_network(net, ["run.noc_fidelity=packet"])
    assert loaded.spec.run.simulator.noc_fidelity == "packet"
    assert "noc_fidelity" not in loaded.resolved()["run"], "one spelling in the resolved config"


def test_unknown_performance_level(net):
    with pytest.raises(ConfigError, match=r"^--set: run\.performance_level: got 'turbo'; expected one of: pl_low"):
        load_network(net, ["run.performance_level=turbo"])


def test_missing_and_empty_network_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_network(tmp_path / "none.yaml")
    (tmp_path / "e.yaml").write_text("# nothing\n")
    with pytest.raises(ConfigError, match="file is empty"):
        load_network(tmp_path / "e.yaml")


def test_resolved_is_json_with_sources(net):
    out = json.loads(json.dumps(load_network(net, ["run.seed=5"]).resolved()))
    assert out["run"]["seed"] == 5 and out["sets"] == ["run.seed=5"]
    sram = out["arch"]["config"]["pe"]["sram_bytes"]
    assert sram["value"] == 131072 and "datasheet" in sram["source"]


class _Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    pes: int = Field(ge=1)


def test_validate_section_gives_one_line_error():
    assert validate_section(_Mapping, {"pes": 3}, "networks/gsc.yaml", "mapping").pes == 3
    with pytest.raises(ConfigError) as e:
        validate_section(_Mapping, {"pes": "twelve"}, "networks/gsc.yaml", "mapping")
    assert str(e.value) == "networks/gsc.yaml: mapping.pes: got 'twelve'; expected an integer >= 1"


def test_run_config_ranges():
    with pytest.raises(ConfigError, match=r"run\.tick_ns: got 0; expected a number > 0"):
        validate_section(RunConfig, {"tick_ns": 0}, "f.yaml", "run")
