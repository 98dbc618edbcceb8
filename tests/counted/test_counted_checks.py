"""A model array the compiled loop would read out of bounds stops the run with one line naming it
(``s2sim/counted/checks.py``), before the loop runs, instead of a wrong result or a crash."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_counted_kernel import LIF_BENCH, SMALL, tf  # noqa: E402

from firmware_models.lif_inference.app import load_and_place  # noqa: E402
from s2sim.counted import engine as engine_module  # noqa: E402
from s2sim.counted.checks import ModelArrayError, check_model  # noqa: E402
from s2sim.counted.lif import LifModel  # noqa: E402

ACTIVE = SMALL + ["network.input_rate_hz=200", "network.weight_mean=0.3"]


def loaded(sets=ACTIVE):
    with tf.kernel_env("counted"):
        _, sim, _, _ = load_and_place(LIF_BENCH, sets)
    return sim


def a_unit_with_rows(model) -> int:
    return int(np.flatnonzero(model.kind == 1)[0])


# each: what goes wrong in a model, and the array the error names
CORRUPTIONS = {
    "a delivery to a unit that does not exist": (lambda m: m.j_unit.__setitem__(0, len(m.pes) + 3), "j_unit"),
    "a route id past the routes": (lambda m: m.route_of.__setitem__(0, len(m.r_inj)), "route_of"),
    "an edge to a link the state has no slot for": (lambda m: m.e_link.__setitem__(0, len(m.link_keys)), "e_link"),
    "a chip link id on a plain chip": (lambda m: m.e_clink.__setitem__(0, 0), "e_clink"),
    "a row pointer past the synapses": (lambda m: m.row_ptr.__setitem__(-1, len(m.post_all) + 5), "row_ptr"),
    "a synapse onto a neuron past the PE's": (lambda m: m.post_all.__setitem__(
        m.row_ptr[m.rowoff[a_unit_with_rows(m)]], m.nneur[a_unit_with_rows(m)]), "post_all"),
    "a source's first row past the PE's rows": (lambda m: m.base.__setitem__(
        (a_unit_with_rows(m), int(np.flatnonzero(m.base[a_unit_with_rows(m)] >= 0)[0])), 10 ** 6), "base"),
    "a cost line scaling with a count that does not exist": (lambda m: m.costs.ln_count.__setitem__(0, 99),
                                                             "ln_count"),
    "a timer table that does not exist": (lambda m: m.timer_table.__setitem__(0, 99), "timer_table"),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_a_corrupt_model_array_is_named_before_the_loop_runs(name):
    model = LifModel(loaded().machine)
    check_model(model)  # as built: consistent
    corrupt, array = CORRUPTIONS[name]
    corrupt(model)
    with pytest.raises(ModelArrayError, match=array) as err:
        check_model(model)
    assert "\n" not in str(err.value)


def test_a_run_with_a_corrupt_model_stops_with_the_error_and_never_enters_the_loop(monkeypatch):
    def corrupt_model(chip):
        model = LifModel(chip)
        model.j_unit[:] = len(model.pes) + 7  # every delivery to a unit past the arrays
        return model

    entered = []
    monkeypatch.setattr(engine_module, "_model_of", corrupt_model)
    monkeypatch.setattr(engine_module.CountedEngine, "_loop", lambda *a: entered.append(1))
    sim = loaded()
    with pytest.raises(ModelArrayError, match="j_unit"):
        sim.run_ticks(4)
    assert entered == []


def test_source_spikes_past_a_sources_neurons_are_named_before_the_loop_runs(monkeypatch):
    draw = LifModel.window_inputs

    def one_spike_too_far(self, t0, n):
        fired, ptr, ticks = draw(self, t0, n)
        source = int(np.flatnonzero(self.kind == 0)[0])
        fired = np.insert(fired, ptr[source], self.nneur[source])  # neuron n of a source of n neurons
        ptr = ptr.copy()
        ptr[source + 1:] += 1
        return fired, ptr, ticks

    monkeypatch.setattr(LifModel, "window_inputs", one_spike_too_far)
    sim = loaded()
    with pytest.raises(ModelArrayError, match="src_fired"):
        sim.run_ticks(4)


SPARSE = ACTIVE + ["mapping.row_index=sparse", "network.p_connect=0.05"]
FANOUT_CORRUPTIONS = {
    "a row in a receiver without a sparse index": (lambda m: m.fanout_unit.__setitem__(0, 0), "fanout_unit"),
    "a synapse onto a neuron past the receiver's": (lambda m: m.fanout_post.__setitem__(
        0, m.nneur[m.fanout_unit[0]]), "fanout_post"),
    "a synapse pointer past the fan-out's synapses": (lambda m: m.fanout_sptr.__setitem__(
        -1, len(m.fanout_post) + 1), "fanout_sptr"),
    "a source's fan-out past the fan-out's neurons": (lambda m: m.fanout_noff.__setitem__(
        int(np.flatnonzero(m.fanout_noff >= 0)[-1]), len(m.fanout_ptr)), "fanout_noff"),
}


@pytest.mark.parametrize("name", list(FANOUT_CORRUPTIONS))
def test_a_corrupt_sparse_fan_out_is_named_before_the_loop_runs(name):
    model = LifModel(loaded(SPARSE).machine)
    assert model.sparse.any() and len(model.fanout_unit) > 0
    check_model(model)
    corrupt, array = FANOUT_CORRUPTIONS[name]
    corrupt(model)
    with pytest.raises(ModelArrayError, match=array):
        check_model(model)
