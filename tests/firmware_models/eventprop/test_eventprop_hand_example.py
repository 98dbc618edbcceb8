r"""A 1-1-1 network worked out by hand, step by step, against the reference.

Setup (chosen so every forward number is an exact binary fraction):
  T = 10 steps, dt = 1 ms, Euler decays with tau_syn = 2 ms, tau_mem = 4 ms:
  a = 1 - 1/2 = 0.5,  b = 1 - 1/4 = 0.75,  1 - b = 0.25,  theta = 1.
  One input spike at step 0.  w1 (input->hidden) = 3.5,  w2 (hidden->output) = 4.
  Label 0; loss constants alpha = 3e-3, tau0 = 0.5 ms, tau1 = 6.4 ms; tau_syn = 0.002 s.

Forward, I[t] = a I[t-1] + w s_in[t-1];  V[t] = b V[t-1] + (1-b) I[t];  spike if V > 1.

Hidden. The input spike at step 0 first appears in I at step 1 (one-step delay):
  t=1: I = 3.5            V = 0.25*3.5                  = 0.875
  t=2: I = 1.75           V = 0.75*0.875 + 0.25*1.75    = 0.65625 + 0.4375 = 1.09375 > 1 -> SPIKE, V := 0
  t=3: I = 0.875          V = 0     + 0.21875          = 0.21875
  t=4: I = 0.4375         V = 0.1640625 + 0.109375     = 0.2734375
  t=5: I = 0.21875        V = 0.205078125 + 0.0546875  = 0.259765625
  t=6: I = 0.109375       V = 0.19482421875 + 0.02734375 = 0.22216796875
  t=7: I = 0.0546875      V = 0.1666259765625 + 0.013671875 = 0.1802978515625
  t=8: I = 0.02734375     V = 0.135223388671875 + 0.0068359375 = 0.142059326171875
  t=9: I = 0.013671875    V = 0.10654449462890625 + 0.00341796875 = 0.10996246337890625
Output. The hidden spike at step 2 first appears in I at step 3:
  t=1,2: I = 0, V = 0
  t=3: I = 4              V = 0.25*4                    = 1.0  (not > 1: strict threshold, no spike)
  t=4: I = 2              V = 0.75*1.0 + 0.25*2         = 1.25 > 1 -> SPIKE, V := 0
  t=5: I = 1              V = 0.25
  t=6: I = 0.5            V = 0.1875 + 0.125            = 0.3125
  t=7: I = 0.25           V = 0.234375 + 0.0625         = 0.296875
  t=8: I = 0.125          V = 0.22265625 + 0.03125      = 0.25390625
  t=9: I = 0.0625         V = 0.1904296875 + 0.015625   = 0.2060546875
Spike steps: hidden 2, output 4.  Vdot at the spikes: hidden 1.75 - 1.09375 = 0.65625 = 21/32,
output 2 - 1.25 = 0.75.

Loss. t_out = 4 ms, a single output neuron so the softmax is 1 and the CE part of dL/dt is
(1/tau0)(1 - 1) = 0; the regulariser gives
  g = dL/dt = (alpha/tau1) e^{t/tau1} = (3e-3/6.4e-3) e^{0.004/0.0064} = 0.46875 e^{0.625}
    = 0.46875 * 1.8682459574 = 0.8757402925,
placed at grad_out[4]. Loss = CE(=0) + alpha (e^{0.625} - 1) = 3e-3 * 0.8682459574 = 0.0026047379.

Backward, output layer (a = 0.5, 1-a = 0.5, b = 0.75), lV[9] = lI[9] = 0:
  t = 8..4: nothing spikes at t+1 in 9..5 and grad_out is 0 there -> lV = lI = 0, grad_in = 0.
  t = 3: reads lV[4] = lI[4] = 0 (values before the jump of the step-4 spike).
         grad_in[3] = 4 (0 - 0) = 0;  lI[3] = 0;  lV[3] = 0.75*0 + (lV[4] + g)/0.75 = 4g/3
  t = 2: reads lV[3] = 4g/3 (after the jump), lI[3] = 0.
         grad_in[2] = 4 (4g/3 - 0) = 16g/3;  lI[2] = 0.5*0 + 0.5*4g/3 = 2g/3;  lV[2] = 0.75*4g/3 = g
         (no jump: the output did not spike at step 3).  dW2 -= 0.002 * lI[2] * s_h[2] = 0.002*2g/3
  t = 1: grad_in[1] = 4 (g - 2g/3) = 4g/3;  lI[1] = 0.5*2g/3 + 0.5*g = 5g/6;  lV[1] = 3g/4
  t = 0: grad_in[0] = 4 (3g/4 - 5g/6) = -g/3;  lI[0] = 0.5*5g/6 + 0.5*3g/4 = 19g/24;  lV[0] = 9g/16
  dW2 = -0.002 * 2g/3 = -g/750    (only s_h[2] = 1 samples lI).
Backward, hidden layer, grad_out_h = grad_in_out = [-g/3, 4g/3, 16g/3, 0, ...]:
  t = 8..2: no hidden spike at t+1 in 9..3 -> all zero.
  t = 1: reads lV[2] = lI[2] = 0 (before the jump of the step-2 spike) and grad_out_h[2] = 16g/3:
         grad_in[1] = 0;  lI[1] = 0;  lV[1] = 0 + (0 + 16g/3)/(21/32) = 512g/63
  t = 0: grad_in[0] = 3.5 * 512g/63 = 256g/9;  lI[0] = 0.5*512g/63 = 256g/63;  lV[0] = 0.75*512g/63 = 128g/21
  dW1 = -0.002 * lI[0] * s_in[0] = -0.002 * 256g/63.
Note that the hidden layer only sees grad_out_h[2]: errors the output sent for steps 0, 1 are
multiplied by s_h = 0 there, which is how the event-based firmware can ignore them.
"""

from __future__ import annotations

import math

import numpy as np

from firmware_models.eventprop import reference as R
from firmware_models.eventprop.params import EventpropParams

G = 0.46875 * math.exp(0.625)  # dL/dt_out, worked out above
TOL = dict(rtol=1e-6, atol=1e-6)


def _run():
    p = EventpropParams(loss="onchip", layers=[1, 1, 1], n_steps=10, t_min=0, tau_syn_ms=2.0, tau_mem_ms=4.0,
                        mu_s=[1.0, 1.0], sigma_s=[1.0, 1.0])
    W = [np.array([[3.5]], np.float32), np.array([[4.0]], np.float32)]
    s_in = np.zeros((1, 10, 1), np.float32)
    s_in[0, 0, 0] = 1.0
    y = np.array([0])
    recs = R.forward(W, s_in, p)
    grad_out, loss, first = R.output_error(recs[-1].spikes, y, p)
    adj_out = R.layer_adjoint(W[1], recs[0].spikes, recs[1], grad_out, p)
    adj_hid = R.layer_adjoint(W[0], s_in, recs[0], adj_out.grad_in, p)
    return p, recs, grad_out, loss, first, adj_out, adj_hid


def test_forward_by_hand():
    """I and pre-reset V at every step, spike steps 2 and 4 (strict threshold at V = 1.0)."""
    _, recs, *_ = _run()
    I_h = [0, 3.5, 1.75, 0.875, 0.4375, 0.21875, 0.109375, 0.0546875, 0.02734375, 0.013671875]
    V_h = [0, 0.875, 1.09375, 0.21875, 0.2734375, 0.259765625, 0.22216796875, 0.1802978515625,
           0.142059326171875, 0.10996246337890625]
    I_o = [0, 0, 0, 4, 2, 1, 0.5, 0.25, 0.125, 0.0625]
    V_o = [0, 0, 0, 1.0, 1.25, 0.25, 0.3125, 0.296875, 0.25390625, 0.2060546875]
    np.testing.assert_allclose(recs[0].I[0, :, 0], I_h, **TOL)
    np.testing.assert_allclose(recs[0].Vpre[0, :, 0], V_h, **TOL)
    np.testing.assert_allclose(recs[1].I[0, :, 0], I_o, **TOL)
    np.testing.assert_allclose(recs[1].Vpre[0, :, 0], V_o, **TOL)
    assert np.flatnonzero(recs[0].spikes[0, :, 0]).tolist() == [2]
    assert np.flatnonzero(recs[1].spikes[0, :, 0]).tolist() == [4]


def test_loss_and_output_error_by_hand():
    """First spike 4, dL/dt = 0.46875 e^0.625 at step 4 only, loss = 3e-3 (e^0.625 - 1)."""
    _, _, grad_out, loss, first, *_ = _run()
    assert first.tolist() == [[4]]
    expected = np.zeros(10)
    expected[4] = G
    np.testing.assert_allclose(grad_out[0, :, 0], expected, **TOL)
    np.testing.assert_allclose(loss, [3e-3 * (math.exp(0.625) - 1)], rtol=1e-5)


def test_output_adjoint_by_hand():
    """lambda_V, lambda_I, error sent down and dW2 of the output neuron, every step."""
    *_, adj_out, _ = _run()
    g = G
    lV = [9 * g / 16, 3 * g / 4, g, 4 * g / 3, 0, 0, 0, 0, 0, 0]
    lI = [19 * g / 24, 5 * g / 6, 2 * g / 3, 0, 0, 0, 0, 0, 0, 0]
    gin = [-g / 3, 4 * g / 3, 16 * g / 3, 0, 0, 0, 0, 0, 0, 0]
    np.testing.assert_allclose(adj_out.lV[0, :, 0], lV, **TOL)
    np.testing.assert_allclose(adj_out.lI[0, :, 0], lI, **TOL)
    np.testing.assert_allclose(adj_out.grad_in[0, :, 0], gin, **TOL)
    np.testing.assert_allclose(adj_out.dW, [[-g / 750]], **TOL)


def test_hidden_adjoint_by_hand():
    """The hidden jump uses only grad_out_h[2] = 16g/3 and Vdot = 21/32."""
    *_, adj_hid = _run()
    g = G
    lV = [128 * g / 21, 512 * g / 63] + [0] * 8
    lI = [256 * g / 63] + [0] * 9
    np.testing.assert_allclose(adj_hid.lV[0, :, 0], lV, **TOL)
    np.testing.assert_allclose(adj_hid.lI[0, :, 0], lI, **TOL)
    np.testing.assert_allclose(adj_hid.grad_in[0, :, 0], [256 * g / 9] + [0] * 9, **TOL)
    np.testing.assert_allclose(adj_hid.dW, [[-0.002 * 256 * g / 63]], **TOL)
