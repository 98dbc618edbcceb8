"""Per tick, the cycles each firmware charges per phase agree with the compiled kernels run with the
same loop bounds and the same spikes: every phase within 10 %, the tick total within 5 %."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))

import tick_agreement as ta  # noqa: E402

WORKLOADS = {
    "gsc paper, expf": lambda: ta.gsc_rows("paper", "software"),
    "gsc lean, expf": lambda: ta.gsc_rows("lean", "software"),
    "gsc closed_form, accelerator": lambda: ta.gsc_rows("closed_form", "accelerator"),
    "yinyang layer PEs": ta.yinyang_rows,
    "lif_bench": ta.lif_rows,
}


@pytest.mark.parametrize("workload", WORKLOADS)
def test_firmware_tick_matches_compiled_kernels(workload):
    rows = WORKLOADS[workload]()
    assert rows and all(r.firmware > 0 and r.compiled > 0 for r in rows)
    for r in rows:
        assert abs(r.error) <= 0.10, f"{r.workload} PE {r.pe} {r.phase}: {r.firmware:.0f} vs {r.compiled:.0f}"
    for t in ta.totals(rows):
        assert abs(t.error) <= 0.05, f"{t.workload} PE {t.pe} tick {t.tick}: {t.firmware:.0f} vs {t.compiled:.0f}"


def test_the_ticks_compared_carry_data_dependent_work():
    spiking = [r for r in ta.lif_rows() + ta.yinyang_rows() if "fired" in r.counts or "own spikes" in r.counts]
    assert any(not r.counts.startswith("0 spikes in") and "spikes in" in r.counts for r in spiking)
    assert any(", 0 own" not in r.counts and "own spikes" in r.counts for r in spiking)


def test_compiled_cost_counts_nested_loops_conditional_blocks_and_callees():
    cost = ta.CompiledCost(ta._hw())
    e = cost.kernels["dense_mac"]
    expected = e["call_overhead_cycles"] + 4 * e["loops"]["post"]["cycles_per_iteration"] \
        + 4 * 10 * e["loops"]["pre"]["cycles_per_iteration"]
    assert cost("dense_mac", post=4, pre=10) == pytest.approx(expected)
    assert cost("lif_neuron_update", neuron=8, events=3) > cost("lif_neuron_update", neuron=8)
    hw = ta._hw()
    assert cost("eprop_surrogate_expf", neuron=2) - cost("eprop_surrogate_accel", neuron=2) == pytest.approx(
        6 * (hw.core_cycles["expf"] - hw.exp_latency_cycles)
        + 2 * (cost.kernels["eprop_surrogate_expf"]["loops"]["neuron"]["cycles_per_iteration"]
               - cost.kernels["eprop_surrogate_accel"]["loops"]["neuron"]["cycles_per_iteration"]))
    with pytest.raises(ValueError, match="post"):
        cost("dense_mac", pre=10)
