"""Group numerics: several PEs that run the same program compute a tick in one numpy call.

Real firmware keeps each PE's arrays in that PE's SRAM. A Python model that loops over PEs pays
numpy's per-call overhead once per PE per tick; stacking the members' arrays lets the numerics of
one tick run for all of them at once. Each member still owns (and is charged SRAM for) its own
slice, and each member's timing is still its own: only the arithmetic is shared.

The contract (``TickGroup``): the program's tick is a per-PE pure function of the member's own
state and input buffer; the group runs that function once over the stacked state of every member
that is ready, early, and keeps what it overwrote. If a member's input for that tick changes
before its PE runs the tick (a late packet or DMA), the early result is undone and the PE redoes
the tick alone when it runs. So every member gets exactly what it computes alone, and turning the
group off (``S2SIM_GROUP_NUMERICS=0``: every PE runs the function on its own rows) changes nothing
a user can observe; tests/firmware_models/test_group_numerics.py checks that, bit for bit.
"""
from __future__ import annotations

from contextvars import ContextVar
from typing import Callable, Protocol, Sequence

#: Set to ``0`` to make every PE compute its own numerics (no stacking): the reference mode the
#: bit-identity tests compare group numerics with, and a way to rule the speed trick out.
GROUP_ENV = "S2SIM_GROUP_NUMERICS"
#: The running run's ``run.simulator.group_numerics`` (after the environment), set by ``s2sim.run``.
RUN_GROUPING: ContextVar[bool | None] = ContextVar("s2sim_run_group_numerics", default=None)


def grouping_enabled(requested: bool | None = None) -> bool:
    """Whether firmware may share numerics over a group of PEs: ``requested`` if given, else the
    run's setting, else (a Simulation built outside ``s2sim.run``) ``$S2SIM_GROUP_NUMERICS``."""
    if requested is not None:
        return bool(requested)
    run_setting = RUN_GROUPING.get()
    if run_setting is not None:
        return run_setting
    from ..config.simulator import env_overrides
    try:
        return env_overrides().get("group_numerics", True)
    except Exception as err:  # a ConfigError: keep this module's historical ValueError
        raise ValueError(str(err)) from None


class GroupKernel(Protocol):
    """What a program gives its ``TickGroup``: one tick of its numerics over some members' rows."""

    def compute(self, members: Sequence[int], tick: int) -> None:
        """Run ``tick`` for ``members`` (ascending; all of them: in place, the fast path), each from its
        own state and input buffer, exactly as each would alone; keep what ``restore`` puts back."""

    def restore(self, member: int, tick: int) -> None:
        """Put ``member``'s state and input buffer back as they were before ``compute`` ran ``tick``."""


class TickGroup:
    """Who of a group's members has which tick computed early, and when that must be undone.

    ``ready(member, tick)``: may the group compute ``tick`` early for this other member, which has
    nothing early pending (default ``in_step``: its PE ran ``tick - 1``; LIF also asks whether its
    timer is about to fire). ``grouped=False``: every member computes alone, when its PE runs the tick.
    """

    def __init__(self, n_members: int, kernel: GroupKernel, grouped: bool = True,
                 ready: Callable[[int, int], bool] | None = None):
        self.n_members, self.kernel, self.grouped = n_members, kernel, grouped
        self.ready = ready
        self.all_members = list(range(n_members))
        #: per member: the tick the group computed early, not yet run by its PE (None: nothing early)
        self.pending: list[int | None] = [None] * n_members
        self.ran = [-1] * n_members  # last tick each member's PE ran
        self.updates, self.redone = 0, 0  # group computations; early results undone (tests, tuning)

    def run_tick(self, member: int, tick: int) -> None:
        """Member's PE runs ``tick``: make sure its result is computed (with every member ready, if
        nothing was computed early for it)."""
        if self.pending[member] != tick:
            if self.pending[member] is not None:  # an early result of another tick: the PE ran ahead
                self.undo(member)
            members = [member]
            if self.grouped:
                ready, pending = self.ready or self.in_step, self.pending
                members = [j for j in self.all_members if j == member or (pending[j] is None and ready(j, tick))]
            self.kernel.compute(members, tick)
            self.updates += 1
            for j in members:
                self.pending[j] = tick
        self.pending[member] = None
        self.ran[member] = tick

    def run_tick_all(self, tick: int, keep: bool = True) -> bool:
        """Every member's PE runs ``tick``, in member order: ``run_tick`` of each, in one call (the counted
        kernel runs a group's tick so). True if the group computed it for all at once (every member in step);
        then no result is early, and ``keep=False`` tells the kernel it need not keep what ``restore`` would
        put back (a kernel that takes ``compute(..., keep=False)``)."""
        if self.grouped and all(p is None for p in self.pending) and all(r == tick - 1 for r in self.ran):
            if keep:  # (what the first member's run_tick does; the rest take it)
                self.kernel.compute(self.all_members, tick)
            else:
                self.kernel.compute(self.all_members, tick, keep=False)
            self.updates += 1
            self.ran = [tick] * self.n_members
            return True
        for member in self.all_members:
            self.run_tick(member, tick)
        return False

    def passed_all(self, tick: int) -> None:
        """Every member's PE ran ``tick`` with no numerics of this group: ``passed`` of each."""
        for member in self.all_members:
            self.passed(member, tick)

    def in_step(self, member: int, tick: int) -> bool:
        """The default readiness: the member's PE ran the tick before ``tick``."""
        return self.ran[member] == tick - 1

    def passed(self, member: int, tick: int) -> None:
        """Member's PE ran ``tick`` with no numerics of this group (e.g. an end-of-sample tick)."""
        if self.pending[member] is not None:
            self.undo(member)
        self.ran[member] = tick

    def input_changed(self, member: int, buffer_tick: int) -> None:
        """Member's input buffer of ``buffer_tick`` is about to change (call only while
        ``pending[member]`` is set: the common case costs one list lookup)."""
        pending = self.pending[member]
        if pending is not None and (pending ^ buffer_tick) & 1 == 0:  # the same buffer (tick parity)
            self.undo(member)

    def undo(self, member: int) -> None:
        self.kernel.restore(member, self.pending[member])
        self.pending[member] = None
        self.redone += 1
