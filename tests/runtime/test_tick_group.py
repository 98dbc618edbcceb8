"""Stories for the group-numerics helper: a tick computed early for every member that is ready,
undone when a member's input changes late, and redone alone by that member's PE."""
from __future__ import annotations

import numpy as np

from s2sim.runtime import TickGroup


class Counters:
    """A toy program: each member's state counts up by its own input every tick (a per-PE pure function)."""

    def __init__(self, n: int, grouped: bool = True):
        self.state = np.zeros(n, np.int64)
        self.inputs = np.zeros((2, n), np.int64)
        self._before = np.zeros(n, np.int64)
        self.log: list[tuple[str, list[int], int]] = []
        self.ticks = TickGroup(n, self, grouped)

    def compute(self, members, tick):
        self.log.append(("compute", list(members), tick))
        rows = np.asarray(members)
        self._before[rows] = self.state[rows]
        self.state[rows] += self.inputs[tick & 1, rows]

    def restore(self, member, tick):
        self.log.append(("restore", [member], tick))
        self.state[member] = self._before[member]

    def write(self, member: int, tick: int, value: int) -> None:
        """A packet for ``tick`` reaches member's input buffer."""
        if self.ticks.pending[member] is not None:
            self.ticks.input_changed(member, tick)
        self.inputs[tick & 1, member] = value


def test_the_first_member_computes_the_tick_for_every_member_in_step():
    g = Counters(3)
    g.inputs[0] = [1, 2, 3]
    for m in range(3):
        g.ticks.run_tick(m, 0)
    assert g.log == [("compute", [0, 1, 2], 0)]
    assert g.state.tolist() == [1, 2, 3]
    assert g.ticks.updates == 1 and g.ticks.redone == 0


def test_a_late_input_undoes_the_early_result_and_the_member_redoes_it_alone():
    g = Counters(3)
    g.inputs[0] = [1, 2, 3]
    g.ticks.run_tick(0, 0)  # computes members 0, 1, 2
    g.write(2, 0, 10)  # member 2's input of tick 0 changes before its PE ran the tick
    g.ticks.run_tick(1, 0)
    g.ticks.run_tick(2, 0)
    assert g.log == [("compute", [0, 1, 2], 0), ("restore", [2], 0), ("compute", [2], 0)]
    assert g.state.tolist() == [1, 2, 10]  # what member 2 computes alone with its final input
    assert g.ticks.redone == 1


def test_an_input_for_the_other_buffer_leaves_the_early_result_alone():
    g = Counters(2)
    g.ticks.run_tick(0, 0)
    g.write(1, 1, 5)  # next tick's buffer (the other parity)
    g.ticks.run_tick(1, 0)
    assert ("restore", [1], 0) not in g.log and g.ticks.redone == 0


def test_a_member_behind_is_not_computed_early():
    g = Counters(2)
    g.ticks.run_tick(0, 0)
    g.ticks.run_tick(0, 1)  # member 1 has not run tick 0: tick 1 is computed for member 0 alone
    assert g.log[-1] == ("compute", [0], 1)


def test_alone_every_member_computes_its_own_tick_with_the_same_result():
    grouped, alone = Counters(3), Counters(3, grouped=False)
    for g in (grouped, alone):
        for tick in range(4):
            g.inputs[tick & 1] = [tick, 2 * tick, 3 * tick]
            for m in range(3):
                g.ticks.run_tick(m, tick)
    assert grouped.state.tolist() == alone.state.tolist() == [6, 12, 18]
    assert all(len(members) == 1 for _, members, _ in alone.log)
    assert grouped.ticks.updates == 4 and alone.ticks.updates == 12
