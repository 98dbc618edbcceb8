"""The LIF firmware, spread over PEs and talking through the NoC, spikes exactly like the
vectorised numpy reference of the same network; both NoC fidelities give the same timing."""
from pathlib import Path

import numpy as np
import pytest

from firmware_models.lif_inference import reference
from firmware_models.lif_inference.app import place, raster
from firmware_models.lif_inference.network import build
from firmware_models.lif_inference.params import LifMapping, LifNetwork
from s2sim.apps import RunContext
from s2sim.config import load_network
from s2sim.hw.params import HwParams

REPO = Path(__file__).resolve().parents[3]


def make_ctx(tmp_path, fidelity="burst", **sets):
    overrides = [f"run.noc_fidelity={fidelity}"] + [f"{k}={v}" for k, v in sets.items()]
    loaded = load_network(REPO / "networks" / "lif_bench.yaml", overrides)
    return RunContext(loaded=loaded, hw=HwParams.from_arch(loaded.arch), out_dir=tmp_path,
                      progress=lambda label, total: (lambda n=1: None))


def simulate(ctx, n_ticks):
    net = ctx.section(LifNetwork, "network")
    built = build(net, ctx.section(LifMapping, "mapping"), ctx.seed, ctx.hw.n_pes)
    sim = ctx.simulation()
    fws = place(ctx, sim, built)
    sim.run_ticks(n_ticks)
    return sim, built, fws


@pytest.mark.parametrize("fidelity", ["burst", "packet"])
def test_firmware_raster_equals_numpy_reference(tmp_path, fidelity):
    ctx = make_ctx(tmp_path, fidelity, **{"network.layers": "[96,128,64]", "mapping.neurons_per_pe": 40})
    sim, built, fws = simulate(ctx, 60)
    ref = reference.simulate(built, 60, ctx.spec.run.tick_ns)
    for layer in range(len(built.net.layers)):
        got = raster(built, fws, layer, 60)
        assert got.sum() > 0, f"layer {layer} never spiked: the comparison would be vacuous"
        assert np.array_equal(got, ref[layer]), f"layer {layer} raster differs"


def test_burst_and_packet_fidelity_agree_on_timestep_latency(tmp_path):
    per_step = {}
    for fidelity in ("burst", "packet"):
        sim, _, _ = simulate(make_ctx(tmp_path, fidelity), 50)
        done = sim.machine.stats.time_done_ns[:50][:, sim.used_pes]
        per_step[fidelity] = done.max(axis=1)
    assert per_step["burst"].mean() > 0
    rel = np.abs(per_step["burst"] - per_step["packet"]) / per_step["packet"]
    assert rel.max() < 0.05, rel.max()


def test_burst_fidelity_uses_fewer_events_for_the_same_packets(tmp_path):
    counts = {}
    for fidelity in ("burst", "packet"):
        sim, _, _ = simulate(make_ctx(tmp_path, fidelity), 30)
        counts[fidelity] = (sim.machine.counters.deliveries, sim.env.events_scheduled)
    assert counts["burst"][0] == counts["packet"][0]
    assert counts["burst"][1] < counts["packet"][1]


def test_sparse_row_path_spikes_like_the_reference(tmp_path, monkeypatch):
    """Board-sized slices add their synapses one by one instead of through a dense decode: same raster."""
    from firmware_models.lif_inference import firmware
    monkeypatch.setattr(firmware, "DENSE_DECODE_MAX_BYTES", 0)
    ctx = make_ctx(tmp_path, **{"network.layers": "[96,128,64]", "mapping.neurons_per_pe": 40})
    sim, built, fws = simulate(ctx, 60)
    assert all(fw.dense_rows is None for fw in fws.values() if hasattr(fw, "dense_rows"))
    ref = reference.simulate(built, 60, ctx.spec.run.tick_ns)
    for layer in range(len(built.net.layers)):
        assert np.array_equal(raster(built, fws, layer, 60), ref[layer]), f"layer {layer} raster differs"


def test_synaptic_rows_hold_the_dense_recipe_block_by_block():
    """Drawing a projection block by block gives exactly the weights of one dense draw."""
    from firmware_models.lif_inference import network
    net = LifNetwork(layers=[700, 90, 50], p_connect=0.2)
    built = build(net, LifMapping(neurons_per_pe=64), seed=3, n_pes_available=152)
    rng = np.random.default_rng([3, 0x11F])
    for proj, (n_pre, n_post) in zip(built.projections, [(700, 90), (90, 50)]):
        mask = rng.random((n_pre, n_post)) < net.p_connect
        w = rng.normal(net.weight_mean, net.weight_std, (n_pre, n_post))
        w = (np.round(w / net.weight_resolution) * net.weight_resolution * mask).astype(np.float32)
        assert np.array_equal(proj.dense(), w)
        assert proj.nnz == int((w != 0).sum())
    assert network._ROWS_PER_BLOCK < 700, "the first projection must span several blocks"


def test_each_core_charges_exactly_its_compressed_rows(tmp_path):
    """SRAM weights of a LIF core = its row index (uint32) + targets (uint16) + weights (float32)."""
    ctx = make_ctx(tmp_path, **{"network.layers": "[96,128,64]", "mapping.neurons_per_pe": 40})
    sim, built, fws = simulate(ctx, 1)
    for s in built.slices:
        if s.layer == 0:
            continue
        rows = built.projections[s.layer - 1].columns(s.start, s.stop)
        regions = sim.machine.pes[s.pe].sram.regions
        assert regions["syn_weights"].nbytes == 4 * rows.nnz
        assert regions["syn_indices"].nbytes == 2 * rows.nnz
        assert regions["row_index"].nbytes == 4 * (rows.n_pre + 1)
        assert rows.nnz == int((rows.dense() != 0).sum()) > 0


def test_sparse_draw_follows_the_connection_law_in_distinct_sorted_rows():
    """``draw: sparse`` draws per synapse: about p of all pairs, each row's targets distinct and sorted."""
    net = LifNetwork(layers=[400, 3000], p_connect=0.01, draw="sparse")
    rows = build(net, LifMapping(neurons_per_pe=250), seed=5, n_pes_available=152).projections[0]
    expected = 400 * 3000 * 0.01
    assert abs(rows.nnz - expected) < 5 * np.sqrt(expected)  # binomial: 5 sigma
    for i in range(rows.n_pre):
        targets = rows.post[rows.indptr[i]:rows.indptr[i + 1]]
        assert np.all(np.diff(targets) > 0)
    assert np.all(rows.weight != 0)


def test_reset_subtract_spikes_exactly_like_the_reference_and_unlike_reset_zero(tmp_path):
    # Every other LIF test resets to zero. Strong input (weights 0.3, 1 kHz) makes neurons cross the
    # threshold by a margin, so subtracting it leaves a residue that changes later spikes.
    sets = {"network.layers": "[96,128,64]", "mapping.neurons_per_pe": 40, "network.reset": "subtract",
            "network.weight_mean": 0.3, "network.input_rate_hz": 1000}
    ctx = make_ctx(tmp_path, **sets)
    sim, built, fws = simulate(ctx, 40)
    ref = reference.simulate(built, 40, ctx.spec.run.tick_ns)
    zero_ctx = make_ctx(tmp_path, **{**sets, "network.reset": "zero"})
    _, zero_built, _ = simulate(zero_ctx, 1)
    ref_zero = reference.simulate(zero_built, 40, zero_ctx.spec.run.tick_ns)
    for layer in range(1, len(built.net.layers)):
        got = raster(built, fws, layer, 40)
        assert got.sum() > 0, f"layer {layer} never spiked: the comparison would be vacuous"
        assert np.array_equal(got, ref[layer]), f"layer {layer} raster differs"
    assert any(not np.array_equal(ref[layer], ref_zero[layer]) for layer in range(1, len(ref))), \
        "vacuous: subtract and zero reset gave the same spikes"


@pytest.mark.parametrize("update", ["firmware", "reference"])
def test_a_membrane_exactly_at_threshold_does_not_spike_and_one_ulp_above_does(update):
    # v = 0 receives one input of weight w: v = w. Spike iff v > threshold (strictly), in the
    # firmware's update and in the reference (one neuron, one input spike at tick 0, seen at tick 1).
    from types import SimpleNamespace
    from firmware_models.lif_inference.firmware import lif_update
    w = np.float32(0.7)

    def spikes(threshold):
        if update == "firmware":
            v, buf = np.zeros(1, np.float32), np.array([w], np.float32)
            return bool(lif_update(v, buf, np.float32(0.5), np.float32(threshold), "zero")[0])
        rows = SimpleNamespace(indptr=np.array([0, 1]), post=np.array([0]), weight=np.array([w], np.float32))
        net = SimpleNamespace(layers=[1, 1], threshold=float(threshold), reset="zero", tau_mem_ms=20.0)
        built = SimpleNamespace(net=net, projections=[rows])
        return bool(reference.forward(built, np.array([[True], [False]]), 1_000_000.0)[1][1, 0])

    assert not spikes(w)
    assert spikes(np.nextafter(w, np.float32(0)))  # the weight one ulp above the threshold
