"""Each neuron model against the independent numpy loop (s2_reference.py): random networks with
excitatory and inhibitory integer weights, every delay 0..7, both resets, several PEs per population;
and the recordables a script reads back."""
import numpy as np
import pytest

from s2sim.spinnaker2 import hardware, helpers, snn

from s2_reference import as_dict, run_reference


def random_spikes(rng, n, ticks, p):
    raster = rng.random((ticks, n)) < p
    return raster, {i: np.flatnonzero(raster[:, i]).tolist() for i in range(n)}


def random_conns(rng, n_pre, n_post, top, p, delays):
    conns = []
    for i in range(n_pre):
        for j in range(n_post):
            if rng.random() < p:
                conns.append([i, j, int(rng.integers(-top, top + 1)), int(rng.integers(0, 8)) if delays else 0])
    return conns


@pytest.mark.parametrize("model,reset", [("lif", "reset_by_subtraction"), ("lif", "reset_to_v_reset"),
                                         ("lif_no_delay", "reset_by_subtraction"),
                                         ("lif_curr_exp", "reset_by_subtraction"),
                                         ("lif_curr_exp_no_delay", "reset_to_v_reset")])
def test_a_two_layer_network_matches_the_numpy_loop_spike_for_spike(model, reset):
    rng = np.random.default_rng(7)
    ticks, n_in, n_hid, n_out = 40, 12, 10, 4
    raster, spikes = random_spikes(rng, n_in, ticks, 0.3)
    top = 15 if model in ("lif", "lif_curr_exp") else 127
    params = {"threshold": 0.6 * top, "alpha_decay": 0.75, "i_offset": 0.0625 * top, "v_init": 0.125 * top,
              "v_reset": -0.25 * top, "reset": reset}
    if "curr_exp" in model:
        params |= {"exc_decay": 0.5, "inh_decay": 0.625, "t_refrac": 0}
    delays = not model.endswith("_no_delay")
    c1 = random_conns(rng, n_in, n_hid, top, 0.5, delays)
    c2 = random_conns(rng, n_hid, n_out, top, 0.7, delays)

    stim = snn.Population(n_in, "spike_list", spikes, name="stim")
    hid = snn.Population(n_hid, model, params, name="hid", record=["spikes", "v", "time_done", "n_packets"])
    out = snn.Population(n_out, model, params, name="out", record=["spikes", "v"])
    hid.set_max_atoms_per_core(4)  # three PEs
    net = snn.Network("random")
    net.add(stim, hid, out, snn.Projection(stim, hid, c1), snn.Projection(hid, out, c2))
    hardware.SpiNNaker2Chip().run(net, ticks)

    ref = run_reference({"stim": {"model": "spike_list", "n": n_in, "raster": raster},
                         "hid": {"model": model, "n": n_hid} | params,
                         "out": {"model": model, "n": n_out} | params},
                        [("stim", "hid", c1), ("hid", "out", c2)], ticks)
    assert hid.get_spikes() == as_dict(ref["hid"][0])
    assert out.get_spikes() == as_dict(ref["out"][0])
    assert sum(map(len, out.get_spikes().values())) > 3, "the test network should make the output fire"
    np.testing.assert_array_equal(np.stack([hid.get_voltages()[i] for i in range(n_hid)], 1), ref["hid"][1])
    # per-PE recordables: three PEs of hid, each with a time_done and a packet count per tick
    done, packets = hid.get_time_done_times(), hid.get_n_packets()
    assert len(done) == 3 and all(len(t) == ticks and min(t) > 0 for t in done.values())
    assert len(packets) == 3 and all(len(p) == ticks for p in packets.values())


def test_packets_into_a_population_count_each_input_spike_once_per_pe():
    rng = np.random.default_rng(1)
    ticks = 20
    raster, spikes = random_spikes(rng, 6, ticks, 0.4)
    stim = snn.Population(6, "spike_list", spikes, name="stim")
    pop = snn.Population(9, "lif", {"threshold": 100.0, "alpha_decay": 1.0}, name="pop", record=["n_packets"])
    pop.set_max_atoms_per_core(3)
    net = snn.Network("fan-out")
    net.add(stim, pop, snn.Projection(stim, pop, [[i, j, 1, 0] for i in range(6) for j in range(9)]))
    hardware.SpiNNaker2Chip().run(net, ticks)
    packets = pop.get_n_packets()
    assert len(packets) == 3
    for per_tick in packets.values():  # a spike sent in tick t reaches every PE of pop within tick t
        assert per_tick == raster.sum(1).astype(int).tolist()


def test_a_dense_network_from_helpers_matches_the_numpy_loop():
    rng = np.random.default_rng(5)
    ticks, n_in, n_out = 30, 16, 12
    w = rng.normal(0, 1, (n_in, n_out))
    conns = helpers.connection_list_from_dense_weights(helpers.scale_and_convert_weights_to_int8(w), delay=0)
    raster, spikes = random_spikes(rng, n_in, ticks, 0.25)
    params = {"threshold": 150.0, "alpha_decay": 0.875}
    stim = snn.Population(n_in, "spike_list", spikes, name="in")
    out = snn.Population(n_out, "lif_no_delay", params, name="out", record=["spikes", "v"])
    out.set_max_atoms_per_core(5)
    net = snn.Network("dense")
    net.add(stim, out, snn.Projection(stim, out, conns))
    summary = hardware.SpiNNaker2Chip().run(net, ticks)
    ref = run_reference({"in": {"model": "spike_list", "n": n_in, "raster": raster},
                         "out": {"model": "lif_no_delay", "n": n_out} | params}, [("in", "out", conns)], ticks)
    assert out.get_spikes() == as_dict(ref["out"][0])
    assert ref["out"][0].sum() > 5
    assert summary["app"]["synapses"] == n_in * n_out  # zeros too: every entry is a synapse


def test_delays_shift_spikes_by_delay_plus_one_tick():
    stim = snn.Population(1, "spike_list", {0: [2]}, name="stim")
    pops = [snn.Population(1, "lif", {"threshold": 1.0, "alpha_decay": 0.0}, name=f"d{d}") for d in range(8)]
    net = snn.Network("delays")
    net.add(stim, *pops, *[snn.Projection(stim, p, [[0, 0, 2, d]]) for d, p in enumerate(pops)])
    hardware.SpiNNaker2Chip().run(net, 12)
    assert [p.get_spikes()[0] for p in pops] == [[3 + d] for d in range(8)]


def test_i_offset_alone_drives_regular_firing_and_reset_by_subtraction_keeps_the_rest():
    # v = v + 3 each tick, threshold 5 (strict): 3, 6 -> fires, 1; 4, 7 -> fires, 2; 5 (not above 5);
    # 8 -> fires, 3; 6 -> fires, 1; 4
    pop = snn.Population(1, "lif", {"threshold": 5.0, "alpha_decay": 1.0, "i_offset": 3.0}, name="clock",
                         record=["spikes", "v"])
    zero = snn.Population(1, "lif", {"threshold": 5.0, "alpha_decay": 1.0, "i_offset": 3.0,
                                     "reset": "reset_to_v_reset", "v_reset": 0.0}, name="zero", record=["spikes"])
    stim = snn.Population(1, "spike_list", {}, name="stim")
    net = snn.Network("offset")
    net.add(stim, pop, zero)
    hardware.SpiNNaker2Chip().run(net, 8)
    assert pop.get_spikes() == {0: [1, 3, 5, 6]}
    assert pop.get_voltages()[0].tolist() == [3, 1, 4, 2, 5, 3, 1, 4]
    assert zero.get_spikes() == {0: [1, 3, 5, 7]}  # 3, 6 -> 0, 3, 6 -> 0, ...


def test_spike_list_params_set_after_construction_are_the_ones_that_run():
    stim = snn.Population(2, "spike_list", {}, name="stim")
    pop = snn.Population(2, "lif_no_delay", {"threshold": 0.5, "alpha_decay": 0.0}, name="pop")
    net = snn.Network("late params")
    net.add(stim, pop, snn.Projection(stim, pop, [[0, 0, 1, 0], [1, 1, 1, 0]]))
    stim.params = {0: [0, 4], 1: [2]}
    hardware.SpiNNaker2Chip().run(net, 6)
    assert pop.get_spikes() == {0: [1, 5], 1: [3]}
