"""A dense layer built with ``helpers.connection_list_from_dense_weights``, written as a
py-spinnaker2 script: float weights scaled to int8, ``lif_no_delay`` neurons.

``scale_and_convert_weights_to_int8`` multiplies by 127 / 0.5 = 254 and truncates: 0.5 -> 127,
0.25 -> 63, -0.25 -> -63. Each tick ``v = 0.5 v + input``; spike if ``v > 100``, then ``v -= 100``.
A spike in tick t arrives in tick t + 1 (the connection list's delay 0 is ignored by _no_delay models).

* out 0 (127, 63, 0, -127): tick 2: 127 + 63 = 190 fires (v 90); tick 3: 45 + 63 = 108 fires.
* out 1 (0, 127, 63, 0): tick 2: 127 fires (v 27); tick 3: 13.5 + 127 = 140.5 fires; tick 4: 83.25.
* out 2 (-63, 0, 127, 63): tick 2: -63; tick 3: -31.5; tick 4: -15.75 + 190 = 174.25 fires (74.25);
  tick 5: 37.125 + 63 = 100.125 fires.
"""
import numpy as np

from s2sim.spinnaker2 import hardware, helpers, snn

weights = np.array([[0.5, 0.0, -0.25],
                    [0.25, 0.5, 0.0],
                    [0.0, 0.25, 0.5],
                    [-0.5, 0.0, 0.25]])  # [pre, post]
input_spikes = {0: [1], 1: [1, 2], 2: [3], 3: [3, 4]}
expected = {0: [2, 3], 1: [2, 3], 2: [4, 5]}

stim = snn.Population(size=4, neuron_model="spike_list", params=input_spikes, name="in")
out = snn.Population(size=3, neuron_model="lif_no_delay",
                     params={"threshold": 100.0, "alpha_decay": 0.5, "reset": "reset_by_subtraction"},
                     name="out", record=["spikes", "v"])
conns = helpers.connection_list_from_dense_weights(helpers.scale_and_convert_weights_to_int8(weights), delay=0)
net = snn.Network("dense")
net.add(stim, out, snn.Projection(pre=stim, post=out, connections=conns))

hw = hardware.SpiNNaker2Chip()
hw.run(net, 8)
spike_times = out.get_spikes()
print("spikes:  ", spike_times)
print("expected:", expected)
