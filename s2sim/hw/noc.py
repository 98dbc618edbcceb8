"""Mesh network-on-chip: multicast routing tables, XY point-to-point, link contention.

Latency is analytical: injection + hops x hop latency + serialization, with contention modelled by a
"free-at" time per directed link (a packet departs a link no earlier than the previous one left it).
No SimPy event per hop; the caller schedules one delivery event per destination (``packet``
fidelity) or per back-to-back burst (``burst`` fidelity).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .counters import Counters
from .params import HwParams

# Directions out of a router. LOCAL links are PE<->router; the rest connect mesh neighbours.
EAST, WEST, NORTH, SOUTH = "E", "W", "N", "S"
_STEP = {EAST: (1, 0), WEST: (-1, 0), NORTH: (0, 1), SOUTH: (0, -1)}


@dataclass
class RouteEntry:
    """One multicast table entry: packets whose ``key & mask == key_value`` go to ``links`` and ``pes``."""

    key: int
    mask: int
    links: set[str] = field(default_factory=set)
    pes: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class Route:
    """A compiled multicast tree: edges in breadth-first order and the PEs it reaches."""

    src_pe: int
    edges: tuple[tuple[tuple[int, int], tuple[int, int]], ...]  # (from router, to router)
    deliveries: tuple[tuple[int, tuple[int, int]], ...]  # (pe, router it leaves from)
    dropped: bool = False

    def __post_init__(self) -> None:
        # Routes key the per-callback burst table on every send: hash the nested tuples once; and
        # the link-reservation keys of the injection and ejection ports are made once, not per burst.
        object.__setattr__(self, "_hash", hash((self.src_pe, self.edges, self.deliveries, self.dropped)))
        object.__setattr__(self, "inject_key", ("inj", self.src_pe))
        object.__setattr__(self, "ejects", tuple((pe, router, ("ej", pe)) for pe, router in self.deliveries))

    def __hash__(self) -> int:
        return self._hash

    @property
    def n_hops(self) -> int:
        return len(self.edges)


class Mesh:
    """QPE positions on the router grid and PE numbering (PE = qpe * pes_per_qpe + local index)."""

    def __init__(self, p: HwParams):
        self.p = p
        missing = set(p.missing_routers)
        slots = [(x, y) for y in range(p.mesh_height) for x in range(p.mesh_width)
                 if (x, y) not in missing]
        if p.qpe_count > len(slots):
            raise ValueError(f"{p.qpe_count} QPEs do not fit a {p.mesh_width}x{p.mesh_height} mesh")
        self.qpe_xy: list[tuple[int, int]] = slots[: p.qpe_count]

    def router_of(self, pe: int) -> tuple[int, int]:
        return self.qpe_xy[pe // self.p.pes_per_qpe]

    def xy_path(self, a: tuple[int, int], b: tuple[int, int]) -> list[tuple[int, int]]:
        """Routers visited by dimension-ordered (X then Y) routing, both ends included."""
        (x, y), path = a, [a]
        while x != b[0]:
            x += 1 if b[0] > x else -1
            path.append((x, y))
        while y != b[1]:
            y += 1 if b[1] > y else -1
            path.append((x, y))
        return path

    def hops(self, pe_a: int, pe_b: int) -> int:
        (ax, ay), (bx, by) = self.router_of(pe_a), self.router_of(pe_b)
        return abs(ax - bx) + abs(ay - by)


def _direction(a: tuple[int, int], b: tuple[int, int]) -> str:
    for name, (dx, dy) in _STEP.items():
        if (a[0] + dx, a[1] + dy) == b:
            return name
    raise ValueError(f"routers {a} and {b} are not neighbours")


class NoC:
    """Routing tables, route compilation and link reservations for one chip."""

    def __init__(self, p: HwParams, counters: Counters):
        self.p = p
        self.mesh = Mesh(p)
        self.tables: dict[tuple[int, int], list[RouteEntry]] = {}
        self._route_cache: dict[tuple[int, int], Route] = {}
        # Per source PE: [(bits the tables look at, {key & bits: route})]. Keys that agree on every
        # bit any visited table entry examines take the same tree, so most keys share a compilation.
        self._class_cache: dict[int, list[tuple[int, dict[int, Route]]]] = {}
        self._intern: dict[tuple, Route] = {}
        self.link_free_ns: dict[tuple, float] = {}
        self.hop_ns = p.hop_ns
        self.ser_ns = p.packet_serialization_ns
        self.inject_ns = p.injection_cycles * p.noc_ns_per_cycle
        self.eject_ns = p.ejection_cycles * p.noc_ns_per_cycle
        self.counters = counters  # the machine's record: packets routed, hops, drops
        self.routing_version = 0  # changes with every table change (what compiled routes were built from)

    # ---- routing tables -------------------------------------------------------------------
    def add_entry(self, router: tuple[int, int], key: int, mask: int, links=(), pes=()) -> None:
        table = self.tables.setdefault(router, [])
        for entry in table:
            if entry.key == key and entry.mask == mask:
                entry.links.update(links)
                entry.pes.update(pes)
                break
        else:
            if len(table) >= self.p.router_entries:
                raise ValueError(f"router {router}: more than {self.p.router_entries} routing entries")
            table.append(RouteEntry(key, mask, set(links), set(pes)))
        self.routing_version += 1
        self._route_cache.clear()
        self._class_cache.clear()

    def add_multicast(self, key: int, mask: int, src_pe: int, dest_pes) -> None:
        """Fill the tables along XY paths so ``key`` from ``src_pe`` reaches every PE in ``dest_pes``."""
        src = self.mesh.router_of(src_pe)
        self.add_entry(src, key, mask)  # the source router always needs an entry
        for pe in dest_pes:
            path = self.mesh.xy_path(src, self.mesh.router_of(pe))
            for a, b in zip(path, path[1:]):
                self.add_entry(a, key, mask, links=[_direction(a, b)])
            self.add_entry(path[-1], key, mask, pes=[pe])

    def _lookup(self, router: tuple[int, int], key: int) -> tuple[RouteEntry | None, int]:
        """First matching entry, and the OR of the masks examined to find it."""
        bits = 0
        for entry in self.tables.get(router, ()):
            bits |= entry.mask
            if key & entry.mask == entry.key:
                return entry, bits
        return None, bits

    def route(self, src_pe: int, key: int) -> Route:
        """The compiled multicast tree for ``key`` sent by ``src_pe`` (cached; a miss drops)."""
        cached = self._route_cache.get((src_pe, key))
        if cached is not None:
            return cached
        for bits, routes in self._class_cache.get(src_pe, ()):
            hit = routes.get(key & bits)
            if hit is not None:
                self._route_cache[(src_pe, key)] = hit
                return hit
        route, bits = self._compile(src_pe, key)
        classes = self._class_cache.setdefault(src_pe, [])
        for cls_bits, routes in classes:
            if cls_bits == bits:
                routes[key & bits] = route
                break
        else:
            classes.append((bits, {key & bits: route}))
        self._route_cache[(src_pe, key)] = route
        return route

    def spread_ser_ns(self, route: Route, dest_pe: int) -> float:
        """Spacing of a burst's packets at ``dest_pe``: one serialisation on a chip's mesh."""
        return self.ser_ns

    # ---- where routers are (a board names them differently: ``board_noc.BoardNoC``) ---------------
    def router_of(self, pe: int) -> tuple[int, int]:
        return self.mesh.router_of(pe)

    def link_target(self, router: tuple[int, int], link) -> tuple[int, int]:
        """The router at the other end of ``router``'s output ``link`` (a direction on one chip)."""
        dx, dy = _STEP[link]
        return (router[0] + dx, router[1] + dy)

    def node_path(self, a: tuple[int, int], b: tuple[int, int]) -> list[tuple[int, int]]:
        return self.mesh.xy_path(a, b)

    def _compile(self, src_pe: int, key: int) -> tuple[Route, int]:
        route, examined = self.tree(src_pe, key)
        sig = (src_pe, route.edges, route.deliveries, route.dropped)
        return self._intern.setdefault(sig, route), examined

    def tree(self, src_pe: int, key: int) -> tuple[Route, int]:
        """The multicast tree of ``key`` from ``src_pe`` walked from the tables now, neither cached nor
        interned (a caller compiling every route once, the counted kernel, keeps none of them), and the
        key bits the tables examined on the way."""
        edges, deliveries, dropped, examined = [], [], False, 0
        frontier, seen = [self.router_of(src_pe)], set()
        while frontier:
            nxt = []
            for router in frontier:
                if router in seen:
                    continue
                seen.add(router)
                entry, bits = self._lookup(router, key)
                examined |= bits
                if entry is None:
                    dropped = True
                    continue
                for pe in sorted(entry.pes):
                    deliveries.append((pe, router))
                for link in sorted(entry.links):
                    to = self.link_target(router, link)
                    edges.append((router, to))
                    nxt.append(to)
            frontier = nxt
        return Route(src_pe, tuple(edges), tuple(deliveries), dropped), examined

    def p2p_route(self, src_pe: int, dest_pe: int) -> Route:
        sig = ("p2p", src_pe, dest_pe)
        route = self._intern.get(sig)
        if route is None:
            path = self.node_path(self.router_of(src_pe), self.router_of(dest_pe))
            route = Route(src_pe, tuple(zip(path, path[1:])), ((dest_pe, path[-1]),))
            self._intern[sig] = route
        return route

    # ---- timing ---------------------------------------------------------------------------
    def reserve(self, route: Route, send_ns: float, n_packets: int = 1) -> list[tuple[int, float]]:
        """Reserve links for ``n_packets`` back-to-back packets; return (pe, first arrival ns) per delivery.

        Each later packet of the burst arrives ``serialization`` after the previous one.
        """
        free, busy, hop = self.link_free_ns, n_packets * self.ser_ns, self.hop_ns
        inject_key = route.inject_key
        depart = free.get(inject_key, 0.0)
        if depart < send_ns:
            depart = send_ns
        free[inject_key] = depart + busy
        at = {self.mesh.router_of(route.src_pe): depart + self.inject_ns}
        for edge in route.edges:
            t = at[edge[0]]
            f = free.get(edge, 0.0)
            if f > t:
                t = f
            free[edge] = t + busy
            at[edge[1]] = t + hop
        counters = self.counters
        counters.packet_hops += n_packets * len(route.edges)
        return self._eject(route, at, busy, n_packets)

    def _eject(self, route: Route, at: dict, busy: float, n_packets: int) -> list[tuple[int, float]]:
        """The last leg of ``reserve``: each destination's ejection port (free-at), its first arrival;
        the routed and dropped counts. ``at``: when the burst's head reaches each router."""
        free, ser, eject = self.link_free_ns, self.ser_ns, self.eject_ns
        out = []
        for pe, router, eject_key in route.ejects:
            t = at[router]
            f = free.get(eject_key, 0.0)
            if f > t:
                t = f
            free[eject_key] = t + busy
            out.append((pe, t + eject + ser))
        counters = self.counters
        counters.packets_routed += n_packets
        if route.dropped:
            counters.dropped_packets += n_packets
        return out
