"""EventProp's batch barrier: no copy starts a batch's forward pass on weights the root has not written.

Every PE follows the batch schedule (K = 2T + 3 ticks): the root reduces and runs Adam in tick 2T+1,
the layer PEs DMA-read the new weights in tick 2T+2 (the distribution tick) and start the next batch
in the tick after. When the root's new weights are written before the distribution tick starts (the
nominal case: one chip, 22 copies, 1 ms ticks) nothing else happens: no packet, no cycle.

When they are not (the reduce overran: 88 copies on a board, a slow root, a short tick), the root,
in its distribution tick, multicasts **hold** (payload: that tick) to every copy's PEs and the chips'
reducers; they stop following the schedule: their next ticks are idle (no forward pass). Once the
weights are written everywhere (the root's DMA writes done and, on a board, every reducer's
**written** packet in: it wrote them into its chip's DRAM), the root multicasts **ready** (payload:
tick S = its current tick + 2, a whole tick of margin for the packet) and every PE resumes the
schedule at S as the distribution tick again: the layer PEs re-read the weights, and the next batch
starts at S + 1. The whole schedule shifts by S - (held tick) ticks (``BatchSchedule.offset``), which
the summary shows as timesteps and counts (``StallLog``). A hold or ready that reaches a PE after the
tick it names started (the root's callback ran more than a tick late) is an error, not a silent race.

Keys: ``SYNC_FLAG | src_pe << 16 | kind`` (bit 31 clear: no error event or weight value; bit 30 set:
no PE id reaches it). Firmware: imports only numpy and ``s2sim.runtime``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

SYNC_FLAG = 1 << 30
SYNC_SHIFT = 16
HOLD, READY, WRITTEN = 0, 1, 2
KIND_MASK = 0x3
#: routes: hold and ready share one entry (root -> copies and reducers), written has its own
HOLD_READY_MASK = 0xFFFFFFFE
EXACT_MASK = 0xFFFFFFFF


def sync_key(src_pe: int, kind: int) -> int:
    return SYNC_FLAG | (src_pe << SYNC_SHIFT) | kind


def is_sync(key: int) -> bool:
    """A barrier packet (not a spike, error event, running-sum or weight value)."""
    return (int(key) >> 30) == 1


class LateSync(RuntimeError):
    """A hold or ready packet reached a PE after the tick it names had started."""


class BatchSchedule:
    """One PE's (or one group of copies') place in the batch schedule: which tick is which phase after the
    stalls so far, and whether it is waiting for the root's ready."""

    def __init__(self, ticks_per_batch: int, distribution_phase: int):
        self.K, self.distribution_phase = ticks_per_batch, distribution_phase
        self.offset = 0  # ticks the schedule moved by the stalls so far
        self.held_at: int | None = None  # the distribution tick a hold stopped (waiting for ready)
        self.resume_at: int | None = None  # the tick ready named (idle until then)
        # the last hold and ready taken: a group of copies shares one schedule and each member's PE gets
        # the same packets, so a repeat changes nothing
        self.last_hold: int | None = None

    def phase(self, tick: int) -> int:
        return (tick - self.offset) % self.K

    def batch(self, tick: int) -> int:
        return (tick - self.offset) // self.K

    def idle(self, tick: int) -> bool:
        """``tick`` falls in a stall: held and not resumed yet."""
        if self.held_at is not None:
            return tick > self.held_at
        return self.resume_at is not None and tick < self.resume_at

    def hold(self, tick: int, now_tick: int, where: str) -> None:
        """Stop after distribution tick ``tick`` (this PE is in ``now_tick``)."""
        if tick == self.last_hold:
            return
        if now_tick > tick:
            raise LateSync(f"EventProp {where}: the root's hold for distribution tick {tick} arrived in tick "
                           f"{now_tick}, after the next batch started (the root ran more than a tick late; "
                           "lengthen run.tick_ns)")
        self.held_at = self.last_hold = tick

    def resume(self, tick: int, now_tick: int, where: str) -> None:
        """Run the distribution tick again at ``tick``, then the next batch."""
        if tick == self.resume_at:
            return
        if now_tick >= tick:
            raise LateSync(f"EventProp {where}: the root's ready for tick {tick} arrived in tick {now_tick}")
        if self.held_at is None:
            raise LateSync(f"EventProp {where}: the root's ready for tick {tick} came without its hold")
        self.offset += tick - self.held_at
        self.held_at, self.resume_at = None, tick

    def take(self, keys, payloads, now_tick: int, where: str) -> None:
        """Hold or ready packets (a burst from the root)."""
        for key, payload in zip(keys, payloads):
            kind = int(key) & KIND_MASK
            if kind == HOLD:
                self.hold(int(payload), now_tick, where)
            elif kind == READY:
                self.resume(int(payload), now_tick, where)


@dataclass
class Stall:
    """One batch whose copies waited for the root's weights."""

    batch: int
    held_tick: int  # the distribution tick the root held
    resume_tick: int  # the tick the schedule resumed at (the distribution tick again)
    weights_late_ns: float  # from the held tick's start to the weights written everywhere

    @property
    def ticks(self) -> int:
        return self.resume_tick - self.held_tick


@dataclass
class StallLog:
    """The root's record of the stalls (the host reads it for the summary)."""

    stalls: list[Stall] = field(default_factory=list)

    def summary(self) -> dict:
        late = [s.weights_late_ns for s in self.stalls]
        return {"stalled_batches": len(self.stalls), "stall_ticks": sum(s.ticks for s in self.stalls),
                "weights_late_ns_max": max(late, default=0.0), "weights_late_ns_total": sum(late)}
