"""Where the chips of a board sit and which chip-to-chip links a packet takes between two chips.

Chips are numbered row by row on a ``chips_x`` x ``chips_y`` grid (chip = y * chips_x + x).
* ``hex_torus``: 6 links per chip, to E (+1, 0), W (-1, 0), N (0, +1), S (0, -1), NE (+1, +1) and
  SW (-1, -1), wrapping around both edges: SpiNNaker1's triangular torus, assumed for SpiNNaker2's
  48-chip board (6 links and "a toroidal mesh" are documented, the wiring is not; arch ``board.topology``).
* ``mesh``: 4 links per chip (E, W, N, S), no wrap-around.

Routes are shortest and deterministic (a fixed tie order), so the chip path from one source chip
to each destination chip is a function of the pair only: what the routing tables then hold.
"""
from __future__ import annotations

from .params import HwParams

_HEX_STEPS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1))
_MESH_STEPS = ((1, 0), (-1, 0), (0, 1), (0, -1))


class BoardLayout:
    """The chip grid and its links (see the module docstring)."""

    def __init__(self, p: HwParams):
        self.width, self.height, self.topology = p.board_chips_x, p.board_chips_y, p.board_topology
        self.n_chips = self.width * self.height
        self.wraps = self.topology == "hex_torus"
        self._paths: dict[tuple[int, int], tuple[int, ...]] = {}

    def xy(self, chip: int) -> tuple[int, int]:
        return chip % self.width, chip // self.width

    def chip_at(self, x: int, y: int) -> int:
        return (y % self.height) * self.width + (x % self.width)

    def neighbours(self, chip: int) -> list[int]:
        """The chips this chip has a link to (each once, in link order)."""
        x, y = self.xy(chip)
        steps = _HEX_STEPS if self.wraps else _MESH_STEPS
        out: list[int] = []
        for dx, dy in steps:
            nx, ny = x + dx, y + dy
            if not self.wraps and not (0 <= nx < self.width and 0 <= ny < self.height):
                continue
            other = self.chip_at(nx, ny)
            if other != chip and other not in out:
                out.append(other)
        return out

    def links(self) -> list[tuple[int, int]]:
        """Every directed chip-to-chip link (a, b)."""
        return [(a, b) for a in range(self.n_chips) for b in self.neighbours(a)]

    def path(self, a: int, b: int) -> tuple[int, ...]:
        """Chips a packet visits from chip ``a`` to chip ``b``, both included (shortest, deterministic)."""
        cached = self._paths.get((a, b))
        if cached is None:
            cached = self._paths[(a, b)] = tuple(self._walk(a, b))
        return cached

    def distance(self, a: int, b: int) -> int:
        """Chip-to-chip links between chips ``a`` and ``b``."""
        return len(self.path(a, b)) - 1

    def _walk(self, a: int, b: int) -> list[int]:
        (ax, ay), (bx, by) = self.xy(a), self.xy(b)
        dx, dy = self._shortest(bx - ax, by - ay)
        x, y, out = ax, ay, [a]

        def step(sx: int, sy: int) -> None:
            nonlocal x, y
            x, y = x + sx, y + sy
            out.append(self.chip_at(x, y))

        if self.wraps and dx * dy > 0:  # diagonal first while both coordinates move the same way
            sign = 1 if dx > 0 else -1
            for _ in range(min(abs(dx), abs(dy))):
                step(sign, sign)
            dx, dy = dx - sign * min(abs(dx), abs(dy)), dy - sign * min(abs(dx), abs(dy))
        for _ in range(abs(dx)):
            step(1 if dx > 0 else -1, 0)
        for _ in range(abs(dy)):
            step(0, 1 if dy > 0 else -1)
        return out

    def _shortest(self, dx: int, dy: int) -> tuple[int, int]:
        """The displacement with the fewest links (on the torus, among the wrapped alternatives)."""
        if not self.wraps:
            return dx, dy
        best: tuple[int, int, int] | None = None
        for cx in (dx, dx - self.width, dx + self.width):
            for cy in (dy, dy - self.height, dy + self.height):
                hops = max(abs(cx), abs(cy)) if cx * cy > 0 else abs(cx) + abs(cy)
                if best is None or hops < best[0]:
                    best = (hops, cx, cy)
        return best[1], best[2]
