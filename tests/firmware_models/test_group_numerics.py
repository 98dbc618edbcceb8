"""Group numerics are a speed trick only: e-prop, EventProp and LIF inference run their arithmetic once
per tick for every PE that runs the same program (stacked arrays), and a switch
(``S2SIM_GROUP_NUMERICS=0`` or the apps' ``grouped=False``) makes each PE compute alone. The two
modes must agree on everything a user can observe: every callback's start, end, cycles and phases,
every packet's send and arrival time, every DMA, the per-(timestep, PE) statistics, the counters,
the spikes and the learned weights -- bit for bit."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from firmware_models.eprop import reference as eprop_reference
from firmware_models.eprop.app import ChipNetwork as EpropNetwork
from firmware_models.eprop.mapping import EpropMapping
from firmware_models.eprop.params import EpropParams
from firmware_models.eventprop import reference as R
from firmware_models.eventprop.app import ChipNetwork
from firmware_models.eventprop.mapping import EventpropMapping
from firmware_models.eventprop.params import EventpropParams
from firmware_models.lif_inference.app import load_and_place
from s2sim.config import load_arch, load_network
from s2sim.hw.params import HwParams
from s2sim.runtime.shared import GROUP_ENV, grouping_enabled
from s2sim.sim import Simulation

REPO = Path(__file__).resolve().parents[2]
HW = HwParams.from_arch(load_arch("spinnaker2"))


class LogRecorder:
    """Keeps every callback, packet and DMA the hardware reports, in the order it reports them."""

    def __init__(self):
        self.log: list[tuple] = []

    def callback(self, pe, kind, phases, start_ns, end_ns, cycles):
        self.log.append(("callback", pe, kind, tuple(sorted(phases.items())), start_ns, end_ns, cycles))

    def packet(self, src, dst, key, send_ns, arrive_ns, n):
        self.log.append(("packet", src, dst, key, send_ns, arrive_ns, n))

    def dma(self, pe, tag, start_ns, end_ns, nbytes):
        self.log.append(("dma", pe, tag, start_ns, end_ns, nbytes))


def timing_of(sim) -> dict:
    """Everything timing-related a run leaves behind (per-tick statistics, counters, totals)."""
    chip = sim.chip
    out = {f"stats.{k}": np.asarray(v).copy() for k, v in chip.stats.view().items()}
    out.update({f"phase.{k}": v.copy() for k, v in chip.stats.phase_cycles.items()})
    for pe in chip.used_pes():
        out[f"pe{pe.id}.counters"] = dict(pe.c)
        out[f"pe{pe.id}.cycles_by_level"] = dict(pe.cycles_by_level)
        out[f"pe{pe.id}.sram"] = pe.sram.used_bytes
    out["deliveries"] = chip.deliveries
    out["now_ns"] = sim.env.now
    return out


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], np.ndarray):
            assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), f"{k} differs"
        else:
            assert a[k] == b[k], f"{k} differs"


def yinyang_run(grouped: bool, batches: int = 2, network: dict | None = None, mapping=None,
                tick_ns: float = 1_000_000.0) -> dict:
    """``batches`` chip-engine training batches of networks/yinyang.yaml (22 copies, 89 PEs)."""
    net = dict(load_network(REPO / "networks" / "yinyang.yaml").raw["network"])
    net.update(network or {})
    p = EventpropParams(**net)
    times, y = R.load_data(p)["train"]
    rec = LogRecorder()
    sim = Simulation(HW, recorder=rec)
    chip = ChipNetwork(sim, p, mapping or EventpropMapping(), R.init_weights(p, 42), tick_ns, grouped=grouped)
    results = {}
    for k in range(batches):
        idx = slice(k * p.batch, (k + 1) * p.batch)
        results[f"loss{k}"], results[f"first{k}"] = chip.run_batch(times[idx], y[idx])
    results.update({f"W{l}": w.copy() for l, w in enumerate(chip.weights)})
    results.update({f"grad{l}": g.copy() for l, g in enumerate(chip.root.last_grads or [])})
    results["packets"] = (chip.cnt.spike_packets, chip.cnt.error_packets, chip.cnt.loss_packets)
    results["memory"] = chip.memory()
    return {"log": rec.log, **timing_of(sim), **results}


def lif_run(grouped: bool, ticks: int, sets: list[str]) -> dict:
    """``ticks`` ticks of networks/lif_bench.yaml with ``sets`` applied."""
    rec = LogRecorder()
    ctx, sim, built, fws = load_and_place(REPO / "networks" / "lif_bench.yaml",
                                          sets + [f"firmware.params.group_numerics={grouped}"],
                                          recorder=rec)
    sim.run_ticks(ticks)
    groups = {id(fw.group): fw.group for fw in fws.values() if getattr(fw, "group", None) is not None}
    spikes = {pe: [f.tolist() for f in fw.spikes] for pe, fw in fws.items()}
    v = {f"v{pe}": fw.v.copy() for pe, fw in fws.items() if hasattr(fw, "v")}
    return {"log": rec.log, **timing_of(sim), "spikes": spikes, **v,
            "group_updates": [(g.updates, g.redone) for g in groups.values()]}


def test_yinyang_training_is_bit_identical_with_and_without_group_numerics():
    grouped, alone = yinyang_run(True), yinyang_run(False)
    assert grouped["packets"][1] > 0, "vacuous: no error events were sent"
    assert len(grouped["log"]) == len(alone["log"])
    assert grouped["log"] == alone["log"]
    assert_same({k: v for k, v in grouped.items() if k != "log"}, {k: v for k, v in alone.items() if k != "log"})


def test_two_slices_per_layer_and_both_silent_remedies_are_bit_identical_too():
    net = {"layers": [5, 24, 6, 3], "mu_s": [1.5, 1.5, 1.5], "sigma_s": [3.0, 3.0, 3.0], "batch": 4,
           "silent_rate": [0.02, 0.02, 0.02], "silent_scope": "sample", "shape_weight": 0.3,
           "shape_tau_ms": 6.0}
    mapping = EventpropMapping(pes_per_layer=[2, 2, 1])
    grouped = yinyang_run(True, 2, net, mapping)
    alone = yinyang_run(False, 2, net, mapping)
    assert grouped["packets"][1] > 0 and grouped["packets"][2] > 0
    assert grouped["log"] == alone["log"]
    assert_same({k: v for k, v in grouped.items() if k != "log"}, {k: v for k, v in alone.items() if k != "log"})


def test_yinyang_with_overrunning_layer_ticks_is_bit_identical_too():
    """10 us ticks: the layer PEs overrun, every copy alike, so the copies stay in step."""
    grouped = yinyang_run(True, 1, {"batch": 4}, tick_ns=10_000.0)
    alone = yinyang_run(False, 1, {"batch": 4}, tick_ns=10_000.0)
    assert sum(v for k, c in grouped.items() if k.endswith(".counters") for n, v in c.items()
               if n == "timer_overruns") > 0
    assert grouped["log"] == alone["log"]
    assert_same({k: v for k, v in grouped.items() if k != "log"}, {k: v for k, v in alone.items() if k != "log"})


@pytest.mark.parametrize("tick_ns", [3_000.0, 5_000.0])
def test_a_copy_falling_a_tick_behind_its_group_computes_alone_and_the_run_finishes_bit_identical(tick_ns):
    """3 and 5 us ticks: some copies' layer PEs fall a whole tick behind the others. The group leaves
    them out (they compute their own ticks when their PE runs them, and rejoin once caught up) and
    undoes early results whose input came late, so the run finishes, reports its overruns, and
    agrees with every PE computing alone."""
    grouped = yinyang_run(True, 1, {"batch": 4}, tick_ns=tick_ns)
    alone = yinyang_run(False, 1, {"batch": 4}, tick_ns=tick_ns)
    assert sum(c["timer_overruns"] for k, c in grouped.items() if k.endswith(".counters")) > 0
    assert grouped["log"] == alone["log"]
    assert_same({k: v for k, v in grouped.items() if k != "log"}, {k: v for k, v in alone.items() if k != "log"})


OVERRUN = ["run.tick_ns=10000", "network.input_rate_hz=1000", "network.weight_mean=0.3"]


@pytest.mark.parametrize("sets", [
    [],  # lif_bench as shipped: 12 PEs, every timer at the same instant (one update per layer)
    ["firmware.params.timer_phase_spread=0.3", "run.noc_fidelity=packet"],  # every PE its own phase
    OVERRUN,  # 10 us ticks: overruns, so some PEs run late and some early updates are undone
])
def test_lif_bench_is_bit_identical_with_and_without_group_numerics(sets):
    grouped, alone = lif_run(True, 40, sets), lif_run(False, 40, sets)
    assert sum(len(s) for spikes in grouped["spikes"].values() for s in spikes) > 0
    assert alone["group_updates"] == [] and grouped["group_updates"]
    assert grouped["log"] == alone["log"]
    assert_same({k: v for k, v in grouped.items() if k not in ("log", "group_updates")},
                {k: v for k, v in alone.items() if k not in ("log", "group_updates")})
    if not sets:  # one update per layer and tick
        assert [u for u, _ in grouped["group_updates"]] == [40, 40, 40]


def test_the_overrun_case_exercises_undoing_an_early_update():
    run = lif_run(True, 40, OVERRUN)
    assert sum(v for k, c in run.items() if k.endswith(".counters") for n, v in c.items()
               if n == "timer_overruns") > 0
    assert sum(redone for _, redone in run["group_updates"]) > 0


def test_the_environment_switch_turns_grouping_off(monkeypatch):
    monkeypatch.delenv(GROUP_ENV, raising=False)
    assert grouping_enabled()
    monkeypatch.setenv(GROUP_ENV, "0")
    assert not grouping_enabled()


def eprop_run(grouped: bool, samples: int = 6, pes: int = 4, tick_ns: float = 1_000_000.0,
              recurrent: str = "dense", **network) -> dict:
    """``samples`` training samples of a small e-prop network, then one evaluation sample."""
    p = EpropParams(**{"n_in": 10, "n_rec": 14, "n_out": 3, "n_steps": 12, "v_th": 0.3, **network})
    rng = np.random.default_rng(3)
    X = (rng.random((samples + 1, p.n_steps, p.n_in)) < 0.3).astype(np.float32)
    Y = rng.integers(0, p.n_out, samples + 1)
    rec = LogRecorder()
    sim = Simulation(HW, recorder=rec)
    w0 = eprop_reference.init_weights(p, np.random.default_rng(5))
    chip = EpropNetwork(sim, p, EpropMapping(pes=pes), w0, tick_ns, recurrent, grouped=grouped)
    records = chip.run_samples(X[:samples], Y[:samples], train=True)
    records += chip.run_samples(X[samples:], Y[samples:], train=False)
    g = chip.group
    results = {f"w.{k}": w for k, w in chip.weights().items()}
    m, v, *powers = g.adam_state()
    results.update({f"m.{k}": a for k, a in m.items()}, **{f"v.{k}": a for k, a in v.items()})
    results["adam_powers"] = [float(x) for x in powers]
    results["records"] = records
    results.update({f"w0.{k}": w for k, w in w0.items()})
    results["spike_packets"] = sum(1 for entry in rec.log if entry[0] == "packet" and entry[3] >> 20 == 0x0E0)
    return {"log": rec.log, **timing_of(sim), **results,
            "late": (g.late_packet_recomputes, g.late_learning)}


@pytest.mark.parametrize("case", [
    {},  # as shipped: the paper memory layout, 4 PEs
    {"memory_layout": "lean", "eps_a": "exact", "autapse": "mask"},
    {"memory_layout": "closed_form", "exp_impl": "accelerator", "pes": 3},
    {"recurrent": "event"},
    {"tick_ns": 20_000.0},  # overruns: steps queue, some PEs run late behind others
])
def test_eprop_training_is_bit_identical_with_and_without_group_numerics(case):
    grouped, alone = eprop_run(True, **case), eprop_run(False, **case)
    assert grouped["spike_packets"] > 0, "vacuous: no neuron ever fired"
    assert np.abs(grouped["w.w_rec"] - grouped["w0.w_rec"]).max() > 0, "vacuous: training did not move W_rec"
    assert grouped["log"] == alone["log"]
    assert_same({k: v for k, v in grouped.items() if k not in ("log", "late")},
                {k: v for k, v in alone.items() if k not in ("log", "late")})
    assert grouped["late"][0] > 0, "the group never redid a member whose input came in late"
    assert alone["late"][0] == 0  # alone, no member's tick is ever computed before its input is in
    # learning that arrives after a member's next sample started is late alone too (overruns): the same count
    assert grouped["late"][1] == alone["late"][1]


def test_gsc_with_a_tick_shorter_than_a_step_is_bit_identical_with_and_without_group_numerics(monkeypatch):
    from tools import timing_fingerprint as tf
    path, sets, options = tf.small_run("gsc_short_tick")
    runs = {}
    for grouped in ("1", "0"):
        monkeypatch.setenv(GROUP_ENV, grouped)
        runs[grouped] = tf.fingerprint(path, sets, options)
    assert runs["1"] == runs["0"]
