"""e-prop past one chip: networks/eprop_board2.yaml (n_rec = 720 over 240 PEs of 2 chips) learns as the
float32 reference does, with its spikes, readout partials and learning signal crossing the chip link."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from firmware_models.eprop import reference as R
from firmware_models.eprop.app import ChipNetwork, validate
from firmware_models.eprop.mapping import EpropMapping
from firmware_models.eprop.params import EpropParams
from s2sim.apps import AppError
from s2sim.config import load_network
from s2sim.hw.params import HwParams
from s2sim.sim import Simulation

BOARD2 = Path(__file__).resolve().parents[3] / "networks" / "eprop_board2.yaml"
STEPS, SAMPLES = 6, 2  # the shipped file with fewer time steps, to keep the test short


def _shipped(*sets: str):
    loaded = load_network(BOARD2, [f"network.n_steps={STEPS}", *sets])
    return loaded, EpropParams(**loaded.spec.network), EpropMapping(**loaded.spec.mapping)


def test_the_shipped_network_needs_two_chips_and_one_chip_says_so_in_one_line():
    loaded, p, mapping = _shipped()
    assert [line.strip() for line in validate(loaded)] == ["uses 240 of 304 PEs"]
    assert p.n_rec == 720 and mapping.pes == 240
    one_chip, *_ = _shipped("arch.board.chips_x=1", "mapping.pes=152")
    with pytest.raises(AppError) as err:
        validate(one_chip)
    message = str(err.value)
    assert "\n" not in message and "mapping:" in message
    assert message.endswith("240 PEs would fit, on 2 chips: set mapping.pes=240 and arch_overrides.board to "
                            "at least 2 chips")


def test_720_neurons_over_two_chips_spike_and_learn_as_the_reference_with_traffic_on_the_link():
    loaded, p, mapping = _shipped()
    hw = HwParams.from_arch(loaded.arch)
    rng = np.random.default_rng(3)
    w0 = R.init_weights(p, rng)
    X = (rng.standard_normal((SAMPLES, p.n_steps, p.n_in)) * 4).astype(np.float32)
    Y = rng.integers(0, p.n_out, SAMPLES)
    chip = ChipNetwork(Simulation(hw), p, mapping, {k: v.copy() for k, v in w0.items()})
    chip.group.record_raster = True
    on_chip1 = [s for s in chip.slices if s.pe >= hw.pes_per_chip]
    assert chip.slices[0].pe == 0 and len(on_chip1) == 240 - 152  # the root on chip 0, 88 PEs on chip 1
    records = chip.run_samples(X, Y, train=True, lr=0.01)

    # the reference, adding the readout in the chip's order, trains to the same weights bit for bit
    wr = {k: v.copy() for k, v in w0.items()}
    R.train_online(wr, R.Adam(wr, p), X, Y, p, 0, engine="stepwise", readout_starts=[s.start for s in chip.slices])
    for k, w in chip.weights().items():
        assert np.abs(w - w0[k]).max() > 1e-3, f"vacuous: {k} did not learn"
        np.testing.assert_array_equal(w, wr[k], err_msg=k)
    first = R.run_sample(w0, X[0], int(Y[0]), p, train=True, engine="stepwise")
    np.testing.assert_array_equal(chip.group.rasters[0], first.z[0])
    assert abs(records[0][1] - float(first.loss[0])) < 1e-5

    # what crossed the link: each spike's tree once (to the other chip's PEs), chip 1's readout partials
    # to the root and the root's learning signal to chip 1, 12 values each per sample
    boundary = on_chip1[0].start
    spikes = sum(chip.group.rasters[s] for s in range(SAMPLES))  # [T, n_rec] spike counts
    from_chip0, from_chip1 = int(spikes[:, :boundary].sum()), int(spikes[:, boundary:].sum())
    assert from_chip0 > 0 and from_chip1 > 0
    links = chip.sim.machine.link_load()["links"]
    assert links == {(0, 1): from_chip0 + SAMPLES * p.n_out,
                     (1, 0): from_chip1 + SAMPLES * p.n_out * len(on_chip1)}
