"""Every config mistake gives ONE line naming the file, the key path and what was expected."""

import pytest
import yaml

from s2sim.arch import arch_path
from s2sim.config import ConfigError, load_arch


def _arch_file(tmp_path, edit):
    raw = yaml.safe_load(arch_path("spinnaker2").read_text())
    edit(raw)
    f = tmp_path / "bad_arch.yaml"
    f.write_text(yaml.safe_dump(raw, sort_keys=False))
    return f


def _error(path) -> str:
    with pytest.raises(ConfigError) as e:
        load_arch(str(path))
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_malformed_yaml_names_file_and_line(tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text("name: x\nchip:\n  mesh_width: [1, 2\n  mesh_height: 3\n")
    msg = _error(f)
    assert "broken.yaml" in msg and "line " in msg and "column " in msg
    assert "invalid YAML" in msg


def test_duplicate_key_is_rejected(tmp_path):
    f = tmp_path / "dup.yaml"
    f.write_text("name: a\nname: b\n")
    assert "duplicate key 'name'" in _error(f)


def test_unknown_key_names_path_and_lists_expected(tmp_path):
    f = _arch_file(tmp_path, lambda r: r["pe"].update(sram_kb={"value": 1, "source": "s", "confidence": "estimate"}))
    msg = _error(f)
    assert "bad_arch.yaml: pe: unknown key 'sram_kb'; expected one of: sram_bytes, code_reserve_bytes" in msg


def test_wrong_type_names_key_and_type(tmp_path):
    f = _arch_file(tmp_path, lambda r: r["pe"]["sram_bytes"].update(value="lots"))
    assert _error(f).endswith("pe.sram_bytes.value: got 'lots'; expected an integer >= 1")


def test_out_of_range_is_named(tmp_path):
    f = _arch_file(tmp_path, lambda r: r["pe"]["sram_bytes"].update(value=-1))
    assert "pe.sram_bytes.value: got -1; expected an integer >= 1" in _error(f)


def test_bare_number_where_sourced_leaf_expected(tmp_path):
    f = _arch_file(tmp_path, lambda r: r["noc"].update(clock_mhz=300))
    msg = _error(f)
    assert "noc.clock_mhz: got 300; expected a mapping {value: a number > 0, source, confidence" in msg


def test_bad_confidence_and_empty_source(tmp_path):
    f = _arch_file(tmp_path, lambda r: r["dma"]["setup_cycles"].update(confidence="guess"))
    assert "dma.setup_cycles.confidence: got 'guess'; expected one of 'measured', 'derived', 'estimate'" in _error(f)
    f = _arch_file(tmp_path, lambda r: r["dma"]["setup_cycles"].update(source=""))
    assert "dma.setup_cycles.source: got ''; expected a non-empty string" in _error(f)


def test_missing_key(tmp_path):
    f = _arch_file(tmp_path, lambda r: r["dram"].pop("channels"))
    assert "dram.channels: missing; expected a mapping {value: an integer >= 1" in _error(f)


def test_list_item_error_shows_index(tmp_path):
    f = _arch_file(tmp_path, lambda r: r["performance_levels"][1]["clock_mhz"].update(value=0))
    assert "performance_levels[1].clock_mhz.value: got 0; expected a number > 0" in _error(f)


def test_missing_file(tmp_path):
    assert "file not found" in _error(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text, what", [("", "file is empty"), ("- 1\n- 2\n", "top level is a list")])
def test_empty_or_non_mapping_file(tmp_path, text, what):
    f = tmp_path / "odd.yaml"
    f.write_text(text)
    msg = _error(f)
    assert what in msg and "expected a mapping" in msg
