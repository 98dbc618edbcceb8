"""The shipped example scripts are py-spinnaker2 scripts with only the import changed: each runs
and produces the spikes its comments work out by hand, and prints s2sim's profile."""
import runpy
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "spinnaker2"


def run_script(name: str, capsys) -> tuple[dict, str]:
    scope = runpy.run_path(str(EXAMPLES / name), run_name="__main__")
    return scope, capsys.readouterr().out


def test_the_and_gate_fires_one_tick_after_each_coincidence_and_delay_3_shifts_it_by_3(capsys):
    scope, out = run_script("lif_and_gate.py", capsys)
    assert scope["spike_times"] == {0: [2, 6], 1: [], 2: [5], 3: [7]} == scope["expected"]
    assert scope["late_times"] == {0: [5, 9], 1: [], 2: [8], 3: [10]} == scope["expected_late"]


def test_the_two_layer_curr_exp_network_fires_as_worked_out_by_hand(capsys):
    scope, _ = run_script("two_layer_curr_exp.py", capsys)
    assert scope["hidden"].get_spikes() == {0: [3], 1: [5], 2: []} == scope["expected_hidden"]
    assert scope["out"].get_spikes() == {0: [6]} == scope["expected_out"]
    # the hand calculation in the script's docstring, tick by tick
    assert scope["out"].get_voltages()[0][4:8].tolist() == [15.0, 15.0, 26.25 - 20.0, 12.5]


def test_the_dense_network_fires_as_worked_out_by_hand(capsys):
    scope, _ = run_script("dense_network.py", capsys)
    assert scope["spike_times"] == {0: [2, 3], 1: [2, 3], 2: [4, 5]} == scope["expected"]


@pytest.mark.parametrize("name", ["lif_and_gate.py", "two_layer_curr_exp.py", "dense_network.py"])
def test_every_example_prints_the_profile_per_pe(name, capsys):
    scope, out = run_script(name, capsys)
    assert "s2sim profile of" in out
    for word in ("time_done", "packets", "SRAM", "energy"):
        assert word in out
    summary = scope["hw"].summary
    pe_lines = [line.split() for line in out.splitlines() if line.startswith("  ") and line.split()[0].isdigit()]
    assert sorted(int(cols[0]) for cols in pe_lines) == summary["pe_ids"]
    sram = {m["pe"]: m["used_bytes"] for m in summary["memory"]["per_pe"]}
    assert all(int(cols[-1]) == sram[int(cols[0])] for cols in pe_lines)
