"""Two layers of current-based LIF neurons (``lif_curr_exp``), written as a py-spinnaker2 script.

Every decay is 0.5, so the expected spikes below can be checked with pencil and paper (the
numbers are exact in float32). Each tick: ``I_exc = 0.5 I_exc + exc. input``,
``I_inh = 0.5 I_inh + inh. input``, ``v = 0.5 v + I_exc + I_inh``; spike if ``v > threshold``.

* hidden 0 (stim 0, weight 8): inputs in ticks 2, 3 -> I = 8, 12; v = 8, 4 + 12 = 16 > 10: fires at 3;
  the later input (tick 9) only reaches v = 9.125.
* hidden 1: the same synapse with delay 2 -> fires at 5.
* hidden 2: stim 1 (weight 12) would fire it in tick 9, but stim 0's inhibition (weight -8) at the
  same time leaves v = 2.625.
* out 0 (weight 15 from hidden 0 and 1, threshold 20): I = 15 at 4, v = 15, 15; at 6 I = 3.75 + 15,
  v = 7.5 + 18.75 = 26.25 > 20: fires at 6.
"""
from s2sim.spinnaker2 import hardware, snn

input_spikes = {0: [1, 2, 8], 1: [8]}
expected_hidden = {0: [3], 1: [5], 2: []}
expected_out = {0: [6]}

curr_exp = {"alpha_decay": 0.5, "exc_decay": 0.5, "inh_decay": 0.5, "i_offset": 0.0, "v_init": 0.0,
            "t_refrac": 0}
stim = snn.Population(size=2, neuron_model="spike_list", params=input_spikes, name="stim")
hidden = snn.Population(size=3, neuron_model="lif_curr_exp",
                        params=curr_exp | {"threshold": 10.0, "reset": "reset_to_v_reset", "v_reset": 0.0},
                        name="hidden", record=["spikes", "v"])
out = snn.Population(size=1, neuron_model="lif_curr_exp",
                     params=curr_exp | {"threshold": 20.0, "reset": "reset_by_subtraction"},
                     name="out", record=["spikes", "v", "time_done", "n_packets"])

stim_hidden = [[0, 0, 8, 0], [0, 1, 8, 2], [1, 2, 12, 0], [0, 2, -8, 0]]
hidden_out = [[0, 0, 15, 0], [1, 0, 15, 0]]

net = snn.Network("two layers")
net.add(stim, hidden, out, snn.Projection(stim, hidden, stim_hidden), snn.Projection(hidden, out, hidden_out))
hw = hardware.SpiNNaker2Chip()
hw.run(net, 12)

print("hidden spikes:", hidden.get_spikes(), "expected:", expected_hidden)
print("out spikes:   ", out.get_spikes(), "expected:", expected_out)
print("out voltage:  ", out.get_voltages()[0].tolist())
print("packets into out's PE per tick:", out.get_n_packets())
