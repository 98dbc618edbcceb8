"""Group numerics are a speed trick only: e-prop, EventProp, LIF inference and cue accumulation run their
arithmetic once per tick for every PE that runs the same program (stacked arrays), and a switch
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
from firmware_models.eprop_lif.app import ChipNetwork as CueNetwork
from firmware_models.eprop_lif.mapping import CueMapping
from firmware_models.eprop_lif.params import CueEpropParams
from firmware_models.eprop_lif.training import fresh_state as cue_fresh_state
from firmware_models.eventprop import reference as R
from firmware_models.eventprop.app import ChipNetwork
from firmware_models.eventprop.mapping import EventpropMapping
from firmware_models.eventprop.params import EventpropParams
from firmware_models.lif_inference.app import load_and_place
from s2sim.config import load_arch, load_network
from s2sim.data.cue import CueConfig, load_cue
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
    machine = sim.machine
    out = {f"stats.{k}": np.asarray(v).copy() for k, v in machine.stats.view().items()}
    out.update({f"phase.{k}": v.copy() for k, v in machine.stats.phase_cycles.items()})
    for pe in machine.used_pes():
        out[f"pe{pe.id}.counters"] = machine.counters.of(pe.id)
        out[f"pe{pe.id}.cycles_by_level"] = dict(machine.counters.cycles_by_level[pe.id])
        out[f"pe{pe.id}.sram"] = pe.sram.used_bytes
    out["machine"] = machine.counters.machine()
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


def cue_chip_run(grouped: bool, network: dict, dataset: dict, trials: int, pes: int | None,
                 tick_ns: float, seed: int = 0) -> dict:
    """``trials`` chip-engine training trials of a cue-accumulation network (Adam after each batch and
    after the last trial), with every PE's raster recorded."""
    p = CueEpropParams(**network)
    ds = load_cue(CueConfig(**dataset), seed)
    start = cue_fresh_state(p, seed)
    rec = LogRecorder()
    sim = Simulation(HW, recorder=rec)
    chip = CueNetwork(sim, p, CueMapping(pes=pes), start.weights, tick_ns, grouped=grouped)
    chip.set_adam(start.adam)
    chip.record_rasters()
    X, Y = ds.splits["train"].X[:trials], ds.splits["train"].y[:trials]
    results = {"records": chip.run_trials(X, Y, train=True)}
    results.update({f"w.{k}": w for k, w in chip.weights().items()})
    results.update({f"w0.{k}": w for k, w in start.weights.items()})
    adam = chip.adam_state()
    results.update({f"m.{k}": a for k, a in adam.m.items()}, **{f"v.{k}": a for k, a in adam.v.items()})
    results.update({f"raster{s}": chip.raster(s) for s in range(trials)})
    results["late_steps"] = chip.late_steps_per_pe()
    return {"log": rec.log, **timing_of(sim), **results, "redone": chip.group.redone, "slices": chip.slices}


def cue_shipped_run(grouped: bool) -> dict:
    """Two trials of networks/cue_accumulation.yaml as shipped (4 PEs of 25 neurons, 2,250 steps, 1 ms tick;
    only the two trials generated)."""
    spec = load_network(REPO / "networks" / "cue_accumulation.yaml").raw
    dataset = {**spec["dataset"], "n_train": 2, "n_test": 0}
    return cue_chip_run(grouped, spec["network"], dataset, 2, spec["mapping"]["pes"], 1_000_000.0)


CUE_SMALL = {"n_steps": 120, "learn_steps": 30, "n_rec": 20, "batch": 2, "lr": 1e-2, "init_gains": [1.0, 0.5, 0.5]}
CUE_SMALL_DATA = {"n_cues": 2, "t_wait_steps": 60, "recall_steps": 30, "n_train": 4, "n_test": 0}


def cue_short_tick_run(grouped: bool) -> dict:
    """Four trials of a small network on 3 PEs (7, 7 and 6 neurons) at a 20 us tick, far shorter than a step's
    work: the PEs overrun and run steps back to back at their own pace, spikes arrive while others have run ahead."""
    return cue_chip_run(grouped, CUE_SMALL, CUE_SMALL_DATA, 4, 3, 20_000.0, seed=3)


def assert_cue_runs_agree(grouped: dict, alone: dict) -> None:
    assert any(r.any() for k, r in grouped.items() if k.startswith("raster")), "vacuous: no neuron ever fired"
    for name in ("w_in", "w_rec", "w_out"):
        assert np.abs(grouped[f"w.{name}"] - grouped[f"w0.{name}"]).max() > 0, f"vacuous: {name} never moved"
    assert len(grouped["log"]) == len(alone["log"])
    assert grouped["log"] == alone["log"]
    assert alone["redone"] == 0  # alone, no PE's step is ever computed before its PE runs it
    skip = ("log", "redone", "slices")
    assert_same({k: v for k, v in grouped.items() if k not in skip}, {k: v for k, v in alone.items() if k not in skip})


def test_cue_accumulation_as_shipped_trains_bit_identically_with_and_without_group_numerics():
    grouped, alone = cue_shipped_run(True), cue_shipped_run(False)
    assert len(grouped["slices"]) == 4 and set(grouped["late_steps"].values()) == {0}
    assert_cue_runs_agree(grouped, alone)


def test_cue_accumulation_with_overrunning_short_ticks_and_unequal_slices_is_bit_identical_too():
    grouped, alone = cue_short_tick_run(True), cue_short_tick_run(False)
    assert [s.stop - s.start for s in grouped["slices"]] == [7, 7, 6]  # the group pads the last slice
    assert sum(c["timer_overruns"] for k, c in grouped.items() if k.endswith(".counters")) > 0
    assert sum(grouped["late_steps"].values()) > 0
    assert grouped["redone"] > 0, "the group never undid an early step whose input changed afterwards"
    assert_cue_runs_agree(grouped, alone)


def without_wall_times(tree):
    """A summary without the host's wall-clock times (``wall_time_s``, a history's ``wall_s``)."""
    if isinstance(tree, dict):
        return {k: without_wall_times(v) for k, v in tree.items() if not k.startswith("wall")}
    if isinstance(tree, list):
        return [without_wall_times(v) for v in tree]
    return tree


def cue_entry_run(out_dir: Path, sets: list[str], environ: dict) -> dict:
    """The timing fingerprint's small cue run through the run entry, writing its files to ``out_dir``;
    returns what a user can observe: the per-timestep file, the summary and the traced timing."""
    from s2sim.run import RunOptions, run_network
    from tools import timing_fingerprint as tf
    path, small_sets, options = tf.small_run("cue_accumulation")
    recorder = tf.TimingRecorder()
    res = run_network(load_network(path, small_sets + sets),
                      RunOptions(out_dir=out_dir, environ=environ, recorder=recorder, **options))
    summary = without_wall_times({k: v for k, v in res.summary.items() if k not in ("simulator", "config", "host")})
    return {"timesteps.csv": (out_dir / "timesteps.csv").read_text(), "summary": summary,
            "timing": tf.timing_results(res.app.sim, recorder), "grouped": res.summary["simulator"]["group_numerics"]}


@pytest.mark.parametrize("switch", ["env", "firmware.params", "run.simulator"])
def test_each_cue_switch_turns_group_numerics_off_and_changes_no_output(tmp_path, monkeypatch, switch):
    """The shipped run entry with grouping turned off each way: the switch reaches the network's CueGroup
    and the per-timestep file, the summary and every traced packet, DMA and callback stay the same."""
    import firmware_models.eprop_lif.app as cue_app
    made = []
    real = cue_app.CueGroup
    monkeypatch.setattr(cue_app, "CueGroup", lambda *a, **k: (group := real(*a, **k), made.append(group.grouped))[0])
    grouped = cue_entry_run(tmp_path / "on", [], {GROUP_ENV: "1"})
    if switch == "env":
        alone = cue_entry_run(tmp_path / "off", [], {GROUP_ENV: "0"})
    else:
        alone = cue_entry_run(tmp_path / "off", [f"{switch}.group_numerics=false"], {})
    assert made == [True, False]
    assert grouped["timesteps.csv"].count("\n") > 40  # a row per tick and PE: not an empty file
    for key in ("timesteps.csv", "summary", "timing"):
        assert alone[key] == grouped[key], key


FSDD = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "fsdd"


def test_fsdd_training_is_bit_identical_with_and_without_group_numerics(tmp_path):
    """FSDD's 10 outputs over 10-neuron slices: a member's readout partial summed alone (late packet, redo, or
    per-PE mode) must add its rows in the group's order; numpy's sum(axis=0) rounded it differently."""
    if not FSDD.is_dir():
        pytest.skip(f"FSDD recordings not found at {FSDD}")
    from s2sim.config import load_network
    from s2sim.run import RunOptions, run_network
    weights = {}
    for grouped in (True, False):
        loaded = load_network(REPO / "networks" / "fsdd.yaml", [
            "training.epochs=1", f"dataset.path={FSDD}", "dataset.n_train=2", "dataset.n_valid=1",
            "dataset.n_test=1", f"run.simulator.group_numerics={'true' if grouped else 'false'}"])
        out = tmp_path / f"w_{grouped}.npz"
        run_network(loaded, RunOptions(out_dir=tmp_path / f"run_{grouped}", save_weights=out))
        with np.load(out) as z:
            weights[grouped] = {k: z[k] for k in z.files}
    for k in weights[True]:
        np.testing.assert_array_equal(weights[True][k], weights[False][k], err_msg=k)
