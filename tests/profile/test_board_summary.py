"""A board run's summary shows each chip (memory, latency, energy) and the chip links' load; the
numbers add up to the run's totals, and report.html draws the chips x chips traffic."""
import json
from pathlib import Path

import pytest

from s2sim.config import load_network
from s2sim.profile.report import write_report
from s2sim.run import RunOptions, run_network

REPO = Path(__file__).resolve().parents[2]
# lif_bench with one PE per layer, one PE per chip on a 4 x 1 hex torus: layer l on chip l
BOARD = ["arch.board.chips_x=4", "network.layers=[256,256,256,256]", "mapping.neurons_per_pe=256",
         "mapping.pes_per_chip=1", "run.ticks=30"]


def summary_of(tmp_path, sets, name):
    loaded = load_network(REPO / "networks" / "lif_bench.yaml", sets)
    run_network(loaded, RunOptions(out_dir=tmp_path / name))
    return json.loads((tmp_path / name / "summary.json").read_text()), tmp_path / name


@pytest.fixture(scope="module")
def board_run(tmp_path_factory):
    return summary_of(tmp_path_factory.mktemp("board"), BOARD, "board")


def test_each_chip_is_in_the_summary_and_adds_up(board_run):
    s, _ = board_run
    b = s["board"]
    assert b["chips"] == 4 and b["chips_used"] == [0, 1, 2, 3]
    assert [c["pes_used"] for c in b["per_chip"]] == [1, 1, 1, 1]
    assert sum(c["memory_bytes"] for c in b["per_chip"]) == s["memory"]["total_bytes"]
    energy = s["energy"]["breakdown_j"]
    assert sum(c["energy_j"]["cores"] for c in b["per_chip"]) == pytest.approx(
        energy["core_active"] + energy["core_static"])
    assert sum(c["energy_j"]["baseline"] for c in b["per_chip"]) == pytest.approx(energy["chip_baseline"])
    assert max(c["timestep_ns"]["max"] for c in b["per_chip"]) == pytest.approx(s["latency"]["timestep_ns"]["max"])


def test_link_load_per_tick_adds_up_to_the_link_totals(board_run):
    s, _ = board_run
    b = s["board"]
    # layer l on chip l talks to layer l + 1 on chip l + 1, one link east
    assert {(link["from"], link["to"]) for link in b["links"]} == {(0, 1), (1, 2), (2, 3)}
    assert all(link["packets"] > 0 for link in b["links"])
    for link in b["links"]:
        assert sum(link["packets_per_tick"]) == link["packets"] == b["traffic_matrix"][link["from"]][link["to"]]
        assert link["peak_packets_per_tick"] == max(link["packets_per_tick"])
        assert link["peak_busy_fraction"] == pytest.approx(link["peak_packets_per_tick"] * 16.0 / 1e6)
    assert b["link_crossings"] == sum(link["packets"] for link in b["links"])
    assert s["energy"]["breakdown_j"]["chip_links"] == pytest.approx(b["link_crossings"] * 480e-12)


def test_the_report_draws_the_board(board_run):
    _, run_dir = board_run
    html = write_report(run_dir, plots=False).read_text()
    assert "<h2>Board</h2>" in html and "Chip-to-chip traffic" in html
    assert "title='0→1:" in html


def test_one_chip_has_no_board_section(tmp_path):
    s, _ = summary_of(tmp_path, ["run.ticks=3"], "one")
    assert "board" not in s and "chip_links" not in s["energy"]["breakdown_j"]
