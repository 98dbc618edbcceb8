"""An AND gate of LIF neurons, written as a py-spinnaker2 script.

Only the import differs from a script for the real chip
(``from spinnaker2 import hardware, helpers, snn``). Four ``lif`` neurons each see two inputs: one
spike (weight 12) stays below the threshold of 20, two in the same tick (24) cross it. ``alpha_decay``
0 forgets the voltage every tick, so only coincident spikes count. A spike sent in tick t with delay
0 is integrated in tick t + 1 (py-spinnaker2: "actual delay on the hardware is delay+1"); a second
population sees the same inputs through delay 3 and fires 3 ticks later.
"""
from s2sim.spinnaker2 import hardware, helpers, snn

# neuron k of the gate sees inputs k and k + 4
input_spikes = {0: [1, 3, 5], 1: [2], 2: [1, 4], 3: [6], 4: [1, 5], 5: [3], 6: [4, 6], 7: [2, 6]}
# coincidences: k=0 at 1 and 5; k=1 none; k=2 at 4; k=3 at 6 -> one tick later
expected = {0: [2, 6], 1: [], 2: [5], 3: [7]}
expected_late = {0: [5, 9], 1: [], 2: [8], 3: [10]}

stim = snn.Population(size=8, neuron_model="spike_list", params=input_spikes, name="stim")
params = {
    "threshold": 20.0,
    "alpha_decay": 0.0,  # forget everything between ticks
    "i_offset": 0.0,
    "v_init": 0.0,
    "v_reset": 0.0,  # only used for reset="reset_to_v_reset"
    "reset": "reset_by_subtraction",
}
gate = snn.Population(size=4, neuron_model="lif", params=params, name="gate", record=["spikes", "v", "time_done"])
late = snn.Population(size=4, neuron_model="lif", params=params, name="late", record=["spikes"])

# [pre_index, post_index, weight, delay]; for lif: weight in [-15, 15], delay in [0, 7]
conns = [[k, k, 12, 0] for k in range(4)] + [[k + 4, k, 12, 0] for k in range(4)]
conns_late = [[pre, post, w, 3] for pre, post, w, _ in conns]

net = snn.Network("and gate")
net.add(stim, gate, late, snn.Projection(pre=stim, post=gate, connections=conns),
        snn.Projection(pre=stim, post=late, connections=conns_late))

hw = hardware.SpiNNaker2Chip(eth_ip="192.168.1.52")  # the address is ignored: the chip is simulated
timesteps = 12
hw.run(net, timesteps, sys_tick_in_s=1.0e-3)

spike_times = gate.get_spikes()
late_times = late.get_spikes()
print("spikes:       ", spike_times)
print("expected:     ", expected)
print("late spikes:  ", late_times)
print("late expected:", expected_late)
indices, times = helpers.spike_times_dict_to_arrays(spike_times)
print("raster (neuron, tick):", list(zip(indices.tolist(), times.tolist())))
print("time_done per PE (us, worst tick):",
      {pe: round(max(t) / 1e3, 3) for pe, t in gate.get_time_done_times().items()})
