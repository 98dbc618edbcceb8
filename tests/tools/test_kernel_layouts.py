"""The compiled kernels walk the firmware's arrays as the firmware lays them out.

Each story hands a compiled C kernel (on the Cortex-M4 emulator) the bytes of an array exactly as a PE
keeps it (the firmware's own array, row-major) and compares the result with the firmware's own
arithmetic on that array. A kernel that walked the transposed layout (e.g. W_out as [out][neuron]
while the firmware keeps [neuron][out]) would read other weights and fail; the shapes are chosen
non-square so a transpose cannot pass by accident.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

import calibrate_kernels as ck  # noqa: E402
import kernel_trace as kt  # noqa: E402
from kernel_trace import Arg  # noqa: E402

from firmware_models.eprop.firmware import EpropGroup  # noqa: E402
from firmware_models.eprop.params import EpropParams  # noqa: E402
from firmware_models.eventprop.app import consts  # noqa: E402
from firmware_models.eventprop.firmware import LayerGroup, _ordered_input_sum  # noqa: E402
from firmware_models.eventprop.params import EventpropParams  # noqa: E402

pytestmark = pytest.mark.skipif(not ck.toolchain_present(),
                                reason="needs arm-none-eabi-gcc, llvm-mca and the unicorn package "
                                       "(pip install .[calibrate])")
F32 = np.float32
TOL = ck.NUMERICS_TOLERANCE


def _emulator(algo: str, tmp: Path) -> kt.Emulator:
    objects = []
    for src in sorted((REPO / "firmware_models" / algo / "kernels").glob("*.c")):
        obj = tmp / f"{src.stem}.o"
        subprocess.run([ck.GCC, *ck.CFLAGS, "-c", str(src), "-o", str(obj)], check=True)
        objects.append(obj)
    ck.link_image(objects, tmp)
    return kt.Emulator(tmp / "image.elf", tmp / "image.bin")


@pytest.fixture(scope="module")
def eprop_emu(tmp_path_factory):
    return _emulator("eprop", tmp_path_factory.mktemp("eprop"))


@pytest.fixture(scope="module")
def eventprop_emu(tmp_path_factory):
    return _emulator("eventprop", tmp_path_factory.mktemp("eventprop"))


def _call(emu, function, *args):
    return emu.call(function, [a if isinstance(a, Arg) else
                               Arg("int", a) if isinstance(a, int) else
                               Arg("float", float(a)) if isinstance(a, (float, np.floating)) else
                               Arg("array", np.ascontiguousarray(a)) for a in args], ck.CALLS)


def _close(got, want) -> bool:
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return got.shape == want.shape and float(np.max(np.abs(got - want) / (1 + np.abs(want)))) <= TOL


@pytest.fixture
def eprop_member():
    """Member 1 (neurons 4..8) of an e-prop group of 7 inputs, 9 recurrent neurons and 3 outputs, random weights:
    the regions its PE keeps, as the firmware's ``member_regions`` hands them out."""
    rng = np.random.default_rng(3)
    g = EpropGroup(EpropParams(n_in=7, n_rec=9, n_out=3), [(0, 4), (4, 9)])
    g.W[...] = rng.uniform(-1, 1, g.W.shape)
    g.W_out[...] = rng.uniform(-1, 1, g.W_out.shape)
    regions = {name: arrays for name, _, arrays in g.member_regions(1)}
    return g, regions, rng


def test_readout_sums_the_members_w_out_rows_as_the_firmware_does(eprop_emu, eprop_member):
    g, regions, rng = eprop_member
    (w_out,) = regions["w_out"]  # [neuron][out]: 5 x 3
    n, n_out = w_out.shape
    zbar, y = rng.uniform(0, 1, n).astype(F32), rng.uniform(0, 1, n_out).astype(F32)
    run = _call(eprop_emu, "eprop_readout", n_out, n, w_out, zbar, y)
    firmware = np.add.reduceat(zbar[:, None] * w_out, [0], axis=0)[0]  # EpropGroup's partial readout
    assert _close(run.arrays[2], y + firmware)


def test_learning_signal_reads_each_neurons_w_out_row(eprop_emu, eprop_member):
    g, regions, rng = eprop_member
    (w_out,) = regions["w_out"]
    n, n_out = w_out.shape
    err = rng.uniform(-1, 1, n_out).astype(F32)
    inv_t = F32(0.25)
    run = _call(eprop_emu, "eprop_learning_signal", n, n_out, w_out, err, np.zeros(n, F32), inv_t)
    c = g.cols[1]
    firmware = (err[None, :] @ g.W_out.T)[:, c][0] * inv_t  # EpropGroup._learn's R4 on the member's columns
    assert _close(run.arrays[2], firmware)


def test_dense_forward_walks_the_members_pre_post_weights(eprop_emu, eprop_member):
    g, regions, rng = eprop_member
    w = np.vstack([regions["w_in"][0], regions["w_rec"][0]])  # [pre][post]: 16 x 5
    m, n = w.shape
    u = rng.uniform(0, 1, m).astype(F32)
    run = _call(eprop_emu, "dense_mac", n, m, w, u, np.zeros(n, F32))
    assert _close(run.arrays[2], (u @ g.W)[g.cols[1]])


@pytest.fixture
def eventprop_layer():
    """A 6-neuron hidden-layer slice of 5 inputs (one copy), random weights: the firmware's W and acc."""
    rng = np.random.default_rng(4)
    g = LayerGroup(0, 0, 6, 5, 1, consts(EventpropParams()), 4, send_errors=True, is_output=False)
    g.W[...] = rng.uniform(-1, 1, g.W.shape)
    g.acc[...] = rng.uniform(-1, 1, g.acc.shape)
    return g, rng


def test_a_received_spike_adds_the_weight_column_the_forward_step_uses(eventprop_emu, eventprop_layer):
    g, rng = eventprop_layer
    n, n_in, i = g.n, g.n_in, 3
    inp = rng.uniform(0, 1, n).astype(F32)
    hist, count = np.zeros(8, np.uint16), np.zeros(1, np.int32)
    run = _call(eventprop_emu, "eventprop_receive_spike", n, n_in, 11, i, g.W[0], inp, hist, count)
    spike = np.zeros((1, n_in), F32)
    spike[0, i] = 1
    assert _close(run.arrays[1], inp + _ordered_input_sum(spike, g.W)[0])  # LayerGroup._forward's drive
    assert run.arrays[2][:2].tolist() == [11, i] and run.arrays[3][0] == 1


def test_gradient_and_backward_error_walk_the_presynaptic_column(eventprop_emu, eventprop_layer):
    g, rng = eventprop_layer
    n, n_in, i = g.n, g.n_in, 1
    lam = rng.uniform(-1, 1, n).astype(F32)
    run = _call(eventprop_emu, "eventprop_grad_accumulate", n, n_in, i, lam, g.acc[0])
    want = g.acc[0].copy()
    want[:, i] += lam  # LayerGroup._backward: acc[c, :, i] += lambda_I
    assert _close(run.arrays[1], want)
    run = _call(eventprop_emu, "eventprop_error_out", n, n_in, i, g.W[0], lam)
    e = np.zeros((1, n_in), F32)
    for j in range(n):  # LayerGroup._backward's error, postsynaptic index ascending
        e += lam[None, j, None] * g.W[:, j, :]
    assert _close([run.s0], [e[0, i]])
