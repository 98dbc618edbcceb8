"""The network of a board: each chip's mesh NoC joined by chip-to-chip links.

Routers are named ``(chip, x, y)``. A packet for another chip goes XY on its own chip to the chip's
event router (at the slot of the first missing QPE router, the centre of the die), over the chip
links of the board's shortest chip path (``BoardLayout.path``), and XY from the destination chip's
event router to the PE. Routing tables are per router as on one chip (``NoC``): their entries name
the next router instead of a direction, and a multicast key's tree spans chips.

Timing follows the chip's rule (``NoC.reserve``): each directed link has a free-at time, a packet
leaves a link no earlier than the previous one left it, in simulated-time order of the bookings. On a
chip link a packet occupies the link for ``link_packet_bits / link_bandwidth`` (16 ns at 96 bits and
6 Gbit/s) and reaches the next chip's event router ``link_latency_ns`` after it was fully sent.
Link loads are kept per directed link and per timestep (``link_packets``, ``link_tick_packets``).
"""
from __future__ import annotations

from collections import defaultdict

from .board_layout import BoardLayout
from .counters import Counters
from .noc import NoC, Route, RouteEntry
from .params import HwParams

Node = tuple[int, int, int]  # (chip, x, y)


class BoardNoC(NoC):
    """Routing tables, routes and link reservations of every chip of a board, chip links included."""

    def __init__(self, p: HwParams, counters: Counters, layout: BoardLayout):
        super().__init__(p, counters)
        self.layout = layout
        self.pes_per_chip = p.pes_per_chip
        gx, gy = (tuple(p.missing_routers[0]) if p.missing_routers
                  else (p.mesh_width // 2, p.mesh_height // 2))
        self.gateway_xy = (gx, gy)
        self.link_ser_ns = p.chip_link_ser_ns
        self.link_latency_ns = p.board_link_latency_ns
        self.tick_ns: float | None = None  # per-timestep link loads are binned by it once a timer is set
        self.link_packets: dict[tuple[int, int], int] = defaultdict(int)  # (from chip, to chip) -> packets
        self.link_tick_packets: dict[tuple[int, int], dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.link_busy_until_ns: dict[tuple[int, int], float] = {}
        self.chip_link_crossings = 0  # packets x chip links crossed (the links' energy)
        self.route_drops = 0  # packets whose tree hit a table miss (part of ``dropped_packets``)
        self._entry_index: dict = {}  # router -> {(key, mask): entry}
        self._one_mask: dict = {}  # router -> the mask all its entries use, or None if they differ
        self._by_key: dict = {}  # router -> {key & mask: first entry}

    # ---- where things are -------------------------------------------------------------------------
    def chip_of(self, pe: int) -> int:
        return pe // self.pes_per_chip

    def router_of(self, pe: int) -> Node:
        x, y = self.mesh.router_of(pe % self.pes_per_chip)
        return (pe // self.pes_per_chip, x, y)

    def node_path(self, a: Node, b: Node) -> list[Node]:
        """Routers from ``a`` to ``b``, both included: XY on a chip, chip links between chips."""
        if a[0] == b[0]:
            return [(a[0], x, y) for x, y in self.mesh.xy_path(a[1:], b[1:])]
        gx, gy = self.gateway_xy
        out = [(a[0], x, y) for x, y in self.mesh.xy_path(a[1:], (gx, gy))]
        for chip in self.layout.path(a[0], b[0])[1:]:
            out.append((chip, gx, gy))
        out.extend((b[0], x, y) for x, y in self.mesh.xy_path((gx, gy), b[1:])[1:])
        return out

    # ---- routing tables -------------------------------------------------------------------------
    # A board's routers hold thousands of entries (one per source PE whose tree passes), so entries
    # are indexed: by (key, mask) for filling, and by key when all of a router's entries share one mask
    # (the usual case: keys route on their source PE bits) for lookups; the first-match rule of a
    # table with mixed masks is kept by scanning it, as ``NoC._lookup`` does.
    def add_entry(self, router, key: int, mask: int, links=(), pes=()) -> None:
        index = self._entry_index.setdefault(router, {})
        entry = index.get((key, mask))
        if entry is None:
            table = self.tables.setdefault(router, [])
            if len(table) >= self.p.router_entries:
                raise ValueError(f"router {router}: more than {self.p.router_entries} routing entries")
            entry = index[(key, mask)] = RouteEntry(key, mask, set(links), set(pes))
            table.append(entry)
            one_mask = self._one_mask.get(router, mask)
            self._one_mask[router] = one_mask if one_mask == mask else None
            self._by_key.setdefault(router, {}).setdefault(key & mask, entry)
        else:
            entry.links.update(links)
            entry.pes.update(pes)
        self.routing_version += 1
        self._route_cache.clear()
        self._class_cache.clear()

    def _lookup(self, router, key: int):
        mask = self._one_mask.get(router)
        if mask is None:
            return super()._lookup(router, key)
        return self._by_key[router].get(key & mask), mask

    def add_multicast(self, key: int, mask: int, src_pe: int, dest_pes) -> None:
        """Fill the tables along the board paths so ``key`` from ``src_pe`` reaches every PE in
        ``dest_pes``: the chip path to each destination chip once, then XY to each router once."""
        src = self.router_of(src_pe)
        gx, gy = self.gateway_xy
        links: dict[Node, set[Node]] = {src: set()}
        here: dict[Node, set[int]] = {}
        by_chip: dict[int, list[int]] = {}
        for pe in dest_pes:
            by_chip.setdefault(pe // self.pes_per_chip, []).append(pe)

        def walk(path: list[Node]) -> None:
            for a, b in zip(path, path[1:]):
                links.setdefault(a, set()).add(b)
                links.setdefault(b, set())
        for chip, pes in by_chip.items():
            start = src if chip == src[0] else (chip, gx, gy)
            if chip != src[0]:
                walk(self.node_path(src, start))
            for pe in pes:
                router = self.router_of(pe)
                if router not in here:
                    here[router] = set()
                    walk([(chip, x, y) for x, y in self.mesh.xy_path(start[1:], router[1:])])
                here[router].add(pe)
        for node, nxt in links.items():
            self.add_entry(node, key, mask, links=nxt, pes=here.get(node, ()))

    def link_target(self, router: Node, link: Node) -> Node:
        """A board's table entries name the next router itself (on this chip or over a chip link)."""
        return link

    # ---- timing ---------------------------------------------------------------------------------
    def spread_ser_ns(self, route: Route, dest_pe: int) -> float:
        """Spacing of a burst's packets at ``dest_pe``: the chip links' rate once the path crosses one."""
        return self.link_ser_ns if dest_pe // self.pes_per_chip != route.src_pe // self.pes_per_chip else self.ser_ns

    def reserve(self, route: Route, send_ns: float, n_packets: int = 1) -> list[tuple[int, float]]:
        """As ``NoC.reserve``, with chip links (their own rate and latency) where the tree crosses chips."""
        free, hop = self.link_free_ns, self.hop_ns
        busy, link_busy = n_packets * self.ser_ns, n_packets * self.link_ser_ns
        link_after = self.link_ser_ns + self.link_latency_ns
        inject_key = route.inject_key
        depart = free.get(inject_key, 0.0)
        if depart < send_ns:
            depart = send_ns
        free[inject_key] = depart + busy
        at = {self.router_of(route.src_pe): depart + self.inject_ns}
        chip_edges = 0
        for edge in route.edges:
            a, b = edge
            t = at[a]
            f = free.get(edge, 0.0)
            if f > t:
                t = f
            if a[0] == b[0]:
                free[edge] = t + busy
                at[b] = t + hop
            else:
                free[edge] = t + link_busy
                at[b] = t + link_after
                chip_edges += 1
                self._count_link((a[0], b[0]), t, n_packets, t + link_busy)
        self.counters.packet_hops += n_packets * (len(route.edges) - chip_edges)
        self.chip_link_crossings += n_packets * chip_edges
        if route.dropped:
            self.route_drops += n_packets
        return self._eject(route, at, busy, n_packets)

    def _count_link(self, link: tuple[int, int], start_ns: float, n_packets: int, end_ns: float) -> None:
        self.link_packets[link] += n_packets
        tick = int(start_ns // self.tick_ns) if self.tick_ns else 0
        self.link_tick_packets[link][tick] += n_packets
        if end_ns > self.link_busy_until_ns.get(link, 0.0):
            self.link_busy_until_ns[link] = end_ns
