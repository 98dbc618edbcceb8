"""The packaged SpiNNaker2 arch loads, and every number in it declares where it came from."""

import json
from pathlib import Path

import pytest
import yaml

from s2sim.arch import arch_path, list_arches
from s2sim.config import ArchConfig, ConfigError, Sourced, load_arch

REPO = Path(__file__).resolve().parents[2]

CONFIDENCES = {"measured", "derived", "estimate"}


def _numeric_leaves(node, path=()):
    """Yield (path, parent mapping) for every number in raw YAML, bare or inside a sourced leaf."""
    if isinstance(node, dict):
        if "value" in node:
            yield path, node
            return
        for k, v in node.items():
            yield from _numeric_leaves(v, path + (str(k),))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _numeric_leaves(v, path + (str(i),))
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path, None  # a bare number: no provenance


def test_spinnaker2_is_packaged():
    assert "spinnaker2" in list_arches()
    assert arch_path("spinnaker2").is_file()


def test_arch_path_falls_back_to_filesystem(tmp_path):
    assert arch_path(str(tmp_path / "x.yaml")) == tmp_path / "x.yaml"


@pytest.mark.parametrize("name", list_arches())
def test_every_numeric_leaf_has_source_and_confidence(name):
    raw = yaml.safe_load(arch_path(name).read_text())
    leaves = list(_numeric_leaves(raw))
    assert len(leaves) > 50
    for path, leaf in leaves:
        where = ".".join(path)
        assert leaf is not None, f"{where}: bare number without source"
        assert isinstance(leaf.get("source"), str) and leaf["source"].strip(), where
        assert leaf.get("confidence") in CONFIDENCES, where
        if leaf["confidence"] == "estimate":
            assert "estimate" in leaf["source"] or "[S]" in leaf["source"], where


def test_spinnaker2_headline_numbers():
    arch = load_arch("spinnaker2")
    assert arch.n_pes == 152
    assert arch.pe.sram_bytes.value == 128 * 1024
    assert arch.performance_level().name == "pl_high"
    assert arch.performance_level("pl_low").clock_mhz.value == 150
    assert arch.path == arch_path("spinnaker2")


def test_derived_energy_matches_its_arithmetic():
    arch = load_arch("spinnaker2")
    low = arch.performance_level("pl_low")
    assert low.active_energy_per_cycle_pj.value == pytest.approx((424.6 - 235.4) / 152 / 150 * 1e3, rel=0.01)
    assert low.static_power_mw.value == pytest.approx((235.4 - 75.2) / 152, rel=0.01)


def test_provenance_is_flat_and_names_levels():
    prov = load_arch("spinnaker2").provenance()
    assert isinstance(prov["pe.sram_bytes"], Sourced)
    assert prov["performance_levels.pl_low.clock_mhz"].value == 150
    assert prov["pl_switch_ns"].confidence == "measured"
    assert all(s.source for s in prov.values())


def test_kernel_cycles():
    arch = load_arch("spinnaker2")
    calibrated = json.loads((REPO / "firmware_models/eprop/kernels/calibration.json").read_text())
    adam = calibrated["kernels"]["adam_update"]
    assert arch.kernel_cycles("adam_update") == adam["loops"][adam["table_loop"]]["cycles_per_iteration"]
    with pytest.raises(KeyError, match="dense_mac"):
        arch.kernel_cycles("nope")


def test_unknown_performance_level_lists_known_ones():
    with pytest.raises(ConfigError, match="pl_low, pl_high"):
        load_arch("spinnaker2").performance_level("turbo")


def test_default_level_must_name_a_level(tmp_path):
    raw = yaml.safe_load(arch_path("spinnaker2").read_text())
    raw["default_performance_level"] = "turbo"
    f = tmp_path / "a.yaml"
    f.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError) as e:
        load_arch(str(f))
    assert "default_performance_level: got 'turbo'; expected one of: pl_low, pl_high" in str(e.value)


def test_qpes_must_fit_the_mesh():
    with pytest.raises(ConfigError, match=r"chip\.qpe_count.*at most"):
        load_arch("spinnaker2", {"chip": {"mesh_width": 2, "mesh_height": 2}})


def test_arch_config_can_be_built_from_dict():
    raw = yaml.safe_load(arch_path("spinnaker2").read_text())
    assert ArchConfig.model_validate(raw).n_pes == 152


def test_the_hardware_models_parameters_are_generated_from_the_registry():
    """Declared once: every sourced leaf of the arch reaches HwParams (or a level, or a cycle table),
    under the flat name the registry gives it; nothing is declared a second time in s2sim/hw."""
    import dataclasses

    from s2sim.config.arch_model import hw_leaves, level_leaves
    from s2sim.hw.params import ARCH_PATHS, HwParams, PerfLevel
    leaves = hw_leaves()
    assert [f.name for f in dataclasses.fields(HwParams)] == [leaf.name for leaf in leaves] + [
        "perf_levels", "default_perf_level", "core_cycles", "kernel_cycles", "cycle_model", "kernel_cycles_bracket"]
    assert [f.name for f in dataclasses.fields(PerfLevel)] == ["name"] + [leaf.name for leaf in level_leaves()]
    assert ARCH_PATHS["noc_clock_mhz"] == "noc.clock_mhz" and ARCH_PATHS["dvfs_margin"] == "dvfs_policy.margin"
    arch = load_arch("spinnaker2")
    levels = {f"performance_levels.{pl.name}.{leaf.name}" for pl in arch.performance_levels for leaf in level_leaves()}
    for path in arch.provenance():
        assert (path in ARCH_PATHS.values() or path in levels or path.split(".")[0] in ("core_cycles", "kernels", "kernels_low", "kernels_high")
                or path.startswith("energy.")), f"{path} never reaches the hardware model"
