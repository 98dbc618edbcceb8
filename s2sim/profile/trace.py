"""Opt-in timeline recorder: implements the hardware's ``Recorder`` protocol and writes a Perfetto
trace (``trace.pftrace``, protobuf) or a Chrome trace (``trace.json``).

Layout of the timeline (both formats):

* a process "SpiNNaker2" with, per traced PE, a track ``PE <n>`` whose slices are the callbacks,
  named by their dominant phase (the phase with the most cycles), with the kind (timer, packet,
  dma, user, task, start), total cycles and cycles per phase as arguments. Pre-emptive handlers
  overlap the callback they interrupt, so overlapping slices go to child lanes ``PE <n> · lane k``
  (a slice always lands on the first lane where it does not overlap).
* ``PE <n> DMA``: one slice per DMA transfer from issue to completion (lanes as above) and a counter
  ``PE <n> DMA outstanding`` (requests issued and not finished: the queue depth incl. the one in
  service).
* ``NoC``: ``PE <n> tx`` / ``PE <n> rx`` instants at send and arrival time joined by a flow arrow
  (one per delivery transaction: a burst of ``n`` packets to one destination is one arrow), and a
  chip-wide counter ``NoC packets in flight``.
* ``PE <n> SRAM used`` counters (bytes), when ``write`` is given the run's summary.

Recording is bounded (``max_events``); events past the bound are counted, not stored, and a
warning says the timeline was cut. Times are ns in the pftrace, µs in the JSON (Chrome convention).
"""
from __future__ import annotations

import json
import struct
import warnings
from pathlib import Path
from typing import Any

DEFAULT_MAX_EVENTS = 1_000_000


# ---- option parsing --------------------------------------------------------------------------
def parse_pe_list(text: str) -> frozenset[int]:
    """``"0-3,7"`` -> {0, 1, 2, 3, 7}. Raises ValueError with a message naming the bad part."""
    pes: set[int] = set()
    if not text.strip():
        raise ValueError("PE list is empty; expected e.g. '0-3,7'")
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo_s, hi_s = part.split("-", 1)
                lo, hi = int(lo_s), int(hi_s)
                if lo > hi:
                    raise ValueError(f"PE range '{part}' runs backwards; write it as '{hi}-{lo}'")
                pes.update(range(lo, hi + 1))
            else:
                pes.add(int(part))
        except ValueError as err:
            if "backwards" in str(err):
                raise
            raise ValueError(f"PE list '{text}': '{part}' is not a PE number or range like '0-3'") from None
    if any(p < 0 for p in pes):
        raise ValueError(f"PE list '{text}': PE numbers must be >= 0")
    return frozenset(pes)


def parse_window(text: str) -> tuple[float, float]:
    """``"START:END"`` in ms (either side may be empty) -> (start_ns, end_ns)."""
    if ":" not in text:
        raise ValueError(f"trace window '{text}' must be START:END in ms, e.g. '0:5' or '10:'")
    a, b = text.split(":", 1)
    try:
        start = float(a) * 1e6 if a.strip() else 0.0
        end = float(b) * 1e6 if b.strip() else float("inf")
    except ValueError:
        raise ValueError(f"trace window '{text}': START and END must be numbers of ms, e.g. '0:5'") from None
    if start < 0 or end <= start:
        raise ValueError(f"trace window '{text}': need 0 <= START < END (ms)")
    return start, end


def _by_pe_in_lanes(records: list[tuple], start: int, end: int) -> dict[int, list[tuple[tuple, int]]]:
    """Group records by PE (field 0), sort by start, and give each a lane so overlapping ones nest."""
    by_pe: dict[int, list[tuple]] = {}
    for r in records:
        by_pe.setdefault(r[0], []).append(r)
    out = {}
    for pe, rs in by_pe.items():
        rs.sort(key=lambda r: (r[start], -r[end]))
        out[pe] = list(zip(rs, _lanes([(r[start], r[end]) for r in rs])))
    return out


def _lanes(slices: list[tuple]) -> list[int]:
    """Lane per slice (slices sorted by start): first lane whose last slice ended by this start."""
    ends: list[float] = []
    out = []
    for s in slices:
        start, end = s[0], s[1]
        for i, e in enumerate(ends):
            if e <= start:
                ends[i] = end
                out.append(i)
                break
        else:
            ends.append(end)
            out.append(len(ends) - 1)
    return out


class TraceRecorder:
    """Collects callbacks, packet deliveries and DMA transfers (filtered by PE and time window)."""

    def __init__(self, pes: frozenset[int] | None = None, window: tuple[float, float] | None = None,
                 fmt: str = "perfetto", max_events: int = DEFAULT_MAX_EVENTS):
        if fmt not in ("perfetto", "json"):
            raise ValueError(f"trace format must be 'perfetto' or 'json', not '{fmt}'")
        self.pes = pes
        self.window = window or (0.0, float("inf"))
        self.fmt = fmt
        self.max_events = max_events
        self.callbacks: list[tuple] = []  # (pe, kind, phases, start_ns, end_ns, cycles)
        self.packets: list[tuple] = []  # (src, dst, key, send_ns, arrive_ns, n)
        self.dmas: list[tuple] = []  # (pe, tag, start_ns, end_ns, nbytes)
        self.n_events = 0
        self.cut = 0  # events not stored because of max_events

    @classmethod
    def from_options(cls, pes: str | None, window: str | None, fmt: str = "perfetto",
                     max_events: int = DEFAULT_MAX_EVENTS) -> "TraceRecorder":
        return cls(parse_pe_list(pes) if pes else None, parse_window(window) if window else None, fmt,
                   max_events)

    # ---- Recorder protocol -------------------------------------------------------------------
    def _keep(self, pe: int, start_ns: float, end_ns: float) -> bool:
        if self.pes is not None and pe not in self.pes:
            return False
        lo, hi = self.window
        if end_ns < lo or start_ns > hi:
            return False
        if self.n_events >= self.max_events:
            self.cut += 1
            return False
        self.n_events += 1
        return True

    def callback(self, pe: int, kind: str, phases: dict, start_ns: float, end_ns: float,
                 cycles: float) -> None:
        if self._keep(pe, start_ns, end_ns):  # the PE hands over a callback's own phases dict
            self.callbacks.append((pe, kind, phases, start_ns, end_ns, cycles))

    def packet(self, src: int, dst: int, key: int, send_ns: float, arrive_ns: float, n: int) -> None:
        if self.pes is not None and src not in self.pes and dst not in self.pes:
            return
        if self._keep(src if self.pes is None or src in self.pes else dst, send_ns, arrive_ns):
            self.packets.append((src, dst, key, send_ns, arrive_ns, n))

    def dma(self, pe: int, tag: int, start_ns: float, end_ns: float, nbytes: int) -> None:
        if self._keep(pe, start_ns, end_ns):
            self.dmas.append((pe, tag, start_ns, end_ns, nbytes))

    # ---- derived views -----------------------------------------------------------------------
    @staticmethod
    def slice_name(kind: str, phases: dict) -> str:
        if phases:
            return max(phases.items(), key=lambda kv: kv[1])[0]
        return kind

    def traced_pes(self) -> list[int]:
        seen = {c[0] for c in self.callbacks} | {d[0] for d in self.dmas}
        seen |= {p[0] for p in self.packets} | {p[1] for p in self.packets}
        if self.pes is not None:
            seen &= set(self.pes)
        return sorted(seen)

    def _pe_slices(self) -> dict[int, list[tuple[tuple, int]]]:
        """Per PE: (callback, lane) sorted by start (longest first at equal starts)."""
        return _by_pe_in_lanes(self.callbacks, start=3, end=4)

    def _dma_slices(self) -> dict[int, list[tuple[tuple, int]]]:
        return _by_pe_in_lanes(self.dmas, start=2, end=3)

    @staticmethod
    def _step_counter(deltas: list[tuple[float, int]]) -> list[tuple[float, int]]:
        """Sorted (time, +/-n) -> (time, running value), one point per distinct time."""
        deltas.sort(key=lambda d: (d[0], d[1]))
        out: list[tuple[float, int]] = []
        value = 0
        for t, d in deltas:
            value += d
            if out and out[-1][0] == t:
                out[-1] = (t, value)
            else:
                out.append((t, value))
        return out

    def _warn_if_cut(self) -> None:
        if self.cut:
            warnings.warn(f"trace cut: {self.cut} events past the limit of {self.max_events} were not "
                          f"recorded; narrow it with --trace-pes / --trace-window", stacklevel=3)

    # ---- writers -----------------------------------------------------------------------------
    def write(self, out_dir: Path | str, summary: dict | None = None) -> Path:
        """Write ``trace.pftrace`` (perfetto) or ``trace.json`` into ``out_dir``; return its path."""
        out_dir = Path(out_dir)
        self._warn_if_cut()
        sram = {}
        if summary is not None:
            sram = {p["pe"]: p["used_bytes"] for p in summary.get("memory", {}).get("per_pe", [])}
        if self.fmt == "json":
            path = out_dir / "trace.json"
            with open(path, "w") as fh:
                json.dump(self.chrome_trace(sram), fh)
            return path
        path = out_dir / "trace.pftrace"
        path.write_bytes(self.perfetto_bytes(sram))
        return path

    def _meta(self) -> dict[str, Any]:
        return {"events": self.n_events, "events_cut": self.cut, "max_events": self.max_events,
                "pes": sorted(self.pes) if self.pes is not None else "all",
                "window_ns": [self.window[0], None if self.window[1] == float("inf") else self.window[1]]}

    def chrome_trace(self, sram: dict[int, int] | None = None) -> dict[str, Any]:
        """Chrome trace-event JSON: X slices, s/f flows, C counters, M names (times in µs)."""
        us = 1e-3
        ev: list[dict] = []
        pid_chip, pid_noc = 1, 2
        ev.append({"ph": "M", "name": "process_name", "pid": pid_chip, "tid": 0, "args": {"name": "SpiNNaker2"}})
        ev.append({"ph": "M", "name": "process_name", "pid": pid_noc, "tid": 0, "args": {"name": "NoC"}})
        named: set[int] = set()

        def tid_name(tid: int, name: str, pid: int = pid_chip) -> None:
            if (pid, tid) not in named:
                named.add((pid, tid))
                ev.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}})
                ev.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid, "args": {"sort_index": tid}})

        for pe, items in self._pe_slices().items():
            for (p, kind, phases, s, e, cyc), lane in items:
                tid = pe * 100 + lane
                tid_name(tid, f"PE {pe}" if lane == 0 else f"PE {pe} · lane {lane}")
                ev.append({"ph": "X", "name": self.slice_name(kind, phases), "cat": kind, "pid": pid_chip,
                           "tid": tid, "ts": s * us, "dur": max(0.0, e - s) * us,
                           "args": {"kind": kind, "cycles": cyc, **{f"cycles_{k}": v for k, v in phases.items()}}})
        for pe, items in self._dma_slices().items():
            deltas = []
            for (p, tag, s, e, nbytes), lane in items:
                tid = pe * 100 + 50 + lane
                tid_name(tid, f"PE {pe} DMA" + (f" · lane {lane}" if lane else ""))
                ev.append({"ph": "X", "name": f"DMA tag {tag}", "cat": "dma", "pid": pid_chip, "tid": tid,
                           "ts": s * us, "dur": max(0.0, e - s) * us, "args": {"bytes": nbytes, "tag": tag}})
                deltas += [(s, 1), (e, -1)]
            for t, v in self._step_counter(deltas):
                ev.append({"ph": "C", "name": f"PE {pe} DMA outstanding", "pid": pid_chip, "ts": t * us,
                           "args": {"requests": v}})
        deltas = []
        for i, (src, dst, key, s, a, n) in enumerate(self.packets):
            tid_name(src * 2, f"PE {src} tx", pid_noc)
            tid_name(dst * 2 + 1, f"PE {dst} rx", pid_noc)
            args = {"src": src, "dst": dst, "key": hex(key), "packets": n, "latency_ns": a - s}
            ev.append({"ph": "X", "name": f"tx {hex(key)}", "cat": "noc", "pid": pid_noc, "tid": src * 2,
                       "ts": s * us, "dur": 0.0, "args": args})
            ev.append({"ph": "X", "name": f"rx {hex(key)}", "cat": "noc", "pid": pid_noc, "tid": dst * 2 + 1,
                       "ts": a * us, "dur": 0.0, "args": args})
            ev.append({"ph": "s", "name": "packet", "cat": "noc", "id": i, "pid": pid_noc, "tid": src * 2, "ts": s * us})
            ev.append({"ph": "f", "bp": "e", "name": "packet", "cat": "noc", "id": i, "pid": pid_noc,
                       "tid": dst * 2 + 1, "ts": a * us})
            deltas += [(s, n), (a, -n)]
        for t, v in self._step_counter(deltas):
            ev.append({"ph": "C", "name": "NoC packets in flight", "pid": pid_noc, "ts": t * us, "args": {"packets": v}})
        for pe, nbytes in (sram or {}).items():
            if self.pes is None or pe in self.pes:
                ev.append({"ph": "C", "name": f"PE {pe} SRAM used", "pid": pid_chip, "ts": 0.0,
                           "args": {"bytes": nbytes}})
        return {"traceEvents": ev, "displayTimeUnit": "ns", "otherData": self._meta()}

    def perfetto_bytes(self, sram: dict[int, int] | None = None) -> bytes:
        """The timeline as a serialized ``perfetto.protos`` ``Trace``.

        Track descriptors are built with the protobuf classes; the (many) track events are encoded
        directly (field numbers taken from the same classes' descriptors), which is several times
        faster than building a message per event. Tests parse the result with the protobuf classes.
        """
        from perfetto.protos.perfetto.trace.perfetto_trace_pb2 import TracePacket, TrackDescriptor, TrackEvent

        enc = _Encoder()
        seq = 1
        chunks: list[bytes] = []
        uuids = iter(range(1, 1 << 62))

        def track(name: str, parent: int | None = None, counter: str | None = None, rank: int = 0) -> int:
            uuid = next(uuids)
            pkt = TracePacket()
            pkt.trusted_packet_sequence_id = seq
            d = pkt.track_descriptor
            d.uuid = uuid
            d.name = name
            d.sibling_order_rank = rank
            if parent is not None:
                d.parent_uuid = parent
            else:
                d.child_ordering = TrackDescriptor.EXPLICIT
            if counter is not None:
                d.counter.unit_name = counter
            chunks.append(enc.packet(pkt.SerializeToString()))
            return uuid

        B, E, I, C = (TrackEvent.TYPE_SLICE_BEGIN, TrackEvent.TYPE_SLICE_END, TrackEvent.TYPE_INSTANT,
                      TrackEvent.TYPE_COUNTER)

        ann_cache: dict[tuple, bytes] = {}

        def event(t_ns: float, uuid: int, typ: int, name: str | None = None, args: dict | None = None,
                  flow: int | None = None, term_flow: int | None = None, value: float | None = None,
                  ann: bytes | None = None) -> None:
            if ann is None:
                ann = enc.annotations(args) if args else b""
            chunks.append(enc.event(seq, int(round(t_ns)), uuid, typ, name, ann, flow, term_flow, value))

        def slice_ann(kind: str, phases: dict, cyc: float) -> bytes:
            key = (kind, cyc, *phases.items())
            b = ann_cache.get(key)
            if b is None:
                b = ann_cache[key] = enc.annotations(
                    {"kind": kind, "cycles": float(cyc), **{f"cycles_{k}": float(v) for k, v in phases.items()}})
            return b

        chip = track("SpiNNaker2")
        noc = track("NoC", rank=1)
        slices = self._pe_slices()
        dmas = self._dma_slices()
        pe_track: dict[int, int] = {}
        for pe in self.traced_pes():
            pe_track[pe] = track(f"PE {pe}", parent=chip, rank=pe)
        for pe, items in slices.items():
            lane_track = {0: pe_track[pe]}
            for (p, kind, phases, s, e, cyc), lane in items:
                if lane not in lane_track:
                    lane_track[lane] = track(f"PE {pe} · lane {lane}", parent=pe_track[pe], rank=lane)
                u = lane_track[lane]
                event(s, u, B, self.slice_name(kind, phases), ann=slice_ann(kind, phases, cyc))
                event(e, u, E, ann=b"")
        for pe, items in dmas.items():
            base = track(f"PE {pe} DMA", parent=pe_track[pe], rank=1000)
            lane_track = {0: base}
            deltas = []
            for (p, tag, s, e, nbytes), lane in items:
                if lane not in lane_track:
                    lane_track[lane] = track(f"PE {pe} DMA · lane {lane}", parent=base, rank=lane)
                event(s, lane_track[lane], B, f"DMA tag {tag}", {"bytes": int(nbytes), "tag": int(tag)})
                event(e, lane_track[lane], E)
                deltas += [(s, 1), (e, -1)]
            ctr = track(f"PE {pe} DMA outstanding", parent=pe_track[pe], counter="requests", rank=1001)
            for t, v in self._step_counter(deltas):
                event(t, ctr, C, value=v)
        tx: dict[int, int] = {}
        rx: dict[int, int] = {}
        deltas = []
        for i, (src, dst, key, s, a, n) in enumerate(self.packets, start=1):
            if src not in tx:
                tx[src] = track(f"PE {src} tx", parent=noc, rank=2 * src)
            if dst not in rx:
                rx[dst] = track(f"PE {dst} rx", parent=noc, rank=2 * dst + 1)
            ann = enc.annotations({"src": int(src), "dst": int(dst), "key": hex(key), "packets": int(n),
                                   "latency_ns": float(a - s)})
            event(s, tx[src], I, "tx", flow=i, ann=ann)
            event(a, rx[dst], I, "rx", term_flow=i, ann=ann)
            deltas += [(s, n), (a, -n)]
        if deltas:
            ctr = track("NoC packets in flight", parent=noc, counter="packets", rank=-1)
            for t, v in self._step_counter(deltas):
                event(t, ctr, C, value=v)
        for pe, nbytes in (sram or {}).items():
            if pe in pe_track:
                ctr = track(f"PE {pe} SRAM used", parent=pe_track[pe], counter="bytes", rank=1002)
                event(0.0, ctr, C, value=nbytes)
        return b"".join(chunks)


_V1 = [bytes([i]) for i in range(128)]


def _varint(n: int) -> bytes:
    if n < 128:
        return _V1[n]
    out = []
    while n >= 128:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class _Encoder:
    """Protobuf wire encoding of ``Trace.packet`` entries holding one ``TrackEvent`` each."""

    def __init__(self):
        from perfetto.protos.perfetto.trace.perfetto_trace_pb2 import (DebugAnnotation, Trace, TracePacket,
                                                                       TrackEvent)

        def num(msg, field: str) -> int:
            return msg.DESCRIPTOR.fields_by_name[field].number

        def tag(msg, field: str, wire: int) -> bytes:
            return _varint(num(msg, field) << 3 | wire)
        self.t_packet = tag(Trace, "packet", 2)
        self.t_ts = tag(TracePacket, "timestamp", 0)
        self.t_seq = tag(TracePacket, "trusted_packet_sequence_id", 0)
        self.t_event = tag(TracePacket, "track_event", 2)
        self.t_type = tag(TrackEvent, "type", 0)
        self.t_uuid = tag(TrackEvent, "track_uuid", 0)
        self.t_name = tag(TrackEvent, "name", 2)
        self.t_ann = tag(TrackEvent, "debug_annotations", 2)
        self.t_flow = tag(TrackEvent, "flow_ids", 1)
        self.t_term = tag(TrackEvent, "terminating_flow_ids", 1)
        self.t_dcv = tag(TrackEvent, "double_counter_value", 1)
        self.t_a_name = tag(DebugAnnotation, "name", 2)
        self.t_a_int = tag(DebugAnnotation, "int_value", 0)
        self.t_a_dbl = tag(DebugAnnotation, "double_value", 1)
        self.t_a_str = tag(DebugAnnotation, "string_value", 2)
        self._strings: dict[str, bytes] = {}
        self._ann_names: dict[str, bytes] = {}
        self._heads: dict[tuple, tuple[bytes, bytes]] = {}

    def _str(self, text: str) -> bytes:
        b = self._strings.get(text)
        if b is None:
            raw = text.encode()
            b = self._strings[text] = _varint(len(raw)) + raw
        return b

    def packet(self, body: bytes) -> bytes:
        return self.t_packet + _varint(len(body)) + body

    def annotations(self, args: dict) -> bytes:
        parts = []
        for k, v in args.items():
            a = self._ann_names.get(k)
            if a is None:
                a = self._ann_names[k] = self.t_a_name + self._str(k)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                body = a + self.t_a_str + self._str(str(v))
            elif isinstance(v, int):
                body = a + self.t_a_int + _varint(v if v >= 0 else v + (1 << 64))
            else:
                body = a + self.t_a_dbl + struct.pack("<d", v)
            parts += [self.t_ann, _varint(len(body)), body]
        return b"".join(parts)

    def event(self, seq: int, ts: int, uuid: int, typ: int, name, ann: bytes, flow, term_flow, value) -> bytes:
        head = self._heads.get((seq, typ, uuid, name))
        if head is None:
            parts = [self.t_type, _varint(typ), self.t_uuid, _varint(uuid)]
            if name is not None:
                parts += [self.t_name, self._str(name)]
            head = self._heads[(seq, typ, uuid, name)] = (b"".join(parts), self.t_seq + _varint(seq) + self.t_event)
        te, pre = head
        if value is not None or flow is not None or term_flow is not None:
            extra = []
            if value is not None:
                extra += [self.t_dcv, struct.pack("<d", value)]
            if flow is not None:
                extra += [self.t_flow, struct.pack("<Q", flow)]
            if term_flow is not None:
                extra += [self.t_term, struct.pack("<Q", term_flow)]
            te = te + b"".join(extra)
        if ann:
            te = te + ann
        body = self.t_ts + _varint(ts) + pre + _varint(len(te)) + te
        return self.t_packet + _varint(len(body)) + body


def read_pftrace(path: Path | str):
    """Parse a ``trace.pftrace`` back into a ``Trace`` message (used by tests and tools)."""
    from perfetto.protos.perfetto.trace.perfetto_trace_pb2 import Trace
    trace = Trace()
    trace.ParseFromString(Path(path).read_bytes())
    return trace


__all__ = ["TraceRecorder", "parse_pe_list", "parse_window", "read_pftrace"]
