"""The optimiser step's cycles, declared once for every firmware that runs Adam on chip.

Both e-prop firmwares (gsc/FSDD and cue accumulation) keep their weights, Adam moments and gradient as
[row][column] float32 blocks (W [pre][post], W_out [neuron][out]) and update them with the compiled
``adam_update`` kernel (firmware_models/eprop/kernels): its inner loop per weight and its outer loop per
weight row. Declaring the table here keeps the two from drifting apart (the cue firmware once charged the
weights and not the rows). EventProp's root runs the same step over its W [post][pre] (rows: postsynaptic
neurons), the per-column signal being its batch scale and the gradient accumulator its summed partials.
"""
from __future__ import annotations

from .cost import CostTable, kernel_line

#: Adam over weight blocks: ``weights`` (inner loop, per weight) and ``rows`` (outer loop, per weight row).
ADAM_COSTS = CostTable(kernel_line("adam", "adam_update", "weights"),
                       kernel_line("adam", "adam_update_row", "rows"))
