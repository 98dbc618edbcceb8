"""A cost table charges exactly what the same ``core.charge``/``core.kernel`` calls would, and is data."""
from __future__ import annotations

from s2sim.runtime import CostModel, CostTable, expf_line, kernel_line, op_line

MODEL = CostModel({"int_alu": 1.0, "load": 2.0, "store": 1.0, "expf": 150.0}, {"event_add": 10.0})


class FakeCore:
    """What a table needs of ``Core``, recording every charge."""

    def __init__(self):
        self.charged: list[tuple[str, float]] = []

    def cost(self, **ops):
        return MODEL.cycles(ops)

    def kernel_cost(self, name, iterations):
        return MODEL.kernel(name, iterations)

    def exp_cost(self, n, accelerator=False):
        return MODEL.cycles({"expf": n})

    def charge_cycles(self, phase, cycles):
        self.charged.append((phase, cycles))

    def charge_phases(self, costs, total):
        self.charged.append(("<phases>", total))
        self.charged.extend(costs)


TABLE = CostTable(kernel_line("synapses", "event_add", "synapses"),
                  op_line("synapses", "rows", int_alu=3, load=1),
                  op_line("neuron", int_alu=14), expf_line("neuron", "rows", 2))


def test_charging_line_by_line_is_the_hand_written_charges():
    core = FakeCore()
    TABLE.priced(core).charge(synapses=7, rows=2)
    assert core.charged == [("synapses", 70.0), ("synapses", 3 * 2 * 1.0 + 2 * 2.0), ("neuron", 14.0),
                            ("neuron", 4 * 150.0)]


def test_phases_merge_in_order_of_first_appearance_with_their_total():
    phases, total = TABLE.priced(FakeCore()).phases(synapses=1, rows=1)
    assert phases == (("synapses", 10.0 + 5.0), ("neuron", 14.0 + 300.0))
    assert total == 15.0 + 314.0


def test_the_table_is_data_a_counting_kernel_can_read():
    assert TABLE.counts == ("synapses", "rows")
    assert [(line.phase, line.per, line.kernel) for line in TABLE.lines] == [
        ("synapses", "synapses", "event_add"), ("synapses", "rows", None), ("neuron", None, None),
        ("neuron", "rows", "expf")]
    assert TABLE.lines[1].ops == {"int_alu": 3, "load": 1}
