"""Perfetto / Chrome JSON timelines: one track per PE, one slice per callback, valid events."""
from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest
from profile_runs import run_cli, small_run

from s2sim.profile.trace import TraceRecorder, parse_pe_list, parse_window, read_pftrace


def test_pe_list_and_window_parsing():
    assert parse_pe_list("0-3,7") == {0, 1, 2, 3, 7}
    assert parse_pe_list(" 5 ") == {5}
    for bad, msg in (("a", "not a PE number"), ("3-1", "backwards"), ("", "empty"), ("1,-2", "not a PE")):
        with pytest.raises(ValueError, match=msg):
            parse_pe_list(bad)
    assert parse_window("1:2.5") == (1e6, 2.5e6)
    assert parse_window("3:") == (3e6, float("inf"))
    for bad, msg in (("5", "START:END"), ("x:1", "numbers"), ("2:1", "START < END")):
        with pytest.raises(ValueError, match=msg):
            parse_window(bad)


def test_bad_trace_options_give_one_line_and_exit_2(tmp_path):
    res = run_cli("run", "networks/lif_bench.yaml", "--out", tmp_path / "r", "--trace", "--trace-pes", "x")
    assert res.exit_code == 2
    assert "--trace options" in res.output and "Traceback" not in res.output


def _tracks(trace):
    names, parent = {}, {}
    for p in trace.packet:
        if p.HasField("track_descriptor"):
            d = p.track_descriptor
            names[d.uuid] = d.name
            parent[d.uuid] = d.parent_uuid if d.HasField("parent_uuid") else None
    return names, parent


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    return small_run(tmp_path_factory.mktemp("trace") / "run", "--trace")


def test_pftrace_has_one_track_per_pe_with_one_slice_per_callback(traced):
    from perfetto.protos.perfetto.trace.perfetto_trace_pb2 import TrackEvent
    summary = json.loads((traced / "summary.json").read_text())
    trace = read_pftrace(traced / "trace.pftrace")
    names, parent = _tracks(trace)
    pe_tracks = {u: n for u, n in names.items() if n.startswith("PE ") and n[3:].isdigit()}
    assert sorted(int(n[3:]) for n in pe_tracks.values()) == summary["pe_ids"]

    def owner(uuid):  # the "PE n" track a lane belongs to
        while uuid is not None and uuid not in pe_tracks:
            uuid = parent.get(uuid)
        return uuid

    begins, stacks = Counter(), defaultdict(list)
    for p in trace.packet:
        if not p.HasField("track_event"):
            continue
        te = p.track_event
        if te.type == TrackEvent.TYPE_SLICE_BEGIN:
            stacks[te.track_uuid].append(p.timestamp)
            pe = owner(te.track_uuid)
            if pe is not None and "DMA" not in names[te.track_uuid]:
                begins[int(pe_tracks[pe][3:])] += 1
        elif te.type == TrackEvent.TYPE_SLICE_END:
            assert stacks[te.track_uuid], f"unbalanced end on {names[te.track_uuid]}"
            assert p.timestamp >= stacks[te.track_uuid].pop()
    assert not any(stacks.values())  # every slice ended
    expected = {p["pe"]: p["callbacks"] for p in summary["pes"]}
    assert dict(begins) == expected


def test_pftrace_slices_do_not_overlap_within_a_track(traced):
    from perfetto.protos.perfetto.trace.perfetto_trace_pb2 import TrackEvent
    trace = read_pftrace(traced / "trace.pftrace")
    open_at, last_end = {}, defaultdict(float)
    for p in trace.packet:
        te = p.track_event
        if p.HasField("track_event") and te.type == TrackEvent.TYPE_SLICE_BEGIN:
            assert p.timestamp >= last_end[te.track_uuid]
            open_at[te.track_uuid] = p.timestamp
        elif p.HasField("track_event") and te.type == TrackEvent.TYPE_SLICE_END:
            last_end[te.track_uuid] = p.timestamp


def test_trace_pes_and_window_filter(tmp_path):
    out = small_run(tmp_path / "f", "--trace", "--trace-pes", "2-3", "--trace-window", "0:5")
    names, _ = _tracks(read_pftrace(out / "trace.pftrace"))
    pe_names = {n for n in names.values() if n.startswith("PE ") and n[3:].isdigit()}
    assert pe_names == {"PE 2", "PE 3"}


def test_json_trace_loads_with_valid_events(tmp_path):
    out = small_run(tmp_path / "j", "--trace", "--trace-format", "json")
    assert not (out / "trace.pftrace").exists()
    data = json.loads((out / "trace.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    events = data["traceEvents"]
    assert {e["ph"] for e in events} <= {"X", "M", "C", "s", "f", "i"}
    for e in events:
        if e["ph"] != "M":
            assert isinstance(e["ts"], (int, float)) and e["ts"] >= 0
        if e["ph"] == "X":
            assert isinstance(e["dur"], (int, float)) and e["dur"] >= 0
    callbacks = [e for e in events if e["ph"] == "X" and e["cat"] not in ("noc", "dma")]
    assert len(callbacks) == sum(p["callbacks"] for p in summary["pes"])
    assert data["otherData"]["events_cut"] == 0


def test_event_bound_cuts_with_a_warning(tmp_path):
    rec = TraceRecorder(fmt="json", max_events=3)
    for i in range(5):
        rec.callback(0, "timer", {"neuron": 10.0}, i * 100.0, i * 100.0 + 50, 10.0)
    assert len(rec.callbacks) == 3 and rec.cut == 2
    with pytest.warns(UserWarning, match="trace cut: 2 events"):
        path = rec.write(tmp_path)
    assert json.loads(path.read_text())["otherData"]["events_cut"] == 2


def test_slice_named_by_dominant_phase_and_overlaps_go_to_lanes():
    rec = TraceRecorder(fmt="json")
    rec.callback(1, "timer", {"neuron": 100.0, "synapses": 300.0}, 0.0, 1000.0, 400.0)
    rec.callback(1, "packet", {"irq": 22.0}, 200.0, 300.0, 22.0)  # pre-empts the timer callback
    ev = [e for e in rec.chrome_trace()["traceEvents"] if e["ph"] == "X"]
    assert [e["name"] for e in ev] == ["synapses", "irq"]
    assert ev[0]["tid"] != ev[1]["tid"]
    assert ev[0]["args"]["cycles_neuron"] == 100.0
    assert ev[0]["dur"] == pytest.approx(1.0)  # µs
