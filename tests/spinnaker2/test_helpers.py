"""py-spinnaker2's helpers behave as documented: the formats scripts pass around."""
import numpy as np

from s2sim.spinnaker2 import helpers


def test_spike_times_dict_to_arrays_gives_one_index_and_time_per_spike():
    indices, times = helpers.spike_times_dict_to_arrays({0: [1, 4], 2: [3], 5: []})
    assert indices.tolist() == [0, 0, 2]
    assert times.tolist() == [1, 4, 3]
    empty_i, empty_t = helpers.spike_times_dict_to_arrays({})
    assert empty_i.size == empty_t.size == 0


def test_connection_list_from_dense_weights_lists_every_entry_pre_major_zeros_included():
    w = np.array([[1.0, 0.0, -2.0], [0.5, 3.0, 0.0]])  # [pre, post]
    conns = helpers.connection_list_from_dense_weights(w, delay=2)
    assert conns == [[0, 0, 1.0, 2], [0, 1, 0.0, 2], [0, 2, -2.0, 2],
                     [1, 0, 0.5, 2], [1, 1, 3.0, 2], [1, 2, 0.0, 2]]


def test_scale_and_convert_weights_to_int8_maps_the_largest_magnitude_to_127_and_truncates():
    q = helpers.scale_and_convert_weights_to_int8(np.array([[0.5, -0.25], [0.1, -0.5]]))
    assert q.dtype == np.int8
    assert q.tolist() == [[127, -63], [25, -127]]  # 63.5 -> 63, 25.4 -> 25


def test_reorder_dense_weights_after_conv2d_turns_hwc_rows_into_chw():
    c, h, w = 2, 1, 3
    rows = np.arange(c * h * w)[:, None] * np.ones((1, 2))  # row r holds r: HWC index
    out = helpers.reorder_dense_weights_after_conv2d(rows, c, h, w)
    # CHW order: channel 0 at x = 0, 1, 2 (HWC rows 0, 2, 4), then channel 1 (rows 1, 3, 5)
    assert out[:, 0].tolist() == [0, 2, 4, 1, 3, 5]
