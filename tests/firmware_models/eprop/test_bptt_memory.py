"""memory_layout: bptt — BPTT's history grows with T and is placed by the chip's SRAM allocator."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from firmware_models.eprop.bptt_memory import bptt_regions, history_bytes_per_step, pes_needed
from firmware_models.eprop.mapping import available_bytes, learning_bytes, pe_regions
from firmware_models.eprop.params import EpropParams
from s2sim.config import load_arch
from s2sim.hw.params import HwParams

ROOT = Path(__file__).resolve().parents[3]
HW = HwParams.from_arch(load_arch("spinnaker2"))


def test_history_grows_by_a_fixed_amount_per_time_step_and_eprop_does_not():
    short, long = EpropParams(n_steps=100, memory_layout="bptt"), EpropParams(n_steps=300, memory_layout="bptt")
    n = 10
    grown = sum(r.nbytes for r in bptt_regions(long, n)) - sum(r.nbytes for r in bptt_regions(short, n))
    assert grown == 200 * history_bytes_per_step(short, n) == 200 * (4 * 3 * n + 4 * 4)  # v, a, ψ + 120 spike bits
    eprop = [learning_bytes(pe_regions(EpropParams(n_steps=t), n)) for t in (100, 300)]
    assert eprop[0] == eprop[1]


def test_bptt_needs_more_pes_as_t_grows():
    counts = [pes_needed(EpropParams(n_steps=t, memory_layout="bptt"), HW, 12) for t in (100, 1000)]
    assert counts[0] == 12 and counts[1] > 12
    p = EpropParams(n_steps=1000, memory_layout="bptt")
    per_pe = -(-p.n_rec // counts[1])
    assert sum(r.nbytes for r in bptt_regions(p, per_pe, root=True)) <= available_bytes(HW)


def test_a_bptt_run_is_placed_by_the_allocator_on_the_pes_it_needs(tmp_path):
    out = tmp_path / "bptt"
    res = subprocess.run([sys.executable, "-m", "s2sim.cli", "run", "networks/gsc.yaml", "--out", str(out), "--quiet",
                          "--set", "network.memory_layout=bptt", "--set", "network.n_steps=1000",
                          "--set", "expect={}"], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    s = json.loads((out / "summary.json").read_text())
    p = EpropParams(n_steps=1000, memory_layout="bptt")
    assert s["pes_used"] == s["app"]["pes_needed"] == pes_needed(p, HW, 12)
    first = s["memory"]["per_pe"][0]  # the allocator's regions are BPTT's regions (plus code and stack)
    want = {r.name: r.nbytes for r in bptt_regions(p, -(-p.n_rec // s["pes_used"]), root=True)}
    assert {k: v for k, v in first["regions"].items() if k not in ("code", "stack")} == want
    assert s["app"]["history_bytes"] > s["app"]["eprop_learning_state_bytes"]
