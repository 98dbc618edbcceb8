"""The counted kernel's plain e-prop ticks (``firmware_models/eprop/plain_ticks.py``): most time steps of a
sample run for the whole group in one compiled call instead of the tick group's ordinary path, and leave
every array and every piece of bookkeeping of the group and the cores as the ordinary path leaves it.
"""
import numpy as np
import pytest

from firmware_models.eprop.plain_ticks import PlainTicks
from test_counted_eprop import chip_network

from s2sim.counted.eprop import EpropModel


def network(**params):
    """gsc's network on 12 PEs (with ``params`` changed) on the counted kernel, fresh weights, three inputs."""
    from firmware_models.eprop import reference as R
    from firmware_models.eprop.app import ChipNetwork
    from firmware_models.eprop.mapping import EpropMapping
    from firmware_models.eprop.params import EpropParams
    from s2sim.config import load_arch
    from s2sim.hw.params import HwParams
    from s2sim.sim import Simulation

    p = EpropParams(**params)
    rng = np.random.default_rng(11)
    w0 = R.init_weights(p, rng)
    X = (rng.standard_normal((3, p.n_steps, p.n_in)) * 4).astype(np.float32)
    net = ChipNetwork(Simulation(HwParams.from_arch(load_arch("spinnaker2")), kernel="counted"), p,
                      EpropMapping(pes=12), w0)
    return net, X


def train_three_samples(monkeypatch, plain: bool, **params):
    """Three training samples on the counted kernel, with or without the plain ticks: (firmware state, timing,
    records, weights, ticks the plain path ran, counted windows)."""
    ran = []
    real = PlainTicks.run

    def counting(self, tick, n_max):
        n = real(self, tick, n_max) if plain else 0
        ran.append(n)
        return n

    monkeypatch.setattr(PlainTicks, "run", counting)
    net, X = network(**params)
    records = net.run_samples(X, np.array([4, 0, 9]), train=True, lr=0.01)
    chip = net.sim.machine
    state = EpropModel.save(chip.counted._model)  # every array and plain value of the group, its ticks and cores
    st = chip.stats
    timing = {name: getattr(st, name)[:st.n_rows].copy() for name in ("time_done_ns", "busy_cycles", "packets_in")}
    timing.update({f"cycles_{p}": a[:st.n_rows].copy() for p, a in st.phase_cycles.items()})
    monkeypatch.undo()
    return state, timing, records, net.group.weights(), sum(ran), chip.kernel_report()["counted_windows"]


def assert_same(a, b, where=""):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
        assert a.dtype == b.dtype, where
    else:
        assert a == b or (a != a and b != b), where


def test_plain_ticks_run_most_steps_and_leave_what_the_ordinary_path_leaves(monkeypatch):
    ordinary = train_three_samples(monkeypatch, plain=False)
    plain = train_three_samples(monkeypatch, plain=True)
    assert ordinary[4] == 0
    # every step but a sample's first (learning and reset) and the run's first tick: 3 x 99 - 1
    assert plain[4] == 3 * 99 - 1
    assert_same(ordinary[0], plain[0], "state")
    assert_same(ordinary[1], plain[1], "timing")
    assert ordinary[2] == plain[2] and ordinary[2]
    assert_same(ordinary[3], plain[3], "weights")
    assert plain[5]["counted"] == 3  # a counted window per sample (its 100 steps; the learning tick event-driven)


@pytest.mark.parametrize("params", [{"memory_layout": "lean"}, {"memory_layout": "closed_form"},
                                    {"eps_a": "exact"}], ids=["lean", "closed_form", "exact_eps_a"])
def test_the_other_eligibility_variants_run_plain_and_leave_what_the_ordinary_path_leaves(monkeypatch, params):
    ordinary = train_three_samples(monkeypatch, False, **params)
    plain = train_three_samples(monkeypatch, True, **params)
    assert plain[4] == 3 * 99 - 1
    assert_same(ordinary[0], plain[0], "state")
    assert_same(ordinary[1], plain[1], "timing")
    assert ordinary[2] == plain[2]
    assert_same(ordinary[3], plain[3], "weights")


@pytest.fixture
def net_in_the_middle_of_a_sample():
    """gsc on 12 PEs, stopped in the middle of a training sample (a plain tick next)."""
    net, X = chip_network("counted", seed=3)
    sim = net.sim  # (``ChipNetwork.run_samples``' loading, then 37 of the sample's 101 ticks)
    sim.store_dram("eprop_x", np.ascontiguousarray(X[:1]).reshape(-1))
    sim.store_dram("eprop_labels", np.array([1], np.int64))
    for fw in net.cores:
        fw.dram_base, fw.dram_samples = 0, 1
    net.group.lr = np.float32(0.01)
    sim.run_ticks(37)
    model = sim.machine.counted._model
    tick = model.timer.next_tick
    assert tick == 37 and model.plain_ticks._can_start(tick)
    return model, tick


def test_a_tick_whose_members_inputs_differ_is_left_to_the_ordinary_path_untouched(net_in_the_middle_of_a_sample):
    model, tick = net_in_the_middle_of_a_sample
    g = model.group
    g.inputs[3, tick & 1, 0] += np.float32(0.5)  # member 3's x_t differs from the others'
    before = model.save()
    assert model.plain_ticks.run(tick, 5) == 0
    model.plain_ticks.sync()
    assert_same(before, model.save(), "state")


def test_plain_ticks_stop_after_a_step_that_enters_an_input_chunk(net_in_the_middle_of_a_sample):
    """The prefetch of the next chunk is the caller's: the compiled call returns after that step."""
    model, tick = net_in_the_middle_of_a_sample
    fw = model.firmwares[0]
    entering = next(t for t in range(tick, tick + 20) if fw._chunk_of(t)[1] == 0)
    assert model.plain_ticks.run(tick, 50) == entering - tick + 1
    assert model.plain_ticks.last == entering
