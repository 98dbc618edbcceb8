"""Which chip of a board each slice of a NIR graph goes to: the fewest chip crossings first.

A population's slices are its PEs (``graph_app.map_graph`` decides how many). On a board the
slices are placed one by one, population by population in the graph's order, each on the chip with
free PEs that adds the least **crossing cost** given what is placed: for each population feeding it,
the placed source slices' neurons times the chip-link hops from their chips to this chip (nothing if
that source's multicast tree reaches this chip already, for any of its targets: a source slice has
one tree to all of them), and, if it feeds placed populations, its neurons times the hops to their
chips (a spike's multicast tree crosses at least that many links; neurons stand in for
the spikes, which are not known before the run). Ties go to the chip of the slice placed last, then
the lowest chip id, so a chain fills a chip before the next; when a chip is full the next slice goes
to the free chip nearest to what feeds it, so on a mesh a chain snakes from neighbour to neighbour
instead of jumping by chip id. It is greedy (a slice is never moved), not an optimum.

On one chip every population lands on it in graph order: the PEs of today's one-chip mapping.
``mapping.pes_per_chip`` uses at most that many PEs of each chip (to spread a graph for a study).
Each slice keeps its one-chip index (``Slice.index``: first_pe + its place in graph order), which
sets its timer phase, so a graph spread over chips runs the same program as on one chip.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class ChipGrid:
    """The chips a graph may use: PEs per chip, the PEs each chip offers, and hops between chips."""

    n_chips: int
    chip_pes: int  # PEs of one chip (board-wide PE id = chip * chip_pes + local)
    room: tuple[int, ...]  # PEs each chip offers the graph
    first_local: tuple[int, ...]  # the first of them on each chip (local index)
    hops: Callable[[int, int], int]

    @classmethod
    def of(cls, hw, first_pe: int, pes_per_chip: int | None) -> "ChipGrid":
        """The machine's chips from ``first_pe`` on (chips before its chip are not used), at most
        ``pes_per_chip`` PEs of each (None: all)."""
        chip_pes, n_chips = hw.pes_per_chip, hw.n_chips
        if pes_per_chip is not None and pes_per_chip > chip_pes:
            raise ValueError(f"pes_per_chip {pes_per_chip} is more than a chip's {chip_pes} PEs")
        per_chip = pes_per_chip or chip_pes
        first_chip, first_local = divmod(first_pe, chip_pes)
        room = tuple(0 if c < first_chip else max(0, min(per_chip, chip_pes - (first_local if c == first_chip else 0)))
                     for c in range(n_chips))
        starts = tuple(first_local if c == first_chip else 0 for c in range(n_chips))
        if n_chips == 1:
            return cls(1, chip_pes, room, starts, lambda a, b: 0)
        from s2sim.hw.board_layout import BoardLayout
        layout = BoardLayout(hw)
        return cls(n_chips, chip_pes, room, starts, layout.distance)

    @property
    def total(self) -> int:
        return sum(self.room)


def place_populations(sizes: list[tuple[str, int, int]], links: list[tuple[str, str]],
                      grid: ChipGrid) -> dict[str, list[int]]:
    """Board-wide PE of each slice of each population.

    ``sizes``: (population, neurons, PEs) in graph order; ``links``: (pre, post) projections.
    ValueError (one line) when the populations need more PEs than the grid offers.
    """
    need = sum(k for _, _, k in sizes)
    if need > grid.total:
        raise ValueError(f"the graph needs {need} PEs but {_offer(grid)}")
    per_slice = {name: n / k for name, n, k in sizes}  # neurons per slice: the spikes a slice may send
    targets = {name: [post for pre, post in links if pre == name] for name, _, _ in sizes}
    chips_of: dict[str, list[int]] = {}  # population -> chip of each of its slices placed so far
    free, last = list(grid.room), None
    for name, _, k in sizes:
        chips_of[name] = []
        ins = [pre for pre, post in links if post == name]
        outs = targets[name]
        for _ in range(k):
            def cost(chip: int) -> float:
                return _slice_cost(name, chip, ins, outs, chips_of, per_slice, targets, grid)
            chip = min((c for c in range(grid.n_chips) if free[c]), key=lambda c: (cost(c), c != last, c))
            chips_of[name].append(chip)
            free[chip] -= 1
            last = chip
    used = [0] * grid.n_chips
    out: dict[str, list[int]] = {}
    for name, _, _ in sizes:  # PE ids in graph order on each chip (one chip: first_pe, first_pe + 1, ...)
        out[name] = []
        for chip in chips_of[name]:
            out[name].append(chip * grid.chip_pes + grid.first_local[chip] + used[chip])
            used[chip] += 1
    return out


def _slice_cost(name: str, chip: int, ins: list[str], outs: list[str], chips_of: dict[str, list[int]],
                per_slice: dict[str, float], targets: dict[str, list[str]], grid: ChipGrid) -> float:
    """Source neurons x chip-link hops that one more slice of ``name`` on ``chip`` adds: each placed
    source's tree reaching ``chip`` (nothing if it reaches it already: a source slice has one tree to
    the chips of all its targets) and this slice's own tree reaching its placed targets' chips."""
    cost = 0.0
    for pre in ins:
        if chips_of.get(pre) and chip not in _reach(pre, chips_of, targets):
            cost += per_slice[pre] * sum(grid.hops(a, chip) for a in chips_of[pre])
    reach = _reach(name, chips_of, targets) if outs else set()
    cost += per_slice[name] * sum(grid.hops(chip, b) for b in reach)
    return cost


def _reach(source: str, chips_of: dict[str, list[int]], targets: dict[str, list[str]]) -> set[int]:
    """Chips the multicast trees of ``source``'s slices reach so far: those of its placed targets."""
    return {c for post in targets[source] for c in chips_of.get(post, ())}


def _offer(grid: ChipGrid) -> str:
    if grid.n_chips == 1:
        return f"the chip offers {grid.total} (from mapping.first_pe)"
    return (f"the board offers {grid.total} ({grid.n_chips} chips from mapping.first_pe, at most "
            f"{max(grid.room)} PEs of a chip); add chips (arch_overrides.board) or raise mapping.pes_per_chip")
