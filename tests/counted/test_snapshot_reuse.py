"""A counted window's snapshot reuses the arrays of the one before it once the engine released that one
(``s2sim/counted/snapshot.py``): the snapshot still holds the state as it was when taken, a released
snapshot is never part of the live state, and a snapshot nobody released stays a value of its own."""
import numpy as np
from test_counted_eprop import chip_network
from test_counted_eprop_plain import assert_same

from s2sim.counted.snapshot import snapshot_array, spare_arrays


def test_a_spare_array_of_the_right_shape_and_type_takes_the_copy_and_leaves_the_spares():
    value = np.arange(6, dtype=np.float32).reshape(2, 3)
    spare_buf = np.full((2, 3), 9, np.float32)
    spare = {("g", "V"): spare_buf, ("g", "I"): np.zeros(4)}
    copy = snapshot_array(spare, ("g", "V"), value)
    assert copy is spare_buf and np.array_equal(copy, value) and ("g", "V") not in spare
    value[0, 0] = 7  # the snapshot is a copy, not a view
    assert copy[0, 0] == 0
    wrong_type = {("g", "V"): np.zeros((2, 3))}  # float64: not reused
    other = snapshot_array(wrong_type, ("g", "V"), value)
    assert other.dtype == np.float32 and other is not wrong_type.get(("g", "V"))
    assert list(spare_arrays([{"V": copy, "step": 3}, {"W": value}])) == [(0, "V"), (1, "W")]


def _gsc_model():
    """gsc on 12 PEs on the counted kernel, one sample trained (the model built, its first snapshot taken)."""
    net, X = chip_network("counted", seed=5)
    net.run_samples(X[:1], np.array([1]), train=True, lr=0.01)
    return net, X, net.sim.machine.counted._model


def test_a_snapshot_into_released_arrays_holds_the_state_it_was_taken_from():
    net, X, model = _gsc_model()
    first = model.save()
    model.group.W[0, 0] += np.float32(1.0)  # the state moves on
    expected = model.save()  # (nothing released: new arrays)
    model.release(first)
    second = model.save()  # into the first snapshot's arrays
    assert_same(expected, second, "snapshot")
    reused = {id(a) for d in second for a in d.values() if isinstance(a, np.ndarray)}
    assert reused & {id(a) for d in first for a in d.values() if isinstance(a, np.ndarray)}
    live = {id(a) for obj in model._objects() for a in vars(obj).values() if isinstance(a, np.ndarray)}
    assert not reused & live  # no snapshot array is a live one
    model.group.W[0, 0] += np.float32(1.0)
    model.restore(second)  # back to the state the snapshot was taken from
    assert_same(expected, model.save(), "restored")


def test_snapshots_not_released_are_values_of_their_own():
    net, X, model = _gsc_model()
    first = model.save()
    w = model.group.W[0, 0]
    model.group.W[0, 0] += np.float32(1.0)
    model.save()
    assert first[0]["W"][0, 0] == w


def test_training_with_reused_snapshots_gives_the_exact_kernels_timing_and_weights():
    counted, X = chip_network("counted", seed=6)
    exact, _ = chip_network("exact", seed=6)
    y = np.array([1, 4, 2])
    for net in (counted, exact):
        net.run_samples(X[:3], y, train=True, lr=0.01)
    st_c, st_e = counted.sim.machine.stats, exact.sim.machine.stats
    assert np.array_equal(st_c.time_done_ns[:st_c.n_rows], st_e.time_done_ns[:st_e.n_rows])
    assert np.array_equal(counted.group.W, exact.group.W)
    assert counted.sim.machine.counted.windows["counted"] >= 3
